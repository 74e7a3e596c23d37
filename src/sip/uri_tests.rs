use super::*;

#[test]
fn sip_uri_parts() {
    let u = SipUri::parse("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=hi&x=1")
        .unwrap();
    assert_eq!(u.scheme, Scheme::Sips);
    assert_eq!(u.user, Some("alice"));
    assert_eq!(u.password, Some("secret"));
    assert_eq!(u.host, "[2001:db8::1]");
    assert_eq!(u.port, Some(5061));
    assert_eq!(u.params, "transport=tls;lr");
    assert_eq!(u.param("TRANSPORT"), Some("tls"));
    assert_eq!(u.param("lr"), Some(""));
    assert_eq!(u.param("gr"), None);
    assert_eq!(u.headers, "subject=hi&x=1");
    assert_eq!(u.header("x"), Some("1"));

    let u = SipUri::parse("sip:example.com").unwrap();
    assert_eq!(
        (u.user, u.host, u.port, u.params),
        (None, "example.com", None, "")
    );
}

#[test]
fn user_part_quirks() {
    let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
    assert_eq!(u.user, Some("user;par=u%40example.net"));
    assert_eq!(u.host, "example.com");
    assert_eq!(u.user_decoded().as_deref(), Some("user;par=u@example.net"));

    let u = SipUri::parse("sip:%75se%72@example.com").unwrap();
    assert_eq!(u.user_decoded().as_deref(), Some("user"));
    assert!(matches!(
        SipUri::parse("sip:bob@b").unwrap().user_decoded(),
        Some(Cow::Borrowed("bob"))
    ));

    let u = SipUri::parse(
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    )
    .unwrap();
    assert_eq!(
        u.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(u.host, "example.com");
    assert_eq!(u.headers, "");

    let u = SipUri::parse("sip:null-%00-null@example.com").unwrap();
    assert_eq!(u.user_decoded().as_deref(), Some("null-\0-null"));
}

#[test]
fn schemes_and_rejects() {
    assert_eq!(
        SipUri::parse("tel:+1-201-555-0123"),
        Err(SipError::UnsupportedUriScheme)
    );
    assert_eq!(
        SipUri::parse("soap.beep://192.0.2.103:3002"),
        Err(SipError::UnsupportedUriScheme)
    );
    for bad in [
        "sip:",
        "sip:user@",
        "sip:@example.com",
        "sip:user@example.com; lr",
        "sip:user@exa mple.com",
        "sip:a@b:port",
        "sip:a@b:70000",
        "sip:a@b;",
        "sip:a@b?",
        "sip:a@[zz::1]",
        "sip:a%zz@b",
        "<sip:a@b>",
        "nocolon",
    ] {
        assert!(SipUri::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn tel_and_absolute() {
    let Uri::Tel(t) = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap() else {
        panic!("tel");
    };
    assert!(t.is_global());
    assert_eq!(t.number, "+1-201-555-0123");
    assert_eq!(t.param("phone-context"), Some("example.com"));
    assert!(TelUri::parse("tel:1234;ext=5").is_ok_and(|t| !t.is_global()));
    assert!(TelUri::parse("tel:").is_err());
    assert!(TelUri::parse("tel:+12 34").is_err());
    assert_eq!(
        Uri::parse("isbn:2983792873").unwrap(),
        Uri::Absolute {
            scheme: "isbn",
            rest: "2983792873"
        }
    );
    assert!(matches!(Uri::parse("sip:a@b"), Ok(Uri::Sip(_))));
    assert!(Uri::parse("sip:a@ b").is_err());
}

/// `scan_after_scheme` by its parts as first written: the byte and escape check, then a
/// search for `@`, then one for `?` in what follows it.
fn after_scheme_by_parts(s: &str) -> Option<(Option<usize>, Option<usize>)> {
    if !bytes_and_escapes_ok(s) {
        return None;
    }
    let at = s.find('@');
    let from = at.map_or(0, |a| a + 1);
    let q = s[from..].find('?').map(|q| q + from);
    Some((at, q))
}

proptest::proptest! {
    #[test]
    fn one_pass_after_scheme_agrees(s in "[a-f0-9@?%:;= <\u{e9}]{0,16}") {
        proptest::prop_assert_eq!(scan_after_scheme(s.as_bytes()), after_scheme_by_parts(&s));
    }
}

#[test]
fn tight_path_takes_the_usual_shapes() {
    for u in [
        "sip:bob@xmpp.example",
        "sip:gw@xmpp.example:5061;transport=tls",
        "SIPS:host.example;lr",
        "sip:198.51.100.7:5061;transport=tls;lr;r2=on",
        "sip:+1-555_x.y!z@h",
    ] {
        let t = SipUri::parse_tight(u);
        assert!(t.is_some(), "{u}");
        assert_eq!(t.ok_or(SipError::BadUri), SipUri::parse_general(u), "{u}");
    }
    for u in [
        "sip:a:pw@h",
        "sip:a%41@h",
        "sip:h?x=1",
        "sip:[::1]",
        "sip:h;",
        "sip:h;=x",
        "sip:@h",
        "sip:h:99999",
        "tel:+1",
    ] {
        assert_eq!(SipUri::parse_tight(u), None, "{u}");
    }
}

proptest::proptest! {
    #[test]
    fn tight_path_agrees(s in "(sip:|SIPS:|sips:|si:|tel:)[a-z0-9@:;=?%.!&,+\\[\\]-]{0,18}") {
        if let Some(t) = SipUri::parse_tight(&s) {
            proptest::prop_assert_eq!(Ok(t), SipUri::parse_general(&s));
        }
        proptest::prop_assert_eq!(SipUri::parse(&s), SipUri::parse_general(&s));
    }
}
