//! Message bodies parley reads and writes: PIDF with RPID (RFC 3863, RFC 4480), isComposing
//! (RFC 3994), IMDN (RFC 5438), CPIM (RFC 3862) and multipart (RFC 2046).
//!
//! XML bodies go through quick-xml (no DTDs, no external entities) with an element-depth cap;
//! the text formats are split by hand over borrowed slices. Every failure is
//! [`SipError::BadBody`](super::SipError::BadBody).
//!
//! An XML body is refused unless it is UTF-8 made of XML 1.0 characters (§2.2 Char), every
//! element name is an XML Name (§2.3) and no character reference names a character XML
//! forbids; the writers replace such characters, so what they write always parses again.

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
    check_chars(&text)?;
    Ok(text.trim().to_owned())
}

/// The unescaped value of an attribute by local name.
pub(crate) fn attr(start: &BytesStart<'_>, local: &[u8]) -> Result<Option<String>, SipError> {
    for a in start.attributes() {
        let a = a.map_err(|_| SipError::BadBody)?;
        if a.key.local_name().as_ref() == local {
            let v: Cow<'_, str> = a.unescape_value().map_err(|_| SipError::BadBody)?;
            check_chars(&v)?;
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
    check_chars(std::str::from_utf8(body).map_err(|_| SipError::BadBody)?)?;
    let mut r = xml_reader(body);
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        match r.read_event().map_err(|_| SipError::BadBody)? {
            Event::Start(e) => {
                check_name(e.name().as_ref())?;
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
                check_name(e.name().as_ref())?;
                if depth == 0 && saw_root {
                    return Err(SipError::BadBody);
                }
                saw_root = true;
                on_start(&mut r, &e, depth + 1, true)?;
            }
            Event::End(e) => {
                check_name(e.name().as_ref())?;
                depth = depth.checked_sub(1).ok_or(SipError::BadBody)?;
            }
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

/// XML 1.0 §2.2 Char.
fn is_xml_char(c: char) -> bool {
    matches!(u32::from(c), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Refuse text holding a character XML 1.0 forbids (raw or through a character reference).
fn check_chars(s: &str) -> Result<(), SipError> {
    if s.chars().all(is_xml_char) {
        Ok(())
    } else {
        Err(SipError::BadBody)
    }
}

/// An element name as Namespaces in XML §3 allows it (QName: an NCName, or two joined by one
/// colon), by byte: every non-ASCII byte is accepted (the document is checked to be UTF-8 of
/// XML characters first).
pub(crate) fn is_xml_name(name: &[u8]) -> bool {
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b >= 0x80;
    let ncname = |part: &[u8]| match part.split_first() {
        Some((&first, rest)) => {
            start(first)
                && rest
                    .iter()
                    .all(|&b| start(b) || b.is_ascii_digit() || b == b'-' || b == b'.')
        }
        None => false,
    };
    let mut parts = name.splitn(3, |&b| b == b':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), None, None) => ncname(local),
        (Some(prefix), Some(local), None) => ncname(prefix) && ncname(local),
        _ => false,
    }
}

fn check_name(name: &[u8]) -> Result<(), SipError> {
    if is_xml_name(name) {
        Ok(())
    } else {
        Err(SipError::BadBody)
    }
}

/// Escape text for an XML body; a character XML 1.0 cannot carry becomes U+FFFD.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        return quick_xml::escape::escape(s);
    }
    let clean: String = s
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect();
    Cow::Owned(quick_xml::escape::escape(&clean).into_owned())
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
