//! JIDs (RFC 7622): a validated newtype over one `String` with offsets, and XEP-0106 escaping.
//!
//! Normalisation follows the PRECIS profiles RFC 7622 names, as implemented in
//! [`super::precis`]: the localpart is case-mapped (`UsernameCaseMapped`: width mapping,
//! lower-casing, NFC, `IdentifierClass`, and none of `" & ' / : < > @`); the domainpart goes
//! through IDNA (UTS #46) and is kept as U-labels with a trailing dot removed, or is an IPv6
//! literal; the resourcepart is `OpaqueString` (NFC, no controls). Each part is 1–1023 bytes
//! before and after normalisation.

use std::borrow::Cow;
use std::fmt;

use super::precis;

/// Why a string is not a valid JID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JidError {
    /// Empty domainpart, or an empty localpart/resourcepart around a separator.
    Empty,
    /// A part is longer than 1023 bytes.
    TooLong,
    /// A character not allowed in that part.
    BadCharacter,
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JidError::Empty => "empty JID part",
            JidError::TooLong => "JID part too long",
            JidError::BadCharacter => "character not allowed in JID",
        })
    }
}

impl std::error::Error for JidError {}

/// Longest part in bytes (RFC 7622 §3.2–3.4).
const MAX_PART: usize = 1023;

/// A normalised JID: `[local@]domain[/resource]`, localpart case-folded, domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jid {
    text: String,
    /// Byte offset of the domainpart (0 without a localpart; else after `@`).
    domain_start: u16,
    /// Byte offset of `/`, if there is a resourcepart.
    slash: Option<u16>,
}

impl Jid {
    /// Parse and normalise.
    pub fn parse(s: &str) -> Result<Jid, JidError> {
        let (bare, resource) = match s.split_once('/') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        let (local, domain) = match bare.split_once('@') {
            Some((l, d)) => (Some(l), d),
            None => (None, bare),
        };
        let mut text = String::with_capacity(s.len());
        if let Some(l) = local {
            check_part(l)?;
            let l = precis::localpart(l).map_err(|_| JidError::BadCharacter)?;
            check_part(&l)?;
            text.push_str(&l);
            text.push('@');
        }
        let domain_start = text.len();
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        check_part(domain)?;
        let domain = if domain.starts_with('[') {
            check_ip_literal(domain)?;
            Cow::Borrowed(domain)
        } else {
            precis::domainpart(domain).map_err(|_| JidError::BadCharacter)?
        };
        check_part(&domain)?;
        text.push_str(&domain);
        let mut slash = None;
        if let Some(r) = resource {
            check_part(r)?;
            let r = precis::resourcepart(r).map_err(|_| JidError::BadCharacter)?;
            check_part(&r)?;
            slash = Some(text.len() as u16);
            text.push('/');
            text.push_str(&r);
        }
        Ok(Jid {
            text,
            domain_start: domain_start as u16,
            slash,
        })
    }

    /// Localpart, if any.
    pub fn local(&self) -> Option<&str> {
        match self.domain_start {
            0 => None,
            d => self.text.get(..d as usize - 1),
        }
    }

    /// Domainpart (U-labels for an internationalised domain).
    pub fn domain(&self) -> &str {
        let end = self.slash.map_or(self.text.len(), usize::from);
        self.text.get(self.domain_start as usize..end).unwrap_or("")
    }

    /// Domainpart as A-labels (`xn--…`), for DNS and for peers that want ASCII.
    pub fn domain_ascii(&self) -> Cow<'_, str> {
        precis::domain_ascii(self.domain())
    }

    /// Resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        self.slash.and_then(|s| self.text.get(s as usize + 1..))
    }

    /// The bare JID (`local@domain`) as text.
    pub fn bare(&self) -> &str {
        let end = self.slash.map_or(self.text.len(), usize::from);
        self.text.get(..end).unwrap_or("")
    }

    /// The whole JID as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Jid, JidError> {
        Jid::parse(s)
    }
}

/// Whether `local` (unescaped text) has a localpart form: its XEP-0106 escape, case-folded,
/// passes `UsernameCaseMapped` within the length bounds (RFC 7622 §3.3).
pub fn has_local_form(local: &str) -> bool {
    let esc = escape_local(local);
    check_part(&esc).is_ok() && precis::localpart(&esc).is_ok_and(|l| check_part(&l).is_ok())
}

/// Length bounds shared by all parts.
fn check_part(p: &str) -> Result<(), JidError> {
    if p.is_empty() {
        Err(JidError::Empty)
    } else if p.len() > MAX_PART {
        Err(JidError::TooLong)
    } else {
        Ok(())
    }
}

/// An IPv6 literal domainpart, `[…]` (RFC 7622 §3.2).
fn check_ip_literal(d: &str) -> Result<(), JidError> {
    d.strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .ok_or(JidError::BadCharacter)?
        .parse::<std::net::Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| JidError::BadCharacter)
}

/// XEP-0106 escape table: character and its escape code.
const ESCAPES: &[(char, &str)] = &[
    (' ', "20"),
    ('"', "22"),
    ('&', "26"),
    ('\'', "27"),
    ('/', "2f"),
    (':', "3a"),
    ('<', "3c"),
    ('>', "3e"),
    ('@', "40"),
    ('\\', "5c"),
];

/// The character an escape code (two hex digits after `\`) stands for.
fn unescape_code(code: &str) -> Option<char> {
    ESCAPES.iter().find(|(_, e)| *e == code).map(|(c, _)| *c)
}

/// Whether `s` starts with an escape sequence (`\` + a code).
fn starts_with_escape(s: &str) -> bool {
    s.strip_prefix('\\')
        .and_then(|r| r.get(..2))
        .and_then(unescape_code)
        .is_some()
}

/// XEP-0106: escape a string for use as a localpart (`\20 \22 \26 \27 \2f \3a \3c \3e \40 \5c`).
/// A backslash is escaped only where it would otherwise read as an escape sequence (§4.2).
pub fn escape_local(s: &str) -> Cow<'_, str> {
    let needs = |i: usize, c: char| c != '\\' || starts_with_escape(&s[i..]);
    let needs_any = s
        .char_indices()
        .any(|(i, c)| ESCAPES.iter().any(|(e, _)| *e == c) && needs(i, c));
    if !needs_any {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        match ESCAPES.iter().find(|(e, _)| *e == c) {
            Some((_, code)) if needs(i, c) => {
                out.push('\\');
                out.push_str(code);
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// XEP-0106: undo [`escape_local`].
pub fn unescape_local(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.get(..2).and_then(unescape_code) {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}
