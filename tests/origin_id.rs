//! XEP-0359 ids across the gateway: receipts and markers coming back from SIP name the id
//! the XMPP sender knows (its `<origin-id/>` first), and the stanzas parley originates for
//! SIP messages carry their id as `<origin-id/>`, which a receipt may name to reach the SIP
//! sender's own `imdn.Message-ID`. Stand-in peers on loopback.

#[allow(dead_code)]
mod common {
    #[path = "../common/daemon.rs"]
    pub mod daemon;
    #[path = "../common/peers.rs"]
    pub mod peers;
    #[path = "../common/pki.rs"]
    pub mod pki;
}

#[allow(dead_code)]
#[path = "events/lab.rs"]
mod lab;

use common::peers::*;
use lab::*;

/// XMPP → SIP → XMPP: a message whose stanza id and origin-id differ goes out with the
/// origin-id as `imdn.Message-ID`, so the SIP user's delivery and display notifications come
/// back to XMPP naming the origin-id.
#[tokio::test]
async fn receipts_from_sip_name_the_origin_id() {
    let mut lab = Lab::start("origin-x2s", "").await;
    let mut peer = lab.xmpp("sip.test").await;
    let mut ua = lab.sip().await;

    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='stanza-1'><body>did you get it?</body><request xmlns='{RECEIPTS}'/><markable xmlns='{MARKERS}'/><origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>")).await;
    let req = lab.request().await;
    let (h, _) = cpim(&req);
    assert!(h.contains("\r\nimdn.Message-ID: origin-1\r\n"), "{h}");

    for (own, kind, disposition, want) in [
        (
            "n1",
            "delivery",
            "delivered",
            format!("<received xmlns='{RECEIPTS}' id='origin-1'/>"),
        ),
        (
            "n2",
            "display",
            "displayed",
            format!("<displayed xmlns='{MARKERS}' id='origin-1'/>"),
        ),
    ] {
        ua.send(&sip_msg(
            "bob@sip.test",
            "juliet@xmpp.test",
            "call-o1",
            "message/cpim",
            &imdn(
                "bob@sip.test",
                "juliet@xmpp.test",
                own,
                "origin-1",
                kind,
                disposition,
            ),
        ))
        .await;
        assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
        let s = lab.stanza().await;
        assert!(s.contains(&want), "{s}");
    }
}

/// SIP → XMPP: the stanza parley originates carries `<origin-id/>` with its own id, plain
/// and rich alike, and a marker naming it reaches the SIP sender as a display notification
/// about the sender's `imdn.Message-ID`.
#[tokio::test]
async fn stanzas_from_sip_carry_their_origin_id() {
    let mut lab = Lab::start("origin-s2x", "").await;
    let mut peer = lab.xmpp("sip.test").await;
    let mut ua = lab.sip().await;

    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-o2",
        "text/plain",
        "plain hello",
    ))
    .await;
    let s = lab.stanza().await;
    let id = attr(&s, "id").unwrap().to_owned();
    assert!(
        s.contains(&format!("<origin-id xmlns='urn:xmpp:sid:0' id='{id}'/>")),
        "{s}"
    );
    assert!(status(&mut ua).await.starts_with("SIP/2.0 20"));

    let cpim_msg = "From: <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nDateTime: 2026-11-22T01:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: Alice-77\r\nimdn.Disposition-Notification: display\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nread me";
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-o2",
        "message/cpim",
        cpim_msg,
    ))
    .await;
    let s = lab.stanza().await;
    let id = attr(&s, "id").unwrap().to_owned();
    assert_ne!(id, "Alice-77");
    assert!(
        s.contains(&format!("<origin-id xmlns='urn:xmpp:sid:0' id='{id}'/>")),
        "{s}"
    );
    assert!(status(&mut ua).await.starts_with("SIP/2.0 20"));

    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' id='mk-1'><displayed xmlns='{MARKERS}' id='{id}'/></message>")).await;
    let req = lab.request().await;
    let payload = cpim(&req).1;
    assert!(
        payload.contains("<message-id>Alice-77</message-id>"),
        "{payload}"
    );
    assert!(payload.contains("<displayed/>"), "{payload}");
}
