//! The `parley` command line as a user runs it: exit statuses and what it prints.

use std::process::Command;

fn parley(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn corpus(path: &str) -> String {
    format!("{}/protocol-tests/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_config_accepts_the_default_and_names_the_bad_key() {
    let (code, out, _) = parley(&["check-config", &corpus("configs/default.toml")]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = parley(&["check-config", &corpus("configs/bad-side.toml")]);
    assert_eq!(code, 64);
    assert!(err.contains("side"), "{err}");
}

#[test]
fn decode_prints_json_and_fails_on_invalid_input() {
    let (code, out, _) = parley(&["decode", &corpus("sip/rfc3428-4-message.sip")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true, "{out}");
    let (code, out, _) = parley(&["decode", "--sip", &corpus("sip/rfc4475/badvers.dat")]);
    assert_eq!(code, 1);
    assert!(out.contains("505"), "{out}");
    let (code, _, err) = parley(&["decode", "/nonexistent/file"]);
    assert_eq!(code, 66, "{err}");
}

#[test]
fn translate_prints_the_other_side_and_fails_on_refusal() {
    let (code, out, _) = parley(&["translate", &corpus("sip/rfc3428-4-message.sip")]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("<message ") && out.contains("type='chat'"),
        "{out}"
    );
    let (code, out, _) = parley(&["translate", "--sip", &corpus("sip/rfc4475/badvers.dat")]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn run_with_a_broken_config_exits_64_before_binding() {
    let (code, _, err) = parley(&["run", "--config", &corpus("configs/bad-log-format.toml")]);
    assert_eq!(code, 64);
    assert!(err.contains("format"), "{err}");
}

#[test]
fn replay_checks_a_capture_against_its_golden_file() {
    let capture = corpus("captures/sip-udp-tcp.pcap");
    let (code, out, _) = parley(&["replay", "--no-progress", &capture]);
    assert_eq!(code, 0);
    assert!(
        out.lines().last().is_some_and(|l| l.contains("summary")),
        "{out}"
    );
    let golden = corpus("captures/sip-udp-tcp.pcap.jsonl");
    let (code, _, _) = parley(&["replay", "--no-progress", &capture, "--check", &golden]);
    assert_eq!(code, 0);
    // A golden file of another capture differs: exit 1.
    let other = corpus("captures/multi-iface.pcapng.jsonl");
    let (code, _, _) = parley(&["replay", "--no-progress", &capture, "--check", &other]);
    assert_eq!(code, 1);
}
