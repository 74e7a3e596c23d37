//! Unique identifiers: a random per-process prefix plus a counter, so ids never repeat within
//! a run and are unlikely to collide across restarts; and the message id map (RFC 5438 IMDN
//! `imdn.Message-ID` ⇄ XMPP stanza id) that lets receipts and references name the id the
//! receiving side knows.

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::bridge::receipts::IdMap;
use crate::model::ReceiptRequest;

/// How long a crossed message's id is remembered: a read receipt may come days later.
pub const ID_MAP_TTL: Duration = Duration::from_secs(3 * 24 * 3600);
/// At most this many ids are remembered (the oldest goes first); about 200 bytes each.
pub const ID_MAP_CAPACITY: usize = 65_536;

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

/// The ids of messages that crossed under an id their sender does not know.
///
/// A SIP→XMPP message leaves with a stanza id parley chose (so that an XMPP error reply finds
/// its SIP transaction, and no sender can pick an id that collides with another's); when the
/// SIP sender gave an `imdn.Message-ID`, the pair is recorded here, keyed by the original
/// sender and the id the far side knows. A receipt (XEP-0184 `<received id/>`, XEP-0333
/// `<displayed id/>`) or a reference (XEP-0444 reaction, 0308 correction, 0424 retraction,
/// 0461 reply) coming back to that sender names parley's id; [`MessageIds::origin`] turns it
/// into the sender's. The stanza parley sends also carries that id as XEP-0359
/// `<origin-id/>`, so a client that names messages by origin-id names the same one.
/// XMPP→SIP messages keep the id their sender knows as `imdn.Message-ID` — the XEP-0359
/// `<origin-id/>` when there is one, else the stanza id (`bridge::xmpp_in`), percent-encoded
/// as a CPIM token and decoded on the way back — so they need no entry.
#[derive(Debug)]
pub struct MessageIds {
    map: Mutex<IdMap>,
}

impl Default for MessageIds {
    fn default() -> Self {
        MessageIds {
            map: Mutex::new(IdMap::new(ID_MAP_TTL, ID_MAP_CAPACITY)),
        }
    }
}

impl MessageIds {
    fn lock(&self) -> std::sync::MutexGuard<'_, IdMap> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `sender` (a bare address) sent a message as `origin_id`; the far side knows it as
    /// `far_id`.
    pub fn record(&self, sender: &str, origin_id: &str, far_id: &str, wants: ReceiptRequest) {
        if origin_id != far_id {
            self.lock()
                .record(Instant::now(), sender, origin_id, far_id, wants);
        }
    }

    /// The id `recipient` (the original sender, bare) knows for the message the far side
    /// calls `far_id`; `far_id` itself when nothing was recorded. `last` forgets the entry
    /// (a `displayed` receipt is the last one a message gets).
    pub fn origin(&self, recipient: &str, far_id: &str, last: bool) -> String {
        self.lock()
            .resolve(Instant::now(), recipient, far_id, last)
            .map_or_else(|| far_id.to_owned(), |c| c.origin_id)
    }

    /// Whether none is remembered.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::MessageIds;
    use crate::model::ReceiptRequest;

    #[test]
    fn a_receipt_names_the_id_its_recipient_knows() {
        let ids = MessageIds::default();
        ids.record(
            "alice@sip.test",
            "imdn-1",
            "gw-7",
            ReceiptRequest::default(),
        );
        assert_eq!(ids.origin("alice@sip.test", "gw-7", false), "imdn-1");
        // Another sender's id space is separate, and unknown ids pass unchanged.
        assert_eq!(ids.origin("carol@sip.test", "gw-7", false), "gw-7");
        assert_eq!(ids.origin("alice@sip.test", "displayed", true), "displayed");
        assert_eq!(ids.origin("alice@sip.test", "gw-7", true), "imdn-1");
        assert_eq!(ids.origin("alice@sip.test", "gw-7", false), "gw-7");
    }

    #[test]
    fn kept_ids_take_no_entry() {
        let ids = MessageIds::default();
        ids.record("juliet@xmpp.test", "x1", "x1", ReceiptRequest::default());
        assert!(ids.is_empty());
    }

    #[test]
    fn ids_are_unique() {
        let g = super::IdGenerator::new();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| g.next()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
