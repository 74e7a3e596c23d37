//! The spool's store writer (group commit, DESIGN principle 4): one task takes every spool
//! write queued meanwhile and commits them in one store transaction on a blocking thread, so
//! one durable write serves many messages.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::store::{Spooled, Store, StoreError};

/// Most store operations committed in one transaction.
const MAX_BATCH: usize = 1024;

/// A store operation for the writer.
pub(super) enum Op {
    Put(Spooled, oneshot::Sender<Result<u64, String>>),
    /// Remove records; told once the removal is committed (or failed), if anyone waits.
    Remove(Vec<u64>, Option<Committed>),
}

/// Told when a removal's transaction has been committed (`Err`: it failed, the records stay
/// and are sent again after a restart).
pub(super) type Committed = oneshot::Sender<Result<(), String>>;

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Put(..) => f.write_str("Put"),
            Op::Remove(ids, _) => write!(f, "Remove({ids:?})"),
        }
    }
}

/// Commit queued operations in batches on a blocking thread. On shutdown, what is already
/// queued is still committed.
pub(super) async fn writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Op>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let first = tokio::select! {
            op = rx.recv() => op,
            () = cancel.cancelled() => { rx.close(); rx.recv().await }
        };
        let Some(first) = first else { return };
        let mut ops = vec![first];
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let mut puts = Vec::new();
        let mut replies = Vec::new();
        let mut removes = Vec::new();
        let mut committed = Vec::new();
        for op in ops {
            match op {
                Op::Put(m, reply) => {
                    puts.push(m);
                    replies.push(reply);
                }
                Op::Remove(ids, done) => {
                    removes.extend(ids);
                    committed.extend(done);
                }
            }
        }
        let (spooled, removed) = (puts.len(), removes.len());
        let store = store.clone();
        let result = tokio::task::spawn_blocking(move || store.spool_apply(&puts, &removes))
            .await
            .unwrap_or_else(|e| Err(StoreError::Db(Box::new(e))));
        match result {
            Ok(ids) => {
                debug!(spooled, removed, "spool records committed");
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
                for done in committed {
                    let _ = done.send(Ok(()));
                }
            }
            Err(e) => {
                warn!(error = %e, "spool write failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
                for done in committed {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}
