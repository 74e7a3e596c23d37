//! RFC 7247 §5 address mapping, checked row by row.
//!
//! What the RFC says (RFC 7247 §5.1–5.3, as read for these tests): the gateway strips the
//! `sip:`/`sips:` scheme, keeps `user@host`, unescapes percent-encoding and applies
//! XEP-0106 escaping to characters a localpart cannot carry; the reverse applies
//! percent-encoding per RFC 3986/3261. GRUUs (RFC 5627) map to resources (§5.3 "the
//! gateway MAY map a GRUU to an XMPP resourcepart"). `tel:` has no XMPP form.

use super::*;

fn jid_of(uri: &str) -> String {
    let mut s = String::new();
    to_full_jid(&from_sip_uri(uri).unwrap(), &mut s);
    s
}

fn jid_bytes_of(uri: &str) -> String {
    let mut b = BytesMut::new();
    write_jid(&mut b, &from_sip_uri(uri).unwrap(), true);
    String::from_utf8(b.to_vec()).unwrap()
}

fn uri_of(jid: &str) -> String {
    let mut s = String::new();
    to_sip_uri(&from_jid(jid).unwrap(), &mut s);
    s
}

fn gruu_uri_of(jid: &str) -> String {
    let mut b = BytesMut::new();
    write_sip_uri(&mut b, &from_jid(jid).unwrap(), true);
    String::from_utf8(b.to_vec()).unwrap()
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
    // The streaming writer agrees with the String one.
    for uri in [
        "sip:john%20doe@sip.example",
        "sip:o'hara@sip.example",
        "sip:a%2Fb%3Ac%40d@sip.example",
        "sip:back%5C5cslash@sip.example",
        "sip:%C3%89lodie@sip.example",
    ] {
        assert_eq!(jid_bytes_of(uri), jid_of(uri), "{uri}");
    }
}

#[test]
fn case_rule_folds_sip_user_parts() {
    assert_eq!(jid_of("sip:Alice@sip.example"), "alice@sip.example");
    assert_eq!(
        jid_bytes_of("sip:%C3%89LODIE@sip.example"),
        "élodie@sip.example"
    );
    assert_eq!(uri_of("Alice@XMPP.example"), "sip:alice@xmpp.example");
}

