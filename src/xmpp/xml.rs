//! A minimal pull tokenizer over one framed element (XML 1.0 as restricted by RFC 6120 §11.1).
//!
//! The [`super::framing::Framer`] has already checked well-formedness, names, references and
//! UTF-8; this tokenizer only finds token boundaries, borrows every slice from the input and
//! never allocates. On input that did not come through the framer it still never panics: it
//! reports [`XmppError::NotWellFormed`] or [`XmppError::RestrictedXml`].

use std::borrow::Cow;

use super::XmppError;
use super::framing::is_space;

/// One token of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A start tag; `attrs` is the raw text between the name and `>` (or `/>`).
    Start {
        /// Qualified name.
        name: &'a str,
        /// Raw attribute text.
        attrs: &'a str,
        /// `<x/>`.
        empty: bool,
        /// Byte offset of `<` in the input.
        at: usize,
    },
    /// An end tag.
    End {
        /// Byte offset just past `>`.
        after: usize,
    },
    /// Character data, still escaped.
    Text(&'a str),
    /// A CDATA section's content (literal).
    CData(&'a str),
}

/// What kind of markup a [`Mark`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
    /// `<x …>`
    Start,
    /// `<x …/>`
    Empty,
    /// `</x>`
    End,
    /// `<![CDATA[…]]>`
    CData,
}

/// One piece of markup the framer found while scanning a frame, by byte offsets into the
/// frame: `start` is the `<`, `end` is just past the closing `>`, `name_end` ends a start
/// tag's name. Text lies between marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub start: u32,
    pub name_end: u32,
    pub end: u32,
    pub kind: MarkKind,
}

/// Pull tokenizer over a complete element: either scanning the text itself, or (when the
/// framer's marks for exactly this frame are at hand) reading token boundaries from them.
#[derive(Debug, Clone)]
pub(crate) struct Tokenizer<'a, 'i> {
    src: &'a str,
    pos: usize,
    /// The framer's marks; empty when scanning.
    marks: &'i [Mark],
    /// Next mark to use.
    next: usize,
}

impl<'a> Tokenizer<'a, 'static> {
    /// Tokenize `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Tokenizer {
            src,
            pos: 0,
            marks: &[],
            next: 0,
        }
    }
}

impl<'a, 'i> Tokenizer<'a, 'i> {
    /// Tokenize `src` with the framer's `marks` for it (which must describe exactly `src`;
    /// inconsistent marks give an error, never a panic).
    pub(crate) fn indexed(src: &'a str, marks: &'i [Mark]) -> Self {
        Tokenizer {
            src,
            pos: 0,
            marks,
            next: 0,
        }
    }

