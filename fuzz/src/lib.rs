//! Helpers shared by the fuzz targets: framing and parsing what parley wrote with parley's
//! own parsers, and the fixed context the bridge writers need.

use bytes::{Bytes, BytesMut};
use parley::bridge::sip::RequestContext;
use parley::bridge::sip_out::{SipOut, SipPeerCaps};
use parley::sip::framing::{StreamItem, frame_stream};
use parley::sip::{SipLimits, SipMessage};
use parley::xmpp::encode::{StreamOpen, write_stream_open};
use parley::xmpp::{Frame, Framer, StreamHeader, XmppLimits};

/// The time the bridge writers are given (fixed, so runs are reproducible).
pub const NOW: &str = "2024-05-01T12:00:00Z";

/// The context `parley translate` uses for XMPP → SIP, with the given peer capabilities.
pub fn sip_out(caps: SipPeerCaps) -> SipOut<'static> {
    SipOut {
        req: RequestContext {
            transport: "TLS",
            sent_by: "gateway.invalid:5061",
            branch: "z9hG4bK-parley-1",
            from_tag: "parley-tag-1",
            fallback_call_id: "parley-call-1@gateway.invalid",
            cseq: 1,
        },
        caps,
        call_id: None,
        to_tag: None,
        contact: "sip:gateway.invalid;transport=tls",
        expires: 3600,
        now: NOW,
        boundary: "parley-alt-1",
    }
}

/// The first SIP message in `data` (stream framing, then parse), if there is one.
pub fn parse_sip(data: &[u8]) -> Option<SipMessage> {
    let limits = SipLimits::default();
    let Ok(Some(StreamItem::Message { len })) = frame_stream(data, &limits) else {
        return None;
    };
    SipMessage::parse(Bytes::copy_from_slice(data.get(..len)?), &limits).ok()
}

/// Every SIP message parley wrote into `out`; panics when any of it does not frame or parse
/// (parley must never send what it would itself refuse).
pub fn reparse_sip(out: &[u8]) -> Vec<SipMessage> {
    // Size limits are input policy; what parley writes is checked for form only.
    let limits = SipLimits {
        max_head_bytes: usize::MAX / 4,
        max_headers: usize::MAX / 4,
        max_header_len: usize::MAX / 4,
        max_body_bytes: usize::MAX / 4,
        max_uri_len: usize::MAX / 4,
    };
    let mut rest = out;
    let mut msgs = Vec::new();
    while !rest.is_empty() {
        let len = match frame_stream(rest, &limits) {
            Ok(Some(StreamItem::Message { len })) => len,
            other => panic!("written SIP does not frame: {other:?}\n{}", show(rest)),
        };
        let (one, tail) = rest.split_at(len);
        let msg = SipMessage::parse(Bytes::copy_from_slice(one), &limits)
            .unwrap_or_else(|e| panic!("written SIP does not parse: {e}\n{}", show(one)));
        msgs.push(msg);
        rest = tail;
    }
    msgs
}

/// Every stanza parley wrote into `out`, framed as the body of a stream; panics when any of
/// it does not frame (parley must never send what it would itself refuse).
pub fn frame_xmpp(out: &[u8]) -> (StreamHeader, Vec<Bytes>) {
    let mut buf = BytesMut::new();
    write_stream_open(
        &mut buf,
        &StreamOpen {
            from: "a.example",
            to: "b.example",
            id: None,
        },
    );
    let mut framer = Framer::new(XmppLimits {
        max_stanza_bytes: usize::MAX / 4,
        ..XmppLimits::default()
    });
    let header = match framer.next_frame(&mut buf) {
        Ok(Some(Frame::Open(h))) => h,
        other => panic!("own stream header rejected: {other:?}"),
    };
    buf.extend_from_slice(out);
    let mut stanzas = Vec::new();
    loop {
        match framer.next_frame(&mut buf) {
            Ok(Some(Frame::Element(bytes))) => stanzas.push(bytes),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("written XMPP does not frame: {e}\n{}", show(out)),
        }
    }
    assert!(
        buf.iter().all(u8::is_ascii_whitespace),
        "written XMPP leaves an incomplete stanza\n{}",
        show(out)
    );
    (header, stanzas)
}

/// Bytes as text for a failure message.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
