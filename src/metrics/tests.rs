use super::*;

const NAMES: &[&str] = &[
    MESSAGES_TOTAL,
    TRANSLATE_DURATION_SECONDS,
    PARSE_ERRORS_TOTAL,
    POLICY_REFUSALS_TOTAL,
    ERRORS_SENT_TOTAL,
    CONNECTIONS,
    QUEUE_MESSAGES,
    TLS_HANDSHAKE_FAILURES_TOTAL,
    AUTH_TOTAL,
    SPOOL_MESSAGES,
    SPOOL_BYTES,
    SPOOL_OLDEST_AGE_SECONDS,
    SUBSCRIPTIONS,
    RELOADS_TOTAL,
    BUILD_INFO,
    START_TIME_SECONDS,
    AUDIT_DROPPED_TOTAL,
    AUDIT_WRITTEN_TOTAL,
    FEDERATION_AUTH_TOTAL,
    FEDERATION_FAILURES_TOTAL,
    FEDERATION_RESENT_TOTAL,
    CONNECTIONS_REFUSED_TOTAL,
    NEGOTIATION_LIMIT_TOTAL,
];

/// Units a name may end with: counters `_total`; others a unit or the counted thing.
const SUFFIXES: &[&str] = &[
    "_total",
    "_seconds",
    "_bytes",
    "_messages",
    "_connections",
    "_subscriptions",
    "_info",
];

#[test]
fn names_have_prefix_unit_suffix_and_are_unique() {
    let mut seen = std::collections::HashSet::new();
    for n in NAMES {
        assert!(n.starts_with("parley_"), "{n}");
        assert!(
            SUFFIXES.iter().any(|s| n.ends_with(s)),
            "{n} has no unit suffix"
        );
        assert!(
            n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{n}"
        );
        assert!(seen.insert(*n), "{n} twice");
    }
    // Counters and only counters end in _total.
    let source = include_str!("../metrics.rs");
    for rest in source.split("describe_counter!(").skip(1) {
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        assert!(
            name.ends_with("_TOTAL"),
            "counter {name} must end in _total"
        );
    }
}

#[test]
fn label_values_are_snake_case_and_closed() {
    fn ok(v: &str) {
        assert!(
            !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{v}"
        );
    }
    Direction::ALL.iter().for_each(|v| ok(v.as_str()));
    Protocol::ALL.iter().for_each(|v| ok(v.as_str()));
    EventKind::ALL.iter().for_each(|v| ok(v.as_str()));
    Outcome::ALL.iter().for_each(|v| ok(v.as_str()));
    ParseReason::ALL.iter().for_each(|v| ok(v.as_str()));
    PolicyReason::ALL.iter().for_each(|v| ok(v.as_str()));
    TlsFailure::ALL.iter().for_each(|v| ok(v.as_str()));
    AuthMethod::ALL.iter().for_each(|v| ok(v.as_str()));
    // ALL lists variants in discriminant order: the handle index arithmetic relies on it.
    for (i, v) in EventKind::ALL.iter().enumerate() {
        assert_eq!(*v as usize, i);
    }
    for (i, v) in ParseReason::ALL.iter().enumerate() {
        assert_eq!(*v as usize, i);
    }
}

#[test]
fn peer_labels_are_capped() {
    let labels = PeerLabels::new(&["Sip.Example".to_owned()], 2);
    assert_eq!(labels.label("sip.example"), "sip.example");
    assert_eq!(labels.label("a.example"), "a.example");
    assert_eq!(labels.label("B.example."), "b.example");
    assert_eq!(labels.label("c.example"), labels::OTHER);
    // Already seen and configured ones keep their name after the cap is reached.
    assert_eq!(labels.label("a.example"), "a.example");
    assert_eq!(labels.label("SIP.EXAMPLE"), "sip.example");
    // Odd text never becomes a label value.
    let fresh = PeerLabels::new(&[], 10);
    assert_eq!(fresh.label("evil\"} 1\n"), labels::OTHER);
    assert_eq!(fresh.label(""), labels::OTHER);
    assert_eq!(fresh.label("other"), labels::OTHER);
}

#[test]
fn parse_reasons_map_codec_errors() {
    assert_eq!(
        ParseReason::from(&crate::sip::SipError::BodyTooLarge),
        ParseReason::TooLarge
    );
    assert_eq!(
        ParseReason::from(&crate::xmpp::XmppError::NotWellFormed),
        ParseReason::Xml
    );
}

