//! [`Store`] in memory, for tests and for a gateway that is told to keep no state.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    ContactRows, ContactWrite, PairRecord, PairState, Spooled, Store, StoreError, Subscription,
    key_involves, pair_key, split_key,
};

#[derive(Debug, Default)]
struct Maps {
    pairs: BTreeMap<String, PairRecord>,
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
        let r = m
            .pairs
            .get(&pair_key(recipient, sender))
            .copied()
            .unwrap_or_default();
        Ok(PairState {
            accepted: r.accepted,
            unaccepted: r.unaccepted,
            blocked: m.blocks.contains_key(&pair_key(recipient, sender))
                || m.blocks.contains_key(&pair_key(sender, recipient)),
        })
    }

    fn count_unaccepted(&self, sender: &str, recipient: &str) -> Result<u32, StoreError> {
        let mut m = self.maps();
        let r = m.pairs.entry(pair_key(recipient, sender)).or_default();
        r.unaccepted = r.unaccepted.saturating_add(1);
        Ok(r.unaccepted)
    }

    fn accept(&self, by: &str, of: &str, now_s: u64) -> Result<(), StoreError> {
        let mut m = self.maps();
        m.pairs
            .insert(pair_key(by, of), PairRecord::accepted_at(now_s * 1000));
        Ok(())
    }

    fn last_activity(&self, by: &str, of: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .maps()
            .pairs
            .get(&pair_key(by, of))
            .filter(|r| r.accepted)
            .map(|r| r.last_ms / 1000))
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
        let before = m.pairs.len() + m.blocks.len() + m.subs.len() + m.spool.len();
        m.pairs.retain(|k, _| !key_involves(k, address));
        m.blocks.retain(|k, _| !key_involves(k, address));
        m.subs.retain(|k, _| !key_involves(k, address));
        m.spool.retain(|_, s| s.from != address && s.to != address);
        let after = m.pairs.len() + m.blocks.len() + m.subs.len() + m.spool.len();
        Ok(before - after)
    }

    fn contacts(&self) -> Result<ContactRows, StoreError> {
        let m = self.maps();
        let pairs = (m.pairs.iter())
            .filter_map(|(k, r)| split_key(k).map(|(by, of)| (by, of, *r)))
            .collect();
        let blocks = m.blocks.keys().filter_map(|k| split_key(k)).collect();
        Ok(ContactRows { pairs, blocks })
    }

    fn apply_contacts(&self, writes: &[ContactWrite]) -> Result<(), StoreError> {
        let mut m = self.maps();
        for w in writes {
            match w {
                ContactWrite::Pair { by, of, record } => match record {
                    Some(r) => {
                        m.pairs.insert(pair_key(by, of), *r);
                    }
                    None => {
                        m.pairs.remove(&pair_key(by, of));
                    }
                },
                ContactWrite::Block { by, of, blocked } => {
                    if *blocked {
                        m.blocks.insert(pair_key(by, of), ());
                    } else {
                        m.blocks.remove(&pair_key(by, of));
                    }
                }
            }
        }
        Ok(())
    }
}
