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
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use super::ConnError;
use super::backlog::{Backlog, Backoff};
use super::s2s_out;
use crate::metrics::{self, Protocol};
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
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The pool of outbound streams.
#[derive(Debug, Default)]
pub struct XmppPool {
    queues: DashMap<(String, String), mpsc::Sender<OutStanza>>,
    /// Pairs whose last connection attempt failed and that have not connected since (the
    /// spool takes their messages instead of making each sender wait for the peer).
    down: DashMap<(String, String), ()>,
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
        metrics::queue_depth(
            Protocol::Xmpp,
            remote,
            tx.max_capacity() - tx.capacity() + 1,
        );
        tx.try_send(stanza).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })
    }

    /// Whether the last connection attempt from `local` to `remote` failed and no stream
    /// has been established since.
    pub fn is_down(&self, local: &str, remote: &str) -> bool {
        self.down
            .contains_key(&(local.to_owned(), remote.to_owned()))
    }

    fn set_down(&self, local: &str, remote: &str, down: bool) {
        let key = (local.to_owned(), remote.to_owned());
        if down {
            self.down.insert(key, ());
        } else {
            self.down.remove(&key);
        }
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

/// Timing settings of one pool task, from `[xmpp]`.
#[derive(Debug, Clone, Copy)]
struct Timing {
    connect: Duration,
    delivery: Duration,
    keepalive: Duration,
    idle: Duration,
}

async fn run(gw: Arc<Gateway>, local: String, remote: String, mut rx: mpsc::Receiver<OutStanza>) {
    let cancel = gw.shutdown_token();
    let cfg = &gw.config().xmpp;
    let timing = Timing {
        connect: Duration::from_millis(cfg.connect_timeout_ms),
        delivery: Duration::from_millis(cfg.delivery_timeout_ms),
        keepalive: Duration::from_millis(cfg.keepalive_ms),
        idle: Duration::from_millis(cfg.idle_timeout_ms),
    };
    let mut backlog = Backlog::new(cfg.queue_depth);
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    loop {
        if backlog.is_empty() {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(s) => backlog.push(s, Instant::now() + timing.delivery),
                    None => return,
                },
                () = cancel.cancelled() => return,
            }
        }
        let Some(connector) = gw.tls().connector(&local).cloned() else {
            backlog.drain(|s| fail(s, ErrorCondition::InternalServerError));
            continue;
        };
        let route = gw.xmpp_route(&local, &remote).await;
        let connected = tokio::select! {
            r = s2s_out::connect(&route, gw.resolver(), &connector, gw.xmpp_limits(), timing.connect, gw.dialback_secret()) => r,
            () = cancel.cancelled() => Err(ConnError::Shutdown),
        };
        let next_hop = route
            .targets
            .first()
            .map(|t| format!("{}:{}", t.host, t.port))
            .unwrap_or_default();
        match connected {
            Ok(est) => {
                info!(peer.addr = %next_hop, "outbound s2s stream authenticated (SASL EXTERNAL)");
                backoff.reset();
                gw.xmpp_pool().set_down(&local, &remote, false);
                match established(est, &mut backlog, &mut rx, &gw, timing).await {
                    Ok(()) => {
                        return backlog.drain(|s| fail(s, ErrorCondition::ServiceUnavailable));
                    }
                    Err(e) if e.is_ordinary() => debug!(error = %e, "outbound s2s stream ended"),
                    Err(e) => warn!(error = %e, "outbound s2s stream failed"),
                }
            }
            Err(ConnError::Shutdown) => {
                return backlog.drain(|s| fail(s, ErrorCondition::ServiceUnavailable));
            }
            Err(e) => {
                gw.xmpp_pool().set_down(&local, &remote, true);
                let condition = match e {
                    ConnError::Timeout(_) => ErrorCondition::RemoteServerTimeout,
                    _ => ErrorCondition::RemoteServerNotFound,
                };
                let delay = backoff.next_delay();
                warn!(peer.addr = %next_hop, error = %e, waiting = backlog.len(), retry_ms = delay.as_millis() as u64, "outbound s2s connect failed");
                // A refused certificate or authentication will not fix itself before the
                // deadline: bounce now rather than make every sender wait for it.
                if e.is_permanent() {
                    backlog.drain(|s| fail(s, condition));
                }
                if !wait_to_retry(
                    &mut backlog,
                    &mut rx,
                    &cancel,
                    Instant::now() + delay,
                    timing,
                    condition,
                )
                .await
                {
                    return;
                }
            }
        }
    }
}

/// Between connection attempts: take new stanzas while there is room, and bounce each one
/// whose delivery deadline passes. Returns false when the pool must stop.
async fn wait_to_retry(
    backlog: &mut Backlog<OutStanza>,
    rx: &mut mpsc::Receiver<OutStanza>,
    cancel: &tokio_util::sync::CancellationToken,
    retry_at: Instant,
    timing: Timing,
    condition: ErrorCondition,
) -> bool {
    loop {
        let now = Instant::now();
        backlog.expire(now, |s| fail(s, condition));
        if now >= retry_at || backlog.is_empty() {
            return true;
        }
        let wake = backlog
            .earliest_deadline()
            .map_or(retry_at, |d| d.min(retry_at));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            item = rx.recv(), if backlog.has_room() => match item {
                Some(s) => backlog.push(s, Instant::now() + timing.delivery),
                None => return false,
            },
            () = cancel.cancelled() => {
                backlog.drain(|s| fail(s, ErrorCondition::ServiceUnavailable));
                return false;
            }
        }
    }
}

/// Write stanzas until the stream ends. `Ok(())` only on shutdown. A batch whose write fails
/// goes back to the backlog for the next connection.
async fn established(
    mut est: s2s_out::Established,
    backlog: &mut Backlog<OutStanza>,
    rx: &mut mpsc::Receiver<OutStanza>,
    gw: &Gateway,
    timing: Timing,
) -> Result<(), ConnError> {
    let cancel = gw.shutdown_token();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_write = Instant::now();
    let mut last_stanza = Instant::now();
    loop {
        backlog.expire(Instant::now(), |s| {
            fail(s, ErrorCondition::RemoteServerTimeout)
        });
        if !backlog.is_empty() {
            while batch.len() < MAX_BATCH {
                let Some((item, deadline)) = backlog.pop() else {
                    break;
                };
                est.stream.wbuf.extend_from_slice(&item.bytes);
                batch.push((item, deadline));
            }
            if let Err(e) = est.stream.flush().await {
                for (item, deadline) in batch.drain(..).rev() {
                    backlog.push_front(item, deadline);
                }
                return Err(e);
            }
            for (item, _) in batch.drain(..) {
                if let Some(ack) = item.ack {
                    let _ = ack.send(Ok(()));
                }
            }
            last_write = Instant::now();
            last_stanza = last_write;
            continue;
        }
        tokio::select! {
            item = rx.recv() => match item {
                Some(s) => {
                    backlog.push(s, Instant::now() + timing.delivery);
                    // Batch whatever else is already queued into one write.
                    while backlog.has_room() {
                        match rx.try_recv() {
                            Ok(s) => backlog.push(s, Instant::now() + timing.delivery),
                            Err(_) => break,
                        }
                    }
                }
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
            () = tokio::time::sleep_until(last_write + timing.keepalive) => {
                est.stream.wbuf.extend_from_slice(b" ");
                est.stream.flush().await?;
                last_write = Instant::now();
            }
            () = tokio::time::sleep_until(last_stanza + timing.idle) => {
                close(est).await?;
                return Err(ConnError::Idle);
            }
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
