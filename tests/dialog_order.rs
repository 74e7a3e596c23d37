//! RFC 3261 §12.2.2 against a running gateway: requests of one dialog are handled in the
//! order they arrive, even when many come in one TCP segment. A notifier that sends a burst
//! of NOTIFYs (as pjsip does when a refresh and a status change meet) gets 200 for every one
//! — a 500 "CSeq out of order" would end its subscription — and the XMPP watcher sees the
//! states in the order they were sent.
//!
//! And RFC 6665 §4.1.2.4: a NOTIFY that overtakes the 2xx of parley's SUBSCRIBE creates the
//! dialog, and a NOTIFY refused as out of order leaves the dialog as it was.

#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);
const BURST: u32 = 40;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
    pki.gateway_toml(
        xmpp_hop,
        sip_hop,
        "[policy.limits]\ndomain_rate = 0\nsender_rate = 0",
    )
}

fn notify(call_id: &str, tag: &str, cseq: u32, note: &str) -> String {
    let pidf = format!(
        "<?xml version='1.0'?><presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:bob@sip.test'><tuple id='t1'><status><basic>open</basic></status><note>{note}</note></tuple></presence>"
    );
    format!(
        "NOTIFY sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKord{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=proxy1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} NOTIFY\r\nContact: <sip:bob@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\nContent-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{pidf}",
        pidf.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_notifys_in_one_dialog_is_handled_in_order() {
    let pki = Pki::new("dialog-order", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;

    // juliet@xmpp.test subscribes to bob@sip.test: parley's SUBSCRIBE opens the dialog.
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let sub = loop {
        let r = timeout(T, requests.recv()).await.unwrap().unwrap();
        if r.starts_with("SUBSCRIBE sip:bob@sip.test ") {
            break r;
        }
    };
    let call_id = sip_header(&sub, "Call-ID").unwrap().to_owned();
    let tag = sip_header(&sub, "From")
        .and_then(|f| f.split(";tag=").nth(1))
        .unwrap()
        .to_owned();

    // The approving NOTIFY, then a burst in a single write.
    let mut burst = notify(&call_id, &tag, 1, "n1");
    for cseq in 2..=BURST {
        burst.push_str(&notify(&call_id, &tag, cseq, &format!("n{cseq}")));
    }
    ua.send(&burst).await;
    let mut answered = Vec::new();
    for _ in 1..=BURST {
        let r = timeout(T, read_sip(&mut ua)).await.expect("a response");
        let cseq: u32 = sip_header(&r, "CSeq")
            .and_then(|c| c.split(' ').next()?.parse().ok())
            .expect("CSeq");
        assert!(r.starts_with("SIP/2.0 200 "), "NOTIFY {cseq}: {r}");
        answered.push(cseq);
    }
    answered.sort_unstable();
    assert_eq!(answered, (1..=BURST).collect::<Vec<_>>());

    // The watcher sees every state, in the order sent.
    let mut notes = Vec::new();
    while notes.len() < BURST as usize {
        let s = timeout(T, stanzas.recv()).await.expect("presence").unwrap();
        if let Some(note) = s.split("<status>").nth(1).and_then(|r| r.split('<').next()) {
            notes.push(note.to_owned());
        }
    }
    let sent: Vec<String> = (1..=BURST).map(|i| format!("n{i}")).collect();
    assert_eq!(notes, sent);

    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notify_before_the_2xx_creates_the_dialog_and_a_refused_one_keeps_it() {
    let pki = Pki::new("dialog-early", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    // A SIP proxy that holds parley's SUBSCRIBE unanswered until the test says.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sip_hop = listener.local_addr().unwrap();
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;

    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let (tcp, _) = timeout(T, listener.accept()).await.unwrap().unwrap();
    let mut proxy = Text::new(pki.server("sip.test").accept(tcp).await.unwrap());
    let sub = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert!(sub.starts_with("SUBSCRIBE sip:bob@sip.test "), "{sub}");
    let call_id = sip_header(&sub, "Call-ID").unwrap().to_owned();
    let tag = sip_header(&sub, "From")
        .and_then(|f| f.split(";tag=").nth(1))
        .unwrap()
        .to_owned();

    // The NOTIFY overtakes the 2xx: accepted, and the XMPP watcher is told.
    ua.send(&notify(&call_id, &tag, 5, "early")).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    let subscribed = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(subscribed.contains("type='subscribed'"), "{subscribed}");
    // Then the 2xx, which the dialog absorbs.
    proxy.send(&response_to(&sub, "200 OK")).await;

    // An older CSeq is out of order (RFC 3261 §12.2.2): 500, and the dialog stays.
    ua.send(&notify(&call_id, &tag, 3, "stale")).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 500 "), "{r}");
    ua.send(&notify(&call_id, &tag, 6, "later")).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(
        r.starts_with("SIP/2.0 200 "),
        "the dialog outlived the refused NOTIFY: {r}"
    );
    let mut notes = Vec::new();
    while notes.len() < 2 {
        let s = timeout(T, stanzas.recv()).await.expect("presence").unwrap();
        if let Some(note) = s.split("<status>").nth(1).and_then(|r| r.split('<').next()) {
            notes.push(note.to_owned());
        }
    }
    assert_eq!(notes, ["early", "later"]);

    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// Page-mode MESSAGEs (no dialog) from one sender to one recipient reach the XMPP user in the
/// order the SIP side sent them, even when they arrive in one TCP segment: a chat read out of
/// order is a different conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_mode_messages_of_one_pair_cross_in_order() {
    let pki = Pki::new("page-order", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let text = format!(
        "{}\n[policy.consent]\nmax_unaccepted = {BURST}\n",
        config_text(&pki, xmpp_hop, sip_hop)
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, _, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;

    let mut burst = String::new();
    for n in 1..=BURST {
        let body = format!("line {n}");
        burst.push_str(&format!(
            "MESSAGE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKpage{n}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a{n}\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: page-{n}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    ua.send(&burst).await;
    for _ in 1..=BURST {
        let r = timeout(T, read_sip(&mut ua)).await.expect("a response");
        assert!(r.starts_with("SIP/2.0 202 "), "{r}");
    }
    let mut bodies = Vec::new();
    while bodies.len() < BURST as usize {
        let s = timeout(T, stanzas.recv())
            .await
            .expect("a message")
            .unwrap();
        if let Some(b) = s.split("<body>").nth(1).and_then(|r| r.split('<').next()) {
            bodies.push(b.to_owned());
        }
    }
    let sent: Vec<String> = (1..=BURST).map(|n| format!("line {n}")).collect();
    assert_eq!(bodies, sent);

    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}
