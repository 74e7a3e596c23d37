//! JIDs (RFC 7622) and XEP-0106.

use crate::xmpp::Jid;
use crate::xmpp::jid::{JidError, escape_local, unescape_local};

#[test]
fn parse_table() {
    type Case<'s> = (&'s str, Option<&'s str>, &'s str, Option<&'s str>, &'s str);
    let ok: &[Case<'_>] = &[
        (
            "Juliet@Example.COM/Balcony",
            Some("juliet"),
            "example.com",
            Some("Balcony"),
            "juliet@example.com/Balcony",
        ),
        ("example.com", None, "example.com", None, "example.com"),
        ("example.com.", None, "example.com", None, "example.com"),
        ("a@b/c/d@e", Some("a"), "b", Some("c/d@e"), "a@b/c/d@e"),
        (
            "ÉLÈVE@exämple.org",
            Some("élève"),
            "exämple.org",
            None,
            "élève@exämple.org",
        ),
        ("x@[::1]", Some("x"), "[::1]", None, "x@[::1]"),
        ("d'artagnan\\20x@b", None, "", None, ""),
    ];
    for (input, l, d, r, text) in ok {
        if d.is_empty() {
            assert_eq!(
                Jid::parse(input).err(),
                Some(JidError::BadCharacter),
                "{input}"
            );
            continue;
        }
        let j = Jid::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (j.local(), j.domain(), j.resource(), j.as_str()),
            (*l, *d, *r, *text),
            "{input}"
        );
    }
    let bad: &[(&str, JidError)] = &[
        ("", JidError::Empty),
        ("@b", JidError::Empty),
        ("a@", JidError::Empty),
        ("a@b/", JidError::Empty),
        ("a b@c", JidError::BadCharacter),
        ("a@b c", JidError::BadCharacter),
        ("a@-b", JidError::BadCharacter),
        ("a@b..c", JidError::BadCharacter),
        ("a:b@c", JidError::BadCharacter),
    ];
    for (input, e) in bad {
        assert_eq!(Jid::parse(input), Err(*e), "{input}");
    }
    assert_eq!(
        Jid::parse(&format!("{}@b", "a".repeat(1024))),
        Err(JidError::TooLong)
    );
    assert_eq!(Jid::parse("a@b/c").unwrap().bare(), "a@b");
}

#[test]
fn xep0106_examples() {
    // XEP-0106 §5 table of examples.
    let cases = [
        ("space cadet", "space\\20cadet"),
        ("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"),
        ("at&t guy", "at\\26t\\20guy"),
        ("d'artagnan", "d\\27artagnan"),
        ("/.fanboy", "\\2f.fanboy"),
        ("::foo::", "\\3a\\3afoo\\3a\\3a"),
        ("<foo>", "\\3cfoo\\3e"),
        ("user@host", "user\\40host"),
        ("c:\\net", "c\\3a\\net"),
        ("c:\\\\net", "c\\3a\\\\net"),
        ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
        ("c:\\5commas", "c\\3a\\5c5commas"),
    ];
    for (raw, esc) in cases {
        assert_eq!(escape_local(raw), esc, "{raw}");
        assert_eq!(unescape_local(esc), raw, "{esc}");
        let j = Jid::parse(&format!("{esc}@example.com")).unwrap();
        assert_eq!(unescape_local(j.local().unwrap()), raw.to_lowercase());
    }
    assert!(matches!(
        escape_local("plain"),
        std::borrow::Cow::Borrowed(_)
    ));
}

/// `protocol-tests/xmpp/jid/rfc7622-3.5-jid-examples.tsv`: RFC 7622 §3.5 and one case per
/// PRECIS rule, `input<TAB>normalised` or `input<TAB>!Error`.
#[test]
fn rfc7622_golden_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol-tests/xmpp/jid/rfc7622-3.5-jid-examples.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (input, want) = line.split_once('\t').expect("input<TAB>expected");
        let got = match Jid::parse(input) {
            Ok(j) => j.as_str().to_owned(),
            Err(e) => format!("!{e:?}"),
        };
        if got != want {
            failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
        n += 1;
    }
    assert!(n >= 50, "table too short: {n}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn idna_domains_compare_equal_and_give_a_labels() {
    let u = Jid::parse("Juliet@Bücher.example/r").unwrap();
    let a = Jid::parse("juliet@xn--bcher-kva.example/r").unwrap();
    assert_eq!(u, a);
    assert_eq!(u.domain(), "bücher.example");
    assert_eq!(u.domain_ascii(), "xn--bcher-kva.example");
    let ascii = Jid::parse("a@Example.COM").unwrap();
    assert_eq!(ascii.domain_ascii(), "example.com");
}

#[test]
fn part_lengths_apply_after_normalisation() {
    // 1023 bytes is the limit for each part (RFC 7622 §3.2–3.4).
    let ok_local = "a".repeat(1023);
    assert!(Jid::parse(&format!("{ok_local}@b")).is_ok());
    assert_eq!(
        Jid::parse(&format!("a@b/{}", "r".repeat(1024))),
        Err(JidError::TooLong)
    );
    assert_eq!(
        Jid::parse(&format!("{}.example", "d".repeat(1020))),
        Err(JidError::TooLong)
    );
    // U+0130 (2 bytes) lower-cases to `i` + U+0307 (3 bytes): 341 of them make 1023 bytes
    // after case mapping; 400 fit before it (800 bytes) but not after (1200).
    let dotted = "\u{130}".repeat(341);
    assert_eq!(dotted.len(), 682);
    assert!(Jid::parse(&format!("{dotted}@b")).is_ok());
    let long = "\u{130}".repeat(400);
    assert!(long.len() <= 1023);
    assert_eq!(Jid::parse(&format!("{long}@b")), Err(JidError::TooLong));
}

/// Regression (fuzz, jid: `rome\u{330}oxs.xmmple`): a localpart and a domainpart are NFC
/// (RFC 8265 §3.3.2 rule 3, UTS #46), so `e` + U+0330 COMBINING TILDE BELOW is kept as U+1E1B,
/// and XEP-0106 unescaping of such a localpart gives the normalised text, not the original.
/// The fuzz property compared with the original; it now skips text the mapping changes.
#[test]
fn parts_are_nfc_and_escaping_keeps_the_normal_form() {
    let raw = "rome\u{330}oxs.xmmple";
    let nfc = "rom\u{1E1B}oxs.xmmple";
    let as_local = Jid::parse(&format!("{}@example.com", escape_local(raw))).unwrap();
    assert_eq!(as_local.local(), Some(nfc));
    assert_eq!(unescape_local(as_local.local().unwrap()), nfc);
    let as_domain = Jid::parse(raw).unwrap();
    assert_eq!(as_domain.domain(), nfc);
    assert_eq!(Jid::parse(as_domain.as_str()).unwrap(), as_domain);
    // Text already in normal form comes back unchanged through escaping.
    let as_local = Jid::parse(&format!("{}@example.com", escape_local(nfc))).unwrap();
    assert_eq!(unescape_local(as_local.local().unwrap()), nfc);
}
