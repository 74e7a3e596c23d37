//! The durable spool (DESIGN principle 4, RFC 3428 §7 for the 202 it allows): a SIP MESSAGE
//! for an XMPP peer that cannot take it now is written to the store before it is answered
//! `202 Accepted`, delivered when the peer is back, and bounced to its sender when its
//! deadline passes.
//!
//! * **When a message is spooled.** When the outbound pool knows its peer is down (its last
//!   connection attempt failed) or messages for the same pair are already spooled (order is
//!   kept). The first message to a peer never tried goes straight to the pool, and its sender
//!   gets the outcome (202, or the mapped error at the pool's delivery deadline).
//! * **Durable before acknowledged.** Writes go through one writer task that commits whatever
//!   has queued up in one store transaction (group commit) on a blocking thread; the SIP
//!   transaction answers 202 only once its write is committed.
//! * **Delivered** means confirmed by the peer: with `xmpp.confirm_delivery` (the default)
//!   the peer answered a ping written after the stanza (see [`crate::conn::xmpp_pool`]);
//!   without it, written and flushed to an authenticated s2s stream. The record's removal is
//!   handed to the writer as soon as the confirmation arrives.
//! * **Duplicates are bounded.** A pair's messages go out a window at a time (at most
//!   `xmpp.confirm_window`), and the next window is handed to the pool only once the removals
//!   of the last one are committed. A crash therefore sends again at most one window after the
//!   restart — what the peer had not confirmed, and what it confirmed in the instant before
//!   the removal's commit — each copy with the stanza id of the first, so the peer can drop
//!   it. Nothing is lost by it.
//! * **Retries** run per (local, remote) pair, a window of messages at a time, with
//!   exponential backoff (`[spool] retry_initial_ms` doubling to `retry_max_ms`).
//! * **Bounces.** At `[spool] deadline_ms` after acceptance (wall clock, so it holds across
//!   restarts) the message is removed and its sender, who already had 202, gets a SIP MESSAGE
//!   from the recipient's address saying it could not be delivered.
//! * **Bounded.** At most `[spool] max_messages`; a message that does not fit is refused with
//!   503 and counted (`parley_spool_events_total{event="refused_full"}`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

use super::Gateway;
use crate::bridge;
use crate::conn::backlog::Backoff;
use crate::conn::pair_key::{StrPair, pair};
use crate::conn::sip_conn::SipFinal;
use crate::conn::xmpp_pool::{OutStanza, Withdrawal};
use crate::metrics;
use crate::model::{Address, ChatMessage};
use crate::model::{DeliveryError, ErrorCondition};
use crate::store::{Spooled, ToSip};

#[path = "spool_writer.rs"]
mod store_writer;
use store_writer::{Op, writer};

/// Messages handed to the pool at once by one pair's retry task.
const WINDOW: usize = 128;
/// Operations waiting for the writer.
const WRITER_QUEUE: usize = 8192;

/// Why a message could not be spooled.
#[derive(Debug)]
pub enum SpoolError {
    /// `[spool] max_messages` reached.
    Full,
    /// The store failed or the writer has stopped.
    Store(String),
}

/// A spooled message in memory.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    from: String,
    to: String,
    bytes: Bytes,
    deadline_s: u64,
    queued_s: u64,
    to_sip: Option<ToSip>,
    /// Set when the entry is forgotten: a copy handed to the XMPP pool and not yet written
    /// is then dropped there.
    withdrawn: Withdrawal,
}

impl Entry {
    fn new(id: u64, m: Spooled) -> Entry {
        Entry {
            id,
            from: m.from,
            to: m.to,
            bytes: Bytes::from(m.bytes),
            deadline_s: m.deadline_s,
            queued_s: m.queued_s,
            to_sip: m.to_sip,
            withdrawn: Withdrawal::default(),
        }
    }
}

/// One pair's spooled messages, oldest first, and whether its retry task runs.
#[derive(Debug, Default)]
struct PairQueue {
    inner: Mutex<PairInner>,
}

#[derive(Debug, Default)]
struct PairInner {
    items: VecDeque<Entry>,
    running: bool,
}

