//! What parley ends on its own when it lets go of a contact, against a running gateway with
//! stand-in peers on loopback (RFC 6665 §4.1.3, §4.2.2; RFC 6121 §3.2–3.3):
//! - a pair evicted by `[policy] max_contact_pairs` loses its live presence at once — the
//!   SIP watcher gets NOTIFY `terminated`, the XMPP side `unsubscribe`/`unsubscribed` —
//!   with `retire_after = "30d"`, so no retirement sweep can be what does it;
//! - a subscription the XMPP user approved whose SIP dialog has since expired still ends on
//!   the XMPP side (`unsubscribe` from the watcher) when the pair retires;
//! - `[policy] max_blocks`: past the bound `parley block` on the running daemon is refused
//!   and counted, and every block already set stays in force.

#[allow(dead_code)]
mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);

fn config_text(
    pki: &Pki,
    xmpp_hop: SocketAddr,
    sip_hop: SocketAddr,
    sip: &str,
    policy: &str,
) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 100
notify_min_interval_ms = 0
{sip}
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[metrics]
listen = "127.0.0.1:0"
[policy]
{policy}
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
"#
    )
}

type Ua = Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

const PIDF: &str = "<?xml version='1.0' encoding='UTF-8'?><presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:bob@sip.test'><tuple id='t1'><status><basic>open</basic></status></tuple></presence>";

/// alice@sip.test subscribes to juliet@xmpp.test for `expires` seconds (dialog `ev-1`, parley
/// the notifier) and juliet approves; returns parley's tag once alice has NOTIFY `active`.
async fn alice_watches_juliet(
    ua: &mut Ua,
    xmpp: &mut Text<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
    requests: &mut Receiver<String>,
    stanzas: &mut Receiver<String>,
    expires: u32,
) -> String {
    ua.send(&format!("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKev1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: ev-1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n")).await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 202 "), "{r}");
    let tag = sip_header(&r, "To")
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("a to-tag")
        .to_owned();
    next_matching(stanzas, "subscribe to juliet", |s| {
        s.contains("type='subscribe'") && s.contains("from='alice@sip.test'")
    })
    .await;
    xmpp.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    next_matching(requests, "NOTIFY active to alice", |r| {
        r.starts_with("NOTIFY ")
            && sip_header(r, "Subscription-State").is_some_and(|s| s.starts_with("active"))
    })
    .await;
    tag
}

/// juliet@xmpp.test subscribes to bob@sip.test (parley the subscriber) and bob approves;
/// returns the Call-ID of parley's SUBSCRIBE.
async fn juliet_watches_bob(
    ua: &mut Ua,
    xmpp: &mut Text<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
    requests: &mut Receiver<String>,
    stanzas: &mut Receiver<String>,
) -> String {
    xmpp.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let sub = next_matching(requests, "SUBSCRIBE to bob", |r| {
        r.starts_with("SUBSCRIBE sip:bob@sip.test ")
    })
    .await;
    let call_id = sip_header(&sub, "Call-ID").unwrap().to_owned();
    let tag = sip_header(&sub, "From")
        .and_then(|f| f.split(";tag=").nth(1))
        .unwrap()
        .to_owned();
    ua.send(&format!("NOTIFY sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKevn1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=proxy1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 NOTIFY\r\nContact: <sip:bob@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\nContent-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{PIDF}", PIDF.len())).await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    next_matching(stanzas, "subscribed from bob", |s| {
        s.contains("type='subscribed'") && s.contains("from='bob@sip.test'")
    })
    .await;
    call_id
}

/// One SIP MESSAGE from a stranger to juliet; returns the status code.
async fn stranger_writes(ua: &mut Ua, from: &str, n: u32) -> u16 {
    ua.send(&sip_message(
        from,
        "juliet@xmpp.test",
        &format!("ev-msg-{n}@sip.test"),
        &format!("m{n}"),
    ))
    .await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    r[8..11].parse().unwrap()
}

/// The unsubscribe from alice to juliet and the unsubscribed from bob to juliet, in either
/// order.
async fn both_roster_ends(stanzas: &mut Receiver<String>) {
    let mut seen = (false, false);
    for _ in 0..2 {
        let s = next_matching(stanzas, "unsubscribe / unsubscribed", |s| {
            s.contains("type='unsubscribe'") || s.contains("type='unsubscribed'")
        })
        .await;
        assert!(s.contains("to='juliet@xmpp.test'"), "{s}");
        if s.contains("type='unsubscribe'") {
            assert!(s.contains("from='alice@sip.test'"), "{s}");
            seen.0 = true;
        } else {
            assert!(s.contains("from='bob@sip.test'"), "{s}");
            seen.1 = true;
        }
    }
    assert_eq!(seen, (true, true));
}

