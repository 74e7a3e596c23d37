//! Address mapping (RFC 7247 §5): `sip:`/`sips:` URIs ⇄ JIDs through the neutral [`Address`].
//!
//! SIP → model: percent-escapes in the user part are decoded; a GRUU `gr` parameter (RFC 5627)
//! becomes the resource, percent-decoded. Model → XMPP: characters a JID localpart may not
//! hold are escaped per XEP-0106, and the localpart is case-folded (RFC 7622 requires it of
//! every JID). XMPP → model: XEP-0106 escapes are undone. Model → SIP: the user part is
//! percent-encoded where RFC 3261 §25.1 requires it, the resource becomes `;gr=` with every
//! byte outside `unreserved` percent-encoded, so resource ⇄ `gr` is reversible.
//!
//! **Case rule**: a SIP user part reaches XMPP in lower case and comes back in lower case
//! (`sip:Alice@…` → `alice@…` → `sip:alice@…`); SIP user parts compare case-sensitively, so
//! a SIP domain that has users differing only in case cannot federate them (documented
//! limitation, RFC 7247 §5.2 leaves it to the gateway). Domains are lower-cased both ways.
//! Resources and `gr` values keep their case.
//!
//! `tel:` and other schemes are refused ([`BridgeError::UnsupportedScheme`]): a telephone
//! number names no domain the gateway could route to. `im:` and `pres:` (RFC 3860, RFC 3859)
//! are accepted where CPIM and PIDF use them.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

use super::BridgeError;
use crate::model::Address;
use crate::sip::SipError;
use crate::sip::uri::{SipUri, percent_decode};
use crate::xmpp::encode::escape_into;
use crate::xmpp::jid::{self, Jid};

/// Longest local part, domain or resource accepted (RFC 7622 §3: 1023 bytes each).
const MAX_PART: usize = 1023;

/// A SIP URI (as text) to an address. `tel:` and other schemes are refused.
pub fn from_sip_uri(uri: &str) -> Result<Address<'_>, BridgeError> {
    match simple_sip_uri(uri) {
        Some(a) => Ok(a),
        None => from_sip_uri_general(uri),
    }
}

/// [`from_sip_uri`] without its fast path: every URI through the full parser.
fn from_sip_uri_general(uri: &str) -> Result<Address<'_>, BridgeError> {
    if let Some(rest) = strip_scheme(uri, "im").or_else(|| strip_scheme(uri, "pres")) {
        return from_cpim_uri(rest);
    }
    let parsed = SipUri::parse(uri).map_err(|e| match e {
        SipError::UnsupportedUriScheme => BridgeError::UnsupportedScheme,
        _ => BridgeError::BadAddress,
    })?;
    // A user part that has no JID localpart form (U+FFFD from escapes that are no UTF-8, a
    // symbol) is refused here: the XMPP side would refuse the JID written for it.
    let local = parsed
        .user_decoded()
        .filter(|u| valid_part(u) && jid::has_local_form(u))
        .ok_or(BridgeError::BadAddress)?;
    let domain = lower(parsed.host);
    check_domain(&domain)?;
    let resource = match parsed.param("gr") {
        None | Some("") => None,
        Some(gr) => Some(percent_decode(gr)).filter(|r| valid_part(r)),
    };
    Ok(Address {
        local,
        domain,
        resource,
    })
}

/// The fast path of [`from_sip_uri`]: `sip:user@host` with an unescaped
/// user part (no escapes), a lower-case host name, no port or parameters. Anything else
/// takes the full parser. One pass over each part: the user part's bytes are checked while
/// `@` is looked for, the host's labels while its bytes are.
fn simple_sip_uri(uri: &str) -> Option<Address<'_>> {
    let rest = uri.strip_prefix("sip:")?;
    let at = rest.bytes().position(|b| !SIMPLE_USER[usize::from(b)])?;
    if at == 0 || at > MAX_PART || rest.as_bytes().get(at) != Some(&b'@') {
        return None;
    }
    let user = rest.get(..at)?;
    let host = rest.get(at + 1..)?;
    // Not `then_some`: that builds the address on the stack and copies it out, reading back
    // in wide words what was just written in narrow ones (a store-forwarding stall).
    if !plain_host(host.as_bytes()) {
        return None;
    }
    Some(Address {
        local: Cow::Borrowed(user),
        domain: Cow::Borrowed(host),
        resource: None,
    })
}

