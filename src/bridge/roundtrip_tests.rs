//! Round-trip property: SIP → XMPP → SIP preserves sender, recipient, body, thread and id,
//! for plain, rich (HTML), multi-part and CPIM/IMDN messages.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::sip::RequestContext;
use super::sip_out::{SipOut, SipPeerCaps, write_sip_event};
use super::xmpp_out::write_xmpp_event;
use super::{sip_in, xmpp_in};
use crate::model::{ChatMessage, Event};
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::StreamHeader;
use crate::xmpp::stanza::parse_element;

fn pct(user: &str) -> String {
    user.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Plain,
    Html,
    Cpim,
}

fn sip_message(from: &str, to: &str, thread: &str, body: &str, shape: Shape) -> Vec<u8> {
    let (ct, payload) = match shape {
        Shape::Plain => ("text/plain;charset=UTF-8".to_owned(), body.to_owned()),
        Shape::Html => {
            let esc = body
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            (
                "text/html;charset=UTF-8".to_owned(),
                format!("<p><b>{esc}</b></p>"),
            )
        }
        Shape::Cpim => (
            "message/cpim".to_owned(),
            format!(
                "From: <im:{from}>\r\nTo: <im:{to}>\r\nDateTime: 2024-05-01T10:00:00Z\r\n\
                 NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: id-{thread_id}\r\n\
                 imdn.Disposition-Notification: positive-delivery\r\n\r\n\
                 Content-Type: text/plain;charset=UTF-8\r\n\r\n{body}",
                thread_id = thread.split('@').next().unwrap_or("x")
            ),
        ),
    };
    format!(
        "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS p.example:5061;branch=z9hG4bKx\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}>;tag=1\r\nTo: <sip:{to}>\r\nCall-ID: {thread}\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .into_bytes()
}

fn only_message<'a>(events: &'a [Event<'a>]) -> &'a ChatMessage<'a> {
    match events {
        [Event::Message(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn round_trip(sip: &[u8]) {
    let limits = SipLimits::default();
    let first = SipMessage::parse(Bytes::copy_from_slice(sip), &limits).unwrap();
    let ev1 = sip_in::events_from_sip(&first).unwrap();
    let m1 = only_message(&ev1);

    let mut xml = BytesMut::new();
    write_xmpp_event(&mut xml, &ev1[0], "gw-1").unwrap();
    let el = parse_element(&xml, &StreamHeader::default()).unwrap();
    let ev2 = xmpp_in::events_from_xmpp(&el).unwrap();
    let m2 = only_message(&ev2);

    let o = SipOut {
        req: RequestContext {
            transport: "TLS",
            sent_by: "gw.example:5061",
            branch: "z9hG4bK1",
            from_tag: "t1",
            fallback_call_id: "fallback@gw.example",
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
    let mut sip2 = BytesMut::new();
    write_sip_event(&mut sip2, &ev2[0], &o).unwrap();
    let second = SipMessage::parse(sip2.freeze(), &limits).unwrap();
    let ev3 = sip_in::events_from_sip(&second).unwrap();
    let m3 = only_message(&ev3);

    // The stanza carries the SIP message's id, or the one the gateway generated for it.
    assert_eq!(m2.id.as_deref(), Some(m1.id.as_deref().unwrap_or("gw-1")));
    assert_eq!(m3.id, m1.id);
    for m in [m2, m3] {
        assert_eq!(m.from.without_resource(), m1.from.without_resource());
        assert_eq!(m.to, m1.to);
        assert_eq!(m.body, m1.body);
        assert_eq!(m.thread, m1.thread);
        assert_eq!(m.rich, m1.rich);
        assert_eq!(m.receipts, m1.receipts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sip_xmpp_sip_preserves_the_message(
        from_user in "[a-z0-9][a-z0-9._' -]{0,10}",
        to_user in "[a-z0-9][a-z0-9._-]{0,10}",
        from_dom in "[a-z]{1,8}",
        to_dom in "[a-z]{1,8}",
        thread in "[a-zA-Z0-9]{1,16}",
        body in "[!-~À-ÿ😀-🙏][ -~À-ÿ😀-🙏]{0,80}",
        shape in prop_oneof![Just(Shape::Plain), Just(Shape::Html), Just(Shape::Cpim)],
    ) {
        let from = format!("{}@{from_dom}.example", pct(&from_user));
        let to = format!("{}@{to_dom}.example", pct(&to_user));
        let thread = format!("{thread}@host.example");
        // A body that is only white space after its first character is still a body.
        round_trip(&sip_message(&from, &to, &thread, &body, shape));
    }
}

#[test]
fn one_of_each_shape() {
    for shape in [Shape::Plain, Shape::Html, Shape::Cpim] {
        round_trip(&sip_message(
            "o%27hara@sip.example",
            "juliet@xmpp.example",
            "c1@host.example",
            "héllo <there> & 👋",
            shape,
        ));
    }
}
