//! Presence dialogs through the gateway against stand-in peers: a SIP watcher of an XMPP
//! user (parley as notifier) and an XMPP watcher of a SIP user (parley as subscriber).

use std::time::Duration;

use tokio::time::timeout;

use super::common::peers::*;
use super::{Gateway, pki};

fn subscribe(call_id: &str, to_tag: Option<&str>, cseq: u32, expires: u32) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn header_value<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_default()
}

/// DESIGN presence table, SIP watcher of an XMPP user (RFC 6665, RFC 3856): 202 and NOTIFY
/// pending, XMPP subscribe + probe; `subscribed` → NOTIFY active with PIDF; each presence a
/// NOTIFY; a refresh NOTIFYs again; an unknown dialog gets 481, an old CSeq 500;
/// `unsubscribed` → NOTIFY terminated;reason=rejected. NOTIFY CSeqs increase.
#[tokio::test]
async fn sip_watcher_of_an_xmpp_user() {
    let pki = pki("pres-n");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, sip_hop).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&subscribe("sub1", None, 1, 600)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    assert_eq!(header_value(&ok, "Expires"), "600", "{ok}");
    let to = header_value(&ok, "To");
    let tag = to.split(";tag=").nth(1).expect("To tag").to_owned();
    let pending = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        pending.starts_with("NOTIFY sip:alice@127.0.0.1:5999;transport=tls SIP/2.0"),
        "{pending}"
    );
    assert!(
        pending.contains("Subscription-State: pending;expires="),
        "{pending}"
    );
    assert!(
        // External marking (issue 8): the default label on the display name.
        pending.contains(&format!(
            "From: \"juliet (external)\" <sip:juliet@xmpp.test>;tag={tag}"
        )),
        "{pending}"
    );
    assert!(
        pending.contains("To: <sip:alice@sip.test>;tag=w1"),
        "{pending}"
    );
    assert!(pending.contains("CSeq: 1 NOTIFY"), "{pending}");
    let sub = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        sub.contains("type='subscribe'") || sub.contains("type=\"subscribe\""),
        "{sub}"
    );
    assert!(sub.contains("alice@sip.test"), "{sub}");
    // No probe before approval (an XMPP server answers it `unsubscribed`).

    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><show>away</show><status>out</status></presence>").await;
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    let active = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        active.contains("Subscription-State: active;expires="),
        "{active}"
    );
    assert!(active.contains("CSeq: 2 NOTIFY"), "{active}");
    assert!(
        active.contains("Content-Type: application/pidf+xml"),
        "{active}"
    );
    assert!(active.contains("<basic>open</basic>"), "{active}");
    assert!(active.contains("away"), "{active}");
    assert!(active.contains(">out</"), "{active}");
    peer.send("<presence type='unavailable' from='juliet@xmpp.test/balcony' to='alice@sip.test'/>")
        .await;
    let change = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(change.contains("CSeq: 3 NOTIFY"), "{change}");
    assert!(change.contains("<basic>closed</basic>"), "{change}");

    // Refresh in the dialog: 200, and the current state again.
    ua.send(&subscribe("sub1", Some(&tag), 2, 300)).await;
    let refreshed = read_sip(&mut ua).await;
    assert!(refreshed.starts_with("SIP/2.0 200 "), "{refreshed}");
    assert_eq!(header_value(&refreshed, "Expires"), "300");
    let again = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(again.contains("CSeq: 4 NOTIFY"), "{again}");
    assert!(
        again.contains("Subscription-State: active;expires=300")
            || again.contains("Subscription-State: active;expires=299"),
        "{again}"
    );
    // An older CSeq is refused; an unknown dialog is 481.
    ua.send(&subscribe("sub1", Some(&tag), 2, 300)).await;
    let old = read_sip(&mut ua).await;
    assert!(old.starts_with("SIP/2.0 500 "), "{old}");
    ua.send(&subscribe("sub1", Some("nope"), 3, 300)).await;
    let unknown = read_sip(&mut ua).await;
    assert!(unknown.starts_with("SIP/2.0 481 "), "{unknown}");

    peer.send("<presence type='unsubscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    let end = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        end.contains("Subscription-State: terminated;reason=rejected"),
        "{end}"
    );
    assert!(end.contains("CSeq: 5 NOTIFY"), "{end}");
    ua.send(&subscribe("sub1", Some(&tag), 9, 300)).await;
    let gone = read_sip(&mut ua).await;
    assert!(gone.starts_with("SIP/2.0 481 "), "{gone}");
    gw.stop().await;
}

fn notify(call_id: &str, to_tag: &str, cseq: u32, state: &str, pidf: &str) -> String {
    let ct = if pidf.is_empty() {
        String::new()
    } else {
        "Content-Type: application/pidf+xml\r\n".to_owned()
    };
    format!(
        "NOTIFY sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKn{cseq}{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=proxy1\r\nTo: <sip:juliet@xmpp.test>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} NOTIFY\r\nEvent: presence\r\nSubscription-State: {state}\r\n{ct}Content-Length: {}\r\n\r\n{pidf}",
        pidf.len()
    )
}

/// DESIGN presence table, XMPP watcher of a SIP user: `subscribe` → SUBSCRIBE with Accept
/// PIDF; NOTIFY pending → nothing; active → `subscribed` + presence; rejected →
/// `unsubscribed`; NOTIFYs for unknown dialogs get 481.
#[tokio::test]
async fn xmpp_watcher_of_a_sip_user() {
    let pki = pki("pres-s");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, sip_hop).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let sub = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        sub.starts_with("SUBSCRIBE sip:bob@sip.test SIP/2.0"),
        "{sub}"
    );
    assert!(sub.contains("Event: presence"), "{sub}");
    assert!(sub.contains("Accept: application/pidf+xml"), "{sub}");
    let call_id = header_value(&sub, "Call-ID").to_owned();
    let from_tag = header_value(&sub, "From")
        .split(";tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&notify(&call_id, &from_tag, 1, "pending;expires=3600", ""))
        .await;
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 200 "));
    let pidf = "<?xml version='1.0'?><presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:bob@sip.test'><tuple id='t1'><status><basic>open</basic></status><note>at desk</note></tuple></presence>";
    ua.send(&notify(&call_id, &from_tag, 2, "active;expires=3600", pidf))
        .await;
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 200 "));
    let subscribed = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(subscribed.contains("subscribed"), "{subscribed}");
    assert!(subscribed.contains("bob@sip.test"), "{subscribed}");
    let presence = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(presence.contains("at desk"), "{presence}");
    ua.send(&notify(
        &call_id,
        &from_tag,
        3,
        "terminated;reason=rejected",
        "",
    ))
    .await;
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 200 "));
    let unsubscribed = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(unsubscribed.contains("unsubscribed"), "{unsubscribed}");
    ua.send(&notify(&call_id, &from_tag, 4, "active;expires=3600", ""))
        .await;
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 481 "));
    gw.stop().await;
}
