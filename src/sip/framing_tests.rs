use super::*;

const MSG: &[u8] = include_bytes!("../../protocol-tests/sip/rfc3428-4-message.sip");

fn lim() -> SipLimits {
    SipLimits::default()
}

#[test]
fn keepalives() {
    assert_eq!(frame_stream(b"", &lim()), Ok(None));
    assert_eq!(frame_stream(b"\r", &lim()), Ok(None));
    assert_eq!(frame_stream(b"\r\n\r", &lim()), Ok(None));
    assert_eq!(
        frame_stream(b"\r\n\r\n", &lim()),
        Ok(Some(StreamItem::Ping))
    );
    assert_eq!(
        frame_stream(b"\r\n\r\nMESSAGE", &lim()),
        Ok(Some(StreamItem::Ping))
    );
    assert_eq!(frame_stream(b"\r\n", &lim()), Ok(Some(StreamItem::Pong)));
    assert_eq!(
        frame_stream(b"\r\nMESSAGE", &lim()),
        Ok(Some(StreamItem::Pong))
    );
    assert_eq!(StreamItem::Ping.len(), 4);
    assert_eq!(StreamItem::Pong.len(), 2);
}

#[test]
fn whole_message_then_next() {
    let mut buf = MSG.to_vec();
    buf.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        frame_stream(&buf, &lim()),
        Ok(Some(StreamItem::Message { len: MSG.len() }))
    );
    assert_eq!(
        frame_stream(&buf[MSG.len()..], &lim()),
        Ok(Some(StreamItem::Ping))
    );
}

#[test]
fn every_prefix_is_incomplete() {
    for n in 0..MSG.len() {
        let got = frame_stream(&MSG[..n], &lim());
        let ok = match got {
            Ok(None) => true,
            // A prefix that happens to start with CRLF never occurs: the message starts with a method.
            _ => false,
        };
        assert!(ok, "prefix {n}: {got:?}");
    }
    assert_eq!(
        frame_stream(MSG, &lim()),
        Ok(Some(StreamItem::Message { len: MSG.len() }))
    );
}

#[test]
fn content_length_rules() {
    let no_cl = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n";
    assert_eq!(frame_stream(no_cl, &lim()), Err(SipError::BadContentLength));
    assert_eq!(frame_datagram(no_cl, &lim()), Ok(no_cl.len()));
    let neg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n";
    assert_eq!(frame_stream(neg, &lim()), Err(SipError::BadContentLength));
    let two = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 13\r\nl: 5\r\n\r\nabcde";
    assert_eq!(frame_stream(two, &lim()), Err(SipError::BadContentLength));
    let same = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5\r\nL :\r\n 5\r\n\r\nabcde";
    assert_eq!(
        frame_stream(same, &lim()),
        Ok(Some(StreamItem::Message { len: same.len() }))
    );
}

#[test]
fn datagram_trailing_and_short() {
    let mut d = MSG.to_vec();
    d.extend_from_slice(b"\r\nINVITE sip:x SIP/2.0\r\n");
    assert_eq!(frame_datagram(&d, &lim()), Ok(MSG.len()));
    assert_eq!(
        frame_datagram(&MSG[..MSG.len() - 1], &lim()),
        Err(SipError::BadContentLength)
    );
    assert_eq!(
        frame_datagram(b"OPTIONS sip:a@b SIP/2.0\r\n", &lim()),
        Err(SipError::Truncated)
    );
}

#[test]
fn limits() {
    let small = SipLimits {
        max_head_bytes: 64,
        max_body_bytes: 10,
        ..SipLimits::default()
    };
    assert_eq!(frame_stream(MSG, &small), Err(SipError::HeadTooLarge));
    assert_eq!(
        frame_stream(&MSG[..65], &small),
        Err(SipError::HeadTooLarge)
    );
    assert_eq!(frame_stream(&MSG[..60], &small), Ok(None));
    let body = SipLimits {
        max_body_bytes: 10,
        ..SipLimits::default()
    };
    assert_eq!(frame_stream(MSG, &body), Err(SipError::BodyTooLarge));
    assert_eq!(frame_datagram(MSG, &body), Err(SipError::BodyTooLarge));
    let huge = b"MESSAGE sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n";
    assert_eq!(frame_stream(huge, &lim()), Err(SipError::BadContentLength));
}

