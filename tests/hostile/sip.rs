//! Hostile SIP peers (RFC 3261 §7, §8.2, §18.3; RFC 3428): sizes, framing lies, broken
//! headers, encodings, injection towards XMPP, spoofing, relaying, slow and idle peers, floods.

use crate::harness::{Action, Case, Expect};

pub(crate) const PARSE: &str = "parley_parse_errors_total";
pub(crate) const POLICY: &str = "parley_policy_refusals_total";
pub(crate) const ERRORS: &str = "parley_errors_sent_total";
pub(crate) const IDLE: &str = "parley_idle_closed_total";
pub(crate) const MESSAGES: &str = "parley_messages_total";

pub(crate) fn parse(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "sip"), ("reason", reason)]
}

pub(crate) fn policy(reason: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("protocol", "sip"), ("reason", reason)]
}

pub(crate) const DELIVERED: &[(&str, &str)] = &[
    ("direction", "sip_to_xmpp"),
    ("kind", "im"),
    ("outcome", "delivered"),
];

/// A MESSAGE head from `<name>@sip.test` to juliet@xmpp.test (Call-ID = name), without
/// Content-Length and the empty line; each `with` line replaces the standard header with its
/// name prefix ("From: ..."), removes it ("-From:"), or is added ("+Via: ..." or a new name).
pub(crate) fn head(name: &str, with: &[&str]) -> String {
    let mut lines = vec![
        "MESSAGE sip:juliet@xmpp.test SIP/2.0".to_owned(),
        format!("Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{name}"),
        "Max-Forwards: 70".to_owned(),
        format!("From: \"Mallory\" <sip:{name}@sip.test>;tag=m1"),
        "To: <sip:juliet@xmpp.test>".to_owned(),
        format!("Call-ID: {name}"),
        "CSeq: 1 MESSAGE".to_owned(),
        "Content-Type: text/plain;charset=UTF-8".to_owned(),
    ];
    for w in with {
        let prefix = w.split(' ').next().unwrap_or("");
        if let Some(added) = w.strip_prefix('+') {
            lines.push(added.to_owned());
        } else if let Some(l) = lines.iter_mut().find(|l| l.starts_with(prefix)) {
            *l = (*w).to_owned();
        } else if let Some(gone) = w.strip_prefix('-') {
            lines.retain(|l| !l.starts_with(gone));
        } else {
            lines.push((*w).to_owned());
        }
    }
    lines.join("\r\n") + "\r\n"
}

