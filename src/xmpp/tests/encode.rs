//! Writer: exact output, escaping, and round trips through the framer and views.

use bytes::BytesMut;

use super::frames;
use crate::xmpp::encode::*;
use crate::xmpp::stanza::{Element, MessageType, parse_element};
use crate::xmpp::{ErrorType, Frame, StanzaCondition, StreamCondition};

fn s(out: &BytesMut) -> &str {
    std::str::from_utf8(out).unwrap()
}

#[test]
fn stream_open_and_features() {
    let mut out = BytesMut::new();
    write_stream_open(
        &mut out,
        &StreamOpen {
            from: "parley.example",
            to: "x'y.example",
            id: Some("i1"),
        },
    );
    assert_eq!(
        s(&out),
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='parley.example' to='x&apos;y.example' id='i1' version='1.0'>"
    );
    let Frame::Open(h) = &frames(&out).unwrap()[0] else {
        panic!()
    };
    assert_eq!(h.to.as_deref(), Some("x'y.example"));
    assert!(h.dialback);
    out.clear();
    write_features(
        &mut out,
        &FeaturesOut {
            starttls_required: true,
            mechanisms: &["EXTERNAL"],
            dialback: true,
        },
    );
    let Element::Features(f) = parse_element(&out, h).unwrap() else {
        panic!()
    };
    assert_eq!(
        (f.starttls, f.mechanisms.len(), f.dialback),
        (Some(true), 1, true)
    );
}

#[test]
fn sasl_and_errors() {
    let h = crate::xmpp::StreamHeader::default();
    let mut out = BytesMut::new();
    write_sasl_auth(&mut out, "EXTERNAL", "=");
    assert_eq!(
        s(&out),
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>"
    );
    out.clear();
    write_sasl_failure(&mut out, "not-authorized");
    assert_eq!(
        parse_element(&out, &h).unwrap(),
        Element::SaslFailure {
            condition: "not-authorized".into()
        }
    );
    out.clear();
    write_sasl_failure(&mut out, "<evil>");
    assert_eq!(
        s(&out),
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
    );
    for c in StreamCondition::all() {
        out.clear();
        write_stream_error(&mut out, c, Some("a < b"));
        let el = parse_element(&out, &h).unwrap();
        assert_eq!(
            el,
            Element::StreamError {
                condition: Some(c),
                text: Some("a < b".into())
            }
        );
    }
}

#[test]
fn message_round_trip_and_escaping() {
    let msg = MessageOut {
        from: "a@b.example/r",
        to: "c@d.example",
        id: Some("1\"2"),
        type_: MessageType::Chat,
        lang: Some("en"),
        body: Some("x < y && z > w ]]> \r\n\t end \u{1}"),
        subject: Some("s"),
        thread: Some("t"),
        error: Some(StanzaErrorOut {
            type_: ErrorType::Modify,
            condition: StanzaCondition::BadRequest,
            text: Some("'"),
        }),
    };
    let mut out = BytesMut::new();
    write_message(&mut out, &msg);
    let h = crate::xmpp::StreamHeader::default();
    let Element::Message(m) = parse_element(&out, &h).unwrap() else {
        panic!()
    };
    assert_eq!(m.id.as_deref(), Some("1\"2"));
    assert_eq!(
        m.body.as_deref(),
        Some("x < y && z > w ]]> \r\n\t end \u{fffd}")
    );
    assert_eq!(m.subject.as_deref(), Some("s"));
    assert_eq!(m.thread.as_deref(), Some("t"));
    let e = m.error.unwrap();
    assert_eq!(
        (e.type_, e.condition, e.text.as_deref()),
        (ErrorType::Modify, StanzaCondition::BadRequest, Some("'"))
    );
    // The writer's output also passes the framer's hostile-input checks.
    let mut stream = BytesMut::new();
    write_stream_open(
        &mut stream,
        &StreamOpen {
            from: "a",
            to: "b",
            id: None,
        },
    );
    stream.extend_from_slice(&out);
    assert_eq!(frames(&stream).unwrap().len(), 2);
}

