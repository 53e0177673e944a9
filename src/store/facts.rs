//! Imported facts: principals, managed and resource policies, functions, mappings, organization
//! policies. One transaction per imported file; importing the same entity again replaces it.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::Evidence;
use super::{Store, StoreError, sq};
use crate::evaluate::gather::PolicySource;
use crate::import::{Fact, Imported};
use crate::parse::Change;
use crate::policy::snapshot::{FunctionRow, OrganizationRow, PrincipalRow};
use crate::suggest::Suggestion;

pub(super) const SCHEMA_V2: &str = "
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

/// What one import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub roles: u64,
    pub users: u64,
    pub groups: u64,
    pub managed_policies: u64,
    pub resource_policies: u64,
    pub functions: u64,
    pub mappings: u64,
    pub org_policies: u64,
    pub org_links: u64,
    pub user_pools: u64,
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Store {
    /// Stores the facts of one file in one transaction.
    pub fn import(&mut self, imp: &Imported, file: &str) -> Result<ImportCounts, StoreError> {
        let path = self.path.clone();
        let now = jiff::Timestamp::now().as_millisecond();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let mut c = ImportCounts::default();
        for f in &imp.facts {
            match f {
                Fact::Principal(p) => {
                    let existing: Option<(String, String)> = tx
                        .query_row(
                            "SELECT attached, inline FROM principals WHERE arn = ?1",
                            params![p.arn],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()
                        .map_err(sq(&path))?;
                    // Fields this file does not carry keep their stored values.
                    let (old_attached, old_inline) =
                        existing.unwrap_or_else(|| ("[]".into(), "[]".into()));
                    let attached = p.attached.as_ref().map(json_text).unwrap_or(old_attached);
                    let inline = p.inline.as_ref().map(json_text).unwrap_or(old_inline);
                    tx.execute(
                        "INSERT INTO principals (arn, kind, name, path, account, id, trust, boundary, tags, groups, attached, inline, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                         ON CONFLICT(arn) DO UPDATE SET kind = excluded.kind, name = excluded.name, path = excluded.path,
                           account = excluded.account, id = COALESCE(excluded.id, id),
                           trust = COALESCE(excluded.trust, trust),
                           boundary = CASE WHEN ?15 THEN excluded.boundary ELSE boundary END,
                           tags = CASE WHEN ?16 THEN excluded.tags ELSE tags END,
                           groups = CASE WHEN ?17 THEN excluded.groups ELSE groups END,
                           attached = excluded.attached, inline = excluded.inline,
                           imported_at = excluded.imported_at, source = excluded.source",
                        params![
                            p.arn,
                            p.kind,
                            p.name,
                            p.path,
                            p.account,
                            p.id,
                            p.trust.as_ref().map(json_text),
                            p.boundary.clone().flatten(),
                            json_text(&p.tags.clone().unwrap_or_default()),
                            json_text(&p.groups.clone().unwrap_or_default()),
                            attached,
                            inline,
                            now,
                            file,
                            p.boundary.is_some(),
                            p.tags.is_some(),
                            p.groups.is_some(),
                        ],
                    )
                    .map_err(sq(&path))?;
                    match p.kind {
                        "role" => c.roles += 1,
                        "user" => c.users += 1,
                        _ => c.groups += 1,
                    }
                }
                Fact::Managed(m) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO managed_policies (arn, name, version, document, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![m.arn, m.name, m.version, json_text(&m.document), now, file],
                    )
                    .map_err(sq(&path))?;
                    // An export that lists every version replaces the known other versions;
                    // the default one is never kept among them.
                    if let Some(others) = &m.other_versions {
                        tx.execute(
                            "DELETE FROM managed_policy_versions WHERE arn = ?1",
                            params![m.arn],
                        )
                        .map_err(sq(&path))?;
                        for (version, document) in others {
                            insert_version(&tx, &m.arn, version, document, now, &path)?;
                        }
                    } else if let Some(v) = &m.version {
                        tx.execute(
                            "DELETE FROM managed_policy_versions WHERE arn = ?1 AND version = ?2",
                            params![m.arn, v],
                        )
                        .map_err(sq(&path))?;
                    }
                    c.managed_policies += 1;
                }
                Fact::UserPool(u) => {
                    let triggers: serde_json::Map<String, Value> = u
                        .triggers
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    tx.execute(
                        "INSERT OR REPLACE INTO user_pools (id, arn, triggers, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![u.id, u.arn, Value::Object(triggers).to_string(), now, file],
                    )
                    .map_err(sq(&path))?;
                    c.user_pools += 1;
                }
                Fact::ManagedVersion {
                    arn,
                    version,
                    document,
                } => {
                    insert_version(&tx, arn, version, document, now, &path)?;
                }
                Fact::ResourcePolicy(r) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO resource_policies (resource_arn, service, document, imported_at, source, account)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![r.resource_arn, r.service, json_text(&r.document), now, file, r.account],
                    )
                    .map_err(sq(&path))?;
                    c.resource_policies += 1;
                }
                Fact::Function(f) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO functions (arn, name, role, kms_key, vpc_subnets, tracing, dead_letter, log_group, imported_at, source, file_systems)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        params![f.arn, f.name, f.role, f.kms_key, json_text(&f.vpc_subnets), f.tracing, f.dead_letter, f.log_group, now, file, json_text(&f.file_systems)],
                    )
                    .map_err(sq(&path))?;
                    c.functions += 1;
                }
                Fact::Mapping(m) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO mappings (uuid, function_arn, source_arn, state, last_result, kms_key, on_failure, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![m.uuid, m.function_arn, m.source_arn, m.state, m.last_result, m.kms_key, m.on_failure, now, file],
                    )
                    .map_err(sq(&path))?;
                    c.mappings += 1;
                }
                Fact::OrgPolicy(o) => {
                    tx.execute(
                        "INSERT INTO org_policies (id, arn, name, kind, document, imported_at, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT(id) DO UPDATE SET arn = COALESCE(excluded.arn, arn), name = COALESCE(excluded.name, name),
                           kind = excluded.kind, document = COALESCE(excluded.document, document),
                           imported_at = excluded.imported_at, source = excluded.source",
                        params![o.id, o.arn, o.name, o.kind, o.document.as_ref().map(json_text), now, file],
                    )
                    .map_err(sq(&path))?;
                    c.org_policies += 1;
                }
                Fact::Organization(o) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO organization (id, management_account, imported_at, source) VALUES (?1, ?2, ?3, ?4)",
                        params![o.id, o.management_account, now, file],
                    )
                    .map_err(sq(&path))?;
                    c.org_links += 1;
                }
                Fact::OrgTarget { policy_id, target } => {
                    tx.execute(
                        "INSERT OR IGNORE INTO org_targets (policy_id, target) VALUES (?1, ?2)",
                        params![policy_id, target],
                    )
                    .map_err(sq(&path))?;
                    c.org_links += 1;
                }
                Fact::OrgParent { child, parent } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO org_parents (child, parent) VALUES (?1, ?2)",
                        params![child, parent],
                    )
                    .map_err(sq(&path))?;
                    c.org_links += 1;
                }
            }
        }
        tx.execute(
            "INSERT INTO imports (file, format, at) VALUES (?1, ?2, ?3)",
            params![file, imp.format, now],
        )
        .map_err(sq(&path))?;
        tx.commit().map_err(sq(&path))?;
        Ok(c)
    }

    /// When policies were last imported (epoch ms), if ever.
    pub fn last_import_ms(&self) -> Option<i64> {
        self.query_cached("SELECT MAX(at) FROM imports", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .ok()
        .flatten()
    }

    fn principal_row(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Option<PrincipalRow> {
        self.query_cached(sql, args, |r| {
            let kind: String = r.get(1)?;
            let parse = |i: usize| -> rusqlite::Result<String> { r.get(i) };
            Ok(PrincipalRow {
                arn: r.get(0)?,
                kind: match kind.as_str() {
                    "role" => "role",
                    "user" => "user",
                    _ => "group",
                },
                name: r.get(2)?,
                path: r.get(3)?,
                account: r.get(4)?,
                id: r.get(5)?,
                trust: r
                    .get::<_, Option<String>>(6)?
                    .and_then(|t| serde_json::from_str(&t).ok()),
                boundary: Some(r.get(7)?),
                tags: serde_json::from_str(&parse(8)?).ok(),
                groups: serde_json::from_str(&parse(9)?).ok(),
                attached: serde_json::from_str(&parse(10)?).ok(),
                inline: serde_json::from_str(&parse(11)?).ok(),
            })
        })
        .optional()
        .ok()
        .flatten()
    }
}

const PRINCIPAL_COLUMNS: &str = "SELECT arn, kind, name, path, account, id, trust, boundary, tags, groups, attached, inline FROM principals";

impl Store {
    /// One row through a cached prepared statement: policy lookups run once per denial.
    fn query_cached<
        T,
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    >(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }
}

impl Store {
    /// The stored policy document that `sql` selects by one key, decoded.
    fn document(&self, sql: &str, key: &str) -> Option<Arc<Value>> {
        self.query_cached(sql, params![key], |r| r.get::<_, String>(0))
            .optional()
            .ok()
            .flatten()
            .and_then(|d| serde_json::from_str(&d).ok())
            .map(Arc::new)
    }
}

impl PolicySource for Store {
    fn principal(&self, arn: &str) -> Option<Arc<PrincipalRow>> {
        if let Some(p) = self.principal_row(&format!("{PRINCIPAL_COLUMNS} WHERE arn = ?1"), &[&arn])
        {
            return Some(Arc::new(p));
        }
        // A role or user named without its path (session ARNs drop it).
        let a = crate::policy::arn::Principal::parse(arn)?;
        let kind = match a.kind {
            crate::policy::arn::PrincipalKind::Role
            | crate::policy::arn::PrincipalKind::AssumedRole => "role",
            crate::policy::arn::PrincipalKind::User => "user",
            _ => return None,
        };
        self.principal_row(
            &format!("{PRINCIPAL_COLUMNS} WHERE account = ?1 AND kind = ?2 AND name = ?3"),
            &[&a.account, &kind, &a.name],
        )
        .map(Arc::new)
    }

    fn group(&self, account: &str, name: &str) -> Option<Arc<PrincipalRow>> {
        self.principal_row(
            &format!("{PRINCIPAL_COLUMNS} WHERE account = ?1 AND kind = 'group' AND name = ?2"),
            &[&account, &name],
        )
        .map(Arc::new)
    }

    fn managed(&self, arn: &str) -> Option<Arc<Value>> {
        self.document("SELECT document FROM managed_policies WHERE arn = ?1", arn)
    }

    fn mapping_functions(&self, source_arn: &str) -> Vec<String> {
        let Ok(mut st) = self.conn.prepare_cached(
            "SELECT DISTINCT function_arn FROM mappings WHERE source_arn = ?1 AND function_arn IS NOT NULL ORDER BY function_arn",
        ) else {
            return Vec::new();
        };
        st.query_map(params![source_arn], |r| r.get(0))
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default()
    }

    fn user_pool_trigger(&self, pool_id: &str, trigger: &str) -> Option<String> {
        let text: String = self
            .conn
            .prepare_cached("SELECT triggers FROM user_pools WHERE id = ?1")
            .ok()?
            .query_row(params![pool_id], |r| r.get(0))
            .optional()
            .ok()??;
        let triggers: serde_json::Map<String, Value> = serde_json::from_str(&text).ok()?;
        // The message writes the trigger as LambdaConfig names it (`PreSignUp`); compare
        // without case all the same.
        triggers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(trigger))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    }

    fn managed_versions(&self, arn: &str) -> Vec<(String, Arc<Value>)> {
        let Ok(mut st) = self
            .conn
            .prepare_cached("SELECT version, document FROM managed_policy_versions WHERE arn = ?1")
        else {
            return Vec::new();
        };
        let rows = st.query_map(params![arn], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        });
        let mut out: Vec<(String, Arc<Value>)> = rows
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter_map(|(v, d)| Some((v, Arc::new(serde_json::from_str(&d).ok()?))))
                    .collect()
            })
            .unwrap_or_default();
        // v10 after v9: IAM numbers versions v1, v2, ...
        out.sort_by_key(|(v, _)| v.trim_start_matches('v').parse::<u64>().unwrap_or(0));
        out
    }

    fn resource_policy(&self, resource_arn: &str) -> Option<Arc<Value>> {
        self.document(
            "SELECT document FROM resource_policies WHERE resource_arn = ?1",
            resource_arn,
        )
    }

    fn imported_at(&self) -> Option<i64> {
        self.last_import_ms()
    }

    fn resource_owner(&self, resource_arn: &str) -> Option<String> {
        self.query_cached(
            "SELECT account FROM resource_policies WHERE resource_arn = ?1",
            params![resource_arn],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()
        .ok()
        .flatten()
        .flatten()
    }

    fn organization(&self) -> Option<OrganizationRow> {
        self.query_cached(
            "SELECT id, management_account FROM organization ORDER BY imported_at DESC LIMIT 1",
            [],
            |r| {
                Ok(OrganizationRow {
                    id: r.get(0)?,
                    management_account: r.get(1)?,
                })
            },
        )
        .optional()
        .ok()
        .flatten()
    }

    fn org_policies_for(&self, target: &str) -> Vec<(String, String, Value)> {
        let Ok(mut st) = self.conn.prepare_cached(
            "SELECT p.id, COALESCE(p.arn, p.id), p.kind, p.document FROM org_targets t JOIN org_policies p ON p.id = t.policy_id
             WHERE t.target = ?1",
        ) else {
            return Vec::new();
        };
        let rows = st.query_map(params![target], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        });
        let mut out = Vec::new();
        if let Ok(rows) = rows {
            for (name, kind, doc) in rows.flatten() {
                let doc = doc
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or(Value::Null);
                out.push((name, kind, doc));
            }
        }
        out
    }

    fn org_parent(&self, child: &str) -> Option<String> {
        self.query_cached(
            "SELECT parent FROM org_parents WHERE child = ?1",
            params![child],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten()
    }

    fn has_org_policies(&self) -> bool {
        self.query_cached("SELECT EXISTS (SELECT 1 FROM org_targets)", [], |r| {
            r.get::<_, bool>(0)
        })
        .unwrap_or(false)
    }

    fn function(&self, name_or_arn: &str) -> Option<FunctionRow> {
        let sql = "SELECT arn, name, role, kms_key, vpc_subnets, tracing, dead_letter, log_group, file_systems FROM functions WHERE arn = ?1 OR name = ?1 ORDER BY imported_at DESC LIMIT 1";
        self.query_cached(sql, params![name_or_arn], |r| {
            let subnets: String = r.get(4)?;
            Ok(FunctionRow {
                arn: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
                kms_key: r.get(3)?,
                vpc_subnets: serde_json::from_str(&subnets).unwrap_or_default(),
                tracing: r.get(5)?,
                dead_letter: r.get(6)?,
                log_group: r.get(7)?,
                file_systems: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
            })
        })
        .optional()
        .ok()
        .flatten()
    }
}

