//! Outbound s2s streams, one per (local domain, remote domain), created on demand and reused.
//!
//! Each pair has one task that owns its connection and a bounded queue (depth from config).
//! A stanza is acknowledged once it is written to an authenticated stream; when the peer
//! cannot be reached every queued stanza is acknowledged with an error, never dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

use super::ConnError;
use super::s2s_out;
use crate::model::ErrorCondition;
use crate::routing::Gateway;
use crate::xmpp::Frame;
use crate::xmpp::encode;

/// How a queued stanza ended: written to the stream, or failed with a condition.
pub type Ack = oneshot::Sender<Result<(), ErrorCondition>>;

/// A stanza queued for a peer.
#[derive(Debug)]
pub struct OutStanza {
    /// Serialized stanza.
    pub bytes: Bytes,
    /// Told when the stanza was written or could not be.
    pub ack: Option<Ack>,
}

/// Why a stanza was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The peer's queue is full (backpressure: answer 503 / resource-constraint).
    Full,
    /// The gateway is shutting down.
    Closed,
}

const MAX_BATCH: usize = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The pool of outbound streams.
#[derive(Debug, Default)]
pub struct XmppPool {
    queues: DashMap<(String, String), mpsc::Sender<OutStanza>>,
}

impl XmppPool {
    /// Queue a stanza from `local` to `remote`, starting the pair's task if needed.
    pub fn send(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        stanza: OutStanza,
    ) -> Result<(), QueueError> {
        let key = (local.to_owned(), remote.to_owned());
        let tx = self
            .queues
            .entry(key)
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(gw.config().xmpp.queue_depth);
                let span = info_span!("s2s_out", local.domain = %local, peer.domain = %remote);
                gw.tracker().spawn(
                    run(gw.clone(), local.to_owned(), remote.to_owned(), rx).instrument(span),
                );
                tx
            })
            .clone();
        tx.try_send(stanza).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })
    }

    /// Stanzas waiting per peer pair (for metrics).
    pub fn queue_depths(&self) -> Vec<((String, String), usize)> {
        self.queues
            .iter()
            .map(|e| {
                (
                    e.key().clone(),
                    e.value().max_capacity() - e.value().capacity(),
                )
            })
            .collect()
    }
}

async fn run(gw: Arc<Gateway>, local: String, remote: String, mut rx: mpsc::Receiver<OutStanza>) {
    let cancel = gw.shutdown_token();
    let mut backoff = Duration::from_millis(500);
    loop {
        let first = tokio::select! {
            item = rx.recv() => match item { Some(s) => s, None => return },
            () = cancel.cancelled() => return drain(&mut rx, ErrorCondition::ServiceUnavailable),
        };
        let Some(next_hop) = gw.config().domain(&remote).map(|d| d.next_hop.clone()) else {
            fail(first, ErrorCondition::RemoteServerNotFound);
            continue;
        };
        let Some(connector) = gw.tls().connector(&local).cloned() else {
            fail(first, ErrorCondition::InternalServerError);
            continue;
        };
        let deadline = Duration::from_millis(gw.config().xmpp.connect_timeout_ms);
        let connected = tokio::select! {
            r = s2s_out::connect(&next_hop, &local, &remote, &connector, gw.xmpp_limits(), deadline) => r,
            () = cancel.cancelled() => Err(ConnError::Shutdown),
        };
        match connected {
            Ok(est) => {
                info!(peer.addr = %next_hop, "outbound s2s stream authenticated (SASL EXTERNAL)");
                backoff = Duration::from_millis(500);
                match established(est, first, &mut rx, &gw).await {
                    Ok(()) => return,
                    Err(e) if e.is_ordinary() => debug!(error = %e, "outbound s2s stream ended"),
                    Err(e) => warn!(error = %e, "outbound s2s stream failed"),
                }
            }
            Err(e) => {
                let condition = match e {
                    ConnError::Timeout(_) => ErrorCondition::RemoteServerTimeout,
                    ConnError::Shutdown => ErrorCondition::ServiceUnavailable,
                    _ => ErrorCondition::RemoteServerNotFound,
                };
                warn!(peer.addr = %next_hop, error = %e, "outbound s2s connect failed; bouncing queued stanzas");
                fail(first, condition);
                drain(&mut rx, condition);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = cancel.cancelled() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Write stanzas until the stream ends. `Ok(())` only on shutdown.
async fn established(
    mut est: s2s_out::Established,
    first: OutStanza,
    rx: &mut mpsc::Receiver<OutStanza>,
    gw: &Gateway,
) -> Result<(), ConnError> {
    let cancel = gw.shutdown_token();
    let mut acks = Vec::with_capacity(MAX_BATCH);
    let mut next = Some(first);
    loop {
        if let Some(item) = next.take() {
            // Batch whatever else is already queued into one write.
            let mut item = item;
            loop {
                est.stream.wbuf.extend_from_slice(&item.bytes);
                acks.extend(item.ack.take());
                if acks.len() >= MAX_BATCH {
                    break;
                }
                match rx.try_recv() {
                    Ok(more) => item = more,
                    Err(_) => break,
                }
            }
            let written = est.stream.flush().await;
            let outcome = written
                .as_ref()
                .map(|_| ())
                .map_err(|_| ErrorCondition::RemoteServerTimeout);
            for ack in acks.drain(..) {
                let _ = ack.send(outcome);
            }
            written?;
        }
        tokio::select! {
            item = rx.recv() => match item {
                Some(s) => next = Some(s),
                None => return close(est).await,
            },
            frame = est.stream.read_frame() => match frame? {
                Frame::Whitespace => {}
                Frame::Close => return Err(ConnError::Closed),
                Frame::Open(_) => return Err(ConnError::Unexpected { expected: "stanzas", got: "a stream header".into() }),
                Frame::Element(bytes) => {
                    // Nothing is expected on our sending stream except a stream error.
                    est.stream.parse(&bytes)?;
                    debug!(len = bytes.len(), "ignored element on outbound stream");
                }
            },
            () = cancel.cancelled() => return close(est).await,
        }
    }
}

async fn close(mut est: s2s_out::Established) -> Result<(), ConnError> {
    encode::write_stream_close(&mut est.stream.wbuf);
    est.stream.flush().await
}

fn fail(item: OutStanza, condition: ErrorCondition) {
    if let Some(ack) = item.ack {
        let _ = ack.send(Err(condition));
    }
}

fn drain(rx: &mut mpsc::Receiver<OutStanza>, condition: ErrorCondition) {
    while let Ok(item) = rx.try_recv() {
        fail(item, condition);
    }
}
