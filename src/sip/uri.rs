//! SIP and SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966) and other absolute URIs
//! (RFC 3986), parsed once into borrowed parts.

use std::borrow::Cow;

use super::SipError;
use super::scan;

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// sip:
    Sip,
    /// sips:
    Sips,
}

/// A parsed sip:/sips: URI borrowing from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// sip or sips.
    pub scheme: Scheme,
    /// User part as written (percent-escapes intact).
    pub user: Option<&'a str>,
    /// Host: domain name, IPv4 address, or IPv6 reference with brackets.
    pub host: &'a str,
    /// Port, if given.
    pub port: Option<u16>,
    /// Raw `;param` text (without the leading `;`), may be empty.
    pub params: &'a str,
    /// Password after `user:`, if any (deprecated by RFC 3261 but legal).
    pub password: Option<&'a str>,
    /// Raw `?header` text (without the leading `?`), may be empty.
    pub headers: &'a str,
}

/// Bytes never allowed in a SIP URI: controls, space, non-ASCII and the RFC 3986 "unwise" set.
const fn uri_byte_ok(b: u8) -> bool {
    b > b' '
        && b < 0x7f
        && !matches!(
            b,
            b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
        )
}

/// [`uri_byte_ok`] as a table, one lookup per byte.
const URI_OK: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = uri_byte_ok(i as u8);
        i += 1;
    }
    t
};

