//! [`Store`] in memory, for tests and for a gateway that is told to keep no state.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{PairState, Spooled, Store, StoreError, Subscription, key_involves, pair_key};

#[derive(Debug, Default)]
struct Maps {
    accepted: BTreeMap<String, u64>,
    counts: BTreeMap<String, u32>,
    blocks: BTreeMap<String, ()>,
    subs: BTreeMap<String, Subscription>,
    spool: BTreeMap<u64, Spooled>,
    next_id: u64,
}

/// In-memory state.
#[derive(Debug, Default)]
pub struct MemStore {
    maps: Mutex<Maps>,
}

impl MemStore {
    /// Empty.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemStore {
    fn pair(&self, sender: &str, recipient: &str) -> Result<PairState, StoreError> {
        let m = self.maps();
        let k = pair_key(recipient, sender);
        Ok(PairState {
            accepted: m.accepted.contains_key(&k),
            unaccepted: m.counts.get(&k).copied().unwrap_or(0),
            blocked: m.blocks.contains_key(&k)
                || m.blocks.contains_key(&pair_key(sender, recipient)),
        })
    }

    fn count_unaccepted(&self, sender: &str, recipient: &str) -> Result<u32, StoreError> {
        let mut m = self.maps();
        let c = m.counts.entry(pair_key(recipient, sender)).or_default();
        *c = c.saturating_add(1);
        Ok(*c)
    }

    fn accept(&self, by: &str, of: &str, now_s: u64) -> Result<(), StoreError> {
        let mut m = self.maps();
        let k = pair_key(by, of);
        m.counts.remove(&k);
        m.accepted.insert(k, now_s);
        Ok(())
    }

    fn last_activity(&self, by: &str, of: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.maps().accepted.get(&pair_key(by, of)).copied())
    }

    fn set_blocked(&self, by: &str, of: &str, blocked: bool) -> Result<(), StoreError> {
        let mut m = self.maps();
        if blocked {
            m.blocks.insert(pair_key(by, of), ());
        } else {
            m.blocks.remove(&pair_key(by, of));
        }
        Ok(())
    }

    fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        self.maps()
            .subs
            .insert(pair_key(&s.subscriber, &s.contact), s.clone());
        Ok(())
    }

    fn remove_subscription(&self, subscriber: &str, contact: &str) -> Result<(), StoreError> {
        self.maps().subs.remove(&pair_key(subscriber, contact));
        Ok(())
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        Ok(self.maps().subs.values().cloned().collect())
    }

    fn spool_put(&self, s: &Spooled) -> Result<u64, StoreError> {
        let mut m = self.maps();
        m.next_id += 1;
        let id = m.next_id;
        m.spool.insert(id, s.clone());
        Ok(id)
    }

    fn spool_update(&self, id: u64, s: &Spooled) -> Result<(), StoreError> {
        self.maps().spool.insert(id, s.clone());
        Ok(())
    }

    fn spool_remove(&self, id: u64) -> Result<(), StoreError> {
        self.maps().spool.remove(&id);
        Ok(())
    }

    fn spool(&self) -> Result<Vec<(u64, Spooled)>, StoreError> {
        Ok(self
            .maps()
            .spool
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }

    fn forget(&self, address: &str) -> Result<usize, StoreError> {
        let mut m = self.maps();
        let before =
            m.accepted.len() + m.counts.len() + m.blocks.len() + m.subs.len() + m.spool.len();
        m.accepted.retain(|k, _| !key_involves(k, address));
        m.counts.retain(|k, _| !key_involves(k, address));
        m.blocks.retain(|k, _| !key_involves(k, address));
        m.subs.retain(|k, _| !key_involves(k, address));
        m.spool.retain(|_, s| s.from != address && s.to != address);
        let after =
            m.accepted.len() + m.counts.len() + m.blocks.len() + m.subs.len() + m.spool.len();
        Ok(before - after)
    }
}
