//! JIDs (RFC 7622) and XEP-0106, and the RFC 7247 §5 address mapping built on them.
//! Properties: parse → to_string → parse is identical; the parts put together give the text;
//! XEP-0106 escape → unescape is the identity, and an escaped localpart is a valid one; a JID
//! mapped to the neutral address and back (as a JID and as a SIP URI) is the same address.
#![no_main]

use parley::bridge::address;
use parley::xmpp::jid::{self, Jid};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::decompose_compatible;

/// RFC 3261 §25.1 `hostname`: dot-separated labels of letters, digits and inner hyphens, the
/// last one starting with a letter (a trailing dot allowed), each label at most 63 octets
/// (RFC 1035 §2.3.4, as `parley::bridge::address` checks).
fn sip_hostname(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    let label = |l: &str| {
        let b = l.as_bytes();
        (1..=63).contains(&b.len())
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
    };
    d.split('.').all(label)
        && d.rsplit('.')
            .next()
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// The mapping rules of RFC 8265 §3.3.2 (`UsernameCaseMapped`, the RFC 7622 §3.3 localpart
/// profile): fullwidth and halfwidth forms to their decomposition, Unicode lower case, NFC.
fn username_case_mapped(s: &str) -> String {
    let mut wide = String::with_capacity(s.len());
    for c in s.chars() {
        if ('\u{FF00}'..='\u{FFEF}').contains(&c) {
            decompose_compatible(c, |d| wide.push(d));
        } else {
            wide.push(c);
        }
    }
    wide.to_lowercase().nfc().collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(j) = Jid::parse(s) {
        let text = j.to_string();
        assert_eq!(text, j.as_str());
        let again = Jid::parse(&text).unwrap_or_else(|e| panic!("{s:?} → {text:?} → {e}"));
        assert_eq!(again, j, "{s:?} → {text:?}");
        let mut whole = String::new();
        if let Some(l) = j.local() {
            whole.push_str(l);
            whole.push('@');
        }
        whole.push_str(j.domain());
        if let Some(r) = j.resource() {
            whole.push('/');
            whole.push_str(r);
        }
        assert_eq!(whole, text);
        assert!(j.as_str().starts_with(j.bare()));
    }

    let esc = jid::escape_local(s);
    assert_eq!(
        jid::unescape_local(&esc),
        s,
        "XEP-0106 escape of {s:?} is {esc:?}"
    );
    // Escaping removes the characters XEP-0106 names and nothing else: when the text without
    // them is a valid localpart (or empty), the escaped text is one too, when it fits.
    let fits = !esc.is_empty() && esc.len() <= 1023;
    let rest: String = s
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ' ' | '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@' | '\\'
            )
        })
        .collect();
    let plain = rest.is_empty() || Jid::parse(&format!("{rest}@example.com")).is_ok();
    if fits && plain {
        let text = format!("{esc}@example.com");
        let j = Jid::parse(&text).unwrap_or_else(|e| panic!("escaped {s:?} → {text:?}: {e}"));
        // The localpart is mapped (RFC 8265 §3.3.2: width mapping, lower case, NFC); for
        // escaped text that the mapping leaves alone, unescaping the localpart gives back the
        // original. NFC alone can change it: `e` + U+0330 is `ḛ` (U+1E1B) in a localpart.
        if username_case_mapped(&esc) == esc {
            let local = j.local().unwrap_or_default();
            assert_eq!(jid::unescape_local(local), s, "{text:?}");
        }
    }

    if let Ok(a) = address::from_jid(s) {
        let mut full = String::new();
        address::to_full_jid(&a, &mut full);
        let b = address::from_jid(&full).unwrap_or_else(|e| panic!("{s:?} → {full:?}: {e}"));
        let folded = a.local.to_lowercase();
        assert_eq!(b.local, folded, "{s:?} → {full:?}");
        assert_eq!(b.domain, a.domain, "{s:?} → {full:?}");
        assert_eq!(b.resource, a.resource, "{s:?} → {full:?}");

        // The SIP side names domains only (RFC 7247 §5) and its hosts are ASCII (RFC 3261
        // §25.1; parley does no IDNA conversion): a JID at an IP literal or a U-label domain
        // has no SIP form parley accepts, so that direction is checked for ASCII DNS domains.
        // Nor can it name a domain that is no RFC 3261 hostname (`_` is allowed in a JID).
        let ip = a.domain.starts_with('[') || a.domain.parse::<std::net::Ipv4Addr>().is_ok();
        if !ip && sip_hostname(&a.domain) {
            let mut uri = String::new();
            address::to_sip_uri(&a, &mut uri);
            let c = address::from_sip_uri(&uri).unwrap_or_else(|e| panic!("{s:?} → {uri:?}: {e}"));
            assert_eq!(c.local, a.local, "{s:?} → {uri:?}");
            assert_eq!(c.domain, a.domain, "{s:?} → {uri:?}");
        }
    }
    if let Ok(a) = address::from_sip_uri(s) {
        let mut uri = String::new();
        address::to_sip_uri(&a, &mut uri);
        let c = address::from_sip_uri(&uri).unwrap_or_else(|e| panic!("{s:?} → {uri:?}: {e}"));
        assert_eq!(c.local, a.local, "{s:?} → {uri:?}");
        assert_eq!(c.domain, a.domain, "{s:?} → {uri:?}");
    }
});
