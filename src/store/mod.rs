//! Durable state (DESIGN "State"): contact acceptance and consent counters, blocks, presence
//! subscriptions and the spool, behind [`Store`] so a shared store can serve several nodes
//! later. [`RedbStore`] keeps it in one file under the state directory; [`MemStore`] keeps it
//! in memory for tests.
//!
//! Addresses are bare `local@domain`. A pair `(by, of)` is directed: "`by` accepted `of`",
//! "`by` blocked `of`", "`of` sent `by` so many messages while not accepted".

mod mem;
mod redb_store;
#[cfg(test)]
mod tests;
mod watches;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::PairState;

pub use mem::MemStore;
pub use redb_store::RedbStore;
pub use watches::{WatchRecord, watch_key};

/// Why the store failed. Every variant is fatal for the operation (the caller refuses or
/// retries the message; nothing is half-written: each operation is one transaction).
#[derive(Debug)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    Db(Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be decoded.
    Corrupt(&'static str),
    /// A bounded kind of record is at its bound; nothing was added.
    Full {
        /// What is full.
        what: &'static str,
        /// The bound.
        max: usize,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "state store: {e}"),
            StoreError::Corrupt(what) => write!(f, "state store: corrupt {what} record"),
            StoreError::Full { what, max } => {
                write!(f, "state store: at most {max} {what} are kept")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Db(e) => Some(e.as_ref()),
            StoreError::Corrupt(_) | StoreError::Full { .. } => None,
        }
    }
}

/// A presence subscription: `subscriber` sees `contact`'s presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Who subscribed.
    pub subscriber: String,
    /// Whose presence.
    pub contact: String,
    /// Approved by the contact.
    pub approved: bool,
}

/// A message waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spooled {
    /// Sender (bare).
    pub from: String,
    /// Recipient (bare).
    pub to: String,
    /// The wire bytes to send on the recipient's side.
    pub bytes: Vec<u8>,
    /// When it is bounced, in seconds since the epoch.
    pub deadline_s: u64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was accepted, in seconds since the epoch (0 in records written before this
    /// field existed).
    #[serde(default)]
    pub queued_s: u64,
    /// Set for a message towards SIP (`bytes` is then the SIP request); absent for one
    /// towards XMPP (`bytes` is the stanza).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_sip: Option<ToSip>,
}

/// What a retry and a bounce of a message towards SIP need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToSip {
    /// The Via branch of the request (it never reached the peer, so retries reuse it).
    pub branch: String,
    /// The XMPP sender, full JID, as in the original `from`.
    pub sender: String,
    /// The original `to`.
    pub recipient: String,
    /// The original stanza id.
    pub stanza_id: Option<String>,
}

/// The state parley keeps. Methods are synchronous and short (one transaction each).
pub trait Store: Send + Sync + fmt::Debug {
    /// Consent and blocks for a message from `sender` to `recipient`.
    fn pair(&self, sender: &str, recipient: &str) -> Result<PairState, StoreError>;
    /// Count one message from a stranger; returns the new count.
    fn count_unaccepted(&self, sender: &str, recipient: &str) -> Result<u32, StoreError>;
    /// `by` accepts `of` (replied to it, approved its subscription); `now_s` is kept as the
    /// pair's last activity.
    fn accept(&self, by: &str, of: &str, now_s: u64) -> Result<(), StoreError>;
    /// Last activity of an accepted pair, seconds since the epoch.
    fn last_activity(&self, by: &str, of: &str) -> Result<Option<u64>, StoreError>;
    /// `by` blocks `of` (honoured both ways) or lifts the block.
    fn set_blocked(&self, by: &str, of: &str, blocked: bool) -> Result<(), StoreError>;
    /// Record or update a subscription.
    fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError>;
    /// Remove a subscription.
    fn remove_subscription(&self, subscriber: &str, contact: &str) -> Result<(), StoreError>;
    /// Every subscription (to refresh them after a restart).
    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    /// Write a message to the spool; returns its id.
    fn spool_put(&self, m: &Spooled) -> Result<u64, StoreError>;
    /// Replace a spooled message (after an attempt).
    fn spool_update(&self, id: u64, m: &Spooled) -> Result<(), StoreError>;
    /// Remove a spooled message (delivered or bounced).
    fn spool_remove(&self, id: u64) -> Result<(), StoreError>;
    /// Every spooled message, oldest first.
    fn spool(&self) -> Result<Vec<(u64, Spooled)>, StoreError>;
    /// Write `puts` and remove `removes` at once (group commit): one transaction where the
    /// store has them, so one durable write serves many messages. Returns the ids of `puts`,
    /// in order.
    fn spool_apply(&self, puts: &[Spooled], removes: &[u64]) -> Result<Vec<u64>, StoreError> {
        for id in removes {
            self.spool_remove(*id)?;
        }
        puts.iter().map(|m| self.spool_put(m)).collect()
    }
    /// Erase everything stored about `address` (data-protection erasure); returns how many
    /// records were removed.
    fn forget(&self, address: &str) -> Result<usize, StoreError>;
    /// Write and remove (by [`WatchRecord::key`]) notifier-role presence dialogs at once. A
    /// store that does not outlive the process keeps none.
    fn watches_apply(&self, puts: &[WatchRecord], removes: &[String]) -> Result<(), StoreError> {
        let _ = (puts, removes);
        Ok(())
    }
    /// Every stored notifier-role presence dialog.
    fn watches(&self) -> Result<Vec<WatchRecord>, StoreError> {
        Ok(Vec::new())
    }
    /// Every contact pair record and block (loaded into memory at startup).
    fn contacts(&self) -> Result<ContactRows, StoreError>;
    /// Apply contact changes at once (group commit): one transaction where the store has
    /// them.
    fn apply_contacts(&self, writes: &[ContactWrite]) -> Result<(), StoreError>;
}

