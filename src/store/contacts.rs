//! Contact state in memory (DESIGN "Policy"): consent, stranger counters, blocks and the last
//! activity of each directed pair, loaded from the [`Store`] at startup so that a policy
//! decision reads memory only. Every change marks its key dirty; a writer drains the dirty
//! keys and commits their current values in one transaction ([`ContactBook::take_dirty`],
//! [`Store::apply_contacts`]). Repeated changes to one key between two commits cost one
//! write, and the dirty set is bounded by the number of keys.
//!
//! Retirement: a pair not used for `retire_after` is deactivated (it counts as never seen:
//! no acceptance, no counter) and its record removed `grace` later; using it again in
//! between makes it active afresh. Blocks are the users' own choice and never retire.
//!
//! Bound: at most [`ContactBook::set_max_pairs`] pairs are kept. A new pair beyond it first
//! removes the oldest inactive ones — retired pairs before active ones, each by age — in a
//! batch of 1/64 of the bound, so the scan this takes is paid once per that many new pairs.
//! The removed pairs are kept (bounded) for the caller to end what depends on them, and
//! [`ContactBook::wait_evicted`] wakes it as soon as there are some.
//!
//! Blocks are bounded too ([`ContactBook::set_max_blocks`]): at the bound a new block is
//! refused ([`StoreError::Full`]) and none is ever dropped to make room — a block is a
//! user's deliberate choice, and lifting one silently would let through whom the user
//! stopped. Lifting a block is always possible.
//!
//! A pair whose `by` approved `of`'s presence subscription is marked
//! ([`PairRecord::subscribed`]): when the pair retires or is evicted, the caller tells the
//! XMPP side that the subscription ended even if no dialog is live any more.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use dashmap::DashMap;
use tokio::sync::Notify;

use super::{ContactWrite, PairRecord, PairState, Store, StoreError, key_involves, pair_key};

/// A key whose value changed since the last commit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Dirty {
    Pair(String, String),
    Block(String, String),
}

/// Consent, counters, blocks and activity of every contact pair.
#[derive(Debug, Default)]
pub struct ContactBook {
    /// `by\0of` → record.
    pairs: DashMap<String, PairRecord>,
    /// `by\0of`: `by` blocked `of`.
    blocks: DashMap<String, ()>,
    dirty: Mutex<HashSet<Dirty>>,
    /// Most pairs kept; 0 until set: no bound.
    max_pairs: AtomicUsize,
    /// Pairs removed by the bound and not yet taken ([`ContactBook::take_evicted`]), in
    /// [`Sweep::removed`] (and [`Sweep::subscribed`] for those that were active with an
    /// approved subscription).
    evicted: Mutex<Sweep>,
    /// How many pairs the bound removed and were not yet counted.
    evicted_uncounted: AtomicU64,
    /// Woken when pairs are added to `evicted`.
    evictions: Notify,
    /// Most blocks kept; 0 until set: no bound.
    max_blocks: AtomicUsize,
    /// Held while a block is added, so that the bound is exact.
    adding_block: Mutex<()>,
}

/// Pairs removed by the bound kept for the caller, at most (more are only counted).
const MAX_EVICTED_KEPT: usize = 4096;

/// What one retirement sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Pairs `(by, of)` deactivated now.
    pub retired: Vec<(String, String)>,
    /// Pairs `(by, of)` removed now (retired for longer than the grace period).
    pub removed: Vec<(String, String)>,
    /// Of the pairs above, those that were active and whose `by` had approved `of`'s
    /// presence subscription ([`PairRecord::subscribed`]).
    pub subscribed: Vec<(String, String)>,
}

impl Sweep {
    /// Whether nothing retired or was removed.
    pub fn is_empty(&self) -> bool {
        self.retired.is_empty() && self.removed.is_empty()
    }
}

impl ContactBook {
    /// Empty (nothing stored yet).
    pub fn new() -> ContactBook {
        ContactBook::default()
    }

    /// Everything `store` holds.
    pub fn load(store: &dyn Store) -> Result<ContactBook, StoreError> {
        let rows = store.contacts()?;
        let book = ContactBook::new();
        for (by, of, r) in rows.pairs {
            book.pairs.insert(pair_key(&by, &of), r);
        }
        for (by, of) in rows.blocks {
            book.blocks.insert(pair_key(&by, &of), ());
        }
        Ok(book)
    }

    fn dirty(&self) -> MutexGuard<'_, HashSet<Dirty>> {
        self.dirty.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mark(&self, d: Dirty) {
        self.dirty().insert(d);
    }

