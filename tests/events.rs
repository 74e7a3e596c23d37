//! Every canonical event through the running `parley` binary, both ways, as users' clients
//! send them: chat states (RFC 3994 ⇄ XEP-0085), receipts (RFC 5438 IMDN ⇄ XEP-0184 /
//! XEP-0333, with the id the receiving side knows), reactions, corrections, retractions,
//! replies, file links and rich text; the external label on the SIP From; strangers' and
//! blocked senders' events; and peers that are down (chat states dropped and counted,
//! receipts spooled or bounced). The stand-in peers read the wire with plain string handling.

// Shared with the other test binaries; paths are explicit because this crate root has a
// directory of the same name (tests/events/).
#[allow(dead_code)]
mod common {
    #[path = "../common/daemon.rs"]
    pub mod daemon;
    #[path = "../common/peers.rs"]
    pub mod peers;
    #[path = "../common/pki.rs"]
    pub mod pki;
}

#[path = "events/lab.rs"]
mod lab;

use common::peers::*;
use lab::*;

#[tokio::test]
async fn xmpp_events_reach_the_sip_user() {
    let mut lab = Lab::start("x2s", "").await;
    let mut peer = lab.xmpp("sip.test").await;
    let from_juliet = "From: \"juliet (external)\" <sip:juliet@xmpp.test;gr=balcony>;tag=";

    // XEP-0085 composing → RFC 3994 isComposing `active`; the From carries the label.
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='c1'><composing xmlns='{CHATSTATES}'/><thread>th-1</thread></message>")).await;
    let req = lab.request().await;
    assert!(
        req.starts_with("MESSAGE sip:bob@sip.test SIP/2.0\r\n"),
        "{req}"
    );
    assert!(req.contains(&format!("\r\n{from_juliet}")), "{req}");
    assert_eq!(header(&req, "Call-ID"), "th-1");
    assert_eq!(
        header(&req, "Content-Type"),
        "application/im-iscomposing+xml"
    );
    assert_eq!(
        body(&req),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\n  <state>active</state>\n  <contenttype>text/plain</contenttype>\n</isComposing>\n"
    );
    // paused → idle.
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='c2'><paused xmlns='{CHATSTATES}'/></message>")).await;
    let req = lab.request().await;
    assert!(body(&req).contains("<state>idle</state>"), "{req}");

    // A message asking for receipts: CPIM with IMDN headers, its stanza id as Message-ID.
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='m 1'><body>hi bob</body><request xmlns='{RECEIPTS}'/><markable xmlns='{MARKERS}'/></message>")).await;
    let req = lab.request().await;
    assert!(req.contains(&format!("\r\n{from_juliet}")), "{req}");
    assert_eq!(header(&req, "Content-Type"), "message/cpim");
    let (cpim_headers, payload) = cpim(&req);
    assert!(
        cpim_headers.starts_with("From: \"juliet (external)\" <im:juliet@xmpp.test>\r\nTo: <im:bob@sip.test>\r\nDateTime: "),
        "{cpim_headers}"
    );
    assert!(
        cpim_headers.ends_with("\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m%201\r\nimdn.Disposition-Notification: positive-delivery, display"),
        "{cpim_headers}"
    );
    assert_eq!(
        payload,
        "Content-Type: text/plain;charset=UTF-8\r\n\r\nhi bob"
    );

    // XEP-0184 <received/> and XEP-0333 <displayed/> → IMDN notifications about the id.
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' id='r1'><received xmlns='{RECEIPTS}' id='sip-7'/></message>")).await;
    let req = lab.request().await;
    assert_eq!(header(&req, "Content-Type"), "message/cpim");
    let (h, payload) = cpim(&req);
    assert!(h.contains("\r\nimdn.Message-ID: r1"), "{h}");
    assert!(
        payload.starts_with(
            "Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n"
        ),
        "{payload}"
    );
    assert!(
        payload.contains("<message-id>sip-7</message-id>"),
        "{payload}"
    );
    assert!(
        payload.contains("<delivery-notification>\n    <status>\n      <delivered/>"),
        "{payload}"
    );
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' id='r2'><displayed xmlns='{MARKERS}' id='sip-7'/></message>")).await;
    let req = lab.request().await;
    let payload = cpim(&req).1;
    assert!(
        payload.contains("<message-id>sip-7</message-id>"),
        "{payload}"
    );
    assert!(
        payload.contains("<display-notification>\n    <status>\n      <displayed/>"),
        "{payload}"
    );

    // Reaction, correction, retraction, file link: the readable text for a SIMPLE peer.
    let cases = [
        (
            "<reactions xmlns='urn:xmpp:reactions:0' id='sip-7'><reaction>👍</reaction></reactions>",
            "reacted 👍 to an earlier message".to_owned(),
        ),
        (
            "<body>hello bob</body><replace xmlns='urn:xmpp:message-correct:0' id='m 1'/>",
            "[correction] hello bob".to_owned(),
        ),
        (
            "<retract xmlns='urn:xmpp:message-retract:1' id='m 1'/>",
            "This person attempted to retract a previous message, but it's unsupported by your client.".to_owned(),
        ),
        (
            "<body>https://up.xmpp.test/a/cat.jpg</body><x xmlns='jabber:x:oob'><url>https://up.xmpp.test/a/cat.jpg</url></x>",
            "📎 cat.jpg\nhttps://up.xmpp.test/a/cat.jpg".to_owned(),
        ),
    ];
    for (n, (payload, text)) in cases.iter().enumerate() {
        peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='e{n}'>{payload}</message>")).await;
        let req = lab.request().await;
        assert!(req.contains(&format!("\r\n{from_juliet}")), "{req}");
        assert_eq!(
            header(&req, "Content-Type"),
            "text/plain;charset=UTF-8",
            "{req}"
        );
        assert_eq!(body(&req), text, "{req}");
    }

    // XHTML-IM → multipart/alternative with the plain text first.
    peer.send("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='h1'><body>bold move</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p><strong>bold</strong> move</p></body></html></message>").await;
    let req = lab.request().await;
    let ct = header(&req, "Content-Type");
    assert!(ct.starts_with("multipart/alternative;boundary="), "{req}");
    let boundary = ct.split_once("boundary=").unwrap().1;
    let b = body(&req);
    assert!(b.starts_with(&format!("--{boundary}\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nbold move\r\n--{boundary}\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n<html><body>")), "{b}");
    assert!(b.contains("<strong>bold</strong>"), "{b}");
    assert!(b.ends_with(&format!("--{boundary}--\r\n")), "{b}");

    // Every event was audited with its kind, delivered, without content.
    lab.audited(10, |l| l["direction"] == "xmpp_to_sip").await;
    assert_eq!(
        lab.counter_reaches("xmpp_to_sip", "typing", "delivered", 2.0)
            .await,
        2.0
    );
    assert_eq!(
        lab.counter_reaches("xmpp_to_sip", "receipt", "delivered", 2.0)
            .await,
        2.0
    );
    assert_eq!(
        lab.counter_reaches("xmpp_to_sip", "im", "delivered", 6.0)
            .await,
        6.0
    );
    let audit = lab.audit();
    let text = serde_json::to_string(&audit).unwrap();
    for secret in ["hi bob", "hello bob", "cat.jpg", "bold move"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn sip_events_reach_the_xmpp_user_and_receipts_come_back_with_the_senders_id() {
    let mut lab = Lab::start("s2x", "").await;
    let mut ua = lab.sip().await;
    let mut peer = lab.xmpp("sip.test").await;

    // isComposing active → <composing/>, idle → <paused/>; the Call-ID is the thread.
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "application/im-iscomposing+xml",
        &is_composing("active"),
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    let id = attr(&s, "id").unwrap().to_owned();
    assert_eq!(
        s,
        format!(
            "<message from='alice@sip.test' to='juliet@xmpp.test' id='{id}' type='chat'><composing xmlns='{CHATSTATES}'/><thread>call-1</thread></message>"
        )
    );
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "application/im-iscomposing+xml",
        &is_composing("idle"),
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    assert!(
        s.contains(&format!("<paused xmlns='{CHATSTATES}'/>")),
        "{s}"
    );

    // A CPIM message asking for a delivery receipt: the XMPP user gets <request/> on a stanza
    // whose id parley chose …
    let cpim_msg = "From: \"Alice\" <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nDateTime: 2026-11-22T01:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: Alice-42\r\nimdn.Disposition-Notification: positive-delivery\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nare you there?";
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "message/cpim",
        cpim_msg,
    ))
    .await;
    let s = lab.stanza().await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let gw_id = attr(&s, "id").unwrap().to_owned();
    assert_ne!(gw_id, "Alice-42");
    assert!(s.contains("<body>are you there?</body>"), "{s}");
    assert!(s.contains(&format!("<request xmlns='{RECEIPTS}'/>")), "{s}");
    assert!(
        s.contains("<nick xmlns='http://jabber.org/protocol/nick'>Alice (external)</nick>"),
        "{s}"
    );
    // … and her client's receipt reaches Alice naming the id Alice chose.
    peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' id='rcpt-1'><received xmlns='{RECEIPTS}' id='{gw_id}'/></message>")).await;
    let req = lab.request().await;
    assert!(
        req.starts_with("MESSAGE sip:alice@sip.test SIP/2.0\r\n"),
        "{req}"
    );
    let payload = cpim(&req).1;
    assert!(
        payload.contains("<message-id>Alice-42</message-id>"),
        "{payload}"
    );
    assert!(payload.contains("<delivered/>"), "{payload}");

    // IMDN from SIP about an XMPP message: <received/> and <displayed/> with its id.
    ua.send(&alice_imdn("n1", "delivery", "delivered")).await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    let id = attr(&s, "id").unwrap().to_owned();
    assert_eq!(
        s,
        format!(
            "<message from='alice@sip.test' to='juliet@xmpp.test' id='{id}' type='chat'><received xmlns='{RECEIPTS}' id='x 9'/><thread>call-1</thread></message>"
        )
    );
    ua.send(&alice_imdn("n2", "display", "displayed")).await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    assert!(
        s.contains(&format!("<displayed xmlns='{MARKERS}' id='x 9'/>")),
        "{s}"
    );

    // A processing notification (RFC 5438 §8.3, for intermediaries) has no XMPP counterpart:
    // parley answers it itself and counts it; nothing reaches XMPP (the next stanza the XMPP
    // side sees is the reaction below).
    for (own_id, status_) in [("n3", "processed"), ("n4", "stored")] {
        ua.send(&alice_imdn(own_id, "processing", status_)).await;
        assert_eq!(status(&mut ua).await, "SIP/2.0 200 OK");
    }
    assert_eq!(
        lab.counter_reaches("sip_to_xmpp", "receipt", "consumed", 2.0)
            .await,
        2.0
    );

    // A reaction in CPIM extension headers → XEP-0444.
    let react = "From: <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nNS: react <urn:xmpp:reactions:0>\r\nreact.Id: x 9\r\nreact.Emoji: 🎉\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nreacted 🎉 to an earlier message";
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "message/cpim",
        react,
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    assert!(
        s.contains(
            "<reactions xmlns='urn:xmpp:reactions:0' id='x 9'><reaction>🎉</reaction></reactions>"
        ),
        "{s}"
    );

    // text/html → XHTML-IM with the plain rendering as body.
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "text/html;charset=UTF-8",
        "<p>see <b>this</b></p>",
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let s = lab.stanza().await;
    assert!(s.contains("<body>see this</body>"), "{s}");
    assert!(
        s.contains("<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"),
        "{s}"
    );
    assert!(s.contains("<p>see <strong>this</strong></p>"), "{s}");

    assert_eq!(
        lab.counter_reaches("sip_to_xmpp", "typing", "delivered", 2.0)
            .await,
        2.0
    );
    assert_eq!(
        lab.counter_reaches("sip_to_xmpp", "receipt", "delivered", 2.0)
            .await,
        2.0
    );
    assert_eq!(
        lab.counter_reaches("xmpp_to_sip", "receipt", "delivered", 1.0)
            .await,
        1.0
    );
    lab.audited(2, |l| {
        l["type"] == "typing" && l["direction"] == "sip_to_xmpp"
    })
    .await;
    let audit = lab.audit();
    let typing: Vec<_> = audit
        .iter()
        .filter(|l| l["type"] == "typing" && l["direction"] == "sip_to_xmpp")
        .collect();
    assert_eq!(typing.len(), 2, "{audit:?}");
    assert!(
        typing
            .iter()
            .all(|l| l["session"] == "call-1" && l["from"] == "alice@sip.test")
    );
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains("are you there")
    );
}

