//! SIP message writer (RFC 3261 §7, §8.2.6): requests from parts and responses to a parsed
//! request, into a caller's reused buffer. Never writes to a socket.
//!
//! [`write_edited`] re-emits a parsed message with edits applied on top of the original bytes:
//! untouched header lines and the body are copied as they arrived.

use bytes::{BufMut, BytesMut};

use super::HeaderName;
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

/// Append a decimal number.
pub(crate) fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.put_slice(digits.get(i..).unwrap_or_default());
}

fn put_header(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

fn is_content_length(name: &str) -> bool {
    HeaderName::from_bytes(name.as_bytes()) == HeaderName::ContentLength
}

/// Content-Length, the empty line and the body.
fn put_tail(out: &mut BytesMut, body: &[u8]) {
    out.put_slice(b"Content-Length: ");
    put_decimal(out, body.len() as u64);
    out.put_slice(b"\r\n\r\n");
    out.put_slice(body);
}

/// Append a request to `out`.
pub fn write_request(out: &mut BytesMut, req: &RequestParts<'_>) {
    let headers_len: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    out.reserve(req.method.len() + req.uri.len() + 12 + headers_len + 40 + req.body.len());
    out.put_slice(req.method.as_bytes());
    out.put_u8(b' ');
    out.put_slice(req.uri.as_bytes());
    out.put_slice(b" SIP/2.0\r\n");
    for (name, value) in req.headers {
        if !is_content_length(name) {
            put_header(out, name, value.as_bytes());
        }
    }
    put_tail(out, req.body);
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
    out.reserve(req.head_len() + reason.len() + body.len() + 64);
    out.put_slice(b"SIP/2.0 ");
    put_decimal(out, u64::from(code));
    out.put_u8(b' ');
    out.put_slice(reason.as_bytes());
    out.put_slice(b"\r\n");
    for f in req.headers() {
        match f.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                put_header(out, f.name.as_str().unwrap_or_default(), f.value);
            }
            HeaderName::To => {
                put_header(out, "To", f.value);
                let has_tag = req.to().map(|t| t.tag.is_some()).unwrap_or(true);
                if let (Some(tag), false) = (to_tag, has_tag) {
                    // Re-open the line written above to append the tag.
                    out.truncate(out.len() - 2);
                    out.put_slice(b";tag=");
                    out.put_slice(tag.as_bytes());
                    out.put_slice(b"\r\n");
                }
            }
            _ => {}
        }
    }
    for (name, value) in extra {
        if !is_content_length(name) {
            put_header(out, name, value.as_bytes());
        }
    }
    put_tail(out, body);
}

/// Re-serialise a parsed message in canonical form: the start line rebuilt, every header
/// written as `Name: value` with its long name (compact forms expanded, spacing normalised),
/// values and body as they arrived. Parsing the output gives the same message.
pub fn write_canonical(out: &mut BytesMut, msg: &SipMessage) {
    out.reserve(msg.raw().len() + 64);
    match (msg.method(), msg.request_uri(), msg.status()) {
        (Some(m), Some(uri), _) => {
            out.put_slice(m.as_str().as_bytes());
            out.put_u8(b' ');
            out.put_slice(uri.as_bytes());
            out.put_slice(b" SIP/2.0\r\n");
        }
        (_, _, Some(code)) => {
            out.put_slice(b"SIP/2.0 ");
            put_decimal(out, u64::from(code));
            out.put_u8(b' ');
            out.put_slice(msg.reason().unwrap_or_default().as_bytes());
            out.put_slice(b"\r\n");
        }
        _ => {}
    }
    for f in msg.headers() {
        match f.name.as_str() {
            Some(n) => out.put_slice(n.as_bytes()),
            None => out.put_slice(f.raw_name),
        }
        out.put_slice(b": ");
        out.put_slice(f.value);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    out.put_slice(msg.body());
}

/// One edit to apply by [`write_edited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit<'a> {
    /// Replace the Request-URI (requests only).
    RequestUri(&'a str),
    /// Remove every field of this header.
    Remove(HeaderName),
    /// Remove every field whose written name matches (case-insensitive), for extension headers.
    RemoveNamed(&'a str),
    /// Replace the first field of a header (the others are kept); appended when absent.
    Replace(HeaderName, &'a str),
    /// Insert a field before the first header field (e.g. a new top Via).
    Prepend(&'a str, &'a str),
    /// Append a field after the last header field.
    Append(&'a str, &'a str),
}

/// Re-emit `msg` with `edits` applied on top of the original bytes: the start line (unless the
/// Request-URI changes), every untouched header line and the body are copied verbatim.
/// Content-Length is kept as written since the body does not change.
pub fn write_edited(out: &mut BytesMut, msg: &SipMessage, edits: &[Edit<'_>]) {
    let raw = msg.raw();
    out.reserve(raw.len() + 128);
    let new_uri = edits.iter().find_map(|e| match e {
        Edit::RequestUri(u) => Some(*u),
        _ => None,
    });
    let (lines, fields_end) = msg.header_lines();
    let mut spans = lines.peekable();
    let first_field = spans.peek().map_or(fields_end, |s| s.0);
    let start_line = raw.get(..first_field).unwrap_or_default();
    match (new_uri, msg.request_uri_span()) {
        (Some(uri), Some((s, e))) => {
            out.put_slice(raw.get(..s).unwrap_or_default());
            out.put_slice(uri.as_bytes());
            out.put_slice(raw.get(e..first_field).unwrap_or_default());
        }
        _ => out.put_slice(start_line),
    }
    // A message without header fields cannot be valid, but stay total.
    if !start_line.ends_with(b"\n") {
        out.put_slice(b"\r\n");
    }
    for e in edits {
        if let Edit::Prepend(n, v) = e {
            put_header(out, n, v.as_bytes());
        }
    }
    // Bit i set once a field of the header with discriminant i has been written or dropped.
    let mut seen: u128 = 0;
    let bit = |n: HeaderName| 1u128.checked_shl(n as u32).unwrap_or(0);
    for (start, end, name) in spans {
        let written = raw.get(start..end).unwrap_or_default();
        let first = name != HeaderName::Other && seen & bit(name) == 0;
        seen |= bit(name);
        let removed = edits.iter().any(|e| match e {
            Edit::Remove(n) => *n == name,
            Edit::RemoveNamed(n) => {
                let raw_name = written.split(|b| *b == b':').next().unwrap_or_default();
                super::scan::trim_bytes(raw_name).eq_ignore_ascii_case(n.as_bytes())
            }
            _ => false,
        });
        if removed {
            continue;
        }
        let replacement = edits.iter().find_map(|e| match e {
            Edit::Replace(n, v) if first && *n == name => Some(*v),
            _ => None,
        });
        match replacement {
            Some(v) => put_header(out, name.as_str().unwrap_or_default(), v.as_bytes()),
            None => out.put_slice(written),
        }
    }
    for e in edits {
        match e {
            Edit::Replace(n, v) if *n != HeaderName::Other && seen & bit(*n) == 0 => {
                put_header(out, n.as_str().unwrap_or_default(), v.as_bytes());
            }
            Edit::Append(n, v) => put_header(out, n, v.as_bytes()),
            _ => {}
        }
    }
    out.put_slice(raw.get(fields_end..msg.head_len()).unwrap_or(b"\r\n"));
    out.put_slice(msg.body());
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
