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