pub(super) const SCHEMA_V3: &str = "
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

/// (finding id, principal, first seen, last seen, explanation JSON).
type PropagationRow = (String, String, Option<i64>, Option<i64>, String);

/// How far from a denial a change to its role is taken as the reason for it.
const PROPAGATION_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Inserts changes inside an open transaction. A role change already stored is kept once; a
/// user pool's triggers replace what is stored only when they are newer (an export imported
/// later, or a later update in the logs, wins), so reading logs out of order changes nothing.
fn insert_role_changes(
    tx: &rusqlite::Transaction<'_>,
    changes: &[Change],
    path: &std::path::Path,
) -> Result<(), StoreError> {
    let mut roles = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO role_changes (account, role_name, event_name, time, event_id, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sq(path))?;
    let mut pools = tx
        .prepare_cached(
            "INSERT INTO user_pools (id, arn, triggers, imported_at, source) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET triggers = excluded.triggers, imported_at = excluded.imported_at,
                source = excluded.source, arn = COALESCE(user_pools.arn, excluded.arn)
             WHERE excluded.imported_at > user_pools.imported_at",
        )
        .map_err(sq(path))?;
    for c in changes {
        match c {
            Change::Role(c) => roles.execute(params![
                c.account,
                c.role_name,
                c.event_name,
                c.time.map(|t| t.as_millisecond()),
                c.event_id,
                c.detail
            ]),
            Change::UserPool(u) => {
                let triggers: serde_json::Map<String, Value> = u
                    .triggers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                let arn = match (&u.region, &u.account) {
                    (Some(r), Some(a)) => Some(format!(
                        "arn:aws:cognito-idp:{r}:{a}:userpool/{}",
                        u.pool_id
                    )),
                    _ => None,
                };
                let source = format!("CloudTrail {}", u.event_id.as_deref().unwrap_or("event"));
                pools.execute(params![
                    u.pool_id,
                    arn,
                    Value::Object(triggers).to_string(),
                    u.time.map_or(0, |t| t.as_millisecond()),
                    source
                ])
            }
        }
        .map_err(sq(path))?;
    }
    Ok(())
}

