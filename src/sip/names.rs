//! Header-name classification (RFC 3261 §7.3, §20; compact forms §7.3.3) for the head scan:
//! the name is typed where it lies in the message, without copying it out.
//!
//! A long name is found by its length, first and last letter (case folded) in a two-way
//! bucket table, then compared against one or two candidates eight bytes at a time. The scan
//! passes the whole head, so the words are loaded straight from the message and the bytes past
//! the name are masked off; only a name at the very end of the buffer is assembled byte by byte.

use super::header::{HeaderName, TABLE};

/// Buckets of [`BY_BUCKET`]: twice the table, so no bucket holds more than two names.
const BUCKETS: usize = 128;

/// Longest long name in [`TABLE`], in 8-byte words.
const FOLD_WORDS: usize = 4;

/// The bucket of a long name: its length, first and last letter (case folded).
const fn bucket(len: usize, first: u8, last: u8) -> usize {
    (len ^ ((first | 0x20) as usize).wrapping_mul(13) ^ (last | 0x20) as usize) & (BUCKETS - 1)
}

/// Bucket → up to two table rows + 1 (0 = empty). Built and checked at compile time.
const BY_BUCKET: [[u8; 2]; BUCKETS] = {
    assert!(TABLE.len() == HeaderName::Other as usize && TABLE.len() < 255);
    let mut out = [[0u8; 2]; BUCKETS];
    let mut i = 0;
    while i < TABLE.len() {
        assert!(TABLE[i].name as usize == i, "TABLE must follow enum order");
        let long = TABLE[i].long.as_bytes();
        let b = bucket(long.len(), long[0], long[long.len() - 1]);
        if out[b][0] == 0 {
            out[b][0] = i as u8 + 1;
        } else {
            assert!(out[b][1] == 0, "more than two names share a bucket");
            out[b][1] = i as u8 + 1;
        }
        i += 1;
    }
    out
};

/// A long name prepared for a case-insensitive compare eight bytes at a time (SWAR): the
/// name in lower case, and a mask with 0x20 at its letters. `(wire | mask) == lower` holds
/// exactly when the wire bytes equal the name up to ASCII case: at a letter, OR-ing 0x20
/// folds only the two cases of that letter onto it; elsewhere the bytes must be equal.
#[derive(Clone, Copy)]
struct Folded {
    len: usize,
    lower: [u64; FOLD_WORDS],
    mask: [u64; FOLD_WORDS],
    /// 0xff at the name's bytes: what a word loaded from the message keeps.
    keep: [u64; FOLD_WORDS],
}

impl Folded {
    const fn of(long: &[u8]) -> Folded {
        assert!(
            long.len() <= FOLD_WORDS * 8,
            "FOLD_WORDS too small for a long name"
        );
        let mut lower = [0u64; FOLD_WORDS];
        let mut mask = [0u64; FOLD_WORDS];
        let mut keep = [0u64; FOLD_WORDS];
        let mut i = 0;
        while i < long.len() {
            let b = long[i];
            let shift = (i % 8) * 8;
            let letter = if b.is_ascii_alphabetic() { 0x20u64 } else { 0 };
            lower[i / 8] |= ((b as u64) | letter) << shift;
            mask[i / 8] |= letter << shift;
            keep[i / 8] |= 0xff << shift;
            i += 1;
        }
        Folded {
            len: long.len(),
            lower,
            mask,
            keep,
        }
    }

    /// The `len` bytes at `start` of `buf` equal the long name up to ASCII case, given `w0`,
    /// the [`word`] at `start`.
    #[inline(always)]
    fn matches(&self, buf: &[u8], start: usize, len: usize, w0: u64) -> bool {
        let same = |w: u64, k: usize| match (self.keep.get(k), self.mask.get(k), self.lower.get(k))
        {
            (Some(keep), Some(mask), Some(lower)) => ((w & keep) | mask) == *lower,
            _ => false,
        };
        // Unrolled over the (at most four) words: constant indexes into the word arrays.
        self.len == len
            && same(w0, 0)
            && (len <= 8 || same(word(buf, start + 8), 1))
            && (len <= 16 || same(word(buf, start + 16), 2))
            && (len <= 24 || same(word(buf, start + 24), 3))
    }
}

/// The eight bytes at `at` of `buf` as a little-endian word: one load when they are there,
/// else what there is, zero-filled.
#[inline(always)]
fn word(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at + 8) {
        Some(c) => <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes),
        None => word_at_end(buf, at),
    }
}

/// Up to eight bytes from `at` to the end of `buf` as a little-endian word, zero-filled: the
/// rare name that ends the buffer, kept out of line so the usual load stays a plain branch.
#[cold]
#[inline(never)]
fn word_at_end(buf: &[u8], at: usize) -> u64 {
    buf.get(at..)
        .unwrap_or_default()
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b))
}

