//! SIP message writer (RFC 3261 §7, §8.2.6): requests from parts and responses to a parsed
//! request, into a caller's reused buffer. Never writes to a socket.

use bytes::BytesMut;

use super::SipMessage;

/// A request to write. `Content-Length` is always added by the writer; do not pass it.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// Method token, e.g. `MESSAGE`.
    pub method: &'a str,
    /// Request-URI.
    pub uri: &'a str,
    /// Header fields in order, name as it should be written and the value.
    pub headers: &'a [(&'a str, &'a str)],
    /// Body bytes.
    pub body: &'a [u8],
}

/// Append a request to `out`.
pub fn write_request(out: &mut BytesMut, req: &RequestParts<'_>) {
    let _ = (out, req);
    todo!("sip::encode::write_request")
}

/// Append a response to `req` (RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied; the
/// `to_tag` is added to To when it has none), then `extra` headers and `body`.
pub fn write_response(
    out: &mut BytesMut,
    req: &SipMessage,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
    body: &[u8],
) {
    let _ = (out, req, code, reason, to_tag, extra, body);
    todo!("sip::encode::write_response")
}
