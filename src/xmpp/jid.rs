//! JIDs (RFC 7622): a validated newtype over one `String` with offsets, and XEP-0106 escaping.
//!
//! Normalisation, as far as a gateway needs the PRECIS profiles: the localpart is case-folded
//! (`UsernameCaseMapped`, lower-casing) and may not contain `" & ' / : < > @`, spaces or
//! controls; the domainpart is lower-cased with a trailing dot removed, and is either an IP
//! literal or dot-separated labels (U-labels are kept as sent; punycode `xn--` labels pass
//! through); the resourcepart keeps its case and may not contain controls. Each part is
//! 1–1023 bytes.

use std::borrow::Cow;
use std::fmt;

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
            if l.chars().any(is_local_forbidden) {
                return Err(JidError::BadCharacter);
            }
            for c in l.chars() {
                text.extend(c.to_lowercase());
            }
            text.push('@');
        }
        let domain_start = text.len();
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        check_part(domain)?;
        check_domain(domain)?;
        for c in domain.chars() {
            text.extend(c.to_lowercase());
        }
        if text.len() - domain_start > MAX_PART {
            return Err(JidError::TooLong);
        }
        let mut slash = None;
        if let Some(r) = resource {
            check_part(r)?;
            if r.chars().any(char::is_control) {
                return Err(JidError::BadCharacter);
            }
            slash = Some(text.len() as u16);
            text.push('/');
            text.push_str(r);
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

    /// Domainpart.
    pub fn domain(&self) -> &str {
        let end = self.slash.map_or(self.text.len(), usize::from);
        self.text.get(self.domain_start as usize..end).unwrap_or("")
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

/// Characters RFC 7622 §3.3.1 forbids in a localpart, plus spaces and controls (PRECIS
/// IdentifierClass).
fn is_local_forbidden(c: char) -> bool {
    matches!(c, '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@')
        || c.is_whitespace()
        || c.is_control()
}

/// A domainpart: an IP literal, or labels of letters, digits, hyphens and non-ASCII.
fn check_domain(d: &str) -> Result<(), JidError> {
    if let Some(inner) = d.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(JidError::BadCharacter)?;
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| JidError::BadCharacter);
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(JidError::BadCharacter);
        }
        let ok = label.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c == '-'
                || c == '_'
                || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
        });
        if !ok || label.starts_with('-') || label.ends_with('-') {
            return Err(JidError::BadCharacter);
        }
    }
    Ok(())
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
