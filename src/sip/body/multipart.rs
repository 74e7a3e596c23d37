//! Multipart bodies (RFC 2046 §5.1): `multipart/mixed`, `multipart/alternative`,
//! `multipart/related`. Parts borrow from the body.

use crate::sip::SipError;
use crate::sip::header::MediaType;

/// Boundaries are 1 to 70 characters (RFC 2046 §5.1.1).
const MAX_BOUNDARY: usize = 70;
/// At most this many parts are accepted.
pub const MAX_PARTS: usize = 64;

/// One body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// MIME headers (name as written, value trimmed), possibly none.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The part's content.
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    /// A header by name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Content-Type (RFC 2046 default `text/plain` when absent is left to the caller).
    pub fn content_type(&self) -> Option<MediaType<'a>> {
        self.header("Content-Type").and_then(MediaType::parse)
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.windows(needle.len().max(1))
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Split a multipart body by `boundary` (the Content-Type parameter, quotes removed).
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, SipError> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY {
        return Err(SipError::BadBody);
    }
    let mut delim = Vec::with_capacity(boundary.len() + 4);
    delim.extend_from_slice(b"\r\n--");
    delim.extend_from_slice(boundary.as_bytes());
    // The first delimiter may start the body (no preceding CRLF).
    let mut pos = if body.starts_with(delim.get(2..).unwrap_or_default()) {
        delim.len() - 2
    } else {
        find(body, &delim, 0).ok_or(SipError::BadBody)? + delim.len()
    };
    let mut parts = Vec::new();
    loop {
        let after = body.get(pos..).unwrap_or_default();
        if after.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the CRLF ending the delimiter line.
        let line_end = after
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(SipError::BadBody)?;
        let pad = after.get(..line_end).unwrap_or_default();
        if !pad.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return Err(SipError::BadBody);
        }
        let start = pos + line_end + 1;
        let end = find(body, &delim, start).ok_or(SipError::BadBody)?;
        let content = body.get(start..end).ok_or(SipError::BadBody)?;
        parts.push(split_part(content)?);
        if parts.len() > MAX_PARTS {
            return Err(SipError::BadBody);
        }
        pos = end + delim.len();
    }
}

fn split_part(content: &[u8]) -> Result<Part<'_>, SipError> {
    let mut headers = Vec::new();
    let mut rest = content;
    loop {
        let nl = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => nl,
            None if rest.is_empty() => {
                return Ok(Part {
                    headers,
                    body: rest,
                });
            }
            None => return Err(SipError::BadBody),
        };
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        rest = rest.get(nl + 1..).unwrap_or_default();
        if line.is_empty() {
            return Ok(Part {
                headers,
                body: rest,
            });
        }
        let line = std::str::from_utf8(line).map_err(|_| SipError::BadBody)?;
        let (n, v) = line.split_once(':').ok_or(SipError::BadBody)?;
        headers.push((n.trim(), v.trim()));
    }
}

/// Write a multipart body with `boundary` from `(content type, content)` parts.
pub fn write(out: &mut Vec<u8>, boundary: &str, parts: &[(&str, &[u8])]) {
    for (ct, content) in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(ct.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}
