//! Notifier-role presence dialogs in the store (RFC 6665 §4.2, DESIGN "State"): parley's
//! dialogs with SIP watchers of XMPP users, so a watcher's refresh after a restart finds its
//! dialog instead of a 481. One redb table, `call_id\0local_tag` → JSON [`WatchRecord`].

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{StoreError, key_involves, pair_key};

/// `call_id\0local_tag` → JSON [`WatchRecord`].
pub(super) const WATCHES: TableDefinition<&str, &[u8]> = TableDefinition::new("presence_watches");

/// The key of the dialog `(call_id, local_tag)`.
pub fn watch_key(call_id: &str, local_tag: &str) -> String {
    pair_key(call_id, local_tag)
}

/// One notifier dialog as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    /// Call-ID.
    pub call_id: String,
    /// parley's tag.
    pub local_tag: String,
    /// The watcher's tag.
    pub remote_tag: String,
    /// The XMPP presentity, bare.
    pub presentity: String,
    /// The SIP watcher, bare.
    pub watcher: String,
    /// Remote target of the NOTIFYs.
    pub target: String,
    /// Route set.
    pub routes: Vec<String>,
    /// Last CSeq of the watcher's SUBSCRIBEs.
    pub remote_cseq: u32,
    /// A NOTIFY CSeq not yet used: a restored dialog continues from here, so its NOTIFYs
    /// keep increasing (RFC 3261 §12.2.1.1 allows the gap).
    pub local_cseq: u32,
    /// Approved by the presentity.
    pub active: bool,
    /// When the subscription expires, seconds since the epoch.
    pub expires_at_s: u64,
}

impl WatchRecord {
    /// Its key.
    pub fn key(&self) -> String {
        watch_key(&self.call_id, &self.local_tag)
    }

    /// Whether it involves `address` (bare) on either end.
    fn involves(&self, address: &str) -> bool {
        key_involves(&pair_key(&self.presentity, &self.watcher), address)
    }
}

fn db_err<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

/// Create the table.
pub(super) fn create(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(WATCHES).map_err(db_err)?;
    Ok(())
}

/// Write `puts` and remove the keys `removes` in one transaction.
pub(super) fn apply(
    db: &Database,
    puts: &[WatchRecord],
    removes: &[String],
) -> Result<(), StoreError> {
    let values = puts
        .iter()
        .map(|r| serde_json::to_vec(r).map(|v| (r.key(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Db(Box::new(e)))?;
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut t = txn.open_table(WATCHES).map_err(db_err)?;
        for (k, v) in &values {
            t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
        }
        for k in removes {
            t.remove(k.as_str()).map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)
}

/// Every stored dialog.
pub(super) fn all(db: &Database) -> Result<Vec<WatchRecord>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let t = match txn.open_table(WATCHES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(db_err(e)),
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db_err)? {
        let (_, v) = row.map_err(db_err)?;
        out.push(
            serde_json::from_slice(v.value()).map_err(|_| StoreError::Corrupt("presence watch"))?,
        );
    }
    Ok(out)
}

/// Remove every dialog involving `address` in `txn`; returns how many.
pub(super) fn forget(txn: &redb::WriteTransaction, address: &str) -> Result<usize, StoreError> {
    let mut n = 0;
    txn.open_table(WATCHES)
        .map_err(db_err)?
        .retain(|_, v| {
            let hit = serde_json::from_slice::<WatchRecord>(v).is_ok_and(|r| r.involves(address));
            n += usize::from(hit);
            !hit
        })
        .map_err(db_err)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::{RedbStore, Store};
    use super::*;

    fn rec(call_id: &str, watcher: &str, local_cseq: u32) -> WatchRecord {
        WatchRecord {
            call_id: call_id.into(),
            local_tag: "l".into(),
            remote_tag: "r".into(),
            presentity: "juliet@xmpp.test".into(),
            watcher: watcher.into(),
            target: "sip:alice@127.0.0.1;transport=tls".into(),
            routes: Vec::new(),
            remote_cseq: 1,
            local_cseq,
            active: true,
            expires_at_s: 1_000,
        }
    }

    #[test]
    fn watches_are_written_replaced_removed_kept_across_reopen_and_forgotten() {
        let dir = std::env::temp_dir().join(format!("parley-watches-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("state.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            assert!(s.watches().unwrap().is_empty());
            s.watches_apply(
                &[
                    rec("a", "alice@sip.test", 1000),
                    rec("b", "bob@sip.test", 1000),
                ],
                &[],
            )
            .unwrap();
            // A later write of the same dialog replaces it; a removal of another goes with it.
            s.watches_apply(&[rec("a", "alice@sip.test", 2000)], &[watch_key("b", "l")])
                .unwrap();
            s.watches_apply(&[rec("c", "carol@sip.test", 1000)], &[])
                .unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        let mut all = s.watches().unwrap();
        all.sort_by(|x, y| x.call_id.cmp(&y.call_id));
        assert_eq!(
            all,
            vec![
                rec("a", "alice@sip.test", 2000),
                rec("c", "carol@sip.test", 1000)
            ]
        );
        assert_eq!(s.forget("alice@sip.test").unwrap(), 1);
        assert_eq!(s.watches().unwrap(), vec![rec("c", "carol@sip.test", 1000)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
