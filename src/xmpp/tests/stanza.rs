//! Typed views: negotiation elements, messages, extensions, errors.

use std::borrow::Cow;

use super::framing::TRANSCRIPT;
use super::{PROSODY_HEADER, frames};
use crate::xmpp::stanza::{ChatState, Element, Marker, MessageType, parse_element};
use crate::xmpp::{ErrorType, Frame, StanzaCondition, StreamCondition, StreamHeader, XmppError};

fn header() -> StreamHeader {
    match &frames(PROSODY_HEADER.as_bytes()).unwrap()[0] {
        Frame::Open(h) => h.clone(),
        other => panic!("{other:?}"),
    }
}

fn parse(xml: &str) -> Element<'_> {
    parse_element(xml.as_bytes(), &header()).unwrap()
}

#[test]
fn transcript_views() {
    let fr = frames(TRANSCRIPT.as_bytes()).unwrap();
    let Frame::Open(h) = &fr[0] else { panic!() };
    let els: Vec<Element<'_>> = fr
        .iter()
        .filter_map(|f| match f {
            Frame::Element(b) => Some(parse_element(b, h).unwrap()),
            _ => None,
        })
        .collect();
    let Element::Features(f) = &els[0] else {
        panic!("{:?}", els[0])
    };
    assert!(f.dialback);
    assert_eq!(f.mechanisms, vec![Cow::Borrowed("EXTERNAL")]);
    assert_eq!(f.starttls, None);
    assert!(matches!(
        &els[1],
        Element::Unknown { .. } | Element::DbResult(_)
    ));
    let Element::Message(m) = &els[2] else {
        panic!()
    };
    assert_eq!(m.body.as_deref(), Some("Wherefore art thou, Romeo?"));
    assert_eq!(m.chat_state, Some(ChatState::Active));
    assert_eq!(m.type_, MessageType::Chat);
}

#[test]
fn features_starttls_required() {
    let x = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
    let Element::Features(f) = parse(x) else {
        panic!()
    };
    assert_eq!(f.starttls, Some(true));
    let x =
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
    let Element::Features(f) = parse(x) else {
        panic!()
    };
    assert_eq!(f.starttls, Some(false));
}

#[test]
fn negotiation_elements() {
    let tls = "xmlns='urn:ietf:params:xml:ns:xmpp-tls'";
    let sasl = "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'";
    assert_eq!(parse(&format!("<starttls {tls}/>")), Element::StartTls);
    assert_eq!(parse(&format!("<proceed {tls}/>")), Element::Proceed);
    assert_eq!(parse(&format!("<failure {tls}/>")), Element::TlsFailure);
    assert_eq!(parse(&format!("<success {sasl}/>")), Element::SaslSuccess);
    let auth = format!("<auth {sasl} mechanism='EXTERNAL'> cGFybGV5LmV4YW1wbGU= </auth>");
    assert_eq!(
        parse(&auth),
        Element::SaslAuth {
            mechanism: "EXTERNAL".into(),
            initial: "cGFybGV5LmV4YW1wbGU=".into()
        }
    );
    let auth = format!("<auth {sasl} mechanism='EXTERNAL'>=</auth>");
    assert!(matches!(parse(&auth), Element::SaslAuth { initial, .. } if initial == "="));
    let fail = format!("<failure {sasl}><not-authorized/><text xml:lang='en'>no</text></failure>");
    assert_eq!(
        parse(&fail),
        Element::SaslFailure {
            condition: "not-authorized".into()
        }
    );
    let err = "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>who?</text></stream:error>";
    assert_eq!(
        parse(err),
        Element::StreamError {
            condition: Some(StreamCondition::HostUnknown),
            text: Some("who?".into())
        }
    );
}

