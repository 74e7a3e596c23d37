//! A parsed SIP message (RFC 3261 §7) over one `Bytes` buffer: start line and header slices
//! indexed once (tier 1); typed views parsed on access (tier 2).
//!
//! Tier 1 ([`SipMessage::parse`]) checks the start line, splits every header field, enforces
//! the limits and validates the core headers a transaction needs (top Via, From, To, Call-ID,
//! CSeq, Max-Forwards, Content-Length, Content-Type), without allocating for up to
//! [`INLINE_HEADERS`] header fields. Accessors re-type those slices on demand (no allocation).

use std::str::from_utf8;
use std::sync::OnceLock;

use bytes::Bytes;

use super::error::HeaderKind;
use super::header::{CSeq, HeaderName, MediaType, NameAddr, Via};
use super::lines::{Fields, head_end, start_line};
use super::scan::{self, CommaSplit};
use super::uri::SipUri;
use super::{SipError, SipLimits};

/// Request method. Extension methods are kept as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// REGISTER
    Register,
    /// OPTIONS
    Options,
    /// MESSAGE (RFC 3428)
    Message,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO
    Info,
    /// REFER
    Refer,
    /// PRACK
    Prack,
    /// UPDATE
    Update,
    /// Any other token.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// Type a method token (methods are case-sensitive, RFC 3261 §7.1).
    pub fn from_token(token: &'a str) -> Method<'a> {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "MESSAGE" => Method::Message,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            other => Method::Other(other),
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Message => "MESSAGE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Other(t) => t,
        }
    }
}

/// Header fields indexed without a heap allocation; more spill to a `Vec`.
pub const INLINE_HEADERS: usize = 32;

/// Offsets of one header field.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name: HeaderName,
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

const EMPTY: Entry = Entry {
    name: HeaderName::Other,
    name_start: 0,
    name_end: 0,
    value_start: 0,
    value_end: 0,
};

// The inline variant is large on purpose: it is what keeps parsing free of heap allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Index {
    Inline {
        len: u8,
        items: [Entry; INLINE_HEADERS],
    },
    Heap(Vec<Entry>),
}

impl Index {
    fn push(&mut self, e: Entry) {
        match self {
            Index::Inline { len, items } => {
                if let Some(slot) = items.get_mut(usize::from(*len)) {
                    *slot = e;
                    *len += 1;
                } else {
                    let mut v = Vec::with_capacity(INLINE_HEADERS * 2);
                    v.extend_from_slice(items);
                    v.push(e);
                    *self = Index::Heap(v);
                }
            }
            Index::Heap(v) => v.push(e),
        }
    }

