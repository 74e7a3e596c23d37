//! Notifier-role presence dialogs that survive a restart (RFC 6665 §4.2, issue 8 "presence
//! subscriptions survive a restart and the SIP side keeps getting NOTIFYs"): each dialog
//! with a SIP watcher of an XMPP user is written to the store when it is created, approved
//! or refreshed, and removed when it ends. At startup the dialogs not yet expired are
//! reloaded, so the watcher's next refresh is answered 200 rather than 481; for the approved
//! ones parley sends an XMPP `probe` on the watcher's behalf, and the presentity's answer
//! reaches the watcher as a NOTIFY.
//!
//! NOTIFY CSeqs: the record holds a CSeq a block ahead of the last one sent, and is
//! rewritten only when the dialog reaches it; a restored dialog continues from there, so its
//! NOTIFYs keep increasing without a write per NOTIFY.
//!
//! Writes go through one task, in order, batched into one transaction per wake-up, on the
//! blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use super::Gateway;
use super::presence::{Watch, WatchInfo};
use crate::model::{Address, Event, Probe};
use crate::sip::dialog::{DialogId, Notifier};
use crate::store::{WatchRecord, watch_key};

/// NOTIFY CSeqs reserved per write of a record.
const CSEQ_BLOCK: u32 = 1000;
/// Operations waiting for the writer; beyond this a write is dropped with a warning.
const QUEUE: usize = 8192;
/// Operations per transaction at most.
const BATCH: usize = 512;

/// One change to the stored dialogs: the record, or the removal of a key.
#[derive(Debug)]
enum Op {
    Put(Box<WatchRecord>),
    Remove(String),
}

/// The writer's queue, once started.
#[derive(Debug, Default)]
pub(crate) struct Writer(OnceLock<mpsc::Sender<Op>>);

fn unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The record of `watch`, whose NOTIFY CSeq is good up to `reserved`.
fn record(watch: &Watch, reserved: u32, now: Instant) -> WatchRecord {
    let left = watch.dialog.deadline().saturating_duration_since(now);
    let WatchInfo {
        id,
        presentity,
        watcher,
        target,
        routes,
    } = &watch.info;
    WatchRecord {
        call_id: id.call_id.clone(),
        local_tag: id.local_tag.clone(),
        remote_tag: id.remote_tag.clone(),
        presentity: presentity.clone(),
        watcher: watcher.clone(),
        target: target.clone(),
        routes: routes.clone(),
        remote_cseq: watch.dialog.cseqs().1,
        local_cseq: reserved,
        active: watch.dialog.is_active(),
        // Rounded up: the watcher's own timer runs from the same grant.
        expires_at_s: unix_s() + left.as_secs() + u64::from(left.subsec_nanos() > 0),
    }
}

/// The dialog of a stored record at `now_s`, or `None` when it expired meanwhile.
fn restored(r: WatchRecord, now_s: u64, now: Instant) -> Option<Watch> {
    let left = r.expires_at_s.checked_sub(now_s).filter(|l| *l > 0)?;
    let id = DialogId {
        call_id: r.call_id,
        local_tag: r.local_tag,
        remote_tag: r.remote_tag,
    };
    let dialog = Notifier::restore(
        id.clone(),
        r.remote_cseq,
        r.local_cseq,
        r.active,
        Duration::from_secs(left),
        now,
    );
    Some(Watch {
        dialog,
        info: WatchInfo {
            id,
            presentity: r.presentity,
            watcher: r.watcher,
            target: r.target,
            routes: r.routes,
        },
        cseq_reserved: r.local_cseq,
        last_notify: None,
        damped: false,
    })
}

fn address(bare: &str) -> Option<Address<'static>> {
    let (local, domain) = bare.rsplit_once('@')?;
    Some(Address {
        local: local.to_owned().into(),
        domain: domain.to_ascii_lowercase().into(),
        resource: None,
    })
}

impl Gateway {
    /// Store `watch` (created, approved, refreshed, or at the end of its CSeq reserve).
    pub(super) fn persist_watch(&self, watch: &mut Watch) {
        watch.cseq_reserved = watch.dialog.cseqs().0.saturating_add(CSEQ_BLOCK);
        let r = record(watch, watch.cseq_reserved, Instant::now());
        self.watch_op(Op::Put(Box::new(r)));
    }

    /// Remove the stored dialog `(call_id, local_tag)`.
    pub(super) fn unpersist_watch(&self, (call_id, local_tag): &(String, String)) {
        self.watch_op(Op::Remove(watch_key(call_id, local_tag)));
    }

    fn watch_op(&self, op: Op) {
        if let Some(tx) = self.presence.writer.0.get()
            && tx.try_send(op).is_err()
        {
            warn!("presence dialog not written to the store: writer queue full");
        }
    }