/// A whole MESSAGE with a correct Content-Length.
pub(crate) fn msg(name: &str, with: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{}Content-Length: {}\r\n\r\n", head(name, with), body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// A MESSAGE whose head lines are raw bytes (for invalid UTF-8 and control characters).
pub(crate) fn raw_msg(name: &str, extra_line: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = head(name, &[]).into_bytes();
    out.extend_from_slice(extra_line);
    out.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

pub(crate) fn sip(code: &'static str) -> Expect {
    Expect::Sip(vec![code], false)
}

pub(crate) fn sip_close(code: &'static str) -> Expect {
    Expect::Sip(vec![code], true)
}

pub(crate) fn no_injection(stanza: &str) -> Result<(), String> {
    if stanza.contains("<evil") {
        return Err("markup from the SIP side became XML".into());
    }
    if stanza.contains('\0') || stanza.chars().any(|c| c < ' ' && !"\t\n\r".contains(c)) {
        return Err("a character XML 1.0 forbids reached the XMPP peer".into());
    }
    Ok(())
}

/// The `attr` address of the stanza is a JID whose localpart holds none of the characters
/// RFC 7622 §3.3.1 forbids, in the domain parley relays to or from.
pub(crate) fn valid_jid(stanza: &str, attr: &str) -> Result<(), String> {
    let jid = crate::common::peers::attr(stanza, attr).ok_or("no address")?;
    let jid = jid
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let (local, domain) = jid.split_once('@').ok_or("no localpart")?;
    if local.contains(['"', '&', '\'', '/', ':', '<', '>', '@', ' ']) {
        return Err(format!("localpart {local:?} is not a valid JID localpart"));
    }
    if !matches!(domain.split('/').next(), Some("sip.test" | "xmpp.test")) {
        return Err(format!("domain {domain:?}"));
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
    let fr = &parse("framing")[..];
    let hd = &parse("header")[..];

    // Sizes (limits: head 16 KiB, 64 headers, 4 KiB per header, 1 KiB URI, 256 KiB body).
    add(
        "sip-head-over-16k",
        |n| {
            let pads: Vec<String> = (0..40)
                .map(|i| format!("X-Pad-{i}: {}", "p".repeat(480)))
                .collect();
            let pads: Vec<&str> = pads.iter().map(String::as_str).collect();
            Action::Sip(msg(n, &pads, b"x"))
        },
        sip_close("513 Message Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-head-over-16k-unterminated",
        |n| {
            let mut b = head(n, &[]).into_bytes();
            for i in 0..40 {
                b.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "q".repeat(480)).as_bytes());
            }
            Action::Sip(b)
        },
        sip_close("513 Message Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-one-20k-header",
        |n| Action::Sip(msg(n, &[&format!("Subject: {}", "s".repeat(20_000))], b"x")),
        sip_close("513 Message Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-binary-garbage-20k",
        |_| {
            Action::Sip(
                (0..20_000u32)
                    .map(|i| b"abcdefgh\x01\xfe"[(i % 10) as usize])
                    .collect(),
            )
        },
        sip_close("513 Message Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-body-over-256k-declared",
        |n| Action::Sip(format!("{}Content-Length: 262145\r\n\r\n", head(n, &[])).into_bytes()),
        sip_close("413 Request Entity Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-body-4g-declared",
        |n| Action::Sip(format!("{}Content-Length: 4294967296\r\n\r\n", head(n, &[])).into_bytes()),
        sip_close("413 Request Entity Too Large"),
        PARSE,
        tl,
    );
    add(
        "sip-body-over-policy-limit",
        |n| Action::Sip(msg(n, &[], &[b'b'; 9000])),
        sip("413 Message Too Large"),
        POLICY,
        &policy("too_large"),
    );
    add(
        "sip-header-5k",
        |n| Action::Sip(msg(n, &[&format!("Subject: {}", "h".repeat(5000))], b"x")),
        sip("400 Header Too Long"),
        PARSE,
        tl,
    );
    add(
        "sip-70-headers",
        |n| {
            let hs: Vec<String> = (0..70).map(|i| format!("X-H{i}: v")).collect();
            let hs: Vec<&str> = hs.iter().map(String::as_str).collect();
            Action::Sip(msg(n, &hs, b"x"))
        },
        sip("400 Too Many Headers"),
        PARSE,
        tl,
    );
    add(
        "sip-70-via-headers",
        |n| {
            let hs: Vec<String> = (0..70)
                .map(|i| format!("+Via: SIP/2.0/TLS 10.0.0.{i};branch=z9hG4bK{i}"))
                .collect();
            let hs: Vec<&str> = hs.iter().map(String::as_str).collect();
            Action::Sip(msg(n, &hs, b"x"))
        },
        sip("400 Too Many Headers"),
        PARSE,
        tl,
    );
    add(
        "sip-request-uri-2k",
        |n| {
            let long = format!("MESSAGE sip:{}@xmpp.test SIP/2.0", "u".repeat(2000));
            Action::Sip(msg(n, &[&long], b"x"))
        },
        sip("414 Request-URI Too Long"),
        PARSE,
        tl,
    );

    // Content-Length lies.
    add(
        "sip-cl-negative",
        |n| Action::Sip(format!("{}Content-Length: -5\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-compact-negative",
        |n| Action::Sip(format!("{}l: -1\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-not-a-number",
        |n| Action::Sip(format!("{}Content-Length: five\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-hex",
        |n| Action::Sip(format!("{}Content-Length: 0x5\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-plus-sign",
        |n| Action::Sip(format!("{}Content-Length: +5\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-overflow",
        |n| {
            Action::Sip(
                format!(
                    "{}Content-Length: 99999999999999999999999\r\n\r\nhello",
                    head(n, &[])
                )
                .into_bytes(),
            )
        },
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-missing",
        |n| Action::Sip(format!("{}\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-duplicated-different",
        |n| {
            Action::Sip(
                format!(
                    "{}Content-Length: 5\r\nContent-Length: 3\r\n\r\nhello",
                    head(n, &[])
                )
                .into_bytes(),
            )
        },
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    // Equal duplicates frame the same either way (as RFC 9110 §8.6 lets HTTP collapse them).
    add(
        "sip-cl-duplicated-equal",
        |n| {
            Action::Sip(
                format!(
                    "{}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                    head(n, &[])
                )
                .into_bytes(),
            )
        },
        Expect::ToXmpp(no_injection),
        MESSAGES,
        DELIVERED,
    );
    add(
        "sip-cl-compact-and-long",
        |n| {
            Action::Sip(
                format!("{}l: 5\r\nContent-Length: 4\r\n\r\nhello", head(n, &[])).into_bytes(),
            )
        },
        sip_close("400 Bad Content-Length"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-long-body-never-comes",
        |n| Action::Sip(format!("{}Content-Length: 100\r\n\r\nhello", head(n, &[])).into_bytes()),
        sip_close("400 Truncated Message"),
        PARSE,
        fr,
    );
    add(
        "sip-cl-short-rest-is-garbage",
        |n| Action::Sip(format!("{}Content-Length: 2\r\n\r\nhello {n}", head(n, &[])).into_bytes()),
        Expect::Sip(vec!["202 Accepted", "400 Truncated Message"], true),
        PARSE,
        fr,
    );
    add(
        "sip-lone-lf-before-start-line",
        |n| {
            let mut b = b"\n".to_vec();
            b.extend(msg(n, &[], b"x"));
            Action::Sip(b)
        },
        Expect::Closed,
        PARSE,
        &parse("start_line"),
    );

    // Start line, required and malformed headers.
    add(
        "sip-garbage-start-line",
        |_| Action::Sip(b"HELLO WORLD\r\nContent-Length: 0\r\n\r\n".to_vec()),
        sip("400 Bad Request Line"),
        PARSE,
        &parse("start_line"),
    );
    add(
        "sip-version-3",
        |n| Action::Sip(msg(n, &["MESSAGE sip:juliet@xmpp.test SIP/3.0"], b"x")),
        sip("505 Version Not Supported"),
        PARSE,
        &parse("unsupported"),
    );
    add(
        "sip-tel-uri",
        |n| Action::Sip(msg(n, &["MESSAGE tel:+15551234 SIP/2.0"], b"x")),
        sip("416 Unsupported URI Scheme"),
        POLICY,
        &policy("untranslatable"),
    );
    add(
        "sip-require-unknown-extension",
        |n| Action::Sip(msg(n, &["Require: evil-ext"], b"x")),
        sip("420 Bad Extension"),
        PARSE,
        &parse("unsupported"),
    );
    let mh = &parse("missing_header")[..];
    add(
        "sip-missing-via",
        |n| Action::Sip(msg(n, &["-Via:"], b"x")),
        sip_close("400 Missing Via"),
        PARSE,
        mh,
    );
    add(
        "sip-missing-call-id",
        |n| Action::Sip(msg(n, &["-Call-ID:"], b"x")),
        sip("400 Missing Call-ID"),
        PARSE,
        mh,
    );
    add(
        "sip-missing-cseq",
        |n| Action::Sip(msg(n, &["-CSeq:"], b"x")),
        sip("400 Missing CSeq"),
        PARSE,
        mh,
    );
    add(
        "sip-missing-from",
        |n| Action::Sip(msg(n, &["-From:"], b"x")),
        sip("400 Missing From"),
        PARSE,
        mh,
    );
    add(
        "sip-missing-to",
        |n| Action::Sip(msg(n, &["-To:"], b"x")),
        sip("400 Missing To"),
        PARSE,
        mh,
    );
    add(
        "sip-cseq-method-mismatch",
        |n| Action::Sip(msg(n, &["CSeq: 1 INVITE"], b"x")),
        sip("400 CSeq Method Mismatch"),
        PARSE,
        hd,
    );
    add(
        "sip-cseq-not-a-number",
        |n| Action::Sip(msg(n, &["CSeq: one MESSAGE"], b"x")),
        sip("400 Bad CSeq"),
        PARSE,
        hd,
    );
    add(
        "sip-via-garbage",
        |n| Action::Sip(msg(n, &["Via: garbage"], b"x")),
        sip("400 Bad Via"),
        PARSE,
        hd,
    );
    add(
        "sip-from-garbage",
        |n| Action::Sip(msg(n, &["From: <<<>>>;tag=1"], b"x")),
        sip("400 Bad From"),
        PARSE,
        hd,
    );
    add(
        "sip-two-from-headers",
        |n| Action::Sip(msg(n, &[&format!("+From: <sip:{n}@sip.test>;tag=2")], b"x")),
        sip("400 Multiple From"),
        PARSE,
        hd,
    );
    add(
        "sip-max-forwards-garbage",
        |n| Action::Sip(msg(n, &["Max-Forwards: lots"], b"x")),
        sip("400 Bad Max-Forwards"),
        PARSE,
        hd,
    );
    add(
        "sip-max-forwards-zero",
        |n| Action::Sip(msg(n, &["Max-Forwards: 0"], b"x")),
        sip("483 Too Many Hops"),
        POLICY,
        &policy("too_many_hops"),
    );
    let fni = &[
        ("protocol", "sip"),
        ("condition", "feature-not-implemented"),
    ][..];
    add(
        "sip-invite-without-sdp-refused",
        |n| {
            let b = msg(n, &["CSeq: 1 INVITE"], b"x");
            let s = String::from_utf8(b)
                .unwrap()
                .replacen("MESSAGE sip:", "INVITE sip:", 1);
            Action::Sip(s.into_bytes())
        },
        sip("415 Unsupported Media Type"),
        ERRORS,
        &[("protocol", "sip"), ("condition", "not-acceptable")],
    );
    add(
        "sip-unknown-method",
        |n| {
            let b = msg(n, &["CSeq: 1 FROBNICATE"], b"x");
            let s = String::from_utf8(b)
                .unwrap()
                .replacen("MESSAGE sip:", "FROBNICATE sip:", 1);
            Action::Sip(s.into_bytes())
        },
        sip("405 Method Not Allowed"),
        ERRORS,
        fni,
    );

    c
}
