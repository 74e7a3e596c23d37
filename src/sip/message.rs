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
use bytestring::ByteString;

use super::cached::{CSeqAt, MediaTypeAt, NameAddrAt, Span, ViaAt};
use super::error::HeaderKind;
pub use super::head::INLINE_HEADERS;
use super::head::{CORE_SLOTS, Entry, Head, Index, scan, seen_bit};
use super::header::{CSeq, HeaderName, MediaType, NameAddr, Via};
use super::scan::{self, CommaSplit};
use super::typed::Tier2;
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

/// A complete SIP message: one `Bytes` plus offsets. Cheap to move between tasks.
#[derive(Debug, Clone)]
pub struct SipMessage {
    raw: Bytes,
    /// The head (start line, headers, empty line) as text when it is all UTF-8 (checked once at
    /// parse): start-line parts and header values are sliced from it without another check.
    text: Option<ByteString>,
    start: Start,
    index: Index,
    /// Position in `index` + 1 of the first occurrence of each core header (0 = absent), by
    /// [`HeaderName`] discriminant.
    core: [u16; CORE_SLOTS],
    /// Which header names occur ([`super::head::Head::seen`]).
    seen: u64,
    body_start: u32,
    /// End of the last header line (its terminator included): where the empty line starts.
    fields_end: u32,
    /// The core headers, typed once by [`SipMessage::parse`].
    typed: Typed,
    /// Single-valued tier-2 headers, typed on first access.
    tier2: OnceLock<Tier2>,
    /// Cached verdict of [`SipMessage::validate`] (tier 2).
    validated: OnceLock<Result<(), SipError>>,
}

/// The core headers as typed by parse, kept as offsets ([`super::cached`]).
#[derive(Debug, Clone, Copy, Default)]
struct Typed {
    via: (Span, ViaAt),
    from: (Span, NameAddrAt),
    to: (Span, NameAddrAt),
    call_id: Span,
    cseq: (Span, CSeqAt),
    max_forwards: Option<u32>,
    content_type: Option<(Span, MediaTypeAt)>,
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

/// How much of `raw` to check as text for a head of `head_len` bytes. std's ASCII check runs 64
/// bytes at a time and then byte by byte over the rest; when the body's first bytes complete
/// the last 64 and are ASCII (a word-wise look), they are checked with the head instead, and
/// no byte loop runs. The text then reaches a little into the body, every byte of it checked.
fn text_len(raw: &[u8], head_len: usize) -> usize {
    let padded = head_len.next_multiple_of(64);
    match raw.get(head_len..padded) {
        Some(more) if scan::all_ascii(more) => padded,
        _ => head_len,
    }
}

fn utf8(b: &[u8], e: SipError) -> Result<&str, SipError> {
    from_utf8(b).map_err(|_| e)
}

impl SipMessage {
    /// Parse one complete message (as framed by [`super::framing`]).
    pub fn parse(raw: Bytes, limits: &SipLimits) -> Result<SipMessage, SipError> {
        let Some(mut head) = scan(&raw, limits)? else {
            return Err(SipError::Truncated);
        };
        head.len = u32_of(raw.len())?;
        Self::build(raw, &mut head, limits)
    }

    /// Parse a message framed by [`super::framing::next_frame`] or
    /// [`super::framing::frame_datagram_head`], taking over the head they scanned: `raw` is
    /// the framed message (the first [`Head::len`] bytes of the buffer that was framed), and
    /// `limits` the limits it was framed with. A `raw` of another length is scanned afresh.
    pub fn from_head(
        raw: Bytes,
        mut head: Head,
        limits: &SipLimits,
    ) -> Result<SipMessage, SipError> {
        Self::from_scanned(raw, &mut head, limits)
    }

    /// Parse a message framed by [`super::framing::next_item`] into `head`: `raw` is the
    /// framed message, `limits` the limits it was framed with. The index is copied out of
    /// `head`, which is then ready for the next scan; a `raw` of another length is scanned
    /// afresh.
    #[inline]
    pub fn from_scanned(
        raw: Bytes,
        head: &mut Head,
        limits: &SipLimits,
    ) -> Result<SipMessage, SipError> {
        if head.len() != raw.len() {
            return Self::parse(raw, limits);
        }
        Self::build(raw, head, limits)
    }

