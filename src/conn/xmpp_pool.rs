//! Outbound s2s streams, one per (local domain, remote domain), created on demand and reused.
//!
//! Each pair has one task that owns its connection and a bounded queue (depth from config).
//! A stanza is acknowledged once the peer confirmed it (below); when the peer
//! cannot be reached every queued stanza is acknowledged with an error, never dropped.
//!
//! Half-open detection (XEP-0199): a stream that carried nothing for `xmpp.ping_interval_ms`
//! gets an iq ping, and stanzas wait until the peer answers (a result or an error, which
//! arrive on the peer's stream to us). No answer within `xmpp.ping_timeout_ms`: the stream is
//! dead, it is dropped, and what waits goes out on a new one (or bounces at its deadline).
//!
//! At-least-once delivery (`xmpp.confirm_delivery`, on by default): a written stanza is only
//! acknowledged once the answer to a ping written after it arrives, since a peer handles a
//! stream's stanzas in order. Stanzas written to a stream that dies first (peer killed, path
//! half-open) are sent again on the next stream, so the peer may see one twice. At most
//! `xmpp.confirm_window` stanzas per stream wait for confirmation; beyond, writing waits and
//! the queue fills. XEP-0198 acks would do the same but are not used: ejabberd offers stream
//! management to clients only, and Prosody only with `mod_smacks`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use super::ConnError;
use super::backlog::{Backlog, Backoff};
use super::pair_key::{StrPair, pair};
use super::s2s_out;
use crate::metrics::{self, Protocol, S2sFailure};
use crate::model::ErrorCondition;
use crate::routing::Gateway;
use crate::xmpp::Frame;
use crate::xmpp::encode::{self, IqOut, IqPayloadOut};
use crate::xmpp::stanza::IqType;

/// How a queued stanza ended: written to the stream, or failed with a condition.
pub type Ack = oneshot::Sender<Result<(), ErrorCondition>>;

/// Set by the sender to take a queued stanza back (a spooled message whose user was
/// forgotten): the pool drops it unless it is written already.
pub type Withdrawal = Arc<AtomicBool>;

/// A stanza queued for a peer.
#[derive(Debug)]
pub struct OutStanza {
    /// Serialized stanza.
    pub bytes: Bytes,
    /// Told when the stanza was written or could not be.
    pub ack: Option<Ack>,
    /// Whether its sender may take it back, and has.
    pub withdrawn: Option<Withdrawal>,
}

impl OutStanza {
    /// A stanza nobody takes back.
    pub fn new(bytes: Bytes, ack: Option<Ack>) -> OutStanza {
        OutStanza {
            bytes,
            ack,
            withdrawn: None,
        }
    }

    fn is_withdrawn(&self) -> bool {
        self.withdrawn
            .as_ref()
            .is_some_and(|w| w.load(Ordering::Relaxed))
    }
}

/// Why a stanza was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The peer's queue is full (and stayed full for as long as the sender could wait):
    /// answer 503 / resource-constraint.
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
    queues: DashMap<(String, String), Pair>,
    /// Pairs whose last connection attempt failed and that have not connected since (the
    /// spool takes their messages instead of making each sender wait for the peer).
    down: DashMap<(String, String), ()>,
    /// Outstanding pings by id: the peer domain that must answer, and whom to tell.
    pings: DashMap<String, (String, oneshot::Sender<()>)>,
}

/// One (local, remote) pair: its channel and how many of its stanzas are not settled yet
/// (in the channel, waiting, or being written).
#[derive(Debug, Clone)]
struct Pair {
    tx: mpsc::Sender<OutStanza>,
    depth: Arc<Depth>,
}

/// Unsettled stanzas of one pair, mirrored in the per-peer queue gauge.
#[derive(Debug)]
struct Depth {
    /// The peer's gauge, looked up once: setting it is then a store, not a registry lookup.
    gauge: ::metrics::Gauge,
    n: AtomicUsize,
}

