//! Properties checked by the cargo-fuzz targets in `fuzz/` (kept here so each target is one
//! line and the properties compile with the crate).

use bytes::{Bytes, BytesMut};

use super::encode::{write_canonical, write_edited, write_response};
use super::framing::{StreamItem, frame_datagram, frame_stream};
use super::{SipLimits, SipMessage};

/// Framing and parsing never panic; a parsed message written back (canonical form and
/// edit-mode copy) parses to the same message; a response to a parsed request parses.
pub fn round_trip(data: &[u8]) {
    let limits = SipLimits::default();
    let mut candidates = Vec::with_capacity(2);
    if let Ok(Some(StreamItem::Message { len })) = frame_stream(data, &limits) {
        candidates.push(len);
    }
    if let Ok(len) = frame_datagram(data, &limits) {
        candidates.push(len);
    }
    let _ = super::decode::decode_to_json(data);
    for len in candidates {
        let Some(bytes) = data.get(..len) else {
            continue;
        };
        let Ok(msg) = SipMessage::parse(Bytes::copy_from_slice(bytes), &limits) else {
            continue;
        };
        let verdict = msg.validate();

        let mut out = BytesMut::new();
        write_canonical(&mut out, &msg);
        let again = SipMessage::parse(out.freeze(), &limits)
            .unwrap_or_else(|e| panic!("canonical form does not parse: {e}"));
        assert_same(&msg, &again);
        assert_eq!(verdict, again.validate());

        let mut copy = BytesMut::new();
        write_edited(&mut copy, &msg, &[]);
        assert_eq!(&copy[..], bytes, "edit mode without edits is a byte copy");

        if msg.is_request() {
            let mut resp = BytesMut::new();
            write_response(&mut resp, &msg, 200, "OK", Some("t1"), &[], b"");
            let r = SipMessage::parse(resp.freeze(), &limits)
                .unwrap_or_else(|e| panic!("response does not parse: {e}"));
            assert_eq!(r.call_id(), msg.call_id());
            assert_eq!(r.cseq(), msg.cseq());
            assert_eq!(r.via(), msg.via());
        }
    }
}

fn assert_same(a: &SipMessage, b: &SipMessage) {
    assert_eq!(a.method(), b.method());
    assert_eq!(a.request_uri(), b.request_uri());
    assert_eq!(a.status(), b.status());
    assert_eq!(a.reason(), b.reason());
    assert!(
        a.headers()
            .map(|f| (f.name, f.value))
            .eq(b.headers().map(|f| (f.name, f.value)))
    );
    assert_eq!(a.body(), b.body());
    assert_eq!(a.via(), b.via());
    assert_eq!(a.from(), b.from());
    assert_eq!(a.to(), b.to());
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(a.cseq(), b.cseq());
    assert_eq!(a.max_forwards(), b.max_forwards());
    assert_eq!(a.content_type(), b.content_type());
}

#[cfg(test)]
mod tests {
    /// The corpus seeds satisfy the property (the fuzz run starts from them).
    #[test]
    fn corpus_round_trips() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-tests/sip");
        for sub in ["rfc4475", "bench", "fuzz", "."] {
            for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "dat" || e == "sip") {
                    super::round_trip(&std::fs::read(&path).unwrap());
                }
            }
        }
    }
}
