//! Applying [`crate::policy`] to a message about to cross: gather the pair's state from the
//! in-memory [`ContactBook`] and the token buckets, decide, and record what an allowed
//! message changes (buckets, the stranger's count, the sender's acceptance of the recipient).
//!
//! The decision never touches the store. Contact changes are committed by one writer task
//! ([`Gateway::start_contacts`]) every [`COMMIT_EVERY`], all changed keys in one transaction.
//! What a crash (kill -9) can lose is what changed since the last commit: a few stranger
//! counters (the stranger gets those messages again), activity refreshes (the pair looks up
//! to [`COMMIT_EVERY`] older) and acceptances by writing (the next message accepts again).
//! Changes an operator or a user makes on purpose — blocks, `forget` — are committed before
//! they are answered ([`Gateway::flush_contacts`]).
//!
//! A periodic sweeper retires pairs unused for `[policy] retire_after` and removes them
//! `retire_grace` later (see [`ContactBook::sweep`]). Pairs the bound on kept pairs
//! removes (`max_contact_pairs`) have their live presence ended at once by the evictor
//! task, which the contact book wakes; the message that made room never waits for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::Gateway;
use super::presence_end::{End, Hit};
use crate::config::Side;
use crate::metrics;
use crate::model::ChatMessage;
use crate::policy::{Decision, PolicyInput, PolicyState, Refusal};
use crate::store::{ContactBook, StoreError, Sweep, bare, into_bare};

/// How often an accepted pair's last activity is written again, at most (less when
/// `retire_after` is short).
const ACTIVITY_GRANULARITY_MS: u64 = 3600 * 1000;
/// How often changed contact state is committed.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// Most keys committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Requests waiting for the contact writer.
const WRITER_QUEUE: usize = 64;

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .try_into()
        .unwrap_or(u64::MAX)
}

/// A request to the contact writer.
#[derive(Debug)]
pub(crate) enum ContactCmd {
    /// Commit now and answer when done.
    Flush(oneshot::Sender<Result<(), String>>),
    /// Commit, then erase everything the store holds about an address.
    Forget(String, oneshot::Sender<Result<usize, String>>),
}

impl Gateway {
    /// Decide whether `msg`, from a user on `from_side`, may cross; when it may, record its
    /// effects. The caller answers a refusal on the sender's protocol and audits it.
    pub(crate) fn police(&self, msg: &ChatMessage<'_>, from_side: Side) -> Result<(), Refusal> {
        let (from, to) = (into_bare(msg.from.bare()), into_bare(msg.to.bare()));
        let bytes = msg.body.len() + msg.rich.as_ref().map_or(0, |r| r.len());
        match self.decide(&from, &to, &msg.from.domain, from_side, bytes) {
            Decision::Refuse(r) => Err(r),
            Decision::Allow {
                count_unaccepted, ..
            } => {
                let now = now_ms();
                if count_unaccepted {
                    self.contacts.count_unaccepted(&from, &to, now);
                } else {
                    // An accepted pair in use: keep its activity fresh.
                    self.contacts
                        .touch(&to, &from, now, self.activity_granularity());
                }
                // Writing to someone accepts their replies (and refreshes the pair's activity).
                (self.contacts).accept(&from, &to, now, self.activity_granularity());
                let evicted = self.contacts.count_evicted();
                if evicted > 0 {
                    metrics::contacts_retired("evicted", evicted);
                }
                Ok(())
            }
        }
    }

    /// The policy decision for one event from `from` to `to` (bare, lower-case addresses),
    /// from the in-memory contact state; the rate buckets are charged when it allows.
    pub(crate) fn decide(
        &self,
        from: &str,
        to: &str,
        from_domain: &str,
        from_side: Side,
        bytes: usize,
    ) -> Decision {
        let input = PolicyInput {
            from,
            from_side,
            to,
            bytes,
            recipients: 1,
        };
        let state_pair = self.contacts.state(from, to);
        let mono_ms = self.mono_ms();
        let policy = self.policy();
        // Entry locks: domain before sender, always, so two messages cannot deadlock.
        // A key is only copied for a bucket's first event.
        let lower = !from_domain.bytes().any(|b| b.is_ascii_uppercase());
        let mut domain = match lower.then(|| self.domain_buckets.get_mut(from_domain)) {
            Some(Some(bucket)) => bucket,
            _ => (self.domain_buckets)
                .entry(from_domain.to_ascii_lowercase())
                .or_default(),
        };
        let mut sender = match self.sender_buckets.get_mut(from) {
            Some(bucket) => bucket,
            None => self.sender_buckets.entry(from.to_owned()).or_default(),
        };
        let state = PolicyState {
            pair: state_pair,
            domain_bucket: *domain,
            sender_bucket: *sender,
            now_ms: mono_ms,
        };
        let d = policy.decide(&input, &state);
        if let Decision::Allow {
            domain_bucket,
            sender_bucket,
            ..
        } = d
        {
            *domain = domain_bucket;
            *sender = sender_bucket;
        }
        d
    }