impl Depth {
    fn add(&self) {
        let n = self.n.fetch_add(1, Ordering::Relaxed) + 1;
        self.gauge.set(n as f64);
    }

    fn sub(&self) {
        let n = self.n.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        self.gauge.set(n as f64);
    }

    /// Tell the sender how its stanza ended; it leaves the queue.
    fn settle(&self, item: OutStanza, outcome: Result<(), ErrorCondition>) {
        if let Some(ack) = item.ack {
            let _ = ack.send(outcome);
        }
        self.sub();
    }
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
        let queue = self.pair_queue(gw, local, remote);
        queue.depth.add();
        queue.tx.try_send(stanza).map_err(|e| {
            queue.depth.sub();
            match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            }
        })
    }

    /// [`XmppPool::send`], but when the pair's queue is full the caller waits, at most `max`,
    /// for room (in turn with other waiters) before it hears `Full`.
    pub async fn send_waiting(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        stanza: OutStanza,
        max: Duration,
    ) -> Result<(), QueueError> {
        let queue = self.pair_queue(gw, local, remote);
        queue.depth.add();
        let stanza = match queue.tx.try_send(stanza) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(s)) => s,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                queue.depth.sub();
                return Err(QueueError::Closed);
            }
        };
        metrics::backpressure(Protocol::Xmpp);
        queue.tx.send_timeout(stanza, max).await.map_err(|e| {
            queue.depth.sub();
            match e {
                mpsc::error::SendTimeoutError::Timeout(_) => QueueError::Full,
                mpsc::error::SendTimeoutError::Closed(_) => QueueError::Closed,
            }
        })
    }

    /// The queue of a pair, its task started if it had none.
    fn pair_queue(&self, gw: &Arc<Gateway>, local: &str, remote: &str) -> Pair {
        let existing = self
            .queues
            .get(&pair(local, remote) as &dyn StrPair)
            .map(|p| p.clone());
        existing.unwrap_or_else(|| self.start_pair(gw, local, remote))
    }

    /// The queue of a pair that had none (or another sender's, should one have raced here),
    /// its task started.
    fn start_pair(&self, gw: &Arc<Gateway>, local: &str, remote: &str) -> Pair {
        self.queues
            .entry((local.to_owned(), remote.to_owned()))
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(gw.config().xmpp.queue_depth);
                let depth = Arc::new(Depth {
                    gauge: metrics::queue_gauge(Protocol::Xmpp, remote),
                    n: AtomicUsize::new(0),
                });
                let span = info_span!("s2s_out", local.domain = %local, peer.domain = %remote);
                gw.tracker().spawn(
                    run(
                        gw.clone(),
                        local.to_owned(),
                        remote.to_owned(),
                        rx,
                        depth.clone(),
                    )
                    .instrument(span),
                );
                Pair { tx, depth }
            })
            .clone()
    }

    /// Whether the last connection attempt from `local` to `remote` failed and no stream
    /// has been established since.
    pub fn is_down(&self, local: &str, remote: &str) -> bool {
        self.down.contains_key(&pair(local, remote) as &dyn StrPair)
    }

    fn set_down(&self, local: &str, remote: &str, down: bool) {
        let key = (local.to_owned(), remote.to_owned());
        if down {
            self.down.insert(key, ());
        } else {
            self.down.remove(&key);
        }
    }

    /// An iq result or error with `id` from `from_domain` arrived: when it answers one of our
    /// pings, the waiting stream learns its peer is alive and true is returned (the iq is
    /// consumed).
    pub fn pong(&self, id: &str, from_domain: &str) -> bool {
        let ours = self
            .pings
            .remove_if(id, |_, (peer, _)| peer.eq_ignore_ascii_case(from_domain));
        match ours {
            Some((_, (_, tell))) => {
                let _ = tell.send(());
                true
            }
            None => false,
        }
    }

    fn expect_pong(&self, id: &str, peer: &str) -> oneshot::Receiver<()> {
        let (tell, answered) = oneshot::channel();
        self.pings.insert(id.to_owned(), (peer.to_owned(), tell));
        answered
    }

    /// Stanzas waiting per peer pair (for metrics).
    pub fn queue_depths(&self) -> Vec<((String, String), usize)> {
        self.queues
            .iter()
            .map(|e| (e.key().clone(), e.value().depth.n.load(Ordering::Relaxed)))
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
    /// XEP-0199 ping after this much silence; `None` when off.
    ping_interval: Option<Duration>,
    ping_timeout: Duration,
    /// Most stanzas written and not yet confirmed per stream; `None`: a stanza is delivered
    /// once written.
    confirm_window: Option<usize>,
}

