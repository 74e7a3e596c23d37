//! XML stream framing (RFC 6120 §4.2–4.3, §11): the stream header, depth-1 elements as `Bytes`
//! slices, whitespace keep-alives, the stream footer, and restarts after STARTTLS and SASL.
//!
//! Three outcomes per call: a frame, `Ok(None)` for "need more bytes", or a stream error.
//!
//! The framer is a resumable byte-level state machine: it remembers how far it has scanned and
//! in which lexical state it stopped, so a stanza arriving one byte per TLS record costs O(n),
//! not O(n²). (quick-xml's reader cannot resume inside a token of a growing buffer, which is why
//! the framer scans by itself; the typed views in [`super::stanza`] then read the framed bytes.)
//! While scanning it enforces everything that makes a frame safe to hand on: well-formedness
//! (matching end tags, quoting, names, unique attributes), the restricted XML of RFC 6120 §11.1
//! (no DTD, comment, processing instruction other than the XML declaration, no entity
//! reference other than the five predefined ones and character references), valid UTF-8 and XML
//! characters, and every [`XmppLimits`] bound before the bytes are kept.

use bytes::{Bytes, BytesMut};

use super::XmppError;
use super::header::parse_header;
pub use super::header::{StreamHeader, StreamNs};
pub use super::marked::MarkedElement;
use super::stanza::{Element, parse_element, parse_marked};
use super::xml::{Mark, MarkKind};

/// Bounds applied while framing. Each violation is its own [`XmppError`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmppLimits {
    /// Bytes of one depth-1 element (stanza).
    pub max_stanza_bytes: usize,
    /// Element nesting depth below the stream root.
    pub max_depth: usize,
    /// Attributes on one element.
    pub max_attributes: usize,
    /// Bytes of an element or attribute name.
    pub max_name_len: usize,
}

impl Default for XmppLimits {
    fn default() -> Self {
        XmppLimits {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
            max_attributes: 64,
            max_name_len: 256,
        }
    }
}

/// One unit of an incoming XML stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `<stream:stream …>` (after an optional XML declaration).
    Open(StreamHeader),
    /// A complete depth-1 element, exactly its bytes.
    Element(Bytes),
    /// Whitespace between elements (a keep-alive).
    Whitespace,
    /// `</stream:stream>`.
    Close,
}

/// Where the framer stands in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the header; an XML declaration is still allowed at `pos == 0`.
    Prolog,
    /// Header received; depth-1 elements and whitespace follow.
    Open,
    /// `</stream:stream>` received.
    Closed,
}

/// Lexical state at `pos`, kept between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Character data (or inter-stanza whitespace at depth 0).
    Content,
    /// After `<`.
    Lt,
    /// After `<!`, matched this many bytes of `[CDATA[`.
    Bang(u8),
    /// Inside a CDATA section, this many `]` just seen.
    CData(u8),
    /// Inside `<?…`; true when the previous byte was `?`.
    Pi(bool),
    /// Reading a start-tag name.
    StartName,
    /// Inside a start tag, before an attribute; true if whitespace was just seen.
    TagSpace(bool),
    /// Reading an attribute name.
    AttrName,
    /// After an attribute name, expecting `=`.
    AttrEq,
    /// After `=`, expecting a quote.
    AttrQuote,
    /// Inside an attribute value delimited by this quote.
    AttrValue(u8),
    /// After `/` in a start tag, expecting `>`.
    Slash,
    /// Reading an end-tag name.
    EndName,
    /// After an end-tag name, expecting `>`.
    EndSpace,
    /// After `&`; `Some(quote)` inside an attribute value.
    Ref(Option<u8>),
}

/// Longest reference we accept (`&#x10FFFF;` is 10 bytes).
const MAX_REF: usize = 12;

/// Incremental stream framer. Holds only parse state; the caller owns the buffer.
#[derive(Debug)]
pub struct Framer {
    limits: XmppLimits,
    phase: Phase,
    lex: Lex,
    /// Bytes of the caller's buffer already scanned (frames always start at offset 0).
    pos: usize,
    /// Open elements below the stream root, as `(start, len)` of their names in the buffer.
    stack: Vec<(usize, usize)>,
    /// Attribute names of the current start tag, `(start, len)`.
    attrs: Vec<(usize, usize)>,
    /// Start of the token being read (name, reference, PI).
    mark: usize,
    /// Start of the current tag's `<`.
    tag_start: usize,
    /// Qualified name of the stream root, to match `</stream:stream>`.
    root: Vec<u8>,
    /// `(start, len)` of the end-tag name being closed.
    end_name: (usize, usize),
    /// Markup of the element being framed (offsets into it), so the typed parse need not
    /// scan it again. Bounded by the stanza byte limit.
    marks: Vec<Mark>,
    /// Address and length of the element `marks` describe, once it has been emitted.
    marked: Option<(usize, usize)>,
}

