//! Unit tests of the SIP connection: the size of a request's future, and how answers are
//! batched into writes.

use super::*;

fn answer(n: usize) -> SipOut {
    SipOut::Response {
        bytes: Bytes::from(format!("answer {n};")),
        code: 202,
        key: None,
    }
}

/// Each request runs in a task of its own, and spawning it moves its future: that future
/// must stay small (the rare paths of the handler are boxed). It was 19 KiB.
#[test]
fn the_future_of_a_request_stays_small() {
    fn future_size<A, B, C, D, F>(_: impl FnOnce(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    type Gw = &'static Arc<Gateway>;
    type Msg = &'static SipMessage;
    let size = future_size::<Gw, &PeerCerts, Msg, Option<Turn>, _>(handle_in_turn);
    assert!(size <= 4096, "{size} bytes");
}

/// Answers settled together (one delivery confirmation wakes many handlers) leave in one
/// write: the connection takes its batch only after the handlers that are ready have run.
/// One worker thread, where a task woken by another runs right after it, as under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn answers_settled_together_leave_in_one_write() {
    const HANDLERS: usize = 32;
    let (tx, mut rx) = mpsc::channel(HANDLERS);
    let mut settle = Vec::new();
    for n in 0..HANDLERS {
        let (confirm, confirmed) = tokio::sync::oneshot::channel::<()>();
        settle.push(confirm);
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = confirmed.await;
            let _ = tx.send(answer(n)).await;
        });
    }
    // The connection's loop: wait for an answer, take a batch, write it; count the writes.
    let writer = tokio::spawn(async move {
        let mut transactions = Transactions::new(Reliability::Reliable, Timers::default());
        let (mut backlog, mut wbuf) = (std::collections::VecDeque::new(), BytesMut::new());
        let (mut taken, mut writes) = (0, 0);
        while taken < HANDLERS {
            let first = rx.recv().await.expect("an answer");
            taken += take_batch(first, &mut backlog, &mut rx, &mut wbuf, &mut transactions).await;
            writes += 1;
        }
        writes
    });
    tokio::task::yield_now().await;
    tokio::spawn(async move {
        for confirm in settle {
            let _ = confirm.send(());
        }
    });
    let writes = tokio::time::timeout(std::time::Duration::from_secs(10), writer)
        .await
        .expect("the writer takes every answer")
        .expect("the writer ran");
    // One write per answer without the wait; the scheduler's periodic upkeep may split
    // the answers once or twice.
    assert!(
        writes <= 3,
        "{HANDLERS} answers settled together took {writes} writes"
    );
}

/// More answers waiting than one write takes: each is written exactly once, in order,
/// over several rounds (none taken from the channel and left unwritten).
#[tokio::test]
async fn a_flood_of_answers_is_written_whole_across_batches() {
    let total = MAX_BATCH * 2 + 7;
    let (tx, mut rx) = mpsc::channel(total);
    for n in 1..total {
        tx.try_send(answer(n)).unwrap();
    }
    let mut backlog = std::collections::VecDeque::new();
    let mut transactions = Transactions::new(Reliability::Reliable, Timers::default());
    let mut written = BytesMut::new();
    let mut rounds = Vec::new();
    let mut next = Some(answer(0));
    while let Some(first) = next.take() {
        let mut wbuf = BytesMut::new();
        rounds.push(queue_batch(
            first,
            &mut backlog,
            &mut rx,
            &mut wbuf,
            &mut transactions,
        ));
        written.extend_from_slice(&wbuf);
        next = rx.try_recv().ok();
    }
    let expected: String = (0..total).map(|n| format!("answer {n};")).collect();
    assert_eq!(std::str::from_utf8(&written).unwrap(), expected);
    assert_eq!(rounds, [MAX_BATCH, MAX_BATCH, 7]);
}

fn ok_for(branch: &str) -> SipMessage {
    SipMessage::parse(
        Bytes::from(format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS gw.test;branch={branch}\r\n\
             From: <sip:a@sip.test>;tag=1\r\nTo: <sip:b@xmpp.test>;tag=2\r\n\
             Call-ID: c-{branch}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        )),
        &crate::sip::SipLimits::default(),
    )
    .unwrap()
}