    fn activity_granularity(&self) -> u64 {
        ACTIVITY_GRANULARITY_MS.min(self.config().policy.retire_after / 8)
    }

    /// The display name with the external label for a federated sender (DESIGN "Policy");
    /// `None` when marking is off.
    pub(crate) fn external_name(&self, name: Option<&str>, user: &str) -> Option<String> {
        self.policy().external_name(name, user)
    }

    /// `by` accepts `of`: `by` wrote to `of`, or approved `of`'s presence subscription. The
    /// presence code calls this on an approved subscription.
    pub fn note_accepted(&self, by: &str, of: &str) {
        let (by, of) = (bare(by), bare(of));
        self.contacts
            .accept(&by, &of, now_ms(), self.activity_granularity());
    }

    /// `by` approved `of`'s presence subscription: [`Gateway::note_accepted`], and the
    /// pair remembers the approval so that its retirement ends the subscription on the XMPP
    /// side even when no dialog is live then (see `presence_end`).
    pub fn note_approved(&self, by: &str, of: &str) {
        let (by, of) = (bare(by), bare(of));
        self.contacts
            .approve(&by, &of, now_ms(), self.activity_granularity());
    }

    /// The subscription of `of` to `by` ended and the XMPP side was told (the watcher
    /// unsubscribed, or the SIP presentity ended it): its retirement has nothing more to say.
    pub fn note_subscription_ended(&self, by: &str, of: &str) {
        self.contacts.end_approval(&bare(by), &bare(of));
    }

    /// `by` refused `of` on its own platform: a SIP 603/403 to a MESSAGE from `of`, a
    /// rejected SUBSCRIBE, an XMPP `unsubscribed`. `of` becomes a stranger to `by` with no
    /// messages left (until `by` writes to it or approves a subscription); unlike a block it
    /// does not stop `by` from writing to `of`.
    pub fn consent_refused(&self, by: &str, of: &str) {
        let (by, of) = (bare(by), bare(of));
        info!("consent revoked by the recipient's platform");
        self.contacts.revoke(&by, &of, now_ms());
    }

    /// The contact state in memory.
    pub fn contacts(&self) -> &Arc<ContactBook> {
        &self.contacts
    }

    /// Start the contact writer and the retirement sweeper.
    pub fn start_contacts(self: &Arc<Self>) {
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        if self.contact_writer.set(tx).is_err() {
            return;
        }
        self.contacts
            .set_max_pairs(self.config().policy.max_contact_pairs);
        self.contacts
            .set_max_blocks(self.config().policy.max_blocks);
        self.tracker.spawn(contact_writer(self.clone(), rx));
        self.tracker.spawn(sweeper(self.clone()));
        self.tracker.spawn(evictor(self.clone()));
    }

    async fn contact_request<T>(
        &self,
        cmd: impl FnOnce(oneshot::Sender<Result<T, String>>) -> ContactCmd,
    ) -> Result<T, String> {
        let Some(tx) = self.contact_writer.get() else {
            return Err("contact writer not started".into());
        };
        let (ack, done) = oneshot::channel();
        tx.send(cmd(ack))
            .await
            .map_err(|_| "contact writer stopped".to_owned())?;
        done.await
            .map_err(|_| "contact writer stopped".to_owned())?
    }

    /// Commit every contact change made so far; returns once it is durable.
    pub async fn flush_contacts(&self) -> Result<(), String> {
        self.contact_request(ContactCmd::Flush).await
    }

    /// Erase everything parley stores about `address` (data-protection request): contact
    /// state in memory and in the store, stored subscriptions, spooled messages in memory
    /// and in the store; live presence dialogs with the address are ended on both sides
    /// (`presence_end`). Returns how many records were erased.
    pub async fn forget_address(self: &Arc<Self>, address: &str) -> Result<usize, String> {
        let address = bare(address);
        let subscribed = self.contacts.subscribed_involving(&address);
        self.end_contacts(&Hit::Address(&address), &subscribed, End::Forgotten);
        let in_memory = self.contacts.forget(&address);
        // Spooled messages: dropped from memory here, their records erased with the rest.
        self.spool.forget(&address);
        let stored = self
            .contact_request(|ack| ContactCmd::Forget(address, ack))
            .await?;
        Ok(in_memory + stored)
    }

