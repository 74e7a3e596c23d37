//! SIP message framing (RFC 3261 §18.3, §7.5; RFC 5626 §3.5.1 keep-alives).
//!
//! On a stream, a message ends Content-Length bytes after the first empty line. Three outcomes:
//! `Ok(Some(..))` complete, `Ok(None)` need more bytes, `Err(..)` the stream is invalid.

use super::SipError;
use super::head::{Head, scan, scan_into};

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

/// A framed item with, for a message, the scanned head that [`super::SipMessage::from_head`] takes
/// over (so the head is scanned once for framing and parsing together).
// The message variant carries the scanned head inline on purpose: no heap allocation per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Frame {
    /// A whole message: its head, scanned.
    Message(Head),
    /// An RFC 5626 double-CRLF ping (4 bytes); answer with a single CRLF pong.
    Ping,
    /// A single CRLF (a pong, or stray keep-alive): 2 bytes to discard.
    Pong,
}

impl Frame {
    /// Bytes this item occupies at the front of the buffer.
    pub fn len(&self) -> usize {
        self.item().len()
    }

    /// Never true: every item occupies at least two bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The item without the scanned head.
    pub fn item(&self) -> StreamItem {
        match self {
            Frame::Message(h) => StreamItem::Message { len: h.len() },
            Frame::Ping => StreamItem::Ping,
            Frame::Pong => StreamItem::Pong,
        }
    }
}

/// Frame the next item at the front of a stream buffer.
///
/// CRLF keep-alives (RFC 5626 §3.5.1) come first: `\r\n\r\n` is a [`StreamItem::Ping`], a lone
/// `\r\n` not followed by another is a [`StreamItem::Pong`] (the only stray CRLF RFC 3261 §7.5
/// lets precede a start line). A message needs its whole head and `Content-Length` body bytes.
pub fn frame_stream(buf: &[u8], limits: &SipLimits) -> Result<Option<StreamItem>, SipError> {
    Ok(next_frame(buf, limits)?.map(|f| f.item()))
}

/// [`frame_stream`], keeping the scanned head of a message for [`super::SipMessage::from_head`].
pub fn next_frame(buf: &[u8], limits: &SipLimits) -> Result<Option<Frame>, SipError> {
    let mut head = Head::default();
    Ok(next_item(buf, limits, &mut head)?.map(|item| match item {
        StreamItem::Message { .. } => Frame::Message(head),
        StreamItem::Ping => Frame::Ping,
        StreamItem::Pong => Frame::Pong,
    }))
}

/// [`frame_stream`], scanning a message's head into `head` for
/// [`super::SipMessage::from_scanned`]. A connection keeps one `head` for all its messages,
/// so the scan fills it in place and it is never copied.
#[inline]
pub fn next_item(
    buf: &[u8],
    limits: &SipLimits,
    head: &mut Head,
) -> Result<Option<StreamItem>, SipError> {
    match buf {
        [] | [b'\r'] | [b'\r', b'\n', b'\r'] => return Ok(None),
        [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Some(StreamItem::Ping)),
        [b'\r', b'\n', ..] => return Ok(Some(StreamItem::Pong)),
        [b'\n', ..] => return Err(SipError::BadStartLine),
        _ => {}
    }
    if !scan_into(buf, limits, head)? {
        return Ok(None);
    }
    let body_len = declared_length(head)?.ok_or(SipError::BadContentLength)?;
    if body_len > limits.max_body_bytes {
        return Err(SipError::BodyTooLarge);
    }
    let len = head.head_len() + body_len;
    if buf.len() < len {
        return Ok(None);
    }
    head.len = u32::try_from(len).map_err(|_| SipError::BodyTooLarge)?;
    Ok(Some(StreamItem::Message { len }))
}

/// Frame one datagram: the length of the message in it (bytes after the declared body are
/// discarded per RFC 3261 §18.3; Content-Length may be absent).
pub fn frame_datagram(buf: &[u8], limits: &SipLimits) -> Result<usize, SipError> {
    frame_datagram_head(buf, limits).map(|h| h.len())
}

/// [`frame_datagram`], keeping the scanned head for [`super::SipMessage::from_head`].
pub fn frame_datagram_head(buf: &[u8], limits: &SipLimits) -> Result<Head, SipError> {
    let Some(mut head) = scan(buf, limits)? else {
        return Err(SipError::Truncated);
    };
    let available = buf.len() - head.head_len();
    let body_len = match declared_length(&head)? {
        Some(n) if n > available => return Err(SipError::BadContentLength),
        Some(n) => n,
        None => available,
    };
    if body_len > limits.max_body_bytes {
        return Err(SipError::BodyTooLarge);
    }
    head.len = u32::try_from(head.head_len() + body_len).map_err(|_| SipError::BodyTooLarge)?;
    Ok(head)
}

/// The Content-Length of a scanned head (`l` or `Content-Length`, any case). Several fields
/// must agree (RFC 4475 §3.3.9); anything but 1*DIGIT is an error.
fn declared_length(head: &Head) -> Result<Option<usize>, SipError> {
    if head.bad_content_length {
        return Err(SipError::BadContentLength);
    }
    head.content_length
        .map(|n| usize::try_from(n).map_err(|_| SipError::BadContentLength))
        .transpose()
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