#[test]
fn stream_prefix_resolves_through_header() {
    // ejabberd uses the same prefix; a stream declaring another prefix must be followed.
    let h = "<stream:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams' xmlns:stream='urn:other'>";
    let hdr = "<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams'>";
    let _ = h;
    let Frame::Open(hh) = &frames(hdr.as_bytes()).unwrap()[0] else {
        panic!()
    };
    assert!(matches!(
        parse_element(b"<s:features/>", hh),
        Ok(Element::Features(_))
    ));
    assert_eq!(
        parse_element(b"<zz:features/>", hh),
        Err(XmppError::BadNamespacePrefix)
    );
    let local = b"<q:features xmlns:q='http://etherx.jabber.org/streams'/>";
    assert!(matches!(parse_element(local, hh), Ok(Element::Features(_))));
}

#[test]
fn message_core_fields() {
    let x = "<message from='a@b.example/r' to='c@d.example' id='x&amp;1' type='chat' xml:lang='en'><subject>S</subject><body xml:lang='fr'>1 &lt; 2 &amp; 3</body><body>second</body><thread parent='p1'>T</thread></message>";
    let Element::Message(m) = parse(x) else {
        panic!()
    };
    assert_eq!(m.from.as_deref(), Some("a@b.example/r"));
    assert_eq!(m.to.as_deref(), Some("c@d.example"));
    assert_eq!(m.id.as_deref(), Some("x&1"));
    assert_eq!(m.lang.as_deref(), Some("en"));
    assert_eq!(m.body.as_deref(), Some("1 < 2 & 3"));
    assert_eq!(m.body_lang.as_deref(), Some("fr"));
    assert_eq!(m.subject.as_deref(), Some("S"));
    assert_eq!(m.thread.as_deref(), Some("T"));
    assert_eq!(m.thread_parent.as_deref(), Some("p1"));
    let bodies: Vec<_> = m.bodies().collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1].1, "second");
    assert!(
        matches!(m.from, Some(Cow::Borrowed(_))),
        "attributes without escapes are borrowed"
    );
}

#[test]
fn message_error() {
    let x = "<message type='error' id='m1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone away</text></error></message>";
    let Element::Message(m) = parse(x) else {
        panic!()
    };
    assert_eq!(m.type_, MessageType::Error);
    let e = m.error.unwrap();
    assert_eq!(e.type_, ErrorType::Cancel);
    assert_eq!(e.condition, StanzaCondition::ItemNotFound);
    assert_eq!(e.text.as_deref(), Some("gone away"));
}

#[test]
fn message_extensions() {
    let x = concat!(
        "<message id='m2' type='chat'><body>hi</body>",
        "<composing xmlns='http://jabber.org/protocol/chatstates'/>",
        "<request xmlns='urn:xmpp:receipts'/>",
        "<displayed xmlns='urn:xmpp:chat-markers:0' id='m0'/>",
        "<replace xmlns='urn:xmpp:message-correct:0' id='m1'/>",
        "<reply xmlns='urn:xmpp:reply:0' to='a@b/c' id='m0'/>",
        "<x xmlns='jabber:x:oob'><url>https://f.example/a.png</url><desc>A</desc></x>",
        "<nick xmlns='http://jabber.org/protocol/nick'>Ju</nick>",
        "<delay xmlns='urn:xmpp:delay' from='b' stamp='2002-09-10T23:08:25Z'/>",
        "<stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='b'/><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>",
        "<reactions xmlns='urn:xmpp:reactions:0' id='m0'><reaction>👍</reaction><reaction>🐢</reaction></reactions>",
        "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></body></html>",
        "<custom xmlns='urn:example:x'><y/></custom>",
        "</message>"
    );
    let Element::Message(m) = parse(x) else {
        panic!()
    };
    assert_eq!(m.body.as_deref(), Some("hi"));
    assert_eq!(m.chat_state, Some(ChatState::Composing));
    assert!(m.receipt_request);
    assert_eq!(m.marker, Some(Marker::Displayed("m0".into())));
    assert_eq!(m.replace_id.as_deref(), Some("m1"));
    let r = m.reply.as_ref().unwrap();
    assert_eq!((r.to.as_deref(), &*r.id), (Some("a@b/c"), "m0"));
    let o = m.oob.as_ref().unwrap();
    assert_eq!(
        (&*o.url, o.desc.as_deref()),
        ("https://f.example/a.png", Some("A"))
    );
    assert_eq!(m.nick.as_deref(), Some("Ju"));
    assert_eq!(&*m.delay.as_ref().unwrap().stamp, "2002-09-10T23:08:25Z");
    assert_eq!(&*m.stanza_id.as_ref().unwrap().by, "b");
    assert_eq!(m.origin_id.as_deref(), Some("o1"));
    let reactions = m.reactions.as_ref().unwrap();
    assert_eq!(reactions.iter().collect::<Vec<_>>(), vec!["👍", "🐢"]);
    assert!(m.xhtml.unwrap().starts_with("<html") && m.xhtml.unwrap().ends_with("</html>"));
    assert_eq!(m.unknown_count, 1);
    let unknown: Vec<_> = m.unknown_children().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (&*unknown[0].ns, unknown[0].name),
        ("urn:example:x", "custom")
    );
    assert_eq!(
        unknown[0].xml,
        "<custom xmlns='urn:example:x'><y/></custom>"
    );
    assert_eq!(m.children().count(), 14);
}