    /// The next token from the marks.
    fn next_marked(&mut self) -> Result<Option<Token<'a>>, XmppError> {
        let src = self.src;
        if self.pos >= src.len() {
            return Ok(None);
        }
        let Some(m) = self.marks.get(self.next) else {
            let text = src.get(self.pos..).ok_or(XmppError::NotWellFormed)?;
            self.pos = src.len();
            return Ok(Some(Token::Text(text)));
        };
        let (start, end) = (m.start as usize, m.end as usize);
        if start > self.pos {
            let text = src.get(self.pos..start).ok_or(XmppError::NotWellFormed)?;
            self.pos = start;
            return Ok(Some(Token::Text(text)));
        }
        if start != self.pos || end <= start {
            return Err(XmppError::NotWellFormed);
        }
        self.next += 1;
        self.pos = end;
        let bad = || XmppError::NotWellFormed;
        Ok(Some(match m.kind {
            MarkKind::End => Token::End { after: end },
            MarkKind::CData => {
                Token::CData(src.get(start + 9..end.saturating_sub(3)).ok_or_else(bad)?)
            }
            MarkKind::Start | MarkKind::Empty => {
                let empty = m.kind == MarkKind::Empty;
                let name_end = m.name_end as usize;
                let attrs_end = end.saturating_sub(if empty { 2 } else { 1 });
                Token::Start {
                    name: src.get(start + 1..name_end).ok_or_else(bad)?,
                    attrs: src.get(name_end..attrs_end.max(name_end)).ok_or_else(bad)?,
                    empty,
                    at: start,
                }
            }
        }))
    }

    /// Current byte offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next token, `None` at the end of input.
    pub(crate) fn next_token(&mut self) -> Result<Option<Token<'a>>, XmppError> {
        if !self.marks.is_empty() {
            return self.next_marked();
        }
        let src = self.src;
        let bytes = src.as_bytes();
        let Some(&first) = bytes.get(self.pos) else {
            return Ok(None);
        };
        let start = self.pos;
        if first != b'<' {
            let end = src[start..].find('<').map_or(src.len(), |i| start + i);
            self.pos = end;
            return Ok(Some(Token::Text(&src[start..end])));
        }
        match bytes.get(start + 1) {
            Some(b'/') => {
                let end = src[start..].find('>').ok_or(XmppError::NotWellFormed)? + start;
                self.pos = end + 1;
                Ok(Some(Token::End { after: end + 1 }))
            }
            Some(b'!') => {
                let rest = &src[start..];
                if let Some(body) = rest.strip_prefix("<![CDATA[") {
                    let len = body.find("]]>").ok_or(XmppError::NotWellFormed)?;
                    self.pos = start + 9 + len + 3;
                    Ok(Some(Token::CData(&body[..len])))
                } else {
                    Err(XmppError::RestrictedXml)
                }
            }
            Some(b'?') => Err(XmppError::RestrictedXml),
            Some(_) => self.start_tag(start),
            None => Err(XmppError::NotWellFormed),
        }
    }

    /// A start tag beginning at `start`.
    fn start_tag(&mut self, start: usize) -> Result<Option<Token<'a>>, XmppError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let name_end = bytes[start + 1..]
            .iter()
            .position(|&b| is_space(b) || b == b'>' || b == b'/')
            .map(|p| p + start + 1)
            .ok_or(XmppError::NotWellFormed)?;
        if name_end == start + 1 {
            return Err(XmppError::NotWellFormed);
        }
        let mut i = name_end;
        let mut quote = 0u8;
        while let Some(&b) = bytes.get(i) {
            if quote != 0 {
                if b == quote {
                    quote = 0;
                }
            } else if b == b'\'' || b == b'"' {
                quote = b;
            } else if b == b'>' {
                break;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(XmppError::NotWellFormed);
        }
        let empty = bytes[i - 1] == b'/' && i > name_end;
        let attrs_end = if empty { i - 1 } else { i };
        self.pos = i + 1;
        Ok(Some(Token::Start {
            name: &src[start + 1..name_end],
            attrs: &src[name_end..attrs_end.max(name_end)],
            empty,
            at: start,
        }))
    }

    /// Skip to the end of the element whose start tag was just read (non-empty), returning
    /// the offset just past its end tag.
    pub(crate) fn skip_element(&mut self) -> Result<usize, XmppError> {
        let mut depth = 1usize;
        while let Some(tok) = self.next_token()? {
            match tok {
                Token::Start { empty: false, .. } => depth += 1,
                Token::End { after } => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(after);
                    }
                }
                _ => {}
            }
        }
        Err(XmppError::NotWellFormed)
    }

    /// Read the text content of the element whose start tag was just read (non-empty) up to
    /// its end tag. Text of nested elements is skipped. Borrowed unless it had to be unescaped
    /// or joined.
    pub(crate) fn read_text(&mut self) -> Result<Cow<'a, str>, XmppError> {
        let mut out: Option<Cow<'a, str>> = None;
        let mut depth = 1usize;
        while let Some(tok) = self.next_token()? {
            let piece = match tok {
                Token::Start { empty: false, .. } => {
                    depth += 1;
                    continue;
                }
                Token::Start { .. } => continue,
                Token::End { .. } => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out.unwrap_or(Cow::Borrowed("")));
                    }
                    continue;
                }
                _ if depth > 1 => continue,
                Token::Text(raw) => unescape(raw)?,
                Token::CData(raw) => Cow::Borrowed(raw),
            };
            out = Some(match out {
                None => piece,
                Some(prev) => Cow::Owned(prev.into_owned() + &piece),
            });
        }
        Err(XmppError::NotWellFormed)
    }
}

