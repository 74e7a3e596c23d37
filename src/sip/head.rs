//! One pass over a SIP head (RFC 3261 §7.3.1, §7.5, §18.3): finds the start line, every header
//! field (line folding and white space before the colon included), the empty line and the
//! Content-Length, all in a single left-to-right scan that framing and parsing share.
//!
//! Line ends are found eight bytes at a time; header names are classified as they are read. Errors that
//! concern one message (a malformed line, too many or too long headers, a repeated core
//! header) are kept in [`Head::error`] for the parser, so framing can still find the message's
//! end; only what loses the framing (head too large, bad Content-Length) fails the scan.

use super::SipError;
use super::error::HeaderKind;
use super::framing::SipLimits;
use super::header::HeaderName;
use super::names::classify;
use super::scan::{find_byte, find_newline, is_lws, is_token_byte};

/// Header fields indexed without a heap allocation; more spill to a `Vec`.
pub const INLINE_HEADERS: usize = 32;

/// Core headers whose first occurrence is remembered: the first eight [`HeaderName`]s (Via,
/// From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type), by discriminant.
pub(crate) const CORE_SLOTS: usize = 8;

/// Offsets of one header field: name `[name_start, name_end)`, value `[value_start,
/// value_end)` trimmed of LWS, folding inside kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: HeaderName,
    pub name_start: u32,
    pub name_end: u32,
    pub value_start: u32,
    pub value_end: u32,
}

/// An [`Entry`] whose offsets fit in 16 bits (every head under 64 KiB): ten bytes instead of
/// twenty, so the inline index, which moves with the head and the message, stays small.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact {
    name: HeaderName,
    name_start: u16,
    name_end: u16,
    value_start: u16,
    value_end: u16,
}

impl Compact {
    fn of(e: Entry) -> Option<Compact> {
        Some(Compact {
            name: e.name,
            name_start: u16::try_from(e.name_start).ok()?,
            name_end: u16::try_from(e.name_end).ok()?,
            value_start: u16::try_from(e.value_start).ok()?,
            value_end: u16::try_from(e.value_end).ok()?,
        })
    }

    fn entry(self) -> Entry {
        Entry {
            name: self.name,
            name_start: u32::from(self.name_start),
            name_end: u32::from(self.name_end),
            value_start: u32::from(self.value_start),
            value_end: u32::from(self.value_end),
        }
    }
}

// All zero bytes (Via is discriminant 0), so a new index is cleared, not copied from a constant.
const EMPTY: Compact = Compact {
    name: HeaderName::Via,
    name_start: 0,
    name_end: 0,
    value_start: 0,
    value_end: 0,
};

/// The header fields of a head in order: up to [`INLINE_HEADERS`] fields of a head under
/// 64 KiB inline, as [`Compact`] entries; more fields, or a larger head, spill to a `Vec`.
// The inline variant is large on purpose: it is what keeps parsing free of heap allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Index {
    Inline {
        len: u8,
        items: [Compact; INLINE_HEADERS],
    },
    Heap(Vec<Entry>),
}

impl Index {
    #[inline]
    fn new() -> Self {
        Index::Inline {
            len: 0,
            items: [EMPTY; INLINE_HEADERS],
        }
    }

    #[inline]
    fn push(&mut self, e: Entry) {
        match self {
            Index::Inline { len, items } => {
                if let (Some(slot), Some(c)) = (items.get_mut(usize::from(*len)), Compact::of(e)) {
                    *slot = c;
                    *len += 1;
                } else {
                    let kept = items.get(..usize::from(*len)).unwrap_or_default();
                    let mut v = Vec::with_capacity(INLINE_HEADERS * 2);
                    v.extend(kept.iter().map(|c| c.entry()));
                    v.push(e);
                    *self = Index::Heap(v);
                }
            }
            Index::Heap(v) => v.push(e),
        }
    }

    /// Push a field found by the scan, its offsets `[name_start, name_end, value_start,
    /// value_end]` as positions: stored compact when the largest fits in 16 bits, without
    /// going through the 32-bit [`Entry`] (an offset past 32 bits is [`SipError::HeadTooLarge`]).
    #[inline(always)]
    fn push_field(&mut self, name: HeaderName, at: [usize; 4]) -> Result<(), SipError> {
        let [name_start, name_end, value_start, value_end] = at;
        let top = name_start.max(name_end).max(value_start).max(value_end);
        if let Index::Inline { len, items } = self
            && top <= usize::from(u16::MAX)
            && let Some(slot) = items.get_mut(usize::from(*len))
        {
            // Every offset is at most `top`, so none is truncated.
            *slot = Compact {
                name,
                name_start: name_start as u16,
                name_end: name_end as u16,
                value_start: value_start as u16,
                value_end: value_end as u16,
            };
            *len += 1;
            return Ok(());
        }
        self.push(Entry {
            name,
            name_start: u32_of(name_start)?,
            name_end: u32_of(name_end)?,
            value_start: u32_of(value_start)?,
            value_end: u32_of(value_end)?,
        });
        Ok(())
    }

