//! The database's schema, version by version: each migration takes a database one version up,
//! inside the transaction that checks the version, so two processes never both apply one.

use super::*;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 12;

/// Migrations: entry `i` takes a database from version `i` to `i + 1`.
pub(super) const MIGRATIONS: [&str; 12] = [
    SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7, SCHEMA_V8,
    SCHEMA_V9, SCHEMA_V10, SCHEMA_V11, SCHEMA_V12,
];

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

const SCHEMA_V2: &str = "
CREATE TABLE principals (
    arn TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    account TEXT NOT NULL,
    id TEXT,
    trust TEXT,
    boundary TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    groups TEXT NOT NULL DEFAULT '[]',
    attached TEXT NOT NULL DEFAULT '[]',
    inline TEXT NOT NULL DEFAULT '[]',
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX principals_name ON principals(account, kind, name);
CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT,
    document TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE resource_policies (
    resource_arn TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    document TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE functions (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT,
    kms_key TEXT,
    vpc_subnets TEXT NOT NULL DEFAULT '[]',
    tracing TEXT,
    dead_letter TEXT,
    log_group TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX functions_name ON functions(name);
CREATE TABLE mappings (
    uuid TEXT PRIMARY KEY,
    function_arn TEXT,
    source_arn TEXT,
    state TEXT,
    last_result TEXT,
    kms_key TEXT,
    on_failure TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE org_policies (
    id TEXT PRIMARY KEY,
    arn TEXT,
    name TEXT,
    kind TEXT NOT NULL,
    document TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE org_targets (
    policy_id TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (policy_id, target)
);
CREATE TABLE org_parents (
    child TEXT PRIMARY KEY,
    parent TEXT NOT NULL
);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    format TEXT NOT NULL,
    at INTEGER NOT NULL
);
";

const SCHEMA_V3: &str = "
CREATE TABLE role_changes (
    id INTEGER PRIMARY KEY,
    account TEXT,
    role_name TEXT NOT NULL,
    event_name TEXT NOT NULL,
    time INTEGER,
    event_id TEXT UNIQUE,
    detail TEXT
);
CREATE INDEX role_changes_role ON role_changes(role_name, time);
";

const SCHEMA_V4: &str = "
CREATE TABLE checkpoints (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    line INTEGER NOT NULL,
    marker TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    skipping INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
";

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

/// The owner of each resource policy (an S3 bucket's ARN has no account), and the
/// organization's id and management account.
const SCHEMA_V6: &str = "
ALTER TABLE resource_policies ADD COLUMN account TEXT;
ALTER TABLE functions ADD COLUMN file_systems TEXT NOT NULL DEFAULT '[]';
CREATE TABLE organization (
    id TEXT PRIMARY KEY,
    management_account TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
";

/// Files tailed are identified by device and inode, checked against a hash of their head;
/// positions stored before keep their fingerprint and `dev = ino = 0` until a file claims them.
const SCHEMA_V7: &str = "
CREATE TABLE file_positions (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    head_len INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    prefix TEXT NOT NULL,
    born INTEGER NOT NULL,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    line INTEGER NOT NULL,
    marker TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    skipping INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (dev, ino, fingerprint)
);
INSERT INTO file_positions
    SELECT 0, 0, fingerprint, 0, '0000000000000000', '0000000000000000', 0, path, offset, line, marker, size, mtime, complete, skipping, updated
    FROM checkpoints;
DROP TABLE checkpoints;
ALTER TABLE suppressions ADD COLUMN exact INTEGER NOT NULL DEFAULT 0;
ALTER TABLE suppressions ADD COLUMN finding TEXT;
ALTER TABLE findings ADD COLUMN denial TEXT;
";

/// The non-default versions of managed policies: a permissions boundary whose newer version
/// already allows a denied call is fixed by making that version the default.
const SCHEMA_V8: &str = "
CREATE TABLE managed_policy_versions (
    arn TEXT NOT NULL,
    version TEXT NOT NULL,
    document TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (arn, version)
);
";

/// Cognito user pools and their triggers (`describe-user-pool`): a trigger's failure names the
/// trigger, not the function.
const SCHEMA_V9: &str = "
CREATE TABLE user_pools (
    id TEXT PRIMARY KEY,
    arn TEXT,
    triggers TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
";

/// The KMS key each table or secret is encrypted with (`describe-table`, `describe-secret`,
/// or seen in the logs): their own failures name no key.
const SCHEMA_V10: &str = "
CREATE TABLE encryption_keys (
    resource TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
";

/// HTTP APIs' routes and integrations (`apigatewayv2 get-routes`, `get-integrations`): an
/// access log names the route that failed, never its function.
const SCHEMA_V11: &str = "
CREATE TABLE http_routes (
    api_id TEXT NOT NULL,
    route_key TEXT NOT NULL,
    target TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (api_id, route_key)
);
CREATE TABLE http_integrations (
    api_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    uri TEXT,
    credentials TEXT,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (api_id, integration_id)
);
";

/// Two indexes a replay with many denials paid for at every commit, rebuilt:
/// - Evidence is unique by its event's time and its key, in that order: keys are hashes and
///   event ids, so an index of keys alone took each new piece of evidence to a random page,
///   and each commit rewrote most of that index. Led by the time, new evidence lands where the
///   latest did (logs are read in about the order they were written). The same record always
///   gives the same time and key; evidence without a time has 0.
/// - A finding's key is no longer indexed: its id is the key's hash and the upsert's conflict
///   target, and nothing looks a finding up by key, but every new finding wrote that index
///   (122-byte keys in random order) too.
const SCHEMA_V12: &str = "
CREATE TABLE findings_v12 (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
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
    updated_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    resolved_at INTEGER,
    denial TEXT
);
INSERT INTO findings_v12 (rowid, id, key, kind, cause, first_seen, last_seen, count, account, region,
        principal, function, action, resource, message, policy_state, explanation, fix, created_at,
        updated_at, status, resolved_at, denial)
    SELECT rowid, id, key, kind, cause, first_seen, last_seen, count, account, region,
        principal, function, action, resource, message, policy_state, explanation, fix, created_at,
        updated_at, status, resolved_at, denial FROM findings;
DROP TABLE findings;
ALTER TABLE findings_v12 RENAME TO findings;
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE INDEX findings_function ON findings(function);
CREATE TABLE evidence_v12 (
    id INTEGER PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings(id),
    ukey TEXT NOT NULL,
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
INSERT INTO evidence_v12 (id, finding_id, ukey, source, file, record, line, event_id, event_name, time, time_text, function)
    SELECT id, finding_id, ukey, source, file, record, line, event_id, event_name, time, time_text, function FROM evidence;
DROP TABLE evidence;
ALTER TABLE evidence_v12 RENAME TO evidence;
CREATE INDEX evidence_finding ON evidence(finding_id);
CREATE UNIQUE INDEX evidence_key ON evidence(ifnull(time, 0), ukey);
";

impl Store {
    pub(super) fn init(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(sq(&path))?;
        // 8 KiB pages for a new database (an existing one keeps its own): a finding's row,
        // with its stored fix, explanation and denial, is about 2.5 KB, so 4 KiB pages held one
        // row each. Measured on a 20 %-denial replay (100,000 denials, 29,000 findings): the
        // database is 133 MB instead of 170 MB and the replay 8 % faster; the page cache is
        // sized in KiB, so memory is unchanged. Set before the write-ahead log, which fixes it.
        self.conn
            .execute_batch("PRAGMA page_size = 8192")
            .map_err(sq(&path))?;
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
        // a new database at once migrate it once. A step that rebuilds a table (SQLite cannot
        // drop a column's constraint) drops the old one while rows refer to it, and copies
        // every row: foreign keys are off while migrating, as SQLite's procedure for such
        // changes says.
        self.conn
            .execute_batch("PRAGMA foreign_keys=OFF;")
            .map_err(sq(&path))?;
        let migrated = self.migrate();
        self.conn
            .execute_batch("PRAGMA foreign_keys=ON;")
            .map_err(sq(&path))?;
        migrated
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    /// A database written before schema 12 keeps its findings and evidence, finds evidence by
    /// time and key, and refuses the same piece twice.
    #[test]
    fn version_12_keeps_evidence_and_its_uniqueness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).unwrap();
        for sql in MIGRATIONS.iter().take(11) {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO findings (id, key, kind, cause, count, message, policy_state, explanation, fix, created_at, updated_at)
                 VALUES ('f1', 'k', 'access_denied', 'unknown', 2, 'm', 'unknown', '[]', '{}', 0, 0);
             INSERT INTO evidence (finding_id, ukey, source, file, record, line, time)
                 VALUES ('f1', 'ct:a', 'cloudtrail', 'x.json', 1, 1, 1700000000000),
                        ('f1', 'fp:b', 'lambda', 'y.log', 1, 1, NULL);
             PRAGMA user_version = 11;",
        )
        .unwrap();
        drop(conn);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let s = Store::open(&path).unwrap();
        let found = |t, k| s.finding_of_evidence(t, k);
        assert_eq!(
            found(Some(1_700_000_000_000), "ct:a").as_deref(),
            Some("f1")
        );
        assert_eq!(found(None, "fp:b").as_deref(), Some("f1"));
        assert_eq!(found(None, "ct:a"), None, "the time is part of the key");
        let again = s.conn.execute(
            "INSERT INTO evidence (finding_id, ukey, source, file, record, line, time)
                 VALUES ('f1', 'fp:b', 'lambda', 'y.log', 1, 1, NULL)",
            [],
        );
        assert!(again.is_err(), "evidence without a time is unique by key");
        let (rowid, count): (i64, i64) = s
            .conn
            .query_row(
                "SELECT rowid, count FROM findings WHERE id = 'f1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((rowid, count), (1, 2), "findings keep their rows");
        let fk: i64 = s
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are on again after migrating");
    }
}