#[tokio::test]
async fn an_evicted_pair_loses_its_live_presence_without_waiting_for_a_sweep() {
    // Retirement sweeps are an hour apart here, and nothing is old enough to retire.
    let policy = "retire_after = \"30d\"\nmax_contact_pairs = 4";
    let mut g = running("evict-live", "", policy).await;
    let (ua, peer, requests, stanzas) = (&mut g.ua, &mut g.peer, &mut g.requests, &mut g.stanzas);
    alice_watches_juliet(ua, peer, requests, stanzas, 3600).await;
    let bob = juliet_watches_bob(ua, peer, requests, stanzas).await;
    let book = g.gw.contacts().clone();
    assert!(book.record("juliet@xmpp.test", "alice@sip.test").is_some());
    assert!(book.record("bob@sip.test", "juliet@xmpp.test").is_some());

    // Strangers write to juliet: each first message makes two pairs, and past the bound of
    // four the oldest go — the two approvals made above.
    let mut n = 0;
    while book.record("bob@sip.test", "juliet@xmpp.test").is_some()
        || book.record("juliet@xmpp.test", "alice@sip.test").is_some()
    {
        n += 1;
        assert!(n <= 4, "the approvals were never evicted");
        assert_eq!(stranger_writes(ua, &format!("s{n}@sip.test"), n).await, 202);
    }

    // Ended at once: alice's last NOTIFY, parley's unsubscription from bob, and both ends
    // on the XMPP side.
    let end = next_matching(requests, "NOTIFY terminated to alice", |r| {
        r.starts_with("NOTIFY ") && sip_header(r, "Call-ID") == Some("ev-1")
    })
    .await;
    assert_eq!(
        sip_header(&end, "Subscription-State"),
        Some("terminated;reason=deactivated"),
        "{end}"
    );
    let unsub = next_matching(requests, "SUBSCRIBE Expires: 0 to bob", |r| {
        r.starts_with("SUBSCRIBE ") && sip_header(r, "Call-ID") == Some(bob.as_str())
    })
    .await;
    assert_eq!(sip_header(&unsub, "Expires"), Some("0"), "{unsub}");
    both_roster_ends(stanzas).await;
    // The watcher's dialog is gone: its refresh is answered 481.
    ua.send("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKev2\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>;tag=x\r\nCall-ID: ev-1\r\nCSeq: 2 SUBSCRIBE\r\nEvent: presence\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n").await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 481 "), "{r}");
    g.stop().await;
}

#[tokio::test]
async fn retirement_ends_an_approved_subscription_whose_dialog_expired() {
    let policy = "retire_after = \"3s\"\nretire_grace = \"60s\"";
    let mut g = running("evict-roster", "min_subscription_expires = 1", policy).await;
    // Juliet approves alice, whose dialog lasts one second and is not refreshed.
    alice_watches_juliet(&mut g.ua, &mut g.peer, &mut g.requests, &mut g.stanzas, 1).await;
    let expired = next_matching(
        &mut g.requests,
        "NOTIFY terminated (expiry) to alice",
        |r| r.starts_with("NOTIFY ") && sip_header(r, "Call-ID") == Some("ev-1"),
    )
    .await;
    assert_eq!(
        sip_header(&expired, "Subscription-State"),
        Some("terminated;reason=timeout"),
        "{expired}"
    );
    let book = g.gw.contacts().clone();
    let r = book.record("juliet@xmpp.test", "alice@sip.test").unwrap();
    assert!(
        r.subscribed && r.retired_ms == 0,
        "approved, still active: {r:?}"
    );

    // No dialog is left, yet when the pair retires juliet hears from alice that the
    // subscription ended, so her roster loses the `from` subscription.
    let s = next_matching(&mut g.stanzas, "unsubscribe from alice", |s| {
        s.contains("type='unsubscribe'") || s.contains("type='unsubscribed'")
    })
    .await;
    assert!(s.contains("type='unsubscribe'"), "{s}");
    assert!(s.contains("from='alice@sip.test'"), "{s}");
    assert!(s.contains("to='juliet@xmpp.test'"), "{s}");
    assert!(
        book.record("juliet@xmpp.test", "alice@sip.test")
            .is_some_and(|r| r.retired_ms != 0),
        "sent by the retirement"
    );
    g.stop().await;
}

/// Start the gateway in-process with `sip` and `policy` settings; the stand-in peers' channels,
/// the gateway, the two clients and what stops it.
struct Running {
    stanzas: Receiver<String>,
    requests: Receiver<String>,
    gw: std::sync::Arc<parley::routing::Gateway>,
    ua: Ua,
    peer: Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<bool>,
    pki: Pki,
}

async fn running(tag: &str, sip: &str, policy: &str) -> Running {
    let pki = Pki::new(tag, &["sip.test", "xmpp.test"]);
    let (xmpp_hop, stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop, sip, policy)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let gw = app.gateway();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;
    Running {
        stanzas,
        requests,
        gw,
        ua,
        peer,
        cancel,
        done,
        pki,
    }
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        assert!(timeout(T, self.done).await.unwrap().unwrap());
        let _ = std::fs::remove_dir_all(&self.pki.dir);
    }
}