/// A receipt that comes back after parley crashed and restarted still names the id the SIP
/// sender chose: the stanza id carries it, nothing in memory is needed.
#[tokio::test]
async fn a_receipt_after_a_crash_names_the_senders_id() {
    let mut lab = Lab::start("restart", "").await;
    let mut ua = lab.sip().await;
    let cpim_msg = "From: <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: Alice-77\r\nimdn.Disposition-Notification: positive-delivery, display\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nstill there?";
    ua.send(&sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-9",
        "message/cpim",
        cpim_msg,
    ))
    .await;
    let s = lab.stanza().await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    let gw_id = attr(&s, "id").unwrap().to_owned();
    drop(ua);
    lab.crash_and_restart().await;
    let mut peer = lab.xmpp("sip.test").await;
    for (n, marker) in [
        (1, format!("<received xmlns='{RECEIPTS}' id='{gw_id}'/>")),
        (
            2,
            format!("<displayed xmlns='urn:xmpp:chat-markers:0' id='{gw_id}'/>"),
        ),
    ] {
        peer.send(&format!("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' id='after-{n}'>{marker}</message>")).await;
        let req = lab.request().await;
        let payload = cpim(&req).1;
        assert!(
            payload.contains("<message-id>Alice-77</message-id>"),
            "receipt {n} after the restart: {payload}"
        );
    }
}

