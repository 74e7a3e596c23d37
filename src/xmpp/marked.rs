//! A framed depth-1 element (RFC 6120 §4.2) together with the markup positions the framer
//! found while framing it, so the typed parse reads token boundaries instead of scanning the
//! bytes a second time.

use std::ops::Deref;

use bytes::Bytes;

use super::stanza::{Element, parse_element, parse_marked};
use super::xml::Mark;
use super::{StreamHeader, XmppError};

/// An element as [`super::Framer::marked`] hands it on: its bytes (a slice of the stream's
/// buffer, no copy) and the framer's marks for exactly these bytes (none when the element
/// did not come straight from the framer).
#[derive(Debug, Clone, Default)]
pub struct MarkedElement {
    bytes: Bytes,
    marks: Box<[Mark]>,
}

impl MarkedElement {
    pub(crate) fn new(bytes: Bytes, marks: Box<[Mark]>) -> MarkedElement {
        MarkedElement { bytes, marks }
    }

    /// An element with no marks (parsed by scanning, as [`parse_element`] does).
    pub fn unmarked(bytes: Bytes) -> MarkedElement {
        MarkedElement::new(bytes, Box::default())
    }

    /// Whether parsing reads the framer's marks (true for an element straight from it).
    pub fn is_marked(&self) -> bool {
        !self.marks.is_empty()
    }

    /// The element's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The element's bytes, without the marks.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Typed view against the stream header `stream`: the same result as [`parse_element`]
    /// on the bytes, without a second scan when the marks are there.
    pub fn parse(&self, stream: &StreamHeader) -> Result<Element<'_>, XmppError> {
        if self.marks.is_empty() {
            parse_element(&self.bytes, stream)
        } else {
            parse_marked(&self.bytes, &self.marks, stream)
        }
    }
}

impl Deref for MarkedElement {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}