impl Framer {
    /// A framer expecting a stream header.
    pub fn new(limits: XmppLimits) -> Framer {
        Framer {
            limits,
            phase: Phase::Prolog,
            lex: Lex::Content,
            pos: 0,
            stack: Vec::with_capacity(limits.max_depth.min(64)),
            attrs: Vec::with_capacity(limits.max_attributes.min(64)),
            mark: 0,
            tag_start: 0,
            root: Vec::new(),
            end_name: (0, 0),
            marks: Vec::new(),
            marked: None,
        }
    }

    /// Typed view of the element this framer emitted last ([`Frame::Element`]), reading the
    /// token boundaries found while framing instead of scanning the bytes again. Any other
    /// input is parsed as [`parse_element`] does.
    pub fn parse_last<'a>(
        &self,
        frame: &'a [u8],
        stream: &StreamHeader,
    ) -> Result<Element<'a>, XmppError> {
        match self.marks_of(frame) {
            Some(marks) => parse_marked(frame, marks, stream),
            None => parse_element(frame, stream),
        }
    }

    /// The element this framer emitted last, with a copy of its marks, so it can be parsed
    /// later (after the framer has moved on) without scanning it again. Any other frame
    /// comes without marks and is parsed as [`parse_element`] does.
    pub fn marked(&self, frame: Bytes) -> MarkedElement {
        let marks = self.marks_of(&frame).map(Box::from).unwrap_or_default();
        MarkedElement::new(frame, marks)
    }

    /// The marks of `frame` if it is exactly the element emitted last.
    fn marks_of(&self, frame: &[u8]) -> Option<&[Mark]> {
        (self.marked == Some((frame.as_ptr() as usize, frame.len()))
            && frame.len() <= u32::MAX as usize
            && !self.marks.is_empty())
        .then_some(&self.marks[..])
    }

    /// Record one piece of markup of the element being framed.
    fn mark(&mut self, name_end: usize, kind: MarkKind) {
        self.marks.push(Mark {
            start: self.tag_start as u32,
            name_end: name_end as u32,
            end: self.pos as u32,
            kind,
        });
    }

    /// The limits this framer enforces.
    pub fn limits(&self) -> &XmppLimits {
        &self.limits
    }

    /// Start over after STARTTLS or SASL success: the next frame must be a stream header.
    pub fn restart(&mut self) {
        self.phase = Phase::Prolog;
        self.lex = Lex::Content;
        self.pos = 0;
        self.stack.clear();
        self.attrs.clear();
        self.mark = 0;
        self.tag_start = 0;
        self.root.clear();
        self.marks.clear();
        self.marked = None;
    }

    /// Take the next frame from the front of `buf` (consumed bytes are split off).
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, XmppError> {
        if self.pos > buf.len() {
            // The caller cleared or shrank the buffer without a restart: rescan from the start.
            self.pos = 0;
            self.lex = Lex::Content;
            self.stack.clear();
            self.marks.clear();
            self.marked = None;
        }
        loop {
            if self.pos >= buf.len() {
                return self.at_end_of_input(buf);
            }
            if self.stack.is_empty()
                && self.lex == Lex::Content
                && self.phase != Phase::Prolog
                && self.pos == 0
            {
                // Between frames: whitespace keep-alives, or the start of the next element.
                let ws = buf.iter().take_while(|b| is_space(**b)).count();
                if ws > 0 {
                    let _ = buf.split_to(ws);
                    return Ok(Some(Frame::Whitespace));
                }
                if buf[0] != b'<' {
                    return Err(XmppError::NotWellFormed);
                }
            }
            let limit = self.scan_limit();
            if let Some(frame) = self.scan(buf, limit)? {
                return Ok(Some(frame));
            }
            if self.pos >= limit && limit < buf.len() {
                return Err(XmppError::StanzaTooLarge);
            }
        }
    }

    /// Nothing more to scan: need more bytes (or the frame is over limit).
    fn at_end_of_input(&mut self, buf: &BytesMut) -> Result<Option<Frame>, XmppError> {
        if buf.len() > self.limits.max_stanza_bytes {
            return Err(XmppError::StanzaTooLarge);
        }
        if self.phase == Phase::Closed && !buf.is_empty() {
            return Err(XmppError::NotWellFormed);
        }
        Ok(None)
    }

    /// Scan no further than the stanza byte limit allows (+1 to detect overflow).
    fn scan_limit(&self) -> usize {
        self.limits.max_stanza_bytes.saturating_add(1)
    }

    /// Advance the state machine over `buf[self.pos..]`; returns a frame when one completes.
    fn scan(&mut self, buf: &mut BytesMut, limit: usize) -> Result<Option<Frame>, XmppError> {
        let end = buf.len().min(limit);
        while self.pos < end {
            self.skip_run(buf, end);
            if self.pos >= end {
                break;
            }
            let b = buf[self.pos];
            if b < 0x20 && !is_space(b) {
                return Err(XmppError::NotWellFormed);
            }
            let at = self.pos;
            self.pos += 1;
            match self.lex {
                Lex::Content => self.content(buf, at, end)?,
                Lex::Lt => self.lt(b, at)?,
                Lex::Bang(n) => self.bang(b, n)?,
                Lex::CData(n) => {
                    self.lex = Lex::CData(match (b, n) {
                        (b']', 0) => 1,
                        (b']', _) => 2,
                        (b'>', 2) => {
                            self.lex = Lex::Content;
                            self.mark(0, MarkKind::CData);
                            continue;
                        }
                        _ => 0,
                    })
                }
                Lex::Pi(q) => {
                    if q && b == b'>' {
                        self.end_pi(buf)?;
                    } else {
                        self.lex = Lex::Pi(b == b'?');
                    }
                }
                Lex::StartName => {
                    if is_name_end(b) {
                        self.check_name(buf, self.mark, at)?;
                        // Re-read the delimiter as the first byte inside the tag.
                        self.lex = Lex::TagSpace(true);
                        self.pos = at;
                    } else {
                        self.name_byte(b, false)?;
                    }
                }
                Lex::TagSpace(spaced) => match b {
                    b'>' => {
                        if let Some(f) = self.end_start_tag(buf, false)? {
                            return Ok(Some(f));
                        }
                    }
                    b'/' => self.lex = Lex::Slash,
                    _ if is_space(b) => self.lex = Lex::TagSpace(true),
                    _ if spaced && is_name_start(b) => {
                        if self.attrs.len() >= self.limits.max_attributes {
                            return Err(XmppError::TooManyAttributes);
                        }
                        if !self.whole_attr(buf, at, end)? {
                            self.mark = at;
                            self.lex = Lex::AttrName;
                        }
                    }
                    _ => return Err(XmppError::NotWellFormed),
                },
                Lex::AttrName => {
                    if b == b'=' || is_space(b) {
                        self.check_name(buf, self.mark, at)?;
                        self.add_attr(buf, self.mark, at)?;
                        self.lex = if b == b'=' {
                            Lex::AttrQuote
                        } else {
                            Lex::AttrEq
                        };
                    } else {
                        self.name_byte(b, false)?;
                    }
                }
                Lex::AttrEq => match b {
                    b'=' => self.lex = Lex::AttrQuote,
                    _ if is_space(b) => {}
                    _ => return Err(XmppError::NotWellFormed),
                },
                Lex::AttrQuote => match b {
                    b'\'' | b'"' => self.lex = Lex::AttrValue(b),
                    _ if is_space(b) => {}
                    _ => return Err(XmppError::NotWellFormed),
                },
                Lex::AttrValue(q) => match b {
                    _ if b == q => self.lex = Lex::TagSpace(false),
                    b'<' => return Err(XmppError::NotWellFormed),
                    b'&' => {
                        self.mark = at;
                        self.lex = Lex::Ref(Some(q));
                    }
                    _ => {}
                },
                Lex::Slash => {
                    if b != b'>' {
                        return Err(XmppError::NotWellFormed);
                    }
                    if let Some(f) = self.end_start_tag(buf, true)? {
                        return Ok(Some(f));
                    }
                }
                Lex::EndName => {
                    if b == b'>' || is_space(b) {
                        self.check_name(buf, self.mark, at)?;
                        self.mark_end_name(at);
                        if b == b'>' {
                            if let Some(f) = self.end_end_tag(buf)? {
                                return Ok(Some(f));
                            }
                        } else {
                            self.lex = Lex::EndSpace;
                        }
                    } else {
                        self.name_byte(b, at == self.mark)?;
                    }
                }
                Lex::EndSpace => match b {
                    b'>' => {
                        if let Some(f) = self.end_end_tag(buf)? {
                            return Ok(Some(f));
                        }
                    }
                    _ if is_space(b) => {}
                    _ => return Err(XmppError::NotWellFormed),
                },
                Lex::Ref(in_attr) => {
                    if b == b';' {
                        check_reference(&buf[self.mark + 1..at])?;
                        self.lex = match in_attr {
                            Some(q) => Lex::AttrValue(q),
                            None => Lex::Content,
                        };
                    } else if at - self.mark > MAX_REF || !is_ref_byte(b) {
                        return Err(if is_name_start(buf[self.mark + 1]) {
                            XmppError::RestrictedXml
                        } else {
                            XmppError::NotWellFormed
                        });
                    }
                }
            }
        }
        Ok(None)
    }

    /// Fast path: skip the bytes of a name or attribute value that need no state change.
    fn skip_run(&mut self, buf: &[u8], end: usize) {
        let rest = &buf[self.pos..end];
        let run = match self.lex {
            Lex::AttrValue(q) => rest
                .iter()
                .position(|&c| c == q || c == b'<' || c == b'&' || c < 0x20)
                .unwrap_or(rest.len()),
            Lex::StartName | Lex::AttrName => rest
                .iter()
                .position(|&c| !is_name_byte(c))
                .unwrap_or(rest.len()),
            Lex::EndName if self.pos > self.mark => rest
                .iter()
                .position(|&c| !is_name_byte(c))
                .unwrap_or(rest.len()),
            _ => 0,
        };
        self.pos += run;
    }

    /// Fast path for a complete `name='value'` at `at` with nothing to check in the value
    /// (no reference, no whitespace to normalise): one step instead of one per lexical state.
    /// `false` leaves everything to the byte-level states.
    fn whole_attr(&mut self, buf: &[u8], at: usize, end: usize) -> Result<bool, XmppError> {
        let rest = &buf[at..end];
        let Some(n) = rest.iter().position(|&c| !is_name_byte(c)) else {
            return Ok(false);
        };
        let q = match (rest[n], rest.get(n + 1)) {
            (b'=', Some(&q @ (b'\'' | b'"'))) => q,
            _ => return Ok(false),
        };
        let value = &rest[n + 2..];
        let Some(v) = value
            .iter()
            .position(|&c| c == q || c == b'<' || c == b'&' || c < 0x20)
        else {
            return Ok(false);
        };
        if value[v] != q {
            return Ok(false);
        }
        self.check_name(buf, at, at + n)?;
        self.add_attr(buf, at, at + n)?;
        self.pos = at + n + 2 + v + 1;
        self.lex = Lex::TagSpace(false);
        Ok(true)
    }

    /// Character data: skip quickly to the next markup byte.
    fn content(&mut self, buf: &[u8], at: usize, end: usize) -> Result<(), XmppError> {
        let b = buf[at];
        if self.stack.is_empty() && self.phase != Phase::Prolog {
            // Between elements only `<` can arrive here (whitespace is split off earlier).
            if b != b'<' {
                return Err(XmppError::NotWellFormed);
            }
        }
        match b {
            b'<' => {
                self.tag_start = at;
                self.lex = Lex::Lt;
            }
            b'&' => {
                if self.stack.is_empty() {
                    return Err(XmppError::NotWellFormed);
                }
                self.mark = at;
                self.lex = Lex::Ref(None);
            }
            _ if self.stack.is_empty() => {
                // Prolog: only whitespace before the header.
                if !is_space(b) {
                    return Err(XmppError::NotWellFormed);
                }
            }
            _ => {
                // Fast path over plain text.
                let run = buf[self.pos..end]
                    .iter()
                    .position(|&c| c == b'<' || c == b'&' || (c < 0x20 && !is_space(c)))
                    .unwrap_or(end - self.pos);
                self.pos += run;
            }
        }
        Ok(())
    }

    /// After `<`.
    fn lt(&mut self, b: u8, at: usize) -> Result<(), XmppError> {
        match b {
            b'/' => {
                self.mark = at + 1;
                self.lex = Lex::EndName;
            }
            b'!' => {
                if self.stack.is_empty() {
                    // Comments and DTDs; CDATA is only legal inside an element.
                    return Err(XmppError::RestrictedXml);
                }
                self.lex = Lex::Bang(0);
            }
            b'?' => {
                if self.phase != Phase::Prolog || self.tag_start != 0 {
                    return Err(XmppError::RestrictedXml);
                }
                self.lex = Lex::Pi(false);
            }
            _ if is_name_start(b) => {
                self.mark = at;
                self.attrs.clear();
                if self.stack.is_empty() {
                    if self.marks.capacity() > 4096 {
                        // Do not keep the marks of one huge stanza for the stream's lifetime.
                        self.marks = Vec::new();
                    }
                    self.marks.clear();
                    self.marked = None;
                }
                self.lex = Lex::StartName;
            }
            _ => return Err(XmppError::NotWellFormed),
        }
        Ok(())
    }

    /// After `<!`: only `<![CDATA[` is allowed (RFC 6120 §11.1 forbids comments and DTDs).
    fn bang(&mut self, b: u8, n: u8) -> Result<(), XmppError> {
        const CDATA: &[u8] = b"[CDATA[";
        if CDATA.get(n as usize) == Some(&b) {
            self.lex = if n as usize + 1 == CDATA.len() {
                Lex::CData(0)
            } else {
                Lex::Bang(n + 1)
            };
            Ok(())
        } else if n == 0 && (b == b'-' || b == b'D') {
            Err(XmppError::RestrictedXml)
        } else {
            Err(XmppError::NotWellFormed)
        }
    }

    /// `?>` seen: the only allowed PI is the XML declaration at the very start.
    fn end_pi(&mut self, buf: &[u8]) -> Result<(), XmppError> {
        let pi = &buf[self.tag_start..self.pos];
        let body = pi
            .strip_prefix(b"<?xml")
            .and_then(|r| r.strip_suffix(b"?>"))
            .ok_or(XmppError::RestrictedXml)?;
        if !body.first().is_some_and(|b| is_space(*b)) {
            return Err(XmppError::RestrictedXml);
        }
        let text = std::str::from_utf8(body).map_err(|_| XmppError::NotWellFormed)?;
        if let Some(enc) = super::xml::Attrs::new(text).find_raw("encoding")?
            && !enc.eq_ignore_ascii_case("utf-8")
        {
            return Err(XmppError::UnsupportedEncoding);
        }
        self.lex = Lex::Content;
        Ok(())
    }

    /// One byte of a name (element or attribute).
    fn name_byte(&self, b: u8, first: bool) -> Result<(), XmppError> {
        if (first && is_name_start(b)) || (!first && is_name_byte(b)) {
            Ok(())
        } else {
            Err(XmppError::NotWellFormed)
        }
    }

    /// A complete name: length limit and namespace well-formedness (at most one inner colon).
    fn check_name(&self, buf: &[u8], start: usize, end: usize) -> Result<(), XmppError> {
        let name = &buf[start..end];
        if name.is_empty() {
            return Err(XmppError::NotWellFormed);
        }
        if name.len() > self.limits.max_name_len {
            return Err(XmppError::TooManyAttributes);
        }
        let colons = name.iter().filter(|b| **b == b':').count();
        if colons > 1 || name[0] == b':' || name[name.len() - 1] == b':' {
            return Err(XmppError::NotWellFormed);
        }
        Ok(())
    }

    /// Record an attribute name, rejecting duplicates.
    fn add_attr(&mut self, buf: &[u8], start: usize, end: usize) -> Result<(), XmppError> {
        let name = &buf[start..end];
        if self.attrs.iter().any(|&(s, l)| &buf[s..s + l] == name) {
            return Err(XmppError::NotWellFormed);
        }
        self.attrs.push((start, end - start));
        Ok(())
    }

    /// The end of an end-tag name.
    fn mark_end_name(&mut self, at: usize) {
        self.end_name = (self.mark, at - self.mark);
    }

    /// `>` of a start tag (`empty` for `/>`).
    fn end_start_tag(
        &mut self,
        buf: &mut BytesMut,
        empty: bool,
    ) -> Result<Option<Frame>, XmppError> {
        self.lex = Lex::Content;
        let name_end = buf[self.tag_start + 1..self.pos]
            .iter()
            .position(|b| is_name_end(*b))
            .map_or(self.pos, |p| p + self.tag_start + 1);
        let name = (self.tag_start + 1, name_end - self.tag_start - 1);
        if self.phase == Phase::Prolog {
            if empty {
                return Err(XmppError::BadStreamHeader);
            }
            let bytes = buf.split_to(self.pos);
            let text = std::str::from_utf8(&bytes).map_err(|_| XmppError::NotWellFormed)?;
            let tag = &text[self.tag_start..];
            let header = parse_header(tag)?;
            self.root.clear();
            self.root.extend_from_slice(&bytes[name.0..name.0 + name.1]);
            self.phase = Phase::Open;
            self.pos = 0;
            return Ok(Some(Frame::Open(header)));
        }
        if self.phase == Phase::Closed {
            return Err(XmppError::NotWellFormed);
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmppError::TooDeep);
        }
        let kind = if empty {
            MarkKind::Empty
        } else {
            MarkKind::Start
        };
        self.mark(name_end, kind);
        if empty {
            if self.stack.is_empty() {
                return self.emit(buf).map(Some);
            }
            return Ok(None);
        }
        self.stack.push(name);
        Ok(None)
    }

    /// `>` of an end tag.
    fn end_end_tag(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, XmppError> {
        self.lex = Lex::Content;
        let (s, l) = self.end_name;
        let name = &buf[s..s + l];
        match self.stack.pop() {
            Some((os, ol)) => {
                if &buf[os..os + ol] != name {
                    return Err(XmppError::NotWellFormed);
                }
                self.mark(0, MarkKind::End);
                if self.stack.is_empty() {
                    return self.emit(buf).map(Some);
                }
                Ok(None)
            }
            None => {
                if self.phase != Phase::Open || name != self.root.as_slice() {
                    return Err(XmppError::NotWellFormed);
                }
                let _ = buf.split_to(self.pos);
                self.pos = 0;
                self.phase = Phase::Closed;
                Ok(Some(Frame::Close))
            }
        }
    }

    /// A depth-1 element is complete: validate its UTF-8 and split it off.
    fn emit(&mut self, buf: &mut BytesMut) -> Result<Frame, XmppError> {
        if self.pos > self.limits.max_stanza_bytes {
            return Err(XmppError::StanzaTooLarge);
        }
        std::str::from_utf8(&buf[..self.pos]).map_err(|_| XmppError::NotWellFormed)?;
        let bytes = buf.split_to(self.pos).freeze();
        self.marked = Some((bytes.as_ptr() as usize, bytes.len()));
        self.pos = 0;
        Ok(Frame::Element(bytes))
    }
}