impl Store {
    /// Stores successful role changes seen in the logs (once each).
    pub fn record_changes(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        insert_role_changes(&tx, changes, &path)?;
        tx.commit().map_err(sq(&path))?;
        Ok(())
    }

    /// Adds to each propagation finding the change to its role nearest its denials, when the
    /// logs show one within minutes: the evidence that the grant was too recent.
    pub fn annotate_propagation(&mut self) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let rows: Vec<PropagationRow> = {
            let mut st = self
                .conn
                .prepare("SELECT id, COALESCE(principal, ''), first_seen, last_seen, explanation FROM findings WHERE cause = 'propagation'")
                .map_err(sq(&path))?;
            let it = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(sq(&path))?;
            it.filter_map(Result::ok).collect()
        };
        let mut n = 0;
        for (id, principal, first, last, explanation) in rows {
            let (Some(first), Some(last)) = (first, last) else {
                continue;
            };
            let Some(role) = crate::policy::arn::role_name(&principal) else {
                continue;
            };
            let change: Option<(String, i64, Option<String>)> = self.query_cached(
                    "SELECT event_name, time, detail FROM role_changes WHERE role_name = ?1 AND time BETWEEN ?2 AND ?3
                     ORDER BY ABS(time - ?4) LIMIT 1",
                    params![role, first - PROPAGATION_WINDOW_MS, last + PROPAGATION_WINDOW_MS, first],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(sq(&path))?;
            let Some((event, at, detail)) = change else {
                continue;
            };
            let mut lines: Vec<String> = serde_json::from_str(&explanation).unwrap_or_default();
            let secs = (at - first) / 1000;
            let when = if secs >= 0 {
                format!("{secs} s after the first denial: the grant came after it")
            } else {
                format!(
                    "{} s before the first denial: IAM had not finished applying it",
                    -secs
                )
            };
            let line = format!(
                "The logs show {event}{} on {role} at {} ({when}).",
                detail.map(|d| format!(" ({d})")).unwrap_or_default(),
                super::format_ms(at)
            );
            if lines.contains(&line) {
                continue;
            }
            lines.push(line);
            self.conn
                .execute(
                    "UPDATE findings SET explanation = ?1 WHERE id = ?2",
                    params![serde_json::to_string(&lines).unwrap_or_default(), id],
                )
                .map_err(sq(&path))?;
            n += 1;
        }
        Ok(n)
    }
}

/// The owner of each resource policy (an S3 bucket's ARN has no account), and the
/// organization's id and management account.
pub(super) const SCHEMA_V6: &str = "
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
pub(super) const SCHEMA_V7: &str = "
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
pub(super) const SCHEMA_V8: &str = "
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
pub(super) const SCHEMA_V9: &str = "
CREATE TABLE user_pools (
    id TEXT PRIMARY KEY,
    arn TEXT,
    triggers TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
";

pub(super) const SCHEMA_V4: &str = "
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

fn insert_version(
    tx: &rusqlite::Transaction<'_>,
    arn: &str,
    version: &str,
    document: &Value,
    now: i64,
    path: &std::path::Path,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO managed_policy_versions (arn, version, document, imported_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![arn, version, json_text(document), now],
    )
    .map_err(sq(path))?;
    Ok(())
}

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
            out.push(super::record_in(&tx, batch, &path)?);
            insert_role_changes(&tx, changes, &path)?;
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

/// One tailed chunk for [`Store::record_chunks`]: its diagnosed denials, the role changes it
/// showed, and the checkpoint after it.
pub type Chunk<'a> = (
    &'a [(Suggestion, Evidence)],
    &'a [Change],
    &'a crate::ingest::tail::Checkpoint,
);
