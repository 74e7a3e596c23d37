use super::*;

/// Every long name in every case pattern maps to its row, and a name that differs in one
/// byte by exactly the case bit (0x20) at a non-letter, or in any other way, does not.
#[test]
fn long_names_fold_case_and_nothing_else() {
    for info in TABLE {
        let long = info.long.as_bytes();
        for pattern in 0u32..4 {
            let name: Vec<u8> = long
                .iter()
                .enumerate()
                .map(|(i, b)| match (pattern, i % 2) {
                    (0, _) => b.to_ascii_lowercase(),
                    (1, _) => b.to_ascii_uppercase(),
                    (2, 0) | (3, 1) => b.to_ascii_uppercase(),
                    _ => b.to_ascii_lowercase(),
                })
                .collect();
            assert_eq!(HeaderName::from_bytes(&name), info.name, "{}", info.long);
        }
        for i in 0..long.len() {
            for flip in [0x20u8, 0x01, 0x80] {
                let mut name = long.to_vec();
                name[i] ^= flip;
                if flip == 0x20 && name[i].is_ascii_alphabetic() {
                    continue;
                }
                assert_ne!(
                    HeaderName::from_bytes(&name),
                    info.name,
                    "{:?}",
                    String::from_utf8_lossy(&name)
                );
            }
        }
        let mut longer = long.to_vec();
        longer.push(b'x');
        assert_ne!(HeaderName::from_bytes(&longer), info.name, "{}", info.long);
    }
}