async fn run(
    gw: Arc<Gateway>,
    local: String,
    remote: String,
    mut rx: mpsc::Receiver<OutStanza>,
    depth: Arc<Depth>,
) {
    let cancel = gw.shutdown_token();
    let cfg = &gw.config().xmpp;
    let timing = Timing {
        connect: Duration::from_millis(cfg.connect_timeout_ms),
        delivery: Duration::from_millis(cfg.delivery_timeout_ms),
        keepalive: Duration::from_millis(cfg.keepalive_ms),
        idle: Duration::from_millis(cfg.idle_timeout_ms),
        ping_interval: (cfg.ping_interval_ms > 0)
            .then(|| Duration::from_millis(cfg.ping_interval_ms)),
        ping_timeout: Duration::from_millis(cfg.ping_timeout_ms),
        confirm_window: cfg.confirm_delivery.then_some(cfg.confirm_window.max(1)),
    };
    let d = &*depth;
    let mut backlog = Backlog::new(cfg.queue_depth);
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    // Written to the current stream, not yet confirmed by the peer.
    let mut unconfirmed = Unconfirmed::default();
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
        let tls = gw.tls();
        let Some(connector) = tls.connector(&local).cloned() else {
            backlog.drain(|s| d.settle(s, Err(ErrorCondition::InternalServerError)));
            continue;
        };
        let route = gw.xmpp_route(&local, &remote).await;
        let connected = tokio::select! {
            r = s2s_out::connect(&route, gw.resolver(), &connector, tls.xmpp_peer_anchors(&remote.to_ascii_lowercase()), gw.xmpp_limits(), timing.connect, gw.dialback_secret()) => r,
            () = cancel.cancelled() => Err(ConnError::Shutdown),
        };
        let next_hop = route
            .targets
            .first()
            .map(|t| format!("{}:{}", t.host, t.port))
            .unwrap_or_default();
        match connected {
            Ok(est) => {
                let method = est.method;
                info!(peer.addr = %next_hop, method = method.as_str(), "outbound s2s stream authenticated");
                metrics::s2s_auth(&remote, false, method, true);
                backoff.reset();
                gw.xmpp_pool().set_down(&local, &remote, false);
                let _counted = metrics::connection(Protocol::Xmpp, false, &remote);
                let link = Link {
                    gw: &gw,
                    local: &local,
                    remote: &remote,
                    depth: d,
                };
                let ended =
                    established(est, &mut backlog, &mut unconfirmed, &mut rx, &link, timing).await;
                // Whatever the dead stream did not confirm goes out again, first, on the next.
                let resent = unconfirmed.requeue(&mut backlog);
                if resent > 0 && ended.is_err() {
                    metrics::federation_resent(&remote, resent);
                    info!(
                        resent,
                        "unconfirmed stanzas will be sent again on a new stream"
                    );
                }
                match ended {
                    Ok(()) => {
                        return backlog
                            .drain(|s| d.settle(s, Err(ErrorCondition::ServiceUnavailable)));
                    }
                    Err(e) if e.is_ordinary() => debug!(error = %e, "outbound s2s stream ended"),
                    Err(e) => {
                        metrics::s2s_failure(&remote, false, failure_reason(&e));
                        warn!(error = %e, "outbound s2s stream failed");
                    }
                }
            }
            Err(ConnError::Shutdown) => {
                return backlog.drain(|s| d.settle(s, Err(ErrorCondition::ServiceUnavailable)));
            }
            Err(e) => {
                gw.xmpp_pool().set_down(&local, &remote, true);
                let condition = match e {
                    ConnError::Timeout(_) => ErrorCondition::RemoteServerTimeout,
                    _ => ErrorCondition::RemoteServerNotFound,
                };
                metrics::s2s_failure(&remote, false, failure_reason(&e));
                // A refused certificate or authentication will not fix itself before the
                // deadline: bounce now rather than make every sender wait for it.
                if e.is_permanent() {
                    backlog.drain(|s| d.settle(s, Err(condition)));
                }
                let now = Instant::now();
                let retry_at = backlog.retry_at(now, backoff.next_delay(), INITIAL_BACKOFF);
                let retry_ms = (retry_at - now).as_millis() as u64;
                warn!(peer.addr = %next_hop, error = %e, waiting = backlog.len(), retry_ms, "outbound s2s connect failed");
                if !wait_to_retry(
                    &mut backlog,
                    &mut rx,
                    d,
                    &cancel,
                    retry_at,
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
    d: &Depth,
    cancel: &tokio_util::sync::CancellationToken,
    retry_at: Instant,
    timing: Timing,
    condition: ErrorCondition,
) -> bool {
    loop {
        let now = Instant::now();
        backlog.expire(now, |s| d.settle(s, Err(condition)));
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
                backlog.drain(|s| d.settle(s, Err(ErrorCondition::ServiceUnavailable)));
                return false;
            }
        }
    }
}

/// The pair an established stream serves.
struct Link<'a> {
    gw: &'a Gateway,
    local: &'a str,
    remote: &'a str,
    depth: &'a Depth,
}