/// XML whitespace (S production).
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes that end a name inside a tag.
fn is_name_end(b: u8) -> bool {
    is_space(b) || b == b'>' || b == b'/' || b == b'='
}

/// NameStartChar, with every non-ASCII byte accepted (UTF-8 is validated per frame).
pub(crate) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

/// NameChar.
pub(crate) fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

/// Bytes that may appear between `&` and `;`.
fn is_ref_byte(b: u8) -> bool {
    is_name_byte(b) || b == b'#'
}

/// Check a reference body (between `&` and `;`): the five predefined entities or a character
/// reference to a legal XML character. Any other entity is restricted XML (RFC 6120 §11.1).
pub(crate) fn check_reference(body: &[u8]) -> Result<(), XmppError> {
    match body {
        b"lt" | b"gt" | b"amp" | b"apos" | b"quot" => Ok(()),
        [b'#', b'x', hex @ ..] => char_ref(hex, 16),
        [b'#', dec @ ..] => char_ref(dec, 10),
        [first, ..] if is_name_start(*first) => Err(XmppError::RestrictedXml),
        _ => Err(XmppError::NotWellFormed),
    }
}

/// A character reference's digits must name a legal XML character (XML 1.0 §2.2 Char).
fn char_ref(digits: &[u8], radix: u32) -> Result<(), XmppError> {
    let s = std::str::from_utf8(digits).map_err(|_| XmppError::NotWellFormed)?;
    if s.is_empty() || s.starts_with('+') {
        return Err(XmppError::NotWellFormed);
    }
    let v = u32::from_str_radix(s, radix).map_err(|_| XmppError::NotWellFormed)?;
    if is_xml_char(v) {
        Ok(())
    } else {
        Err(XmppError::NotWellFormed)
    }
}

/// XML 1.0 Char production.
pub(crate) fn is_xml_char(v: u32) -> bool {
    matches!(v, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}
