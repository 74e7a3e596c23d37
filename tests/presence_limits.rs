//! Presence dialog limits against a running gateway, with stand-in peers on loopback:
//! the granted Expires within `[sip] min/max_subscription_expires` (423 + Min-Expires below
//! the minimum, RFC 6665 §4.2.1.1), NOTIFY damping (RFC 3856 §6.4: rapid changes leave as one
//! NOTIFY of the latest state), the external label on the From of NOTIFY and SUBSCRIBE
//! (issue 8), and subscription-flood protection on both sides, counted in the metrics.

#[allow(dead_code)]
mod common {
    #[path = "spool_daemon.rs"]
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

fn config_text(
    pki: &Pki,
    xmpp_hop: SocketAddr,
    sip_hop: SocketAddr,
    sip_extra: &str,
    rest: &str,
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
{sip_extra}
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{domains}
{rest}
"#
    )
}

struct Gw {
    sip: SocketAddr,
    xmpp: SocketAddr,
    cancel: CancellationToken,
    requests: Receiver<String>,
    /// Kept open so the XMPP stand-in keeps its streams.
    _stanzas: Receiver<String>,
}

async fn start(tag: &str, sip_extra: &str, rest: &str) -> (Pki, Gw) {
    let pki = Pki::new(tag, &["sip.test", "xmpp.test"]);
    let (xmpp_hop, stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop, sip_extra, rest)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    let gw = Gw {
        sip: sip[0],
        xmpp: xmpp[0],
        cancel,
        requests,
        _stanzas: stanzas,
    };
    (pki, gw)
}