/// A ping waiting for its answer.
struct Ping {
    id: String,
    answered: oneshot::Receiver<()>,
    deadline: Instant,
    /// How many of the oldest unconfirmed stanzas were written before it: its answer
    /// confirms them (the peer handles a stream's stanzas in order).
    covers: usize,
}

/// Stanzas written to the current stream and not yet confirmed, oldest first, with their
/// delivery deadlines.
#[derive(Debug, Default)]
struct Unconfirmed {
    items: VecDeque<(OutStanza, Instant)>,
}

impl Unconfirmed {
    /// Settle the `n` oldest as delivered.
    fn confirm(&mut self, n: usize, d: &Depth) {
        for (item, _) in self.items.drain(..n.min(self.items.len())) {
            d.settle(item, Ok(()));
        }
    }

    /// Put everything back at the front of the backlog, in order; returns how many.
    fn requeue(&mut self, backlog: &mut Backlog<OutStanza>) -> usize {
        let n = self.items.len();
        for (item, deadline) in self.items.drain(..).rev() {
            backlog.push_front(item, deadline);
        }
        n
    }
}

/// Write stanzas until the stream ends. `Ok(())` only on shutdown. A batch whose write fails
/// goes back to the backlog for the next connection, and so does everything that waits for a
/// ping the peer never answers.
///
/// With confirmation on, every batch is followed by a ping (unless one is out already) and
/// its stanzas stay in `unconfirmed` until the answer comes; at most `confirm_window` may be
/// unconfirmed. When the stream ends, the caller sends what is still unconfirmed again.
async fn established(
    mut est: s2s_out::Established,
    backlog: &mut Backlog<OutStanza>,
    unconfirmed: &mut Unconfirmed,
    rx: &mut mpsc::Receiver<OutStanza>,
    link: &Link<'_>,
    timing: Timing,
) -> Result<(), ConnError> {
    let (gw, d) = (link.gw, link.depth);
    let cancel = gw.shutdown_token();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_write = Instant::now();
    let mut last_stanza = Instant::now();
    // Last sign of life: a stanza written or a ping answered.
    let mut last_alive = Instant::now();
    let mut ping: Option<Ping> = None;
    let far = Duration::from_secs(86_400 * 365);
    loop {
        backlog.expire(Instant::now(), |s| {
            d.settle(s, Err(ErrorCondition::RemoteServerTimeout))
        });
        // Without confirmation, stanzas wait while a ping is out (the stream may be
        // half-open); with it, they may go on up to the window, as they stay unconfirmed.
        let room = match timing.confirm_window {
            Some(window) => window.saturating_sub(unconfirmed.items.len()),
            None if ping.is_none() => MAX_BATCH,
            None => 0,
        };
        if !backlog.is_empty() && room > 0 {
            while batch.len() < MAX_BATCH.min(room) {
                let Some((item, deadline)) = backlog.pop() else {
                    break;
                };
                if item.is_withdrawn() {
                    d.settle(item, Err(ErrorCondition::ServiceUnavailable));
                    continue;
                }
                est.stream.wbuf.extend_from_slice(&item.bytes);
                batch.push((item, deadline));
            }
            let confirm_ping = (timing.confirm_window.is_some() && ping.is_none()).then(|| {
                new_ping(
                    &mut est,
                    link,
                    timing,
                    unconfirmed.items.len() + batch.len(),
                )
            });
            if let Err(e) = est.stream.flush().await {
                if let Some(p) = confirm_ping {
                    gw.xmpp_pool().pings.remove(&p.id);
                }
                for (item, deadline) in batch.drain(..).rev() {
                    backlog.push_front(item, deadline);
                }
                return Err(e);
            }
            if timing.confirm_window.is_some() {
                unconfirmed.items.extend(batch.drain(..));
                ping = ping.or(confirm_ping);
            } else {
                for (item, _) in batch.drain(..) {
                    d.settle(item, Ok(()));
                }
                last_alive = Instant::now();
            }
            last_write = Instant::now();
            last_stanza = last_write;
            continue;
        }
        let ping_at = match (timing.ping_interval, &ping) {
            (Some(every), None) => last_alive + every,
            _ => Instant::now() + far,
        };
        let ping_deadline = ping.as_ref().map_or(Instant::now() + far, |p| p.deadline);
        tokio::select! {
            item = rx.recv(), if backlog.has_room() => match item {
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
                    // Nothing is expected on our sending stream except a stream error (or,
                    // from a peer that answers on it, a ping result).
                    if let crate::xmpp::stanza::Element::Iq(iq) = est.stream.parse(&bytes)?
                        && matches!(iq.type_, Some(IqType::Result | IqType::Error))
                        && let Some(id) = iq.id.as_deref()
                    {
                        gw.xmpp_pool().pong(id, link.remote);
                    }
                    debug!(len = bytes.len(), "element on outbound stream");
                }
            },
            () = tokio::time::sleep_until(ping_at) => {
                let p = new_ping(&mut est, link, timing, unconfirmed.items.len());
                if let Err(e) = est.stream.flush().await {
                    gw.xmpp_pool().pings.remove(&p.id);
                    return Err(e);
                }
                last_write = Instant::now();
                debug!("idle outbound stream pinged (XEP-0199)");
                ping = Some(p);
            }
            answer = async { (&mut ping.as_mut().expect("guarded").answered).await }, if ping.is_some() => {
                let covers = ping.take().map_or(0, |p| p.covers);
                if answer.is_ok() {
                    debug!(confirmed = covers, "ping answered (XEP-0199)");
                    last_alive = Instant::now();
                    unconfirmed.confirm(covers, d);
                }
                // Stanzas written after that ping (or all, if it was lost) need a new one.
                if !unconfirmed.items.is_empty() {
                    let p = new_ping(&mut est, link, timing, unconfirmed.items.len());
                    if let Err(e) = est.stream.flush().await {
                        gw.xmpp_pool().pings.remove(&p.id);
                        return Err(e);
                    }
                    last_write = Instant::now();
                    ping = Some(p);
                }
            }
            () = tokio::time::sleep_until(ping_deadline), if ping.is_some() => {
                if let Some(p) = ping.take() {
                    gw.xmpp_pool().pings.remove(&p.id);
                }
                warn!(waiting = backlog.len(), unconfirmed = unconfirmed.items.len(), "no answer to a ping: outbound s2s stream is half-open; reconnecting");
                return Err(ConnError::Timeout("ping answer (half-open stream)"));
            }
            () = tokio::time::sleep_until(last_write + timing.keepalive) => {
                est.stream.wbuf.extend_from_slice(b" ");
                est.stream.flush().await?;
                last_write = Instant::now();
            }
            () = tokio::time::sleep_until(last_stanza + timing.idle), if ping.is_none() => {
                close(est).await?;
                return Err(ConnError::Idle);
            }
            () = cancel.cancelled() => {
                if let Some(p) = ping.take() {
                    gw.xmpp_pool().pings.remove(&p.id);
                }
                return close(est).await;
            }
        }
    }
}

