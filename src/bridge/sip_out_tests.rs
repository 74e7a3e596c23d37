//! Unit tests of the SIP request writers.

use super::*;
use crate::xmpp::ns;

/// Regression (fuzz, bridge_xmpp_to_sip): text holding the boundary could forge a part.
#[test]
fn boundary_never_occurs_in_the_parts() {
    use crate::bridge::sip::RequestContext;
    use crate::sip::body::multipart;
    use crate::sip::header::MediaType;
    let addr = |l: &'static str| Address {
        local: Cow::Borrowed(l),
        domain: Cow::Borrowed("example.com"),
        resource: None,
    };
    let forged = "hi\r\n--b\r\nContent-Type: text/plain\r\n\r\nforged";
    let mut m = ChatMessage::plain(addr("a"), addr("b"), Cow::Borrowed(forged));
    m.rich = Some(Cow::Borrowed("<b>hi</b>"));
    let o = SipOut {
        req: RequestContext {
            transport: "TLS",
            sent_by: "gw.example:5061",
            branch: "z9hG4bK1",
            from_tag: "t1",
            fallback_call_id: "c@gw.example",
            cseq: 1,
        },
        caps: SipPeerCaps::SIMPLE,
        call_id: None,
        to_tag: None,
        contact: "sip:gw.example",
        expires: 3600,
        now: "2024-05-01T12:00:00Z",
        boundary: "b",
    };
    let mut out = BytesMut::new();
    write_sip_message(&mut out, &m, &o).unwrap();
    let msg = SipMessage::parse(out.freeze(), &crate::sip::SipLimits::default()).unwrap();
    let ct = msg.content_type().unwrap().unwrap();
    let boundary = ct.param("boundary").unwrap();
    assert_ne!(boundary, "b");
    let parts = multipart::parse(msg.body(), boundary).unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].body, forged.as_bytes());
    assert!(
        parts[1]
            .content_type()
            .is_some_and(|t: MediaType<'_>| t.is("text", "html"))
    );
}

#[test]
fn imdn_ids_are_tokens() {
    assert_eq!(imdn_message_id("abc-123"), "abc-123");
    assert_eq!(imdn_message_id("a b%c"), "a%20b%25c");
    assert_eq!(
        crate::sip::uri::percent_decode(&imdn_message_id("a b%c/ü")),
        "a b%c/ü"
    );
}

#[test]
fn namespaces_cover_xeps() {
    assert!(ext::NAMESPACES.iter().any(|(_, u)| *u == ns::REACTIONS));
}

fn ctx() -> crate::bridge::sip::RequestContext<'static> {
    crate::bridge::sip::RequestContext {
        transport: "TLS",
        sent_by: "gw.example:5061",
        branch: "z9hG4bK1",
        from_tag: "t1",
        fallback_call_id: "c1",
        cseq: 1,
    }
}

fn addr(l: &'static str, d: &'static str, r: Option<&'static str>) -> Address<'static> {
    Address {
        local: Cow::Borrowed(l),
        domain: Cow::Borrowed(d),
        resource: r.map(Cow::Borrowed),
    }
}

fn from_line(out: &BytesMut) -> String {
    let text = std::str::from_utf8(out).unwrap();
    text.lines()
        .find(|l| l.starts_with("From:"))
        .unwrap()
        .to_owned()
}

/// Issue 8: the plain MESSAGE carries the nick (with the label the router put there) as the
/// From display name, as an RFC 3261 quoted-string.
#[test]
fn the_plain_message_names_its_sender_without_injection() {
    let mut m = ChatMessage::plain(
        addr("juliet", "xmpp.test", Some("b")),
        addr("bob", "sip.test", None),
        Cow::Borrowed("hi"),
    );
    m.nick = Some(Cow::Borrowed("Ju\"li\\et\r\nX-Injected: 1 (external)"));
    let mut out = BytesMut::new();
    write_plain_message(&mut out, &m, &ctx());
    assert_eq!(
        from_line(&out),
        "From: \"Ju\\\"li\\\\et  X-Injected: 1 (external)\" <sip:juliet@xmpp.test>;tag=t1"
    );
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("X-Injected")), "{text}");
    let msg = SipMessage::parse(out.freeze(), &crate::sip::SipLimits::default()).unwrap();
    let from = msg.from().unwrap();
    assert_eq!(
        crate::bridge::sip_in::display_name(from.display_name.unwrap()),
        "Ju\"li\\et  X-Injected: 1 (external)"
    );
    // Without a nick, no display name.
    m.nick = None;
    let mut out = BytesMut::new();
    write_plain_message(&mut out, &m, &ctx());
    assert_eq!(from_line(&out), "From: <sip:juliet@xmpp.test>;tag=t1");
}

/// The event writer puts the given name on every MESSAGE: chat states, receipts, and the
/// CPIM From.
#[test]
fn events_carry_the_given_from_name() {
    use crate::model::{Envelope, MessageKind};
    let env = Envelope {
        from: addr("juliet", "xmpp.test", Some("b")),
        to: addr("bob", "sip.test", None),
        id: Some(Cow::Borrowed("r1")),
        thread: None,
        kind: MessageKind::Chat,
    };
    let o = SipOut {
        req: ctx(),
        caps: SipPeerCaps::SIMPLE,
        call_id: None,
        to_tag: None,
        contact: "sip:gw.example",
        expires: 0,
        now: "2026-11-22T00:00:00Z",
        boundary: "b",
    };
    let typing = Event::ChatState(ChatStateEvent {
        env: env.clone(),
        state: Typing::Composing,
        refresh: None,
    });
    let receipt = Event::Receipt(Receipt {
        env,
        kind: ReceiptKind::Delivered,
        for_id: Cow::Borrowed("m1"),
        datetime: None,
    });
    for e in [&typing, &receipt] {
        let mut out = BytesMut::new();
        assert_eq!(
            write_sip_event_as(&mut out, e, &o, Some("juliet (external)")),
            Ok(1)
        );
        assert_eq!(
            from_line(&out),
            "From: \"juliet (external)\" <sip:juliet@xmpp.test;gr=b>;tag=t1"
        );
        let mut plain = BytesMut::new();
        write_sip_event(&mut plain, e, &o).unwrap();
        assert_eq!(
            from_line(&plain),
            "From: <sip:juliet@xmpp.test;gr=b>;tag=t1"
        );
    }
    let mut out = BytesMut::new();
    write_sip_event_as(&mut out, &receipt, &o, Some("juliet (external)")).unwrap();
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(
        text.contains("\r\n\r\nFrom: \"juliet (external)\" <im:juliet@xmpp.test>\r\n"),
        "{text}"
    );
}