    /// The message over `raw` from its scanned head (borrowed: the index moves out of it into
    /// the message, the rest is read in place).
    fn build(raw: Bytes, head: &mut Head, limits: &SipLimits) -> Result<SipMessage, SipError> {
        // The whole head checked as UTF-8 once (the usual case, ASCII, at word speed): the
        // start line and core header values are then sliced from it, not checked one by one.
        let head_len = head.body_start as usize;
        let head_text = (head_len <= raw.len())
            .then(|| ByteString::try_from(raw.slice(..text_len(&raw, head_len))).ok())
            .flatten();
        let text = head_text.as_deref();
        let line = raw.get(..head.line_end as usize).unwrap_or_default();
        let start = parse_start_line(line, text.and_then(|t| t.get(..line.len())), limits)?;
        if let Some(e) = head.error {
            return Err(e);
        }
        let body_len = raw.len().saturating_sub(head.body_start as usize);
        if body_len > limits.max_body_bytes {
            return Err(SipError::BodyTooLarge);
        }
        if head.bad_content_length || head.content_length.is_some_and(|n| n != body_len as u64) {
            return Err(SipError::BadContentLength);
        }
        let method = match start {
            Start::Request { method_end, .. } => {
                text.and_then(|t| t.get(..method_end as usize)).or_else(|| {
                    line.get(..method_end as usize)
                        .and_then(|m| from_utf8(m).ok())
                })
            }
            Start::Response { .. } => None,
        };
        let typed = Fields {
            raw: &raw,
            index: &head.index,
            core: &head.core,
            seen: head.seen,
            text,
        }
        .type_core(method)?;
        Ok(SipMessage {
            text: head_text,
            start,
            index: head.index.take(),
            core: head.core,
            seen: head.seen,
            body_start: head.body_start,
            fields_end: head.fields_end,
            raw,
            typed,
            tier2: OnceLock::new(),
            validated: OnceLock::new(),
        })
    }

    /// The header index as [`Fields`], without the head text.
    fn fields(&self) -> Fields<'_> {
        Fields {
            raw: &self.raw,
            index: &self.index,
            core: &self.core,
            seen: self.seen,
            text: self.text.as_deref(),
        }
    }

    /// Where `part` (a slice of this message) lies.
    pub(crate) fn span_of(&self, part: &[u8]) -> Span {
        span_in(&self.raw, part)
    }

    /// The text of a span (header values typed at parse time are UTF-8).
    #[inline]
    pub(crate) fn span_str(&self, s: Span) -> &str {
        self.str_at(s.start, s.end)
    }

    /// The message bytes.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    #[inline]
    fn str_at(&self, s: u32, e: u32) -> &str {
        let range = s as usize..e as usize;
        match &self.text {
            Some(t) => t.get(range),
            None => self.raw.get(range).and_then(|b| from_utf8(b).ok()),
        }
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
        self.index.iter().map(|e| self.field(e))
    }

    fn field(&self, e: Entry) -> HeaderField<'_> {
        let get = |s: u32, t: u32| self.raw.get(s as usize..t as usize).unwrap_or_default();
        HeaderField {
            name: e.name,
            raw_name: get(e.name_start, e.name_end),
            value: get(e.value_start, e.value_end),
        }
    }

    /// Number of header fields.
    pub fn header_count(&self) -> usize {
        self.index.len()
    }

    /// First value of a header, raw (folding intact).
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        self.fields().header(name)
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
        self.fields().header_str(name)
    }

    /// Top Via (typed once, at parse).
    #[inline]
    pub fn via(&self) -> Result<Via<'_>, SipError> {
        let (span, at) = &self.typed.via;
        Ok(at.view(self.span_str(*span)))
    }

    /// Every Via value in order (top first), typed.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, SipError>> + '_ {
        let bad = SipError::BadHeader(HeaderKind::Via);
        self.header_values(HeaderName::Via)
            .map(move |v| from_utf8(v).ok().and_then(Via::parse).ok_or(bad))
    }

    /// From (typed once, at parse).
    #[inline]
    pub fn from(&self) -> Result<NameAddr<'_>, SipError> {
        let (span, at) = &self.typed.from;
        Ok(at.view(self.span_str(*span)))
    }

    /// To (typed once, at parse).
    #[inline]
    pub fn to(&self) -> Result<NameAddr<'_>, SipError> {
        let (span, at) = &self.typed.to;
        Ok(at.view(self.span_str(*span)))
    }

    /// Call-ID (checked at parse).
    #[inline]
    pub fn call_id(&self) -> Result<&str, SipError> {
        Ok(self.span_str(self.typed.call_id))
    }

    /// CSeq (typed once, at parse).
    #[inline]
    pub fn cseq(&self) -> Result<CSeq<'_>, SipError> {
        let (span, at) = &self.typed.cseq;
        Ok(at.view(self.span_str(*span)))
    }

    /// Max-Forwards, if present (typed once, at parse).
    #[inline]
    pub fn max_forwards(&self) -> Result<Option<u32>, SipError> {
        Ok(self.typed.max_forwards)
    }

    /// Content-Type, if present (typed once, at parse).
    #[inline]
    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, SipError> {
        Ok(self
            .typed
            .content_type
            .as_ref()
            .map(|(span, at)| at.view(self.span_str(*span))))
    }

    /// Content-Length as declared, if present (the body always has exactly this length).
    pub fn content_length(&self) -> Option<usize> {
        let slot = HeaderName::ContentLength as usize;
        (self.core.get(slot).copied() != Some(0)).then(|| self.body().len())
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

    pub(crate) fn tier2(&self) -> &OnceLock<Tier2> {
        &self.tier2
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
        let index = &self.index;
        let fields_end = self.fields_end as usize;
        let lines = index.iter().enumerate().map(move |(i, e)| {
            let next = index
                .get(i + 1)
                .map_or(fields_end, |n| n.name_start as usize);
            (e.name_start as usize, next, e.name)
        });
        (lines, fields_end)
    }
}

