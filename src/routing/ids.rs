//! Unique identifiers: a random per-process prefix plus a counter, so ids never repeat within
//! a run and are unlikely to collide across restarts; and the crossing of message ids (RFC 5438
//! IMDN `imdn.Message-ID` ⇄ XMPP stanza id) that lets receipts and references name the id the
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
    /// The prefix as its 16 hex digits and the dash, written once.
    prefix: [u8; 17],
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
        let mut prefix = [b'-'; 17];
        let digits = h
            .finish()
            .to_be_bytes()
            .map(|b| [hex_digit(b >> 4), hex_digit(b & 0xf)]);
        for (slot, d) in prefix.iter_mut().zip(digits.as_flattened()) {
            *slot = *d;
        }
        IdGenerator {
            prefix,
            counter: AtomicU64::new(1),
        }
    }

    /// The next id: 16 hex digits of prefix, a dash, the counter in hex (lower case, no
    /// leading zeros). Written by hand: every message takes one or two, and `format!` cost
    /// several times as much.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        let mut id = [0u8; 33];
        let (prefix, counter) = id.split_at_mut(self.prefix.len());
        prefix.copy_from_slice(&self.prefix);
        for (i, slot) in counter.iter_mut().take(digits).enumerate() {
            *slot = hex_digit((n >> (4 * (digits - 1 - i))) as u8);
        }
        let len = self.prefix.len() + digits;
        // Hex digits and a dash only: always UTF-8.
        std::str::from_utf8(id.get(..len).unwrap_or_default())
            .unwrap_or_default()
            .to_owned()
    }
}

/// The lower-case hex digit of a nibble.
fn hex_digit(nibble: u8) -> u8 {
    b"0123456789abcdef"[usize::from(nibble & 0xf)]
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new()
    }
}

/// Between parley's own part and the sender's id in a stanza id (see [`MessageIds`]); no SIP
/// or CPIM token contains it.
const ORIGIN_MARK: char = ':';
/// The longest sender id carried inside a stanza id; longer ones go in the map.
pub const MAX_CARRIED_ID: usize = 128;

