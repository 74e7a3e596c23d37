use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use super::writer::{RotatingFile, rotated};
use super::*;
use crate::metrics::PolicyReason;
use crate::model::{Address, MessageKind};

const SECRET: &str = "the launch code is 0000 — ünïcode body";

fn chat() -> ChatMessage<'static> {
    let addr = |local: &'static str, domain: &'static str| Address {
        local: Cow::Borrowed(local),
        domain: Cow::Borrowed(domain),
        resource: Some(Cow::Borrowed("phone")),
    };
    let mut m = ChatMessage::plain(
        addr("alice", "sip.example"),
        addr("juliet", "xmpp.example"),
        Cow::Borrowed(SECRET),
    );
    m.thread = Some(Cow::Borrowed("a84b4c76e66710@pc33"));
    m.kind = MessageKind::Chat;
    m.subject = Some(Cow::Borrowed("secret subject"));
    m
}

#[test]
fn line_shape_has_metadata_only() {
    let mut r = AuditRecord::im(Direction::SipToXmpp, &chat()).outcome(
        Outcome::Refused,
        Some(PolicyReason::RelayingDenied.as_str()),
    );
    r.time = UNIX_EPOCH + Duration::from_millis(1_772_366_400_123);
    let line = String::from_utf8(r.to_line()).unwrap();
    assert!(line.ends_with("}\n") && line.matches('\n').count() == 1);
    assert_eq!(
        line.trim_end(),
        concat!(
            r#"{"time":"2026-03-01T12:00:00.123Z","session":"a84b4c76e66710@pc33","type":"im","#,
            r#""from":"alice@sip.example","to":"juliet@xmpp.example","source":"sip","destination":"xmpp","#,
            r#""direction":"sip_to_xmpp","outcome":"refused","reason":"relaying_denied","bytes":"#,
            "42}"
        )
    );
    assert_eq!(SECRET.len(), 42);
    assert!(!line.contains("launch") && !line.contains("secret") && !line.contains("phone"));
    // Delivered: no reason key; the session falls back to what the caller gives.
    let mut r = AuditRecord::new(
        Direction::XmppToSip,
        EventKind::Presence,
        "juliet@xmpp.example".into(),
        "alice@sip.example".into(),
    )
    .session("call-1");
    r.time = UNIX_EPOCH;
    let v: serde_json::Value = serde_json::from_slice(&r.to_line()).unwrap();
    assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
    assert_eq!(v["session"], "call-1");
    assert_eq!(v["type"], "presence");
    assert_eq!(v["source"], "xmpp");
    assert!(v.get("reason").is_none());
    // The report reads what the writer writes.
    let parsed: read::Line = serde_json::from_slice(&r.to_line()).unwrap();
    assert_eq!(parsed.kind, "presence");
}

#[test]
fn full_queue_drops_without_blocking() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let audit = Audit::new(tx);
    for _ in 0..5 {
        audit.emit(AuditRecord::im(Direction::SipToXmpp, &chat()));
    }
    let mut got = 0;
    while rx.try_recv().is_ok() {
        got += 1;
    }
    assert_eq!(got, 2);
    Audit::disabled().emit(AuditRecord::im(Direction::SipToXmpp, &chat()));
}

#[test]
fn rotation_by_size_with_gzip_and_keep() {
    let dir = std::env::temp_dir().join(format!("parley-audit-rot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sub").join("audit.log");
    let line = AuditRecord::im(Direction::SipToXmpp, &chat()).to_line();
    let per_file = 4;
    let mut f = RotatingFile::open(path.clone(), (line.len() * per_file) as u64, 2, true).unwrap();
    for _ in 0..(per_file * 3 + 1) {
        f.write_line(&line).unwrap();
    }
    f.flush().unwrap();
    // 13 lines in files of 4: the oldest rotated file is deleted (keep = 2), one line remains.
    assert!(rotated(&path, 1, true).is_file());
    assert!(rotated(&path, 2, true).is_file());
    assert!(!rotated(&path, 3, true).exists());
    assert!(!rotated(&path, 1, false).exists());
    let count = |files: &[std::path::PathBuf]| {
        let mut n = 0;
        read::for_each_line(files, |_| n += 1).unwrap();
        n
    };
    assert_eq!(count(std::slice::from_ref(&path)), 1);
    assert_eq!(count(&[rotated(&path, 1, true)]), per_file);
    assert_eq!(count(&[rotated(&path, 2, true)]), per_file);
    let all = read::expand(&[path.parent().unwrap().to_owned()]).unwrap();
    assert_eq!(count(&all), 2 * per_file + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writer_thread_writes_and_flushes() {
    let dir = std::env::temp_dir().join(format!("parley-audit-w-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = crate::config::AuditConfig::default();
    let audit = writer::start(&config, &dir).unwrap();
    for _ in 0..3 {
        audit.emit(AuditRecord::im(Direction::XmppToSip, &chat()));
    }
    let path = config.file(&dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() == 3 {
            assert!(!text.contains("launch"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