    fn as_slice(&self) -> &[Entry] {
        match self {
            Index::Inline { len, items } => items.get(..usize::from(*len)).unwrap_or_default(),
            Index::Heap(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Start {
    Request {
        method_end: u32,
        uri_start: u32,
        uri_end: u32,
    },
    Response {
        code: u16,
        reason_start: u32,
        reason_end: u32,
    },
}

/// Core headers whose first occurrence is remembered.
const CORE: [HeaderName; 8] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::ContentLength,
];

/// A complete SIP message: one `Bytes` plus offsets. Cheap to move between tasks.
#[derive(Debug, Clone)]
pub struct SipMessage {
    raw: Bytes,
    start: Start,
    index: Index,
    /// Position in `index` + 1 of the first occurrence of each [`CORE`] header (0 = absent).
    core: [u16; 8],
    body_start: u32,
    /// End of the last header line (its terminator included): where the empty line starts.
    fields_end: u32,
    /// Cached verdict of [`SipMessage::validate`] (tier 2).
    validated: OnceLock<Result<(), SipError>>,
}

/// One header field as written: typed name, the name's spelling and the raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// Typed name (compact forms folded).
    pub name: HeaderName,
    /// The name exactly as written.
    pub raw_name: &'a [u8],
    /// The value, trimmed, folding intact.
    pub value: &'a [u8],
}

fn u32_of(n: usize) -> Result<u32, SipError> {
    u32::try_from(n).map_err(|_| SipError::HeadTooLarge)
}

fn utf8(b: &[u8], e: SipError) -> Result<&str, SipError> {
    from_utf8(b).map_err(|_| e)
}

impl SipMessage {
    /// Parse one complete message (as framed by [`super::framing`]).
    pub fn parse(raw: Bytes, limits: &SipLimits) -> Result<SipMessage, SipError> {
        let buf: &[u8] = &raw;
        let Some((fields_end, body_start)) = head_end(buf) else {
            if buf.len() > limits.max_head_bytes {
                return Err(SipError::HeadTooLarge);
            }
            return Err(SipError::Truncated);
        };
        if body_start > limits.max_head_bytes {
            return Err(SipError::HeadTooLarge);
        }
        let (line_end, first_field) = start_line(buf, fields_end);
        let start = parse_start_line(buf.get(..line_end).unwrap_or_default(), limits)?;

        let mut index = Index::Inline {
            len: 0,
            items: [EMPTY; INLINE_HEADERS],
        };
        let mut core = [0u16; 8];
        let mut count = 0usize;
        for field in Fields::new(buf, first_field, fields_end) {
            let f = field?;
            count += 1;
            if count > limits.max_headers {
                return Err(SipError::TooManyHeaders);
            }
            if f.value_end - f.start > limits.max_header_len {
                return Err(SipError::HeaderTooLong);
            }
            let name = HeaderName::from_bytes(buf.get(f.start..f.name_end).unwrap_or_default());
            if let Some(slot) = CORE.iter().position(|c| *c == name)
                && let Some(c) = core.get_mut(slot)
            {
                if *c == 0 {
                    // Positions past u16::MAX cannot occur within any head limit.
                    *c = u16::try_from(count).unwrap_or(0);
                } else if name != HeaderName::Via && name != HeaderName::ContentLength {
                    return Err(SipError::DuplicateHeader(HeaderKind::from(name)));
                }
            }
            index.push(Entry {
                name,
                name_start: u32_of(f.start)?,
                name_end: u32_of(f.name_end)?,
                value_start: u32_of(f.value_start)?,
                value_end: u32_of(f.value_end)?,
            });
        }
        let msg = SipMessage {
            start,
            index,
            core,
            body_start: u32_of(body_start)?,
            fields_end: u32_of(fields_end)?,
            raw,
            validated: OnceLock::new(),
        };
        msg.check(limits)?;
        Ok(msg)
    }

    /// Tier-1 checks: body length and the core headers.
    fn check(&self, limits: &SipLimits) -> Result<(), SipError> {
        let body_len = self.raw.len().saturating_sub(self.body_start as usize);
        if body_len > limits.max_body_bytes {
            return Err(SipError::BodyTooLarge);
        }
        let mut cl = None;
        for v in self.header_values(HeaderName::ContentLength) {
            let n = from_utf8(v)
                .ok()
                .and_then(scan::parse_u64)
                .ok_or(SipError::BadContentLength)?;
            if cl.is_some_and(|m| m != n) {
                return Err(SipError::BadContentLength);
            }
            cl = Some(n);
        }
        if cl.is_some_and(|n| n != body_len as u64) {
            return Err(SipError::BadContentLength);
        }
        self.via()?;
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(m) = self.method()
            && m.as_str() != cseq.method
        {
            return Err(SipError::CSeqMethodMismatch);
        }
        self.max_forwards()?;
        self.content_type()?;
        Ok(())
    }

    /// The message bytes.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    fn str_at(&self, s: u32, e: u32) -> &str {
        self.raw
            .get(s as usize..e as usize)
            .and_then(|b| from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start {
            Start::Request { method_end, .. } => {
                Some(Method::from_token(self.str_at(0, method_end)))
            }
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        match self.start {
            Start::Request {
                uri_start, uri_end, ..
            } => Some(self.str_at(uri_start, uri_end)),
            Start::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            Start::Response {
                reason_start,
                reason_end,
                ..
            } => Some(self.str_at(reason_start, reason_end)),
            Start::Request { .. } => None,
        }
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// Every header field in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderField<'_>> + '_ {
        self.index.as_slice().iter().map(|e| self.field(e))
    }

    fn field(&self, e: &Entry) -> HeaderField<'_> {
        let get = |s: u32, t: u32| self.raw.get(s as usize..t as usize).unwrap_or_default();
        HeaderField {
            name: e.name,
            raw_name: get(e.name_start, e.name_end),
            value: get(e.value_start, e.value_end),
        }
    }

    /// Number of header fields.
    pub fn header_count(&self) -> usize {
        self.index.as_slice().len()
    }

    /// First value of a header, raw (folding intact).
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        let entries = self.index.as_slice();
        let entry = match CORE.iter().position(|c| *c == name) {
            Some(slot) => {
                let pos = usize::from(*self.core.get(slot)?);
                entries.get(pos.checked_sub(1)?)
            }
            None => entries.iter().find(|e| e.name == name),
        }?;
        Some(self.field(entry).value)
    }

    /// First value of a header looked up by its written name (case-insensitive), for
    /// extension headers that map to [`HeaderName::Other`].
    pub fn header_by_name(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|f| f.raw_name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value)
    }