impl PairQueue {
    fn lock(&self) -> MutexGuard<'_, PairInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add an entry; true when the caller must start the retry task.
    fn push(&self, e: Entry) -> bool {
        let mut q = self.lock();
        q.items.push_back(e);
        !std::mem::replace(&mut q.running, true)
    }

    fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Take every entry whose deadline is at or before `now_s`.
    fn take_expired(&self, now_s: u64) -> Vec<Entry> {
        let mut q = self.lock();
        let (gone, kept): (Vec<_>, Vec<_>) = q.items.drain(..).partition(|e| e.deadline_s <= now_s);
        q.items = kept.into();
        gone
    }

    /// The oldest `n` entries (copies: they stay until delivered).
    fn window(&self, n: usize) -> Vec<Entry> {
        self.lock().items.iter().take(n).cloned().collect()
    }

    fn remove(&self, id: u64) -> Option<Entry> {
        let mut q = self.lock();
        let i = q.items.iter().position(|e| e.id == id)?;
        q.items.remove(i)
    }

    fn earliest_deadline(&self) -> Option<u64> {
        self.lock().items.iter().map(|e| e.deadline_s).min()
    }

    fn oldest_queued(&self) -> Option<u64> {
        self.lock().items.iter().map(|e| e.queued_s).min()
    }

    /// Stop the retry task if nothing is left; false when something arrived meanwhile.
    fn stop_if_empty(&self) -> bool {
        let mut q = self.lock();
        if q.items.is_empty() {
            q.running = false;
        }
        !q.running
    }
}

/// The spool: the writer's queue, the pairs' queues and the totals for the gauges.
#[derive(Debug, Default)]
pub(crate) struct Spool {
    writer: OnceLock<mpsc::Sender<Op>>,
    pairs: DashMap<(String, String), Arc<PairQueue>>,
    held: AtomicUsize,
    bytes: AtomicU64,
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a message for a pair goes to the spool: only once the spool runs, and when the
/// pool knows the peer is down or earlier messages of the pair still wait (order is kept).
pub(crate) fn should_spool(started: bool, pool_down: bool, pending: usize) -> bool {
    started && (pool_down || pending > 0)
}

/// Whether a SIP final response means the request never reached the peer and may be tried
/// again: one parley generated itself (no To tag) because the connection could not be made,
/// timed out or its queue was full.
pub(crate) fn transient_local(f: &SipFinal) -> bool {
    f.to_tag.is_none() && matches!(f.code, 408 | 502 | 503)
}

/// The local and remote domains of a spooled SIP→XMPP message: its sender's and its
/// recipient's.
fn pair_of(m: &Entry) -> Option<(String, String)> {
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    Some((domain(&m.from)?, domain(&m.to)?))
}

fn address(bare: &str) -> Address<'static> {
    let (local, domain) = bare.rsplit_once('@').unwrap_or(("", bare));
    Address {
        local: Cow::Owned(local.to_owned()),
        domain: Cow::Owned(domain.to_owned()),
        resource: None,
    }
}

/// The notice a SIP sender gets when a message it had 202 for is bounced: from the
/// recipient, to the sender.
pub(crate) fn bounce_notice(from: &str, to: &str) -> ChatMessage<'static> {
    ChatMessage::plain(
        address(to),
        address(from),
        Cow::Owned(format!(
            "Your message to {to} could not be delivered: its server could not be reached before the delivery deadline."
        )),
    )
}

impl Spool {
    fn update_gauges(&self) {
        let oldest = (self.pairs.iter())
            .filter_map(|p| p.value().oldest_queued())
            .min()
            .map_or(Duration::ZERO, |q| {
                Duration::from_secs(unix_now().saturating_sub(q))
            });
        metrics::spool(
            self.held.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            oldest,
        );
    }

    fn queue(&self, pair: (String, String)) -> Arc<PairQueue> {
        self.pairs.entry(pair).or_default().clone()
    }

    fn pending(&self, local: &str, remote: &str) -> usize {
        self.pairs
            .get(&pair(local, remote) as &dyn StrPair)
            .map_or(0, |q| q.len())
    }