#[tokio::test]
async fn forget_ends_an_approved_subscription_whose_dialog_expired() {
    let mut g = running("evict-forget", "min_subscription_expires = 1", "").await;
    alice_watches_juliet(&mut g.ua, &mut g.peer, &mut g.requests, &mut g.stanzas, 1).await;
    next_matching(
        &mut g.requests,
        "NOTIFY terminated (expiry) to alice",
        |r| {
            r.starts_with("NOTIFY ")
                && sip_header(r, "Subscription-State") == Some("terminated;reason=timeout")
        },
    )
    .await;
    g.gw.forget_address("alice@sip.test").await.unwrap();
    let s = next_matching(&mut g.stanzas, "unsubscribe from alice", |s| {
        s.contains("type='unsubscribe'") || s.contains("type='unsubscribed'")
    })
    .await;
    assert!(s.contains("type='unsubscribe'"), "{s}");
    assert!(
        s.contains("from='alice@sip.test'") && s.contains("to='juliet@xmpp.test'"),
        "{s}"
    );
    assert!(
        g.gw.contacts()
            .record("juliet@xmpp.test", "alice@sip.test")
            .is_none()
    );
    g.stop().await;
}

#[tokio::test]
async fn a_watcher_that_unsubscribed_itself_is_not_unsubscribed_again_at_retirement() {
    let mut g = running("evict-self", "", "").await;
    let tag = alice_watches_juliet(
        &mut g.ua,
        &mut g.peer,
        &mut g.requests,
        &mut g.stanzas,
        3600,
    )
    .await;
    let book = g.gw.contacts().clone();
    assert!(
        book.record("juliet@xmpp.test", "alice@sip.test")
            .unwrap()
            .subscribed
    );
    g.ua.send(&format!("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKev3\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: ev-1\r\nCSeq: 2 SUBSCRIBE\r\nEvent: presence\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n")).await;
    let r = timeout(T, read_sip(&mut g.ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    let s = next_matching(&mut g.stanzas, "unsubscribe from alice", |s| {
        s.contains("type='unsubscribe'")
    })
    .await;
    assert!(s.contains("from='alice@sip.test'"), "{s}");
    // The XMPP side was told: the pair no longer holds an approval for retirement to end,
    // and stays accepted.
    let r = book.record("juliet@xmpp.test", "alice@sip.test").unwrap();
    assert!(r.accepted && !r.subscribed, "{r:?}");
    g.stop().await;
}

fn block(config: &Path, user: &str, sender: &str) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["block", user, sender, "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[tokio::test]
async fn past_the_bound_new_blocks_are_refused_and_the_kept_ones_hold() {
    let pki = Pki::new("evict-blocks", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(
        &file,
        config_text(&pki, xmpp_hop, sip_hop, "", "max_blocks = 2"),
    )
    .unwrap();
    let d = Daemon::start(&file).await;
    d.wait_for("admin channel", 0).await;
    let refused = "parley_contact_blocks_refused_total";

    for sender in ["m1@sip.test", "m2@sip.test"] {
        let (ok, out) = block(&file, "juliet@xmpp.test", sender);
        assert!(ok && out.contains("done by the running daemon"), "{out}");
        assert!(out.contains(&format!("{sender} blocked")), "{out}");
    }
    assert_eq!(d.sample(refused, &[]).await, 0.0);
    // The third is refused, with the reason, and counted.
    let (ok, out) = block(&file, "romeo@xmpp.test", "m3@sip.test");
    assert!(!ok, "{out}");
    assert!(out.contains("at most 2 blocks"), "{out}");
    assert_eq!(d.sample(refused, &[]).await, 1.0);
    // Setting one already set is no new block: answered as before.
    let (ok, out) = block(&file, "juliet@xmpp.test", "m1@sip.test");
    assert!(ok && out.contains("already blocked"), "{out}");

    // Both kept blocks hold, the refused one was never set.
    let mut ua = sip_client(&pki, d.sip, "sip.test", "xmpp.test").await;
    for (n, (from, to, want)) in [
        ("m1@sip.test", "juliet@xmpp.test", 403),
        ("m2@sip.test", "juliet@xmpp.test", 403),
        ("m3@sip.test", "romeo@xmpp.test", 202),
    ]
    .into_iter()
    .enumerate()
    {
        ua.send(&sip_message(from, to, &format!("ev-b{n}@sip.test"), "hi"))
            .await;
        let r = timeout(T, read_sip(&mut ua)).await.unwrap();
        assert_eq!(r[8..11].parse::<u16>().unwrap(), want, "{from} → {to}: {r}");
    }
    drop(d);
    let _ = std::fs::remove_dir_all(&pki.dir);
}
