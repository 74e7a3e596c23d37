//! SIP message framing (RFC 3261 §18.3, §7.5; RFC 5626 §3.5.1 keep-alives).
//!
//! On a stream, a message ends Content-Length bytes after the first empty line. Three outcomes:
//! `Ok(Some(..))` complete, `Ok(None)` need more bytes, `Err(..)` the stream is invalid.

use super::SipError;

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
}

/// Frame the next item at the front of a stream buffer.
pub fn frame_stream(buf: &[u8], limits: &SipLimits) -> Result<Option<StreamItem>, SipError> {
    let _ = (buf, limits);
    todo!("sip::framing::frame_stream")
}

/// Frame one datagram: the length of the message in it (bytes after the declared body are
/// discarded per RFC 3261 §18.3; Content-Length may be absent).
pub fn frame_datagram(buf: &[u8], limits: &SipLimits) -> Result<usize, SipError> {
    let _ = (buf, limits);
    todo!("sip::framing::frame_datagram")
}
