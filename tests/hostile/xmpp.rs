//! Hostile XMPP s2s peers (RFC 6120 §4.9, §11; RFC 7622; XEP-0106): oversized and deep XML,
//! DTDs and entities, encodings, addressing and spoofing, injection towards SIP, slow and idle
//! streams, floods, and broken stream preludes.

use crate::harness::{Action, Case, Expect, Port, stream_header};

const PARSE: &str = "parley_parse_errors_total";
const POLICY: &str = "parley_policy_refusals_total";
const IDLE: &str = "parley_idle_closed_total";
const MESSAGES: &str = "parley_messages_total";

fn parse(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "xmpp"), ("reason", reason)]
}

fn policy(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "xmpp"), ("reason", reason)]
}

const DELIVERED: &[(&str, &str)] = &[
    ("direction", "xmpp_to_sip"),
    ("kind", "im"),
    ("outcome", "delivered"),
];

/// A message from `<name>@xmpp.test/r` to bob@sip.test with id = name; `inner` goes inside.
fn message(name: &str, inner: &str) -> Vec<u8> {
    format!("<message from='{name}@xmpp.test/r' to='bob@sip.test' type='chat' id='{name}'>{inner}</message>").into_bytes()
}

fn with_body(name: &str, extra: &str) -> Vec<u8> {
    message(name, &format!("<body>{name}</body>{extra}"))
}

/// Raw bytes spliced into a message body.
fn raw_body(name: &str, raw: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "<message from='{name}@xmpp.test/r' to='bob@sip.test' type='chat' id='{name}'><body>"
    )
    .into_bytes();
    b.extend_from_slice(raw);
    b.extend_from_slice(b"</body></message>");
    b
}

fn addressed(name: &str, from: &str, to: &str) -> Vec<u8> {
    format!(
        "<message from='{from}' to='{to}' type='chat' id='{name}'><body>{name}</body></message>"
    )
    .into_bytes()
}

fn stream(condition: &'static str) -> Expect {
    Expect::Stream(condition)
}

/// The head of a relayed SIP request: no injected header line, no control characters, and
/// every line a `Name: value` field.
fn clean_head(req: &str) -> Result<(), String> {
    let head = req.split("\r\n\r\n").next().unwrap_or("");
    for line in head.split("\r\n").skip(1) {
        if line.starts_with("X-Injected") {
            return Err("an XMPP value became a SIP header".into());
        }
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("control character in header line {line:?}"));
        }
        if !line.contains(':') {
            return Err(format!("not a header field: {line:?}"));
        }
    }
    Ok(())
}

/// [`clean_head`], and the From header still names the real sender as its address.
fn clean_from(req: &str) -> Result<(), String> {
    clean_head(req)?;
    let from = req
        .split("\r\n")
        .find(|l| l.starts_with("From:"))
        .ok_or("no From")?;
    let before_tag = from.rsplit_once(";tag=").map_or(from, |(a, _)| a);
    if !before_tag.ends_with("@xmpp.test>") || from.contains("sip:evil@") && !quoted_ok(from) {
        return Err(format!("From address changed: {from}"));
    }
    Ok(())
}

/// The display name of a From line is one well-formed quoted string.
fn quoted_ok(from: &str) -> bool {
    let v = from.trim_start_matches("From:").trim();
    let Some(rest) = v.strip_prefix('"') else {
        return true;
    };
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return rest[i + 1..].trim_start().starts_with('<'),
            _ => {}
        }
    }
    false
}

fn body_length_ok(req: &str) -> Result<(), String> {
    clean_head(req)?;
    let (head, body) = req.split_once("\r\n\r\n").ok_or("no body")?;
    let cl: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .ok_or("no Content-Length")?
        .parse()
        .map_err(|_| "bad Content-Length")?;
    if cl != body.len() {
        return Err(format!("Content-Length {cl} but {} body bytes", body.len()));
    }
    if body.matches("MESSAGE sip:").count() != 1 {
        return Err("the body was not carried whole".into());
    }
    Ok(())
}

