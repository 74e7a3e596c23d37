//! Common Presence and Instant Messaging format (RFC 3862): `message/cpim`.
//!
//! A CPIM message is a header block (From, To, DateTime, Subject, NS, Require and
//! namespace-prefixed extension headers such as `imdn.Message-ID`), an empty line, the MIME
//! headers of the payload (Content-Type…), an empty line and the payload. Everything borrows
//! from the body.

use crate::sip::SipError;
use crate::sip::header::MediaType;

/// Media type of CPIM messages.
pub const CONTENT_TYPE: &str = "message/cpim";
/// The IMDN namespace URN (RFC 5438 §9).
pub const IMDN_NS: &str = "urn:ietf:params:imdn";

/// A CPIM message over borrowed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpim<'a> {
    /// Message headers in order (name as written, value trimmed).
    pub headers: Vec<(&'a str, &'a str)>,
    /// MIME headers of the payload.
    pub content_headers: Vec<(&'a str, &'a str)>,
    /// The payload.
    pub body: &'a [u8],
}

/// A CPIM address header value: `[Formal-name] <URI>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpimAddress<'a> {
    /// Display name (quotes removed), if any.
    pub name: Option<&'a str>,
    /// The URI.
    pub uri: &'a str,
}

/// Splits a header block at CRLF (or LF) lines until an empty line; returns the headers and
/// the rest.
/// Header fields as `(name, value)` pairs.
pub type Fields<'a> = Vec<(&'a str, &'a str)>;

fn header_block(mut s: &[u8]) -> Result<(Fields<'_>, &[u8]), SipError> {
    let mut out = Vec::new();
    loop {
        let nl = s
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(SipError::BadBody)?;
        let line = s.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        s = s.get(nl + 1..).unwrap_or_default();
        if line.is_empty() {
            return Ok((out, s));
        }
        let line = std::str::from_utf8(line).map_err(|_| SipError::BadBody)?;
        let (name, value) = line.split_once(':').ok_or(SipError::BadBody)?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(SipError::BadBody);
        }
        out.push((name, value.trim()));
    }
}

impl<'a> Cpim<'a> {
    /// Parse a CPIM message.
    pub fn parse(body: &'a [u8]) -> Result<Cpim<'a>, SipError> {
        let (headers, rest) = header_block(body)?;
        let (content_headers, payload) = header_block(rest)?;
        Ok(Cpim {
            headers,
            content_headers,
            body: payload,
        })
    }

    /// First message header with this exact name (case-insensitive), e.g. `From`.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The prefix a namespace URN is declared with (`NS: imdn <urn:ietf:params:imdn>`).
    pub fn ns_prefix(&self, urn: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("NS"))
            .find_map(|(_, v)| {
                let (prefix, uri) = v.split_once('<')?;
                (uri.trim_end_matches('>').trim() == urn).then(|| prefix.trim())
            })
    }

    /// A namespaced header, e.g. `(IMDN_NS, "Message-ID")` for `imdn.Message-ID`.
    pub fn ns_header(&self, urn: &str, name: &str) -> Option<&'a str> {
        let prefix = self.ns_prefix(urn)?;
        self.headers.iter().find_map(|(n, v)| {
            let (p, local) = n.split_once('.')?;
            (p == prefix && local.eq_ignore_ascii_case(name)).then_some(*v)
        })
    }

    /// `From`.
    pub fn from(&self) -> Option<CpimAddress<'a>> {
        self.header("From").and_then(CpimAddress::parse)
    }

    /// `To`.
    pub fn to(&self) -> Option<CpimAddress<'a>> {
        self.header("To").and_then(CpimAddress::parse)
    }

    /// `DateTime` (RFC 3339 text).
    pub fn datetime(&self) -> Option<&'a str> {
        self.header("DateTime")
    }

    /// `imdn.Message-ID`.
    pub fn imdn_message_id(&self) -> Option<&'a str> {
        self.ns_header(IMDN_NS, "Message-ID")
    }

    /// `imdn.Disposition-Notification` values (`positive-delivery`, `display`…).
    pub fn disposition_notification(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.ns_header(IMDN_NS, "Disposition-Notification")
            .into_iter()
            .flat_map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }

    /// The payload's Content-Type.
    pub fn content_type(&self) -> Option<MediaType<'a>> {
        self.content_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
            .and_then(|(_, v)| MediaType::parse(v))
    }
}

impl<'a> CpimAddress<'a> {
    /// Parse `[Formal-name] <URI>` (RFC 3862 §3.3.1); the name may be quoted or free text.
    pub fn parse(v: &'a str) -> Option<CpimAddress<'a>> {
        let v = v.trim();
        let lt = v.rfind('<')?;
        let uri = v.get(lt + 1..)?.strip_suffix('>')?;
        let name = v.get(..lt)?.trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        if uri.is_empty() || uri.contains(['<', '>', ' ']) {
            return None;
        }
        Some(CpimAddress {
            name: (!name.is_empty()).then_some(name),
            uri,
        })
    }
}

/// Write a CPIM message: `headers` in order, then the payload with its Content-Type.
pub fn write(out: &mut Vec<u8>, headers: &[(&str, &str)], content_type: &str, payload: &[u8]) {
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(payload);
}