    /// Consent and blocks for a message from `sender` to `recipient`.
    pub fn state(&self, sender: &str, recipient: &str) -> PairState {
        let r = self
            .pairs
            .get(&pair_key(recipient, sender))
            .map(|r| *r)
            .filter(|r| r.retired_ms == 0)
            .unwrap_or_default();
        PairState {
            accepted: r.accepted,
            unaccepted: r.unaccepted,
            blocked: self.blocked(recipient, sender) || self.blocked(sender, recipient),
        }
    }

    /// Whether `by` blocked `of`.
    pub fn blocked(&self, by: &str, of: &str) -> bool {
        !self.blocks.is_empty() && self.blocks.contains_key(&pair_key(by, of))
    }

    /// Keep at most `max` pairs (at least 1).
    pub fn set_max_pairs(&self, max: usize) {
        self.max_pairs.store(max.max(1), Ordering::Relaxed);
    }

    /// Make room for one new pair when the bound is reached: remove the oldest inactive
    /// pairs, a batch of 1/64 of the bound (at least one).
    fn make_room(&self) {
        let max = self.max_pairs.load(Ordering::Relaxed);
        if max == 0 || self.pairs.len() < max {
            return;
        }
        // Retired pairs first (by when they retired), then active ones (by last use).
        let rank = |r: &PairRecord| {
            if r.retired_ms != 0 {
                (0u8, r.retired_ms)
            } else {
                (1u8, r.last_ms)
            }
        };
        let mut ranks: Vec<(u8, u64)> = self.pairs.iter().map(|e| rank(e.value())).collect();
        let over = ranks.len().saturating_sub(max) + 1;
        let batch = (max / 64).max(over).min(ranks.len());
        if batch == 0 {
            return;
        }
        let (_, cut, _) = ranks.select_nth_unstable(batch - 1);
        let cut = *cut;
        let below = ranks.iter().filter(|r| **r < cut).count();
        drop(ranks);
        // Below the cut all go; at the cut, as many as the batch still allows.
        let mut at_cut_left = batch.saturating_sub(below);
        let mut gone = Vec::with_capacity(batch.min(MAX_EVICTED_KEPT));
        let mut subscribed = Vec::new();
        let mut keys = Vec::new();
        self.pairs.retain(|k, r| {
            let rk = rank(r);
            let evict = rk < cut || (rk == cut && at_cut_left > 0);
            if evict {
                at_cut_left -= usize::from(rk == cut);
                if let Some((by, of)) = super::split_key(k) {
                    keys.push(Dirty::Pair(by.clone(), of.clone()));
                    if gone.len() < MAX_EVICTED_KEPT {
                        if r.subscribed && r.retired_ms == 0 {
                            subscribed.push((by.clone(), of.clone()));
                        }
                        gone.push((by, of));
                    }
                }
            }
            !evict
        });
        self.evicted_uncounted
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.dirty().extend(keys);
        if gone.is_empty() {
            return;
        }
        {
            let mut kept = self.evicted.lock().unwrap_or_else(|p| p.into_inner());
            let room = MAX_EVICTED_KEPT.saturating_sub(kept.removed.len());
            if room < gone.len() {
                // Only what is kept is ended: drop the approvals of pairs not kept.
                let dropped: HashSet<_> = gone.drain(room..).collect();
                subscribed.retain(|p| !dropped.contains(p));
            }
            kept.removed.extend(gone);
            kept.subscribed.extend(subscribed);
        }
        self.evictions.notify_one();
    }

    /// Returns once pairs were removed by the bound since the last
    /// [`ContactBook::take_evicted`] (at once when some wait already).
    pub async fn wait_evicted(&self) {
        self.evictions.notified().await;
    }

    /// How many pairs the bound removed since the last call.
    pub fn count_evicted(&self) -> u64 {
        if self.evicted_uncounted.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.evicted_uncounted.swap(0, Ordering::Relaxed)
    }

