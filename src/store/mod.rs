//! Store: the only module with SQL. Findings, their evidence, and run counters in SQLite.
//!
//! Invariants:
//! - A finding is keyed by (principal, action, resource, cause); its `count` is the number of its
//!   evidence rows, and an evidence row has a natural unique key (CloudTrail `eventID` with the
//!   event's time and name, a CloudWatch Logs `eventId`, else file fingerprint + offset). So
//!   reading the same input twice, or after a crash, never counts a denial twice.
//! - Writes happen in batches, one transaction each; a batch is all or nothing.
//! - The database file is created 0600 in a 0700 directory; WAL mode.
//! - The schema version lives in `PRAGMA user_version`; a newer database is refused, not touched.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, params};

mod changes;
mod checkpoints;
mod facts;
mod findings;
mod private;
mod record;
mod schema;
mod stats;
mod suppressions;
mod vocab_sql;
mod wal;

pub use checkpoints::Chunk;
pub use facts::ImportCounts;
pub use findings::{Heading, Only, Party, Query, Snapshot};
use record::record_in;
pub use record::{Prepared, prepare_with};
pub use schema::SCHEMA_VERSION;
pub use stats::{CountRow, Ingest, ReplayTotals, RunCounters, ServiceTotals, Stats};

use crate::finding::{Evidence, Finding, Suppression, format_ms};
use crate::policy::vocab::{Cause, Target};
use crate::suggest::Fix;
use crate::suggest::Suggestion;
use private::{check_private, create_private};

/// How long one statement waits for another process's write transaction to end.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Store failures. All are fatal for the command (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's own error. Not a `source`: its text is already in this message, and error
    /// chains would print it twice.
    #[error("database {path}: {error}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error (busy, corrupt, full disk...).
        error: rusqlite::Error,
    },
    /// The database file or its directory could not be created private.
    #[error("database {path}: cannot create: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// Why creating it failed.
        source: std::io::Error,
    },
    /// A newer whydenied wrote the database (schema version `found`): it is never downgraded.
    #[error(
        "database {path} has schema version {found}, newer than this whydenied ({SCHEMA_VERSION}); upgrade whydenied"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version it has.
        found: i64,
    },
    /// The database or its write-ahead log is writable by group or others: a planted database would
    /// show its own "fix" commands.
    #[error("database {path} is writable by other users; refusing to use it (chmod 600)")]
    WorldWritable {
        /// The file others may write.
        path: PathBuf,
    },
    /// The database's directory is writable by others without the sticky bit: the file could be
    /// replaced.
    #[error(
        "the directory {dir} of the database is writable by other users, who could replace it; refusing to use it (chmod 700, or the sticky bit)"
    )]
    DirectoryOpen {
        /// The directory others may change.
        dir: PathBuf,
    },
    /// `--db` is a symbolic link to nothing: opening it would create the file wherever it points.
    #[error(
        "database {path} is a symbolic link to {target}, which does not exist; refusing to create it there"
    )]
    DanglingLink {
        /// The link given as `--db`.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
}

impl StoreError {
    /// Another process holds the database past the busy timeout: trying again later works.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite {
                error: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
        )
    }
}