/// One head kept across a stream, as a connection keeps it: each message parses as it does
/// alone, whether the one before it spilled its index to the heap, failed, or was plain.
#[test]
fn a_reused_head_parses_each_message_as_a_fresh_one() {
    use crate::sip::SipMessage;
    let many: String = (0..40).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let spilled = String::from_utf8_lossy(MSG).replacen("\r\n", &format!("\r\n{many}"), 1);
    let duplicate = String::from_utf8_lossy(MSG).replacen("\r\n", "\r\nCall-ID: again\r\n", 1);
    let mut stream = Vec::new();
    for m in [MSG, spilled.as_bytes(), MSG, duplicate.as_bytes(), MSG] {
        stream.extend_from_slice(m);
    }
    let mut buf = bytes::Bytes::from(stream);
    let mut head = Head::default();
    let mut seen = 0;
    while let Some(item) = next_item(&buf, &lim(), &mut head).unwrap() {
        let raw = buf.split_to(item.len());
        let reused = SipMessage::from_scanned(raw.clone(), &mut head, &lim());
        let fresh = SipMessage::parse(raw, &lim());
        assert_eq!(reused.is_ok(), fresh.is_ok(), "message {seen}");
        if let (Ok(a), Ok(b)) = (reused, fresh) {
            assert!(a.headers().eq(b.headers()), "message {seen}");
            assert_eq!((a.call_id(), a.body()), (b.call_id(), b.body()));
        }
        seen += 1;
    }
    assert_eq!((seen, buf.len()), (5, 0));
}

/// Field names as the quick path (colon first, then a known name) and the byte-by-byte path
/// (any other name) see them: spelling kept, SP/HT before the colon allowed, and a line
/// without a colon or with a name that is no token refused even when a later line has one.
#[test]
fn field_names_in_every_spelling() {
    use crate::sip::header::HeaderName;
    use crate::sip::{SipError, SipMessage};
    let with = |fields: &str| {
        let text = String::from_utf8_lossy(MSG).replacen("\r\n", &format!("\r\n{fields}"), 1);
        SipMessage::parse(bytes::Bytes::from(text), &lim())
    };
    let msg =
        with("Subject : one\r\nsubject\t:two\r\ns: three\r\nX-Own  :  four\r\nX-Own:five\r\n")
            .unwrap();
    let fields: Vec<_> = msg
        .headers()
        .filter(|f| matches!(f.name, HeaderName::Subject | HeaderName::Other))
        .filter(|f| f.raw_name != b"User-Agent" && f.raw_name != b"Record-Route")
        .map(|f| (f.name, f.raw_name, f.value))
        .collect();
    let expected: [(HeaderName, &[u8], &[u8]); 6] = [
        (HeaderName::Subject, b"Subject", b"one"),
        (HeaderName::Subject, b"subject", b"two"),
        (HeaderName::Subject, b"s", b"three"),
        (HeaderName::Other, b"X-Own", b"four"),
        (HeaderName::Other, b"X-Own", b"five"),
        (HeaderName::Subject, b"Subject", b"lunch"),
    ];
    assert_eq!(fields, expected);
    for bad in [
        "No colon here\r\nSubject: x\r\n",
        "Subject\r\nSubject: x\r\n",
        "Sub ject: x\r\n",
        "Subj\u{e9}ct: x\r\n",
        ": x\r\n",
    ] {
        assert_eq!(
            with(bad).unwrap_err(),
            SipError::BadHeader(crate::sip::error::HeaderKind::Other),
            "{bad:?}"
        );
    }
}
