//! [`Store`] in a redb file (`state.redb` under the state directory): each operation is one
//! ACID transaction, committed durably before it returns.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    ContactRows, ContactWrite, PairRecord, PairState, Spooled, Store, StoreError, Subscription,
    key_involves, pair_key, split_key,
};

/// `by\0of` → JSON [`PairRecord`]: consent, counter and age of a directed pair.
const PAIRS: TableDefinition<&str, &[u8]> = TableDefinition::new("pairs");
/// Before `pairs`: `by\0of` → last activity (s) of an accepted pair (moved into `pairs`
/// when the file is opened).
const ACCEPTED: TableDefinition<&str, u64> = TableDefinition::new("accepted");
/// Before `pairs`: `recipient\0sender` → messages delivered while not accepted.
const COUNTS: TableDefinition<&str, u32> = TableDefinition::new("consent_counts");
/// `by\0of` → when the block was set (unused, 0).
const BLOCKS: TableDefinition<&str, u64> = TableDefinition::new("blocks");
/// `subscriber\0contact` → JSON [`Subscription`].
const SUBS: TableDefinition<&str, &[u8]> = TableDefinition::new("subscriptions");
/// id → JSON [`Spooled`].
const SPOOL: TableDefinition<u64, &[u8]> = TableDefinition::new("spool");

fn db_err<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

fn encode(r: &PairRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(r).map_err(|e| StoreError::Db(Box::new(e)))
}

fn decode(v: &[u8]) -> Result<PairRecord, StoreError> {
    serde_json::from_slice(v).map_err(|_| StoreError::Corrupt("contact pair"))
}

/// The record of a pair in `t`, if any.
fn get_pair(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<PairRecord>, StoreError> {
    t.get(key)
        .map_err(db_err)?
        .map(|g| decode(g.value()))
        .transpose()
}

/// Move rows of the tables used before `pairs` into it (once; they are left empty).
fn migrate_pairs(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut old_accepted = txn.open_table(ACCEPTED).map_err(db_err)?;
    let mut old_counts = txn.open_table(COUNTS).map_err(db_err)?;
    let mut pairs = txn.open_table(PAIRS).map_err(db_err)?;
    let mut moved: Vec<(String, PairRecord)> = Vec::new();
    for row in old_counts.iter().map_err(db_err)? {
        let (k, n) = row.map_err(db_err)?;
        let r = PairRecord {
            unaccepted: n.value(),
            ..PairRecord::default()
        };
        moved.push((k.value().to_owned(), r));
    }
    for row in old_accepted.iter().map_err(db_err)? {
        let (k, t) = row.map_err(db_err)?;
        moved.push((
            k.value().to_owned(),
            PairRecord::accepted_at(t.value() * 1000),
        ));
    }
    for (k, r) in &moved {
        pairs
            .insert(k.as_str(), encode(r)?.as_slice())
            .map_err(db_err)?;
    }
    old_accepted.retain(|_, _| false).map_err(db_err)?;
    old_counts.retain(|_, _| false).map_err(db_err)?;
    Ok(())
}

/// Memory redb may keep for cached pages. Its default is 1 GiB, which a long-running
/// gateway would slowly fill with spool and consent pages; the working set (recent spool
/// entries, active contact pairs) is far smaller, and the OS page cache holds the rest.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// State in one redb file.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Open (creating it and its directory if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(Box::new(e)))?;
        }
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(ACCEPTED).map_err(db_err)?;
        txn.open_table(COUNTS).map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?;
        txn.open_table(SUBS).map_err(db_err)?;
        txn.open_table(SPOOL).map_err(db_err)?;
        super::watches::create(&txn)?;
        migrate_pairs(&txn)?;
        txn.commit().map_err(db_err)?;
        Ok(RedbStore { db })
    }

    /// Run `f` in a write transaction and commit.
    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let out = f(&txn)?;
        txn.commit().map_err(db_err)?;
        Ok(out)
    }
}