    /// The fields, leaving this index empty (inline) for the next scan: an inline index is
    /// copied once, a spilled one hands its `Vec` over.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> Index {
        match self {
            Index::Inline { len, items } => {
                let taken = Index::Inline {
                    len: *len,
                    items: *items,
                };
                *len = 0;
                taken
            }
            Index::Heap(v) => {
                let v = std::mem::take(v);
                *self = Index::new();
                Index::Heap(v)
            }
        }
    }

    /// Forget every field (a spilled index keeps its `Vec` for reuse).
    #[inline]
    fn clear(&mut self) {
        match self {
            Index::Inline { len, .. } => *len = 0,
            Index::Heap(v) => v.clear(),
        }
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        match self {
            Index::Inline { len, .. } => usize::from(*len),
            Index::Heap(v) => v.len(),
        }
    }

    /// The field at position `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<Entry> {
        match self {
            Index::Inline { len, items } if i < usize::from(*len) => {
                items.get(i).map(|c| c.entry())
            }
            Index::Inline { .. } => None,
            Index::Heap(v) => v.get(i).copied(),
        }
    }

    /// Every field in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

/// What one scan of a head found. Framing uses the lengths; [`super::SipMessage`] takes the
/// rest over, so the head is never scanned twice.
#[derive(Debug, Clone)]
pub struct Head {
    /// End of the start line's content (before CRLF).
    pub(crate) line_end: u32,
    /// End of the last header line (its terminator included): where the empty line starts.
    pub(crate) fields_end: u32,
    /// Where the body starts.
    pub(crate) body_start: u32,
    pub(crate) index: Index,
    /// Position in `index` + 1 of the first occurrence of each core header (0 = absent).
    pub(crate) core: [u16; CORE_SLOTS],
    /// Bit `n` set when a field named by [`HeaderName`] discriminant `n` is indexed: a lookup
    /// of an absent header answers without walking the index.
    pub(crate) seen: u64,
    /// The agreed Content-Length, if any field declared one.
    pub(crate) content_length: Option<u64>,
    /// A Content-Length that is not 1*DIGIT, or two that disagree.
    pub(crate) bad_content_length: bool,
    /// The first error that concerns this message only (reported by the parser).
    pub(crate) error: Option<SipError>,
    /// Total message length once framed (head + body), set by the framer.
    pub(crate) len: u32,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            line_end: 0,
            fields_end: 0,
            body_start: 0,
            index: Index::new(),
            core: [0; CORE_SLOTS],
            seen: 0,
            content_length: None,
            bad_content_length: false,
            error: None,
            len: 0,
        }
    }
}

impl Head {
    /// Bytes of start line, headers and the empty line.
    pub fn head_len(&self) -> usize {
        self.body_start as usize
    }

    /// Bytes of the whole framed message (head and body).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Never true: a head holds at least a line end.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The bit of `name` in [`Head::seen`].
#[inline]
pub(crate) fn seen_bit(name: HeaderName) -> u64 {
    // Fewer than 64 names: the mask only keeps the shift defined.
    1u64 << (name as u32 & 63)
}

fn u32_of(n: usize) -> Result<u32, SipError> {
    u32::try_from(n).map_err(|_| SipError::HeadTooLarge)
}

/// Where a field's name ends and its colon lies, with the name typed: `(name, name end,
/// colon)`; `None` unless the line starts with a token, optional SP/HT and a colon.
///
/// The line's first colon is found by a word-at-a-time search, and the text before it (less
/// SP/HT) classified where it lies (the words past the name are loaded with it and masked
/// off). A known name is a token, so its bytes need no check of their own; any other name's
/// bytes are checked. When the colon does not follow a token and SP/HT (it lies on a later
/// line, say), a byte before it fails that check.
#[inline]
fn field_name(win: &[u8], start: usize) -> Option<(HeaderName, usize, usize)> {
    let colon = find_byte(win, start, b':')?;
    let mut end = colon;
    while end > start && matches!(win.get(end - 1), Some(b' ' | b'\t')) {
        end -= 1;
    }
    let name = classify(win, start, end - start);
    if name != HeaderName::Other {
        return Some((name, end, colon));
    }
    let other = win.get(start..end)?;
    (!other.is_empty() && other.iter().all(|&b| is_token_byte(b))).then_some((name, end, colon))
}

/// Content end of a line whose `\n` is at `nl` (drops one `\r` before it).
fn content_end(buf: &[u8], from: usize, nl: usize) -> usize {
    if nl > from && buf.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    }
}

