//! Splitting a SIP head into the start line and header fields (RFC 3261 §7.3.1): CRLF line
//! ends (a bare LF is tolerated), line folding, white space before the colon. Offsets only.

use super::SipError;
use super::error::HeaderKind;
use super::scan::{is_lws, is_token_byte};

/// Index of the first `\n` in `hay`, eight bytes at a time (SWAR; no unsafe, no dependency).
pub(crate) fn find_newline(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default()) ^ NL;
        if word.wrapping_sub(LO) & !word & HI != 0 {
            break;
        }
        offset += 8;
    }
    hay.get(offset..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + offset)
}

/// Where the head ends: `(end of the last header line, start of the body)`. The head is
/// everything before the first empty line.
pub(crate) fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(off) = find_newline(buf.get(from..)?) {
        let nl = from + off;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some((nl + 1, nl + 2)),
            Some(b'\r') => match buf.get(nl + 2) {
                Some(b'\n') => return Some((nl + 1, nl + 3)),
                Some(_) => {}
                None => return None,
            },
            _ => {}
        }
        from = nl + 1;
    }
    None
}

/// End of the line starting at `pos` (index of its `\n`, or `end`), and the content end (before
/// an optional `\r`).
fn line_at(buf: &[u8], pos: usize, end: usize) -> (usize, usize) {
    let slice = buf.get(pos..end).unwrap_or_default();
    let nl = slice
        .iter()
        .position(|&b| b == b'\n')
        .map_or(end, |o| pos + o);
    let content_end = if nl > pos && buf.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    (nl, content_end)
}

/// The start line: its content end and where the header fields begin.
pub(crate) fn start_line(buf: &[u8], head_end: usize) -> (usize, usize) {
    let (nl, content_end) = line_at(buf, 0, head_end);
    (content_end, (nl + 1).min(head_end))
}

/// One header field as offsets into the message: name `[start, name_end)`, value
/// `[value_start, value_end)` trimmed of LWS, folding inside kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub start: usize,
    pub name_end: usize,
    pub value_start: usize,
    pub value_end: usize,
}

/// Iterator over the header fields in `buf[pos..end]`.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Fields { buf, pos, end }
    }
}

impl Iterator for Fields<'_> {
    type Item = Result<Field, SipError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let (nl, content_end) = line_at(self.buf, start, self.end);
        let line = self.buf.get(start..content_end).unwrap_or_default();
        let bad = Some(Err(SipError::BadHeader(HeaderKind::Other)));
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            self.pos = self.end;
            return bad;
        };
        let name = line.get(..colon).unwrap_or_default();
        let name_len = name.len()
            - name
                .iter()
                .rev()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        let name = name.get(..name_len).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            self.pos = self.end;
            return bad;
        }
        let mut value_end = content_end;
        let mut next = nl + 1;
        while next < self.end && matches!(self.buf.get(next), Some(b' ' | b'\t')) {
            let (nl2, ce2) = line_at(self.buf, next, self.end);
            value_end = ce2;
            next = nl2 + 1;
        }
        self.pos = next;
        let mut value_start = start + colon + 1;
        while value_start < value_end && self.buf.get(value_start).is_some_and(|&b| is_lws(b)) {
            value_start += 1;
        }
        while value_end > value_start && self.buf.get(value_end - 1).is_some_and(|&b| is_lws(b)) {
            value_end -= 1;
        }
        Some(Ok(Field {
            start,
            name_end: start + name_len,
            value_start,
            value_end,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_newline_matches_position() {
        let mut buf = vec![b'a'; 40];
        assert_eq!(find_newline(&buf), None);
        for i in 0..40 {
            buf.iter_mut().for_each(|b| *b = b'a');
            buf[i] = b'\n';
            if i + 3 < 40 {
                buf[i + 3] = b'\n';
            }
            buf[0] = if i == 0 { b'\n' } else { 0x8a };
            for start in 0..8 {
                let want = buf[start..].iter().position(|&b| b == b'\n');
                assert_eq!(find_newline(&buf[start..]), want, "i={i} start={start}");
            }
        }
    }

    #[test]
    fn head_end_crlf_and_lf() {
        assert_eq!(head_end(b"A\r\nB: c\r\n\r\nbody"), Some((9, 11)));
        assert_eq!(head_end(b"A\nB: c\n\nbody"), Some((7, 8)));
        assert_eq!(head_end(b"A\r\nB: c\r\n\r"), None);
        assert_eq!(head_end(b"A\r\nB: c\r\n"), None);
    }

    #[test]
    fn folded_fields() {
        let buf = b"X\r\nA : 1\r\n 2\r\nB:\r\n\t3  \r\n";
        let (_, first) = start_line(buf, buf.len());
        let f: Vec<Field> = Fields::new(buf, first, buf.len())
            .map(Result::unwrap)
            .collect();
        assert_eq!(f.len(), 2);
        let s = |a: usize, b: usize| std::str::from_utf8(&buf[a..b]).unwrap();
        assert_eq!(s(f[0].start, f[0].name_end), "A");
        assert_eq!(s(f[0].value_start, f[0].value_end), "1\r\n 2");
        assert_eq!(s(f[1].value_start, f[1].value_end), "3");
    }

    #[test]
    fn bad_lines() {
        let buf = b"X\r\nno colon\r\n";
        assert!(Fields::new(buf, 3, buf.len()).next().unwrap().is_err());
        let buf = b"X\r\nbad name: 1\r\n";
        assert!(Fields::new(buf, 3, buf.len()).next().unwrap().is_err());
    }
}
