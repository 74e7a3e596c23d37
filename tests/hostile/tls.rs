//! Hostile TLS (RFC 5246/8446 as used by RFC 5922 and RFC 6120 §5): expired and untrusted
//! client certificates, certificates for the wrong name, plain text on TLS ports, handshakes
//! that never finish, and authentication that does not match the certificate.

use crate::harness::{Action, Case, Expect, Port, stream_header};

const TLS: &str = "parley_tls_handshake_failures_total";
const AUTH: &str = "parley_auth_total";

fn tls(protocol: &'static str, reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("protocol", protocol),
        ("direction", "inbound"),
        ("reason", reason),
    ]
}

const OPTIONS: &[u8] = b"OPTIONS sip:xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-tls\r\nMax-Forwards: 70\r\nFrom: <sip:a@sip.test>;tag=1\r\nTo: <sip:xmpp.test>\r\nCall-ID: tls\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

/// Pipelined after TLS on the s2s port: the restarted header and a SASL EXTERNAL for
/// xmpp.test ("eG1wcC50ZXN0").
fn sasl() -> Vec<u8> {
    format!(
        "{}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>eG1wcC50ZXN0</auth>",
        stream_header("xmpp.test", "sip.test")
    )
    .into_bytes()
}

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let mut add = |name: &str,
                   action: Action,
                   expect: Expect,
                   metric: &'static str,
                   labels: &[(&'static str, &'static str)]| {
        c.push(Case::new(name, action, expect, metric, labels));
    };
    add(
        "sip-tls-expired-client-certificate",
        Action::Tls(Port::Sip, "expired-sip.test", OPTIONS.to_vec()),
        Expect::TlsAlert("CertificateExpired"),
        TLS,
        &tls("sip", "expired"),
    );
    add(
        "sip-tls-untrusted-client-ca",
        Action::Tls(Port::Sip, "untrusted-sip.test", OPTIONS.to_vec()),
        Expect::TlsAlert("UnknownCA"),
        TLS,
        &tls("sip", "untrusted_ca"),
    );
    add(
        "sip-tls-plain-text-request",
        Action::Raw(Port::Sip, OPTIONS.to_vec()),
        Expect::Bytes(b"\x15\x03\x03\x00\x02\x02"),
        TLS,
        &tls("sip", "not_tls"),
    );
    add(
        "sip-tls-plain-crlf-keepalive",
        Action::Raw(Port::Sip, b"\r\n\r\n".to_vec()),
        Expect::Bytes(b"\x15\x03\x03\x00\x02\x02"),
        TLS,
        &tls("sip", "not_tls"),
    );
    add(
        "sip-tls-garbage-record",
        Action::Raw(Port::Sip, b"\x16\x03\x01\x00\x05hello".to_vec()),
        Expect::Closed,
        TLS,
        &tls("sip", "protocol"),
    );
    add("sip-tls-sslv2-hello", Action::Raw(Port::Sip, b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10\x07\x00\xc0\x05\x00\x80\x03\x00\x80\x01\x00\x80\x08\x00\x80\x06\x00\x40\x04\x00\x80\x02\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        Expect::Bytes(b"\x15\x03\x03\x00\x02\x02"), TLS, &tls("sip", "not_tls"));
    add(
        "sip-tls-handshake-never-sent",
        Action::Raw(Port::Sip, Vec::new()),
        Expect::Closed,
        TLS,
        &tls("sip", "timeout"),
    );
    add(
        "sip-tls-handshake-cut-short",
        Action::Raw(
            Port::Sip,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        Expect::Closed,
        TLS,
        &tls("sip", "timeout"),
    );
    add(
        "xmpp-tls-expired-client-certificate",
        Action::Tls(Port::Xmpp, "expired-xmpp.test", sasl()),
        Expect::TlsAlert("CertificateExpired"),
        TLS,
        &tls("xmpp", "expired"),
    );
    add(
        "xmpp-tls-untrusted-client-ca",
        Action::Tls(Port::Xmpp, "untrusted-xmpp.test", sasl()),
        Expect::TlsAlert("UnknownCA"),
        TLS,
        &tls("xmpp", "untrusted_ca"),
    );
    add(
        "xmpp-tls-certificate-for-other-domain",
        Action::Tls(Port::Xmpp, "other.test", sasl()),
        Expect::Contains(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
        ),
        AUTH,
        &[
            ("protocol", "xmpp"),
            ("method", "sasl_external"),
            ("outcome", "failed"),
        ],
    );
    // RFC 6120 §5.4.3.3: bytes pipelined after <starttls/> are never read as if secured.
    add(
        "xmpp-starttls-command-injection",
        Action::Raw(
            Port::Xmpp,
            format!(
                "{0}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>{0}",
                stream_header("xmpp.test", "sip.test")
            )
            .into_bytes(),
        ),
        Expect::Contains("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        "parley_parse_errors_total",
        &[("protocol", "xmpp"), ("reason", "framing")],
    );
    add(
        "xmpp-tls-plain-text-after-proceed",
        Action::Tls(
            Port::Xmpp,
            "plain",
            stream_header("xmpp.test", "sip.test").into_bytes(),
        ),
        Expect::Bytes(b"\x15\x03\x03\x00\x02\x02"),
        TLS,
        &tls("xmpp", "not_tls"),
    );
    add(
        "xmpp-direct-tls-plain-text",
        Action::Raw(
            Port::XmppTls,
            stream_header("xmpp.test", "sip.test").into_bytes(),
        ),
        Expect::Bytes(b"\x15\x03\x03\x00\x02\x02"),
        TLS,
        &tls("xmpp", "not_tls"),
    );
    add(
        "xmpp-stanza-before-starttls",
        Action::Raw(
            Port::Xmpp,
            format!(
                "{}<message from='a@xmpp.test' to='b@sip.test'><body>x</body></message>",
                stream_header("xmpp.test", "sip.test")
            )
            .into_bytes(),
        ),
        Expect::Stream("policy-violation"),
        "parley_policy_refusals_total",
        &[("protocol", "xmpp"), ("reason", "peer_not_authenticated")],
    );
    add(
        "xmpp-stanza-after-tls-before-auth",
        Action::Tls(
            Port::Xmpp,
            "xmpp.test",
            format!(
                "{}<message from='a@xmpp.test' to='b@sip.test'><body>x</body></message>",
                stream_header("xmpp.test", "sip.test")
            )
            .into_bytes(),
        ),
        Expect::Stream("not-authorized"),
        "parley_policy_refusals_total",
        &[("protocol", "xmpp"), ("reason", "peer_not_authenticated")],
    );
    add("xmpp-sasl-authzid-for-other-domain", Action::Tls(Port::Xmpp, "xmpp.test", format!(
            "{}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>c2lwLnRlc3Q=</auth>",
            stream_header("xmpp.test", "sip.test")).into_bytes()),
        Expect::Contains("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"),
        AUTH, &[("protocol", "xmpp"), ("method", "sasl_external"), ("outcome", "failed")]);
    add(
        "xmpp-stream-from-unserved-domain",
        Action::Raw(
            Port::Xmpp,
            stream_header("evil.test", "sip.test").into_bytes(),
        ),
        Expect::Stream("policy-violation"),
        "parley_policy_refusals_total",
        &[("protocol", "xmpp"), ("reason", "sender_domain_not_served")],
    );
    add(
        "xmpp-stream-without-from",
        Action::Raw(
            Port::Xmpp,
            stream_header("xmpp.test", "sip.test")
                .replace(" from='xmpp.test'", "")
                .into_bytes(),
        ),
        Expect::Stream("invalid-from"),
        "parley_parse_errors_total",
        &[("protocol", "xmpp"), ("reason", "address")],
    );
    add(
        "xmpp-stream-client-namespace",
        Action::Raw(
            Port::Xmpp,
            stream_header("xmpp.test", "sip.test")
                .replace("xmlns='jabber:server'", "xmlns='jabber:client'")
                .into_bytes(),
        ),
        Expect::Stream("invalid-namespace"),
        "parley_parse_errors_total",
        &[("protocol", "xmpp"), ("reason", "namespace")],
    );
    add(
        "xmpp-stream-to-unserved-domain",
        Action::Raw(
            Port::Xmpp,
            stream_header("xmpp.test", "evil.test").into_bytes(),
        ),
        Expect::Stream("host-unknown"),
        "parley_policy_refusals_total",
        &[("protocol", "xmpp"), ("reason", "relaying_denied")],
    );
    c
}