/// Unescape character data or an attribute value: the five predefined entities and character
/// references. Borrowed when there is nothing to replace.
pub(crate) fn unescape(raw: &str) -> Result<Cow<'_, str>, XmppError> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    let text = quick_xml::escape::unescape(raw).map_err(|e| match e {
        quick_xml::escape::EscapeError::UnrecognizedEntity(..) => XmppError::RestrictedXml,
        _ => XmppError::NotWellFormed,
    })?;
    // A reference must name a legal XML character (XML 1.0 §2.2), also when the element did
    // not come through the framer (`parley translate`).
    if has_forbidden_char(&text) {
        return Err(XmppError::NotWellFormed);
    }
    Ok(text)
}

/// Whether valid UTF-8 text holds a character XML 1.0 forbids (§2.2). In UTF-8 those are the
/// C0 controls other than tab, LF and CR, and U+FFFE / U+FFFF (`EF BF BE` / `EF BF BF`);
/// surrogates cannot occur in a `str`. A byte test, so the common all-allowed case costs one
/// branch-free pass instead of decoding every character.
pub(crate) fn has_forbidden_char(src: &str) -> bool {
    let b = src.as_bytes();
    let control = |c: u8| (c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r');
    let mut chunks = b.chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |bad, &c| bad | control(c)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| control(c))
        || memchr::memchr_iter(0xEF, b)
            .any(|i| b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
}

/// Unescape an attribute value and apply attribute-value normalisation (XML 1.0 §3.3.3:
/// literal tab, CR and LF become spaces).
pub(crate) fn attr_value(raw: &str) -> Result<Cow<'_, str>, XmppError> {
    let needs_ws = raw.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r'));
    if !needs_ws {
        return unescape(raw);
    }
    let normalised = raw.replace(['\t', '\n', '\r'], " ");
    Ok(Cow::Owned(unescape(&normalised)?.into_owned()))
}

/// Iterator over the raw attributes of a start tag: `(qualified name, raw value)`.
#[derive(Debug, Clone)]
pub(crate) struct Attrs<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Attrs<'a> {
    /// Attributes in the raw text `src` (as in [`Token::Start::attrs`]).
    pub(crate) fn new(src: &'a str) -> Self {
        Attrs { src, pos: 0 }
    }

    /// The next attribute, or an error if the text is malformed.
    pub(crate) fn next_attr(&mut self) -> Result<Option<(&'a str, &'a str)>, XmppError> {
        let src = self.src;
        let bytes = src.as_bytes();
        while bytes.get(self.pos).is_some_and(|b| is_space(*b)) {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return Ok(None);
        }
        let name_start = self.pos;
        while bytes
            .get(self.pos)
            .is_some_and(|&b| b != b'=' && !is_space(b))
        {
            self.pos += 1;
        }
        let name = &src[name_start..self.pos];
        while bytes.get(self.pos).is_some_and(|b| is_space(*b)) {
            self.pos += 1;
        }
        if bytes.get(self.pos) != Some(&b'=') || name.is_empty() {
            return Err(XmppError::NotWellFormed);
        }
        self.pos += 1;
        while bytes.get(self.pos).is_some_and(|b| is_space(*b)) {
            self.pos += 1;
        }
        let quote = match bytes.get(self.pos) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(XmppError::NotWellFormed),
        };
        let vstart = self.pos + 1;
        let vlen = bytes[vstart..]
            .iter()
            .position(|&b| b == quote)
            .ok_or(XmppError::NotWellFormed)?;
        self.pos = vstart + vlen + 1;
        Ok(Some((name, &src[vstart..vstart + vlen])))
    }

    /// The raw value of the attribute named `name`.
    pub(crate) fn find_raw(mut self, name: &str) -> Result<Option<&'a str>, XmppError> {
        while let Some((n, v)) = self.next_attr()? {
            if n == name {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

/// Split a qualified name into `(prefix, local)`.
pub(crate) fn split_qname(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}