/// Bytes the fast path takes unescaped in a user part: alphanumerics and
/// `-_.!~*'()&=+$,` (a subset of RFC 3261 §25.1 `unreserved` / `user-unreserved`).
const SIMPLE_USER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    let extra = b"-_.!~*'()&=+$,";
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
};

/// A host name the fast path takes: lower-case letters, digits, `-` and `.`, at least one
/// letter (so no IPv4 address), labels of 1–63 octets neither starting nor ending with `-`
/// (RFC 1035 §2.3.4), at most [`MAX_PART`] bytes: exactly the names made of those bytes
/// that [`check_domain`] takes.
fn plain_host(h: &[u8]) -> bool {
    if h.len() > MAX_PART {
        return false;
    }
    let mut label = 0usize;
    let mut prev = b'.';
    let mut letter = false;
    for &b in h {
        match b {
            b'a'..=b'z' => letter = true,
            b'0'..=b'9' => {}
            b'-' if prev != b'.' => {}
            b'.' if prev != b'.' && prev != b'-' => {
                label = 0;
                prev = b;
                continue;
            }
            _ => return false,
        }
        label += 1;
        if label > 63 {
            return false;
        }
        prev = b;
    }
    letter && prev != b'.' && prev != b'-'
}

/// `im:user@domain` / `pres:user@domain` after the scheme (RFC 3860 §3, RFC 3859 §3.1).
fn from_cpim_uri(rest: &str) -> Result<Address<'_>, BridgeError> {
    let rest = rest.split(['?', ';']).next().unwrap_or(rest);
    let (user, host) = rest.split_once('@').ok_or(BridgeError::BadAddress)?;
    let local = percent_decode(user);
    if !valid_part(&local) || !jid::has_local_form(&local) {
        return Err(BridgeError::BadAddress);
    }
    // The host rules of a `sip:` URI, so that the `sip:` form written back parses too.
    if !matches!(crate::sip::header::split_host_port(host), Some((_, None))) {
        return Err(BridgeError::BadAddress);
    }
    let domain = lower(host);
    check_domain(&domain)?;
    Ok(Address {
        local,
        domain,
        resource: None,
    })
}

fn strip_scheme<'u>(uri: &'u str, scheme: &str) -> Option<&'u str> {
    let (s, rest) = uri.split_once(':')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_PART && !s.chars().any(char::is_control)
}

/// Domains must be names: IP literals name no federated domain.
fn check_domain(domain: &str) -> Result<(), BridgeError> {
    let b = domain.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_PART
        && !b.starts_with(b"[")
        && !b.split(|&c| c == b'.').any(|l| {
            l.is_empty() || l.len() > 63 || l.starts_with(b"-") || l.ends_with(b"-")
        })
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c >= 0x80)
        // Only digits and dots can spell an IPv4 address: a name with a letter skips the parse.
        && (b.iter().any(|&c| c != b'.' && !c.is_ascii_digit())
            || domain.parse::<std::net::Ipv4Addr>().is_err());
    if ok {
        Ok(())
    } else {
        Err(BridgeError::BadAddress)
    }
}

/// A JID (as text) to an address; a JID without a localpart is refused. Already-normal JIDs
/// (lower-case ASCII localpart without escapes) are borrowed, others normalised once.
pub fn from_jid(text: &str) -> Result<Address<'_>, BridgeError> {
    if let Some(a) = borrowed_jid(text) {
        return Ok(a);
    }
    let jid = Jid::parse(text).map_err(|_| BridgeError::BadAddress)?;
    let local = jid.local().ok_or(BridgeError::BadAddress)?;
    // The domain as A-labels (`xn--…`): a SIP host is ASCII (RFC 3261 §25.1), and a JID at
    // the A-label form is the same JID (RFC 7622 §3.2). Only domains a SIP URI can carry
    // (RFC 1035 labels, checked on the A-labels): the SIP side must be able to answer.
    let domain = jid.domain_ascii();
    check_domain(&domain)?;
    Ok(Address {
        local: Cow::Owned(jid::unescape_local(local).into_owned()),
        domain: Cow::Owned(domain.into_owned()),
        resource: jid.resource().map(|r| Cow::Owned(r.to_owned())),
    })
}