/// `1*DIGIT` as a number, `None` for anything else or on overflow.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Where the line starting at `pos` is, seen from the empty-line test.
enum LineStart {
    /// The empty line: `(fields_end, body_start)`.
    Empty(usize, usize),
    /// Not enough bytes to tell.
    Incomplete,
    /// A header (or garbage) line.
    Field,
}

fn line_start(win: &[u8], pos: usize) -> LineStart {
    match win.get(pos) {
        None => LineStart::Incomplete,
        Some(b'\n') => LineStart::Empty(pos, pos + 1),
        Some(b'\r') => match win.get(pos + 1) {
            Some(b'\n') => LineStart::Empty(pos, pos + 2),
            Some(_) => LineStart::Field,
            None => LineStart::Incomplete,
        },
        Some(_) => LineStart::Field,
    }
}

/// Scan a head at the front of `buf`. `Ok(None)` when the empty line has not arrived yet;
/// `Err` only for [`SipError::HeadTooLarge`] and [`SipError::BadContentLength`]-free limits
/// that lose the framing (the caller decides about Content-Length).
pub(crate) fn scan(buf: &[u8], limits: &SipLimits) -> Result<Option<Head>, SipError> {
    let mut head = Head::default();
    Ok(scan_into(buf, limits, &mut head)?.then_some(head))
}