    /// Drop every message held from or to `address` (data-protection erasure; the caller
    /// erases their records in the store). A window already handed to the pool may still
    /// be delivered. Returns how many were dropped.
    pub(crate) fn forget(&self, address: &str) -> usize {
        let mut n = 0;
        for q in self.pairs.iter() {
            let gone: Vec<Entry> = {
                let mut inner = q.lock();
                let (gone, kept): (Vec<_>, Vec<_>) = inner
                    .items
                    .drain(..)
                    .partition(|e| e.from == address || e.to == address);
                inner.items = kept.into();
                gone
            };
            for e in &gone {
                e.withdrawn.store(true, Ordering::Relaxed);
                self.held.fetch_sub(1, Ordering::Relaxed);
                self.bytes
                    .fetch_sub(e.bytes.len() as u64, Ordering::Relaxed);
            }
            n += gone.len();
        }
        self.update_gauges();
        n
    }

    /// Stop counting entries that left the spool; their ids.
    fn uncount(&self, gone: &[Entry]) -> Vec<u64> {
        for e in gone {
            self.held.fetch_sub(1, Ordering::Relaxed);
            self.bytes
                .fetch_sub(e.bytes.len() as u64, Ordering::Relaxed);
        }
        gone.iter().map(|e| e.id).collect()
    }

    /// Remove the records of entries that left the spool (delivered or refused), waiting for
    /// room in the writer's queue; the receiver is told when the removal is committed.
    async fn release_all(&self, gone: &[Entry]) -> oneshot::Receiver<Result<(), String>> {
        let ids = self.uncount(gone);
        let (tx, rx) = oneshot::channel();
        if let Some(w) = self.writer.get() {
            // A stopped writer drops `tx`: the waiter sees it as not committed.
            let _ = w.send(Op::Remove(ids, Some(tx))).await;
        }
        rx
    }

    /// Forget an entry that left the spool (bounced): remove its record.
    fn release(&self, e: &Entry) {
        let ids = self.uncount(std::slice::from_ref(e));
        if let Some(w) = self.writer.get()
            && w.try_send(Op::Remove(ids, None)).is_err()
        {
            // Kept on disk: sent again after a restart, never lost.
            warn!(
                spool.id = e.id,
                "spool writer busy; record removal deferred to the next start"
            );
        }
    }
}