#[test]
fn malformed_extension_stays_unknown() {
    let x = "<message><displayed xmlns='urn:xmpp:chat-markers:0'/></message>";
    let Element::Message(m) = parse(x) else {
        panic!()
    };
    assert_eq!(m.marker, None);
    assert_eq!(m.unknown_count, 1);
}

#[test]
fn unknown_and_direct_garbage() {
    assert_eq!(
        parse("<foo xmlns='urn:x'/>"),
        Element::Unknown {
            ns: "urn:x".into(),
            name: "foo".into()
        }
    );
    let h = header();
    for bad in [
        "",
        "<",
        "<a",
        "<message><body>",
        "\u{0}",
        "<a x='1>",
        "<message><!-- x --></message>",
    ] {
        assert!(parse_element(bad.as_bytes(), &h).is_err(), "{bad:?}");
    }
    assert_eq!(
        parse_element(b"<message><body>&bogus;</body></message>", &h),
        Err(XmppError::RestrictedXml)
    );
}

/// Regression (fuzz, bridge_xmpp_to_sip through `parley translate`): a character reference to
/// a character XML forbids (`&#14;`) was accepted when the element skipped the framer.
#[test]
fn references_to_illegal_characters_are_not_well_formed() {
    // Regression (fuzz, bridge_xmpp_to_sip): the same characters written raw.
    for bad in [
        "&#14;", "&#x0;", "&#xFFFE;", "\u{19}", "\u{0}", "\u{FFFF}", "\u{FFFE}", "\u{7}",
    ] {
        let xml =
            format!("<message from='a@x.example' to='b@y.example'><body>a{bad}b</body></message>");
        assert_eq!(
            parse_element(xml.as_bytes(), &header()).err(),
            Some(XmppError::NotWellFormed),
            "{bad}"
        );
    }
    let ok =
        "<message from='a@x.example' to='b@y.example'><body>a&#13;&#x1F600;&amp;b</body></message>";
    assert!(parse_element(ok.as_bytes(), &header()).is_ok());
    // Every byte class around the forbidden ones, raw, at every offset of a 32-byte chunk.
    for pad in 0..40 {
        let fill = "x".repeat(pad);
        let ok = format!(
            "<message from='a@x.example' to='b@y.example'><body>{fill}\t\r\n \u{FFFD}\u{EFBF}\u{D7FF}\u{E000}\u{10FFFF}é</body></message>"
        );
        assert!(parse_element(ok.as_bytes(), &header()).is_ok(), "{pad}");
        let bad = format!(
            "<message from='a@x.example' to='b@y.example'><body>{fill}\u{1F}</body></message>"
        );
        assert!(parse_element(bad.as_bytes(), &header()).is_err(), "{pad}");
    }
}
