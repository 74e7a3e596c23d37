//! Tests of the in-memory contact book ([`super::ContactBook`]).

use super::*;
use crate::store::{MemStore, RedbStore};

const A: &str = "alice@sip.test";
const J: &str = "juliet@xmpp.test";

fn commit(book: &ContactBook, store: &dyn Store) {
    let w = book.take_dirty(usize::MAX);
    store.apply_contacts(&w).unwrap();
}

#[test]
fn memory_and_store_agree_after_commit_and_reload() {
    let dir = std::env::temp_dir().join(format!("parley-book-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("state.redb");
    let stores: [Box<dyn Store>; 2] = [
        Box::new(MemStore::new()),
        Box::new(RedbStore::open(&path).unwrap()),
    ];
    for store in stores {
        let book = ContactBook::new();
        assert_eq!(book.count_unaccepted(J, A, 10), 1);
        assert_eq!(book.count_unaccepted(J, A, 11), 2);
        book.accept(J, A, 12, 1000);
        book.set_blocked(A, "mallory@xmpp.test", true).unwrap();
        commit(&book, store.as_ref());
        assert!(!book.has_dirty());
        let again = ContactBook::load(store.as_ref()).unwrap();
        assert_eq!(again.state(J, A).unaccepted, 2);
        assert!(again.state(A, J).accepted, "J accepted A by writing to it");
        assert!(again.state("mallory@xmpp.test", A).blocked);
        assert!(again.state(A, "mallory@xmpp.test").blocked, "both ways");
        assert_eq!(again.blocks_by(A), vec!["mallory@xmpp.test".to_owned()]);
        // The old per-call API sees the same state.
        assert!(store.pair(A, J).unwrap().accepted);
        assert_eq!(store.pair(J, A).unwrap().unaccepted, 2);
        // Lifting a block and forgetting are written as removals.
        again.set_blocked(A, "mallory@xmpp.test", false).unwrap();
        assert_eq!(again.forget(J), 2);
        commit(&again, store.as_ref());
        assert_eq!(store.contacts().unwrap(), Default::default());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn activity_is_rewritten_only_past_the_granularity() {
    let book = ContactBook::new();
    book.accept(A, J, 1000, 100);
    assert_eq!(book.take_dirty(10).len(), 1);
    book.accept(A, J, 1050, 100);
    assert!(!book.has_dirty(), "fresh: nothing to write");
    assert_eq!(book.record(A, J).unwrap().last_ms, 1000);
    book.accept(A, J, 1100, 100);
    assert_eq!(book.record(A, J).unwrap().last_ms, 1100);
    assert!(book.has_dirty());
}

#[test]
fn unused_pairs_retire_then_go_and_use_revives_them() {
    let book = ContactBook::new();
    book.accept(A, J, 0, 1);
    book.count_unaccepted("x@xmpp.test", A, 0);
    book.accept("b@sip.test", J, 500, 1);
    let s = book.sweep(1000, 1000, 300);
    assert_eq!(s.retired.len(), 2, "{s:?}");
    assert!(s.removed.is_empty());
    assert!(!book.state(J, A).accepted, "retired: no longer accepted");
    assert_eq!(book.state("x@xmpp.test", A).unaccepted, 0);
    assert!(book.state(J, "b@sip.test").accepted, "still in use");
    assert_eq!(book.counts(), (1, 2, 0));
    // Used again during the grace period: active afresh.
    book.accept(A, J, 1100, 1);
    assert!(book.state(J, A).accepted);
    let s = book.sweep(1300, 1000, 300);
    assert_eq!(s.removed, vec![(A.to_owned(), "x@xmpp.test".to_owned())]);
    assert!(book.record(A, "x@xmpp.test").is_none());
    let w = book.take_dirty(10);
    assert!(w.contains(&ContactWrite::Pair {
        by: A.into(),
        of: "x@xmpp.test".into(),
        record: None
    }));
}

#[test]
fn a_revoked_sender_has_no_messages_left_and_a_block_never_retires() {
    let book = ContactBook::new();
    book.accept(A, J, 0, 1);
    book.revoke(A, J, 5);
    let s = book.state(J, A);
    assert!(!s.accepted && s.unaccepted == u32::MAX, "{s:?}");
    book.set_blocked(A, J, true).unwrap();
    book.sweep(u64::MAX / 2, 1, 1);
    book.sweep(u64::MAX, 1, 1);
    assert!(book.state(J, A).blocked);
    assert!(book.record(A, J).is_none());
}

#[test]
fn the_bound_removes_retired_pairs_first_then_the_least_recently_used() {
    let book = ContactBook::new();
    book.set_max_pairs(4);
    book.accept(A, "old@xmpp.test", 10, 1);
    book.accept(A, "new@xmpp.test", 40, 1);
    book.accept(A, "mid@xmpp.test", 20, 1);
    book.accept(A, "ret@xmpp.test", 30, 1);
    // `ret` retires (last used at 30, older than 45 - 10): a retired pair goes first,
    // though `old` was used less recently.
    let s = book.sweep(45, 10, 1000);
    assert_eq!(s.retired.len(), 4 - 1, "{s:?}");
    book.accept(A, "new@xmpp.test", 46, 1);
    book.accept(A, "mid@xmpp.test", 47, 1);
    book.accept(A, "old@xmpp.test", 48, 1);
    let _ = book.take_dirty(usize::MAX);
    book.count_unaccepted("x@xmpp.test", A, 50);
    assert_eq!(book.count_evicted(), 1);
    assert_eq!(book.count_evicted(), 0, "counted once");
    assert!(book.record(A, "ret@xmpp.test").is_none());
    assert_eq!(
        book.take_evicted().removed,
        vec![(A.to_owned(), "ret@xmpp.test".to_owned())]
    );
    // No retired pair left: the least recently used active one goes.
    book.accept(A, "y@xmpp.test", 60, 1);
    assert!(book.record(A, "new@xmpp.test").is_none(), "used at 46");
    for kept in ["mid@xmpp.test", "old@xmpp.test", "y@xmpp.test"] {
        assert!(book.record(A, kept).is_some(), "{kept}");
    }
    assert_eq!(book.pairs.len(), 4);
    // The removals are written to the store.
    let w = book.take_dirty(usize::MAX);
    assert!(w.contains(&ContactWrite::Pair {
        by: A.into(),
        of: "new@xmpp.test".into(),
        record: None
    }));
    assert_eq!(book.count_evicted(), 1);
    // A known pair never evicts anything.
    book.accept(A, "y@xmpp.test", 70, 1);
    assert_eq!(book.count_evicted(), 0);
    assert_eq!(book.pairs.len(), 4);
}

#[test]
fn a_failed_commit_is_retried_with_current_values() {
    let book = ContactBook::new();
    book.count_unaccepted(J, A, 1);
    let w = book.take_dirty(10);
    book.count_unaccepted(J, A, 2);
    book.redo(&w);
    let again = book.take_dirty(10);
    assert_eq!(again.len(), 1);
    assert!(matches!(&again[0], ContactWrite::Pair { record: Some(r), .. } if r.unaccepted == 2));
}

#[test]
fn blocks_past_the_bound_are_refused_and_none_is_dropped() {
    let book = ContactBook::new();
    book.set_max_blocks(2);
    assert!(book.set_blocked(A, "m1@xmpp.test", true).unwrap());
    assert!(book.set_blocked(A, "m2@xmpp.test", true).unwrap());
    // Setting one already set is no change, even at the bound.
    assert!(!book.set_blocked(A, "m2@xmpp.test", true).unwrap());
    let e = book.set_blocked(J, "m3@sip.test", true).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Full {
                what: "blocks",
                max: 2
            }
        ),
        "{e}"
    );
    assert!(!book.blocked(J, "m3@sip.test"));
    assert!(book.blocked(A, "m1@xmpp.test") && book.blocked(A, "m2@xmpp.test"));
    assert_eq!(book.counts().2, 2);
    // Only the two blocks set are written.
    assert_eq!(book.take_dirty(usize::MAX).len(), 2);
    // Lifting one makes room again.
    assert!(book.set_blocked(A, "m1@xmpp.test", false).unwrap());
    assert!(book.set_blocked(J, "m3@sip.test", true).unwrap());
    // A bound lowered below what is kept keeps them all and refuses new ones.
    book.set_max_blocks(1);
    assert_eq!(book.counts().2, 2);
    assert!(book.set_blocked(J, "m4@sip.test", true).is_err());
    assert!(book.set_blocked(J, "m3@sip.test", false).unwrap());
    assert!(
        book.set_blocked(J, "m4@sip.test", true).is_err(),
        "still 1 kept"
    );
    assert!(book.set_blocked(A, "m2@xmpp.test", false).unwrap());
    assert!(book.set_blocked(J, "m4@sip.test", true).unwrap());
}

#[test]
fn an_approved_subscription_is_reported_when_its_pair_retires_or_is_evicted() {
    let book = ContactBook::new();
    book.approve(J, A, 0, 1);
    book.accept("bob@sip.test", J, 0, 1);
    // A later acceptance by writing keeps the approval.
    book.accept(J, A, 10, 1);
    assert!(book.record(J, A).unwrap().subscribed);
    assert!(!book.record("bob@sip.test", J).unwrap().subscribed);
    assert_eq!(
        book.subscribed_involving(A),
        vec![(J.to_owned(), A.to_owned())]
    );
    let s = book.sweep(100, 50, 1000);
    assert_eq!(s.retired.len(), 2, "{s:?}");
    assert_eq!(s.subscribed, vec![(J.to_owned(), A.to_owned())]);
    // Reported once: removal after the grace period does not report it again.
    let s = book.sweep(2000, 50, 1000);
    assert_eq!(s.removed.len(), 2, "{s:?}");
    assert!(s.subscribed.is_empty(), "{s:?}");
    // Refusing the watcher ends the approval.
    book.approve(J, A, 3000, 1);
    book.revoke(J, A, 3001);
    assert!(!book.record(J, A).unwrap().subscribed);
    assert!(book.subscribed_involving(J).is_empty());
    // A subscription ended by its watcher: the pair stays accepted, nothing to report.
    book.approve(J, A, 3002, 1);
    let _ = book.take_dirty(usize::MAX);
    book.end_approval(J, A);
    let r = book.record(J, A).unwrap();
    assert!(r.accepted && !r.subscribed, "{r:?}");
    assert_eq!(book.take_dirty(usize::MAX).len(), 1, "written");
    book.end_approval(J, A);
    book.end_approval(A, "nobody@xmpp.test");
    assert!(!book.has_dirty(), "nothing changed");
    assert!(book.record(A, "nobody@xmpp.test").is_none(), "no pair made");

    // Evicted while active: reported with the eviction; evicted once retired: not.
    let book = ContactBook::new();
    book.set_max_pairs(2);
    book.approve(J, A, 10, 1);
    book.approve("bob@sip.test", J, 20, 1);
    book.sweep(25, 12, 1000);
    book.accept("bob@sip.test", J, 26, 1);
    assert!(book.record(J, A).is_some_and(|r| r.retired_ms != 0));
    book.accept(J, "x@sip.test", 30, 1);
    book.accept(J, "y@sip.test", 40, 1);
    let s = book.take_evicted();
    assert_eq!(
        s.removed,
        vec![
            (J.to_owned(), A.to_owned()),
            ("bob@sip.test".to_owned(), J.to_owned())
        ]
    );
    assert_eq!(
        s.subscribed,
        vec![("bob@sip.test".to_owned(), J.to_owned())]
    );
    assert_eq!(book.take_evicted(), Sweep::default(), "taken once");
}

#[test]
fn an_approval_survives_a_commit_and_a_reload() {
    let store = MemStore::new();
    let book = ContactBook::new();
    book.approve(J, A, 5, 1);
    commit(&book, &store);
    let again = ContactBook::load(&store).unwrap();
    assert_eq!(again.record(J, A), book.record(J, A));
    assert!(again.record(J, A).unwrap().subscribed);
    // Approving an accepted, fresh pair writes the approval.
    let book = ContactBook::new();
    book.accept(J, A, 5, 100);
    let _ = book.take_dirty(usize::MAX);
    book.approve(J, A, 6, 100);
    assert!(book.has_dirty());
    assert_eq!(
        book.record(J, A).unwrap().last_ms,
        5,
        "activity as fresh as it was"
    );
}

#[tokio::test]
async fn an_eviction_wakes_the_waiter_and_a_wake_is_never_lost() {
    let book = std::sync::Arc::new(ContactBook::new());
    book.set_max_pairs(1);
    book.accept(A, J, 1, 1);
    // Nothing evicted yet: no wake.
    let waiting = tokio::spawn({
        let book = book.clone();
        async move { book.wait_evicted().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    book.accept(A, "x@xmpp.test", 2, 1);
    waiting.await.unwrap();
    assert_eq!(book.take_evicted().removed.len(), 1);
    // Evicted before anyone waits: the next wait returns at once.
    book.accept(A, "y@xmpp.test", 3, 1);
    book.wait_evicted().await;
    assert_eq!(book.take_evicted().removed.len(), 1);
}
