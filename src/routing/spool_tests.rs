//! Unit tests of the spool's pure parts (RFC 3428 §7 202 path).

use super::*;

fn entry(id: u64, deadline_s: u64) -> Entry {
    Entry {
        id,
        from: "alice@sip.test".into(),
        to: "juliet@xmpp.test".into(),
        bytes: Bytes::from_static(b"<message/>"),
        deadline_s,
        queued_s: 1,
        to_sip: None,
        withdrawn: Withdrawal::default(),
    }
}

#[test]
fn spooling_starts_when_the_peer_is_down_and_lasts_while_messages_wait() {
    assert!(!should_spool(true, false, 0), "peer up, nothing waiting");
    assert!(should_spool(true, true, 0), "peer known down");
    assert!(
        should_spool(true, false, 3),
        "earlier messages wait: keep order"
    );
    assert!(!should_spool(false, true, 3), "spool not running");
}

#[test]
fn a_pair_queue_starts_one_task_and_stops_it_only_when_empty() {
    let q = PairQueue::default();
    assert!(q.push(entry(1, 50)), "first push starts the task");
    assert!(!q.push(entry(2, 10)), "second push does not");
    assert!(!q.stop_if_empty(), "items left: keep running");
    assert_eq!(q.earliest_deadline(), Some(10));
    let gone = q.take_expired(10);
    assert_eq!(gone.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);
    assert_eq!(q.window(5).iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    assert_eq!(q.remove(1).map(|e| e.id), Some(1));
    assert!(q.remove(1).is_none());
    assert!(q.stop_if_empty());
    assert!(
        q.push(entry(3, 50)),
        "a push after the stop starts a new task"
    );
}

#[test]
fn only_failures_parley_generated_itself_are_retried() {
    assert!(transient_local(&SipFinal::local(502, "Bad Gateway")));
    assert!(transient_local(&SipFinal::local(408, "Request Timeout")));
    assert!(transient_local(&SipFinal::local(503, "Queue Full")));
    assert!(!transient_local(&SipFinal::local(404, "Not Found")));
    let from_peer = SipFinal {
        to_tag: Some("t1".into()),
        ..SipFinal::local(503, "Service Unavailable")
    };
    assert!(!transient_local(&from_peer), "the peer answered: final");
}

#[test]
fn a_bounce_notice_goes_from_the_recipient_to_the_sender() {
    let n = bounce_notice("alice@sip.test", "juliet@xmpp.test");
    assert_eq!(n.from.bare(), "juliet@xmpp.test");
    assert_eq!(n.to.bare(), "alice@sip.test");
    assert!(n.body.contains("juliet@xmpp.test"), "{}", n.body);
    assert!(pair_of(&entry(1, 1)) == Some(("sip.test".into(), "xmpp.test".into())));
}

#[test]
fn a_window_never_exceeds_what_the_pool_lets_wait_for_confirmation() {
    assert_eq!(window_size(Some(100)), 100);
    assert_eq!(window_size(Some(1)), 1);
    assert_eq!(window_size(Some(0)), 1, "the pool treats 0 as 1");
    assert_eq!(window_size(Some(4096)), WINDOW);
    assert_eq!(window_size(None), WINDOW);
}

/// A removal's waiter is told only once the store no longer holds the record.
#[tokio::test]
async fn a_removal_is_reported_after_its_commit() {
    let store: Arc<dyn crate::store::Store> = Arc::new(crate::store::MemStore::new());
    let (tx, rx) = mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(writer(store.clone(), rx, cancel.clone()));
    let m = Spooled {
        from: "alice@sip.test".into(),
        to: "juliet@xmpp.test".into(),
        bytes: b"<message/>".to_vec(),
        deadline_s: u64::MAX,
        attempts: 0,
        queued_s: 1,
        to_sip: None,
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (put, id) = oneshot::channel();
        tx.send(Op::Put(m.clone(), put)).await.unwrap();
        ids.push(id.await.unwrap().unwrap());
    }
    assert_eq!(store.spool().unwrap().len(), 2);
    let (done, committed) = oneshot::channel();
    tx.send(Op::Remove(vec![ids[0]], Some(done))).await.unwrap();
    committed.await.unwrap().unwrap();
    let left: Vec<u64> = store
        .spool()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(left, [ids[1]]);
    cancel.cancel();
    task.await.unwrap();
}
