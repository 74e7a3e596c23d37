use bytes::Bytes;

use super::*;
use crate::sip::uri::SipUri;

const MSG: &[u8] = include_bytes!("../../protocol-tests/sip/rfc3428-4-message.sip");

fn parse(b: &[u8]) -> Result<SipMessage, SipError> {
    SipMessage::parse(Bytes::copy_from_slice(b), &SipLimits::default())
}

#[test]
fn message_accessors() {
    let m = parse(MSG).unwrap();
    assert_eq!(m.method(), Some(Method::Message));
    assert!(m.is_request());
    assert_eq!(m.request_uri(), Some("sip:bob@xmpp.example"));
    assert_eq!(m.status(), None);
    assert_eq!(m.reason(), None);
    let via = m.via().unwrap();
    assert_eq!(via.transport, "TLS");
    assert_eq!(via.host, "198.51.100.7");
    assert_eq!(via.port, Some(5061));
    assert_eq!(via.branch, Some("z9hG4bK4b43c2ff8.1"));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[1].received, Some("203.0.113.9"));
    assert_eq!(vias[1].rport, Some(Some(40211)));
    let from = m.from().unwrap();
    assert_eq!(from.display_name, Some("Alice Liddell"));
    assert_eq!(from.uri, "sip:alice@sip.example");
    assert_eq!(from.tag, Some("Ys1hOqJ7"));
    let to = m.to().unwrap();
    assert_eq!(
        (to.display_name, to.uri, to.tag),
        (None, "sip:bob@xmpp.example", None)
    );
    assert_eq!(m.call_id(), Ok("3848276298220188511@sip.example"));
    assert_eq!(
        m.cseq().unwrap(),
        CSeq {
            seq: 20,
            method: "MESSAGE"
        }
    );
    assert_eq!(m.max_forwards(), Ok(Some(69)));
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("text", "plain"));
    assert_eq!(ct.param("charset"), Some("UTF-8"));
    assert_eq!(m.header(HeaderName::Subject), Some(&b"lunch"[..]));
    assert_eq!(m.header(HeaderName::ContentLanguage), None);
    assert_eq!(m.body(), b"Hello Bob, lunch at noon?\n");
    assert_eq!(m.content_length(), Some(26));
    assert_eq!(m.header_count(), 11);
    let uri = SipUri::parse(from.uri).unwrap();
    assert_eq!((uri.user, uri.host), (Some("alice"), "sip.example"));
}

#[test]
fn compact_folded_response() {
    let raw = b"SIP/2.0 202 Accepted\r\n\
v: SIP/2.0/UDP a.example;branch=z9hG4bK1 ,\r\n SIP/2.0/UDP b.example;branch=z9hG4bK2\r\n\
f: \"Bob \\\"B\\\"\"\r\n <sip:bob@b.example>;tag=1\r\n\
t: sip:alice@a.example;tag=2\r\n\
i: abc@b\r\n\
CSeq: 7\r\n MESSAGE\r\n\
c: text/plain\r\n\
s: folded\r\n subject\r\n\
l: 0\r\n\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.status(), Some(202));
    assert_eq!(m.reason(), Some("Accepted"));
    assert_eq!(m.method(), None);
    assert_eq!(m.vias().count(), 2);
    assert_eq!(m.via().unwrap().host, "a.example");
    assert_eq!(m.from().unwrap().display_name, Some("Bob \\\"B\\\""));
    assert_eq!(m.to().unwrap().tag, Some("2"));
    assert_eq!(m.call_id(), Ok("abc@b"));
    assert_eq!(m.cseq().unwrap().seq, 7);
    assert_eq!(
        m.header(HeaderName::Subject),
        Some(&b"folded\r\n subject"[..])
    );
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.body(), b"");
    let values: Vec<&[u8]> = m.header_values(HeaderName::Via).collect();
    assert_eq!(values[1], b"SIP/2.0/UDP b.example;branch=z9hG4bK2");
}

#[test]
fn extension_method_and_empty_reason() {
    let m = parse(b"FOO sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 FOO\r\n\r\n").unwrap();
    assert_eq!(m.method(), Some(Method::Other("FOO")));
    assert_eq!(m.method().unwrap().as_str(), "FOO");
    let r = parse(b"SIP/2.0 100 \r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 FOO\r\n\r\n").unwrap();
    assert_eq!(r.reason(), Some(""));
}

fn with_headers(start: &str, headers: &str) -> Vec<u8> {
    format!("{start}\r\n{headers}\r\n").into_bytes()
}

const CORE: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c@h\r\nCSeq: 1 OPTIONS\r\n";

