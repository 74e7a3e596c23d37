//! Byte-level helpers shared by the SIP parsers (RFC 3261 §25.1 basic rules): linear white
//! space, tokens, quoted strings, comma splitting and `;`-parameters. Nothing here allocates or
//! indexes out of bounds.

/// SP, HTAB, CR or LF: inside a header value CR and LF only appear as line folding.
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `token` characters (RFC 3261 §25.1), one table lookup per byte.
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// A non-empty token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Trim linear white space (including folding) at both ends.
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_lws(c)).map_or(start, |i| i + 1);
    // White space is ASCII, so both ends are char boundaries.
    s.get(start..end).unwrap_or_default()
}

/// Trim linear white space at the start.
pub(crate) fn trim_start(s: &str) -> &str {
    let start = s.bytes().position(|c| !is_lws(c)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// Splits at the first `sep` (an ASCII byte): the text before and after it. A plain loop:
/// header values are short, where a SIMD search costs more than it saves.
pub(crate) fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// True when `s` holds the ASCII byte `b`.
pub(crate) fn has_byte(s: &str, b: u8) -> bool {
    s.bytes().any(|c| c == b)
}

/// Trim linear white space at the end of a byte slice.
pub(crate) fn trim_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if is_lws(*first) {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if is_lws(*last) {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Given `s` starting with `"`, the index just past the closing quote (quoted-pair escapes
/// respected), or `None` when the quote is not closed.
pub(crate) fn quoted_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index of the first byte matching `pred` outside quoted strings and `<…>`, if any.
pub(crate) fn find_top_level(s: &[u8], pred: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    let mut in_angle = false;
    while let Some(&b) = s.get(i) {
        if b == b'"' {
            // An unterminated quote swallows the rest: nothing after it is top level.
            i += quoted_end(s.get(i..)?)?;
            continue;
        }
        if in_angle {
            if b == b'>' {
                in_angle = false;
            }
        } else if b == b'<' {
            in_angle = true;
        } else if pred(b) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Removes the surrounding quotes of a quoted string (escapes are kept).
pub(crate) fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
}

/// Splits a header value at top-level commas (outside quotes and angle brackets). Each item is
/// trimmed; empty items are yielded (callers decide whether they are errors).
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        CommaSplit { rest: Some(value) }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_top_level(rest, |b| b == b',') {
            Some(i) => {
                self.rest = rest.get(i + 1..);
                Some(trim_bytes(rest.get(..i).unwrap_or_default()))
            }
            None => {
                self.rest = None;
                Some(trim_bytes(rest))
            }
        }
    }
}

/// A `;name[=value]` parameter list, as text after the first `;`. Yields `Err(())` for an
/// empty or malformed parameter, so strict callers can reject and lenient ones skip.
#[derive(Debug, Clone)]
pub(crate) struct Params<'a> {
    rest: Option<&'a str>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let text = trim(text);
        Params {
            rest: if text.is_empty() { None } else { Some(text) },
        }
    }
}

/// One parameter: name and value as written (quotes kept).
pub(crate) type Param<'a> = (&'a str, Option<&'a str>);

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let (item, next) = match find_top_level(rest.as_bytes(), |b| b == b';') {
            Some(i) => (rest.get(..i).unwrap_or_default(), rest.get(i + 1..)),
            None => (rest, None),
        };
        self.rest = next;
        Some(parse_param(item))
    }
}

fn parse_param(item: &str) -> Result<Param<'_>, ()> {
    let (name, value) = match split_at_byte(item, b'=') {
        Some((n, v)) => (trim(n), Some(trim(v))),
        None => (trim(item), None),
    };
    if !is_token(name) {
        return Err(());
    }
    if let Some(v) = value {
        let ok = if v.starts_with('"') {
            quoted_end(v.as_bytes()) == Some(v.len())
        } else {
            !v.is_empty()
                && v.bytes()
                    .all(|b| is_token_byte(b) || matches!(b, b':' | b'[' | b']'))
        };
        if !ok {
            return Err(());
        }
    }
    Ok((name, value))
}

/// Value of the first parameter called `name` (case-insensitive), quotes removed; `Some("")`
/// for a flag. Malformed parameters are skipped.
pub(crate) fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    Params::new(params)
        .flatten()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.map(unquote).unwrap_or(""))
}

/// True when every parameter is well formed.
pub(crate) fn params_valid(params: &str) -> bool {
    Params::new(params).all(|p| p.is_ok())
}

/// Parse 1*DIGIT (with no sign or space) into a u64, `None` on overflow or a non-digit.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parse 1*DIGIT bounded by `max`.
pub(crate) fn parse_bounded(s: &str, max: u64) -> Option<u64> {
    parse_u64(s).filter(|n| *n <= max)
}

/// Splits at the first run of linear white space: `(first word, rest trimmed)`.
pub(crate) fn split_ws(s: &str) -> (&str, &str) {
    match s.bytes().position(is_lws) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            trim_start(s.get(i..).unwrap_or_default()),
        ),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v: Vec<&[u8]> = CommaSplit::new(b"\"a,b\" <sip:x;p=1,2>, c ,").collect();
        assert_eq!(v, vec![&b"\"a,b\" <sip:x;p=1,2>"[..], b"c", b""]);
    }

    #[test]
    fn params_strict_and_lenient() {
        let p: Vec<_> = Params::new(" tag = 1 ; lr ; q=\"a;b\"").collect();
        assert_eq!(
            p,
            vec![
                Ok(("tag", Some("1"))),
                Ok(("lr", None)),
                Ok(("q", Some("\"a;b\"")))
            ]
        );
        assert!(!params_valid(";,"));
        assert_eq!(param("Tag=x;lr", "tag"), Some("x"));
        assert_eq!(param("Tag=x;lr", "LR"), Some(""));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0068"), Some(68));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("99999999999999999999999"), None);
        assert_eq!(parse_bounded("256", 255), None);
    }

    #[test]
    fn quoted() {
        assert_eq!(quoted_end(br#""a\"b" x"#), Some(6));
        assert_eq!(quoted_end(br#""abc"#), None);
        assert_eq!(quoted_end(br#""abc\"#), None);
    }
}