/// One pass over the text after a sip/sips scheme: `None` unless every byte is allowed and
/// every `%` starts a two-hex-digit escape; otherwise where the
/// first `@` is, and the first `?` of the host part (after that `@`, or anywhere without one).
fn scan_after_scheme(b: &[u8]) -> Option<(Option<usize>, Option<usize>)> {
    let (mut at, mut q_any, mut q_after_at) = (None, None, None);
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !URI_OK[usize::from(c)] {
            return None;
        }
        match c {
            b'%' => {
                let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if !ok {
                    return None;
                }
                i += 3;
                continue;
            }
            b'@' if at.is_none() => at = Some(i),
            b'?' => {
                q_any = q_any.or(Some(i));
                if at.is_some() {
                    q_after_at = q_after_at.or(Some(i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some((at, if at.is_some() { q_after_at } else { q_any }))
}

/// Every byte is allowed ([`uri_byte_ok`]) and every `%` starts a two-hex-digit escape: one
/// pass over the URI. The reference that [`scan_after_scheme`] is tested against.
#[cfg(test)]
fn bytes_and_escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !uri_byte_ok(c) {
            return false;
        }
        if c == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

impl<'a> SipUri<'a> {
    /// Parse a sip:/sips: URI. Other schemes give [`SipError::UnsupportedUriScheme`].
    pub fn parse(text: &'a str) -> Result<SipUri<'a>, SipError> {
        match Self::parse_tight(text) {
            Some(uri) => Ok(uri),
            None => Self::parse_general(text),
        }
    }

    /// The usual shape, `sip[s]:[user@]host[:port][;param…]` with a plain user, a host name or
    /// IPv4 address, no escapes, no password and no headers, in one pass: `None` for any other
    /// shape, which [`SipUri::parse_general`] decides; wherever this answers, that gives the
    /// same answer.
    fn parse_tight(text: &'a str) -> Option<SipUri<'a>> {
        let b = text.as_bytes();
        let (scheme, from) = if scan::eq_fold(text.get(..4)?, "sip:") {
            (Scheme::Sip, 4)
        } else if scan::eq_fold(text.get(..5)?, "sips:") {
            (Scheme::Sips, 5)
        } else {
            return None;
        };
        let class_run = |at: usize, class: u8| {
            b.get(at..).map_or(0, |t| {
                t.iter()
                    .position(|&c| URI_CLASS[usize::from(c)] & class == 0)
                    .unwrap_or(t.len())
            })
        };
        let user_end = from + class_run(from, USER);
        let (user, host_start) = match b.get(user_end) {
            Some(b'@') if user_end > from => (Some(text.get(from..user_end)?), user_end + 1),
            _ => (None, from),
        };
        let mut i = host_start + class_run(host_start, HOST);
        let host = text.get(host_start..i)?;
        if host.is_empty() {
            return None;
        }
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let digits = class_run(i + 1, DIGIT);
            if digits == 0 || digits > 5 {
                return None;
            }
            port = Some(u16::try_from(scan::parse_u64(text.get(i + 1..i + 1 + digits)?)?).ok()?);
            i += 1 + digits;
        }
        let params = match b.get(i) {
            None => "",
            Some(b';') => {
                let params = text.get(i + 1..)?;
                // Each parameter non-empty and not starting with `=`; nothing but parameters.
                let ok = params.len() == class_run(i + 1, PARAM)
                    && params.split(';').all(|p| param_ok(p.as_bytes()));
                if !ok {
                    return None;
                }
                params
            }
            Some(_) => return None,
        };
        Some(SipUri {
            scheme,
            user,
            host,
            port,
            params,
            password: None,
            headers: "",
        })
    }

    /// [`SipUri::parse`] by the grammar's parts, for every shape.
    fn parse_general(text: &'a str) -> Result<SipUri<'a>, SipError> {
        let (scheme, rest) = scan::split_at_byte(text, b':').ok_or(SipError::BadUri)?;
        let scheme = if scheme.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if is_absolute_uri(text) {
            return Err(SipError::UnsupportedUriScheme);
        } else {
            return Err(SipError::BadUri);
        };
        if rest.is_empty() {
            return Err(SipError::BadUri);
        }
        let (at, question) = scan_after_scheme(rest.as_bytes()).ok_or(SipError::BadUri)?;
        // The first `@` ends the userinfo: it cannot appear unescaped in params or headers.
        let (userinfo, hostpart) = match at {
            Some(a) => (
                Some(rest.get(..a).ok_or(SipError::BadUri)?),
                rest.get(a + 1..).ok_or(SipError::BadUri)?,
            ),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match scan::split_at_byte(u, b':') {
                Some((user, pw)) => (Some(user), Some(pw)),
                None => (Some(u), None),
            },
        };
        if user == Some("") {
            return Err(SipError::BadUri);
        }
        let (before_headers, headers, has_headers) = match question {
            Some(q) => {
                let from = at.map_or(0, |a| a + 1);
                let part = |r: std::ops::Range<usize>| rest.get(r).ok_or(SipError::BadUri);
                (part(from..q)?, part(q + 1..rest.len())?, true)
            }
            None => (hostpart, "", false),
        };
        let (hostport, params) = match scan::split_at_byte(before_headers, b';') {
            Some((hp, p)) => (hp, p),
            None => (before_headers, ""),
        };
        let (host, port) = split_host_port(hostport).ok_or(SipError::BadUri)?;
        if !params.is_empty() && !params.as_bytes().split(|&c| c == b';').all(param_ok) {
            return Err(SipError::BadUri);
        }
        if before_headers.ends_with(';') {
            return Err(SipError::BadUri);
        }
        if has_headers && (headers.is_empty() || !headers.split('&').all(|h| h.contains('='))) {
            return Err(SipError::BadUri);
        }
        Ok(SipUri {
            scheme,
            user,
            host,
            port,
            params,
            password,
            headers,
        })
    }

    /// The user part with percent-escapes decoded (borrowed when there are none). Escapes that
    /// decode to invalid UTF-8 are replaced with U+FFFD.
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        self.user.map(percent_decode)
    }

    /// Value of a URI parameter (`transport`, `gr`, `lr`…); `Some("")` for a flag parameter.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.split(';').find_map(|p| {
            let (n, v) = scan::split_at_byte(p, b'=').unwrap_or((p, ""));
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    /// Value of a URI header (`?name=value&…`), escapes intact.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.split('&').find_map(|h| {
            let (n, v) = scan::split_at_byte(h, b'=')?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }
}

/// A URI parameter with a non-empty name (an empty parameter has none).
fn param_ok(p: &[u8]) -> bool {
    !p.is_empty() && !p.starts_with(b"=")
}

/// Decode `%XX` escapes; borrowed when there are none.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|d| (*d as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A tel: URI (RFC 3966): global (`+…`) or local number with parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, visual separators kept (e.g. `+1-201-555-0123`).
    pub number: &'a str,
    /// Raw parameter text (without the leading `;`), may be empty.
    pub params: &'a str,
}

impl<'a> TelUri<'a> {
    /// Parse a tel: URI.
    pub fn parse(text: &'a str) -> Result<TelUri<'a>, SipError> {
        let (scheme, rest) = scan::split_at_byte(text, b':').ok_or(SipError::BadUri)?;
        if !scheme.eq_ignore_ascii_case("tel") {
            return Err(SipError::BadUri);
        }
        let (number, params) = scan::split_at_byte(rest, b';').unwrap_or((rest, ""));
        let digits = number.strip_prefix('+').unwrap_or(number);
        let ok = !digits.is_empty()
            && digits
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
            && digits.bytes().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'*' | b'#' | b'-' | b'.' | b'(' | b')')
            });
        if !ok || !rest.bytes().all(uri_byte_ok) {
            return Err(SipError::BadUri);
        }
        Ok(TelUri { number, params })
    }

    /// True for a global number (`+` prefix).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// Value of a parameter (`phone-context`, `ext`…).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.split(';').find_map(|p| {
            let (n, v) = scan::split_at_byte(p, b'=').unwrap_or((p, ""));
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }
}

/// Any URI a SIP message may carry. Unknown schemes are kept as written (a server answers
/// them with 416, RFC 3261 §8.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// sip: or sips:
    Sip(SipUri<'a>),
    /// tel:
    Tel(TelUri<'a>),
    /// Any other absolute URI.
    Absolute {
        /// The scheme as written.
        scheme: &'a str,
        /// Everything after the first `:`.
        rest: &'a str,
    },
}

impl<'a> Uri<'a> {
    /// Parse any absolute URI, typing sip/sips/tel.
    pub fn parse(text: &'a str) -> Result<Uri<'a>, SipError> {
        let text = scan::trim(text);
        match SipUri::parse(text) {
            Ok(u) => Ok(Uri::Sip(u)),
            Err(SipError::UnsupportedUriScheme) => {
                let (scheme, rest) = scan::split_at_byte(text, b':').ok_or(SipError::BadUri)?;
                if scheme.eq_ignore_ascii_case("tel") {
                    TelUri::parse(text).map(Uri::Tel)
                } else {
                    Ok(Uri::Absolute { scheme, rest })
                }
            }
            Err(e) => Err(e),
        }
    }
}

// URI byte classes shared with the header views (name-addr, Via sent-by).

/// [`is_absolute_uri`] for a URI whose bytes are known to be allowed ones (from
/// [`angle_uri`]): a valid scheme, a colon, and something after it.
pub(crate) fn has_scheme(uri: &str) -> bool {
    let b = uri.as_bytes();
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.get(..colon)
            .is_some_and(|s| s.iter().all(|&c| URI_CLASS[usize::from(c)] & SCHEME != 0))
        && colon + 1 < b.len()
}

/// `scheme ":" …` with a valid scheme and no white space (RFC 3986 §3.1).
pub(crate) fn is_absolute_uri(uri: &str) -> bool {
    let b = uri.as_bytes();
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    let (Some(scheme), Some(rest)) = (b.get(..colon), b.get(colon + 1..)) else {
        return false;
    };
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&c| URI_CLASS[usize::from(c)] & SCHEME != 0)
        && !rest.is_empty()
        && rest.iter().all(|&c| URI_CLASS[usize::from(c)] & REST != 0)
}

/// [`URI_CLASS`] flag: a scheme byte after the first (RFC 3986 §3.1).
pub(crate) const SCHEME: u8 = 1;
/// [`URI_CLASS`] flag: a byte allowed after the scheme (no white space, control, `<` or `>`).
pub(crate) const REST: u8 = 2;
/// [`URI_CLASS`] flag: a host name or IPv4 byte of [`split_host_port`] (letters, digits, `-._`).
pub(crate) const HOST: u8 = 4;

/// [`URI_CLASS`] flag: a user byte of [`SipUri::parse_tight`] (unreserved and `&=+$,/`; no
/// escape, `:`, `;`, `?` or `@`).
const USER: u8 = 8;
/// [`URI_CLASS`] flag: a decimal digit.
const DIGIT: u8 = 16;
/// [`URI_CLASS`] flag: a parameter byte of [`SipUri::parse_tight`] (unreserved, `=` and `;`).
const PARAM: u8 = 32;

/// Byte classes for [`is_absolute_uri`], one lookup per byte.
pub(crate) const URI_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
            t[i] |= SCHEME;
        }
        if b > b' ' && b != 0x7f && b != b'<' && b != b'>' {
            t[i] |= REST;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            t[i] |= HOST;
        }
        let unreserved = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b'/') {
            t[i] |= USER;
        }
        if b.is_ascii_digit() {
            t[i] |= DIGIT;
        }
        if unreserved || matches!(b, b'=' | b';') {
            t[i] |= PARAM;
        }
        i += 1;
    }
    t
};

/// `host[:port]` with an IPv6 reference in brackets; host chars checked loosely.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.bytes().position(|b| b == b']')? + 1;
        let host = s.get(..end)?;
        if !host
            .get(1..end - 1)?
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        (host, s.get(end..)?)
    } else {
        // One pass: the host runs to the first byte that is not a host byte, which must be
        // the port's colon or the end.
        let b = s.as_bytes();
        let mut end = 0;
        while b
            .get(end)
            .is_some_and(|&c| URI_CLASS[usize::from(c)] & HOST != 0)
        {
            end += 1;
        }
        if end == 0 || !matches!(b.get(end), None | Some(b':')) {
            return None;
        }
        (s.get(..end)?, s.get(end..)?)
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        None => return None,
        Some(p) => Some(u16::try_from(scan::parse_bounded(p, 65535)?).ok()?),
    };
    Some((host, port))
}

#[cfg(test)]
#[path = "uri_tests.rs"]
mod tests;
