//! XML stream framing (RFC 6120 §4.2–4.3, §11): the stream header, depth-1 elements as `Bytes`
//! slices, whitespace keep-alives, the stream footer, and restarts after STARTTLS and SASL.
//!
//! Three outcomes per call: a frame, `Ok(None)` for "need more bytes", or a stream error.

use bytes::{Bytes, BytesMut};

use super::XmppError;

/// Bounds applied while framing. Each violation is its own [`XmppError`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmppLimits {
    /// Bytes of one depth-1 element (stanza).
    pub max_stanza_bytes: usize,
    /// Element nesting depth below the stream root.
    pub max_depth: usize,
    /// Attributes on one element.
    pub max_attributes: usize,
    /// Bytes of an element or attribute name.
    pub max_name_len: usize,
}

impl Default for XmppLimits {
    fn default() -> Self {
        XmppLimits {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
            max_attributes: 64,
            max_name_len: 256,
        }
    }
}

/// The default namespace a stream declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamNs {
    /// `jabber:server` (s2s)
    Server,
    /// `jabber:client` (c2s)
    Client,
    /// `jabber:component:accept` (XEP-0114)
    Component,
}

/// The opening `<stream:stream>` tag's attributes and namespace declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// `to` attribute.
    pub to: Option<String>,
    /// `from` attribute.
    pub from: Option<String>,
    /// `id` attribute.
    pub id: Option<String>,
    /// `version` attribute.
    pub version: Option<String>,
    /// `xml:lang` attribute.
    pub lang: Option<String>,
    /// Default namespace.
    pub ns: StreamNs,
    /// Whether the dialback namespace (`xmlns:db='jabber:server:dialback'`) is declared.
    pub dialback: bool,
}

/// One unit of an incoming XML stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `<stream:stream …>` (after an optional XML declaration).
    Open(StreamHeader),
    /// A complete depth-1 element, exactly its bytes.
    Element(Bytes),
    /// Whitespace between elements (a keep-alive).
    Whitespace,
    /// `</stream:stream>`.
    Close,
}

/// Incremental stream framer. Holds only parse state; the caller owns the buffer.
#[derive(Debug)]
pub struct Framer {
    limits: XmppLimits,
}

impl Framer {
    /// A framer expecting a stream header.
    pub fn new(limits: XmppLimits) -> Framer {
        Framer { limits }
    }

    /// Take the next frame from the front of `buf` (consumed bytes are split off).
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, XmppError> {
        let _ = (buf, self.limits);
        todo!("xmpp::framing::Framer::next_frame")
    }

    /// Start over after STARTTLS or SASL success: the next frame must be a stream header.
    pub fn restart(&mut self) {
        todo!("xmpp::framing::Framer::restart")
    }
}
