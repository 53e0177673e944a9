//! The service's file positions, committed in the same transaction as what was read up to them.

use super::*;
use crate::parse::Change;
use changes::insert_role_changes;

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

fn unhex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or(0)
}

impl Store {
    /// The service's committed file positions.
    pub fn checkpoints(&self) -> Result<Vec<crate::ingest::tail::Checkpoint>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare("SELECT fingerprint, path, offset, line, marker, size, mtime, complete, skipping, dev, ino, head_len, head_hash, prefix, born FROM file_positions")
            .map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| {
                let fp: String = r.get(0)?;
                let p: String = r.get(1)?;
                let marker: String = r.get(4)?;
                let head_hash: String = r.get(12)?;
                let prefix: String = r.get(13)?;
                Ok(crate::ingest::tail::Checkpoint {
                    id: (r.get::<_, i64>(9)? as u64, r.get::<_, i64>(10)? as u64),
                    head_len: r.get::<_, i64>(11)?.max(0) as u64,
                    head_hash: unhex(&head_hash),
                    prefix: unhex(&prefix),
                    born: r.get(14)?,
                    replaces: None,
                    fingerprint: unhex(&fp),
                    path: std::path::PathBuf::from(p),
                    offset: r.get::<_, i64>(2)?.max(0) as u64,
                    line: r.get::<_, i64>(3)?.max(0) as u64,
                    marker: unhex(&marker),
                    size: r.get::<_, i64>(5)?.max(0) as u64,
                    mtime_ms: r.get(6)?,
                    complete: r.get(7)?,
                    skipping: r.get(8)?,
                })
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(sq(&path))?);
        }
        Ok(out)
    }

    /// Stores chunks' findings, role changes and their files' new positions in one transaction
    /// with full durability: a position never runs ahead of the findings it stands for, and the
    /// chunks queued together share one sync to disk.
    pub fn record_chunks(
        &mut self,
        chunks: &[Chunk<'_>],
    ) -> Result<Vec<super::Recorded>, StoreError> {
        let path = self.path.clone();
        self.conn
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(sq(&path))?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let mut out = Vec::with_capacity(chunks.len());
        for &(batch, changes, cp) in chunks {
            let mut rec = super::record::record_prepared(&tx, std::slice::from_ref(batch), &path)?;
            rec.new_keys = insert_role_changes(&tx, changes, &path)?;
            out.push(rec);
            if let Some(fp) = cp.replaces {
                tx.execute(
                    "DELETE FROM file_positions WHERE dev = 0 AND ino = 0 AND fingerprint = ?1",
                    params![hex(fp)],
                )
                .map_err(sq(&path))?;
            }
            // One position per file: a file whose content changed under the same inode
            // replaces its row.
            tx.execute(
                "DELETE FROM file_positions WHERE dev = ?1 AND ino = ?2 AND (dev, ino) != (0, 0)",
                params![cp.id.0 as i64, cp.id.1 as i64],
            )
            .map_err(sq(&path))?;
            tx.execute(
                "INSERT OR REPLACE INTO file_positions (dev, ino, fingerprint, head_len, head_hash, prefix, born, path, offset, line, marker, size, mtime, complete, skipping, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    cp.id.0 as i64,
                    cp.id.1 as i64,
                    hex(cp.fingerprint),
                    cp.head_len as i64,
                    hex(cp.head_hash),
                    hex(cp.prefix),
                    cp.born,
                    cp.path.to_string_lossy(),
                    cp.offset as i64,
                    cp.line as i64,
                    hex(cp.marker),
                    cp.size as i64,
                    cp.mtime_ms,
                    cp.complete,
                    cp.skipping,
                    jiff::Timestamp::now().as_millisecond()
                ],
            )
            .map_err(sq(&path))?;
        }
        tx.commit().map_err(sq(&path))?;
        Ok(out)
    }
}

/// One tailed chunk for [`Store::record_chunks`]: its diagnosed denials (prepared), the role
/// changes it showed, and the checkpoint after it.
pub type Chunk<'a> = (
    &'a super::Prepared,
    &'a [Change],
    &'a crate::ingest::tail::Checkpoint,
);
