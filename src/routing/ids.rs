//! Unique identifiers: a random per-process prefix plus a counter, so ids never repeat within
//! a run and are unlikely to collide across restarts.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Generator of ids such as stanza ids, SIP tags and branches.
#[derive(Debug)]
pub struct IdGenerator {
    prefix: u64,
    counter: AtomicU64,
}

impl IdGenerator {
    /// A generator with a random prefix.
    pub fn new() -> IdGenerator {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        IdGenerator {
            prefix: h.finish(),
            counter: AtomicU64::new(1),
        }
    }

    /// The next id: 16 hex digits of prefix, a dash, the counter in hex.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n:x}", self.prefix)
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique() {
        let g = super::IdGenerator::new();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| g.next()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
