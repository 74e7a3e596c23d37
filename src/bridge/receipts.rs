//! Receipt correlation (RFC 5438 IMDN ⇄ XEP-0184 / XEP-0333): the id map.
//!
//! A message keeps its id across the gateway when the id is valid on both sides (stanza id ⇄
//! CPIM `imdn.Message-ID`); when the far side needs a different id (an XMPP id that is not a
//! CPIM token, or a SIP message without one), the gateway records the pair here, together
//! with what the sender asked for, and translates the id back when the receipt arrives.
//!
//! A pure data structure: bounded, entries expire after a TTL, and every call takes `now`
//! (no clock inside).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::model::ReceiptRequest;

/// One remembered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// The id the original sender used (the id its receipt must carry).
    pub origin_id: String,
    /// What the sender asked for.
    pub wants: ReceiptRequest,
}

/// Id map with TTL and a capacity bound (the oldest entry is evicted when full).
#[derive(Debug)]
pub struct IdMap {
    ttl: Duration,
    capacity: usize,
    /// `(original sender, far-side id)` → correlation and expiry.
    entries: HashMap<(String, String), (Correlation, Instant)>,
    /// Insertion order, for expiry and eviction (TTL is constant, so this is expiry order).
    order: VecDeque<(Instant, (String, String))>,
}

impl IdMap {
    /// An empty map whose entries live `ttl` and that holds at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> IdMap {
        IdMap {
            ttl,
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Number of live entries (expired ones count until the next call that takes `now`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remember that the message `sender` sent as `origin_id` went out as `far_id`.
    pub fn record(
        &mut self,
        now: Instant,
        sender: &str,
        origin_id: &str,
        far_id: &str,
        wants: ReceiptRequest,
    ) {
        self.purge(now);
        while self.entries.len() >= self.capacity {
            let Some((_, key)) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&key);
        }
        let key = (sender.to_owned(), far_id.to_owned());
        let expires = now + self.ttl;
        let c = Correlation {
            origin_id: origin_id.to_owned(),
            wants,
        };
        if self.entries.insert(key.clone(), (c, expires)).is_none() {
            self.order.push_back((expires, key));
        }
    }

    /// The correlation for a receipt addressed to `sender` about `far_id`, if still live.
    /// A `displayed` receipt is the last one a message gets: pass `last` to forget it.
    pub fn resolve(
        &mut self,
        now: Instant,
        sender: &str,
        far_id: &str,
        last: bool,
    ) -> Option<Correlation> {
        self.purge(now);
        let key = (sender.to_owned(), far_id.to_owned());
        if last {
            self.entries.remove(&key).map(|(c, _)| c)
        } else {
            self.entries.get(&key).map(|(c, _)| c.clone())
        }
    }

    /// Drop expired entries.
    pub fn purge(&mut self, now: Instant) {
        while let Some((expires, _)) = self.order.front() {
            if *expires > now {
                break;
            }
            if let Some((expires, key)) = self.order.pop_front()
                && self.entries.get(&key).is_some_and(|(_, e)| *e == expires)
            {
                self.entries.remove(&key);
            }
        }
        // Entries removed by `resolve(last)` leave stale order slots; bound them too.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order
                .retain(|(e, k)| entries.get(k).is_some_and(|(_, x)| x == e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTS: ReceiptRequest = ReceiptRequest {
        delivery: true,
        display: false,
    };

    #[test]
    fn ids_resolve_until_they_expire() {
        let t0 = Instant::now();
        let mut m = IdMap::new(Duration::from_secs(60), 100);
        m.record(t0, "juliet@xmpp.example", "x-1", "s-1", WANTS);
        let c = m
            .resolve(
                t0 + Duration::from_secs(59),
                "juliet@xmpp.example",
                "s-1",
                false,
            )
            .unwrap();
        assert_eq!(c.origin_id, "x-1");
        assert_eq!(c.wants, WANTS);
        // Another sender's id space is separate.
        assert!(m.resolve(t0, "romeo@xmpp.example", "s-1", false).is_none());
        assert!(
            m.resolve(
                t0 + Duration::from_secs(60),
                "juliet@xmpp.example",
                "s-1",
                false
            )
            .is_none()
        );
        assert!(m.is_empty());
    }

    #[test]
    fn displayed_is_the_last_receipt() {
        let t0 = Instant::now();
        let mut m = IdMap::new(Duration::from_secs(60), 100);
        m.record(t0, "a@x", "o", "f", WANTS);
        assert!(m.resolve(t0, "a@x", "f", false).is_some());
        assert!(m.resolve(t0, "a@x", "f", true).is_some());
        assert!(m.resolve(t0, "a@x", "f", false).is_none());
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut m = IdMap::new(Duration::from_secs(60), 2);
        for i in 0..3 {
            m.record(t0, "a@x", &format!("o{i}"), &format!("f{i}"), WANTS);
        }
        assert_eq!(m.len(), 2);
        assert!(m.resolve(t0, "a@x", "f0", false).is_none());
        assert!(m.resolve(t0, "a@x", "f2", false).is_some());
    }
}