impl Gateway {
    /// Load the spool from the store and start its writer and retry tasks. Messages whose
    /// deadline passed while parley was down are bounced by their pair's first round.
    pub fn start_spool(self: &Arc<Self>) {
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        if self.spool.writer.set(tx).is_err() {
            return;
        }
        self.tracker
            .spawn(writer(self.store.clone(), rx, self.shutdown_token()));
        let stored = match self.store.spool() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "spooled messages could not be read; they stay in the store");
                Vec::new()
            }
        };
        if !stored.is_empty() {
            info!(messages = stored.len(), "spooled messages reloaded");
        }
        for (id, m) in stored {
            self.spool_hold(Entry::new(id, m));
        }
        let gw = self.clone();
        self.tracker.spawn(async move {
            let cancel = gw.shutdown_token();
            loop {
                gw.spool.update_gauges();
                // The SIP per-peer queue gauge is sampled on the same tick.
                gw.sip_out.sample_queue_depths();
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = cancel.cancelled() => return,
                }
            }
        });
    }

    /// Whether a SIP MESSAGE from `local` to the XMPP domain `remote` goes to the spool.
    pub(crate) fn spool_wanted(&self, local: &str, remote: &str) -> bool {
        should_spool(
            self.spool.writer.get().is_some(),
            self.xmpp_out.is_down(local, remote),
            self.spool.pending(local, remote),
        )
    }

    /// Spool a translated SIP MESSAGE (`bytes` is its XMPP stanza) and answer it: 202 once the
    /// record is committed, 503 when the spool is full or the store fails.
    pub(crate) async fn spool_sip_message(
        self: &Arc<Self>,
        from: String,
        to: String,
        bytes: Bytes,
    ) -> (u16, Cow<'static, str>) {
        match self.spool_put(from, to, bytes, None).await {
            Ok(()) => (202, Cow::Borrowed("Accepted")),
            Err(SpoolError::Full) => {
                metrics::spool_event("refused_full", 1);
                (503, Cow::Borrowed("Spool Full"))
            }
            Err(SpoolError::Store(e)) => {
                metrics::spool_event("store_failed", 1);
                warn!(error = %e, "message could not be spooled");
                (503, Cow::Borrowed("Spool Unavailable"))
            }
        }
    }

    async fn spool_put(
        self: &Arc<Self>,
        from: String,
        to: String,
        bytes: Bytes,
        to_sip: Option<ToSip>,
    ) -> Result<(), SpoolError> {
        let Some(writer) = self.spool.writer.get() else {
            return Err(SpoolError::Store("spool not started".into()));
        };
        let cfg = self.config().spool.clone();
        if self.spool.held.fetch_add(1, Ordering::Relaxed) >= cfg.max_messages {
            self.spool.held.fetch_sub(1, Ordering::Relaxed);
            return Err(SpoolError::Full);
        }
        let now = unix_now();
        let m = Spooled {
            from,
            to,
            bytes: bytes.to_vec(),
            deadline_s: now + cfg.deadline_ms.div_ceil(1000),
            attempts: 0,
            queued_s: now,
            to_sip,
        };
        let (tx, rx) = oneshot::channel();
        let sent = writer.send(Op::Put(m.clone(), tx)).await;
        let id = match sent {
            Ok(()) => rx.await.unwrap_or_else(|_| Err("writer stopped".into())),
            Err(_) => Err("writer stopped".into()),
        };
        let id = id.map_err(|e| {
            self.spool.held.fetch_sub(1, Ordering::Relaxed);
            SpoolError::Store(e)
        })?;
        metrics::spool_event("spooled", 1);
        // Counted already; `spool_hold` counts loaded entries.
        self.spool.held.fetch_sub(1, Ordering::Relaxed);
        self.spool_hold(Entry::new(id, m));
        Ok(())
    }

    /// Whether the spool runs (it starts with the listeners).
    pub(crate) fn spool_started(&self) -> bool {
        self.spool.writer.get().is_some()
    }

    /// Whether a message from the XMPP domain `local` to the SIP domain `remote` goes to the
    /// spool at once: earlier ones of the pair still wait there (order is kept).
    pub(crate) fn spool_pending(&self, local: &str, remote: &str) -> bool {
        should_spool(
            self.spool.writer.get().is_some(),
            false,
            self.spool.pending(local, remote),
        )
    }

    /// Spool an XMPP message for SIP (`request` is the translated MESSAGE). XMPP has no
    /// acknowledgement to hold back, so it is spooled when its peer cannot be reached; on
    /// failure the sender gets `resource-constraint` (full) or `internal-server-error`.
    pub(crate) async fn spool_xmpp_message(
        self: &Arc<Self>,
        from: String,
        to: String,
        request: Bytes,
        leg: ToSip,
    ) -> Result<(), ErrorCondition> {
        let reply = leg.clone();
        let result = self.spool_put(from, to, request, Some(leg)).await;
        let condition = match result {
            Ok(()) => return Ok(()),
            Err(SpoolError::Full) => {
                metrics::spool_event("refused_full", 1);
                ErrorCondition::ResourceConstraint
            }
            Err(SpoolError::Store(e)) => {
                metrics::spool_event("store_failed", 1);
                warn!(error = %e, "message could not be spooled");
                ErrorCondition::InternalServerError
            }
        };
        self.xmpp_error_reply(&reply, condition, None);
        Err(condition)
    }

    /// An error stanza back to the XMPP sender of a message towards SIP.
    fn xmpp_error_reply(
        self: &Arc<Self>,
        leg: &ToSip,
        condition: ErrorCondition,
        text: Option<String>,
    ) {
        metrics::error_sent(metrics::Protocol::Xmpp, condition);
        let domain = |a: &str| {
            a.split('/')
                .next()
                .and_then(|b| b.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
                .unwrap_or_default()
        };
        let mut out = BytesMut::with_capacity(256);
        let err = DeliveryError {
            condition,
            text: text.map(Cow::Owned),
        };
        bridge::xmpp::write_message_error(
            &mut out,
            &leg.sender,
            &leg.recipient,
            leg.stanza_id.as_deref(),
            &err,
        );
        // The reply goes from the recipient's (SIP) domain to the sender's (XMPP) one.
        let (local, remote) = (domain(&leg.recipient), domain(&leg.sender));
        self.queue_xmpp_reply(&local, &remote, out.freeze());
    }

    /// Keep an entry in memory and make sure its pair's retry task runs.
    fn spool_hold(self: &Arc<Self>, e: Entry) {
        let Some(pair) = pair_of(&e) else {
            warn!(spool.id = e.id, "spooled record without domains; dropped");
            return;
        };
        self.spool.held.fetch_add(1, Ordering::Relaxed);
        self.spool
            .bytes
            .fetch_add(e.bytes.len() as u64, Ordering::Relaxed);
        let q = self.spool.queue(pair.clone());
        if q.push(e) {
            let span = info_span!("spool", local.domain = %pair.0, peer.domain = %pair.1);
            self.tracker
                .spawn(retry(self.clone(), pair.0, pair.1, q).instrument(span));
        }
    }

    /// Tell the sender of a message that had 202 (SIP) or no error (XMPP) that it was not
    /// delivered before its deadline.
    fn spool_bounce(self: &Arc<Self>, e: &Entry) {
        metrics::spool_event("bounced", 1);
        if let Some(leg) = &e.to_sip {
            return self.xmpp_error_reply(leg, ErrorCondition::RemoteServerTimeout, None);
        }
        let notice = bounce_notice(&e.from, &e.to);
        let id = self.new_id();
        let branch = format!("z9hG4bK{id}");
        let mut out = BytesMut::with_capacity(512);
        let ctx = bridge::sip::RequestContext {
            transport: "TLS",
            sent_by: &self.sip_sent_by,
            branch: &branch,
            from_tag: &id,
            fallback_call_id: &id,
            cseq: 1,
        };
        bridge::sip::write_message(&mut out, &notice, &ctx);
        let (local, remote) = (notice.from.domain.as_ref(), notice.to.domain.as_ref());
        let done = self
            .sip_out
            .request(self, local, remote, out.freeze(), branch);
        self.tracker.spawn(
            async move {
                if let Ok(f) = done.await
                    && f.code >= 300
                {
                    warn!(code = f.code, "spool bounce notice refused by the SIP peer");
                }
            }
            .in_current_span(),
        );
    }
}

