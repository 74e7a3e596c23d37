//! Message bodies parley reads and writes: PIDF with RPID (RFC 3863, RFC 4480), isComposing
//! (RFC 3994), IMDN (RFC 5438), CPIM (RFC 3862) and multipart (RFC 2046).
//!
//! XML bodies go through quick-xml (no DTDs, no external entities) with an element-depth cap;
//! the text formats are split by hand over borrowed slices. Every failure is
//! [`SipError::BadBody`](super::SipError::BadBody).

pub mod cpim;
pub mod imdn;
pub mod is_composing;
pub mod multipart;
pub mod pidf;

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::SipError;

/// Deepest element nesting accepted in an XML body.
pub const MAX_XML_DEPTH: usize = 32;

/// A reader over a body with text trimmed.
pub(crate) fn xml_reader(body: &[u8]) -> Reader<&[u8]> {
    let mut r = Reader::from_reader(body);
    r.config_mut().trim_text(true);
    r
}

/// The unescaped text content of the element just started (its children's markup skipped).
pub(crate) fn leaf_text(r: &mut Reader<&[u8]>, start: &BytesStart<'_>) -> Result<String, SipError> {
    let raw = r.read_text(start.name()).map_err(|_| SipError::BadBody)?;
    let text = quick_xml::escape::unescape(&raw).map_err(|_| SipError::BadBody)?;
    Ok(text.trim().to_owned())
}

/// The unescaped value of an attribute by local name.
pub(crate) fn attr(start: &BytesStart<'_>, local: &[u8]) -> Result<Option<String>, SipError> {
    for a in start.attributes() {
        let a = a.map_err(|_| SipError::BadBody)?;
        if a.key.local_name().as_ref() == local {
            let v: Cow<'_, str> = a.unescape_value().map_err(|_| SipError::BadBody)?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Walks an XML document calling `on_start(reader, element, depth)` for every start or empty
/// element (depth 1 = root); `on_start` returns true when it consumed the element's content.
pub(crate) fn walk(
    body: &[u8],
    mut on_start: impl FnMut(&mut Reader<&[u8]>, &BytesStart<'_>, usize, bool) -> Result<bool, SipError>,
) -> Result<(), SipError> {
    let mut r = xml_reader(body);
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        match r.read_event().map_err(|_| SipError::BadBody)? {
            Event::Start(e) => {
                if depth == 0 && saw_root {
                    return Err(SipError::BadBody);
                }
                saw_root = true;
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(SipError::BadBody);
                }
                if on_start(&mut r, &e, depth, false)? {
                    depth -= 1;
                }
            }
            Event::Empty(e) => {
                if depth == 0 && saw_root {
                    return Err(SipError::BadBody);
                }
                saw_root = true;
                on_start(&mut r, &e, depth + 1, true)?;
            }
            Event::End(_) => depth = depth.checked_sub(1).ok_or(SipError::BadBody)?,
            Event::Eof => break,
            Event::DocType(_) => return Err(SipError::BadBody),
            _ => {}
        }
    }
    if depth != 0 || !saw_root {
        return Err(SipError::BadBody);
    }
    Ok(())
}

/// Escape text for an XML body.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