    /// Every value of a header in order, each field's comma-separated values split.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        let list = name.is_list();
        self.headers()
            .filter(move |f| f.name == name)
            .flat_map(move |f| {
                let (split, whole) = if list {
                    (Some(CommaSplit::new(f.value)), None)
                } else {
                    (None, Some(f.value))
                };
                split.into_iter().flatten().chain(whole)
            })
    }

    /// First value of a header as text, `err` when it is not UTF-8.
    pub(crate) fn header_str(&self, name: HeaderName) -> Result<Option<&str>, SipError> {
        self.header(name)
            .map(|v| utf8(v, SipError::BadHeader(HeaderKind::from(name))))
            .transpose()
    }

    fn required(&self, name: HeaderName) -> Result<&str, SipError> {
        self.header_str(name)?
            .ok_or(SipError::MissingHeader(HeaderKind::from(name)))
    }

    /// Top Via.
    pub fn via(&self) -> Result<Via<'_>, SipError> {
        let v = self
            .header(HeaderName::Via)
            .ok_or(SipError::MissingHeader(HeaderKind::Via))?;
        let bad = SipError::BadHeader(HeaderKind::Via);
        let first = CommaSplit::new(v).next().ok_or(bad)?;
        Via::parse(utf8(first, bad)?).ok_or(bad)
    }

    /// Every Via value in order (top first), typed.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, SipError>> + '_ {
        let bad = SipError::BadHeader(HeaderKind::Via);
        self.header_values(HeaderName::Via)
            .map(move |v| from_utf8(v).ok().and_then(Via::parse).ok_or(bad))
    }

    fn name_addr(&self, name: HeaderName) -> Result<NameAddr<'_>, SipError> {
        let v = self.required(name)?;
        NameAddr::parse(v).ok_or(SipError::BadHeader(HeaderKind::from(name)))
    }

    /// From.
    pub fn from(&self) -> Result<NameAddr<'_>, SipError> {
        self.name_addr(HeaderName::From)
    }

    /// To.
    pub fn to(&self) -> Result<NameAddr<'_>, SipError> {
        self.name_addr(HeaderName::To)
    }

    /// Call-ID.
    pub fn call_id(&self) -> Result<&str, SipError> {
        let v = self.required(HeaderName::CallId)?;
        if v.is_empty() || v.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(SipError::BadHeader(HeaderKind::CallId));
        }
        Ok(v)
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<CSeq<'_>, SipError> {
        CSeq::parse(self.required(HeaderName::CSeq)?).ok_or(SipError::BadHeader(HeaderKind::CSeq))
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<u32>, SipError> {
        let bad = SipError::BadHeader(HeaderKind::MaxForwards);
        self.header_str(HeaderName::MaxForwards)?
            .map(|v| scan::parse_bounded(v, 255).map(|n| n as u32).ok_or(bad))
            .transpose()
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, SipError> {
        let bad = SipError::BadHeader(HeaderKind::ContentType);
        self.header_str(HeaderName::ContentType)?
            .map(|v| MediaType::parse(v).ok_or(bad))
            .transpose()
    }

    /// Content-Length as declared, if present (the body always has exactly this length).
    pub fn content_length(&self) -> Option<usize> {
        (self.core.get(7).copied() != Some(0)).then(|| self.body().len())
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &[u8] {
        self.raw.get(self.body_start as usize..).unwrap_or_default()
    }

    /// The body as a `Bytes` slice sharing the message buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.raw.slice(self.body_start as usize..)
    }

    /// Offset where the body starts (the head's length, empty line included).
    pub fn head_len(&self) -> usize {
        self.body_start as usize
    }

    pub(crate) fn validated(&self) -> &OnceLock<Result<(), SipError>> {
        &self.validated
    }

    /// Offsets of the start line's Request-URI, for editors.
    pub(crate) fn request_uri_span(&self) -> Option<(usize, usize)> {
        match self.start {
            Start::Request {
                uri_start, uri_end, ..
            } => Some((uri_start as usize, uri_end as usize)),
            Start::Response { .. } => None,
        }
    }

    /// Every header line as `(line start, next line start, name)` (terminators included),
    /// then where the empty line starts, for editors that copy untouched lines verbatim.
    pub(crate) fn header_lines(
        &self,
    ) -> (impl Iterator<Item = (usize, usize, HeaderName)> + '_, usize) {
        let entries = self.index.as_slice();
        let fields_end = self.fields_end as usize;
        let lines = entries.iter().enumerate().map(move |(i, e)| {
            let next = entries
                .get(i + 1)
                .map_or(fields_end, |n| n.name_start as usize);
            (e.name_start as usize, next, e.name)
        });
        (lines, fields_end)
    }
}