impl Store for RedbStore {
    fn pair(&self, sender: &str, recipient: &str) -> Result<PairState, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let k = pair_key(recipient, sender);
        let pairs = txn.open_table(PAIRS).map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let r = get_pair(&pairs, &k)?.unwrap_or_default();
        Ok(PairState {
            accepted: r.accepted,
            unaccepted: r.unaccepted,
            blocked: blocks.get(k.as_str()).map_err(db_err)?.is_some()
                || blocks
                    .get(pair_key(sender, recipient).as_str())
                    .map_err(db_err)?
                    .is_some(),
        })
    }

    fn count_unaccepted(&self, sender: &str, recipient: &str) -> Result<u32, StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(PAIRS).map_err(db_err)?;
            let k = pair_key(recipient, sender);
            let mut r = get_pair(&t, &k)?.unwrap_or_default();
            r.unaccepted = r.unaccepted.saturating_add(1);
            t.insert(k.as_str(), encode(&r)?.as_slice())
                .map_err(db_err)?;
            Ok(r.unaccepted)
        })
    }

    fn accept(&self, by: &str, of: &str, now_s: u64) -> Result<(), StoreError> {
        self.write(|txn| {
            let v = encode(&PairRecord::accepted_at(now_s * 1000))?;
            txn.open_table(PAIRS)
                .map_err(db_err)?
                .insert(pair_key(by, of).as_str(), v.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn last_activity(&self, by: &str, of: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(PAIRS).map_err(db_err)?;
        Ok(get_pair(&t, &pair_key(by, of))?
            .filter(|r| r.accepted)
            .map(|r| r.last_ms / 1000))
    }

    fn set_blocked(&self, by: &str, of: &str, blocked: bool) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut t = txn.open_table(BLOCKS).map_err(db_err)?;
            let k = pair_key(by, of);
            if blocked {
                t.insert(k.as_str(), 0).map_err(db_err)?;
            } else {
                t.remove(k.as_str()).map_err(db_err)?;
            }
            Ok(())
        })
    }

    fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        let v = serde_json::to_vec(s).map_err(|e| StoreError::Db(Box::new(e)))?;
        self.write(|txn| {
            txn.open_table(SUBS)
                .map_err(db_err)?
                .insert(pair_key(&s.subscriber, &s.contact).as_str(), v.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn remove_subscription(&self, subscriber: &str, contact: &str) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SUBS)
                .map_err(db_err)?
                .remove(pair_key(subscriber, contact).as_str())
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(SUBS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            out.push(
                serde_json::from_slice(v.value())
                    .map_err(|_| StoreError::Corrupt("subscription"))?,
            );
        }
        Ok(out)
    }

    fn spool_put(&self, m: &Spooled) -> Result<u64, StoreError> {
        let v = serde_json::to_vec(m).map_err(|e| StoreError::Db(Box::new(e)))?;
        self.write(|txn| {
            let mut t = txn.open_table(SPOOL).map_err(db_err)?;
            let id = t.last().map_err(db_err)?.map_or(0, |(k, _)| k.value()) + 1;
            t.insert(id, v.as_slice()).map_err(db_err)?;
            Ok(id)
        })
    }

    fn spool_update(&self, id: u64, m: &Spooled) -> Result<(), StoreError> {
        let v = serde_json::to_vec(m).map_err(|e| StoreError::Db(Box::new(e)))?;
        self.write(|txn| {
            txn.open_table(SPOOL)
                .map_err(db_err)?
                .insert(id, v.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn spool_remove(&self, id: u64) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SPOOL)
                .map_err(db_err)?
                .remove(id)
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn spool_apply(&self, puts: &[Spooled], removes: &[u64]) -> Result<Vec<u64>, StoreError> {
        let values = puts
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Db(Box::new(e)))?;
        self.write(|txn| {
            let mut t = txn.open_table(SPOOL).map_err(db_err)?;
            for id in removes {
                t.remove(*id).map_err(db_err)?;
            }
            let first = t.last().map_err(db_err)?.map_or(0, |(k, _)| k.value()) + 1;
            let mut ids = Vec::with_capacity(values.len());
            for (id, v) in (first..).zip(&values) {
                t.insert(id, v.as_slice()).map_err(db_err)?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    fn spool(&self) -> Result<Vec<(u64, Spooled)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(SPOOL).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let m = serde_json::from_slice(v.value()).map_err(|_| StoreError::Corrupt("spool"))?;
            out.push((k.value(), m));
        }
        Ok(out)
    }

    fn forget(&self, address: &str) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut n = 0;
            let mut keep = |k: &str| {
                let hit = key_involves(k, address);
                n += usize::from(hit);
                !hit
            };
            txn.open_table(PAIRS)
                .map_err(db_err)?
                .retain(|k, _| keep(k))
                .map_err(db_err)?;
            txn.open_table(BLOCKS)
                .map_err(db_err)?
                .retain(|k, _| keep(k))
                .map_err(db_err)?;
            txn.open_table(SUBS)
                .map_err(db_err)?
                .retain(|k, _| keep(k))
                .map_err(db_err)?;
            let mut spool = 0;
            txn.open_table(SPOOL)
                .map_err(db_err)?
                .retain(|_, v| {
                    let hit = serde_json::from_slice::<Spooled>(v)
                        .is_ok_and(|m| m.from == address || m.to == address);
                    spool += usize::from(hit);
                    !hit
                })
                .map_err(db_err)?;
            let watches = super::watches::forget(txn, address)?;
            Ok(n + spool + watches)
        })
    }

    fn watches_apply(
        &self,
        puts: &[super::WatchRecord],
        removes: &[String],
    ) -> Result<(), StoreError> {
        super::watches::apply(&self.db, puts, removes)
    }

    fn watches(&self) -> Result<Vec<super::WatchRecord>, StoreError> {
        super::watches::all(&self.db)
    }

    fn contacts(&self) -> Result<ContactRows, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let mut rows = ContactRows::default();
        for row in txn
            .open_table(PAIRS)
            .map_err(db_err)?
            .iter()
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            if let Some((by, of)) = split_key(k.value()) {
                rows.pairs.push((by, of, decode(v.value())?));
            }
        }
        for row in txn
            .open_table(BLOCKS)
            .map_err(db_err)?
            .iter()
            .map_err(db_err)?
        {
            let (k, _) = row.map_err(db_err)?;
            rows.blocks.extend(split_key(k.value()));
        }
        Ok(rows)
    }

    fn apply_contacts(&self, writes: &[ContactWrite]) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut pairs = txn.open_table(PAIRS).map_err(db_err)?;
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            for w in writes {
                match w {
                    ContactWrite::Pair { by, of, record } => {
                        let k = pair_key(by, of);
                        match record {
                            Some(r) => pairs.insert(k.as_str(), encode(r)?.as_slice()).map(drop),
                            None => pairs.remove(k.as_str()).map(drop),
                        }
                        .map_err(db_err)?;
                    }
                    ContactWrite::Block { by, of, blocked } => {
                        let k = pair_key(by, of);
                        if *blocked {
                            blocks.insert(k.as_str(), 0).map(drop)
                        } else {
                            blocks.remove(k.as_str()).map(drop)
                        }
                        .map_err(db_err)?;
                    }
                }
            }
            Ok(())
        })
    }
}