/// Where `part` (a slice of `raw`) lies.
fn span_in(raw: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    match (u32::try_from(start), u32::try_from(start + part.len())) {
        (Ok(start), Ok(end)) if end as usize <= raw.len() => Span { start, end },
        _ => Span::default(),
    }
}

/// The header index of a message, and while parsing the head as text when all of it is UTF-8
/// (checked once: header values are then sliced from it instead of each being checked).
struct Fields<'a> {
    raw: &'a [u8],
    index: &'a Index,
    core: &'a [u16; CORE_SLOTS],
    seen: u64,
    text: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// Where the first value of a header lies (folding intact).
    fn value_span(&self, name: HeaderName) -> Option<Span> {
        let entry = match self.core.get(name as usize) {
            Some(&pos) => self.index.get(usize::from(pos).checked_sub(1)?),
            None if self.seen & seen_bit(name) == 0 => None,
            None => self.index.iter().find(|e| e.name == name),
        }?;
        Some(Span {
            start: entry.value_start,
            end: entry.value_end,
        })
    }

    /// First value of a header, raw (folding intact).
    fn header(&self, name: HeaderName) -> Option<&'a [u8]> {
        let s = self.value_span(name)?;
        self.raw.get(s.start as usize..s.end as usize)
    }

    /// The text at `s` (a header value's span), `e` when it is not UTF-8.
    fn str_at(&self, s: Span, e: SipError) -> Result<&'a str, SipError> {
        let range = s.start as usize..s.end as usize;
        match self.text {
            Some(t) => t.get(range).ok_or(e),
            None => utf8(self.raw.get(range).ok_or(e)?, e),
        }
    }

    /// `part` (a slice of the message) as text, `e` when it is not UTF-8.
    fn str(&self, part: &'a [u8], e: SipError) -> Result<&'a str, SipError> {
        let s = span_in(self.raw, part);
        match self
            .text
            .and_then(|t| t.get(s.start as usize..s.end as usize))
        {
            Some(t) if t.len() == part.len() => Ok(t),
            _ => utf8(part, e),
        }
    }

    /// First value of a header as text, an error when it is not UTF-8.
    fn header_str(&self, name: HeaderName) -> Result<Option<&'a str>, SipError> {
        self.header(name)
            .map(|v| self.str(v, SipError::BadHeader(HeaderKind::from(name))))
            .transpose()
    }

    /// First value of a header with where it lies; an error when absent or not UTF-8.
    /// Inlined: returned through memory, its span was written as two `u32`s and read back as
    /// one word, a store-forwarding stall for each core header.
    #[inline(always)]
    fn required(&self, name: HeaderName) -> Result<(Span, &'a str), SipError> {
        let s = self
            .value_span(name)
            .ok_or(SipError::MissingHeader(HeaderKind::from(name)))?;
        Ok((
            s,
            self.str_at(s, SipError::BadHeader(HeaderKind::from(name)))?,
        ))
    }

    fn name_addr(&self, name: HeaderName) -> Result<(Span, NameAddrAt), SipError> {
        let (span, v) = self.required(name)?;
        let a = NameAddr::parse(v).ok_or(SipError::BadHeader(HeaderKind::from(name)))?;
        Ok((span, NameAddrAt::of(v, &a)))
    }

    /// Tier-1 checks: type the core headers once (their offsets are kept). `method` is the
    /// request's method token (`None` for a response).
    fn type_core(&self, method: Option<&str>) -> Result<Typed, SipError> {
        let bad = SipError::BadHeader(HeaderKind::Via);
        let vias = self
            .header(HeaderName::Via)
            .ok_or(SipError::MissingHeader(HeaderKind::Via))?;
        let whole = self.str(vias, bad).ok();
        let via = match whole.and_then(|v| Some((v, Via::parse_tight(v)?))) {
            // A value the one-pass path reads whole holds no comma, quote or `<`: it is one
            // via-parm, the one CommaSplit would give.
            Some((v, parsed)) => (span_in(self.raw, vias), ViaAt::of(v, &parsed)),
            None => {
                let top = CommaSplit::new(vias).next().ok_or(bad)?;
                let top_span = span_in(self.raw, top);
                let top = self.str(top, bad)?;
                (top_span, ViaAt::of(top, &Via::parse(top).ok_or(bad)?))
            }
        };
        let from = self.name_addr(HeaderName::From)?;
        let to = self.name_addr(HeaderName::To)?;
        let (call_id, v) = self.required(HeaderName::CallId)?;
        if v.is_empty() || scan::has_space_or_control(v.as_bytes()) {
            return Err(SipError::BadHeader(HeaderKind::CallId));
        }
        let (span, v) = self.required(HeaderName::CSeq)?;
        let cseq = CSeq::parse(v).ok_or(SipError::BadHeader(HeaderKind::CSeq))?;
        if method.is_some_and(|m| m != cseq.method) {
            return Err(SipError::CSeqMethodMismatch);
        }
        let cseq = (span, CSeqAt::of(v, &cseq));
        let max_forwards = self
            .header_str(HeaderName::MaxForwards)?
            .map(|v| {
                scan::parse_bounded(v, 255)
                    .map(|n| n as u32)
                    .ok_or(SipError::BadHeader(HeaderKind::MaxForwards))
            })
            .transpose()?;
        let content_type = match self.header(HeaderName::ContentType) {
            None => None,
            Some(v) => {
                let bad = SipError::BadHeader(HeaderKind::ContentType);
                let span = span_in(self.raw, v);
                let v = self.str(v, bad)?;
                Some((span, MediaTypeAt::of(v, &MediaType::parse(v).ok_or(bad)?)))
            }
        };
        Ok(Typed {
            via,
            from,
            to,
            call_id,
            cseq,
            max_forwards,
            content_type,
        })
    }
}

