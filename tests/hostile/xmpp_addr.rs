//! Hostile XMPP addressing and content (RFC 6120 §4.9, §8.1; RFC 7622; XEP-0106): spoofed
//! senders, relaying, JID tricks, values aimed at SIP headers, slow and idle streams, floods,
//! broken stream preludes.

use crate::harness::{Action, Case, Expect, Port, stream_header};
use crate::xmpp::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let mut add = |name: &str,
                   action: fn(&str) -> Action,
                   expect: Expect,
                   metric: &'static str,
                   labels: &[(&'static str, &'static str)]| {
        c.push(Case::new(name, action(name), expect, metric, labels));
    };
    let xml = &parse("xml")[..];
    let addr = &parse("address")[..];

    // Addressing: spoofed senders, relaying, JID tricks.
    let pna = &policy("peer_not_authenticated")[..];
    add(
        "xmpp-spoofed-from-foreign-domain",
        |n| Action::Xmpp(addressed(n, &format!("{n}@evil.test/r"), "bob@sip.test")),
        stream("invalid-from"),
        POLICY,
        pna,
    );
    add(
        "xmpp-spoofed-from-gateway-domain",
        |n| Action::Xmpp(addressed(n, &format!("{n}@sip.test/r"), "bob@sip.test")),
        stream("invalid-from"),
        POLICY,
        pna,
    );
    add(
        "xmpp-spoofed-from-subdomain",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@evil.xmpp.test/r"),
                "bob@sip.test",
            ))
        },
        stream("invalid-from"),
        POLICY,
        pna,
    );
    add(
        "xmpp-missing-from",
        |n| {
            Action::Xmpp(
                format!("<message to='bob@sip.test' id='{n}'><body>x</body></message>")
                    .into_bytes(),
            )
        },
        stream("invalid-from"),
        PARSE,
        addr,
    );
    add(
        "xmpp-from-two-at-signs",
        |n| Action::Xmpp(addressed(n, "a@b@xmpp.test", "bob@sip.test")),
        stream("invalid-from"),
        PARSE,
        addr,
    );
    add(
        "xmpp-from-localpart-1100",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{}@xmpp.test", "l".repeat(1100)),
                "bob@sip.test",
            ))
        },
        stream("invalid-from"),
        PARSE,
        addr,
    );
    add(
        "xmpp-missing-to",
        |n| {
            Action::Xmpp(
                format!("<message from='{n}@xmpp.test/r' id='{n}'><body>x</body></message>")
                    .into_bytes(),
            )
        },
        stream("improper-addressing"),
        PARSE,
        addr,
    );
    add(
        "xmpp-to-empty-localpart",
        |n| Action::Xmpp(addressed(n, &format!("{n}@xmpp.test/r"), "@sip.test")),
        stream("improper-addressing"),
        PARSE,
        addr,
    );
    let relay = &policy("relaying_denied")[..];
    add(
        "xmpp-relay-to-foreign-domain",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "victim@evil.test",
            ))
        },
        stream("host-unknown"),
        POLICY,
        relay,
    );
    add(
        "xmpp-relay-back-to-xmpp-domain",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "victim@xmpp.test",
            ))
        },
        stream("host-unknown"),
        POLICY,
        relay,
    );
    add(
        "xmpp-relay-homograph-domain",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "bob@\u{0455}ip.test",
            ))
        },
        stream("host-unknown"),
        POLICY,
        relay,
    );
    add(
        "xmpp-relay-to-unauthenticated-local-domain",
        |n| Action::Xmpp(addressed(n, &format!("{n}@xmpp.test/r"), "bob@sip2.test")),
        stream("host-unknown"),
        POLICY,
        relay,
    );
    add(
        "xmpp-jid-escaped-at-in-localpart",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "bob\\40evil.test@sip.test",
            ))
        },
        Expect::ToSip(request_uri_stays_local),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-jid-percent-at-in-localpart",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "bob%40evil.test@sip.test",
            ))
        },
        Expect::ToSip(request_uri_stays_local),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-jid-crlf-in-to-resource",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r"),
                "bob@sip.test/x&#13;&#10;X-Injected: 1",
            ))
        },
        stream("improper-addressing"),
        PARSE,
        addr,
    );
    add(
        "xmpp-jid-crlf-in-from-resource",
        |n| {
            Action::Xmpp(addressed(
                n,
                &format!("{n}@xmpp.test/r&#13;&#10;X-Injected: 1"),
                "bob@sip.test",
            ))
        },
        stream("invalid-from"),
        PARSE,
        addr,
    );

    // Nicknames, subjects, threads and bodies must not become SIP headers.
    add(
        "xmpp-nick-crlf",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>Evil&#13;&#10;X-Injected: yes</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-lf",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>Evil&#10;X-Injected: yes</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-cr",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>Evil&#13;X-Injected: yes</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-raw-newlines",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>Evil\r\nX-Injected: yes</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-quote-and-address",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>a\" &lt;sip:evil@evil.test&gt;;x=\"</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-trailing-backslash",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>a\\</nick>",
            ))
        },
        Expect::ToSip(clean_from),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-nick-nul",
        |n| {
            Action::Xmpp(with_body(
                n,
                "<nick xmlns='http://jabber.org/protocol/nick'>a&#0;b</nick>",
            ))
        },
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-subject-crlf",
        |n| Action::Xmpp(with_body(n, "<subject>s&#13;&#10;X-Injected: 1</subject>")),
        Expect::ToSip(clean_head),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-thread-crlf",
        |n| Action::Xmpp(with_body(n, "<thread>t&#13;&#10;X-Injected: 1</thread>")),
        Expect::ToSip(clean_head),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-id-crlf",
        |n| {
            Action::Xmpp(format!("<message from='{n}@xmpp.test/r' to='bob@sip.test' type='chat' id='i&#13;&#10;X-Injected: 1'><body>{n}</body></message>").into_bytes())
        },
        Expect::ToSip(clean_head),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-body-smuggles-sip-request",
        |n| {
            Action::Xmpp(message(
                n,
                &format!(
                    "<body>{n}&#13;&#10;&#13;&#10;MESSAGE sip:victim@sip.test SIP/2.0&#13;&#10;Content-Length: 0&#13;&#10;&#13;&#10;</body>"
                ),
            ))
        },
        Expect::ToSip(body_length_ok),
        MESSAGES,
        DELIVERED,
    );

    // Slow, idle and flooding peers (lab: xmpp.idle_timeout_ms = 3000, sender burst 5).
    add(
        "xmpp-idle-stream",
        |_| Action::Xmpp(Vec::new()),
        stream("connection-timeout"),
        IDLE,
        &[("protocol", "xmpp")],
    );
    add(
        "xmpp-slowloris-stanza",
        |n| Action::XmppSlow(with_body(n, "")),
        stream("connection-timeout"),
        IDLE,
        &[("protocol", "xmpp")],
    );
    add(
        "xmpp-flood-one-sender",
        |n| {
            let mut b = Vec::new();
            for i in 0..5 {
                b.extend(format!("<message from='{n}@xmpp.test/r' to='bob@sip.test' type='chat' id='{n}-{i}'><body>{n} {i}</body></message>").into_bytes());
            }
            b.extend(with_body(n, ""));
            Action::Xmpp(b)
        },
        Expect::Bounce("policy-violation"),
        POLICY,
        &policy("rate_limited"),
    );
    add(
        "xmpp-body-over-policy-limit",
        |n| Action::Xmpp(message(n, &format!("<body>{}</body>", "b".repeat(9000)))),
        Expect::Bounce("policy-violation"),
        POLICY,
        &policy("too_large"),
    );

    // Broken preludes on the plain s2s port, before any authentication.
    add(
        "xmpp-prelude-doctype",
        |_| {
            Action::Raw(
                Port::Xmpp,
                format!(
                    "<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>{}",
                    &stream_header("xmpp.test", "sip.test")[21..]
                )
                .into_bytes(),
            )
        },
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-prelude-http-request",
        |_| {
            Action::Raw(
                Port::Xmpp,
                b"GET / HTTP/1.1\r\nHost: sip.test\r\n\r\n".to_vec(),
            )
        },
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-prelude-version-2",
        |_| {
            Action::Raw(
                Port::Xmpp,
                stream_header("xmpp.test", "sip.test")
                    .replace("version='1.0'>", "version='2.0'>")
                    .into_bytes(),
            )
        },
        stream("unsupported-version"),
        PARSE,
        &parse("unsupported"),
    );
    add(
        "xmpp-prelude-utf16-declaration",
        |_| {
            Action::Raw(
                Port::Xmpp,
                stream_header("xmpp.test", "sip.test")
                    .replace(
                        "<?xml version='1.0'?>",
                        "<?xml version='1.0' encoding='UTF-16'?>",
                    )
                    .into_bytes(),
            )
        },
        stream("unsupported-encoding"),
        PARSE,
        &parse("unsupported"),
    );
    add(
        "xmpp-prelude-wrong-stream-namespace",
        |_| {
            Action::Raw(
                Port::Xmpp,
                stream_header("xmpp.test", "sip.test")
                    .replace("http://etherx.jabber.org/streams", "urn:evil")
                    .into_bytes(),
            )
        },
        stream("invalid-namespace"),
        PARSE,
        &parse("namespace"),
    );
    add(
        "xmpp-prelude-invalid-utf8-header",
        |_| {
            let mut b = stream_header("xmpp.test", "sip.test").into_bytes();
            let at = b.len() - 20;
            b.insert(at, 0xff);
            Action::Raw(Port::Xmpp, b)
        },
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-prelude-billion-laughs",
        |_| {
            let mut b = b"<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>".to_vec();
            b.extend_from_slice(&stream_header("xmpp.test", "sip.test").as_bytes()[21..]);
            Action::Raw(Port::Xmpp, b)
        },
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    c
}
