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
    /// A datagram (or a message handed to the parser) ends before its empty line.
    Truncated,
    /// A header that may appear once appears several times (RFC 4475 §3.3.8).
    DuplicateHeader(HeaderKind),
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    CSeqMethodMismatch,
    /// A body does not match its Content-Type (PIDF, CPIM, multipart…).
    BadBody,
    /// Require names an extension this element does not support (RFC 3261 §8.2.2.3); the
    /// answer lists them in Unsupported.
    BadExtension,
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
    /// Expires
    Expires,
    /// Event
    Event,
    /// Subscription-State
    SubscriptionState,
    /// Route
    Route,
    /// Record-Route
    RecordRoute,
    /// Accept
    Accept,
    /// Allow
    Allow,
    /// Supported
    Supported,
    /// Require
    Require,
    /// Date
    Date,
    /// Reason
    Reason,
    /// Warning
    Warning,
    /// Any other header
    Other,
}

impl SipError {
    /// The response a server sends for this error, with its reason phrase. The one place
    /// codec errors meet the wire.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            SipError::BadVersion => (505, "Version Not Supported"),
            SipError::HeadTooLarge => (513, "Message Too Large"),
            SipError::HeaderTooLong => (400, "Header Too Long"),
            SipError::TooManyHeaders => (400, "Too Many Headers"),
            SipError::BodyTooLarge => (413, "Request Entity Too Large"),
            SipError::UriTooLong => (414, "Request-URI Too Long"),
            SipError::UnsupportedUriScheme => (416, "Unsupported URI Scheme"),
            SipError::TooManyHops => (483, "Too Many Hops"),
            SipError::BadStartLine => (400, "Bad Request Line"),
            SipError::BadHeader(h) => (400, bad_header_reason(*h)),
            SipError::MissingHeader(h) => (400, missing_header_reason(*h)),
            SipError::BadContentLength => (400, "Bad Content-Length"),
            SipError::BadUri => (400, "Bad Request-URI"),
            SipError::Truncated => (400, "Truncated Message"),
            SipError::DuplicateHeader(h) => (400, duplicate_header_reason(*h)),
            SipError::CSeqMethodMismatch => (400, "CSeq Method Mismatch"),
            SipError::BadBody => (400, "Bad Message Body"),
            SipError::BadExtension => (420, "Bad Extension"),
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
                | SipError::Truncated
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
        HeaderKind::Expires => "Bad Expires",
        HeaderKind::Event => "Bad Event",
        HeaderKind::SubscriptionState => "Bad Subscription-State",
        HeaderKind::Route => "Bad Route",
        HeaderKind::RecordRoute => "Bad Record-Route",
        HeaderKind::Accept => "Bad Accept",
        HeaderKind::Allow => "Bad Allow",
        HeaderKind::Supported => "Bad Supported",
        HeaderKind::Require => "Bad Require",
        HeaderKind::Date => "Bad Date",
        HeaderKind::Reason => "Bad Reason",
        HeaderKind::Warning => "Bad Warning",
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
        HeaderKind::Expires => "Missing Expires",
        HeaderKind::Event => "Missing Event",
        HeaderKind::SubscriptionState => "Missing Subscription-State",
        HeaderKind::Route => "Missing Route",
        HeaderKind::RecordRoute => "Missing Record-Route",
        HeaderKind::Accept => "Missing Accept",
        HeaderKind::Allow => "Missing Allow",
        HeaderKind::Supported => "Missing Supported",
        HeaderKind::Require => "Missing Require",
        HeaderKind::Date => "Missing Date",
        HeaderKind::Reason => "Missing Reason",
        HeaderKind::Warning => "Missing Warning",
        HeaderKind::Other => "Missing Header",
    }
}

fn duplicate_header_reason(h: HeaderKind) -> &'static str {
    match h {
        HeaderKind::From => "Multiple From",
        HeaderKind::To => "Multiple To",
        HeaderKind::CallId => "Multiple Call-ID",
        HeaderKind::CSeq => "Multiple CSeq",
        HeaderKind::MaxForwards => "Multiple Max-Forwards",
        HeaderKind::ContentLength => "Multiple Content-Length",
        HeaderKind::ContentType => "Multiple Content-Type",
        _ => "Multiple Single-Valued Header",
    }
}

impl From<crate::sip::HeaderName> for HeaderKind {
    fn from(h: crate::sip::HeaderName) -> HeaderKind {
        use crate::sip::HeaderName as N;
        match h {
            N::Via => HeaderKind::Via,
            N::From => HeaderKind::From,
            N::To => HeaderKind::To,
            N::CallId => HeaderKind::CallId,
            N::CSeq => HeaderKind::CSeq,
            N::MaxForwards => HeaderKind::MaxForwards,
            N::ContentLength => HeaderKind::ContentLength,
            N::ContentType => HeaderKind::ContentType,
            N::Contact => HeaderKind::Contact,
            N::Expires => HeaderKind::Expires,
            N::Event => HeaderKind::Event,
            N::SubscriptionState => HeaderKind::SubscriptionState,
            N::Route => HeaderKind::Route,
            N::RecordRoute => HeaderKind::RecordRoute,
            N::Accept => HeaderKind::Accept,
            N::Allow => HeaderKind::Allow,
            N::Supported => HeaderKind::Supported,
            N::Require => HeaderKind::Require,
            N::Date => HeaderKind::Date,
            N::Reason => HeaderKind::Reason,
            N::Warning => HeaderKind::Warning,
            _ => HeaderKind::Other,
        }
    }
}

impl fmt::Display for SipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, reason) = self.status();
        write!(f, "{reason} ({code})")
    }
}

impl std::error::Error for SipError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let cases = [
            (SipError::BadStartLine, 400),
            (SipError::BadVersion, 505),
            (SipError::BadHeader(HeaderKind::Via), 400),
            (SipError::MissingHeader(HeaderKind::CallId), 400),
            (SipError::HeadTooLarge, 513),
            (SipError::TooManyHeaders, 400),
            (SipError::HeaderTooLong, 400),
            (SipError::BodyTooLarge, 413),
            (SipError::UriTooLong, 414),
            (SipError::BadContentLength, 400),
            (SipError::BadUri, 400),
            (SipError::UnsupportedUriScheme, 416),
            (SipError::TooManyHops, 483),
            (SipError::Truncated, 400),
            (SipError::DuplicateHeader(HeaderKind::To), 400),
            (SipError::CSeqMethodMismatch, 400),
            (SipError::BadBody, 400),
            (SipError::BadExtension, 420),
        ];
        for (e, code) in cases {
            assert_eq!(e.status().0, code, "{e:?}");
            assert!(!e.status().1.is_empty());
            assert_eq!(e.to_string(), format!("{} ({code})", e.status().1));
        }
        assert_eq!(
            SipError::MissingHeader(HeaderKind::CallId).status().1,
            "Missing Call-ID"
        );
        assert_eq!(
            SipError::DuplicateHeader(HeaderKind::To).status().1,
            "Multiple To"
        );
        assert!(SipError::HeadTooLarge.is_fatal_for_stream());
        assert!(!SipError::BadHeader(HeaderKind::From).is_fatal_for_stream());
    }
}