    /// Start the writer and reload the stored dialogs (at startup).
    pub(super) fn restore_watches(self: &Arc<Self>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        if self.presence.writer.0.set(tx).is_err() {
            return;
        }
        self.spawn_watch_writer(rx);
        let stored = match self.store.watches() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "stored presence dialogs could not be read");
                return;
            }
        };
        let (now_s, now) = (unix_s(), Instant::now());
        let (mut live, mut gone) = (0, 0);
        for r in stored {
            let key = (r.call_id.clone(), r.local_tag.clone());
            let Some(watch) = restored(r, now_s, now) else {
                // Expired while parley was down: the watcher's own timer ended it too.
                self.unpersist_watch(&key);
                gone += 1;
                continue;
            };
            if watch.dialog.is_active() {
                self.probe_for(&watch.info);
            }
            self.presence.watches.insert(key.clone(), watch);
            self.spawn_expiry(key);
            live += 1;
        }
        if live + gone > 0 {
            info!(
                dialogs = live,
                expired = gone,
                "SIP watcher dialogs restored"
            );
        }
    }

    /// An XMPP `probe` from the watcher to the presentity: the presence cache died with the
    /// process, and the answer refills it (and is NOTIFYed).
    fn probe_for(self: &Arc<Self>, info: &WatchInfo) {
        let (Some(from), Some(to)) = (address(&info.watcher), address(&info.presentity)) else {
            return;
        };
        let local = from.domain.to_string();
        self.presence_out(&local, &Event::Probe(Probe { from, to }));
    }

    fn spawn_watch_writer(self: &Arc<Self>, mut rx: mpsc::Receiver<Op>) {
        let store = self.store.clone();
        let cancel = self.shutdown_token();
        self.tracker().spawn(
            async move {
                let mut buf = Vec::with_capacity(BATCH);
                loop {
                    tokio::select! {
                        n = rx.recv_many(&mut buf, BATCH) => if n == 0 { return },
                        () = cancel.cancelled() => {
                            // At shutdown: write what is queued, then stop.
                            while buf.len() < BATCH && let Ok(op) = rx.try_recv() {
                                buf.push(op);
                            }
                            if buf.is_empty() {
                                return;
                            }
                        }
                    }
                    // Last operation per key wins, within one transaction.
                    let mut last: HashMap<String, Option<WatchRecord>> = HashMap::new();
                    for op in buf.drain(..) {
                        match op {
                            Op::Put(r) => last.insert(r.key(), Some(*r)),
                            Op::Remove(k) => last.insert(k, None),
                        };
                    }
                    let (mut puts, mut removes) = (Vec::new(), Vec::new());
                    for (k, v) in last {
                        match v {
                            Some(r) => puts.push(r),
                            None => removes.push(k),
                        }
                    }
                    let store = store.clone();
                    let r =
                        tokio::task::spawn_blocking(move || store.watches_apply(&puts, &removes))
                            .await;
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => warn!(error = %e, "presence dialogs not written"),
                        Err(e) => warn!(error = %e, "presence dialog writer failed"),
                    }
                }
            }
            .in_current_span(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(expires_at_s: u64, active: bool) -> WatchRecord {
        WatchRecord {
            call_id: "c1".into(),
            local_tag: "l1".into(),
            remote_tag: "r1".into(),
            presentity: "juliet@xmpp.test".into(),
            watcher: "alice@sip.test".into(),
            target: "sip:alice@127.0.0.1:5999;transport=tls".into(),
            routes: vec!["sip:127.0.0.1:5998;lr".into()],
            remote_cseq: 3,
            local_cseq: 1004,
            active,
            expires_at_s,
        }
    }

    #[test]
    fn a_record_round_trips_through_a_restored_dialog() {
        let now = Instant::now();
        let now_s = unix_s();
        let r = rec(now_s + 40, true);
        let w = restored(r.clone(), now_s, now).expect("not expired");
        assert!(w.dialog.is_active());
        assert_eq!(w.dialog.cseqs(), (1004, 3));
        assert_eq!(w.cseq_reserved, 1004);
        let back = record(&w, w.cseq_reserved, now);
        assert_eq!(back.key(), r.key());
        assert!(back.expires_at_s.abs_diff(r.expires_at_s) <= 1, "{back:?}");
        assert_eq!(
            WatchRecord {
                expires_at_s: r.expires_at_s,
                ..back
            },
            r
        );
    }

    #[test]
    fn an_expired_record_is_not_restored() {
        let now_s = unix_s();
        assert!(restored(rec(now_s, false), now_s, Instant::now()).is_none());
        assert!(restored(rec(now_s - 5, true), now_s, Instant::now()).is_none());
        let w = restored(rec(now_s + 1, false), now_s, Instant::now()).unwrap();
        assert!(!w.dialog.is_active());
    }
}