#[test]
fn error_table() {
    use HeaderKind as K;
    let req = "OPTIONS sip:a@b SIP/2.0";
    let cases: Vec<(Vec<u8>, SipError)> = vec![
        (
            with_headers("OPTIONS sip:a@b SIP/3.0", CORE),
            SipError::BadVersion,
        ),
        (
            with_headers("OPTIONS  sip:a@b SIP/2.0", CORE),
            SipError::BadStartLine,
        ),
        (
            with_headers("OPTIONS sip:a@b SIP/2.0 ", CORE),
            SipError::BadStartLine,
        ),
        (
            with_headers("OPTIONS <sip:a@b> SIP/2.0", CORE),
            SipError::BadUri,
        ),
        (
            with_headers("OPTIONS sip:a@b?Route=x SIP/2.0", CORE),
            SipError::BadUri,
        ),
        (
            with_headers("OPTIONS sip:a@b HTTP/1.1", CORE),
            SipError::BadStartLine,
        ),
        (
            with_headers("SIP/2.0 4294967301 big", CORE),
            SipError::BadStartLine,
        ),
        (with_headers("SIP/2.0 99 low", CORE), SipError::BadStartLine),
        (with_headers("", CORE), SipError::BadStartLine),
        (
            with_headers(req, "Via: SIP/2.0/UDP h\r\n"),
            SipError::MissingHeader(K::From),
        ),
        (
            with_headers(req, &CORE.replace("Via", "X-Via")),
            SipError::MissingHeader(K::Via),
        ),
        (
            with_headers(req, &format!("{CORE}Max-Forwards: 256\r\n")),
            SipError::BadHeader(K::MaxForwards),
        ),
        (
            with_headers(req, &format!("{CORE}To: <sip:c@d>\r\n")),
            SipError::DuplicateHeader(K::To),
        ),
        (
            with_headers(req, &format!("{CORE}Content-Type: text\r\n")),
            SipError::BadHeader(K::ContentType),
        ),
        (
            with_headers(req, &format!("{CORE}Content-Length: 5\r\n")),
            SipError::BadContentLength,
        ),
        (
            with_headers(req, &format!("{CORE}broken line\r\n")),
            SipError::BadHeader(K::Other),
        ),
        (
            with_headers(req, &format!(" folded\r\n{CORE}")),
            SipError::BadHeader(K::Other),
        ),
        (
            with_headers(req, &CORE.replace("1 OPTIONS", "1 INVITE")),
            SipError::CSeqMethodMismatch,
        ),
        (
            with_headers(req, &CORE.replace("tag=1", "tag=1;;")),
            SipError::BadHeader(K::From),
        ),
        (
            with_headers(req, &CORE.replace("c@h", "c h")),
            SipError::BadHeader(K::CallId),
        ),
        (
            with_headers(req, &CORE.replace("branch=z9hG4bK1", ";")),
            SipError::BadHeader(K::Via),
        ),
        (
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n".to_vec(),
            SipError::Truncated,
        ),
    ];
    for (raw, want) in cases {
        assert_eq!(
            parse(&raw).err(),
            Some(want),
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
    assert!(parse(&with_headers(req, CORE)).is_ok());
}

#[test]
fn limits_each_have_their_error() {
    let raw = with_headers("OPTIONS sip:a@b SIP/2.0", CORE);
    let l = |f: fn(&mut SipLimits)| {
        let mut l = SipLimits::default();
        f(&mut l);
        SipMessage::parse(Bytes::copy_from_slice(&raw), &l).err()
    };
    assert_eq!(l(|l| l.max_head_bytes = 50), Some(SipError::HeadTooLarge));
    assert_eq!(l(|l| l.max_headers = 4), Some(SipError::TooManyHeaders));
    assert_eq!(l(|l| l.max_header_len = 20), Some(SipError::HeaderTooLong));
    assert_eq!(l(|l| l.max_uri_len = 4), Some(SipError::UriTooLong));
    let mut body = with_headers("OPTIONS sip:a@b SIP/2.0", CORE);
    body.extend_from_slice(b"0123456789");
    let small = SipLimits {
        max_body_bytes: 5,
        ..SipLimits::default()
    };
    assert_eq!(
        SipMessage::parse(Bytes::from(body), &small).err(),
        Some(SipError::BodyTooLarge)
    );
}

#[test]
fn many_headers_spill_to_heap() {
    let mut h = String::from(CORE);
    for i in 0..INLINE_HEADERS + 5 {
        h.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    h.push_str("Max-Forwards: 9\r\n");
    let m = parse(&with_headers("OPTIONS sip:a@b SIP/2.0", &h)).unwrap();
    assert_eq!(m.header_count(), 5 + INLINE_HEADERS + 5 + 1);
    assert_eq!(m.max_forwards(), Ok(Some(9)));
    assert_eq!(m.header_by_name("x-h36"), Some(&b"36"[..]));
}

#[test]
fn size_of_message_is_bounded() {
    assert!(
        // 32 inline header slots plus the core headers' typed offsets: one cache line pair
        // short of 1.1 KiB, moved at most once per message.
        std::mem::size_of::<SipMessage>() <= 1152,
        "{}",
        std::mem::size_of::<SipMessage>()
    );
}

/// The top Via of a comma-separated list is its first value, whether the list is written
/// tightly or with white space (the one-pass Via path must not take the whole list).
#[test]
fn top_via_of_a_list() {
    for list in [
        "SIP/2.0/UDP a.example;branch=z9hG4bK1,SIP/2.0/UDP b.example",
        "SIP/2.0/UDP a.example;branch=z9hG4bK1 , SIP/2.0/UDP b.example",
        "SIP/2.0/UDP a.example:5060,SIP/2.0/UDP b.example",
    ] {
        let raw = format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: {list}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c@h\r\nCSeq: 1 OPTIONS\r\n\r\n"
        );
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.via().unwrap().host, "a.example", "{list}");
        assert_eq!(m.vias().count(), 2, "{list}");
    }
    let one = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS h:5061;branch=z9hG4bK1;rport\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c@h\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let m = parse(one.as_bytes()).unwrap();
    let via = m.via().unwrap();
    assert_eq!(
        (via.host, via.port, via.branch, via.rport),
        ("h", Some(5061), Some("z9hG4bK1"), Some(None))
    );
}
