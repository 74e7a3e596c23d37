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

/// Index of the first `sep` outside quoted strings and `<…>`, if any: [`find_top_level`] for
/// one separator. One vector search covers the common case of a value without quotes or angle
/// brackets before the separator; from the first quote or `<` on, the byte loop takes over.
pub(crate) fn find_top_level_byte(s: &[u8], sep: u8) -> Option<usize> {
    let i = memchr::memchr3(sep, b'"', b'<', s)?;
    if s.get(i) == Some(&sep) {
        return Some(i);
    }
    // No quote or `<` before `i`: the state there is "outside", as at the start.
    find_top_level(s.get(i..)?, |b| b == sep).map(|j| i + j)
}

/// `a` equal to `b` up to ASCII case. Names and tokens are nearly always written in the case
/// they are compared with: equal bytes are one comparison, the fold runs only when they differ.
#[inline]
pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// Index of the first `\n` at or after `from`, eight bytes at a time (SWAR). Header lines are
/// short, where this beats a vector search's set-up. Kept out of line: inlined into the
/// framer's loop, it made that loop slower.
#[inline(never)]
pub(crate) fn find_newline(s: &[u8], from: usize) -> Option<usize> {
    find_byte(s, from, b'\n')
}

/// Index of the first `byte` at or after `from`, eight bytes at a time (SWAR).
#[inline]
pub(crate) fn find_byte(s: &[u8], from: usize, byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ pattern;
        // The lowest set high bit marks the first zero byte of `x` (borrows only run upward).
        let found = x.wrapping_sub(ONES) & !x & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if b == byte {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// True when `s` holds a byte at or below SP, or DEL (what a Call-ID may not hold), eight
/// bytes at a time (SWAR): a byte below 0x21 borrows through its high bit, DEL is found as a
/// zero byte of `x ^ 0x7f…`; a borrow only runs on from a byte that is itself a hit.
pub(crate) fn has_space_or_control(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    for chunk in &mut words {
        let x = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        let y = x ^ (ONES * 0x7f);
        let del = y.wrapping_sub(ONES) & !y & HIGH;
        if low | del != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b <= b' ' || b == 0x7f)
}

/// True when every byte of `s` is ASCII, eight bytes at a time (SWAR). The last word is read
/// overlapping the one before it, so bytes are looked at one by one only in a slice under 8.
pub(crate) fn all_ascii(s: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let plain = |c: &[u8]| <[u8; 8]>::try_from(c).is_ok_and(|w| u64::from_le_bytes(w) & HIGH == 0);
    match s.len().checked_sub(8) {
        None => s.is_ascii(),
        Some(last) => s.chunks_exact(8).all(plain) && s.get(last..).is_some_and(plain),
    }
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
        match find_top_level_byte(rest, b',') {
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
        let (param, next) = match plain_param(rest) {
            Some((param, next)) => (Ok(param), next),
            None => general_param(rest),
        };
        self.rest = next;
        Some(param)
    }
}

/// The next parameter of `rest` by its general definition: the text up to the next top-level
/// `;`, then [`parse_param`]. Returns the parameter and the text after its `;`.
fn general_param(rest: &str) -> (Result<Param<'_>, ()>, Option<&str>) {
    let (item, next) = match find_top_level_byte(rest.as_bytes(), b';') {
        Some(i) => (rest.get(..i).unwrap_or_default(), rest.get(i + 1..)),
        None => (rest, None),
    };
    (parse_param(item), next)
}

/// Index of the first byte at or after `i` that is not linear white space.
fn skip_lws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_lws(c)) {
        i += 1;
    }
    i
}

/// A parameter value byte outside quotes (token, or `:`, `[`, `]` for IPv6 `received`/`maddr`),
/// one table lookup per byte.
pub(crate) fn is_value_byte(b: u8) -> bool {
    VALUE[usize::from(b)]
}