    /// The pairs the bound removed since the last call (at most [`MAX_EVICTED_KEPT`]), in
    /// [`Sweep::removed`] and, when they had an approved subscription, [`Sweep::subscribed`].
    pub fn take_evicted(&self) -> Sweep {
        std::mem::take(&mut *self.evicted.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Change the record of `(by, of)` with `f` (a retired record starts afresh); the key is
    /// marked dirty when `f` says the change must be written.
    fn update(&self, by: &str, of: &str, f: impl FnOnce(&mut PairRecord) -> bool) {
        let key = pair_key(by, of);
        if !self.pairs.contains_key(&key) {
            self.make_room();
        }
        let write = {
            let mut r = self.pairs.entry(key).or_default();
            if r.retired_ms != 0 {
                *r = PairRecord::default();
            }
            f(&mut r)
        };
        if write {
            self.mark(Dirty::Pair(by.to_owned(), of.to_owned()));
        }
    }

    /// One more message from a stranger `sender` to `recipient`; returns the new count.
    pub fn count_unaccepted(&self, sender: &str, recipient: &str, now_ms: u64) -> u32 {
        let mut n = 0;
        self.update(recipient, sender, |r| {
            r.unaccepted = r.unaccepted.saturating_add(1);
            r.last_ms = now_ms;
            n = r.unaccepted;
            true
        });
        n
    }

    /// `by` accepts `of` (wrote to it, approved its subscription). An accepted pair's
    /// activity is written again only when `granularity_ms` has passed since the last write.
    pub fn accept(&self, by: &str, of: &str, now_ms: u64, granularity_ms: u64) {
        self.accept_as(by, of, false, now_ms, granularity_ms);
    }

    /// `by` approved `of`'s presence subscription: [`ContactBook::accept`], and the pair
    /// is marked [`PairRecord::subscribed`] until it retires or `by` refuses `of`.
    pub fn approve(&self, by: &str, of: &str, now_ms: u64, granularity_ms: u64) {
        self.accept_as(by, of, true, now_ms, granularity_ms);
    }

    fn accept_as(&self, by: &str, of: &str, approve: bool, now_ms: u64, granularity_ms: u64) {
        self.update(by, of, |r| {
            let fresh = r.accepted && r.last_ms.saturating_add(granularity_ms) > now_ms;
            let subscribed = r.subscribed || approve;
            let changed = !fresh || subscribed != r.subscribed;
            if changed {
                *r = PairRecord {
                    subscribed,
                    ..PairRecord::accepted_at(if fresh { r.last_ms } else { now_ms })
                };
            }
            changed
        });
    }

    /// A message crossed between `by` and `of`: refresh the activity of an accepted, active
    /// pair (written again only past `granularity_ms`); anything else is left alone.
    pub fn touch(&self, by: &str, of: &str, now_ms: u64, granularity_ms: u64) {
        let write = match self.pairs.get_mut(&pair_key(by, of)) {
            Some(mut r)
                if r.accepted
                    && r.retired_ms == 0
                    && r.last_ms.saturating_add(granularity_ms) <= now_ms =>
            {
                r.last_ms = now_ms;
                true
            }
            _ => false,
        };
        if write {
            self.mark(Dirty::Pair(by.to_owned(), of.to_owned()));
        }
    }

    /// The subscription `by` approved for `of` ended (and the XMPP side was told): the
    /// pair is no longer [`PairRecord::subscribed`]; nothing else changes.
    pub fn end_approval(&self, by: &str, of: &str) {
        let write = match self.pairs.get_mut(&pair_key(by, of)) {
            Some(mut r) if r.subscribed => {
                r.subscribed = false;
                true
            }
            _ => false,
        };
        if write {
            self.mark(Dirty::Pair(by.to_owned(), of.to_owned()));
        }
    }

    /// `by` refused `of` on its own platform (declined a message, rejected or cancelled a
    /// subscription): `of` is a stranger again, with no messages left until `by` accepts it.
    pub fn revoke(&self, by: &str, of: &str, now_ms: u64) {
        self.update(by, of, |r| {
            let changed = r.accepted || r.unaccepted != u32::MAX || r.subscribed;
            *r = PairRecord {
                accepted: false,
                unaccepted: u32::MAX,
                last_ms: now_ms,
                retired_ms: 0,
                subscribed: false,
            };
            changed
        });
    }

    /// The record of `(by, of)`, retired or not.
    pub fn record(&self, by: &str, of: &str) -> Option<PairRecord> {
        self.pairs.get(&pair_key(by, of)).map(|r| *r)
    }

    /// Keep at most `max` blocks (at least 1). Blocks beyond it already kept (loaded, or
    /// the bound lowered) stay; new ones are refused until there is room.
    pub fn set_max_blocks(&self, max: usize) {
        self.max_blocks.store(max.max(1), Ordering::Relaxed);
    }

    /// `by` blocks `of` or lifts the block; returns whether anything changed. A new block
    /// at the bound is refused with [`StoreError::Full`] (one already set is no change).
    pub fn set_blocked(&self, by: &str, of: &str, blocked: bool) -> Result<bool, StoreError> {
        let k = pair_key(by, of);
        let changed = if blocked {
            let _adding = self.adding_block.lock().unwrap_or_else(|p| p.into_inner());
            let max = self.max_blocks.load(Ordering::Relaxed);
            if self.blocks.contains_key(&k) {
                false
            } else if max != 0 && self.blocks.len() >= max {
                return Err(StoreError::Full {
                    what: "blocks",
                    max,
                });
            } else {
                self.blocks.insert(k, ()).is_none()
            }
        } else {
            self.blocks.remove(&k).is_some()
        };
        if changed {
            self.mark(Dirty::Block(by.to_owned(), of.to_owned()));
        }
        Ok(changed)
    }

    /// Whom `by` blocked, sorted.
    pub fn blocks_by(&self, by: &str) -> Vec<String> {
        let prefix = format!("{by}\u{0}");
        let mut v: Vec<String> = (self.blocks.iter())
            .filter_map(|e| e.key().strip_prefix(&prefix).map(str::to_owned))
            .collect();
        v.sort();
        v
    }

    /// The pairs `(by, of)` involving `address` whose `by` approved `of`'s presence
    /// subscription, active ones only (a retired pair's subscription was ended when it
    /// retired).
    pub fn subscribed_involving(&self, address: &str) -> Vec<(String, String)> {
        (self.pairs.iter())
            .filter(|e| e.subscribed && e.retired_ms == 0 && key_involves(e.key(), address))
            .filter_map(|e| super::split_key(e.key()))
            .collect()
    }

    /// Drop every pair and block involving `address` from memory (the caller erases the
    /// store); returns how many there were.
    pub fn forget(&self, address: &str) -> usize {
        let mut gone = Vec::new();
        self.pairs.retain(|k, _| {
            let hit = key_involves(k, address);
            if hit && let Some((by, of)) = super::split_key(k) {
                gone.push(Dirty::Pair(by, of));
            }
            !hit
        });
        self.blocks.retain(|k, _| {
            let hit = key_involves(k, address);
            if hit && let Some((by, of)) = super::split_key(k) {
                gone.push(Dirty::Block(by, of));
            }
            !hit
        });
        let n = gone.len();
        self.dirty().extend(gone);
        n
    }

    /// Retire pairs unused for `retire_after_ms` and remove those retired for `grace_ms`.
    pub fn sweep(&self, now_ms: u64, retire_after_ms: u64, grace_ms: u64) -> Sweep {
        let mut out = Sweep::default();
        self.pairs.retain(|k, r| {
            let Some((by, of)) = super::split_key(k) else {
                return true;
            };
            if r.retired_ms == 0 {
                if now_ms.saturating_sub(r.last_ms) >= retire_after_ms {
                    r.retired_ms = now_ms.max(1);
                    if r.subscribed {
                        out.subscribed.push((by.clone(), of.clone()));
                    }
                    out.retired.push((by, of));
                }
                true
            } else if now_ms.saturating_sub(r.retired_ms) >= grace_ms {
                out.removed.push((by, of));
                false
            } else {
                true
            }
        });
        let mut dirty = self.dirty();
        for (by, of) in out.retired.iter().chain(&out.removed) {
            dirty.insert(Dirty::Pair(by.clone(), of.clone()));
        }
        out
    }

    /// `(active pairs, retired pairs, blocks)`, for the gauges.
    pub fn counts(&self) -> (usize, usize, usize) {
        let retired = self.pairs.iter().filter(|r| r.retired_ms != 0).count();
        (self.pairs.len() - retired, retired, self.blocks.len())
    }

    /// Take at most `max` dirty keys, with their current values, as writes to commit. On a
    /// failed commit, give them back with [`ContactBook::redo`].
    pub fn take_dirty(&self, max: usize) -> Vec<ContactWrite> {
        let keys: Vec<Dirty> = {
            let mut dirty = self.dirty();
            let keys: Vec<Dirty> = dirty.iter().take(max).cloned().collect();
            for k in &keys {
                dirty.remove(k);
            }
            keys
        };
        keys.into_iter()
            .map(|k| match k {
                Dirty::Pair(by, of) => {
                    let record = self.record(&by, &of);
                    ContactWrite::Pair { by, of, record }
                }
                Dirty::Block(by, of) => {
                    let blocked = self.blocked(&by, &of);
                    ContactWrite::Block { by, of, blocked }
                }
            })
            .collect()
    }

    /// Mark the keys of writes that were not committed dirty again (their current values
    /// are written next time).
    pub fn redo(&self, writes: &[ContactWrite]) {
        let mut dirty = self.dirty();
        for w in writes {
            dirty.insert(match w {
                ContactWrite::Pair { by, of, .. } => Dirty::Pair(by.clone(), of.clone()),
                ContactWrite::Block { by, of, .. } => Dirty::Block(by.clone(), of.clone()),
            });
        }
    }

    /// Whether changes wait to be committed.
    pub fn has_dirty(&self) -> bool {
        !self.dirty().is_empty()
    }
}

#[cfg(test)]
#[path = "contacts_tests.rs"]
mod tests;
