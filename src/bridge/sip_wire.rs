//! SIP request writing for the bridge (RFC 3261 §7.1, §8.1.1): request line and the header
//! fields every request carries, written straight into the caller's buffer from the model's
//! addresses, so that no URI or header value is built as a `String` first.

use bytes::{BufMut, BytesMut};

use super::address::write_sip_uri;
use super::sip::RequestContext;
use crate::model::Address;
use crate::sip::encode::put_decimal;

/// The dialog-forming part of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a, 'b> {
    /// Method token.
    pub method: &'a str,
    /// Request-URI address (its resource becomes `;gr=`).
    pub target: &'a Address<'b>,
    /// From address.
    pub from: &'a Address<'b>,
    /// Whether From carries the sender's resource as `;gr=`.
    pub from_gruu: bool,
    /// Display name for From.
    pub from_name: Option<&'a str>,
    /// To address (written without resource).
    pub to: &'a Address<'b>,
    /// To tag (in-dialog requests).
    pub to_tag: Option<&'a str>,
    /// Call-ID.
    pub call_id: &'a str,
}

/// Request line, Via, Max-Forwards, From, To, Call-ID and CSeq.
pub(crate) fn write_head(out: &mut BytesMut, h: &Head<'_, '_>, ctx: &RequestContext<'_>) {
    out.reserve(512);
    out.put_slice(h.method.as_bytes());
    out.put_u8(b' ');
    write_sip_uri(out, h.target, true);
    out.put_slice(b" SIP/2.0\r\nVia: SIP/2.0/");
    out.put_slice(ctx.transport.as_bytes());
    out.put_u8(b' ');
    out.put_slice(ctx.sent_by.as_bytes());
    out.put_slice(b";branch=");
    out.put_slice(ctx.branch.as_bytes());
    out.put_slice(b";rport\r\nMax-Forwards: 70\r\nFrom: ");
    if let Some(name) = h.from_name.filter(|n| !n.trim().is_empty()) {
        put_quoted(out, name.trim());
        out.put_u8(b' ');
    }
    out.put_u8(b'<');
    write_sip_uri(out, h.from, h.from_gruu);
    out.put_slice(b">;tag=");
    out.put_slice(ctx.from_tag.as_bytes());
    out.put_slice(b"\r\nTo: <");
    write_sip_uri(out, &h.to.without_resource(), false);
    out.put_u8(b'>');
    if let Some(tag) = h.to_tag {
        out.put_slice(b";tag=");
        out.put_slice(tag.as_bytes());
    }
    out.put_slice(b"\r\nCall-ID: ");
    out.put_slice(h.call_id.as_bytes());
    out.put_slice(b"\r\nCSeq: ");
    put_decimal(out, u64::from(ctx.cseq));
    out.put_u8(b' ');
    out.put_slice(h.method.as_bytes());
    out.put_slice(b"\r\n");
}

/// `Name: value` with CR and LF in the value replaced by spaces (no header injection).
pub(crate) fn header(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    put_single_line(out, value);
    out.put_slice(b"\r\n");
}

/// A value on one line: CR, LF and other controls become spaces.
pub(crate) fn put_single_line(out: &mut BytesMut, value: &str) {
    let bytes = value.as_bytes();
    let mut last = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b < 0x20 && *b != b'\t' || *b == 0x7f {
            out.put_slice(bytes.get(last..i).unwrap_or_default());
            out.put_u8(b' ');
            last = i + 1;
        }
    }
    out.put_slice(bytes.get(last..).unwrap_or_default());
}

/// An RFC 3261 §25.1 quoted-string.
pub(crate) fn put_quoted(out: &mut BytesMut, s: &str) {
    out.put_u8(b'"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.put_u8(b'\\');
                out.put_u8(c as u8);
            }
            c if c.is_control() => out.put_u8(b' '),
            c => {
                let mut b = [0u8; 4];
                out.put_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.put_u8(b'"');
}

/// Content-Length, the empty line and the body.
pub(crate) fn finish(out: &mut BytesMut, body: &[u8]) {
    out.put_slice(b"Content-Length: ");
    put_decimal(out, body.len() as u64);
    out.put_slice(b"\r\n\r\n");
    out.put_slice(body);
}
