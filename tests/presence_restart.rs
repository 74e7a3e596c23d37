//! Notifier-role presence dialogs survive `kill -9` (issue 8: "subscriptions survive a
//! restart and the SIP side keeps getting NOTIFYs"): a SIP watcher's dialog with an XMPP
//! user, approved before the crash, is reloaded at startup; the watcher's refresh in the
//! old dialog is answered 200 (not 481), parley probes the presentity on the watcher's
//! behalf, and a later presence change still reaches the watcher as a NOTIFY of that
//! dialog, with CSeqs above those sent before the crash.

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
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
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
notify_min_interval_ms = 0
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 1000
delivery_timeout_ms = 1500
{domains}
"#
    )
}

fn subscribe(to_tag: Option<&str>, cseq: u32, expires: u32) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKrs{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>{to_tag}\r\nCall-ID: restart-1\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    )
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

/// The next request of dialog `restart-1`, skipping anything else.
async fn next_in_dialog(rx: &mut Receiver<String>) -> String {
    loop {
        let r = next(rx).await;
        if sip_header(&r, "Call-ID") == Some("restart-1") {
            return r;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_watcher_keeps_its_dialog_across_kill_9() {
    let pki = Pki::new("presence-restart", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop)).unwrap();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("parley ready", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe(None, 1, 120)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let tag = sip_header(&ok, "To")
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("To tag")
        .to_owned();
    let pending = next_in_dialog(&mut requests).await;
    assert!(pending.contains("Subscription-State: pending"), "{pending}");
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    peer.send("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><status>before</status></presence>").await;
    let active = next_in_dialog(&mut requests).await;
    assert!(active.contains("Subscription-State: active"), "{active}");
    let before = next_in_dialog(&mut requests).await;
    assert!(before.contains("before"), "{before}");
    // The record is written off the request path: give it a moment before the crash.
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.kill9();
    drop(ua);
    // What the XMPP stand-in saw before the crash is not part of what follows.
    while stanzas.try_recv().is_ok() {}

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("SIP watcher dialogs restored", 0).await;
    // parley asks the XMPP side for juliet's presence on alice's behalf.
    let probe = loop {
        let s = next(&mut stanzas).await;
        if s.starts_with("<presence") {
            break s;
        }
    };
    assert_eq!(attr(&probe, "type"), Some("probe"), "{probe}");
    assert_eq!(attr(&probe, "from"), Some("alice@sip.test"), "{probe}");
    assert_eq!(attr(&probe, "to"), Some("juliet@xmpp.test"), "{probe}");

    // The watcher's refresh in the old dialog: 200, and a NOTIFY of the dialog.
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe(Some(&tag), 2, 120)).await;
    let refreshed = read_sip(&mut ua).await;
    assert!(refreshed.starts_with("SIP/2.0 200 "), "{refreshed}");
    let notify = next_in_dialog(&mut requests).await;
    assert!(notify.contains("Subscription-State: active"), "{notify}");
    assert!(cseq(&notify) > cseq(&before), "{notify}");
    assert!(
        sip_header(&notify, "To").unwrap().contains(";tag=w1"),
        "{notify}"
    );

    // juliet's next change reaches alice in the same dialog.
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><show>away</show><status>after restart</status></presence>").await;
    let after = next_in_dialog(&mut requests).await;
    assert!(after.contains("after restart"), "{after}");
    assert!(after.contains("Subscription-State: active"), "{after}");
    assert!(cseq(&after) > cseq(&notify), "{after}");

    // An unsubscribe ends it for good: after another crash the dialog is not restored.
    ua.send(&subscribe(Some(&tag), 3, 0)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let end = next_in_dialog(&mut requests).await;
    assert!(end.contains("Subscription-State: terminated"), "{end}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.kill9();
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("parley ready", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe(Some(&tag), 4, 120)).await;
    let gone = read_sip(&mut ua).await;
    assert!(gone.starts_with("SIP/2.0 481 "), "{gone}");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}