/// Append a ping to the stream's output (the caller flushes) and register its id; its answer
/// confirms the `covers` oldest unconfirmed stanzas.
fn new_ping(
    est: &mut s2s_out::Established,
    link: &Link<'_>,
    timing: Timing,
    covers: usize,
) -> Ping {
    let id = link.gw.new_id();
    let answered = link.gw.xmpp_pool().expect_pong(&id, link.remote);
    write_ping(&mut est.stream.wbuf, link.local, link.remote, &id);
    Ping {
        id,
        answered,
        deadline: Instant::now() + timing.ping_timeout,
        covers,
    }
}

/// An XEP-0199 ping from our domain to the peer's.
fn write_ping(out: &mut bytes::BytesMut, local: &str, remote: &str, id: &str) {
    encode::write_iq(
        out,
        &IqOut {
            from: local,
            to: remote,
            id,
            type_: IqType::Get,
            payload: IqPayloadOut::Raw("<ping xmlns='urn:xmpp:ping'/>"),
            error: None,
        },
    );
}

/// The metric reason for an s2s connection that failed or died.
pub(crate) fn failure_reason(e: &ConnError) -> S2sFailure {
    use crate::auth::AuthError;
    match e {
        ConnError::Timeout(what) if what.starts_with("ping") => S2sFailure::PingTimeout,
        ConnError::Timeout(_) => S2sFailure::Timeout,
        ConnError::Auth(AuthError::UntrustedIssuer) => S2sFailure::UntrustedIssuer,
        ConnError::Auth(AuthError::NameMismatch) => S2sFailure::NameMismatch,
        ConnError::Auth(_) | ConnError::SaslRefused(_) => S2sFailure::AuthRefused,
        ConnError::Io(io) if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => {
            S2sFailure::Tls
        }
        ConnError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            S2sFailure::Connect
        }
        ConnError::UnknownDomain(_) | ConnError::NoService(_) => S2sFailure::Connect,
        ConnError::Io(_) | ConnError::Closed | ConnError::Idle | ConnError::Shutdown => {
            S2sFailure::Closed
        }
        ConnError::Xmpp(_)
        | ConnError::Sip(_)
        | ConnError::Unexpected { .. }
        | ConnError::PeerStreamError(_) => S2sFailure::Protocol,
    }
}

async fn close(mut est: s2s_out::Established) -> Result<(), ConnError> {
    encode::write_stream_close(&mut est.stream.wbuf);
    est.stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_pinged_domain_can_answer_a_ping_and_only_once() {
        let pool = XmppPool::default();
        let answered = pool.expect_pong("p1", "xmpp.test");
        assert!(!pool.pong("p1", "evil.test"), "another domain's answer");
        assert!(!pool.pong("p2", "xmpp.test"), "an id we never sent");
        assert!(pool.pong("p1", "XMPP.test"));
        assert_eq!(answered.await, Ok(()));
        assert!(!pool.pong("p1", "xmpp.test"), "answered already");
        assert!(pool.pings.is_empty());
    }
}