/// An open database.
pub struct Store {
    /// The checkpoint thread of a bulk writer, while there is one. First, so that it stops
    /// before the connection closes (the last to close folds the log back).
    beside: Option<wal::Checkpointer>,
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn sq(path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Sqlite {
        path: path.to_path_buf(),
        error,
    }
}

impl Store {
    /// Opens (creating 0600 if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        create_private(path)?;
        let conn = Connection::open(path).map_err(sq(path))?;
        let mut s = Store {
            beside: None,
            conn,
            path: path.to_path_buf(),
        };
        s.init()?;
        Ok(s)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens an existing database without creating or migrating it (for `explain`): None when
    /// there is none.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        check_private(path)?;
        if !path.exists() {
            return Ok(None);
        }
        // Without SQLite's own connection mutex, as `Connection::open` opens: a connection is
        // used by one thread at a time (rusqlite's `Connection` is not `Sync`), and the
        // mutex was taken for every column read (a tenth of a JSON report's time).
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sq(path))?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sq(path))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
            });
        }
        if found < SCHEMA_VERSION {
            // Written by an older whydenied: brought up to date once, then read.
            drop(conn);
            return Store::open(path).map(Some);
        }
        Ok(Some(Store {
            beside: None,
            conn,
            path: path.to_path_buf(),
        }))
    }

    /// Stores a batch of diagnosed denials with their evidence in one transaction. Returns how
    /// many were new (evidence not seen before).
    pub fn record(&mut self, batch: &[(Suggestion, Evidence)]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let new = record_in(&tx, batch, &path)?.new;
        tx.commit().map_err(sq(&path))?;
        Ok(new)
    }

    /// For a connection that only looks keys up: 512 KiB of page cache (SQLite's default is
    /// 2 MiB) holds the interior pages of the key index, which is what a lookup revisits.
    pub fn small_cache(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute_batch("PRAGMA cache_size = -512")
            .map_err(sq(&path))
    }

    /// Stores batches [`prepare_with`]d elsewhere, in one transaction; returns how many pieces of
    /// evidence were new.
    pub fn record_prepared(&mut self, batches: &[Prepared]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let new = record::record_prepared(&tx, batches, &path)?.new;
        tx.commit().map_err(sq(&path))?;
        Ok(new)
    }
}

