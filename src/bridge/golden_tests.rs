//! The interworking conformance corpus (`protocol-tests/interwork/`), table-driven: every
//! input file in a directory is translated with that directory's assumptions and compared
//! with its expected output. Adding a pair is adding two files.
//!
//! Layout: `sip-to-xmpp/NAME.sip`, `xmpp-to-sip/NAME.xml` (a SIMPLE peer: CPIM, IMDN,
//! isComposing, HTML), `xmpp-to-sip-plain/` (an RFC 3428-only peer), `xmpp-to-sip-ext/` (a
//! peer that declared parley's CPIM extension headers, `sip_extensions = ["all"]`),
//! `xmpp-to-sip-ext-react/` (one that declared only `react`: the others fall back to text).
//! Expected: `NAME.out`, the wire text
//! `parley translate` prints, and `NAME.json`, the canonical events (`--json`). An input
//! whose name ends in `-refused` must be refused; its `.out` holds the refusal.
//! `PARLEY_BLESS=1` rewrites the expected files (review the diff before committing).
//!
//! What the RFCs say, as checked for these rows:
//! - RFC 7572 §4/§5: MESSAGE ⇄ `<message type='chat'>`, body ⇄ `<body/>`, Subject ⇄
//!   `<subject/>`, Call-ID ⇄ `<thread/>`, Content-Language ⇄ `xml:lang`; the gateway
//!   generates what the other side requires (Via, CSeq, stanza id).
//! - RFC 7247 §8: the two error tables, implemented once in `bridge::sip` and exercised
//!   here with one pair per row (`rfc7247-8.1-*`, `rfc7247-8.2-*`).
//! - RFC 3994 §3: `active` while composing, `idle` otherwise; `refresh` only with active.
//! - RFC 5438 §6–7: `imdn.Message-ID` and `imdn.Disposition-Notification` in CPIM, with
//!   `NS: imdn <urn:ietf:params:imdn>`; notifications are CPIM-wrapped `message/imdn+xml`
//!   with `Content-Disposition: notification`, `<delivered/>` in a delivery-notification,
//!   `<displayed/>` in a display-notification.
//! - XEP-0359 §2.2: a client's `<origin-id/>` is its own id for the message, which servers
//!   keep; it is the `imdn.Message-ID` (then the stanza id, then a `<stanza-id/>` set by the
//!   sender's own account), and stanzas parley originates carry their id as `<origin-id/>`.
//! - RFC 3862 §3: CPIM From/To/DateTime/Subject/NS headers, an empty line, MIME headers.
//! - RFC 8048 (presence, obsoletes RFC 7248): subscription requests ⇄ SUBSCRIBE, PIDF
//!   `<basic>` open/closed ⇄ available/unavailable, `<show/>` through RPID, `<status/>` ⇄
//!   `<note/>`; DESIGN adds the soft-state rules (refresh and expiry are not contact removal).

use std::path::{Path, PathBuf};

use crate::bridge::sip_out::SipPeerCaps;
use crate::translate::{Protocol, TranslateOptions, translate_with};

const NOW: &str = "2024-05-01T12:00:00Z";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-tests/interwork")
}

fn check_dir(sub: &str, ext: &str, protocol: Protocol, caps: SipPeerCaps) -> usize {
    let bless = std::env::var_os("PARLEY_BLESS").is_some();
    let opts = TranslateOptions { caps, now: NOW };
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    inputs.sort();
    let mut failures = Vec::new();
    for input in &inputs {
        let bytes = std::fs::read(input).unwrap();
        let name = input.file_stem().unwrap().to_string_lossy().into_owned();
        let (text, ok) = translate_with(&bytes, Some(protocol), false, &opts);
        let (json, json_ok) = translate_with(&bytes, Some(protocol), true, &opts);
        let refused = name.ends_with("-refused");
        if ok == refused || json_ok != ok {
            failures.push(format!(
                "{sub}/{name}: accepted={ok}, expected {}\n{text}",
                !refused
            ));
            continue;
        }
        // Every translation must also come from automatic detection.
        let (auto, _) = translate_with(&bytes, None, false, &opts);
        assert_eq!(auto, text, "{sub}/{name}: detection");
        let out_path = input.with_extension("out");
        let json_path = input.with_extension("json");
        if bless {
            std::fs::write(&out_path, &text).unwrap();
            if ok {
                std::fs::write(&json_path, &json).unwrap();
            }
            continue;
        }
        let want = std::fs::read_to_string(&out_path).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{sub}/{name}.out differs:\n--- want\n{want}\n--- got\n{text}"
            ));
        }
        if ok {
            let want = std::fs::read_to_string(&json_path).unwrap_or_default();
            if want != json {
                failures.push(format!("{sub}/{name}.json differs:\n--- got\n{json}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    inputs.len()
}

#[test]
fn golden_pairs() {
    let n = check_dir("sip-to-xmpp", "sip", Protocol::Sip, SipPeerCaps::SIMPLE)
        + check_dir("xmpp-to-sip", "xml", Protocol::Xmpp, SipPeerCaps::SIMPLE)
        + check_dir(
            "xmpp-to-sip-plain",
            "xml",
            Protocol::Xmpp,
            SipPeerCaps::PLAIN,
        )
        + check_dir(
            "xmpp-to-sip-ext",
            "xml",
            Protocol::Xmpp,
            SipPeerCaps::EXTENDED,
        )
        + check_dir(
            "xmpp-to-sip-ext-react",
            "xml",
            Protocol::Xmpp,
            SipPeerCaps {
                extensions: crate::bridge::ext::Extensions::named("react").unwrap(),
                ..SipPeerCaps::SIMPLE
            },
        );
    assert!(n >= 150, "only {n} golden pairs");
}
