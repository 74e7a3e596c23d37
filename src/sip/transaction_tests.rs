//! RFC 3261 §17.1.2 / §17.2.2 timer schedules, on a paused clock.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Drive a client transaction with no response until it ends; the offsets (ms from start)
/// of each retransmission and of the timeout.
fn schedule(reliability: Reliability) -> (Vec<u64>, u64) {
    let t0 = Instant::now();
    let mut c = Client::start(reliability, Timers::RFC3261, t0);
    let mut retransmits = Vec::new();
    loop {
        let at = c.deadline();
        let (next, action) = c.on_timer(at);
        let ms = u64::try_from((at - t0).as_millis()).unwrap();
        match action {
            ClientAction::Retransmit => retransmits.push(ms),
            ClientAction::TimedOut => return (retransmits, ms),
            other => panic!("unexpected {other:?}"),
        }
        c = next.expect("live until timeout");
    }
}

#[tokio::test(start_paused = true)]
async fn timer_e_doubles_to_t2_and_timer_f_ends_at_64_t1() {
    let (retransmits, timeout) = schedule(Reliability::Unreliable);
    // 500, 1000, 2000, 4000, then every 4000 until 32 s (§17.1.2.2).
    assert_eq!(
        &retransmits[..5],
        &[500, 1500, 3500, 7500, 11500],
        "{retransmits:?}"
    );
    assert!(retransmits.windows(2).skip(3).all(|w| w[1] - w[0] == 4000));
    assert_eq!(*retransmits.last().unwrap(), 31500);
    assert_eq!(timeout, 32000);
}

#[tokio::test(start_paused = true)]
async fn reliable_client_never_retransmits() {
    let (retransmits, timeout) = schedule(Reliability::Reliable);
    assert!(retransmits.is_empty());
    assert_eq!(timeout, 32000);
}

#[tokio::test(start_paused = true)]
async fn provisional_moves_timer_e_to_t2() {
    let t0 = Instant::now();
    let c = Client::start(Reliability::Unreliable, Timers::RFC3261, t0);
    let (c, a) = c.on_response(100, t0 + MS(100));
    assert_eq!(a, ClientAction::None);
    let c = c.unwrap();
    assert!(matches!(c, Client::Proceeding(_)));
    assert_eq!(c.deadline(), t0 + MS(4100));
    let (c, a) = c.on_timer(t0 + MS(4100));
    assert_eq!(a, ClientAction::Retransmit);
    let c = c.unwrap();
    assert_eq!(c.deadline(), t0 + MS(8100));
    // A final response completes it once; copies are absorbed until Timer K (T4).
    let (c, a) = c.on_response(200, t0 + MS(5000));
    assert_eq!(a, ClientAction::Final(200));
    let c = c.unwrap();
    assert!(c.is_completed());
    let (c, a) = c.on_response(200, t0 + MS(5100));
    assert_eq!(a, ClientAction::None);
    let c = c.unwrap();
    assert_eq!(c.deadline(), t0 + MS(10000));
    let (c, a) = c.on_timer(t0 + MS(10000));
    assert!(c.is_none());
    assert_eq!(a, ClientAction::None);
}

#[tokio::test(start_paused = true)]
async fn reliable_final_terminates_at_once() {
    let t0 = Instant::now();
    let c = Client::start(Reliability::Reliable, Timers::RFC3261, t0);
    let (c, a) = c.on_response(404, t0);
    assert!(c.is_none());
    assert_eq!(a, ClientAction::Final(404));
}

#[tokio::test(start_paused = true)]
async fn early_timer_wakeup_changes_nothing() {
    let t0 = Instant::now();
    let c = Client::start(Reliability::Unreliable, Timers::RFC3261, t0);
    let (c, a) = c.on_timer(t0 + MS(10));
    assert_eq!(a, ClientAction::None);
    assert_eq!(c.unwrap().deadline(), t0 + MS(500));
}

#[test]
fn timers_from_configured_timeout() {
    let t = Timers::with_timeout(Duration::from_secs(32));
    assert_eq!(t, Timers::RFC3261);
    let short = Timers::with_timeout(Duration::from_millis(640));
    assert_eq!(short.t1, MS(10));
    assert_eq!(short.timeout(), MS(640));
}

#[tokio::test(start_paused = true)]
async fn server_absorbs_then_repeats_its_final_until_timer_j() {
    let t0 = Instant::now();
    let s = Server::start(Reliability::Unreliable, Timers::RFC3261);
    assert_eq!(s.on_retransmission(), None, "Trying absorbs silently");
    assert_eq!(s.deadline(), None);
    let trying = Bytes::from_static(b"SIP/2.0 100 Trying\r\n\r\n");
    let (s, out) = s.on_response(100, trying.clone(), t0);
    assert_eq!(out.as_ref(), Some(&trying));
    let s = s.unwrap();
    assert_eq!(s.on_retransmission().as_ref(), Some(&trying));
    let ok = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
    let (s, out) = s.on_response(200, ok.clone(), t0 + MS(10));
    assert_eq!(out.as_ref(), Some(&ok));
    let s = s.unwrap();
    assert_eq!(s.on_retransmission().as_ref(), Some(&ok));
    // A second final from the user is discarded.
    let (s, out) = s
        .on_response(500, Bytes::from_static(b"x"), t0 + MS(20))
        .0
        .map(|s| (s, None::<Bytes>))
        .unwrap();
    assert_eq!(out, None);
    assert_eq!(s.on_retransmission().as_ref(), Some(&ok));
    assert_eq!(s.deadline(), Some(t0 + MS(32010)));
    let s = s.on_timer(t0 + MS(32000)).expect("J not yet");
    assert!(s.on_timer(t0 + MS(32010)).is_none());
}

#[tokio::test(start_paused = true)]
async fn reliable_server_ends_with_its_final() {
    let s = Server::start(Reliability::Reliable, Timers::RFC3261);
    let (s, out) = s.on_response(202, Bytes::from_static(b"202"), Instant::now());
    assert!(s.is_none());
    assert!(out.is_some());
}

#[test]
fn keys_follow_rfc3261_17_2_3() {
    let limits = crate::sip::SipLimits::default();
    let req = |via: &str, method: &str| {
        let text = format!(
            "{method} sip:a@b SIP/2.0\r\nVia: {via}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        crate::sip::SipMessage::parse(Bytes::from(text), &limits).unwrap()
    };
    let a = TransactionKey::of(&req(
        "SIP/2.0/UDP Host.example:5060;branch=z9hG4bK1",
        "MESSAGE",
    ));
    let b = TransactionKey::of(&req(
        "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
        "MESSAGE",
    ));
    assert_eq!(a, b);
    assert!(a.is_some());
    let other_method = TransactionKey::of(&req(
        "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
        "OPTIONS",
    ));
    assert_ne!(a, other_method);
    let other_port =
        TransactionKey::of(&req("SIP/2.0/UDP host.example;branch=z9hG4bK1", "MESSAGE"));
    assert_ne!(a, other_port);
    // RFC 2543 branches are not matched.
    assert_eq!(
        TransactionKey::of(&req("SIP/2.0/UDP h;branch=1", "MESSAGE")),
        None
    );
}