#[test]
fn reused_buffer_no_realloc() {
    let mut out = BytesMut::with_capacity(1024);
    let msg = MessageOut {
        from: "a@b",
        to: "c@d",
        id: None,
        type_: MessageType::Normal,
        lang: None,
        body: Some("hello"),
        subject: None,
        thread: None,
        error: None,
    };
    write_message(&mut out, &msg);
    assert_eq!(
        s(&out),
        "<message from='a@b' to='c@d'><body>hello</body></message>"
    );
    let cap = out.capacity();
    out.clear();
    write_message(&mut out, &msg);
    assert_eq!(out.capacity(), cap);
}

#[test]
fn presence_iq_and_extensions_round_trip() {
    use crate::xmpp::stanza::{ChatState, IqPayload, IqType, Marker, PresenceType, Show};
    let h = crate::xmpp::StreamHeader::default();
    let mut out = BytesMut::new();
    write_presence(
        &mut out,
        &PresenceOut {
            from: "a@b/c",
            to: "",
            id: Some("p1"),
            type_: PresenceType::Available,
            show: Some(Show::Xa),
            status: Some("on & off"),
            priority: Some(-5),
            caps: Some(("http://parley", "ver=", "sha-1")),
            nick: Some("A"),
            error: None,
        },
    );
    let Element::Presence(p) = parse_element(&out, &h).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.type_, p.show, p.priority),
        (Some(PresenceType::Available), Some(Show::Xa), Some(-5))
    );
    assert_eq!(
        (p.status.as_deref(), p.to.as_deref()),
        (Some("on & off"), None)
    );
    assert_eq!(&*p.caps.unwrap().ver, "ver=");
    out.clear();
    let ids = [("gateway", "sip", "parley")];
    let iq = IqOut {
        from: "g",
        to: "h",
        id: "i1",
        type_: IqType::Result,
        payload: IqPayloadOut::DiscoInfo(&ids, &["urn:xmpp:ping"]),
        error: None,
    };
    write_iq(&mut out, &iq);
    let Element::Iq(v) = parse_element(&out, &h).unwrap() else {
        panic!()
    };
    let IqPayload::DiscoInfo(d) = v.payload_kind() else {
        panic!()
    };
    assert_eq!(d.features().collect::<Vec<_>>(), vec!["urn:xmpp:ping"]);
    assert_eq!(
        d.identities().next().unwrap().name.as_deref(),
        Some("parley")
    );
    out.clear();
    let msg = MessageOut {
        from: "a@b",
        to: "c@d",
        id: Some("m"),
        type_: MessageType::Chat,
        lang: None,
        body: Some("b"),
        subject: None,
        thread: None,
        error: None,
    };
    let ext = MessageExtOut {
        chat_state: Some(ChatState::Gone),
        marker: Some(MarkerOut::Acknowledged("x")),
        reactions: Some(("m0", &["👍"])),
        reply: Some((None, "m0")),
        raw: &["<z xmlns='urn:z'/>"],
        ..Default::default()
    };
    write_message_with(&mut out, &msg, &ext);
    let Element::Message(m) = parse_element(&out, &h).unwrap() else {
        panic!()
    };
    assert_eq!(m.chat_state, Some(ChatState::Gone));
    assert_eq!(m.marker, Some(Marker::Acknowledged("x".into())));
    assert_eq!(
        m.reactions.as_ref().unwrap().iter().collect::<Vec<_>>(),
        vec!["👍"]
    );
    assert_eq!(
        m.unknown_children().next().unwrap().xml,
        "<z xmlns='urn:z'/>"
    );
}

/// The escaper as first written, one character at a time: the table-driven one must agree.
fn escape_by_char(s: &str, attr: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' if attr => out.push_str("&apos;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn escape_agrees_with_char_by_char() {
    let cases = [
        "",
        "plain",
        "x < y && z > w ]]> \r\n\t end \u{1}\u{1f}\u{7f}",
        "'quoted' \"double\"",
        "\u{fffe}\u{ffff}\u{fffd}\u{efbf}\u{f000}\u{ef00}é\u{10FFFF}\u{80}\u{9f}",
        "a\u{ffff}",
        "\u{ef}\u{fffe}b",
        "&",
    ];
    for s in cases {
        for attr in [false, true] {
            let mut out = BytesMut::new();
            crate::xmpp::encode::escape_into(&mut out, s, attr);
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                escape_by_char(s, attr),
                "{s:?} attr={attr}"
            );
        }
    }
}