/// The fast path of [`from_jid`]: `local@domain[/resource]` already in normal form.
fn borrowed_jid(text: &str) -> Option<Address<'_>> {
    let (bare, resource) = match text.split_once('/') {
        Some((b, r)) => (b, Some(r)),
        None => (text, None),
    };
    let (local, domain) = bare.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= MAX_PART
        && local.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-+=!#$%*?^{}|~`".contains(&b)
        });
    let domain_ok = !domain.is_empty()
        && domain.len() <= MAX_PART
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && domain.parse::<std::net::Ipv4Addr>().is_err();
    let resource_ok = resource.is_none_or(valid_part);
    (local_ok && domain_ok && resource_ok).then(|| Address {
        local: Cow::Borrowed(local),
        domain: Cow::Borrowed(domain),
        resource: resource.map(Cow::Borrowed),
    })
}

/// The bare JID text for an address: `escaped-local@domain`.
pub fn to_bare_jid(a: &Address<'_>, out: &mut String) {
    let folded = lower(&a.local);
    out.push_str(&jid::escape_local(&folded));
    out.push('@');
    out.push_str(&a.domain);
}

/// The full JID text (with resource when present).
pub fn to_full_jid(a: &Address<'_>, out: &mut String) {
    to_bare_jid(a, out);
    if let Some(r) = &a.resource {
        out.push('/');
        out.push_str(r);
    }
}

/// The `sip:` URI text for an address (no GRUU).
pub fn to_sip_uri(a: &Address<'_>, out: &mut String) {
    let mut buf = BytesMut::with_capacity(a.local.len() + a.domain.len() + 8);
    write_sip_uri(&mut buf, a, false);
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// XEP-0106 escape code of a character that needs one.
const fn escape_code(c: char) -> Option<&'static [u8]> {
    Some(match c {
        ' ' => b"\\20",
        '"' => b"\\22",
        '&' => b"\\26",
        '\'' => b"\\27",
        '/' => b"\\2f",
        ':' => b"\\3a",
        '<' => b"\\3c",
        '>' => b"\\3e",
        '@' => b"\\40",
        _ => return None,
    })
}

/// Write the JID of `a` into `out` as XML attribute text: the localpart case-folded and
/// XEP-0106-escaped, the resource (when `full`) XML-escaped. No allocation unless the
/// localpart holds a backslash (XEP-0106 §4.2 needs look-ahead there).
pub fn write_jid(out: &mut BytesMut, a: &Address<'_>, full: bool) {
    let local = a.local.as_bytes();
    let domain = a.domain.as_bytes();
    // One branch-free pass over the localpart: are all its bytes plain, is any upper-case.
    let (all, any) = local.iter().fold((PLAIN, 0), |(all, any), &b| {
        let class = LOCAL_CLASS[usize::from(b)];
        (all & class, any | class)
    });
    if all & PLAIN != 0 && domain.iter().all(|&b| PLAIN_DOMAIN[usize::from(b)]) {
        // The usual JID: ASCII localpart with nothing to escape, a domain of name bytes.
        // Written with one reservation, the localpart lower-cased in place if it needs it.
        out.reserve(local.len() + 1 + domain.len());
        let start = out.len();
        out.extend_from_slice(local);
        if any & UPPER != 0
            && let Some(written) = out.get_mut(start..)
        {
            written.make_ascii_lowercase();
        }
        out.extend_from_slice(b"@");
        out.extend_from_slice(domain);
    } else {
        write_local(out, &a.local);
        out.extend_from_slice(b"@");
        escape_into(out, &a.domain, true);
    }
    if let (true, Some(r)) = (full, &a.resource) {
        out.extend_from_slice(b"/");
        escape_into(out, r, true);
    }
}

