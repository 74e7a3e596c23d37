//! SIP message framing (RFC 3261 §18.3, §7.5; RFC 5626 §3.5.1 keep-alives).
//!
//! On a stream, a message ends Content-Length bytes after the first empty line. Three outcomes:
//! `Ok(Some(..))` complete, `Ok(None)` need more bytes, `Err(..)` the stream is invalid.

use super::SipError;
use super::lines::{Fields, head_end, start_line};
use super::scan::parse_u64;

/// Bounds applied while framing and parsing. Each has its own error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipLimits {
    /// Bytes of start line + headers + the empty line.
    pub max_head_bytes: usize,
    /// Header fields per message.
    pub max_headers: usize,
    /// Bytes of one header field (after unfolding).
    pub max_header_len: usize,
    /// Body bytes.
    pub max_body_bytes: usize,
    /// Bytes of a Request-URI.
    pub max_uri_len: usize,
}

impl Default for SipLimits {
    fn default() -> Self {
        SipLimits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_header_len: 4096,
            max_body_bytes: 256 * 1024,
            max_uri_len: 1024,
        }
    }
}

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamItem {
    /// A whole message of `len` bytes (head + body).
    Message {
        /// Total bytes of the message.
        len: usize,
    },
    /// An RFC 5626 double-CRLF ping (4 bytes); answer with a single CRLF pong.
    Ping,
    /// A single CRLF (a pong, or stray keep-alive): 2 bytes to discard.
    Pong,
}

impl StreamItem {
    /// Bytes this item occupies at the front of the buffer.
    pub fn len(&self) -> usize {
        match self {
            StreamItem::Message { len } => *len,
            StreamItem::Ping => 4,
            StreamItem::Pong => 2,
        }
    }

    /// Never true: every item occupies at least two bytes.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Frame the next item at the front of a stream buffer.
///
/// CRLF keep-alives (RFC 5626 §3.5.1) come first: `\r\n\r\n` is a [`StreamItem::Ping`], a lone
/// `\r\n` not followed by another is a [`StreamItem::Pong`] (the only stray CRLF RFC 3261 §7.5
/// lets precede a start line). A message needs its whole head and `Content-Length` body bytes.
pub fn frame_stream(buf: &[u8], limits: &SipLimits) -> Result<Option<StreamItem>, SipError> {
    match buf {
        [] | [b'\r'] | [b'\r', b'\n', b'\r'] => return Ok(None),
        [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Some(StreamItem::Ping)),
        [b'\r', b'\n', ..] => return Ok(Some(StreamItem::Pong)),
        [b'\n', ..] => return Err(SipError::BadStartLine),
        _ => {}
    }
    let Some((fields_end, body_start)) = head_end(buf) else {
        if buf.len() > limits.max_head_bytes {
            return Err(SipError::HeadTooLarge);
        }
        return Ok(None);
    };
    if body_start > limits.max_head_bytes {
        return Err(SipError::HeadTooLarge);
    }
    let body_len = content_length(buf, fields_end)?.ok_or(SipError::BadContentLength)?;
    if body_len > limits.max_body_bytes {
        return Err(SipError::BodyTooLarge);
    }
    let len = body_start + body_len;
    Ok((buf.len() >= len).then_some(StreamItem::Message { len }))
}

/// Frame one datagram: the length of the message in it (bytes after the declared body are
/// discarded per RFC 3261 §18.3; Content-Length may be absent).
pub fn frame_datagram(buf: &[u8], limits: &SipLimits) -> Result<usize, SipError> {
    let Some((fields_end, body_start)) = head_end(buf) else {
        if buf.len() > limits.max_head_bytes {
            return Err(SipError::HeadTooLarge);
        }
        return Err(SipError::Truncated);
    };
    if body_start > limits.max_head_bytes {
        return Err(SipError::HeadTooLarge);
    }
    let available = buf.len() - body_start;
    let body_len = match content_length(buf, fields_end)? {
        Some(n) if n > available => return Err(SipError::BadContentLength),
        Some(n) => n,
        None => available,
    };
    if body_len > limits.max_body_bytes {
        return Err(SipError::BodyTooLarge);
    }
    Ok(body_start + body_len)
}

/// The Content-Length of a head (`l` or `Content-Length`, any case). Several fields must agree
/// (RFC 4475 §3.3.9); anything but 1*DIGIT is an error.
pub(crate) fn content_length(buf: &[u8], fields_end: usize) -> Result<Option<usize>, SipError> {
    let (_, first) = start_line(buf, fields_end);
    let mut found = None;
    for field in Fields::new(buf, first, fields_end) {
        let Ok(f) = field else {
            // Malformed lines are the parser's business; framing only needs Content-Length.
            continue;
        };
        if !matches!(buf.get(f.start), Some(b'c' | b'C' | b'l' | b'L')) {
            continue;
        }
        let name = buf.get(f.start..f.name_end).unwrap_or_default();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = buf.get(f.value_start..f.value_end).unwrap_or_default();
        let n = std::str::from_utf8(value)
            .ok()
            .and_then(parse_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(SipError::BadContentLength)?;
        if found.is_some_and(|m| m != n) {
            return Err(SipError::BadContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