/// A SUBSCRIBE from `watcher`@sip.test to `presentity`@xmpp.test.
fn subscribe(
    watcher: &str,
    presentity: &str,
    call_id: &str,
    to_tag: Option<&str>,
    cseq: u32,
    expires: u32,
) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:{presentity}@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}x{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{watcher}@sip.test>;tag=w1\r\nTo: <sip:{presentity}@xmpp.test>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:{watcher}@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn to_tag(resp: &str) -> String {
    let to = sip_header(resp, "To").expect("To header");
    to.split(";tag=").nth(1).expect("To tag").trim().to_owned()
}

fn cseq(req: &str) -> u32 {
    let v = sip_header(req, "CSeq").expect("CSeq");
    v.split_whitespace().next().unwrap().parse().unwrap()
}

async fn next(rx: &mut Receiver<String>) -> String {
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("in time")
        .expect("open")
}

/// alice@sip.test subscribes to juliet@xmpp.test and juliet approves: returns the SIP
/// connection, the XMPP connection from xmpp.test and the active NOTIFY.
async fn active_dialog(
    pki: &Pki,
    gw: &mut Gw,
    call_id: &str,
) -> (
    Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    String,
) {
    let mut ua = sip_client(pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe("alice", "juliet", call_id, None, 1, 600))
        .await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let pending = next(&mut gw.requests).await;
    assert!(pending.contains("Subscription-State: pending"), "{pending}");
    let mut peer = xmpp_initiator(pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    let active = next(&mut gw.requests).await;
    assert!(active.contains("Subscription-State: active"), "{active}");
    (ua, peer, active)
}

/// RFC 6665 §4.2.1.1: a new or refreshing SUBSCRIBE below the minimum gets 423 with
/// `Min-Expires`; above the maximum it is granted the maximum.
#[tokio::test]
async fn expires_are_granted_within_the_configured_bounds() {
    let (pki, mut gw) = start(
        "plim-expires",
        "min_subscription_expires = 10\nmax_subscription_expires = 20",
        "",
    )
    .await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe("alice", "juliet", "exp-a", None, 1, 5))
        .await;
    let brief = read_sip(&mut ua).await;
    assert!(
        brief.starts_with("SIP/2.0 423 Interval Too Brief"),
        "{brief}"
    );
    assert_eq!(sip_header(&brief, "Min-Expires"), Some("10"), "{brief}");

    ua.send(&subscribe("alice", "juliet", "exp-a", None, 2, 600))
        .await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    assert_eq!(sip_header(&ok, "Expires"), Some("20"), "{ok}");
    let pending = next(&mut gw.requests).await;
    let state = sip_header(&pending, "Subscription-State").unwrap();
    assert!(
        state == "pending;expires=20" || state == "pending;expires=19",
        "{pending}"
    );
    let tag = to_tag(&ok);
    ua.send(&subscribe("alice", "juliet", "exp-a", Some(&tag), 3, 9))
        .await;
    let brief = read_sip(&mut ua).await;
    assert!(brief.starts_with("SIP/2.0 423 "), "{brief}");
    assert_eq!(sip_header(&brief, "Min-Expires"), Some("10"), "{brief}");
    ua.send(&subscribe("alice", "juliet", "exp-a", Some(&tag), 4, 15))
        .await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert_eq!(sip_header(&ok, "Expires"), Some("15"), "{ok}");
    gw.cancel.cancel();
}

/// Three changes in a row within the damping interval leave as one NOTIFY carrying the
/// last of them (the final state is never dropped), and nothing follows it.
#[tokio::test]
async fn rapid_changes_are_coalesced_into_one_notify_of_the_latest_state() {
    let (pki, mut gw) = start("plim-damp", "notify_min_interval_ms = 1500", "").await;
    let (_ua, mut peer, active) = active_dialog(&pki, &mut gw, "damp-1").await;
    for (show, note) in [("away", "n-one"), ("dnd", "n-two")] {
        peer.send(&format!("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><show>{show}</show><status>{note}</status></presence>")).await;
    }
    peer.send("<presence type='unavailable' from='juliet@xmpp.test/balcony' to='alice@sip.test'><status>n-three</status></presence>").await;
    let coalesced = next(&mut gw.requests).await;
    assert!(coalesced.contains("n-three"), "{coalesced}");
    assert!(coalesced.contains("<basic>closed</basic>"), "{coalesced}");
    assert!(
        !coalesced.contains("n-one") && !coalesced.contains("n-two"),
        "{coalesced}"
    );
    assert_eq!(cseq(&coalesced), cseq(&active) + 1, "no NOTIFY in between");
    let more = timeout(Duration::from_secs(3), gw.requests.recv()).await;
    assert!(more.is_err(), "a NOTIFY after the coalesced one: {more:?}");
    gw.cancel.cancel();
}

/// With damping off (`notify_min_interval_ms = 0`) every change is a NOTIFY, in order.
#[tokio::test]
async fn without_damping_every_change_is_notified() {
    let (pki, mut gw) = start("plim-nodamp", "notify_min_interval_ms = 0", "").await;
    let (_ua, mut peer, active) = active_dialog(&pki, &mut gw, "nodamp-1").await;
    for (show, note) in [("away", "n-one"), ("dnd", "n-two"), ("xa", "n-three")] {
        peer.send(&format!("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><show>{show}</show><status>{note}</status></presence>")).await;
    }
    for (i, note) in ["n-one", "n-two", "n-three"].into_iter().enumerate() {
        let n = next(&mut gw.requests).await;
        assert!(n.contains(note), "{n}");
        assert_eq!(cseq(&n), cseq(&active) + 1 + i as u32);
    }
    gw.cancel.cancel();
}

/// The external label is on the display name of the NOTIFY's From and of the SUBSCRIBE
/// parley sends for an XMPP watcher, as an escaped quoted-string (RFC 3261 §25.1).
#[tokio::test]
async fn notify_and_subscribe_from_carry_the_escaped_external_label() {
    let (pki, mut gw) = start(
        "plim-label",
        "notify_min_interval_ms = 0",
        "[policy]\nexternal_label = '(ext \"x\" \\)'",
    )
    .await;
    let (_ua, mut peer, active) = active_dialog(&pki, &mut gw, "label-1").await;
    let from = sip_header(&active, "From").unwrap();
    assert!(
        from.starts_with(r#""juliet (ext \"x\" \\)" <sip:juliet@xmpp.test>;tag="#),
        "{from}"
    );
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let sub = next(&mut gw.requests).await;
    assert!(sub.starts_with("SUBSCRIBE sip:bob@sip.test"), "{sub}");
    let from = sip_header(&sub, "From").unwrap();
    assert!(
        from.starts_with(r#""juliet (ext \"x\" \\)" <sip:juliet@xmpp.test"#),
        "{from}"
    );
    gw.cancel.cancel();
}

/// After the watcher unsubscribes, the presentity's server sends it no more presence, so
/// nothing cached then may show in a later subscription of the same pair: a resource whose
/// `unavailable` never came must not look online.
#[tokio::test]
async fn presence_cached_for_an_ended_subscription_is_not_shown_again() {
    let (pki, mut gw) = start("plim-stale", "notify_min_interval_ms = 0", "").await;
    let (mut ua, mut peer, active) = active_dialog(&pki, &mut gw, "stale-1").await;
    peer.send("<presence from='juliet@xmpp.test/old' to='alice@sip.test'><status>old-one</status></presence>").await;
    let n = next(&mut gw.requests).await;
    assert!(n.contains("old-one"), "{n}");
    // parley's tag: the NOTIFY's From tag.
    let from = sip_header(&active, "From").unwrap();
    let tag = from.split(";tag=").nth(1).expect("From tag").to_owned();
    ua.send(&subscribe("alice", "juliet", "stale-1", Some(&tag), 2, 0))
        .await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let end = next(&mut gw.requests).await;
    assert!(end.contains("Subscription-State: terminated"), "{end}");

    ua.send(&subscribe("alice", "juliet", "stale-2", None, 1, 600))
        .await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let pending = next(&mut gw.requests).await;
    assert!(pending.contains("Call-ID: stale-2"), "{pending}");
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    peer.send("<presence from='juliet@xmpp.test/new' to='alice@sip.test'><status>new-one</status></presence>").await;
    let active = next(&mut gw.requests).await;
    assert!(active.contains("Subscription-State: active"), "{active}");
    assert!(!active.contains("old-one"), "{active}");
    let n = next(&mut gw.requests).await;
    assert!(n.contains("new-one") && !n.contains("old-one"), "{n}");
    gw.cancel.cancel();
}

/// With an empty label the From carries no display name.
#[tokio::test]
async fn an_empty_label_leaves_the_notify_from_bare() {
    let (pki, mut gw) = start("plim-nolabel", "", "[policy]\nexternal_label = ''").await;
    let (_ua, _peer, active) = active_dialog(&pki, &mut gw, "nolabel-1").await;
    let from = sip_header(&active, "From").unwrap();
    assert!(from.starts_with("<sip:juliet@xmpp.test>;tag="), "{from}");
    gw.cancel.cancel();
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// `parley_policy_refusals_total{…protocol, reason="subscription_limit"}`.
fn refusals(metrics: &str, protocol: &str) -> f64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("parley_policy_refusals_total{")
                && l.contains(&format!("protocol=\"{protocol}\""))
                && l.contains("reason=\"subscription_limit\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn free_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Subscription-flood protection against the binary: per watcher at most 2 live
/// subscriptions (403 on SIP, `<policy-violation/>` on XMPP), and new subscriptions per
/// domain through a bucket of 4 refilled at 0.2/s (503 + Retry-After: 5); each refusal is
/// counted under `reason="subscription_limit"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_floods_are_refused_and_counted() {
    let pki = Pki::new("plim-flood", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let admin = free_port().await;
    let sip_extra = "max_subscriptions_per_watcher = 2\nsubscribe_rate = 0.2\nsubscribe_burst = 4\nnotify_min_interval_ms = 0";
    let rest = format!("[metrics]\nlisten = \"{admin}\"");
    let file = pki.dir.join("parley.toml");
    std::fs::write(
        &file,
        config_text(&pki, xmpp_hop, sip_hop, sip_extra, &rest),
    )
    .unwrap();
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("parley ready", 0).await;

    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    let mut status = async |watcher: &str, presentity: &str, call_id: &str| {
        ua.send(&subscribe(watcher, presentity, call_id, None, 1, 600))
            .await;
        read_sip(&mut ua).await
    };
    // Tokens 1 and 2.
    assert!(
        status("alice", "j1", "f1")
            .await
            .starts_with("SIP/2.0 202 ")
    );
    assert!(
        status("alice", "j2", "f2")
            .await
            .starts_with("SIP/2.0 202 ")
    );
    // alice holds 2: refused by count, no token spent.
    let third = status("alice", "j3", "f3").await;
    assert!(
        third.starts_with("SIP/2.0 403 Subscription Limit Reached"),
        "{third}"
    );
    // Tokens 3 and 4, then the bucket is empty.
    assert!(status("bob", "j1", "f4").await.starts_with("SIP/2.0 202 "));
    assert!(
        status("carol", "j1", "f5")
            .await
            .starts_with("SIP/2.0 202 ")
    );
    let fast = status("dave", "j1", "f6").await;
    assert!(fast.starts_with("SIP/2.0 503 "), "{fast}");
    assert_eq!(sip_header(&fast, "Retry-After"), Some("5"), "{fast}");

    // The XMPP side: juliet may hold 2 subscriptions to SIP users.
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    for bob in ["b1", "b2", "b3"] {
        peer.send(&format!(
            "<presence type='subscribe' from='juliet@xmpp.test' to='{bob}@sip.test'/>"
        ))
        .await;
    }
    let refused = loop {
        let s = next(&mut stanzas).await;
        if s.contains("type='error'") || s.contains("type=\"error\"") {
            break s;
        }
    };
    assert!(refused.contains("b3@sip.test"), "{refused}");
    assert!(refused.contains("<policy-violation"), "{refused}");
    assert!(refused.contains("Subscription Limit Reached"), "{refused}");

    let metrics = http_get(admin, "/metrics").await;
    assert_eq!(refusals(&metrics, "sip"), 2.0, "{metrics}");
    assert_eq!(refusals(&metrics, "xmpp"), 1.0, "{metrics}");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}