    /// `user` blocks `sender` (or lifts the block), committed before it returns; returns
    /// whether anything changed. A new block beyond `[policy] max_blocks` is refused
    /// (logged and counted); no block is dropped to make room for it.
    pub async fn set_block(&self, user: &str, sender: &str, blocked: bool) -> Result<bool, String> {
        self.contacts
            .set_max_blocks(self.config().policy.max_blocks);
        let changed = match self
            .contacts
            .set_blocked(&bare(user), &bare(sender), blocked)
        {
            Ok(changed) => changed,
            Err(e @ StoreError::Full { max, .. }) => {
                metrics::contact_block_refused();
                warn!(
                    max_blocks = max,
                    "block refused: the bound on blocks is reached"
                );
                return Err(e.to_string());
            }
            Err(e) => return Err(e.to_string()),
        };
        self.flush_contacts().await?;
        Ok(changed)
    }

    /// Commit what changed (in batches of [`MAX_BATCH`]) on the blocking pool.
    async fn commit_contacts(&self) -> Result<(), String> {
        loop {
            let writes = self.contacts.take_dirty(MAX_BATCH);
            if writes.is_empty() {
                return Ok(());
            }
            let store = self.store.clone();
            let (writes, r) = tokio::task::spawn_blocking(move || {
                let r = store.apply_contacts(&writes);
                (writes, r)
            })
            .await
            .map_err(|e| e.to_string())?;
            if let Err(e) = r {
                self.contacts.redo(&writes);
                metrics::contact_commit_failed();
                warn!(error = %e, "contact state not committed; retrying at the next commit");
                return Err(e.to_string());
            }
        }
    }

    /// End what depends on the pairs the bound removed since the last call: their live
    /// presence, and the subscriptions they had approved on the XMPP side.
    pub(crate) fn end_evicted(self: &Arc<Self>) {
        let evicted = self.contacts.take_evicted();
        let counted = self.contacts.count_evicted();
        if counted > 0 {
            metrics::contacts_retired("evicted", counted);
        }
        if !evicted.is_empty() {
            self.end_retired(&evicted);
        }
    }

    /// The pairs of `s` lost their consent: presence between their ends stops (see
    /// `presence_end`).
    fn end_retired(self: &Arc<Self>, s: &Sweep) {
        let ended: Vec<(String, String)> = s.retired.iter().chain(&s.removed).cloned().collect();
        self.end_contacts(&Hit::pairs(&ended), &s.subscribed, End::Retired);
    }

    /// One retirement pass: deactivate and remove unused pairs, end their live presence
    /// (and that of pairs the bound removed since the last pass), update the gauges.
    pub(crate) fn sweep_contacts(self: &Arc<Self>) {
        let policy = &self.config().policy;
        self.contacts.set_max_pairs(policy.max_contact_pairs);
        self.contacts.set_max_blocks(policy.max_blocks);
        self.end_evicted();
        let s = self
            .contacts
            .sweep(now_ms(), policy.retire_after, policy.retire_grace);
        if !s.is_empty() {
            info!(
                retired = s.retired.len(),
                removed = s.removed.len(),
                "unused contacts retired"
            );
            metrics::contacts_retired("retired", s.retired.len() as u64);
            metrics::contacts_retired("removed", s.removed.len() as u64);
        }
        let (active, retired, blocks) = self.contacts.counts();
        metrics::contacts(active, retired, blocks);
        // Consent lapsed: presence stops with it (see `presence_end`); what was set up
        // again during the grace period without reactivating the pair ends at removal.
        self.end_retired(&s);
        self.retire_subscriptions(&s);
    }

    /// Stored subscriptions between two addresses whose contact pair was removed for lack
    /// of use are erased from the store (their live dialogs and roster entries were ended by
    /// [`Gateway::end_presence`] in the same sweep).
    pub(crate) fn retire_subscriptions(&self, s: &crate::store::Sweep) {
        if s.removed.is_empty() {
            return;
        }
        let store = self.store.clone();
        let removed = s.removed.clone();
        self.tracker.spawn_blocking(move || {
            for (a, b) in &removed {
                for (subscriber, contact) in [(a, b), (b, a)] {
                    if let Err(e) = store.remove_subscription(subscriber, contact) {
                        warn!(error = %e, "retired subscription not erased");
                    }
                }
            }
        });
    }
}

