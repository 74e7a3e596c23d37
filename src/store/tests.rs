//! The same behaviour from both stores; the redb one also across a reopen.

use super::*;

fn temp_db(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("parley-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("state.redb")
}

fn consent_and_blocks(s: &dyn Store) {
    let (a, b) = ("alice@sip.test", "juliet@xmpp.test");
    assert_eq!(s.pair(a, b).unwrap(), PairState::default());
    assert_eq!(s.count_unaccepted(a, b).unwrap(), 1);
    assert_eq!(s.count_unaccepted(a, b).unwrap(), 2);
    assert_eq!(s.pair(a, b).unwrap().unaccepted, 2);
    assert_eq!(s.pair(b, a).unwrap().unaccepted, 0, "directed");
    s.accept(b, a, 1234).unwrap();
    let p = s.pair(a, b).unwrap();
    assert!(p.accepted && p.unaccepted == 0, "{p:?}");
    assert!(!s.pair(b, a).unwrap().accepted, "acceptance is directed");
    assert_eq!(s.last_activity(b, a).unwrap(), Some(1234));
    s.set_blocked(b, a, true).unwrap();
    assert!(s.pair(a, b).unwrap().blocked);
    assert!(
        s.pair(b, a).unwrap().blocked,
        "blocks are honoured both ways"
    );
    s.set_blocked(b, a, false).unwrap();
    assert!(!s.pair(a, b).unwrap().blocked);
}

fn subscriptions_spool_and_forget(s: &dyn Store) {
    let sub = Subscription {
        subscriber: "juliet@xmpp.test".into(),
        contact: "alice@sip.test".into(),
        approved: false,
    };
    s.put_subscription(&sub).unwrap();
    let approved = Subscription {
        approved: true,
        ..sub.clone()
    };
    s.put_subscription(&approved).unwrap();
    assert_eq!(s.subscriptions().unwrap(), vec![approved]);
    let m = Spooled {
        from: "alice@sip.test".into(),
        to: "juliet@xmpp.test".into(),
        bytes: b"<message/>".to_vec(),
        deadline_s: 99,
        attempts: 0,
        queued_s: 9,
        to_sip: None,
    };
    let id1 = s.spool_put(&m).unwrap();
    let other = Spooled {
        from: "carol@sip.test".into(),
        to: "romeo@xmpp.test".into(),
        ..m.clone()
    };
    let id2 = s.spool_put(&other).unwrap();
    assert!(id2 > id1);
    let tried = Spooled {
        attempts: 1,
        ..m.clone()
    };
    s.spool_update(id1, &tried).unwrap();
    assert_eq!(s.spool().unwrap(), vec![(id1, tried), (id2, other.clone())]);
    s.accept("alice@sip.test", "juliet@xmpp.test", 1).unwrap();
    s.set_blocked("bob@sip.test", "alice@sip.test", true)
        .unwrap();
    s.count_unaccepted("alice@sip.test", "dave@xmpp.test")
        .unwrap();
    // accepted, block, count, subscription, spooled message.
    assert_eq!(s.forget("alice@sip.test").unwrap(), 5);
    assert_eq!(s.spool().unwrap(), vec![(id2, other)]);
    assert!(s.subscriptions().unwrap().is_empty());
    assert_eq!(
        s.pair("dave@xmpp.test", "alice@sip.test").unwrap(),
        PairState::default()
    );
    s.spool_remove(id2).unwrap();
    assert!(s.spool().unwrap().is_empty());
}

#[test]
fn mem_store() {
    consent_and_blocks(&MemStore::new());
    subscriptions_spool_and_forget(&MemStore::new());
}

#[test]
fn redb_store() {
    let path = temp_db("rules");
    consent_and_blocks(&RedbStore::open(&path).unwrap());
    let path2 = temp_db("spool");
    subscriptions_spool_and_forget(&RedbStore::open(&path2).unwrap());
    for p in [path, path2] {
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}

#[test]
fn redb_state_survives_a_reopen() {
    let path = temp_db("reopen");
    {
        let s = RedbStore::open(&path).unwrap();
        s.accept("b@sip.test", "a@xmpp.test", 7).unwrap();
        s.count_unaccepted("c@xmpp.test", "b@sip.test").unwrap();
    }
    let s = RedbStore::open(&path).unwrap();
    assert!(s.pair("a@xmpp.test", "b@sip.test").unwrap().accepted);
    assert_eq!(s.pair("c@xmpp.test", "b@sip.test").unwrap().unaccepted, 1);
    drop(s);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn bare_lowercases_the_domain_only() {
    assert_eq!(bare("Alice@SIP.Test"), "Alice@sip.test");
}

fn spool_group_commit(s: &dyn Store) {
    let m = |n: u8| Spooled {
        from: "alice@sip.test".into(),
        to: "juliet@xmpp.test".into(),
        bytes: vec![n],
        deadline_s: 99,
        attempts: 0,
        queued_s: 1,
        to_sip: None,
    };
    let ids = s.spool_apply(&[m(1), m(2), m(3)], &[]).unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    let more = s.spool_apply(&[m(4)], &[ids[0], ids[2]]).unwrap();
    let left: Vec<u8> = s.spool().unwrap().iter().map(|(_, m)| m.bytes[0]).collect();
    assert_eq!(left, [2, 4]);
    assert!(
        !ids[1..2].contains(&more[0]),
        "a fresh id for a fresh message"
    );
}

#[test]
fn spool_batches_apply_puts_and_removes_together() {
    spool_group_commit(&MemStore::new());
    let path = temp_db("batch");
    {
        spool_group_commit(&RedbStore::open(&path).unwrap());
    }
    let reopened = RedbStore::open(&path).unwrap();
    assert_eq!(reopened.spool().unwrap().len(), 2, "committed durably");
    drop(reopened);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