const VALUE: [bool; 256] = {
    let mut t = TOKEN;
    t[b':' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// The usual parameter, `LWS token LWS [ "=" LWS (value | quoted-string) LWS ]` followed by
/// `;` or the end, read in one pass: the parameter and the text after its `;`. `None` for any
/// other shape, which the general path ([`find_top_level`] then [`parse_param`]) decides; on
/// every input this accepts, the general path gives the same parameter and rest.
fn plain_param(rest: &str) -> Option<(Param<'_>, Option<&str>)> {
    let b = rest.as_bytes();
    let name_start = skip_lws(b, 0);
    let mut i = name_start;
    while b.get(i).is_some_and(|&c| is_token_byte(c)) {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = rest.get(name_start..i)?;
    i = skip_lws(b, i);
    let mut value = None;
    if b.get(i) == Some(&b'=') {
        let start = skip_lws(b, i + 1);
        i = start;
        if b.get(i) == Some(&b'"') {
            i += quoted_end(b.get(i..)?)?;
        } else {
            while b.get(i).is_some_and(|&c| is_value_byte(c)) {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        value = Some(rest.get(start..i)?);
        i = skip_lws(b, i);
    }
    match b.get(i) {
        None => Some(((name, value), None)),
        Some(b';') => Some(((name, value), Some(rest.get(i + 1..)?))),
        Some(_) => None,
    }
}

/// Parameters written tightly, `token [ "=" value ] *( ";" token [ "=" value ] )` with no white
/// space and no quoted value, each handed to `f` in one pass. `None` for any other shape, or
/// when `f` returns `None`: callers then take [`Params`], which gives the same parameters for
/// every text this accepts.
#[inline]
pub(crate) fn tight_params<'a>(
    text: &'a str,
    mut f: impl FnMut(&'a str, Option<&'a str>) -> Option<()>,
) -> Option<()> {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        let name_start = i;
        i += b
            .get(i..)?
            .iter()
            .position(|&c| !is_token_byte(c))
            .unwrap_or(b.len() - i);
        if i == name_start {
            return None;
        }
        let name = text.get(name_start..i)?;
        let value = if b.get(i) == Some(&b'=') {
            let start = i + 1;
            i = start;
            i += b
                .get(i..)?
                .iter()
                .position(|&c| !is_value_byte(c))
                .unwrap_or(b.len() - i);
            if i == start {
                return None;
            }
            Some(text.get(start..i)?)
        } else {
            None
        };
        f(name, value)?;
        match b.get(i) {
            None => return Some(()),
            Some(b';') => i += 1,
            Some(_) => return None,
        }
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
            !v.is_empty() && v.bytes().all(is_value_byte)
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

/// True when every parameter is well formed: at once for tightly written ones
/// ([`tight_params`]), else by [`Params`].
pub(crate) fn params_valid(params: &str) -> bool {
    tight_params(params, |_, _| Some(())).is_some() || Params::new(params).all(|p| p.is_ok())
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
    fn all_ascii_sees_a_high_byte_anywhere_in_any_length() {
        for len in 0..40 {
            let plain = vec![b'a'; len];
            assert!(all_ascii(&plain), "{len}");
            for at in 0..len {
                for high in [0x80, 0xc3, 0xff] {
                    let mut s = plain.clone();
                    s[at] = high;
                    assert!(!all_ascii(&s), "{len} {at} {high:#x}");
                }
            }
        }
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

    /// Every parameter of `text` by the general path alone.
    fn general_params(text: &str) -> Vec<Result<Param<'_>, ()>> {
        let text = trim(text);
        let mut rest = (!text.is_empty()).then_some(text);
        let mut out = Vec::new();
        while let Some(r) = rest {
            let (p, next) = general_param(r);
            out.push(p);
            rest = next;
        }
        out
    }

    #[test]
    fn plain_param_agrees_with_the_general_path() {
        let cases = [
            "branch=z9hG4bK1;rport;received=10.0.0.1",
            " tag = 1 ; lr ; q=\"a;b\"",
            "a=;b",
            "a= ;b",
            "a=1 2;b",
            "x=<a;b>;c",
            "q=\"a\\\"b\" ;z",
            "q=\"open",
            "a;;b;",
            "maddr=[::1];ttl=5",
            "=1",
            "a=b=c",
            "a\"=b\"",
            "a=\"x\"y",
            "a=1,b=2",
        ];
        for c in cases {
            assert_eq!(
                Params::new(c).collect::<Vec<_>>(),
                general_params(c),
                "{c:?}"
            );
        }
        // The tight path answers for the usual shape, with the same parameters.
        let mut seen = Vec::new();
        let tight = tight_params(cases[0], |n, v| {
            seen.push(Ok((n, v)));
            Some(())
        });
        assert!(tight.is_some());
        assert_eq!(seen, general_params(cases[0]));
        assert!(tight_params(cases[1], |_, _| Some(())).is_none());
    }

    proptest::proptest! {
        #[test]
        fn plain_param_agrees_on_any_text(s in "[a-z0-9 =;\"<>\\\\:,\\[\\]\t\r\n]{0,24}") {
            proptest::prop_assert_eq!(Params::new(&s).collect::<Vec<_>>(), general_params(&s));
        }

        #[test]
        fn tight_params_agree_with_the_general_path(s in "[a-z0-9 =;\"\\[:\t]{0,24}") {
            let mut seen = Vec::new();
            if tight_params(&s, |n, v| { seen.push(Ok((n, v))); Some(()) }).is_some() {
                proptest::prop_assert_eq!(seen, general_params(&s));
            }
        }

        #[test]
        fn find_newline_agrees_with_a_byte_search(
            s in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\n', b'\r', 0x8a, 0x0b]), 0..40),
            from in 0usize..40,
        ) {
            let expected = s.get(from..).and_then(|r| r.iter().position(|&b| b == b'\n')).map(|i| i + from);
            proptest::prop_assert_eq!(find_newline(&s, from), expected);
        }

        #[test]
        fn space_or_control_agrees_with_a_byte_test(
            s in proptest::collection::vec(proptest::sample::select(vec![b'a', b' ', 0x20, 0x21, 0x1f, 0x00, 0x7f, 0x7e, 0x80, 0xa1, 0xff, b'\t']), 0..40),
        ) {
            let expected = s.iter().any(|&b| b <= b' ' || b == 0x7f);
            proptest::prop_assert_eq!(has_space_or_control(&s), expected);
        }

        #[test]
        fn find_top_level_byte_agrees(s in "[a-z;,\"<>\\\\]{0,24}") {
            let b = s.as_bytes();
            proptest::prop_assert_eq!(find_top_level_byte(b, b','), find_top_level(b, |c| c == b','));
            proptest::prop_assert_eq!(find_top_level_byte(b, b';'), find_top_level(b, |c| c == b';'));
        }
    }

    #[test]
    fn value_table_is_token_or_ipv6_punctuation() {
        for b in 0..=255u8 {
            let expected = is_token_byte(b) || matches!(b, b':' | b'[' | b']');
            assert_eq!(is_value_byte(b), expected, "{b:#x}");
        }
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