async fn contact_writer(gw: Arc<Gateway>, mut rx: mpsc::Receiver<ContactCmd>) {
    let cancel = gw.shutdown_token();
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // After the shutdown signal, messages in flight still change contacts while they drain:
    // keep committing until this is the last task (or the drain deadline ends the process).
    let mut draining = false;
    loop {
        let cmd = tokio::select! {
            _ = tick.tick() => None,
            c = rx.recv() => match c { Some(c) => Some(c), None => break },
            () = cancel.cancelled(), if !draining => {
                draining = true;
                None
            }
        };
        let committed = gw.commit_contacts().await;
        if draining && gw.tracker().len() <= 1 {
            if let Some(ContactCmd::Flush(ack)) = cmd {
                let _ = ack.send(committed);
            }
            break;
        }
        match cmd {
            None => {}
            Some(ContactCmd::Flush(ack)) => {
                let _ = ack.send(committed);
            }
            Some(ContactCmd::Forget(address, ack)) => {
                let result = match committed {
                    Err(e) => Err(e),
                    Ok(()) => {
                        let store = gw.store.clone();
                        tokio::task::spawn_blocking(move || store.forget(&address))
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|r| r.map_err(|e| e.to_string()))
                    }
                };
                let _ = ack.send(result);
            }
        }
    }
    // Shutdown: what changed since the last tick.
    let _ = gw.commit_contacts().await;
}

/// Ends the live presence of pairs the bound removed as soon as the contact book reports
/// them, rather than at the next retirement sweep (up to an hour later).
async fn evictor(gw: Arc<Gateway>) {
    let cancel = gw.shutdown_token();
    loop {
        tokio::select! {
            () = gw.contacts.wait_evicted() => {}
            () = cancel.cancelled() => return,
        }
        gw.end_evicted();
    }
}

async fn sweeper(gw: Arc<Gateway>) {
    let cancel = gw.shutdown_token();
    let mut next_contacts = tokio::time::Instant::now();
    loop {
        let every =
            Duration::from_millis((gw.config().policy.retire_after / 4).clamp(50, 3_600_000));
        next_contacts = next_contacts.min(tokio::time::Instant::now() + every);
        let wake = next_contacts.min(tokio::time::Instant::now() + BUCKET_SWEEP);
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = cancel.cancelled() => return,
        }
        gw.sweep_buckets();
        if tokio::time::Instant::now() >= next_contacts {
            gw.sweep_contacts();
            next_contacts = tokio::time::Instant::now() + every;
        }
    }
}

/// How often rate buckets that are full again are forgotten.
const BUCKET_SWEEP: Duration = Duration::from_secs(10);

impl Gateway {
    /// A rate bucket refilled to its burst says no more than a fresh one: forgotten, so the
    /// sender map holds only addresses that sent within one refill time, not every address
    /// that ever sent (a peer inventing senders would otherwise grow it without end).
    pub fn sweep_buckets(&self) {
        let (domain_rate, sender_rate) = self.policy().rates();
        let now = self.mono_ms();
        self.domain_buckets
            .retain(|_, b| !b.is_full(domain_rate, now));
        self.sender_buckets
            .retain(|_, b| !b.is_full(sender_rate, now));
    }

    /// Rate buckets held (domains, senders).
    pub fn bucket_counts(&self) -> (usize, usize) {
        (self.domain_buckets.len(), self.sender_buckets.len())
    }

    fn mono_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Whether a SIP final response from the recipient's side to parley's MESSAGE or SUBSCRIBE
/// means the recipient refuses the sender: 603 Decline (the user declined) and 403
/// Forbidden (a user's block list on most SIP platforms). Other failures say nothing about
/// the user's will.
pub(crate) fn refuses_consent(code: u16) -> bool {
    matches!(code, 403 | 603)
}

#[cfg(test)]
mod tests {
    use super::refuses_consent;

    #[test]
    fn only_decline_and_forbidden_revoke_consent() {
        assert!(refuses_consent(603) && refuses_consent(403));
        for c in [200, 202, 404, 408, 480, 486, 488, 500, 503] {
            assert!(!refuses_consent(c), "{c}");
        }
    }
}
