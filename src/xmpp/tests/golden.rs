//! Golden files in `protocol-tests/xmpp/` (named after their RFC/XEP section): each `X.xml`
//! decodes to exactly `X.json`. Files under `hostile/` must be invalid. Run with
//! `PARLEY_BLESS=1` to rewrite the expectations after a reviewed change.

use std::path::{Path, PathBuf};

use crate::xmpp::decode::decode_to_json;

fn inputs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            inputs(&p, out);
        } else if p.extension().is_some_and(|e| e == "xml") {
            out.push(p);
        }
    }
}

#[test]
fn golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-tests/xmpp");
    let mut files = Vec::new();
    inputs(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 50,
        "golden corpus missing ({} files)",
        files.len()
    );
    let bless = std::env::var_os("PARLEY_BLESS").is_some();
    let mut failures = Vec::new();
    for xml in &files {
        let bytes = std::fs::read(xml).unwrap();
        let (json, valid) = decode_to_json(&bytes);
        let hostile = xml.components().any(|c| c.as_os_str() == "hostile");
        if hostile == valid {
            failures.push(format!("{}: valid={valid}", xml.display()));
        }
        let text = serde_json::to_string_pretty(&json).unwrap() + "\n";
        let expected_path = xml.with_extension("json");
        if bless {
            std::fs::write(&expected_path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == text => {}
            Ok(_) => failures.push(format!("{}: output differs", xml.display())),
            Err(_) => failures.push(format!("{}: no .json", xml.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_ten_megabytes_and_byte_by_byte() {
    let mut big = b"<message><body>".to_vec();
    big.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    big.extend_from_slice(b"</body></message>");
    let (json, valid) = decode_to_json(&big);
    assert!(!valid);
    assert_eq!(json["stream_error"]["condition"], "policy-violation");
}

#[test]
fn golden_files_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-tests/xmpp");
    let mut files = Vec::new();
    inputs(&root, &mut files);
    for xml in files {
        let bytes = std::fs::read(&xml).unwrap();
        // Stanza-only files are stream bodies; whole streams are skipped by the property.
        if let Err(e) = crate::xmpp::roundtrip::check(&bytes) {
            panic!("{}: {e}", xml.display());
        }
    }
}