/// [`LOCAL_CLASS`]: an ASCII byte a localpart carries as it is (up to case): no XEP-0106
/// escape code and no backslash.
const PLAIN: u8 = 1;
/// [`LOCAL_CLASS`]: an upper-case ASCII letter.
const UPPER: u8 = 2;

/// Each byte's [`PLAIN`] and [`UPPER`] bits.
const LOCAL_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        if escape_code(b as char).is_none() && b != b'\\' {
            t[i] = PLAIN;
        }
        if b.is_ascii_uppercase() {
            t[i] |= UPPER;
        }
        i += 1;
    }
    t
};

/// Bytes of a domain that XML attribute text carries as they are (the name bytes).
const PLAIN_DOMAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        i += 1;
    }
    t
};

/// The general localpart writer of [`write_jid`]: case folding, XEP-0106 escapes.
fn write_local(out: &mut BytesMut, local: &str) {
    if local.contains('\\') {
        let folded = lower(local);
        out.put_slice(jid::escape_local(&folded).as_bytes());
    } else if local
        .bytes()
        .all(|b| b.is_ascii() && escape_code(char::from(b)).is_none())
    {
        // ASCII with nothing to escape: copied at once, then lower-cased.
        let start = out.len();
        out.put_slice(local.as_bytes());
        if let Some(written) = out.get_mut(start..) {
            written.make_ascii_lowercase();
        }
    } else {
        let mut utf8 = [0u8; 4];
        for c in local.chars() {
            if c.is_ascii() {
                let l = c.to_ascii_lowercase();
                match escape_code(l) {
                    Some(code) => out.put_slice(code),
                    None => out.put_u8(l as u8),
                }
            } else {
                for l in c.to_lowercase() {
                    out.put_slice(l.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
    }
}

/// Bytes a SIP user part may carry unescaped (RFC 3261 §25.1 `unreserved` / `user-unreserved`).
fn user_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b)
}

/// Bytes a `gr` parameter value carries unescaped: `unreserved` plus `:` so that
/// `urn:uuid:…` GRUUs stay readable.
fn gr_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*()':".contains(&b)
}

fn put_escaped(out: &mut BytesMut, s: &str, ok: fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if ok(b) {
            out.put_u8(b);
        } else {
            out.put_u8(b'%');
            out.put_u8(HEX[usize::from(b >> 4)]);
            out.put_u8(HEX[usize::from(b & 15)]);
        }
    }
}

/// Write the `sip:` URI of `a` into `out`; with `gruu`, the resource as `;gr=`.
pub fn write_sip_uri(out: &mut BytesMut, a: &Address<'_>, gruu: bool) {
    out.put_slice(b"sip:");
    put_escaped(out, &a.local, user_byte_ok);
    out.put_u8(b'@');
    out.put_slice(a.domain.as_bytes());
    if let (true, Some(r)) = (gruu, &a.resource) {
        out.put_slice(b";gr=");
        put_escaped(out, r, gr_byte_ok);
    }
}

/// Write the `im:` URI of `a` (RFC 3860), as CPIM headers use it.
pub fn write_im_uri(out: &mut BytesMut, a: &Address<'_>) {
    write_uri_as(out, "im", a);
}

/// Bytes the user part of an `im:`/`pres:` URI carries unescaped. The `to` of RFC 3860 §3 /
/// RFC 3859 §3.1 is an RFC 2822 `mailbox`, whose `atext` has no `;`, `,`, `(` or `)`, and
/// [`from_cpim_uri`] ends the address at the first `;` or `?`: a localpart holding one of
/// them (a JID may) is percent-encoded, or the CPIM From read back names another sender.
fn cpim_user_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'&=+$".contains(&b)
}

/// Write `scheme:user@domain` for `a` (`im:` RFC 3860, `pres:` RFC 3859).
pub fn write_uri_as(out: &mut BytesMut, scheme: &str, a: &Address<'_>) {
    out.put_slice(scheme.as_bytes());
    out.put_u8(b':');
    put_escaped(out, &a.local, cpim_user_byte_ok);
    out.put_u8(b'@');
    out.put_slice(a.domain.as_bytes());
}

pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
