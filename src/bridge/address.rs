//! Address mapping (RFC 7247 §5): `sip:`/`sips:` URIs ⇄ JIDs through the neutral [`Address`].
//!
//! SIP → model: percent-escapes in the user part are decoded. Model → XMPP: characters a JID
//! localpart may not hold are escaped per XEP-0106, and the localpart is case-folded (RFC 7622
//! requires it of every JID). XMPP → model: XEP-0106 escapes are undone. Model → SIP: the user
//! part is percent-encoded where RFC 3261 §25.1 requires it. The case rule therefore is: a
//! SIP user part reaches XMPP in lower case, and comes back in lower case.

use std::borrow::Cow;
use std::fmt::Write;

use super::BridgeError;
use crate::model::Address;
use crate::sip::SipError;
use crate::sip::uri::SipUri;
use crate::xmpp::jid::{self, Jid};

/// A SIP URI (as text) to an address. `tel:` and other schemes are refused.
pub fn from_sip_uri(uri: &str) -> Result<Address<'_>, BridgeError> {
    let parsed = SipUri::parse(uri).map_err(|e| match e {
        SipError::UnsupportedUriScheme => BridgeError::UnsupportedScheme,
        _ => BridgeError::BadAddress,
    })?;
    let local = parsed
        .user_decoded()
        .filter(|u| !u.is_empty())
        .ok_or(BridgeError::BadAddress)?;
    let domain = lower(parsed.host);
    if domain.is_empty() || domain.starts_with('[') || domain.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return Err(BridgeError::BadAddress);
    }
    Ok(Address {
        local,
        domain,
        resource: None,
    })
}

/// A JID (as text) to an address; a JID without a localpart is refused.
pub fn from_jid(text: &str) -> Result<Address<'static>, BridgeError> {
    let jid = Jid::parse(text).map_err(|_| BridgeError::BadAddress)?;
    let local = jid.local().ok_or(BridgeError::BadAddress)?;
    Ok(Address {
        local: Cow::Owned(jid::unescape_local(local).into_owned()),
        domain: Cow::Owned(jid.domain().to_owned()),
        resource: jid.resource().map(|r| Cow::Owned(r.to_owned())),
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

/// The `sip:` URI text for an address.
pub fn to_sip_uri(a: &Address<'_>, out: &mut String) {
    out.push_str("sip:");
    for b in a.local.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out.push('@');
    out.push_str(&a.domain);
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid_of(uri: &str) -> String {
        let mut s = String::new();
        to_full_jid(&from_sip_uri(uri).unwrap(), &mut s);
        s
    }

    fn uri_of(jid: &str) -> String {
        let mut s = String::new();
        to_sip_uri(&from_jid(jid).unwrap(), &mut s);
        s
    }

    #[test]
    fn plain_addresses_map_both_ways() {
        assert_eq!(jid_of("sip:alice@sip.example"), "alice@sip.example");
        assert_eq!(
            jid_of("sips:alice@SIP.Example:5061;transport=tls"),
            "alice@sip.example"
        );
        assert_eq!(
            uri_of("juliet@xmpp.example/balcony"),
            "sip:juliet@xmpp.example"
        );
    }

    #[test]
    fn escapes_are_translated() {
        // %20 is a space in SIP; a space is \20 in a JID localpart (XEP-0106).
        assert_eq!(
            jid_of("sip:john%20doe@sip.example"),
            "john\\20doe@sip.example"
        );
        assert_eq!(
            uri_of("john\\20doe@xmpp.example"),
            "sip:john%20doe@xmpp.example"
        );
        assert_eq!(jid_of("sip:o'hara@sip.example"), "o\\27hara@sip.example");
    }

    #[test]
    fn case_rule_folds_sip_user_parts() {
        assert_eq!(jid_of("sip:Alice@sip.example"), "alice@sip.example");
    }

    #[test]
    fn unsupported_addresses_are_refused() {
        assert_eq!(
            from_sip_uri("tel:+15551234567"),
            Err(BridgeError::UnsupportedScheme)
        );
        assert_eq!(
            from_sip_uri("sip:sip.example"),
            Err(BridgeError::BadAddress)
        );
        assert_eq!(
            from_sip_uri("sip:alice@192.0.2.1"),
            Err(BridgeError::BadAddress)
        );
        assert_eq!(from_jid("xmpp.example"), Err(BridgeError::BadAddress));
    }
}
