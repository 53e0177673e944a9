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
use serde::Serialize;

mod facts;
mod record;
pub use facts::Chunk;
pub(crate) use record::record_in;
pub use record::{Prepared, prepare};

pub use facts::ImportCounts;

use crate::policy::vocab::{Cause, Kind, PolicyState, Target};
use crate::suggest::Fix;
use crate::suggest::Suggestion;

mod vocab_sql;

/// How long one statement waits for another process's write transaction to end.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 9;

/// Migrations: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: [&str; 9] = [
    SCHEMA_V1,
    facts::SCHEMA_V2,
    facts::SCHEMA_V3,
    facts::SCHEMA_V4,
    SCHEMA_V5,
    facts::SCHEMA_V6,
    facts::SCHEMA_V7,
    facts::SCHEMA_V8,
    facts::SCHEMA_V9,
];

/// Lifecycle and noise control: a finding is open or resolved; suppressions hide findings.
const SCHEMA_V5: &str = "
ALTER TABLE findings ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE findings ADD COLUMN resolved_at INTEGER;
CREATE TABLE suppressions (
    id INTEGER PRIMARY KEY,
    principal TEXT,
    action TEXT,
    resource TEXT,
    cause TEXT,
    function TEXT,
    reason TEXT NOT NULL,
    until INTEGER,
    created INTEGER NOT NULL
);
";

/// Store failures. All are fatal for the command (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's own error. Not a `source`: its text is already in this message, and error
    /// chains would print it twice.
    #[error("database {path}: {error}")]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("database {path}: cannot create: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this whydenied ({SCHEMA_VERSION}); upgrade whydenied"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("database {path} is writable by other users; refusing to use it (chmod 600)")]
    WorldWritable { path: PathBuf },
    #[error(
        "the directory {dir} of the database is writable by other users, who could replace it; refusing to use it (chmod 700, or the sticky bit)"
    )]
    DirectoryOpen { dir: PathBuf },
    #[error(
        "database {path} is a symbolic link to {target}, which does not exist; refusing to create it there"
    )]
    DanglingLink { path: PathBuf, target: PathBuf },
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

/// One piece of evidence for a finding, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub source: String,
    pub file: String,
    pub record: u64,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The natural key that makes it unique.
    #[serde(skip)]
    pub key: String,
    /// The key an older build gave the same evidence, also looked for before storing it.
    #[serde(skip)]
    pub legacy_key: Option<String>,
    #[serde(skip)]
    pub time_ms: Option<i64>,
    /// The denial this evidence showed, kept with its finding (the latest) so that a later
    /// import can diagnose the finding again.
    #[serde(skip)]
    pub denial: Option<std::sync::Arc<crate::parse::Denial>>,
}

/// A finding as CONTRACT.md shapes it (field order included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub kind: Kind,
    pub cause: Cause,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub count: u64,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub function: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub policy_state: PolicyState,
    pub explanation: Vec<String>,
    pub fix: Fix,
    /// `open`, or `resolved` once a later import shows the stored policies allow it.
    pub status: String,
    pub resolved_at: Option<String>,
    /// The suppression that hides it, when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

/// A rule that hides expected denials. Every field set must match (wildcards `*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub reason: String,
    /// RFC 3339; the rule stops applying after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The fields are values to equal, not patterns: a rule made from a finding
    /// (`whydenied suppress ID`), whose resource may itself hold a literal `*`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
    /// The finding a rule was made from: it hides that finding whatever a later import says of
    /// its cause (the fields say what it was when suppressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl Suppression {
    /// Whether the rule hides `f` at time `now_ms` (an expired rule hides nothing).
    pub fn matches(&self, f: &Finding, now_ms: i64) -> bool {
        if let Some(until) = &self.until {
            match until.parse::<Timestamp>() {
                Ok(t) if t.as_millisecond() < now_ms => return false,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        if let Some(id) = &self.finding {
            return *id == f.id;
        }
        let exact = self.exact;
        let field = |pat: &Option<String>, val: &Option<String>, fold: bool| match pat {
            None => true,
            Some(p) => val.as_deref().is_some_and(|v| {
                if exact {
                    if fold {
                        p.eq_ignore_ascii_case(v)
                    } else {
                        p == v
                    }
                } else {
                    crate::policy::wildcard::matches(p, v, fold)
                }
            }),
        };
        field(&self.principal, &f.principal, false)
            && field(&self.action, &f.action, true)
            && field(&self.resource, &f.resource, false)
            && field(&self.cause, &Some(f.cause.to_string()), false)
            && field(&self.function, &f.function, false)
    }
}

/// Filters of `report`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub function: Option<String>,
    pub role: Option<String>,
    pub account: Option<String>,
    pub cause: Option<Cause>,
    pub id: Option<String>,
    /// `open` or `resolved`; None for all.
    pub status: Option<String>,
    /// Only these findings (exact ids): what a replay touched, without reading the rest.
    pub ids: Option<Vec<String>>,
    /// Keep only the latest this-many pieces of evidence per finding (`count` still says how
    /// many there are): for the service's per-update lines, which must not grow with a finding's
    /// history.
    pub evidence_limit: Option<usize>,
    /// Only what a listing shows: no message or explanation, and of the fix its target,
    /// managed policy, its statement's principal, and `verified` (read by SQLite from the
    /// stored JSON, so a table of 100,000 findings does not decode 100,000 fixes).
    pub lean: bool,
}