/// What a write stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Pieces of evidence not seen before.
    pub new: u64,
    /// Findings that gained evidence, and whether each was created by it.
    pub touched: Vec<(String, bool)>,
    /// Tables and secrets the chunk showed a KMS key for, other than the one stored.
    pub new_keys: u64,
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use crate::policy::vocab::{Kind, PolicyState};

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Folding a transaction's evidence by finding gives exactly the rows that one upsert
        /// per event gives: counts, first and last seen, the latest message, the first known
        /// account, region and function, the last explanation and fix; duplicates counted once.
        /// The events are drawn from `draws` (who, account, region, function, time, repeats,
        /// batch sizes); a failure shrinks towards fewer events and smaller draws.
        #[test]
        fn grouped_writes_equal_one_write_per_event(
            n in 1u64..400,
            draws in proptest::collection::vec(proptest::num::u64::ANY, 4000),
        ) {
            grouped_writes_case(n, &draws);
        }
    }

    fn grouped_writes_case(n: u64, draws: &[u64]) {
        let mut draws = draws.iter().copied().cycle();
        let mut next = move |m: u64| draws.next().unwrap_or(0) % m;
        let mut events: Vec<(Suggestion, Evidence)> = Vec::new();
        for i in 0..n {
            // Now and then an event seen before, in this batch or an earlier one: the same
            // record read again is the same event.
            if i > 0 && next(8) == 0 {
                let again = events[next(i) as usize].clone();
                events.push(again);
                continue;
            }
            let who = next(5);
            let pick = |k: u64, vals: &[&str]| -> Option<String> {
                (k as usize)
                    .checked_sub(1)
                    .and_then(|k| vals.get(k))
                    .map(|v| v.to_string())
            };
            let diag = Suggestion {
                diagnosis: crate::diagnose::Diagnosis {
                    kind: Kind::AccessDenied,
                    cause: Cause::NoIdentityAllow,
                    account: pick(next(3), &["111111111111", "222222222222"]),
                    region: pick(next(3), &["eu-west-1", "us-east-1"]),
                    principal: Some(format!("arn:aws:iam::111111111111:role/r{who}")),
                    function: pick(next(3), &["f1", "f2"]),
                    action: Some("s3:GetObject".into()),
                    resource: Some("arn:aws:s3:::b/k".into()),
                    message: format!("message {i}"),
                    policy_state: PolicyState::Unknown,
                    explanation: vec![format!("explanation {i}")],
                    basis: format!("arn:aws:iam::111111111111:role/r{who}\u{1f}s3:GetObject"),
                    need: crate::diagnose::Need::default(),
                    remedy: crate::diagnose::Remedy::Built,
                },
                fix: Fix {
                    target: Target::IdentityPolicy,
                    managed_policy_arn: None,
                    statement: None,
                    commands: vec![format!("command {i}")],
                    verified: None,
                    notes: Vec::new(),
                    all_statements: Vec::new(),
                    account: None,
                },
            };
            // Few distinct times, so that ties happen; some events have none.
            let time_ms = (next(5) != 0).then(|| 1_700_000_000_000 + next(6) as i64 * 1000);
            // Now and then an event seen before, in this batch or an earlier one.
            let key = format!("k{i}");
            let ev = Evidence {
                source: "cloudtrail".into(),
                file: "f.json".into(),
                record: i,
                line: i + 1,
                event_id: Some(key.clone()),
                event_name: None,
                time: time_ms.map(format_ms),
                function: None,
                key,
                time_ms,
                denial: None,
                legacy_key: None,
            };
            events.push((diag, ev));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut one = Store::open(&dir.path().join("one.db")).unwrap();
        let mut grouped = Store::open(&dir.path().join("grouped.db")).unwrap();
        let mut new_one = 0;
        for e in &events {
            new_one += one.record(std::slice::from_ref(e)).unwrap();
        }
        // And the same batches as diagnoses whose fixes are built per finding, from the event
        // a finding keeps: the same rows, with one fix built per finding of a batch.
        let mut deferred = Store::open(&dir.path().join("deferred.db")).unwrap();
        let finish = |d: crate::diagnose::Diagnosis| {
            let mut s = events[0].0.clone();
            s.fix.commands = vec![d.message.replace("message", "command")];
            s.diagnosis = d;
            s
        };
        let mut new_grouped = 0;
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at((1 + next(60) as usize).min(rest.len()));
            new_grouped += grouped.record(batch).unwrap();
            let diagnoses: Vec<_> = batch
                .iter()
                .map(|(s, e)| (s.diagnosis.clone(), e.clone()))
                .collect();
            let findings: std::collections::HashSet<String> =
                batch.iter().map(|(s, _)| s.id()).collect();
            let mut built = 0;
            let p = record::prepare_with(diagnoses, |d| {
                built += 1;
                finish(d)
            });
            assert_eq!(built, findings.len(), "one fix per finding of the batch");
            deferred.record_prepared(&[p]).unwrap();
            rest = tail;
        }
        assert_eq!(new_one, new_grouped);
        let dump = |s: &Store| -> Vec<String> {
            let mut out = Vec::new();
            for sql in [
                "SELECT id, key, kind, cause, first_seen, last_seen, count, account, region, principal,
                        function, action, resource, message, policy_state, explanation, fix, status
                 FROM findings ORDER BY id",
                "SELECT finding_id, ukey, source, file, record, line, event_id, time, time_text
                 FROM evidence ORDER BY ukey",
            ] {
                let mut stmt = s.conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| {
                        Ok((0..n)
                            .map(|i| match r.get_ref(i).unwrap() {
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                v => format!("{v:?}"),
                            })
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap();
                out.extend(rows.map(Result::unwrap));
            }
            out
        };
        assert_eq!(dump(&grouped), dump(&deferred), "fixes built per finding");
        let (a, b) = (dump(&one), dump(&grouped));
        assert!(!a.is_empty());
        let first = a.iter().zip(&b).find(|(x, y)| x != y);
        assert_eq!(a.len(), b.len());
        assert!(
            first.is_none(),
            "one by one:\n{}\ngrouped:\n{}",
            first.unwrap().0,
            first.unwrap().1
        );
    }
}