/// Messages of a pair handed out at once: at most the stanzas the XMPP pool lets wait for
/// confirmation on one stream, so that a crash sends at most that many again.
fn window_size(confirm_window: Option<usize>) -> usize {
    confirm_window.map_or(WINDOW, |w| w.clamp(1, WINDOW))
}

/// Deliver one pair's spooled messages: a window at a time through the pool, removing each
/// one as soon as it is delivered, and handing out the next window only once those removals
/// are committed; after a failure wait (backoff) and try again; bounce what expires.
async fn retry(gw: Arc<Gateway>, local: String, remote: String, q: Arc<PairQueue>) {
    let cfg = gw.config().spool.clone();
    let xmpp = &gw.config().xmpp;
    let size = window_size(xmpp.confirm_delivery.then_some(xmpp.confirm_window));
    let mut backoff = Backoff::new(
        Duration::from_millis(cfg.retry_initial_ms),
        Duration::from_millis(cfg.retry_max_ms),
    );
    let cancel = gw.shutdown_token();
    loop {
        for e in q.take_expired(unix_now()) {
            gw.spool_bounce(&e);
            gw.spool.release(&e);
        }
        let window = q.window(size);
        if window.is_empty() {
            if q.stop_if_empty() {
                return;
            }
            continue;
        }
        let pending = attempt(&gw, &local, &remote, &window);
        let mut failed = false;
        let mut delivered = 0;
        // Settled entries whose removal has not been handed to the writer yet, and the
        // removals handed over.
        let mut settled = Vec::new();
        let mut commits = Vec::new();
        for (e, p) in window.iter().zip(pending) {
            let result = match p {
                None => Attempt::Retry,
                Some(mut p) => match p.ready() {
                    Some(r) => r,
                    None => {
                        // Before waiting, what is settled goes to the writer: a confirmed
                        // message's removal is committed right after its confirmation.
                        if !settled.is_empty() {
                            commits.push(gw.spool.release_all(&std::mem::take(&mut settled)).await);
                        }
                        tokio::select! {
                            r = p.wait() => r,
                            () = cancel.cancelled() => return,
                        }
                    }
                },
            };
            // Forgotten meanwhile: already out of the spool, whatever became of it.
            if e.withdrawn.load(Ordering::Relaxed) {
                continue;
            }
            match result {
                Attempt::Delivered => delivered += 1,
                Attempt::Retry => {
                    failed = true;
                    continue;
                }
                Attempt::Refused(condition, text) => {
                    if let Some(leg) = &e.to_sip {
                        gw.xmpp_error_reply(leg, condition, text);
                    }
                }
            }
            settled.extend(q.remove(e.id));
        }
        if !settled.is_empty() {
            commits.push(gw.spool.release_all(&settled).await);
        }
        if delivered > 0 {
            metrics::spool_event("delivered", delivered);
        }
        // The next window goes out only once this one's removals are committed, so a crash
        // sends at most one window again.
        for c in commits {
            if let Ok(Err(e)) | Err(e) = c.await.map_err(|_| "writer stopped".to_owned()) {
                debug!(error = %e, "spool removals not committed; kept for the next start");
            }
        }
        if !failed {
            backoff.reset();
            continue;
        }
        let delay = backoff.next_delay();
        let until_deadline = q.earliest_deadline().map_or(delay, |d| {
            Duration::from_secs(d.saturating_sub(unix_now())).max(Duration::from_millis(10))
        });
        tokio::select! {
            () = tokio::time::sleep(delay.min(until_deadline)) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug)]
enum Attempt {
    /// Written to the s2s stream, or 2xx from the SIP peer.
    Delivered,
    /// Not reached the peer: try again later.
    Retry,
    /// The SIP peer refused it: tell the XMPP sender (condition and reason phrase).
    Refused(ErrorCondition, Option<String>),
}

/// Hand a window of one pair's entries (all towards the same side) to its pool; per entry,
/// in order, where its outcome will come (none: not queued, try again later).
fn attempt(gw: &Arc<Gateway>, local: &str, remote: &str, window: &[Entry]) -> Vec<Option<Either>> {
    let mut pending = Vec::with_capacity(window.len());
    for e in window {
        match &e.to_sip {
            Some(leg) => {
                let rx = gw
                    .sip_out
                    .request(gw, local, remote, e.bytes.clone(), leg.branch.clone());
                pending.push(Some(Either::Sip(rx)));
            }
            None => {
                let (tx, rx) = oneshot::channel();
                let stanza = OutStanza {
                    bytes: e.bytes.clone(),
                    ack: Some(tx),
                    withdrawn: Some(e.withdrawn.clone()),
                };
                let queued = gw.xmpp_out.send(gw, local, remote, stanza).is_ok();
                pending.push(queued.then_some(Either::Xmpp(rx)));
            }
        }
    }
    pending
}

/// Where one entry's outcome comes from.
enum Either {
    Xmpp(oneshot::Receiver<Result<(), ErrorCondition>>),
    Sip(oneshot::Receiver<SipFinal>),
}

impl Either {
    /// The outcome, if it has come already.
    fn ready(&mut self) -> Option<Attempt> {
        use oneshot::error::TryRecvError::Empty;
        match self {
            Either::Xmpp(rx) => match rx.try_recv() {
                Err(Empty) => None,
                r => Some(xmpp_outcome(r.ok())),
            },
            Either::Sip(rx) => match rx.try_recv() {
                Err(Empty) => None,
                r => Some(sip_outcome(r.ok())),
            },
        }
    }

    /// Wait for the outcome.
    async fn wait(self) -> Attempt {
        match self {
            Either::Xmpp(rx) => xmpp_outcome(rx.await.ok()),
            Either::Sip(rx) => sip_outcome(rx.await.ok()),
        }
    }
}

/// The pool confirmed the stanza, or not (`None`: the pool dropped it).
fn xmpp_outcome(r: Option<Result<(), ErrorCondition>>) -> Attempt {
    match r {
        Some(Ok(())) => Attempt::Delivered,
        _ => Attempt::Retry,
    }
}

/// The SIP final response (`None`: the transaction was dropped).
fn sip_outcome(f: Option<SipFinal>) -> Attempt {
    match f {
        Some(f) if (200..300).contains(&f.code) => Attempt::Delivered,
        Some(f) if !transient_local(&f) => {
            Attempt::Refused(bridge::sip::status_to_condition(f.code), Some(f.reason))
        }
        _ => Attempt::Retry,
    }
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