/// The few fields of a finding a view groups and orders by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub id: String,
    pub function: Option<String>,
    pub principal: Option<String>,
    pub last_seen_ms: Option<i64>,
    pub count: u64,
}

/// Counters of one replay, kept for `stats` and the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounters {
    pub files: u64,
    pub records: u64,
    pub denials: u64,
    pub new_evidence: u64,
    pub errors: u64,
    pub bytes: u64,
}

/// Formats epoch milliseconds as RFC 3339 UTC with second precision.
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// An open database.
pub struct Store {
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
            conn,
            path: path.to_path_buf(),
        };
        s.init()?;
        Ok(s)
    }

    /// Opens an existing database without creating or migrating it (for `explain`): None when
    /// there is none.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        check_private(path)?;
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sq(path))?;
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
            conn,
            path: path.to_path_buf(),
        }))
    }

    fn init(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(sq(&path))?;
        self.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            )
            .map_err(sq(&path))?;
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sq(&path))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path, found });
        }
        // Each step reads the version inside its own write transaction: two processes opening
        // a new database at once migrate it once.
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sq(&path))?;
            let now: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sq(&path))?;
            let Some(sql) = MIGRATIONS.get(now.max(0) as usize) else {
                break;
            };
            tx.execute_batch(sql).map_err(sq(&path))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", now + 1))
                .map_err(sq(&path))?;
            tx.commit().map_err(sq(&path))?;
        }
        Ok(())
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

    /// For a bulk writer (replay): checkpoint the write-ahead log every 10,000 pages instead
    /// of SQLite's 1,000. Every commit of a large batch dirties thousands of pages of the
    /// evidence-key index; checkpointing each commit copies the same pages into the database
    /// again and again (measured: a tenth of a 20 %-denial replay). The log grows to about
    /// 40 MB before it is folded back; readers are not affected.
    pub fn bulk_writes(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 10000")
            .map_err(sq(&path))
    }

    /// For a connection that only looks keys up: 512 KiB of page cache (SQLite's default is
    /// 2 MiB) holds the interior pages of the key index, which is what a lookup revisits.
    pub fn small_cache(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute_batch("PRAGMA cache_size = -512")
            .map_err(sq(&path))
    }

    /// The finding a stored piece of evidence belongs to.
    pub fn finding_of_evidence(&self, key: &str) -> Option<String> {
        let mut st = self
            .conn
            .prepare_cached("SELECT finding_id FROM evidence WHERE ukey = ?1")
            .ok()?;
        rusqlite::OptionalExtension::optional(st.query_row(params![key], |r| r.get(0))).ok()?
    }

    /// Stores batches [`prepare`]d elsewhere, in one transaction; returns how many pieces of
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

    /// Records the counters of a finished replay.
    pub fn record_run(
        &mut self,
        command: &str,
        started_ms: i64,
        c: &RunCounters,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT INTO runs (command, started, finished, files, records, denials, new_evidence, errors, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    command,
                    started_ms,
                    Timestamp::now().as_millisecond(),
                    c.files as i64,
                    c.records as i64,
                    c.denials as i64,
                    c.new_evidence as i64,
                    c.errors as i64,
                    c.bytes as i64
                ],
            )
            .map_err(sq(&path))?;
        Ok(())
    }

    /// Findings matching the query, newest first, with their evidence.
    pub fn findings(&self, q: &Query) -> Result<Vec<Finding>, StoreError> {
        let mut out = Vec::new();
        self.each_finding(q, &mut |f| {
            out.push(f);
            Ok(())
        })?;
        Ok(out)
    }

    /// The query's SQL for `columns` of the matching findings, newest first, and its arguments.
    fn select(q: &Query, columns: &str) -> (String, Vec<rusqlite::types::Value>) {
        let mut sql = String::from(columns);
        sql.push_str(" FROM findings WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(s) = q.since_ms {
            bind(&mut sql, " AND last_seen >= ?", s.into());
        }
        if let Some(u) = q.until_ms {
            bind(&mut sql, " AND first_seen <= ?", u.into());
        }
        if let Some(f) = &q.function {
            bind(&mut sql, " AND function = ?", f.clone().into());
        }
        if let Some(a) = &q.account {
            bind(&mut sql, " AND account = ?", a.clone().into());
        }
        if let Some(c) = &q.cause {
            bind(&mut sql, " AND cause = ?", c.as_str().to_string().into());
        }
        if let Some(id) = &q.id {
            // A prefix of the id, compared as text (no LIKE: `_` and `%` are not patterns).
            bind(
                &mut sql,
                " AND substr(id, 1, length(?)) = ?",
                id.clone().into(),
            );
        }
        if let Some(st) = &q.status {
            bind(&mut sql, " AND status = ?", st.clone().into());
        }
        if let Some(ids) = &q.ids {
            // One parameter whatever the number of ids: a JSON array, unpacked by SQLite.
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            bind(
                &mut sql,
                " AND id IN (SELECT value FROM json_each(?))",
                list.into(),
            );
        }
        if let Some(r) = &q.role {
            if r.starts_with("arn:") {
                bind(&mut sql, " AND principal = ?", r.clone().into());
            } else {
                // A role name, with or without its path: the principal is a role ARN ending
                // in `/<name>`, compared as text (no LIKE: `_` and `%` are not patterns).
                let tail = format!("/{}", r.trim_start_matches('/'));
                bind(
                    &mut sql,
                    " AND instr(principal, ':role/') > 0 AND substr(principal, -length(?)) = ?",
                    tail.into(),
                );
            }
        }
        sql.push_str(" ORDER BY last_seen IS NULL, last_seen DESC, count DESC, id");
        (sql, args)
    }

    /// What a view groups and orders findings by, for those matching the query, newest first:
    /// (id, function, principal, last seen in ms, count). Nothing else is read, so a first pass
    /// over 100,000 findings reads a few columns, not every explanation and fix.
    pub fn each_heading(
        &self,
        q: &Query,
        visit: &mut dyn FnMut(Heading),
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let (sql, args) = Self::select(q, "SELECT id, function, principal, last_seen, count");
        let mut stmt = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok(Heading {
                    id: r.get(0)?,
                    function: r.get(1)?,
                    principal: r.get(2)?,
                    last_seen_ms: r.get(3)?,
                    count: r.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .map_err(sq(&path))?;
        for r in rows {
            visit(r.map_err(sq(&path))?);
        }
        Ok(())
    }

    /// Hands the findings matching the query to `visit` one at a time, newest first, each with
    /// its evidence, so that printing a large store holds one finding in memory, not all.
    pub fn each_finding(
        &self,
        q: &Query,
        visit: &mut dyn FnMut(Finding) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let (sql, args) = Self::select(
            q,
            if q.lean {
                "SELECT id, kind, cause, first_seen, last_seen, count, account, region, principal, function, action,
                    resource, '', policy_state, '[]',
                    json_object('target', fix ->> '$.target', 'managed_policy_arn', fix ->> '$.managed_policy_arn',
                        'statement', CASE WHEN json_type(fix, '$.statement') IN ('object', 'array')
                            THEN json_object('Principal', json(fix -> '$.statement.Principal')) END,
                        'commands', json('[]'), 'verified', json(fix -> '$.verified'), 'notes', json('[]')),
                    status, resolved_at"
            } else {
                "SELECT id, kind, cause, first_seen, last_seen, count, account, region, principal, function, action,
                    resource, message, policy_state, explanation, fix, status, resolved_at"
            },
        );
        let mut stmt = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let explanation: String = r.get(14)?;
                let fix: String = r.get(15)?;
                let first: Option<i64> = r.get(3)?;
                let last: Option<i64> = r.get(4)?;
                let count: i64 = r.get(5)?;
                Ok(Finding {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    cause: r.get(2)?,
                    first_seen: first.map(format_ms),
                    last_seen: last.map(format_ms),
                    count: count.max(0) as u64,
                    account: r.get(6)?,
                    region: r.get(7)?,
                    principal: r.get(8)?,
                    function: r.get(9)?,
                    action: r.get(10)?,
                    resource: r.get(11)?,
                    message: r.get(12)?,
                    evidence: Vec::new(),
                    policy_state: r.get(13)?,
                    explanation: serde_json::from_str(&explanation).unwrap_or_default(),
                    fix: serde_json::from_str(&fix).unwrap_or_else(|_| Fix {
                        target: Target::None,
                        managed_policy_arn: None,
                        statement: None,
                        commands: Vec::new(),
                        verified: None,
                        notes: Vec::new(),
                        all_statements: Vec::new(),
                        account: None,
                    }),
                    status: r.get(16)?,
                    resolved_at: r.get::<_, Option<i64>>(17)?.map(format_ms),
                    suppressed: None,
                })
            })
            .map_err(sq(&path))?;
        // The latest `limit` rows, oldest first: taken newest-first, then put back in order.
        let limit = q
            .evidence_limit
            .map_or(-1, |n| n.min(i64::MAX as usize) as i64);
        let mut ev = self
            .conn
            .prepare_cached(
                "SELECT * FROM (
                    SELECT source, file, record, line, event_id, event_name, time_text, function, ukey, time, id
                    FROM evidence WHERE finding_id = ?1
                    ORDER BY time IS NOT NULL, time DESC, id DESC LIMIT ?2)
                 ORDER BY time IS NULL, time, id",
            )
            .map_err(sq(&path))?;
        for r in rows {
            let mut f = r.map_err(sq(&path))?;
            if limit == 0 {
                visit(f)?;
                continue;
            }
            let rows = ev
                .query_map(params![f.id, limit], |r| {
                    let record: i64 = r.get(2)?;
                    let line: i64 = r.get(3)?;
                    Ok(Evidence {
                        source: r.get(0)?,
                        file: r.get(1)?,
                        record: record.max(0) as u64,
                        line: line.max(0) as u64,
                        event_id: r.get(4)?,
                        event_name: r.get(5)?,
                        time: r.get(6)?,
                        function: r.get(7)?,
                        key: r.get(8)?,
                        time_ms: r.get(9)?,
                        denial: None,
                        legacy_key: None,
                    })
                })
                .map_err(sq(&path))?;
            for e in rows {
                f.evidence.push(e.map_err(sq(&path))?);
            }
            visit(f)?;
        }
        Ok(())
    }
}