fn request_uri_stays_local(req: &str) -> Result<(), String> {
    clean_head(req)?;
    let first = req.split("\r\n").next().unwrap_or("");
    if !first.ends_with("@sip.test SIP/2.0") || first.matches('@').count() != 1 {
        return Err(format!("Request-URI escaped the local domain: {first}"));
    }
    Ok(())
}

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let mut add = |name: &str,
                   action: fn(&str) -> Action,
                   expect: Expect,
                   metric: &'static str,
                   labels: &[(&'static str, &'static str)]| {
        c.push(Case::new(name, action(name), expect, metric, labels));
    };
    let tl = &parse("too_large")[..];
    let xml = &parse("xml")[..];
    let addr = &parse("address")[..];

    // Sizes (limits: 256 KiB per stanza, depth 32, 64 attributes, 256-byte names).
    add(
        "xmpp-stanza-300k",
        |n| Action::Xmpp(message(n, &format!("<body>{}</body>", "b".repeat(300_000)))),
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-attribute-value-300k",
        |n| {
            Action::Xmpp(message(
                n,
                &format!("<body a='{}'>x</body>", "v".repeat(300_000)),
            ))
        },
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-attribute-name-300",
        |n| {
            Action::Xmpp(message(
                n,
                &format!("<body {}='v'>x</body>", "a".repeat(300)),
            ))
        },
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-element-name-300",
        |n| Action::Xmpp(message(n, &format!("<{0}>x</{0}>", "e".repeat(300)))),
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-70-attributes",
        |n| {
            let attrs: String = (0..70).map(|i| format!(" a{i}='v'")).collect();
            Action::Xmpp(message(n, &format!("<body{attrs}>x</body>")))
        },
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-nesting-40",
        |n| {
            Action::Xmpp(message(
                n,
                &format!("{}{}", "<x>".repeat(40), "</x>".repeat(40)),
            ))
        },
        stream("policy-violation"),
        PARSE,
        tl,
    );
    add(
        "xmpp-nesting-100k-open",
        |n| Action::Xmpp(message(n, &"<x>".repeat(100_000))),
        stream("policy-violation"),
        PARSE,
        tl,
    );

    // DTDs, entities and other restricted XML (RFC 6120 §11.1).
    add(
        "xmpp-doctype-in-stream",
        |_| Action::Xmpp(b"<!DOCTYPE message [<!ENTITY a 'b'>]>".to_vec()),
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-billion-laughs",
        |n| {
            let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol 'lol'>");
            for i in 1..10 {
                let prev = if i == 1 {
                    "lol".to_owned()
                } else {
                    format!("lol{}", i - 1)
                };
                dtd.push_str(&format!(
                    "<!ENTITY lol{i} '{}'>",
                    format!("&{prev};").repeat(10)
                ));
            }
            dtd.push_str("]>");
            let mut b = dtd.into_bytes();
            b.extend(message(n, "<body>&lol9;</body>"));
            Action::Xmpp(b)
        },
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-external-entity",
        |n| {
            let mut b = b"<!DOCTYPE m [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>".to_vec();
            b.extend(message(n, "<body>&xxe;</body>"));
            Action::Xmpp(b)
        },
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-undeclared-entity",
        |n| Action::Xmpp(message(n, "<body>&lol9;</body>")),
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-processing-instruction",
        |n| Action::Xmpp(message(n, "<?evil run?><body>x</body>")),
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    add(
        "xmpp-comment",
        |n| Action::Xmpp(message(n, "<!-- hidden --><body>x</body>")),
        stream("restricted-xml"),
        PARSE,
        xml,
    );

    // Encodings and characters XML 1.0 forbids.
    add(
        "xmpp-invalid-utf8-body",
        |n| Action::Xmpp(raw_body(n, b"caf\xe9 \xff")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-overlong-utf8-body",
        |n| Action::Xmpp(raw_body(n, b"\xc0\xbc")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-surrogate-utf8-body",
        |n| Action::Xmpp(raw_body(n, b"\xed\xa0\x80")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-invalid-utf8-attribute",
        |n| {
            let mut b =
                format!("<message from='{n}@xmpp.test/r' to='bob@sip.test' id='").into_bytes();
            b.extend_from_slice(b"\xff\xfe'><body>x</body></message>");
            Action::Xmpp(b)
        },
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-invalid-utf8-element-name",
        |_| Action::Xmpp(b"<mess\xffage/>".to_vec()),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-raw-nul-in-body",
        |n| Action::Xmpp(raw_body(n, b"a\0b")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-nul-char-ref",
        |n| Action::Xmpp(raw_body(n, b"a&#0;b")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-control-char-ref",
        |n| Action::Xmpp(raw_body(n, b"a&#x1b;b")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-raw-control-char",
        |n| Action::Xmpp(raw_body(n, b"bell\x07")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-mismatched-end-tag",
        |n| Action::Xmpp(message(n, "<body>x</subject>")),
        stream("not-well-formed"),
        PARSE,
        xml,
    );
    add(
        "xmpp-unbound-prefix",
        |_| Action::Xmpp(b"<evil:message xmlns:x='y'/>".to_vec()),
        stream("bad-namespace-prefix"),
        PARSE,
        &parse("namespace"),
    );
    // jabber:client is a content namespace parley reads on any stream (RFC 6120 §4.8.3).
    add(
        "xmpp-client-namespace-stanza",
        |n| {
            Action::Xmpp(format!("<message xmlns='jabber:client' from='{n}@xmpp.test/r' to='bob@sip.test'><body>{n}</body></message>").into_bytes())
        },
        Expect::ToSip(clean_head),
        MESSAGES,
        DELIVERED,
    );
    add(
        "xmpp-foreign-namespace-stanza",
        |n| {
            Action::Xmpp(format!("<message xmlns='urn:evil' from='{n}@xmpp.test/r' to='bob@sip.test'><body>{n}</body></message>").into_bytes())
        },
        stream("unsupported-stanza-type"),
        PARSE,
        xml,
    );
    add(
        "xmpp-unknown-top-level-element",
        |_| Action::Xmpp(b"<evil xmlns='urn:evil'/>".to_vec()),
        stream("unsupported-stanza-type"),
        PARSE,
        xml,
    );

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
            b.extend_from_slice(stream_header("xmpp.test", "sip.test")[21..].as_bytes());
            Action::Raw(Port::Xmpp, b)
        },
        stream("restricted-xml"),
        PARSE,
        xml,
    );
    c
}