/// The key of a directed pair.
fn pair_key(by: &str, of: &str) -> String {
    crate::model::concat(&[by, "\0", of])
}

/// Whether a pair key involves `address` on either end.
fn key_involves(key: &str, address: &str) -> bool {
    key.split('\u{0}').any(|a| a == address)
}

/// The bare form parley stores: domain lower case.
pub fn bare(address: &str) -> String {
    into_bare(address.to_owned())
}

/// [`bare`] of an address the caller owns already, made in place.
pub fn into_bare(mut address: String) -> String {
    let domain = address.rfind('@').map_or(0, |at| at + 1);
    address[domain..].make_ascii_lowercase();
    address
}

mod contacts;
pub use contacts::{ContactBook, Sweep};

/// What parley keeps about a directed contact pair `(by, of)`: whether `by` accepted `of`,
/// how many messages `of` delivered to `by` while not accepted, and the pair's age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRecord {
    /// `by` accepted `of` (replied, approved a subscription).
    pub accepted: bool,
    /// Messages from `of` to `by` while not accepted.
    pub unaccepted: u32,
    /// Last activity of the pair, milliseconds since the epoch.
    pub last_ms: u64,
    /// When the pair was retired for lack of use (milliseconds since the epoch); 0 while
    /// it is active. A retired pair counts as never seen until it is used again.
    #[serde(default)]
    pub retired_ms: u64,
    /// `by` approved `of`'s presence subscription (`of` sees `by`'s presence): the roster
    /// on the XMPP side shows it until parley says it ended, with or without a live
    /// dialog.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subscribed: bool,
}

/// One change to contact state, for [`Store::apply_contacts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactWrite {
    /// Put (`Some`) or remove (`None`) the record of the pair `(by, of)`.
    Pair {
        /// Recipient side of the pair.
        by: String,
        /// Sender side of the pair.
        of: String,
        /// The record, or `None` to remove it.
        record: Option<PairRecord>,
    },
    /// `by` blocks `of` or lifts the block.
    Block {
        /// Who blocks.
        by: String,
        /// Whom.
        of: String,
        /// Set or lifted.
        blocked: bool,
    },
}

/// Every pair record and block, as loaded at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactRows {
    /// `(by, of, record)`.
    pub pairs: Vec<(String, String, PairRecord)>,
    /// `(by, of)`: `by` blocked `of`.
    pub blocks: Vec<(String, String)>,
}

/// Split a pair key back into `(by, of)`.
fn split_key(key: &str) -> Option<(String, String)> {
    key.split_once('\u{0}')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
}

impl PairRecord {
    /// An accepted, active pair last used at `now_ms`.
    pub fn accepted_at(now_ms: u64) -> PairRecord {
        PairRecord {
            accepted: true,
            unaccepted: 0,
            last_ms: now_ms,
            retired_ms: 0,
            subscribed: false,
        }
    }
}