/// Request-Line or Status-Line (RFC 3261 §7.1, §7.2): single SP separators, SIP/2.0 only.
fn parse_start_line(
    line: &[u8],
    text: Option<&str>,
    limits: &SipLimits,
) -> Result<Start, SipError> {
    let bad = SipError::BadStartLine;
    let text = match text {
        Some(t) => t,
        None => from_utf8(line).map_err(|_| bad)?,
    };
    if let Some(rest) = text.strip_prefix("SIP/") {
        let (version, rest) = scan::split_at_byte(rest, b' ').ok_or(bad)?;
        check_version(version)?;
        let (code, reason) = scan::split_at_byte(rest, b' ').unwrap_or((rest, ""));
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
    // `Method SP Request-URI SP SIP-Version`; spaces are ASCII, so the cuts are char
    // boundaries.
    let method_end = scan::find_byte(text.as_bytes(), 0, b' ').ok_or(bad)?;
    let uri_end = scan::find_byte(text.as_bytes(), method_end + 1, b' ').ok_or(bad)?;
    let (Some(method), Some(uri), Some(version)) = (
        text.get(..method_end),
        text.get(method_end + 1..uri_end),
        text.get(uri_end + 1..),
    ) else {
        return Err(bad);
    };
    if version != "SIP/2.0" && scan::has_byte(version, b' ') {
        return Err(bad);
    }
    // A method parley knows is a token.
    if matches!(Method::from_token(method), Method::Other(_)) && !scan::is_token(method) {
        return Err(bad);
    }
    if !version.starts_with("SIP/") {
        return Err(bad);
    }
    check_version(version.get(4..).unwrap_or_default())?;
    if uri.len() > limits.max_uri_len {
        return Err(SipError::UriTooLong);
    }
    // SipUri::parse answers UnsupportedUriScheme only for a well-formed absolute URI of
    // another scheme, and BadUri for anything that is not an absolute URI.
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
    if v == "2.0" {
        return Ok(());
    }
    let (major, minor) = scan::split_at_byte(v, b'.').ok_or(SipError::BadStartLine)?;
    if scan::parse_u64(major).is_none() || scan::parse_u64(minor).is_none() {
        return Err(SipError::BadStartLine);
    }
    Err(SipError::BadVersion)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
