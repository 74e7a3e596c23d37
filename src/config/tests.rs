use super::*;

#[test]
fn builtin_config_parses_and_validates() {
    let c = Config::builtin();
    c.validate().unwrap();
    assert_eq!(c.domains.len(), 2);
    assert!(c.sip.listen_tls.iter().all(|a| a.ip().is_loopback()));
    assert!(c.xmpp.listen.iter().all(|a| a.ip().is_loopback()));
}

#[test]
fn unknown_key_is_named() {
    let err = Config::parse("[sip]\nlisten_tsl = []\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen_tsl"), "{err}");
}

#[test]
fn bad_next_hop_is_named() {
    let text = DEFAULT_CONFIG.replace("127.0.0.1:15061", "127.0.0.1");
    let err = Config::parse(&text)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[0].next_hop"), "{err}");
}

#[test]
fn duplicate_domain_is_named() {
    let text = DEFAULT_CONFIG.replace("xmpp.localhost", "sip.localhost");
    let err = Config::parse(&text)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[1].name"), "{err}");
}

#[test]
fn both_sides_are_required() {
    let text = DEFAULT_CONFIG.replace("side = \"xmpp\"", "side = \"sip\"");
    let err = Config::parse(&text)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("side = \"xmpp\""), "{err}");
}

#[test]
fn missing_cert_file_is_named() {
    let text = format!(
        "{DEFAULT_CONFIG}\n[[domain]]\nname = \"x.example\"\nside = \"sip\"\nnext_hop = \"x.example:5061\"\ncert_file = \"/nonexistent.crt\"\nkey_file = \"/nonexistent.key\"\n"
    );
    let err = Config::parse(&text)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[2].cert_file"), "{err}");
}

#[test]
fn golden_configs_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-tests/configs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = Config::load(&path);
        if name.starts_with("bad-") {
            let expect = std::fs::read_to_string(path.with_extension("err")).unwrap();
            let err = parsed.and_then(|c| c.validate()).unwrap_err().to_string();
            assert!(err.contains(expect.trim()), "{name}: {err}");
        } else if name.ends_with(".toml") {
            parsed
                .unwrap()
                .validate()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn a_peer_ca_file_is_for_existing_files_of_xmpp_domains_only() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let on_sip = DEFAULT_CONFIG.replace(
        "next_hop = \"127.0.0.1:15061\"",
        &format!("next_hop = \"127.0.0.1:15061\"\nca_file = \"{file}\""),
    );
    let err = Config::parse(&on_sip)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[0].ca_file"), "{err}");
    let missing = format!("{DEFAULT_CONFIG}ca_file = \"/nonexistent/peer-ca.pem\"\n");
    let err = Config::parse(&missing)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[1].ca_file"), "{err}");
    let present = format!("{DEFAULT_CONFIG}ca_file = \"{file}\"\n");
    let config = Config::parse(&present).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.xmpp_peer_cas(),
        [("xmpp.localhost".to_owned(), PathBuf::from(file))]
    );
}

#[test]
fn sip_extensions_are_checked_and_read() {
    use crate::bridge::ext::Extensions;
    let with = |line: &str, domain: &str| {
        DEFAULT_CONFIG.replace(
            &format!("[[domain]]\nname = \"{domain}\"\n"),
            &format!("[[domain]]\nname = \"{domain}\"\n{line}\n"),
        )
    };
    let c = Config::parse(&with(
        "sip_extensions = [\"react\", \"reply\"]",
        "sip.localhost",
    ))
    .unwrap();
    c.validate().unwrap();
    let set = c.domain("sip.localhost").unwrap().sip_extension_set();
    assert!(set.has("react") && set.has("reply"));
    assert!(!set.has("correct") && !set.has("oob"));
    // Absent: none, the text fallbacks (today's behaviour).
    let plain = Config::builtin();
    assert_eq!(
        plain.domain("sip.localhost").unwrap().sip_extension_set(),
        Extensions::NONE
    );
    let all = Config::parse(&with("sip_extensions = [\"all\"]", "sip.localhost")).unwrap();
    assert_eq!(
        all.domain("sip.localhost").unwrap().sip_extension_set(),
        Extensions::ALL
    );
    let err = Config::parse(&with("sip_extensions = [\"reactions\"]", "sip.localhost"))
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[0].sip_extensions"), "{err}");
    assert!(err.contains("\"reactions\""), "{err}");
    let err = Config::parse(&with("sip_extensions = [\"react\"]", "xmpp.localhost"))
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[1].sip_extensions"), "{err}");
}

#[test]
fn sip_accept_types_decide_the_sip_peer_caps() {
    use crate::bridge::sip_out::SipPeerCaps;
    let with = |line: &str, domain: &str| {
        Config::parse(&DEFAULT_CONFIG.replace(
            &format!("[[domain]]\nname = \"{domain}\"\n"),
            &format!("[[domain]]\nname = \"{domain}\"\n{line}\n"),
        ))
        .unwrap()
    };
    let caps = |c: &Config| c.domain("sip.localhost").unwrap().sip_peer_caps();
    // Absent: a SIMPLE peer (the behaviour without the key).
    assert_eq!(caps(&Config::builtin()), SipPeerCaps::SIMPLE);
    let plain = with("sip_accept_types = [\"text/plain\"]", "sip.localhost");
    plain.validate().unwrap();
    assert_eq!(caps(&plain), SipPeerCaps::PLAIN);
    let some = with(
        "sip_accept_types = [\"text/*\", \"message/cpim\"]\nsip_extensions = [\"react\"]",
        "sip.localhost",
    );
    some.validate().unwrap();
    let c = caps(&some);
    assert!(c.cpim && c.imdn && !c.is_composing && !c.html);
    assert!(c.extensions.has("react"));
    let all = with("sip_accept_types = [\"*\"]", "sip.localhost");
    assert_eq!(caps(&all), SipPeerCaps::SIMPLE);

    for bad in ["text", "text/plain;charset=UTF-8", "/plain", "text/ plain"] {
        let err = with(&format!("sip_accept_types = [{bad:?}]"), "sip.localhost")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("domain[0].sip_accept_types"),
            "{bad}: {err}"
        );
    }
    let err = with("sip_accept_types = [\"text/plain\"]", "xmpp.localhost")
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("domain[1].sip_accept_types"), "{err}");
}

#[test]
fn the_wait_for_queue_room_stays_under_a_quarter_of_the_transaction_timeout() {
    let wait = |text: &str| Config::parse(text).unwrap().queue_wait().as_millis();
    assert_eq!(wait(""), 2_000, "the default");
    assert_eq!(wait("[connections]\nqueue_wait_ms = 5000\n"), 5_000);
    assert_eq!(
        wait("[connections]\nqueue_wait_ms = 5000\n[sip]\ntransaction_timeout_ms = 8000\n"),
        2_000
    );
}
