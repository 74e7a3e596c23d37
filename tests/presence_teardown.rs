//! Live presence torn down when parley ends a contact on its own (RFC 6665 §4.1.3, §4.2.2;
//! RFC 6121 §3.2–3.3), against a running gateway with stand-in peers on loopback:
//! - contact retirement: a SIP watcher of an XMPP user gets NOTIFY
//!   `terminated;reason=deactivated` and the XMPP user `unsubscribe`; an XMPP watcher of a
//!   SIP user has its dialog ended with SUBSCRIBE `Expires: 0` and gets `unsubscribed`;
//! - `parley forget ADDRESS` on the running daemon (the real binary, its admin socket):
//!   the same, with `reason=noresource`.
//!
//! Both subscriptions are made the way users make them: approved on the other side, which
//! is also what makes the pair a known contact.

#[allow(dead_code)]
mod common {
    #[path = "spool_daemon.rs"]
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

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, policy: &str) -> String {
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
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
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

/// Set up both subscriptions through the gateway and have them approved:
/// alice@sip.test watches juliet@xmpp.test (parley the notifier, dialog `td-1`), and
/// juliet watches bob@sip.test (parley the subscriber). Returns the Call-ID of parley's
/// SUBSCRIBE to bob.
async fn subscribe_both_ways(
    ua: &mut Ua,
    xmpp: &mut Text<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
    requests: &mut Receiver<String>,
    stanzas: &mut Receiver<String>,
) -> String {
    ua.send("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtd1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: td-1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n").await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 202 "), "{r}");
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
    // bob approves: the SIP side's NOTIFY `active`.
    ua.send(&format!("NOTIFY sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtdn1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=proxy1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 NOTIFY\r\nContact: <sip:bob@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\nContent-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{PIDF}", PIDF.len())).await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    next_matching(stanzas, "subscribed from bob", |s| {
        s.contains("type='subscribed'") && s.contains("from='bob@sip.test'")
    })
    .await;
    call_id
}

/// What the far sides must see when parley ends both subscriptions with `reason`.
async fn assert_torn_down(
    requests: &mut Receiver<String>,
    stanzas: &mut Receiver<String>,
    bob_call_id: &str,
    reason: &str,
) {
    let end = next_matching(requests, "NOTIFY terminated to alice", |r| {
        r.starts_with("NOTIFY ") && sip_header(r, "Call-ID") == Some("td-1")
    })
    .await;
    assert_eq!(
        sip_header(&end, "Subscription-State"),
        Some(format!("terminated;reason={reason}").as_str()),
        "{end}"
    );
    let unsub = next_matching(requests, "SUBSCRIBE Expires: 0 to bob", |r| {
        r.starts_with("SUBSCRIBE ") && sip_header(r, "Call-ID") == Some(bob_call_id)
    })
    .await;
    assert_eq!(sip_header(&unsub, "Expires"), Some("0"), "{unsub}");
    assert!(
        sip_header(&unsub, "To").is_some_and(|t| t.ends_with(";tag=proxy1")),
        "in the dialog: {unsub}"
    );
    let mut seen = (false, false);
    for _ in 0..2 {
        let s = next_matching(stanzas, "unsubscribe / unsubscribed", |s| {
            s.contains("type='unsubscribe'") || s.contains("type='unsubscribed'")
        })
        .await;
        if s.contains("type='unsubscribe'") {
            assert!(s.contains("from='alice@sip.test'"), "{s}");
            assert!(s.contains("to='juliet@xmpp.test'"), "{s}");
            seen.0 = true;
        } else {
            assert!(s.contains("from='bob@sip.test'"), "{s}");
            assert!(s.contains("to='juliet@xmpp.test'"), "{s}");
            seen.1 = true;
        }
    }
    assert_eq!(seen, (true, true));
}

#[tokio::test]
async fn retired_contacts_lose_their_live_presence_on_both_sides() {
    let pki = Pki::new("teardown-retire", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let text = config_text(
        &pki,
        xmpp_hop,
        sip_hop,
        "retire_after = \"2s\"\nretire_grace = \"60s\"",
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let gw = app.gateway();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;

    let bob = subscribe_both_ways(&mut ua, &mut peer, &mut requests, &mut stanzas).await;
    // The approvals made the pairs known contacts.
    let book = gw.contacts().clone();
    assert!(book.state("alice@sip.test", "juliet@xmpp.test").accepted);
    assert!(book.state("juliet@xmpp.test", "bob@sip.test").accepted);

    // Unused for 2 s: deactivated, and the live presence with it.
    assert_torn_down(&mut requests, &mut stanzas, &bob, "deactivated").await;
    assert!(
        book.record("juliet@xmpp.test", "alice@sip.test")
            .is_some_and(|r| r.retired_ms != 0),
        "deactivated, not yet removed"
    );
    // The watcher's dialog is gone: its refresh is answered 481.
    ua.send("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtd2\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>;tag=x\r\nCall-ID: td-1\r\nCSeq: 2 SUBSCRIBE\r\nEvent: presence\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n").await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 481 "), "{r}");
    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}

fn forget(config: &Path, address: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["forget", address, "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(err.contains("done by the running daemon"), "{err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn forget_ends_the_live_presence_of_the_address() {
    let pki = Pki::new("teardown-forget", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, "")).unwrap();
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("admin channel", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;

    let bob = subscribe_both_ways(&mut ua, &mut peer, &mut requests, &mut stanzas).await;
    let out = forget(&file, "juliet@xmpp.test");
    assert!(out.contains("juliet@xmpp.test: "), "{out}");
    assert_torn_down(&mut requests, &mut stanzas, &bob, "noresource").await;
    // Nothing is left to refresh: the watcher's next SUBSCRIBE in the dialog gets 481.
    ua.send("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtd3\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>;tag=x\r\nCall-ID: td-1\r\nCSeq: 2 SUBSCRIBE\r\nEvent: presence\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n").await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 481 "), "{r}");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}
