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
    if let Some(a) = simple_sip_uri(uri) {
        return Ok(a);
    }
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
/// takes the full parser.
fn simple_sip_uri(uri: &str) -> Option<Address<'_>> {
    let rest = uri.strip_prefix("sip:")?;
    let (user, host) = rest.split_once('@')?;
    let user_ok = !user.is_empty()
        && user.len() <= MAX_PART
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,".contains(&b));
    // The fast path takes only what the full path takes: [`check_domain`] holds the label
    // rules (RFC 1035 §2.3.4: 1–63 octets), which a name of plain lower-case bytes can break too.
    let host_ok = host.bytes().any(|b| b.is_ascii_lowercase())
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && check_domain(host).is_ok();
    (user_ok && host_ok).then_some(Address {
        local: Cow::Borrowed(user),
        domain: Cow::Borrowed(host),
        resource: None,
    })
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
fn escape_code(c: char) -> Option<&'static [u8]> {
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
    if a.local.contains('\\') {
        let folded = lower(&a.local);
        out.put_slice(jid::escape_local(&folded).as_bytes());
    } else if a
        .local
        .bytes()
        .all(|b| b.is_ascii() && escape_code(char::from(b)).is_none())
    {
        // The usual localpart, ASCII with nothing to escape: copied at once, then lower-cased.
        let start = out.len();
        out.put_slice(a.local.as_bytes());
        if let Some(written) = out.get_mut(start..) {
            written.make_ascii_lowercase();
        }
    } else {
        let mut utf8 = [0u8; 4];
        for c in a.local.chars() {
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
    out.put_u8(b'@');
    escape_into(out, &a.domain, true);
    if let (true, Some(r)) = (full, &a.resource) {
        out.put_u8(b'/');
        escape_into(out, r, true);
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
