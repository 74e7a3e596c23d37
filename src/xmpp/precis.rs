//! PRECIS profiles (RFC 8264, RFC 8265) as RFC 7622 applies them to JID parts, and the IDNA
//! (UTS #46) domainpart, as far as a gateway needs them.
//!
//! - Localpart, `UsernameCaseMapped` (RFC 8265 §3.3): width mapping of the fullwidth and
//!   halfwidth forms, Unicode lower-casing, NFC; then the `IdentifierClass` check (RFC 8264
//!   §4.2: ASCII printable or letters, marks and decimal digits; no symbols, punctuation,
//!   spaces, controls, unassigned or compatibility-decomposable code points) and the
//!   characters RFC 7622 §3.3.1 forbids (`" & ' / : < > @`). The bidi rule is not applied.
//! - Resourcepart, `OpaqueString` (RFC 8265 §4.2): non-ASCII spaces become U+0020, NFC; no
//!   control characters.
//! - Domainpart (RFC 7622 §3.2): UTS #46 processing to A-labels (which also lower-cases and
//!   normalises), each label checked as letters, digits, hyphen or underscore, and the result
//!   kept as U-labels, so `xn--` and Unicode spellings of one domain compare equal.
//!
//! Pure-ASCII input takes a fast path with the same result (lower-casing only).

use std::borrow::Cow;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::decompose_compatible;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a part was refused (mapped onto `JidError` by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrecisError {
    /// A code point the profile disallows.
    Disallowed,
}

/// Characters RFC 7622 §3.3.1 forbids in a localpart.
fn is_jid_forbidden(c: char) -> bool {
    matches!(c, '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@')
}

/// RFC 8265 §3.3.2 rule 1: map fullwidth and halfwidth forms to their decomposition.
fn width_map(c: char, out: &mut String) {
    if ('\u{FF00}'..='\u{FFEF}').contains(&c) {
        decompose_compatible(c, |d| out.push(d));
    } else {
        out.push(c);
    }
}

/// RFC 8264 §4.2 `IdentifierClass`, approximated by general category: ASCII printable
/// (U+0021–U+007E) or `LetterDigits` (Ll Lu Lo Nd Lm Mn Mc), and not compatibility-
/// decomposable (`HasCompat`).
fn identifier_class_allows(c: char) -> bool {
    if c.is_ascii() {
        return ('\u{21}'..='\u{7E}').contains(&c);
    }
    let letter_digit = matches!(
        c.general_category(),
        GeneralCategory::LowercaseLetter
            | GeneralCategory::UppercaseLetter
            | GeneralCategory::OtherLetter
            | GeneralCategory::DecimalNumber
            | GeneralCategory::ModifierLetter
            | GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
    );
    letter_digit && !has_compat(c)
}

/// Whether NFKC changes `c` (RFC 8264 §9.17 `HasCompat`).
fn has_compat(c: char) -> bool {
    !std::iter::once(c).nfkc().eq(std::iter::once(c))
}

/// Enforce `UsernameCaseMapped` on a localpart.
pub(crate) fn localpart(s: &str) -> Result<Cow<'_, str>, PrecisError> {
    if s.is_ascii() {
        if s.chars()
            .any(|c| !identifier_class_allows(c) || is_jid_forbidden(c))
        {
            return Err(PrecisError::Disallowed);
        }
        return Ok(if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        });
    }
    let mut mapped = String::with_capacity(s.len());
    for c in s.chars() {
        width_map(c, &mut mapped);
    }
    let lowered = mapped.to_lowercase();
    let out: String = lowered.nfc().collect();
    if out
        .chars()
        .any(|c| !identifier_class_allows(c) || is_jid_forbidden(c))
    {
        return Err(PrecisError::Disallowed);
    }
    Ok(Cow::Owned(out))
}

/// Enforce `OpaqueString` on a resourcepart.
pub(crate) fn resourcepart(s: &str) -> Result<Cow<'_, str>, PrecisError> {
    if s.chars().any(char::is_control) {
        return Err(PrecisError::Disallowed);
    }
    if s.is_ascii() {
        return Ok(Cow::Borrowed(s));
    }
    let spaced = s.chars().map(|c| {
        if !c.is_ascii() && c.general_category() == GeneralCategory::SpaceSeparator {
            ' '
        } else {
            c
        }
    });
    let out: String = spaced.nfc().collect();
    Ok(if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    })
}

/// A domainpart label in its ASCII (A-label or LDH) form.
fn check_ascii_label(label: &str) -> Result<(), PrecisError> {
    let ok = !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(PrecisError::Disallowed)
    }
}

/// Enforce RFC 7622 §3.2 on a domainpart that is not an IP literal (trailing dot already
/// removed): returns the U-label form.
pub(crate) fn domainpart(d: &str) -> Result<Cow<'_, str>, PrecisError> {
    let has_alabel = d.split('.').any(|l| {
        l.as_bytes()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
    });
    if d.is_ascii() && !has_alabel {
        for label in d.split('.') {
            check_ascii_label(label)?;
        }
        return Ok(if d.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(d.to_ascii_lowercase())
        } else {
            Cow::Borrowed(d)
        });
    }
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            d.as_bytes(),
            AsciiDenyList::URL,
            Hyphens::Allow,
            DnsLength::Ignore,
        )
        .map_err(|_| PrecisError::Disallowed)?;
    for label in ascii.split('.') {
        check_ascii_label(label)?;
    }
    let (unicode, result) = uts46.to_unicode(ascii.as_bytes(), AsciiDenyList::URL, Hyphens::Allow);
    result.map_err(|_| PrecisError::Disallowed)?;
    Ok(Cow::Owned(unicode.into_owned()))
}

/// The A-label (ASCII) form of a domainpart in U-label form, for DNS.
pub(crate) fn domain_ascii(d: &str) -> Cow<'_, str> {
    if d.is_ascii() {
        return Cow::Borrowed(d);
    }
    Uts46::new()
        .to_ascii(
            d.as_bytes(),
            AsciiDenyList::URL,
            Hyphens::Allow,
            DnsLength::Ignore,
        )
        .map(|a| Cow::Owned(a.into_owned()))
        .unwrap_or(Cow::Borrowed(d))
}
