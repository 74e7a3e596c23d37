//! Hostile SIP content (RFC 3261 §25, RFC 3428, RFC 5922): encodings and control characters,
//! markup aimed at the XMPP side, spoofed senders, relaying, slow and idle peers, floods.

use crate::harness::{Action, Case, Expect, Port};
use crate::sip::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let mut add = |name: &str,
                   action: fn(&str) -> Action,
                   expect: Expect,
                   metric: &'static str,
                   labels: &[(&'static str, &'static str)]| {
        c.push(Case::new(name, action(name), expect, metric, labels));
    };
    let fr = &parse("framing")[..];
    let hd = &parse("header")[..];

    // Encodings and control characters in headers and bodies.
    add(
        "sip-invalid-utf8-display-name",
        |n| {
            let mut b = head(n, &["-From:"]).into_bytes();
            b.extend_from_slice(b"From: \"\xff\xfe\xc0\xaf\" <sip:");
            b.extend_from_slice(
                format!("{n}@sip.test>;tag=1\r\nContent-Length: 1\r\n\r\nx").as_bytes(),
            );
            Action::Sip(b)
        },
        sip("400 Bad From"),
        PARSE,
        hd,
    );
    add(
        "sip-invalid-utf8-subject",
        |n| Action::Sip(raw_msg(n, b"Subject: caf\xe9 \xed\xa0\x80", b"x")),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-invalid-utf8-header-name",
        |n| Action::Sip(raw_msg(n, b"X-\xff\xfe: v", b"x")),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-invalid-utf8-request-uri",
        |n| {
            let mut b = b"MESSAGE sip:juli\xffet@xmpp.test SIP/2.0\r\n".to_vec();
            let m = msg(n, &[], b"x");
            let at = m.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            b.extend_from_slice(&m[at..]);
            Action::Sip(b)
        },
        sip("400 Bad Request Line"),
        PARSE,
        &parse("start_line"),
    );
    add(
        "sip-invalid-utf8-body",
        |n| Action::Sip(msg(n, &[], b"caf\xe9 \xff")),
        sip("415 Unsupported Charset"),
        POLICY,
        &policy("untranslatable"),
    );
    add(
        "sip-overlong-utf8-body",
        |n| Action::Sip(msg(n, &[], b"\xc0\xbcevil/\xc0\xbe")),
        sip("415 Unsupported Charset"),
        POLICY,
        &policy("untranslatable"),
    );
    add(
        "sip-nul-in-subject",
        |n| Action::Sip(raw_msg(n, b"Subject: a\0b", b"x")),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-nul-in-display-name",
        |n| {
            let mut b = head(n, &["-From:"]).into_bytes();
            b.extend_from_slice(
                format!(
                    "From: \"a\0b\" <sip:{n}@sip.test>;tag=1\r\nContent-Length: {}\r\n\r\n{n}",
                    n.len()
                )
                .as_bytes(),
            );
            Action::Sip(b)
        },
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-bare-cr-in-subject",
        |n| Action::Sip(raw_msg(n, b"Subject: a\rX-Evil: b", b"x")),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-nul-in-body",
        |n| Action::Sip(msg(n, &[], format!("{n} a\0b").as_bytes())),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-control-chars-in-body",
        |n| Action::Sip(msg(n, &[], format!("{n} bell\x07 esc\x1b").as_bytes())),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );

    // Markup towards XMPP is escaped, never interpreted.
    add(
        "sip-xml-in-body",
        |n| Action::Sip(msg(n, &[], format!("{n} </body><evil/>").as_bytes())),
        Expect::ToXmpp(|s| {
            no_injection(s).and_then(|()| {
                s.contains("&lt;/body&gt;&lt;evil/&gt;")
                    .then_some(())
                    .ok_or("body not escaped".into())
            })
        }),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-xml-in-display-name",
        |n| {
            Action::Sip(msg(
                n,
                &[&format!("From: \"x'/><evil a='\" <sip:{n}@sip.test>;tag=1")],
                n.as_bytes(),
            ))
        },
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-xml-in-subject",
        |n| Action::Sip(msg(n, &["Subject: </subject><evil/>"], n.as_bytes())),
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-xml-in-call-id",
        |n| {
            Action::Sip(msg(
                n,
                &[&format!("Call-ID: {n}</thread><evil/>")],
                n.as_bytes(),
            ))
        },
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-jid-unsafe-user",
        |n| {
            Action::Sip(msg(
                n,
                &["From: <sip:x%27%3E%3Cevil@sip.test>;tag=1"],
                n.as_bytes(),
            ))
        },
        Expect::ToXmpp(|s| no_injection(s).and(valid_jid(s, "from"))),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-escaped-at-in-user",
        |n| {
            Action::Sip(msg(
                n,
                &[
                    "MESSAGE sip:juliet%40evil.test@xmpp.test SIP/2.0",
                    "To: <sip:juliet%40evil.test@xmpp.test>",
                ],
                n.as_bytes(),
            ))
        },
        Expect::ToXmpp(|s| no_injection(s).and(valid_jid(s, "to"))),
        MESSAGES,
        DELIVERED,
    );

    // Spoofed senders and relaying.
    add(
        "sip-spoofed-from-other-sip-domain",
        |n| Action::Sip(msg(n, &[&format!("From: <sip:{n}@sip2.test>;tag=1")], b"x")),
        sip("403 Peer Not Authenticated For Sender Domain"),
        POLICY,
        &policy("peer_not_authenticated"),
    );
    // RFC 5922 mutual TLS: no certificate, no connection.
    add(
        "sip-no-client-certificate",
        |n| Action::Tls(Port::Sip, "", msg(n, &[], b"x")),
        Expect::TlsAlert("CertificateRequired"),
        "parley_tls_handshake_failures_total",
        &[
            ("protocol", "sip"),
            ("direction", "inbound"),
            ("reason", "no_certificate"),
        ],
    );
    add(
        "sip-certificate-for-other-domain",
        |n| Action::SipAs("other.test", msg(n, &[], b"x")),
        sip("403 Peer Not Authenticated For Sender Domain"),
        POLICY,
        &policy("peer_not_authenticated"),
    );
    let sdns = &policy("sender_domain_not_served")[..];
    add(
        "sip-spoofed-from-xmpp-domain",
        |n| Action::Sip(msg(n, &[&format!("From: <sip:{n}@xmpp.test>;tag=1")], b"x")),
        sip("403 Sender Domain Not Served Here"),
        POLICY,
        sdns,
    );
    add(
        "sip-spoofed-from-foreign-domain",
        |n| Action::Sip(msg(n, &[&format!("From: <sip:{n}@evil.test>;tag=1")], b"x")),
        sip("403 Sender Domain Not Served Here"),
        POLICY,
        sdns,
    );
    let relay = &policy("relaying_denied")[..];
    add(
        "sip-relay-to-foreign-domain",
        |n| {
            Action::Sip(msg(
                n,
                &[
                    "MESSAGE sip:victim@evil.test SIP/2.0",
                    "To: <sip:victim@evil.test>",
                ],
                b"x",
            ))
        },
        sip("403 Relaying Denied"),
        POLICY,
        relay,
    );
    add(
        "sip-relay-to-sip-domain",
        |n| {
            Action::Sip(msg(
                n,
                &[
                    "MESSAGE sip:bob@sip2.test SIP/2.0",
                    "To: <sip:bob@sip2.test>",
                ],
                b"x",
            ))
        },
        sip("403 Relaying Denied"),
        POLICY,
        relay,
    );
    add(
        "sip-relay-to-ip-literal",
        |n| {
            Action::Sip(msg(
                n,
                &[
                    "MESSAGE sip:victim@127.0.0.1 SIP/2.0",
                    "To: <sip:victim@127.0.0.1>",
                ],
                b"x",
            ))
        },
        sip("400 Bad Address"),
        POLICY,
        &policy("untranslatable"),
    );
    add(
        "sip-relay-to-xmpp-subdomain",
        |n| {
            Action::Sip(msg(
                n,
                &[
                    "MESSAGE sip:victim@evil.xmpp.test SIP/2.0",
                    "To: <sip:victim@evil.xmpp.test>",
                ],
                b"x",
            ))
        },
        sip("403 Relaying Denied"),
        POLICY,
        relay,
    );

    // Slow, idle and flooding peers (lab: sip.idle_timeout_ms = 3000, sender burst 5).
    add(
        "sip-idle-connection",
        |_| Action::Sip(Vec::new()),
        Expect::Closed,
        IDLE,
        &[("protocol", "sip")],
    );
    add(
        "sip-slowloris-head",
        |n| Action::SipSlow(msg(n, &[], b"x")),
        sip_close("400 Truncated Message"),
        PARSE,
        fr,
    );
    add(
        "sip-flood-one-sender",
        |n| {
            let reqs = (0..6)
                .map(|i| {
                    msg(
                        &format!("{n}-{i}"),
                        &[&format!("From: <sip:{n}@sip.test>;tag=f")],
                        format!("{n} {i}").as_bytes(),
                    )
                })
                .collect();
            Action::SipFlood(reqs)
        },
        Expect::Sip(
            vec!["202 Accepted"; 5]
                .into_iter()
                .chain(["403 Sender Rate Limit Exceeded"])
                .collect(),
            false,
        ),
        POLICY,
        &policy("rate_limited"),
    );
    c
}