#[test]
fn gruu_and_resource_are_reversible() {
    let a = from_sip_uri("sip:alice@sip.example;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
        .unwrap();
    assert_eq!(
        a.resource.as_deref(),
        Some("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    );
    for jid in [
        "juliet@xmpp.example/balcony",
        "juliet@xmpp.example/Gajim.X1y2",
        "juliet@xmpp.example/with space & more%",
        "juliet@xmpp.example/ünïcode/slash",
    ] {
        let uri = gruu_uri_of(jid);
        let back = from_sip_uri(&uri).unwrap();
        let orig = from_jid(jid).unwrap();
        assert_eq!(back.resource, orig.resource, "{jid} -> {uri}");
    }
    assert_eq!(
        gruu_uri_of("juliet@xmpp.example/with space"),
        "sip:juliet@xmpp.example;gr=with%20space"
    );
}

#[test]
fn normal_jids_are_borrowed() {
    let a = from_jid("juliet@xmpp.example/balcony").unwrap();
    assert!(matches!(a.local, Cow::Borrowed(_)));
    assert!(matches!(a.domain, Cow::Borrowed(_)));
    let b = from_jid("Juliet@xmpp.example").unwrap();
    assert!(matches!(b.local, Cow::Owned(_)));
    assert_eq!(b.local, "juliet");
}

#[test]
fn cpim_uris_are_accepted() {
    let a = from_sip_uri("im:alice@sip.example").unwrap();
    assert_eq!(a.bare(), "alice@sip.example");
    let p = from_sip_uri("pres:juliet@xmpp.example").unwrap();
    assert_eq!(p.bare(), "juliet@xmpp.example");
}

#[test]
fn unsupported_addresses_are_refused() {
    assert_eq!(
        from_sip_uri("tel:+15551234567"),
        Err(BridgeError::UnsupportedScheme)
    );
    assert_eq!(
        from_sip_uri("mailto:a@b.example"),
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
    assert_eq!(
        from_sip_uri("sip:a%00b@sip.example"),
        Err(BridgeError::BadAddress)
    );
    assert_eq!(from_jid("xmpp.example"), Err(BridgeError::BadAddress));
}

#[test]
fn fast_path_agrees_with_the_parser() {
    for uri in [
        "sip:alice@sip.example",
        "sip:Alice@sip.example",
        "sip:o'hara@sip.example",
        "sip:a.b-c_d@sub.sip.example",
        "sip:alice@192.0.2.1",
        "sip:alice@SIP.example",
        "sip:alice@sip.example:5060",
        "sip:al%20ice@sip.example",
    ] {
        let fast = super::simple_sip_uri(uri);
        if let Some(fast) = fast {
            let parsed = SipUri::parse(uri).unwrap();
            assert_eq!(Some(fast.local.as_ref()), parsed.user, "{uri}");
            assert_eq!(fast.domain, parsed.host, "{uri}");
        }
    }
    assert!(super::simple_sip_uri("sip:alice@192.0.2.1").is_none());
    assert!(super::simple_sip_uri("sip:alice@sip.example;gr=x").is_none());
}

/// Regression (fuzz, bridge_sip_to_xmpp): a SIP domain with an empty label or a label that
/// starts or ends with `-` mapped to an address no JID can hold.
#[test]
fn sip_domains_must_be_jid_domains() {
    for uri in [
        "sip:juliet@xmpp.e..mple",
        "sip:juliet@-xmpp.example",
        "sip:juliet@xmpp-.example",
        "sip:juliet@.xmpp.example",
    ] {
        assert_eq!(
            from_sip_uri(uri).err(),
            Some(BridgeError::BadAddress),
            "{uri}"
        );
    }
    assert!(from_sip_uri("sip:juliet@xmpp.example").is_ok());
}

/// Regression (fuzz, bridge_xmpp_to_sip): an XMPP sender whose domain has a label over 63
/// octets was taken, and the SIP From written for it was refused by parley's own SIP side.
#[test]
fn jid_domains_must_be_sip_hosts() {
    let long = format!("juliet@xmpp{}.example/balcony", "g".repeat(70));
    assert_eq!(from_jid(&long).err(), Some(BridgeError::BadAddress));
    let upper = format!("Juliet@XMPP{}.example", "G".repeat(70));
    assert_eq!(from_jid(&upper).err(), Some(BridgeError::BadAddress));
    assert!(from_jid(&format!("juliet@xmpp{}.example", "g".repeat(50))).is_ok());
}

/// Regression (fuzz, jid): a `pres:` URI with a non-ASCII host was taken although the `sip:`
/// URI written back for the same address is refused; both paths now apply the same host rules.
#[test]
fn cpim_uris_take_only_sip_hosts() {
    assert_eq!(
        from_sip_uri("pres:ster@jber.or.\u{130}.example").err(),
        Some(BridgeError::BadAddress)
    );
    assert!(from_sip_uri("pres:ster@jber.org").is_ok());
    assert!(from_sip_uri("im:ster@jber.org").is_ok());
}

/// Regression (fuzz, bridge_sip_to_xmpp): the fast path took a `sip:` host with a label over
/// 63 octets that the full path refuses, so the JID written for it was refused by parley's own
/// XMPP side.
#[test]
fn fast_path_applies_the_label_limit() {
    let long = format!("sip:romeo@s{}ip.example", "y".repeat(129));
    assert_eq!(from_sip_uri(&long).err(), Some(BridgeError::BadAddress));
    assert!(super::simple_sip_uri(&long).is_none());
    let fits = format!("sip:romeo@s{}ip.example", "y".repeat(60)); // a 63-octet label
    assert!(super::simple_sip_uri(&fits).is_some());
    assert_eq!(
        from_sip_uri(&fits).unwrap().domain,
        fits["sip:romeo@".len()..]
    );
}

/// Regression (fuzz, bridge_xmpp_to_sip): a JID localpart holding `;` was written raw into
/// the `im:` URI of a CPIM From, and read back cut at the `;` (another sender).
#[test]
fn cpim_uris_keep_every_localpart() {
    for local in ["juli;et", "ju?li/et", "a,b(c)", "o'hara+x"] {
        let jid = format!("{}@xmpp.example/balcony", jid::escape_local(local));
        let a = from_jid(&jid).unwrap();
        assert_eq!(a.local, local);
        for scheme in ["im", "pres"] {
            let mut b = BytesMut::new();
            write_uri_as(&mut b, scheme, &a);
            let uri = String::from_utf8(b.to_vec()).unwrap();
            assert!(!uri.contains(';') && !uri.contains('?'), "{uri}");
            let back = from_sip_uri(&uri).unwrap();
            assert_eq!(
                (back.local.as_ref(), back.domain.as_ref()),
                (local, "xmpp.example"),
                "{uri}"
            );
        }
    }
}

/// Regression (fuzz, bridge_sip_to_xmpp): `sip:ren5C3%A9e@…` decodes to bytes that are no
/// UTF-8 (kept as U+FFFD, a symbol no localpart holds); it was taken, and the JID written for
/// it was refused by parley's own XMPP side. A user part must have a localpart form.
#[test]
fn sip_users_must_have_a_localpart_form() {
    for uri in [
        "sip:ren5C3%A9e@sip.example",
        "sip:a%E2%82%ACb@sip.example",
        "im:ren%A9e@sip.example",
    ] {
        assert_eq!(
            from_sip_uri(uri).err(),
            Some(BridgeError::BadAddress),
            "{uri}"
        );
    }
    let ok = from_sip_uri("sip:ren%C3%A9e@sip.example").unwrap();
    assert_eq!(ok.local, "ren\u{e9}e");
    assert!(from_sip_uri("sip:o%27hara@sip.example").is_ok());
}

/// Regression (fuzz, bridge_xmpp_to_sip): a JID at a U-label domain was written into SIP with
/// the raw UTF-8 host, which parley's own SIP side refuses; the address now keeps the A-labels.
#[test]
fn jid_domains_reach_sip_as_a_labels() {
    let a = from_jid("juliet@xmpp\u{61a}xample/balcony").unwrap();
    assert!(
        a.domain.is_ascii() && a.domain.starts_with("xn--"),
        "{}",
        a.domain
    );
    let mut uri = String::new();
    to_sip_uri(&a, &mut uri);
    let back = from_sip_uri(&uri).unwrap();
    assert_eq!(back.domain, a.domain);
    let mut full = String::new();
    to_full_jid(&a, &mut full);
    assert_eq!(from_jid(&full).unwrap().domain, a.domain);
}

/// The domain check as first written (string splits, the IPv4 parse always tried).
fn domain_ok_by_split(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= super::MAX_PART
        && !domain.starts_with('[')
        && domain.parse::<std::net::Ipv4Addr>().is_err()
        && !domain
            .split('.')
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80)
}

proptest::proptest! {
    #[test]
    fn domain_check_agrees_with_the_split_version(s in "[a-c0-9.\\[\\]é_-]{0,12}") {
        proptest::prop_assert_eq!(super::check_domain(&s).is_ok(), domain_ok_by_split(&s));
    }
}

#[test]
fn domain_check_agrees_on_address_like_names() {
    for d in [
        "192.0.2.1",
        "1.2.3",
        "01.2.3.4",
        "1.2.3.4.",
        "a1.2.3.4",
        "1.2.3.4a",
        "256.1.1.1",
        "1..2.3",
        "xmpp.example",
        "-a.example",
        "a-.example",
        "[::1]",
        "",
    ] {
        assert_eq!(super::check_domain(d).is_ok(), domain_ok_by_split(d), "{d}");
    }
}

/// The fast path of `from_sip_uri` as first written (split at `@`, then the bytes of each
/// part, then the full domain check).
fn simple_sip_uri_by_split(uri: &str) -> Option<Address<'_>> {
    let rest = uri.strip_prefix("sip:")?;
    let (user, host) = rest.split_once('@')?;
    let user_ok = !user.is_empty()
        && user.len() <= MAX_PART
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,".contains(&b));
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

/// `write_jid` without its fast path.
fn jid_by_general_writer(a: &Address<'_>) -> BytesMut {
    let mut out = BytesMut::new();
    write_local(&mut out, &a.local);
    out.put_u8(b'@');
    escape_into(&mut out, &a.domain, true);
    if let Some(r) = &a.resource {
        out.put_u8(b'/');
        escape_into(&mut out, r, true);
    }
    out
}

proptest::proptest! {
    // URIs near the fast path's edges: case, escapes, ports, parameters, labels, IPv4.
    #[test]
    fn sip_uri_fast_path_agrees_with_the_split_version_and_the_parser(
        user in "[a-zA-Z0-9%@:;_.!~*'()&=+$,-]{0,8}",
        host in "[a-zA-Z0-9.;:_-]{0,14}",
        scheme in "(sip|sips|SIP|tel):",
    ) {
        let uri = format!("{scheme}{user}@{host}");
        let fast = simple_sip_uri(&uri);
        proptest::prop_assert_eq!(&fast, &simple_sip_uri_by_split(&uri), "{}", uri);
        if let Some(a) = fast {
            proptest::prop_assert_eq!(Ok(a), from_sip_uri_general(&uri), "{}", uri);
        }
    }

    #[test]
    fn plain_host_agrees_with_the_domain_check(h in "[a-z0-9.-]{0,70}") {
        let by_check = h.bytes().any(|b| b.is_ascii_lowercase()) && check_domain(&h).is_ok();
        proptest::prop_assert_eq!(plain_host(h.as_bytes()), by_check, "{}", h);
    }

    #[test]
    fn jid_fast_path_agrees_with_the_general_writer(
        local in "[a-zA-Z0-9 \"&'/:<>@\\\\é\t.-]{0,8}",
        domain in "[a-zA-Z0-9.<&'é\t-]{1,10}",
        resource in proptest::option::of("[a-zA-Z0-9 /<&'\"é]{0,6}"),
    ) {
        let a = Address {
            local: Cow::Owned(local),
            domain: Cow::Owned(domain),
            resource: resource.map(Cow::Owned),
        };
        let mut out = BytesMut::new();
        write_jid(&mut out, &a, true);
        proptest::prop_assert_eq!(&out[..], &jid_by_general_writer(&a)[..]);
    }
}

#[test]
fn usual_addresses_take_the_fast_paths() {
    for uri in [
        "sip:romeo@sip.example",
        "sip:juliet.capulet-1@xmpp.example",
        "sip:a@b0-c.d",
    ] {
        assert!(simple_sip_uri(uri).is_some(), "{uri}");
    }
    for uri in [
        "sip:Romeo@SIP.example",
        "sip:romeo@sip.example:5060",
        "sip:romeo@192.0.2.1",
        "sip:ro%20meo@sip.example",
        "sip:romeo@-sip.example",
        "sip:romeo@sip..example",
        "sips:romeo@sip.example",
    ] {
        assert!(simple_sip_uri(uri).is_none(), "{uri}");
    }
}

#[test]
fn labels_of_63_octets_pass_and_of_64_do_not() {
    let ok = format!("{}.example", "a".repeat(63));
    let long = format!("{}.example", "a".repeat(64));
    assert!(plain_host(ok.as_bytes()));
    assert!(!plain_host(long.as_bytes()));
    assert_eq!(check_domain(&long), Err(BridgeError::BadAddress));
}