#[test]
fn names_long_compact_and_case() {
    let cases: &[(&[u8], HeaderName)] = &[
        (b"Via", H::Via),
        (b"v", H::Via),
        (b"V", H::Via),
        (b"vIA", H::Via),
        (b"i", H::CallId),
        (b"call-id", H::CallId),
        (b"m", H::Contact),
        (b"e", H::ContentEncoding),
        (b"l", H::ContentLength),
        (b"c", H::ContentType),
        (b"f", H::From),
        (b"s", H::Subject),
        (b"k", H::Supported),
        (b"t", H::To),
        (b"o", H::Event),
        (b"u", H::AllowEvents),
        (b"r", H::ReferTo),
        (b"b", H::ReferredBy),
        (b"x", H::SessionExpires),
        (b"y", H::Identity),
        (b"a", H::AcceptContact),
        (b"j", H::RejectContact),
        (b"d", H::RequestDisposition),
        (b"n", H::IdentityInfo),
        (b"MAX-FORWARDS", H::MaxForwards),
        (b"subscription-state", H::SubscriptionState),
        (b"WWW-Authenticate", H::WwwAuthenticate),
        (b"X-Custom", H::Other),
        (b"C%6Fntact", H::Other),
        (b"q", H::Other),
        (b"", H::Other),
        (b"1", H::Other),
        (b"\xff", H::Other),
    ];
    for (raw, want) in cases {
        assert_eq!(
            HeaderName::from_bytes(raw),
            *want,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn every_row_round_trips() {
    for info in TABLE {
        assert_eq!(HeaderName::from_bytes(info.long.as_bytes()), info.name);
        assert_eq!(info.name.as_str(), Some(info.long));
        if let Some(c) = info.compact {
            assert_eq!(HeaderName::from_bytes(&[c]), info.name);
            assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), info.name);
        }
    }
    assert_eq!(H::Other.as_str(), None);
    assert!(H::Via.is_list() && H::Contact.is_list() && !H::Date.is_list());
}

#[test]
fn name_addr_forms() {
    let n = NameAddr::parse("\"Alice \\\"A\\\"\" <sip:alice@a.example>;tag=1;x").unwrap();
    assert_eq!(n.display_name, Some("Alice \\\"A\\\""));
    assert_eq!(n.uri, "sip:alice@a.example");
    assert_eq!(n.tag, Some("1"));
    assert_eq!(n.param("x"), Some(""));

    let n = NameAddr::parse("Bob  Smith <sips:bob@b.example>").unwrap();
    assert_eq!(n.display_name, Some("Bob  Smith"));
    assert_eq!(n.tag, None);

    let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
    assert_eq!(n.display_name, Some("caller"));

    let n = NameAddr::parse("sip:carol@c.example ;  tag = 9").unwrap();
    assert_eq!(
        (n.display_name, n.uri, n.tag),
        (None, "sip:carol@c.example", Some("9"))
    );

    let n = NameAddr::parse("isbn:2983792873").unwrap();
    assert_eq!(n.uri, "isbn:2983792873");

    let n = NameAddr::parse("\"Folded\"\r\n <sip:f@x>\r\n  ;\r\n  tag = a").unwrap();
    assert_eq!(n.tag, Some("a"));
}

#[test]
fn name_addr_rejects() {
    for bad in [
        "\"Mr. J. User <sip:j.user@example.com>",
        "\"Watson, Thomas\" < sip:t.watson@example.org >",
        "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "<sip:a@b>;;",
        // Regression (fuzz, sip_message): a SEMI with no parameter after it.
        "<sip:a@b>;",
        "<sip:a@b>\r;",
        "sip:a@b ; ",
        "<sip:a@b> junk",
        "<>",
        "",
        "nocolon",
    ] {
        assert_eq!(NameAddr::parse(bad), None, "{bad}");
    }
}

#[test]
fn cseq() {
    assert_eq!(
        CSeq::parse("0009\r\n  INVITE"),
        Some(CSeq {
            seq: 9,
            method: "INVITE"
        })
    );
    assert_eq!(CSeq::parse("2147483647 X").map(|c| c.seq), Some(2147483647));
    assert_eq!(CSeq::parse("2147483648 X"), None);
    assert_eq!(CSeq::parse("36893488147419103232 REGISTER"), None);
    assert_eq!(CSeq::parse("1"), None);
    assert_eq!(CSeq::parse("x INVITE"), None);
}

#[test]
fn via() {
    let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
    assert_eq!(
        (v.transport, v.host, v.port, v.branch),
        ("UDP", "192.0.2.2", None, Some("390skdjuw"))
    );
    let v = Via::parse(
        "SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK1;received=192.0.2.1;rport=5062;maddr=224.2.0.1;ttl=16;x",
    )
    .unwrap();
    assert_eq!(v.host, "[2001:db8::1]");
    assert_eq!(v.port, Some(5061));
    assert_eq!(v.received, Some("192.0.2.1"));
    assert_eq!(v.rport, Some(Some(5062)));
    assert_eq!(v.maddr, Some("224.2.0.1"));
    assert_eq!(v.ttl, Some(16));
    assert_eq!(v.param("x"), Some(""));
    let v = Via::parse("SIP/2.0/UDP h;rport;branch=z9hG4bKx").unwrap();
    assert_eq!(v.rport, Some(None));
    for bad in [
        "SIP/2.0/UDP 192.0.2.15;;,;,,",
        "SIP/2.0/UDP 192.0.2.15;",
        "SIP/3.0/UDP h",
        "SIP/2.0/ h",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP h:99999",
        "SIP/2.0/UDP h;ttl=300",
        "SIP/2.0/UDP h;branch",
    ] {
        assert_eq!(Via::parse(bad), None, "{bad}");
    }
}

#[test]
fn media_type() {
    let m = MediaType::parse("text/plain ; charset=\"UTF-8\";format=flowed").unwrap();
    assert_eq!((m.type_, m.subtype), ("text", "plain"));
    assert_eq!(m.param("CHARSET"), Some("UTF-8"));
    assert_eq!(m.param("format"), Some("flowed"));
    assert_eq!(m.param("nope"), None);
    assert!(m.is("TEXT", "Plain"));
    let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
    assert_eq!(m.param("boundary"), Some("7a9cbec02ceef655"));
    assert_eq!(
        MediaType::parse("application / pidf+xml").map(|m| m.subtype),
        Some("pidf+xml")
    );
    for bad in [
        "text",
        "text/",
        "/plain",
        "text/plain;",
        "text/plain;=x",
        "te xt/plain",
    ] {
        assert_eq!(MediaType::parse(bad), None, "{bad}");
    }
}

/// `is_absolute_uri` as first written (split, then a closure per byte class).
fn absolute_by_split(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b > b' ' && b != 0x7f && b != b'<' && b != b'>')
}

/// `split_host_port` as first written (find the colon, then check the host byte by byte).
fn host_port_by_split(s: &str) -> Option<(&str, Option<u16>)> {
    if s.starts_with('[') {
        return split_host_port(s);
    }
    let end = s.bytes().position(|b| b == b':').unwrap_or(s.len());
    let host = s.get(..end)?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return None;
    }
    let port = match s.get(end..)?.strip_prefix(':') {
        None => None,
        Some(p) => Some(u16::try_from(scan::parse_bounded(p, 65535)?).ok()?),
    };
    Some((host, port))
}

/// `angle_uri` as first written (up to the first `>`, white space or `<`), then the full
/// absolute-URI check.
fn angle_uri_by_stop(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('<')?;
    let gt = inner
        .bytes()
        .position(|b| b == b'>' || scan::is_lws(b) || b == b'<')
        .filter(|&i| inner.as_bytes().get(i) == Some(&b'>'))?;
    let uri = inner.get(..gt)?;
    if uri.is_empty() || !is_absolute_uri(uri) {
        return None;
    }
    Some((uri, inner.get(gt + 1..)?))
}