#[tokio::test]
async fn the_sip_from_carries_the_external_label_escaped() {
    let mut lab = Lab::start("label", "[policy]\nexternal_label = '(ext \"x\")'").await;
    let mut peer = lab.xmpp("sip.test").await;
    peer.send("<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='p1'><body>plain</body><nick xmlns='http://jabber.org/protocol/nick'>Ju\\li&quot;et&#13;&#10;X-Injected: 1</nick></message>").await;
    let req = lab.request().await;
    assert_eq!(
        header(&req, "From"),
        "\"Ju\\\\li\\\"et  X-Injected: 1 (ext \\\"x\\\")\" <sip:juliet@xmpp.test>;tag=".to_owned()
            + req
                .lines()
                .find_map(|l| l.strip_prefix("From:"))
                .unwrap()
                .split(";tag=")
                .nth(1)
                .unwrap()
    );
    assert!(!req.lines().any(|l| l.starts_with("X-Injected")), "{req}");
    assert_eq!(body(&req), "plain");
    // A chat state's From is labelled the same way (no nick: the user part).
    peer.send(&format!("<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat'><composing xmlns='{CHATSTATES}'/></message>")).await;
    let req = lab.request().await;
    assert!(
        header(&req, "From")
            .starts_with("\"juliet (ext \\\"x\\\")\" <sip:juliet@xmpp.test;gr=b>;tag="),
        "{req}"
    );
}

