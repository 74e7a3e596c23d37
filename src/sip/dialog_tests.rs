//! RFC 6665 dialog rules on a paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn id() -> DialogId {
    DialogId {
        call_id: "c".into(),
        local_tag: "l".into(),
        remote_tag: "r".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn notifier_pending_active_changes_and_cseq_order() {
    let t0 = Instant::now();
    let (p, n) = NotifierPending::new(id(), 1, 600, t0);
    assert_eq!(
        n,
        Notify {
            cseq: 1,
            state: NotifyState::Pending,
            expires: 600
        }
    );
    let (a, n) = p.approve(t0 + Duration::from_secs(10));
    assert_eq!((n.cseq, n.state, n.expires), (2, NotifyState::Active, 590));
    let (a, n) = a.changed(t0 + Duration::from_secs(20));
    assert_eq!(n.cseq, 3);
    let d = Notifier::Active(a);
    // A replayed or older SUBSCRIBE is refused; the dialog is unchanged.
    let (d, n) = d.refresh(2, 600, t0 + Duration::from_secs(30)).unwrap();
    let d = d.unwrap();
    assert_eq!((n.cseq, n.state, n.expires), (4, NotifyState::Active, 600));
    assert_eq!(d.deadline(), t0 + Duration::from_secs(630));
    assert_eq!(
        d.refresh(2, 600, t0).unwrap_err().1,
        DialogError::CSeqOutOfOrder
    );
}

#[tokio::test(start_paused = true)]
async fn notifier_ends_on_unsubscribe_expiry_and_rejection() {
    let t0 = Instant::now();
    let (p, _) = NotifierPending::new(id(), 1, 60, t0);
    let (d, n) = Notifier::Pending(p).refresh(2, 0, t0).unwrap();
    assert!(d.is_none());
    assert_eq!(n.state, NotifyState::Terminated("timeout"));
    assert_eq!((n.cseq, n.expires), (2, 0));

    let (p, _) = NotifierPending::new(id(), 1, 60, t0);
    let d = Notifier::Pending(p);
    assert_eq!(d.deadline(), t0 + Duration::from_secs(60));
    assert_eq!(
        d.expire(t0 + Duration::from_secs(60)).state,
        NotifyState::Terminated("timeout")
    );

    let (p, _) = NotifierPending::new(id(), 1, 60, t0);
    assert_eq!(p.reject(t0).state, NotifyState::Terminated("rejected"));
}

#[test]
fn expires_is_capped() {
    assert_eq!(granted(None), DEFAULT_EXPIRES);
    assert_eq!(granted(Some(30)), 30);
    assert_eq!(granted(Some(86400)), MAX_EXPIRES);
}

#[tokio::test(start_paused = true)]
async fn subscriber_follows_notify_states_and_reasons() {
    let t0 = Instant::now();
    let sent = SubscriberSent::new("c".into(), "l".into(), 1);
    assert!(
        SubscriberSent::new("c".into(), "l".into(), 1)
            .on_final(404, None, 0, t0)
            .is_none()
    );
    let est = sent.on_final(202, Some("r"), 60, t0).unwrap();
    assert_eq!(est.id(), &id());
    // 90 % of 60 s: refresh at 54 s.
    assert_eq!(est.refresh_at(t0), t0 + Duration::from_secs(54));
    let SubscriberStep::Pending(est) = est.on_notify(1, Incoming::Pending, Some(60), t0).unwrap()
    else {
        panic!("pending")
    };
    let SubscriberStep::Active(est, true) = est.on_notify(2, Incoming::Active, None, t0).unwrap()
    else {
        panic!("first active")
    };
    let SubscriberStep::Active(est, false) = est.on_notify(3, Incoming::Active, None, t0).unwrap()
    else {
        panic!("later active")
    };
    assert_eq!(
        est.on_notify(3, Incoming::Active, None, t0).unwrap_err(),
        DialogError::CSeqOutOfOrder
    );
}

#[tokio::test(start_paused = true)]
async fn subscriber_terminations_split_into_reject_and_resubscribe() {
    let t0 = Instant::now();
    let est = || {
        SubscriberSent::new("c".into(), "l".into(), 1)
            .on_final(200, Some("r"), 60, t0)
            .unwrap()
    };
    for (reason, rejected) in [
        (Some("rejected"), true),
        (Some("noresource"), true),
        (Some("timeout"), false),
        (Some("deactivated"), false),
        (Some("probation"), false),
        (Some("giveup"), false),
        (None, false),
    ] {
        let step = est()
            .on_notify(1, Incoming::Terminated(reason), None, t0)
            .unwrap();
        match (step, rejected) {
            (SubscriberStep::Rejected, true) | (SubscriberStep::Resubscribe, false) => {}
            (other, _) => panic!("{reason:?}: {other:?}"),
        }
    }
    let (est, cseq) = est().refresh(60, t0 + Duration::from_secs(54));
    assert_eq!(cseq, 2);
    assert_eq!(
        est.refresh_at(t0 + Duration::from_secs(54)),
        t0 + Duration::from_secs(108)
    );
}

#[test]
fn grants_within_the_configured_bounds() {
    assert_eq!(grant_within(Some(600), 60, 3600), Ok(600));
    assert_eq!(grant_within(Some(7200), 60, 3600), Ok(3600));
    assert_eq!(grant_within(None, 60, 20), Ok(20));
    assert_eq!(
        grant_within(Some(30), 60, 3600),
        Err(60),
        "423 Min-Expires: 60"
    );
    assert_eq!(
        grant_within(Some(0), 60, 3600),
        Ok(0),
        "a fetch is never too brief"
    );
}

#[test]
fn a_restored_notifier_continues_its_cseqs() {
    let now = Instant::now();
    let n = Notifier::restore(id(), 4, 1024, true, Duration::from_secs(30), now);
    assert!(n.is_active());
    assert_eq!(n.cseqs(), (1024, 4));
    assert!(matches!(
        n.refresh(4, 60, now),
        Err((_, DialogError::CSeqOutOfOrder))
    ));
    let n = Notifier::restore(id(), 4, 1024, true, Duration::from_secs(30), now);
    let (n, notify) = n.refresh(5, 60, now).unwrap();
    assert_eq!(notify.cseq, 1025);
    assert_eq!(notify.state, NotifyState::Active);
    assert_eq!(notify.expires, 60);
    assert!(n.is_some());
}