/// Request-Line or Status-Line (RFC 3261 §7.1, §7.2): single SP separators, SIP/2.0 only.
fn parse_start_line(line: &[u8], limits: &SipLimits) -> Result<Start, SipError> {
    let bad = SipError::BadStartLine;
    let text = from_utf8(line).map_err(|_| bad)?;
    if let Some(rest) = text.strip_prefix("SIP/") {
        let (version, rest) = rest.split_once(' ').ok_or(bad)?;
        check_version(version)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 {
            return Err(bad);
        }
        let code = scan::parse_bounded(code, 699)
            .filter(|c| *c >= 100)
            .ok_or(bad)?;
        if reason.bytes().any(|b| b < b' ' && b != b'\t') {
            return Err(bad);
        }
        let reason_start = u32_of(line.len() - reason.len())?;
        return Ok(Start::Response {
            code: code as u16,
            reason_start,
            reason_end: u32_of(line.len())?,
        });
    }
    let mut parts = text.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    if !scan::is_token(method) {
        return Err(bad);
    }
    if !version.starts_with("SIP/") {
        return Err(bad);
    }
    check_version(version.get(4..).unwrap_or_default())?;
    if uri.len() > limits.max_uri_len {
        return Err(SipError::UriTooLong);
    }
    if !super::header::is_absolute_uri(uri) {
        return Err(SipError::BadUri);
    }
    match SipUri::parse(uri) {
        Ok(u) if !u.headers.is_empty() => return Err(SipError::BadUri),
        Ok(_) | Err(SipError::UnsupportedUriScheme) => {}
        Err(e) => return Err(e),
    }
    let uri_start = method.len() + 1;
    Ok(Start::Request {
        method_end: u32_of(method.len())?,
        uri_start: u32_of(uri_start)?,
        uri_end: u32_of(uri_start + uri.len())?,
    })
}

/// `1*DIGIT "." 1*DIGIT` after `SIP/`: 2.0 is supported, any other well-formed version is 505.
fn check_version(v: &str) -> Result<(), SipError> {
    let (major, minor) = v.split_once('.').ok_or(SipError::BadStartLine)?;
    if scan::parse_u64(major).is_none() || scan::parse_u64(minor).is_none() {
        return Err(SipError::BadStartLine);
    }
    if v == "2.0" {
        Ok(())
    } else {
        Err(SipError::BadVersion)
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
