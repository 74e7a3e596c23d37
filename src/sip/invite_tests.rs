//! RFC 3261 §17.1.1 / §17.2.1 (and RFC 6026) INVITE timer schedules, on a paused clock.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;
const T: Timers = Timers::RFC3261;

fn ms(t0: Instant, at: Instant) -> u64 {
    u64::try_from((at - t0).as_millis()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn timer_a_doubles_until_timer_b() {
    let t0 = Instant::now();
    let mut c = InviteClient::start(Reliability::Unreliable, T, t0);
    let mut sent = Vec::new();
    let end = loop {
        let at = c.deadline().expect("Calling has timers");
        let (next, action) = c.on_timer(at);
        match action {
            ClientAction::Retransmit => sent.push(ms(t0, at)),
            ClientAction::TimedOut => break ms(t0, at),
            other => panic!("unexpected {other:?}"),
        }
        c = next.unwrap();
    };
    // 500, then intervals 1 s, 2 s, 4 s, 8 s, 16 s: no T2 cap for INVITE (§17.1.1.2).
    assert_eq!(sent, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(end, 32000);
}

#[tokio::test(start_paused = true)]
async fn reliable_invite_is_never_retransmitted_and_times_out_at_b() {
    let t0 = Instant::now();
    let c = InviteClient::start(Reliability::Reliable, T, t0);
    assert_eq!(c.deadline(), Some(t0 + MS(32000)));
    let (c, a) = c.on_timer(t0 + MS(31999));
    assert_eq!(a, ClientAction::None);
    let (c, a) = c.unwrap().on_timer(t0 + MS(32000));
    assert!(c.is_none());
    assert_eq!(a, ClientAction::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn provisional_stops_retransmission_and_timer_b() {
    let t0 = Instant::now();
    let c = InviteClient::start(Reliability::Unreliable, T, t0);
    let (c, a) = c.on_response(180, t0 + MS(100));
    assert_eq!(a, ClientAction::Provisional(180));
    let c = c.unwrap();
    assert_eq!(c.deadline(), None, "no timer in Proceeding");
    let (c, a) = c.on_response(200, t0 + MS(60_000));
    assert_eq!(a, ClientAction::Accepted(200));
    let c = c.unwrap();
    // RFC 6026 Timer M: a retransmitted 2xx is handed on again, so the user re-ACKs.
    let (c, a) = c.on_response(200, t0 + MS(61_000));
    assert_eq!(a, ClientAction::Accepted(200));
    let c = c.unwrap();
    assert_eq!(c.deadline(), Some(t0 + MS(60_000 + 32_000)));
    let (c, _) = c.on_timer(t0 + MS(92_000));
    assert!(c.is_none());
}

#[tokio::test(start_paused = true)]
async fn failure_is_acked_and_retransmitted_finals_get_the_ack_until_timer_d() {
    let t0 = Instant::now();
    let c = InviteClient::start(Reliability::Unreliable, T, t0);
    let (c, a) = c.on_response(486, t0 + MS(200));
    assert_eq!(a, ClientAction::Rejected(486));
    let c = c.unwrap();
    let (c, a) = c.on_response(486, t0 + MS(700));
    assert_eq!(a, ClientAction::AckAgain);
    let c = c.unwrap();
    assert_eq!(c.deadline(), Some(t0 + MS(200) + TIMER_D));
    let (c, a) = c.on_timer(t0 + MS(200) + TIMER_D);
    assert!(c.is_none());
    assert_eq!(a, ClientAction::None);
    // Over a stream Timer D is zero.
    let c = InviteClient::start(Reliability::Reliable, T, t0);
    let (c, _) = c.on_response(603, t0);
    assert_eq!(c.unwrap().deadline(), Some(t0));
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[tokio::test(start_paused = true)]
async fn server_retransmits_2xx_until_ack() {
    let t0 = Instant::now();
    let (s, trying) = InviteServer::start(Reliability::Unreliable, T, b("100"), t0);
    assert_eq!(trying, Some(b("100")), "over UDP the 100 goes out at once");
    assert_eq!(s.on_retransmission(), ServerAction::Send(b("100")));
    assert!(s.is_proceeding());
    let (s, a) = s.on_response(200, b("200"), t0);
    assert_eq!(a, ServerAction::Send(b("200")));
    let mut s = s.unwrap();
    assert!(!s.is_proceeding());
    // A retransmitted INVITE is absorbed in Accepted (RFC 6026 §7.1).
    assert_eq!(s.on_retransmission(), ServerAction::None);
    let mut sent = Vec::new();
    while sent.len() < 5 {
        let at = s.deadline().unwrap();
        let (n, a) = s.on_timer(at);
        assert_eq!(a, ServerAction::Send(b("200")));
        sent.push(ms(t0, at));
        s = n.unwrap();
    }
    // §13.3.1.4: T1, doubling, capped at T2.
    assert_eq!(sent, [500, 1500, 3500, 7500, 11500]);
    let (s, a) = s.on_ack(t0 + MS(12_000));
    assert_eq!(a, ServerAction::Acked);
    let s = s.unwrap();
    // No more retransmissions: only Timer L is left.
    assert_eq!(s.deadline(), Some(t0 + MS(32_000)));
    let (s, a) = s.on_ack(t0 + MS(12_500));
    assert_eq!(a, ServerAction::None, "a repeated ACK confirms nothing new");
    let (s, a) = s.unwrap().on_timer(t0 + MS(32_000));
    assert!(s.is_none());
    assert_eq!(a, ServerAction::None);
}

#[tokio::test(start_paused = true)]
async fn server_without_ack_for_2xx_asks_for_bye() {
    let t0 = Instant::now();
    let (s, _) = InviteServer::start(Reliability::Unreliable, T, b("100"), t0);
    let (mut s, _) = s.on_response(200, b("200"), t0);
    let mut last = ServerAction::None;
    while let Some(st) = s {
        let at = st.deadline().unwrap();
        let (n, a) = st.on_timer(at);
        s = n;
        last = a;
    }
    assert_eq!(last, ServerAction::AckTimeout);
}

#[tokio::test(start_paused = true)]
async fn failure_final_timer_g_then_h() {
    let t0 = Instant::now();
    let (s, _) = InviteServer::start(Reliability::Unreliable, T, b("100"), t0);
    let (s, _) = s.on_response(488, b("488"), t0);
    let mut s = s.unwrap();
    assert_eq!(s.on_retransmission(), ServerAction::Send(b("488")));
    let mut sent = Vec::new();
    let end = loop {
        let at = s.deadline().unwrap();
        let (n, a) = s.on_timer(at);
        match a {
            ServerAction::Send(x) => {
                assert_eq!(x, b("488"));
                sent.push(ms(t0, at));
            }
            ServerAction::FailureAckTimeout => break ms(t0, at),
            other => panic!("unexpected {other:?}"),
        }
        s = n.unwrap();
    };
    assert_eq!(&sent[..4], &[500, 1500, 3500, 7500]);
    assert!(sent.windows(2).skip(3).all(|w| w[1] - w[0] == 4000));
    assert_eq!(end, 32_000);
}

#[tokio::test(start_paused = true)]
async fn ack_to_failure_confirms_for_timer_i() {
    let t0 = Instant::now();
    let (s, _) = InviteServer::start(Reliability::Unreliable, T, b("100"), t0);
    let (s, _) = s.on_response(487, b("487"), t0);
    let (s, a) = s.unwrap().on_ack(t0 + MS(100));
    assert_eq!(a, ServerAction::None);
    let s = s.unwrap();
    assert!(matches!(s, InviteServer::Confirmed(_)));
    assert_eq!(s.on_retransmission(), ServerAction::None);
    assert_eq!(s.deadline(), Some(t0 + MS(100) + T.t4));
    // Over a stream: no Timer G and Timer I is zero.
    let (s, _) = InviteServer::start(Reliability::Reliable, T, b("100"), t0);
    let (s, _) = s.on_response(487, b("487"), t0);
    let s = s.unwrap();
    assert_eq!(s.deadline(), Some(t0 + MS(32_000)));
    let (s, _) = s.on_ack(t0 + MS(5));
    assert_eq!(s.unwrap().deadline(), Some(t0 + MS(5)));
}

#[tokio::test(start_paused = true)]
async fn second_final_is_discarded() {
    let t0 = Instant::now();
    let (s, _) = InviteServer::start(Reliability::Reliable, T, b("100"), t0);
    let (s, _) = s.on_response(180, b("180"), t0);
    let s = s.unwrap();
    assert_eq!(s.on_retransmission(), ServerAction::Send(b("180")));
    let (s, _) = s.on_response(200, b("200"), t0);
    let (s, a) = s.unwrap().on_response(487, b("487"), t0);
    assert_eq!(a, ServerAction::None);
    assert!(matches!(s, Some(InviteServer::Accepted(_))));
}

#[tokio::test(start_paused = true)]
async fn over_a_stream_100_trying_waits_200_ms_for_the_user() {
    let t0 = Instant::now();
    let (s, now) = InviteServer::start(Reliability::Reliable, T, b("100"), t0);
    assert_eq!(now, None, "not at once over a stream");
    // Nothing sent yet: a retransmission (not expected over a stream) has nothing to repeat.
    assert_eq!(s.on_retransmission(), ServerAction::Send(Bytes::new()));
    assert_eq!(s.deadline(), Some(t0 + TRYING_DELAY));
    let (s, a) = s.on_timer(t0 + TRYING_DELAY);
    assert_eq!(a, ServerAction::Send(b("100")));
    let s = s.unwrap();
    assert_eq!(s.deadline(), None, "the 100 goes out once");
    assert_eq!(s.on_retransmission(), ServerAction::Send(b("100")));
    // A user that answers within 200 ms: no 100 at all.
    let (s, _) = InviteServer::start(Reliability::Reliable, T, b("100"), t0);
    let (s, a) = s.on_response(200, b("200"), t0 + MS(10));
    assert_eq!(a, ServerAction::Send(b("200")));
    let s = s.unwrap();
    let (s, a) = s.on_timer(t0 + TRYING_DELAY);
    assert_eq!(a, ServerAction::None);
    // A provisional from the user stands in for the 100.
    let (p, _) = InviteServer::start(Reliability::Reliable, T, b("100"), t0);
    let (p, _) = p.on_response(180, b("180"), t0 + MS(10));
    assert_eq!(p.unwrap().deadline(), None);
    drop(s);
}