/// [`scan`] into `head`, which a caller keeps from message to message (a head is a few
/// hundred bytes; filled in place it is never copied). `Ok(false)` when the empty line has
/// not arrived yet; `head` then holds nothing meaningful.
#[inline(always)]
pub(crate) fn scan_into(buf: &[u8], limits: &SipLimits, head: &mut Head) -> Result<bool, SipError> {
    // Only the first max_head_bytes can hold the head: bytes past it are never looked at.
    let win = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    let too_large_or_incomplete = || {
        if buf.len() > limits.max_head_bytes {
            Err(SipError::HeadTooLarge)
        } else {
            Ok(false)
        }
    };
    let Some(nl) = find_newline(win, 0) else {
        return too_large_or_incomplete();
    };
    head.line_end = u32_of(content_end(win, 0, nl))?;
    head.fields_end = 0;
    head.body_start = 0;
    head.index.clear();
    head.core = [0; CORE_SLOTS];
    head.seen = 0;
    head.content_length = None;
    head.bad_content_length = false;
    head.error = None;
    head.len = 0;
    let mut pos = nl + 1;
    let mut count = 0usize;
    // After a malformed line no more fields are indexed (RFC 3261 gives no way to resync);
    // the scan only looks for the empty line.
    let mut fields_ok = true;
    loop {
        match line_start(win, pos) {
            LineStart::Empty(fields_end, body_start) => {
                head.fields_end = u32_of(fields_end)?;
                head.body_start = u32_of(body_start)?;
                return Ok(true);
            }
            LineStart::Incomplete => return too_large_or_incomplete(),
            LineStart::Field => {}
        }
        if !fields_ok {
            let Some(nl) = find_newline(win, pos) else {
                return too_large_or_incomplete();
            };
            pos = nl + 1;
            continue;
        }
        // Name: a token, optional SP/HT, then the colon.
        let start = pos;
        let Some((name, name_end, colon)) = field_name(win, start) else {
            head.error
                .get_or_insert(SipError::BadHeader(HeaderKind::Other));
            fields_ok = false;
            continue;
        };
        // Value: up to the line end, continued over folded lines (next line starts SP/HT).
        let mut line_from = colon + 1;
        let value_end = loop {
            let Some(nl) = find_newline(win, line_from) else {
                return too_large_or_incomplete();
            };
            match win.get(nl + 1) {
                Some(b' ' | b'\t') => line_from = nl + 1,
                Some(_) => {
                    pos = nl + 1;
                    break content_end(win, line_from, nl);
                }
                None => return too_large_or_incomplete(),
            }
        };
        let mut value_start = colon + 1;
        while value_start < value_end && win.get(value_start).is_some_and(|&b| is_lws(b)) {
            value_start += 1;
        }
        let mut value_end = value_end;
        while value_end > value_start && win.get(value_end - 1).is_some_and(|&b| is_lws(b)) {
            value_end -= 1;
        }
        count += 1;
        if name == HeaderName::ContentLength {
            let n = digits(win.get(value_start..value_end).unwrap_or_default());
            match (n, head.content_length) {
                (None, _) => head.bad_content_length = true,
                (Some(n), Some(m)) if n != m => head.bad_content_length = true,
                (Some(n), _) => head.content_length = Some(n),
            }
        }
        if count > limits.max_headers {
            // Counted on (framing still needs Content-Length), no longer indexed.
            head.error.get_or_insert(SipError::TooManyHeaders);
            continue;
        }
        if value_end - start > limits.max_header_len {
            head.error.get_or_insert(SipError::HeaderTooLong);
        }
        if let Some(c) = head.core.get_mut(name as usize) {
            if *c == 0 {
                // count <= max_headers; positions past u16::MAX cannot occur within a head.
                *c = u16::try_from(count).unwrap_or(0);
            } else if name != HeaderName::Via && name != HeaderName::ContentLength {
                head.error
                    .get_or_insert(SipError::DuplicateHeader(HeaderKind::from(name)));
            }
        }
        head.index
            .push_field(name, [start, name_end, value_start, value_end])?;
        head.seen |= seen_bit(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> SipLimits {
        SipLimits::default()
    }

    fn fields(buf: &[u8]) -> Vec<(String, String)> {
        let h = scan(buf, &lim()).unwrap().unwrap();
        let s = |a: u32, b: u32| String::from_utf8_lossy(&buf[a as usize..b as usize]).into_owned();
        h.index
            .iter()
            .map(|e| (s(e.name_start, e.name_end), s(e.value_start, e.value_end)))
            .collect()
    }

    #[test]
    fn folded_fields() {
        let buf = b"X\r\nA : 1\r\n 2\r\nB:\r\n\t3  \r\n\r\n";
        assert_eq!(
            fields(buf),
            vec![("A".into(), "1\r\n 2".into()), ("B".into(), "3".into())]
        );
    }

    #[test]
    fn bad_lines_stop_indexing_but_not_framing() {
        let buf = b"X\r\nno colon\r\nContent-Length: 3\r\n\r\nabc";
        let h = scan(buf, &lim()).unwrap().unwrap();
        assert_eq!(h.error, Some(SipError::BadHeader(HeaderKind::Other)));
        assert_eq!(h.index.len(), 0);
        assert_eq!(h.content_length, None);
        assert_eq!(h.body_start as usize, buf.len() - 3);
        let buf = b"X\r\nbad name: 1\r\n\r\n";
        let h = scan(buf, &lim()).unwrap().unwrap();
        assert_eq!(h.error, Some(SipError::BadHeader(HeaderKind::Other)));
    }

    #[test]
    fn content_length_agreement() {
        let h = scan(b"X\r\nl: 5\r\nContent-Length:\r\n 5\r\n\r\n", &lim())
            .unwrap()
            .unwrap();
        assert_eq!((h.content_length, h.bad_content_length), (Some(5), false));
        let h = scan(b"X\r\nl: 5\r\nContent-Length: 6\r\n\r\n", &lim())
            .unwrap()
            .unwrap();
        assert!(h.bad_content_length);
        let h = scan(b"X\r\nl: -1\r\n\r\n", &lim()).unwrap().unwrap();
        assert!(h.bad_content_length);
    }

    proptest::proptest! {
        /// The index gives back every pushed field in order, whether the fields sit inline
        /// (compact offsets) or spilled to the heap (past [`INLINE_HEADERS`] fields, or an
        /// offset past 16 bits).
        #[test]
        fn index_keeps_every_field(
            fields in proptest::collection::vec((0u32..70_000, 0u32..70_000, 0u8..3), 0..40),
        ) {
            let names = [HeaderName::Via, HeaderName::To, HeaderName::Other];
            let entries: Vec<Entry> = fields
                .iter()
                .map(|&(a, b, n)| Entry {
                    name: names[usize::from(n)],
                    name_start: a,
                    name_end: a.saturating_add(3),
                    value_start: b,
                    value_end: b.saturating_add(7),
                })
                .collect();
            let mut index = Index::new();
            let mut by_field = Index::new();
            for &e in &entries {
                index.push(e);
                let at = [e.name_start, e.name_end, e.value_start, e.value_end].map(|o| o as usize);
                by_field.push_field(e.name, at).unwrap();
            }
            proptest::prop_assert_eq!(by_field.iter().collect::<Vec<_>>(), entries.clone());
            proptest::prop_assert_eq!(index.len(), entries.len());
            proptest::prop_assert_eq!(index.iter().collect::<Vec<_>>(), entries.clone());
            for (i, e) in entries.iter().enumerate() {
                proptest::prop_assert_eq!(index.get(i), Some(*e));
            }
            proptest::prop_assert_eq!(index.get(entries.len()), None);
        }
    }

    #[test]
    fn window_bounds_the_scan() {
        let small = SipLimits {
            max_head_bytes: 8,
            ..lim()
        };
        assert_eq!(
            scan(b"A\r\nB: c\r\n\r\n", &small).err(),
            Some(SipError::HeadTooLarge)
        );
        assert!(scan(b"A\r\nB: c", &small).unwrap().is_none());
        assert!(scan(b"A\r\n\r\n", &small).unwrap().is_some());
    }
}