#[test]
fn tls_failures_classify_rustls_errors() {
    let wrap = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    assert_eq!(
        TlsFailure::of_io(&wrap(rustls::Error::NoCertificatesPresented)),
        TlsFailure::NoCertificate
    );
    assert_eq!(
        TlsFailure::of_io(&wrap(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired
        ))),
        TlsFailure::Expired
    );
    assert_eq!(
        TlsFailure::of_rustls(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        )),
        TlsFailure::UntrustedCa
    );
    assert_eq!(
        TlsFailure::of_rustls(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadSignature
        )),
        TlsFailure::Certificate
    );
    assert_eq!(
        TlsFailure::of_rustls(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
        )),
        TlsFailure::NameMismatch
    );
    assert_eq!(
        TlsFailure::of_rustls(&rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        )),
        TlsFailure::NotTls
    );
    assert_eq!(
        TlsFailure::of_io(&std::io::ErrorKind::UnexpectedEof.into()),
        TlsFailure::Io
    );
    assert_eq!(
        TlsFailure::of_io(&std::io::ErrorKind::TimedOut.into()),
        TlsFailure::Timeout
    );
}

/// Render an exposition with every kind of series, through a local recorder.
pub(crate) fn sample_exposition() -> String {
    let recorder = builder().unwrap().build_recorder();
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, || {
        let m = Metrics::new(&Settings {
            max_peer_domains: 4,
            configured_domains: vec!["sip.test".into(), "xmpp.test".into()],
        });
        m.message(Direction::SipToXmpp, EventKind::Im, Outcome::Delivered);
        m.message(Direction::SipToXmpp, EventKind::Im, Outcome::Delivered);
        m.message(Direction::XmppToSip, EventKind::Error, Outcome::Refused);
        m.parse_error(Protocol::Sip, ParseReason::Header);
        m.policy_refusal(Protocol::Xmpp, PolicyReason::RelayingDenied);
        m.tls_handshake_failure(Protocol::Sip, false, TlsFailure::Alert);
        m.auth(Protocol::Xmpp, AuthMethod::SaslExternal, true);
        m.translate[0].record(std::time::Duration::from_micros(200));
        m.reloads[0].increment(1);
        gauge!(CONNECTIONS, "protocol" => "xmpp", "direction" => "inbound", "peer" => m.peer_label("xmpp.test")).set(1.0);
        let mut text = handle.render();
        m.render_histograms(&mut text);
        text
    })
}

#[test]
fn exposition_has_every_series_and_known_values() {
    let text = sample_exposition();
    for n in NAMES {
        if [
            ERRORS_SENT_TOTAL,
            CONNECTIONS,
            FEDERATION_AUTH_TOTAL,
            FEDERATION_FAILURES_TOTAL,
            FEDERATION_RESENT_TOTAL,
            CONNECTIONS_REFUSED_TOTAL,
            NEGOTIATION_LIMIT_TOTAL,
        ]
        .contains(n)
            && !text.contains(n)
        {
            continue; // created on first use
        }
        assert!(
            text.contains(&format!("# TYPE {n} ")),
            "{n} missing:\n{text}"
        );
    }
    assert!(text.contains(
        "parley_messages_total{direction=\"sip_to_xmpp\",kind=\"im\",outcome=\"delivered\"} 2"
    ));
    assert!(text.contains(
        "parley_messages_total{direction=\"xmpp_to_sip\",kind=\"error\",outcome=\"refused\"} 1"
    ));
    assert!(text.contains("parley_parse_errors_total{protocol=\"sip\",reason=\"header\"} 1"));
    assert!(text.contains(
        "parley_auth_total{protocol=\"xmpp\",method=\"sasl_external\",outcome=\"ok\"} 1"
    ));
    assert!(text.contains(
        "parley_translate_duration_seconds_bucket{direction=\"sip_to_xmpp\",le=\"0.00025\"} 1"
    ));
    assert!(text.contains("parley_build_info{version=\""));
    assert!(text.contains("# HELP parley_messages_total "));
}

#[test]
fn dashboard_and_alerts_use_only_defined_metrics() {
    for (file, text) in [
        (
            "contrib/grafana/parley-dashboard.json",
            include_str!("../../contrib/grafana/parley-dashboard.json"),
        ),
        (
            "contrib/prometheus/parley-alerts.yml",
            include_str!("../../contrib/prometheus/parley-alerts.yml"),
        ),
    ] {
        let mut found = 0;
        for (i, _) in text.match_indices("parley_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let base = name.strip_suffix("_bucket").unwrap_or(&name);
            if base == "parley_" || base.starts_with("parley_gateway") {
                continue; // the dashboard uid
            }
            assert!(NAMES.contains(&base), "{file}: unknown metric {name}");
            found += 1;
        }
        assert!(found >= 4, "{file}");
    }
}