proptest::proptest! {
    #[test]
    fn media_type_plain_path_agrees(s in "[a-z+/;= \t\"]{0,20}") {
        proptest::prop_assert_eq!(MediaType::parse(&s), MediaType::parse_general(&s));
    }

    #[test]
    fn angle_uri_one_pass_agrees(s in "<?[a-z0-9:@;<> \t\u{1}\u{7f}\u{e9}]{0,16}>?[;a]{0,2}") {
        let fused = angle_uri(&s).filter(|(u, _)| has_scheme(u));
        proptest::prop_assert_eq!(fused, angle_uri_by_stop(&s));
    }

    #[test]
    fn host_port_one_pass_agrees(s in "[a-z0-9._:;@ \\-\u{e9}]{0,16}") {
        proptest::prop_assert_eq!(split_host_port(&s), host_port_by_split(&s));
    }

    #[test]
    fn absolute_uri_table_agrees(s in "[a-zA-Z0-9+.:<> \t\u{7f}\u{1}é@;-]{0,16}") {
        proptest::prop_assert_eq!(is_absolute_uri(&s), absolute_by_split(&s));
    }
}

/// The one-pass paths answer for the usual shapes (so their property tests compare something).
#[test]
fn tight_paths_take_the_usual_shapes() {
    for v in [
        "SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bK4b43c2ff8.1;i=7a1",
        "SIP/2.0/TLS 10.0.0.12:40211;received=203.0.113.9;rport=40211;branch=z9hG4bKPjhx7Kx6fL",
        "SIP/2.0/UDP host.example",
        "sip/2.0/tcp h;rport;ttl=5;maddr=10.0.0.1",
    ] {
        let t = Via::parse_tight(v);
        assert!(t.is_some(), "{v}");
        assert_eq!(t, Via::parse_general(v), "{v}");
    }
    for v in [
        "\"Alice Liddell\" <sip:alice@sip.example>;tag=Ys1hOqJ7aQ",
        "<sip:bob@xmpp.example>",
        "<sip:a@b;lr>;tag=1;expires=60",
        "\"\"<tel:+1>",
    ] {
        let t = NameAddr::parse_tight(v);
        assert!(t.is_some(), "{v}");
        assert_eq!(t, NameAddr::parse_general(v), "{v}");
    }
    // Shapes left to the general path.
    for v in [
        "SIP / 2.0 / UDP h",
        "SIP/2.0/UDP [::1]:5060",
        "SIP/2.0/UDP h ;x",
    ] {
        assert_eq!(Via::parse_tight(v), None, "{v}");
    }
    for v in ["A <sip:a@b>", "<sip:a@b> ;tag=1", "<sip:a@b>;tag=\"q\""] {
        assert_eq!(NameAddr::parse_tight(v), None, "{v}");
    }
}

proptest::proptest! {
    #[test]
    fn via_tight_path_agrees(
        s in "(SIP/2\\.0/|sip/2\\.0/|SIP/2\\.0 /|SIP/2\\.1/)[A-Za-z]{0,3}[ \t]{0,2}[a-z0-9.:\\[\\] -]{0,10}(;[a-z0-9=;\" :\\[\\]]{0,16})?[ ]?",
    ) {
        if let Some(t) = Via::parse_tight(&s) {
            proptest::prop_assert_eq!(Some(t), Via::parse_general(&s));
        }
        proptest::prop_assert_eq!(Via::parse(&s), Via::parse_general(&s));
    }

    #[test]
    fn name_addr_tight_path_agrees(
        s in "(\"[a-z \\\\\"]{0,4}\"[ \t]{0,2})?<?[a-z0-9:@;<> \t]{0,12}>?(;[a-z0-9=;\" ]{0,14})?[ ]?",
    ) {
        if let Some(t) = NameAddr::parse_tight(&s) {
            proptest::prop_assert_eq!(Some(t), NameAddr::parse_general(&s));
        }
        proptest::prop_assert_eq!(NameAddr::parse(&s), NameAddr::parse_general(&s));
    }
}

#[test]
fn cseq_tight_path_takes_the_usual_shape() {
    for v in ["20 MESSAGE", "1 SUBSCRIBE", "2147483647 INVITE"] {
        assert!(CSeq::parse_tight(v).is_some(), "{v}");
        assert_eq!(CSeq::parse_tight(v), CSeq::parse_general(v), "{v}");
    }
    assert_eq!(CSeq::parse_tight("2147483648 INVITE"), None);
    assert_eq!(CSeq::parse_tight("1  INVITE"), None);
}

proptest::proptest! {
    #[test]
    fn cseq_tight_path_agrees(s in "[ \t]?[0-9]{0,12}[ \t]{0,2}[A-Z@\" ]{0,6}[ ]?") {
        if let Some(t) = CSeq::parse_tight(&s) {
            proptest::prop_assert_eq!(Some(t), CSeq::parse_general(&s));
        }
        proptest::prop_assert_eq!(CSeq::parse(&s), CSeq::parse_general(&s));
    }
}
