//! SIP header names and typed header views (RFC 3261 §7.3, §20; compact forms §7.3.3).
//!
//! Every name, long or compact, maps through [`HeaderName::from_bytes`] to one enum; typed
//! views borrow from the message bytes.

/// A header name, compact forms folded into their long form. `Other` keeps unknown names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// Via / v
    Via,
    /// From / f
    From,
    /// To / t
    To,
    /// Call-ID / i
    CallId,
    /// CSeq
    CSeq,
    /// Max-Forwards
    MaxForwards,
    /// Content-Length / l
    ContentLength,
    /// Content-Type / c
    ContentType,
    /// Contact / m
    Contact,
    /// Subject / s
    Subject,
    /// Content-Language
    ContentLanguage,
    /// Any other header
    Other,
}

impl HeaderName {
    /// Map a header name as written on the wire (any case, compact or long).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let _ = name;
        todo!("sip::header::HeaderName::from_bytes")
    }

    /// The canonical long form, e.g. `Call-ID`. `Other` has none.
    pub fn as_str(&self) -> Option<&'static str> {
        todo!("sip::header::HeaderName::as_str")
    }
}

/// A name-addr or addr-spec with parameters: From, To, Contact, Route…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written (quotes removed, escapes not yet undone), if any.
    pub display_name: Option<&'a str>,
    /// The URI inside the angle brackets (or the bare addr-spec).
    pub uri: &'a str,
    /// The `tag` parameter, if any.
    pub tag: Option<&'a str>,
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Method token.
    pub method: &'a str,
}

/// The top Via's transport, sent-by and branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport token (UDP, TCP, TLS…).
    pub transport: &'a str,
    /// Host part of sent-by.
    pub host: &'a str,
    /// Port of sent-by, if given.
    pub port: Option<u16>,
    /// The `branch` parameter, if any.
    pub branch: Option<&'a str>,
}

/// A media type with its parameters (Content-Type, Accept entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Type, e.g. `text`.
    pub type_: &'a str,
    /// Subtype, e.g. `plain`.
    pub subtype: &'a str,
    /// Raw parameter text after the first `;` (may be empty).
    pub params: &'a str,
}

impl<'a> MediaType<'a> {
    /// Value of a parameter (name compared case-insensitively), quotes removed.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        let _ = name;
        todo!("sip::header::MediaType::param")
    }
}