/// The ids of messages that crossed under an id their sender does not know.
///
/// A SIP→XMPP message leaves with a stanza id parley chose (so that an XMPP error reply finds
/// its SIP transaction, and no sender can pick an id that collides with another's). When the
/// SIP sender gave an `imdn.Message-ID`, the stanza id carries it after parley's own part
/// (`<parley id>:<imdn.Message-ID>`), and a receipt (XEP-0184 `<received id/>`, XEP-0333
/// `<displayed id/>`) or a reference (XEP-0444 reaction, 0308 correction, 0424 retraction,
/// 0461 reply) coming back names that stanza id; [`MessageIds::origin`] reads the sender's id
/// out of it. Nothing is stored, so receipts find their message across restarts and for as
/// long as the recipient keeps it. Only a sender id that is no SIP token or is longer than
/// [`MAX_CARRIED_ID`] is remembered in a bounded in-memory map instead (kept
/// [`ID_MAP_TTL`], lost on restart: its receipt then names parley's id). The stanza parley
/// sends also carries its id as XEP-0359 `<origin-id/>`, so a client that names messages by
/// origin-id names the same one. XMPP→SIP messages keep the id their sender knows as
/// `imdn.Message-ID` — the XEP-0359 `<origin-id/>` when there is one, else the stanza id
/// (`bridge::xmpp_in`), percent-encoded as a CPIM token and decoded on the way back — so
/// they need neither.
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

    /// The stanza id of a message `sender` (a bare address) sent as `origin_id`, from parley's
    /// own id `own`: the sender's id carried after it, or `own` with the pair remembered.
    pub fn crossing(
        &self,
        sender: &str,
        origin_id: &str,
        own: &str,
        wants: ReceiptRequest,
    ) -> String {
        if carriable(origin_id) {
            return format!("{own}{ORIGIN_MARK}{origin_id}");
        }
        self.lock()
            .record(Instant::now(), sender, origin_id, own, wants);
        own.to_owned()
    }

    /// The id `recipient` (the original sender, bare) knows for the message the far side
    /// calls `far_id`; `far_id` itself when it carries none and nothing was recorded. `last`
    /// forgets a remembered entry (a `displayed` receipt is the last one a message gets).
    pub fn origin(&self, recipient: &str, far_id: &str, last: bool) -> String {
        if let Some(origin) = carried(far_id) {
            return origin.to_owned();
        }
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

fn carriable(origin_id: &str) -> bool {
    // RFC 3261 §25.1 token characters, which every id from the usual SIP clients keeps to
    // (an `imdn.Message-ID` may use a few more, RFC 5438 §6.3; those go in the map).
    let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    !origin_id.is_empty() && origin_id.len() <= MAX_CARRIED_ID && origin_id.bytes().all(token)
}

/// The sender's id inside a stanza id of the form [`MessageIds::crossing`] writes: parley's
/// part (16 hex digits, `-`, a hex counter), the mark, a SIP token.
fn carried(far_id: &str) -> Option<&str> {
    let (own, origin) = far_id.split_once(ORIGIN_MARK)?;
    let (prefix, counter) = own.split_once('-')?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (prefix.len() == 16 && hex(prefix) && hex(counter) && carriable(origin)).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::MessageIds;
    use crate::model::ReceiptRequest;
    use std::sync::atomic::Ordering;

    /// Ids are `format!("{prefix:016x}-{counter:x}")`, for counters of every digit count.
    #[test]
    fn ids_are_the_prefix_and_the_counter_in_hex() {
        let ids = super::IdGenerator::new();
        let first = ids.next();
        let (prefix, counter) = first.split_once('-').unwrap();
        assert_eq!((prefix.len(), counter), (16, "1"));
        let prefix = u64::from_str_radix(prefix, 16).unwrap();
        for n in (0..64)
            .map(|s| 1u64 << s)
            .chain([0, 9, 10, 15, 16, 255, u64::MAX])
        {
            ids.counter.store(n, Ordering::Relaxed);
            assert_eq!(ids.next(), format!("{prefix:016x}-{n:x}"));
        }
    }

    #[test]
    fn a_sender_id_crosses_inside_the_stanza_id_and_comes_back() {
        let ids = MessageIds::default();
        let own = super::IdGenerator::new().next();
        let far = ids.crossing("alice@sip.test", "imdn-1", &own, ReceiptRequest::default());
        assert_eq!(far, format!("{own}:imdn-1"));
        assert!(ids.is_empty(), "nothing is stored for a carried id");
        // Any instance reads it back (a restart loses nothing), every time it is named.
        let after_restart = MessageIds::default();
        assert_eq!(after_restart.origin("alice@sip.test", &far, true), "imdn-1");
        assert_eq!(
            after_restart.origin("alice@sip.test", &far, false),
            "imdn-1"
        );
        // Ids parley did not write pass unchanged, even with the mark in them.
        for other in [
            "gw-7",
            "abc:imdn-1",
            "0123456789abcdeg-1:x",
            "0123456789abcdef-:x",
        ] {
            assert_eq!(ids.origin("alice@sip.test", other, false), other);
        }
    }

    #[test]
    fn an_id_that_cannot_be_carried_is_remembered() {
        let ids = MessageIds::default();
        for origin in ["has space", &"x".repeat(super::MAX_CARRIED_ID + 1)] {
            let far = ids.crossing("alice@sip.test", origin, "gw-7", ReceiptRequest::default());
            assert_eq!(far, "gw-7");
            assert_eq!(ids.origin("alice@sip.test", "gw-7", false), origin);
            // Another sender's id space is separate.
            assert_eq!(ids.origin("carol@sip.test", "gw-7", false), "gw-7");
            // A `displayed` receipt is the last: the entry is forgotten.
            assert_eq!(ids.origin("alice@sip.test", "gw-7", true), origin);
            assert_eq!(ids.origin("alice@sip.test", "gw-7", false), "gw-7");
        }
    }

    #[test]
    fn ids_are_unique() {
        let g = super::IdGenerator::new();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| g.next()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