#[tokio::test]
async fn strangers_events_do_not_count_and_stop_with_their_messages_blocked_ones_never_cross() {
    let policy = "[[policy.user]]\naddress = 'bob@sip.test'\nblock = ['mallory@xmpp.test']\n[[policy.user]]\naddress = 'romeo@xmpp.test'\nblock = ['mal@sip.test']";
    let mut lab = Lab::start("consent", policy).await;
    let mut peer = lab.xmpp("sip.test").await;
    let mut ua = lab.sip().await;
    let typing = |n: u32| {
        format!(
            "<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='t{n}'><composing xmlns='{CHATSTATES}'/></message>"
        )
    };
    let receipt = |n: u32| {
        format!(
            "<message from='juliet@xmpp.test/b' to='bob@sip.test' id='r{n}'><received xmlns='{RECEIPTS}' id='b{n}'/></message>"
        )
    };
    let message = |n: u32| {
        format!(
            "<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='m{n}'><body>hello {n}</body></message>"
        )
    };

    // Juliet is a stranger to Bob: 12 typing notifications and 12 receipts all cross …
    for n in 1..=12 {
        peer.send(&typing(n)).await;
        assert!(lab.request().await.contains("<state>active</state>"));
        peer.send(&receipt(n)).await;
        assert!(
            lab.request()
                .await
                .contains(&format!("<message-id>b{n}</message-id>"))
        );
    }
    // … and do not use up her 10 messages.
    for n in 1..=10 {
        peer.send(&message(n)).await;
        assert!(lab.request().await.ends_with(&format!("hello {n}")));
    }
    peer.send(&message(11)).await;
    let refusal = lab.stanza().await;
    assert_eq!(attr(&refusal, "id"), Some("m11"), "{refusal}");
    assert!(refusal.contains("<policy-violation"), "{refusal}");
    // Past the limit her typing is not relayed (no error: nothing waits for one) and her
    // receipt is refused with an error.
    peer.send(&typing(13)).await;
    peer.send(&receipt(13)).await;
    let refusal = lab.stanza().await;
    assert_eq!(attr(&refusal, "id"), Some("r13"), "{refusal}");
    assert!(
        refusal.contains("Recipient Has Not Accepted You Yet"),
        "{refusal}"
    );
    // The next request the SIP side sees is another sender's: nothing of Juliet's crossed.
    peer.send("<message from='romeo@xmpp.test/b' to='bob@sip.test' type='chat' id='o1'><body>other</body></message>").await;
    let next = lab.request().await;
    assert!(next.ends_with("other"), "{next}");

    // Blocked: Mallory's typing is not relayed, her receipt is refused.
    peer.send(&format!("<message from='mallory@xmpp.test/b' to='bob@sip.test' type='chat'><composing xmlns='{CHATSTATES}'/></message>")).await;
    peer.send(&format!("<message from='mallory@xmpp.test/b' to='bob@sip.test' id='mr'><received xmlns='{RECEIPTS}' id='q'/></message>")).await;
    let refusal = lab.stanza().await;
    assert_eq!(attr(&refusal, "id"), Some("mr"), "{refusal}");
    assert!(refusal.contains("<policy-violation"), "{refusal}");
    peer.send("<message from='romeo@xmpp.test/b' to='bob@sip.test' type='chat' id='o2'><body>other 2</body></message>").await;
    assert!(lab.request().await.ends_with("other 2"));

    // SIP side: a blocked sender's typing and receipts are answered 403 and not relayed.
    ua.send(&sip_msg(
        "mal@sip.test",
        "romeo@xmpp.test",
        "b1",
        "application/im-iscomposing+xml",
        &is_composing("active"),
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 403 Blocked");
    ua.send(&sip_msg(
        "mal@sip.test",
        "romeo@xmpp.test",
        "b1",
        "message/cpim",
        &imdn(
            "mal@sip.test",
            "romeo@xmpp.test",
            "n1",
            "x1",
            "delivery",
            "delivered",
        ),
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 403 Blocked");
    // A SIP stranger: typing does not count; the 11th message and typing after it are 403.
    for n in 1..=12 {
        ua.send(&sip_msg(
            "carol@sip.test",
            "romeo@xmpp.test",
            "c1",
            "application/im-iscomposing+xml",
            &is_composing("active"),
        ))
        .await;
        assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted", "typing {n}");
        assert!(lab.stanza().await.contains("<composing"));
    }
    for n in 1..=10 {
        ua.send(&sip_message(
            "carol@sip.test",
            "romeo@xmpp.test",
            &format!("c{n}@h"),
            "hi",
        ))
        .await;
        assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted", "message {n}");
        assert!(lab.stanza().await.contains("<body>hi</body>"));
    }
    ua.send(&sip_message(
        "carol@sip.test",
        "romeo@xmpp.test",
        "c11@h",
        "hi",
    ))
    .await;
    assert_eq!(
        status(&mut ua).await,
        "SIP/2.0 403 Recipient Has Not Accepted You Yet"
    );
    ua.send(&sip_msg(
        "carol@sip.test",
        "romeo@xmpp.test",
        "c1",
        "application/im-iscomposing+xml",
        &is_composing("active"),
    ))
    .await;
    assert_eq!(
        status(&mut ua).await,
        "SIP/2.0 403 Recipient Has Not Accepted You Yet"
    );

    for (kind, reason, want) in [
        ("typing", "consent_required", 2),
        ("receipt", "consent_required", 1),
        ("typing", "blocked", 2),
        ("receipt", "blocked", 2),
    ] {
        let n = lab
            .audited(want, |l| {
                l["type"] == kind && l["outcome"] == "refused" && l["reason"] == reason
            })
            .await;
        assert_eq!(n, want, "{kind} {reason}");
    }
}

#[tokio::test]
async fn peers_down_drop_and_count_chat_states_and_spool_or_bounce_receipts() {
    let mut lab = Lab::start("down", "").await;
    let mut ua = lab.sip().await;

    // SIP → an XMPP domain that is down. The first receipt waits for the connection, which
    // fails: bounced with an error.
    let receipt = |n: &str| {
        sip_msg(
            "alice@sip.test",
            "romeo@down.test",
            n,
            "message/cpim",
            &imdn(
                "alice@sip.test",
                "romeo@down.test",
                n,
                "x1",
                "delivery",
                "delivered",
            ),
        )
    };
    ua.send(&receipt("d1")).await;
    let first = status(&mut ua).await;
    assert!(first.starts_with("SIP/2.0 5"), "{first}");
    // The peer is known down now: a chat state is dropped and counted, and answered.
    ua.send(&sip_msg(
        "alice@sip.test",
        "romeo@down.test",
        "d2",
        "application/im-iscomposing+xml",
        &is_composing("active"),
    ))
    .await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    assert_eq!(
        lab.counter_reaches("sip_to_xmpp", "typing", "dropped", 1.0)
            .await,
        1.0
    );
    // A receipt is spooled (answered once written), then bounced at the deadline.
    let spooled = lab
        .d
        .sample("parley_spool_events_total", &[("event", "spooled")])
        .await;
    ua.send(&receipt("d3")).await;
    assert_eq!(status(&mut ua).await, "SIP/2.0 202 Accepted");
    assert_eq!(
        lab.d
            .sample("parley_spool_events_total", &[("event", "spooled")])
            .await,
        spooled + 1.0
    );
    let notice = lab.request().await;
    assert!(
        notice.starts_with("MESSAGE sip:alice@sip.test SIP/2.0"),
        "{notice}"
    );
    assert!(
        header(&notice, "From").contains("sip:romeo@down.test"),
        "{notice}"
    );

    // XMPP → a SIP domain that is down: the chat state is dropped and counted, the receipt
    // spooled and, at the deadline, bounced to the XMPP sender.
    let mut peer = lab.xmpp("sipdown.test").await;
    peer.send(&format!("<message from='juliet@xmpp.test/b' to='bob@sipdown.test' type='chat' id='t1'><composing xmlns='{CHATSTATES}'/></message>")).await;
    assert_eq!(
        lab.counter_reaches("xmpp_to_sip", "typing", "dropped", 1.0)
            .await,
        1.0
    );
    peer.send(&format!("<message from='juliet@xmpp.test/b' to='bob@sipdown.test' id='r1'><received xmlns='{RECEIPTS}' id='q1'/></message>")).await;
    let bounce = lab.stanza().await;
    assert_eq!(attr(&bounce, "type"), Some("error"), "{bounce}");
    assert_eq!(attr(&bounce, "id"), Some("r1"), "{bounce}");
    assert_eq!(attr(&bounce, "to"), Some("juliet@xmpp.test/b"), "{bounce}");
    assert!(
        lab.d
            .sample("parley_spool_events_total", &[("event", "spooled")])
            .await
            >= spooled + 2.0
    );
    lab.audited(2, |l| l["outcome"] == "dropped").await;
    let dropped: Vec<_> = lab
        .audit()
        .into_iter()
        .filter(|l| l["outcome"] == "dropped")
        .collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped
            .iter()
            .all(|l| l["type"] == "typing" && l["reason"] == "peer_unreachable")
    );
}

/// Alice's IMDN (CPIM, on call-1) about Juliet's message `x 9`.
fn alice_imdn(own_id: &str, kind: &str, status: &str) -> String {
    let body = imdn(
        "alice@sip.test",
        "juliet@xmpp.test",
        own_id,
        "x%209",
        kind,
        status,
    );
    sip_msg(
        "alice@sip.test",
        "juliet@xmpp.test",
        "call-1",
        "message/cpim",
        &body,
    )
}
