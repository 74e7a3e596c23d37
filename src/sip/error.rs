//! SIP codec errors (RFC 3261 §21) and their one mapping to a response status.

use std::fmt;

/// Why a SIP message could not be framed or parsed. Every variant is "skip this message": the
/// connection answers with [`SipError::status`] when it can, and closes a stream whose framing is
/// lost (see [`SipError::is_fatal_for_stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipError {
    /// The start line is not a request line or a status line.
    BadStartLine,
    /// The protocol version is not SIP/2.0.
    BadVersion,
    /// A header line is malformed; names the header when known.
    BadHeader(HeaderKind),
    /// A required header is missing.
    MissingHeader(HeaderKind),
    /// The header block exceeds the configured byte limit.
    HeadTooLarge,
    /// More header fields than the configured limit.
    TooManyHeaders,
    /// One header field exceeds the configured length.
    HeaderTooLong,
    /// The body exceeds the configured limit (or Content-Length announces that).
    BodyTooLarge,
    /// A Request-URI exceeds the configured limit.
    UriTooLong,
    /// Content-Length is missing on a stream, not a number, or contradicts itself.
    BadContentLength,
    /// The URI is not a valid SIP/SIPS URI.
    BadUri,
    /// The URI scheme is not supported (tel:, http:, …).
    UnsupportedUriScheme,
    /// Max-Forwards reached zero.
    TooManyHops,
}

/// Headers named in errors (kept `Copy` so errors stay small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// Via
    Via,
    /// From
    From,
    /// To
    To,
    /// Call-ID
    CallId,
    /// CSeq
    CSeq,
    /// Max-Forwards
    MaxForwards,
    /// Content-Length
    ContentLength,
    /// Content-Type
    ContentType,
    /// Contact
    Contact,
    /// Any other header
    Other,
}

impl SipError {
    /// The response a server sends for this error, with its reason phrase. The one place
    /// codec errors meet the wire.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            SipError::BadVersion => (505, "Version Not Supported"),
            SipError::HeadTooLarge | SipError::HeaderTooLong | SipError::TooManyHeaders => {
                (400, "Header Block Too Large")
            }
            SipError::BodyTooLarge => (413, "Request Entity Too Large"),
            SipError::UriTooLong => (414, "Request-URI Too Long"),
            SipError::UnsupportedUriScheme => (416, "Unsupported URI Scheme"),
            SipError::TooManyHops => (483, "Too Many Hops"),
            SipError::BadStartLine => (400, "Bad Request Line"),
            SipError::BadHeader(h) => (400, bad_header_reason(*h)),
            SipError::MissingHeader(h) => (400, missing_header_reason(*h)),
            SipError::BadContentLength => (400, "Bad Content-Length"),
            SipError::BadUri => (400, "Bad Request-URI"),
        }
    }

    /// True when the stream can no longer be framed after this error and must be closed.
    pub fn is_fatal_for_stream(&self) -> bool {
        matches!(
            self,
            SipError::HeadTooLarge
                | SipError::BodyTooLarge
                | SipError::BadContentLength
                | SipError::BadStartLine
        )
    }
}

fn bad_header_reason(h: HeaderKind) -> &'static str {
    match h {
        HeaderKind::Via => "Bad Via",
        HeaderKind::From => "Bad From",
        HeaderKind::To => "Bad To",
        HeaderKind::CallId => "Bad Call-ID",
        HeaderKind::CSeq => "Bad CSeq",
        HeaderKind::MaxForwards => "Bad Max-Forwards",
        HeaderKind::ContentLength => "Bad Content-Length",
        HeaderKind::ContentType => "Bad Content-Type",
        HeaderKind::Contact => "Bad Contact",
        HeaderKind::Other => "Bad Header",
    }
}

fn missing_header_reason(h: HeaderKind) -> &'static str {
    match h {
        HeaderKind::Via => "Missing Via",
        HeaderKind::From => "Missing From",
        HeaderKind::To => "Missing To",
        HeaderKind::CallId => "Missing Call-ID",
        HeaderKind::CSeq => "Missing CSeq",
        HeaderKind::MaxForwards => "Missing Max-Forwards",
        HeaderKind::ContentLength => "Missing Content-Length",
        HeaderKind::ContentType => "Missing Content-Type",
        HeaderKind::Contact => "Missing Contact",
        HeaderKind::Other => "Missing Header",
    }
}

impl fmt::Display for SipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, reason) = self.status();
        write!(f, "{reason} ({code})")
    }
}

impl std::error::Error for SipError {}