/// The connection's loop sleeps until [`Transactions::deadline`]: never after the earliest
/// timer of a live transaction, and exact again once timers have fired, without walking
/// every transaction on each turn.
#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_earliest_timer_and_is_exact_after_timers_fire() {
    let mut t = Transactions::new(Reliability::Reliable, Timers::default());
    assert_eq!(t.deadline(), None);
    let mut waiting = Vec::new();
    for branch in ["z9hG4bKa", "z9hG4bKb", "z9hG4bKc"] {
        let (respond, rx) = oneshot::channel();
        waiting.push(rx);
        t.sent(
            branch.into(),
            Bytes::from_static(b"MESSAGE sip:b@xmpp.test SIP/2.0\r\n"),
            respond,
            None,
        );
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
    }
    let first = t.deadline().expect("three transactions wait");
    assert_eq!(Some(first), t.earliest_timer());
    // The first is answered: the bound stays (early), the exact timer moves on.
    assert!(t.on_response(&ok_for("z9hG4bKa")).is_none());
    let second = t.earliest_timer().expect("two wait");
    assert!(second > first && t.deadline() == Some(first));
    // Waking at the stale bound fires nothing and makes the deadline exact.
    tokio::time::sleep_until(first).await;
    assert!(t.on_timers(Instant::now()).is_empty());
    assert_eq!(t.deadline(), Some(second));
    assert_eq!(waiting[1].try_recv().ok(), None, "nothing timed out early");
    // At the second deadline its transaction times out (408) and the third's is next.
    tokio::time::sleep_until(second).await;
    t.on_timers(Instant::now());
    assert_eq!(waiting[1].try_recv().map(|f| f.code).ok(), Some(408));
    assert_eq!(t.deadline(), t.earliest_timer());
    assert!(t.deadline().is_some_and(|d| d > second));
    t.fail_all(503, "gone");
    assert_eq!(t.deadline(), None);
}

fn message_request(branch: &str) -> SipMessage {
    SipMessage::parse(
        Bytes::from(format!(
            "MESSAGE sip:b@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS ua.test;branch={branch}\r\n\
             From: <sip:a@sip.test>;tag=1\r\nTo: <sip:b@xmpp.test>\r\n\
             Call-ID: c-{branch}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        )),
        &crate::sip::SipLimits::default(),
    )
    .unwrap()
}

/// A stream connection reads no more requests once [`IN_HAND_MAX`] wait for their answer: the
/// count rises with each new request (not with a retransmission) and falls with each final
/// answer (not with a provisional one).
#[test]
fn requests_in_hand_are_those_without_a_final_answer() {
    let mut t = Transactions::new(Reliability::Reliable, Timers::default());
    let keys: Vec<TransactionKey> = (0..IN_HAND_MAX)
        .map(|n| TransactionKey::of(&message_request(&format!("z9hG4bK{n}"))).unwrap())
        .collect();
    for (n, key) in keys.iter().enumerate() {
        let msg = message_request(&format!("z9hG4bK{n}"));
        assert!(matches!(
            t.on_request(&msg, Some(key), None),
            RequestFate::New
        ));
        assert!(matches!(
            t.on_request(&msg, Some(key), None),
            RequestFate::Absorb
        ));
    }
    assert_eq!(t.in_hand(), IN_HAND_MAX);
    let answer = Bytes::from_static(b"SIP/2.0 100 Trying\r\n\r\n");
    assert!(t.on_local_response(Some(&keys[0]), 100, answer).is_some());
    assert_eq!(
        t.in_hand(),
        IN_HAND_MAX,
        "a provisional answer leaves it in hand"
    );
    for key in &keys[..10] {
        let ok = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
        assert!(t.on_local_response(Some(key), 200, ok).is_some());
    }
    assert_eq!(t.in_hand(), IN_HAND_MAX - 10);
}
