//! Hostile XMPP s2s peers (RFC 6120 §4.9, §11; RFC 7622; XEP-0106): oversized and deep XML,
//! DTDs and entities, encodings, addressing and spoofing, injection towards SIP, slow and idle
//! streams, floods, and broken stream preludes.

use crate::harness::{Action, Case, Expect};

pub(crate) const PARSE: &str = "parley_parse_errors_total";
pub(crate) const POLICY: &str = "parley_policy_refusals_total";
pub(crate) const IDLE: &str = "parley_idle_closed_total";
pub(crate) const MESSAGES: &str = "parley_messages_total";

pub(crate) fn parse(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "xmpp"), ("reason", reason)]
}

pub(crate) fn policy(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "xmpp"), ("reason", reason)]
}

pub(crate) const DELIVERED: &[(&str, &str)] = &[
    ("direction", "xmpp_to_sip"),
    ("kind", "im"),
    ("outcome", "delivered"),
];

/// A message from `<name>@xmpp.test/r` to bob@sip.test with id = name; `inner` goes inside.
pub(crate) fn message(name: &str, inner: &str) -> Vec<u8> {
    format!("<message from='{name}@xmpp.test/r' to='bob@sip.test' type='chat' id='{name}'>{inner}</message>").into_bytes()
}

pub(crate) fn with_body(name: &str, extra: &str) -> Vec<u8> {
    message(name, &format!("<body>{name}</body>{extra}"))
}

/// Raw bytes spliced into a message body.
pub(crate) fn raw_body(name: &str, raw: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "<message from='{name}@xmpp.test/r' to='bob@sip.test' type='chat' id='{name}'><body>"
    )
    .into_bytes();
    b.extend_from_slice(raw);
    b.extend_from_slice(b"</body></message>");
    b
}

pub(crate) fn addressed(name: &str, from: &str, to: &str) -> Vec<u8> {
    format!(
        "<message from='{from}' to='{to}' type='chat' id='{name}'><body>{name}</body></message>"
    )
    .into_bytes()
}

pub(crate) fn stream(condition: &'static str) -> Expect {
    Expect::Stream(condition)
}

/// The head of a relayed SIP request: no injected header line, no control characters, and
/// every line a `Name: value` field.
pub(crate) fn clean_head(req: &str) -> Result<(), String> {
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
pub(crate) fn clean_from(req: &str) -> Result<(), String> {
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
pub(crate) fn quoted_ok(from: &str) -> bool {
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

pub(crate) fn body_length_ok(req: &str) -> Result<(), String> {
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

pub(crate) fn request_uri_stays_local(req: &str) -> Result<(), String> {
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

    c
}