/// [`TABLE`]'s long names prepared for [`Folded::matches`], in table order.
const FOLDED: [Folded; HeaderName::Other as usize] = {
    let mut out = [Folded {
        len: 0,
        lower: [0; FOLD_WORDS],
        mask: [0; FOLD_WORDS],
        keep: [0; FOLD_WORDS],
    }; HeaderName::Other as usize];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = Folded::of(TABLE[i].long.as_bytes());
        i += 1;
    }
    out
};

/// Compact letter → header.
const COMPACT: [Option<HeaderName>; 26] = {
    let mut out = [None; 26];
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(c) = TABLE[i].compact {
            assert!(out[(c - b'a') as usize].is_none(), "duplicate compact form");
            out[(c - b'a') as usize] = Some(TABLE[i].name);
        }
        i += 1;
    }
    out
};

/// The header named by the `len` bytes at `start` of `buf` (any case, compact or long);
/// `Other` for any other name, an empty one, or one past the end of `buf`.
#[inline]
pub(crate) fn classify(buf: &[u8], start: usize, len: usize) -> HeaderName {
    let (Some(&first), Some(&last)) = (
        buf.get(start),
        len.checked_sub(1).and_then(|l| buf.get(start + l)),
    ) else {
        return HeaderName::Other;
    };
    if len == 1 {
        return COMPACT
            .get(usize::from(first.to_ascii_lowercase().wrapping_sub(b'a')))
            .copied()
            .flatten()
            .unwrap_or(HeaderName::Other);
    }
    let Some(rows) = BY_BUCKET.get(bucket(len, first, last)) else {
        return HeaderName::Other;
    };
    // The first word is loaded once for both candidates.
    let w0 = word(buf, start);
    for &r in rows {
        let Some(row) = usize::from(r).checked_sub(1) else {
            break;
        };
        if let (Some(f), Some(info)) = (FOLDED.get(row), TABLE.get(row))
            && f.matches(buf, start, len, w0)
        {
            return info.name;
        }
    }
    HeaderName::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general definition: a compact letter, or a long name equal up to ASCII case.
    fn by_table(name: &[u8]) -> HeaderName {
        TABLE
            .iter()
            .find(|i| {
                i.long.as_bytes().eq_ignore_ascii_case(name)
                    || (name.len() == 1 && i.compact == Some(name[0].to_ascii_lowercase()))
            })
            .map_or(HeaderName::Other, |i| i.name)
    }

    #[test]
    fn every_name_in_any_case_and_with_any_tail() {
        for info in TABLE {
            for name in [
                info.long.to_string(),
                info.long.to_ascii_uppercase(),
                info.long.to_ascii_lowercase(),
            ] {
                let mut buf = name.clone().into_bytes();
                assert_eq!(classify(&buf, 0, buf.len()), info.name, "{name}");
                buf.extend_from_slice(b": value\r\n\r\n");
                assert_eq!(classify(&buf, 0, name.len()), info.name, "{name}");
                let mut shifted = b"Xx".to_vec();
                shifted.extend_from_slice(&buf);
                assert_eq!(classify(&shifted, 2, name.len()), info.name, "{name}");
                // One byte short or long is another name.
                assert_ne!(classify(&buf, 0, name.len() + 1), info.name, "{name}");
            }
        }
        assert_eq!(classify(b"", 0, 0), HeaderName::Other);
        assert_eq!(classify(b"Via", 2, 3), HeaderName::Other);
        assert_eq!(classify(b"Via", 0, 0), HeaderName::Other);
    }

    proptest::proptest! {
        /// Any name, anywhere in a buffer, with anything after it, is classified as the table
        /// says. Names are drawn near the table's spellings so that matches are exercised.
        #[test]
        fn agrees_with_the_table(
            row in 0usize..65,
            edits in proptest::collection::vec((0usize..32, proptest::sample::select(vec![b'-', b'a', b'Z', b'@', b'`', 0xc3, b'{', b'['])), 0..2),
            case in proptest::collection::vec(proptest::bool::ANY, 32),
            cut in 0usize..3,
            pre in "[a-z]{0,3}",
            post in proptest::collection::vec(proptest::num::u8::ANY, 0..12),
        ) {
            let info = TABLE.get(row % TABLE.len()).unwrap();
            let mut name: Vec<u8> = info
                .long
                .bytes()
                .zip(&case)
                .map(|(b, &up)| if up { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() })
                .collect();
            for (at, b) in edits {
                if let Some(c) = name.get_mut(at) {
                    *c = b;
                }
            }
            name.truncate(name.len().saturating_sub(cut).max(1));
            let mut buf = pre.clone().into_bytes();
            buf.extend_from_slice(&name);
            buf.extend_from_slice(&post);
            proptest::prop_assert_eq!(classify(&buf, pre.len(), name.len()), by_table(&name));
            proptest::prop_assert_eq!(classify(&name, 0, name.len()), by_table(&name));
        }

        #[test]
        fn agrees_on_short_names(name in proptest::collection::vec(proptest::num::u8::ANY, 1..4)) {
            proptest::prop_assert_eq!(classify(&name, 0, name.len()), by_table(&name));
        }
    }
}