/// What a write stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Pieces of evidence not seen before.
    pub new: u64,
    /// Findings that gained evidence, and whether each was created by it.
    pub touched: Vec<(String, bool)>,
}

const SCHEMA_V1: &str = "
CREATE TABLE findings (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    cause TEXT NOT NULL,
    first_seen INTEGER,
    last_seen INTEGER,
    count INTEGER NOT NULL DEFAULT 0,
    account TEXT,
    region TEXT,
    principal TEXT,
    function TEXT,
    action TEXT,
    resource TEXT,
    message TEXT NOT NULL,
    policy_state TEXT NOT NULL,
    explanation TEXT NOT NULL,
    fix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE INDEX findings_function ON findings(function);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings(id),
    ukey TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    record INTEGER NOT NULL,
    line INTEGER NOT NULL,
    event_id TEXT,
    event_name TEXT,
    time INTEGER,
    time_text TEXT,
    function TEXT
);
CREATE INDEX evidence_finding ON evidence(finding_id);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started INTEGER NOT NULL,
    finished INTEGER NOT NULL,
    files INTEGER NOT NULL,
    records INTEGER NOT NULL,
    denials INTEGER NOT NULL,
    new_evidence INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
";

/// Creates the database file 0600 (and its directory 0700) before SQLite opens it, so it is
/// never readable by others, not even for a moment. Refuses a world-writable existing file.
/// Refuses a database others could write or replace: the file or its write-ahead log writable
/// by group or world, a directory writable by others without the sticky bit, or a symbolic
/// link to nothing (opening it would create the file wherever the link points). A planted
/// database would show its own "fix" commands.
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.file_type().is_symlink()
        && std::fs::metadata(path).is_err()
    {
        return Err(StoreError::DanglingLink {
            path: path.to_path_buf(),
            target: std::fs::read_link(path).unwrap_or_default(),
        });
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for file in [real.clone(), sidecar(&real, "-wal")] {
        if let Ok(m) = std::fs::metadata(&file)
            && m.permissions().mode() & 0o022 != 0
        {
            return Err(StoreError::WorldWritable { path: file });
        }
    }
    if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(m) = std::fs::metadata(dir)
    {
        let mode = m.permissions().mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(StoreError::DirectoryOpen {
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// `db` with `suffix` appended to its file name (SQLite's `-wal`, `-shm`).
fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    check_private(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(_) => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            Ok(())
        }
    }
}

impl Store {
    /// Stores a suppression rule.
    pub fn add_suppression(&mut self, s: &Suppression) -> Result<(), StoreError> {
        let path = self.path.clone();
        let until = s
            .until
            .as_deref()
            .and_then(|u| u.parse::<Timestamp>().ok())
            .map(|t| t.as_millisecond());
        self.conn
            .execute(
                "INSERT INTO suppressions (principal, action, resource, cause, function, reason, until, created, exact, finding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![s.principal, s.action, s.resource, s.cause, s.function, s.reason, until, Timestamp::now().as_millisecond(), s.exact, s.finding],
            )
            .map_err(sq(&path))?;
        Ok(())
    }

    /// The stored suppression rules.
    pub fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare("SELECT principal, action, resource, cause, function, reason, until, exact, finding FROM suppressions ORDER BY id")
            .map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| {
                Ok(Suppression {
                    principal: r.get(0)?,
                    action: r.get(1)?,
                    resource: r.get(2)?,
                    cause: r.get(3)?,
                    function: r.get(4)?,
                    reason: r.get(5)?,
                    until: r.get::<_, Option<i64>>(6)?.map(format_ms),
                    exact: r.get(7)?,
                    finding: r.get(8)?,
                })
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(sq(&path))?);
        }
        Ok(out)
    }

    /// Open findings that keep the denial they were last seen with: up to `limit` of them with
    /// an id after `after`, in id order (so a caller can walk them all in bounded memory).
    /// With `principal`, only the findings of that principal.
    pub fn open_denials(
        &self,
        after: &str,
        limit: usize,
        principal: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, denial FROM findings WHERE status = 'open' AND denial IS NOT NULL AND id > ?1
                    AND (?3 IS NULL OR principal = ?3) ORDER BY id LIMIT ?2",
            )
            .map_err(sq(&path))?;
        let rows = st
            .query_map(params![after, limit as i64, principal], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(sq(&path))?);
        }
        Ok(out)
    }

    /// Writes what a new diagnosis says of findings (principal, cause, state, explanation,
    /// fix), keeping their ids, counts, evidence and status. Returns how many changed.
    pub fn rediagnosed(&mut self, updates: &[(String, Suggestion)]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let now = Timestamp::now().as_millisecond();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let mut changed = 0u64;
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE findings SET principal = COALESCE(?2, principal), cause = ?3, policy_state = ?4,
                        explanation = ?5, fix = ?6, resource = COALESCE(?7, resource),
                        account = COALESCE(account, ?8), region = COALESCE(region, ?9),
                        function = COALESCE(function, ?10), updated_at = ?11
                     WHERE id = ?1 AND ((?2 IS NOT NULL AND principal IS NOT ?2) OR cause IS NOT ?3
                        OR policy_state IS NOT ?4 OR explanation IS NOT ?5 OR fix IS NOT ?6
                        OR (?7 IS NOT NULL AND resource IS NOT ?7))",
                )
                .map_err(sq(&path))?;
            for (id, d) in updates {
                let explanation =
                    serde_json::to_string(&d.explanation).unwrap_or_else(|_| "[]".into());
                let fix = serde_json::to_string(&d.fix).unwrap_or_else(|_| "{}".into());
                changed += st
                    .execute(params![
                        id,
                        d.principal,
                        d.cause,
                        d.policy_state,
                        explanation,
                        fix,
                        d.resource,
                        d.account,
                        d.region,
                        d.function,
                        now
                    ])
                    .map_err(sq(&path))? as u64;
            }
        }
        tx.commit().map_err(sq(&path))?;
        Ok(changed)
    }

    /// Marks a finding resolved (its request is allowed by the policies imported since).
    pub fn resolve(&mut self, id: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "UPDATE findings SET status = 'resolved', resolved_at = ?2 WHERE id = ?1 AND status = 'open'",
                params![id, Timestamp::now().as_millisecond()],
            )
            .map_err(sq(&path))?;
        Ok(())
    }

    /// Counts for `stats`: (label, findings, denials) grouped by `column` of findings.
    pub fn counts_by(&self, column: &str) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let path = self.path.clone();
        let col = match column {
            "cause" | "kind" | "function" | "status" => column,
            _ => "cause",
        };
        let sql = format!(
            "SELECT COALESCE({col}, '-'), COUNT(*), SUM(count) FROM findings GROUP BY 1 ORDER BY 3 DESC, 1"
        );
        let mut st = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            let (k, f, d) = r.map_err(sq(&path))?;
            out.push((k, f.max(0) as u64, d.max(0) as u64));
        }
        Ok(out)
    }

    /// Denials per UTC day (from evidence times).
    pub fn denials_by_day(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare(
                "SELECT COALESCE(strftime('%Y-%m-%d', time / 1000, 'unixepoch'), 'unknown'), COUNT(*) FROM evidence
                 GROUP BY 1 ORDER BY 1",
            )
            .map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            let (d, n) = r.map_err(sq(&path))?;
            out.push((d, n.max(0) as u64));
        }
        Ok(out)
    }

    /// Ingest counters: totals of the recorded runs, and the service's unread bytes.
    pub fn ingest_counters(&self) -> Result<serde_json::Value, StoreError> {
        let path = self.path.clone();
        let runs = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(files), 0), COALESCE(SUM(records), 0), COALESCE(SUM(denials), 0),
                        COALESCE(SUM(errors), 0), COALESCE(SUM(bytes), 0), MAX(finished) FROM runs",
                [],
                |r| {
                    Ok(serde_json::json!({
                        "replays": r.get::<_, i64>(0)?,
                        "files": r.get::<_, i64>(1)?,
                        "records": r.get::<_, i64>(2)?,
                        "denials": r.get::<_, i64>(3)?,
                        "errors": r.get::<_, i64>(4)?,
                        "bytes": r.get::<_, i64>(5)?,
                        "last_replay": r.get::<_, Option<i64>>(6)?.map(format_ms),
                    }))
                },
            )
            .map_err(sq(&path))?;
        let service = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(MAX(size - offset, 0)), 0), MAX(updated) FROM file_positions WHERE complete = 0",
                [],
                |r| {
                    Ok(serde_json::json!({
                        "files_tailed": r.get::<_, i64>(0)?,
                        "lag_bytes": r.get::<_, i64>(1)?,
                        "last_commit": r.get::<_, Option<i64>>(2)?.map(format_ms),
                    }))
                },
            )
            .map_err(sq(&path))?;
        Ok(serde_json::json!({"replay": runs, "service": service}))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    /// Folding a transaction's evidence by finding gives exactly the rows that one upsert per
    /// event gives: counts, first and last seen, the latest message, the first known account,
    /// region and function, the last explanation and fix; duplicates counted once.
    #[test]
    fn grouped_writes_equal_one_write_per_event() {
        let mut seed = 0x5EED_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut events = Vec::new();
        for i in 0..400u64 {
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
            let key = if i > 0 && next(8) == 0 {
                format!("k{}", next(i))
            } else {
                format!("k{i}")
            };
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
        let mut new_grouped = 0;
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at((1 + next(60) as usize).min(rest.len()));
            new_grouped += grouped.record(batch).unwrap();
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
                            .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap();
                out.extend(rows.map(Result::unwrap));
            }
            out
        };
        let (a, b) = (dump(&one), dump(&grouped));
        assert!(a.len() > 300, "{}", a.len());
        assert_eq!(a, b);
    }
}
