//! Imported facts: principals, managed and resource policies, functions, mappings, organization
//! policies. One transaction per imported file; importing the same entity again replaces it.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError, sq};
use crate::evaluate::gather::PolicySource;
use crate::import::{Fact, Imported};
use crate::policy::snapshot::{FunctionRow, HttpApiRow, HttpTarget, OrganizationRow, PrincipalRow};

/// What one import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Roles stored (authorization details, `get-role`).
    pub roles: u64,
    /// Users stored.
    pub users: u64,
    /// Groups stored.
    pub groups: u64,
    /// Managed policies stored (their default versions).
    pub managed_policies: u64,
    /// Resource policies stored (bucket, queue, topic, key, secret, function...).
    pub resource_policies: u64,
    /// Function configurations stored.
    pub functions: u64,
    /// Event source mappings stored.
    pub mappings: u64,
    /// SCPs and RCPs stored (with or without a document).
    pub org_policies: u64,
    /// Organization facts stored: the organization itself, policy attachments and parent links.
    pub org_links: u64,
    /// Cognito user pools stored.
    pub user_pools: u64,
    /// Tables and secrets whose KMS key was stored.
    pub encryption_keys: u64,
    /// HTTP API routes and integrations stored.
    pub http_api_items: u64,
}

/// A value as the JSON text a column stores. Serialising these rows cannot fail; `null` stands
/// in should it ever, so that one value never stops an import.
pub(super) fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Store {
    /// Stores the facts of one file in one transaction.
    ///
    /// The transaction is `IMMEDIATE`: it takes the write lock before reading what is stored, so a
    /// concurrent writer makes it wait (the busy timeout) rather than fail it at its first write.
    /// A principal keeps what this file does not carry (`get-role` lists no policies): its attached
    /// and inline policies, and a boundary, tags or groups the row leaves unknown.
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
                Fact::HttpApi(HttpApiRow::Route {
                    api_id,
                    route_key,
                    target,
                }) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO http_routes (api_id, route_key, target, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![api_id, route_key, target, now, file],
                    )
                    .map_err(sq(&path))?;
                    c.http_api_items += 1;
                }
                Fact::HttpApi(HttpApiRow::Integration {
                    api_id,
                    integration_id,
                    uri,
                    credentials,
                }) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO http_integrations (api_id, integration_id, uri, credentials, imported_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![api_id, integration_id, uri, credentials, now, file],
                    )
                    .map_err(sq(&path))?;
                    c.http_api_items += 1;
                }
                Fact::EncryptionKey(k) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO encryption_keys (resource, key, seen_at, source)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![k.resource, k.key, now, file],
                    )
                    .map_err(sq(&path))?;
                    c.encryption_keys += 1;
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

    /// One `principals` row that `sql` (over [`PRINCIPAL_COLUMNS`]) selects. A list column that
    /// does not decode reads as unknown rather than failing the lookup; the boundary reads back as
    /// known (`Some`), a NULL column meaning none.
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

/// The columns `principal_row` reads, in the order it reads them by index.
const PRINCIPAL_COLUMNS: &str = "SELECT arn, kind, name, path, account, id, trust, boundary, tags, groups, attached, inline FROM principals";

impl Store {
    /// One row through a cached prepared statement: policy lookups run once per denial.
    pub(super) fn query_cached<
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
    /// By exact ARN first; else a role, session or user ARN by account, kind and name, since
    /// session ARNs and many logs drop the path that the stored ARN has.
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

    /// By name: a user's `GroupList` names its groups without path or ARN.
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

    /// Distinct and sorted, so a queue that several functions read gives the same answer every run.
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

    /// One answer or none: a route key several imported APIs share, with no API named, is
    /// not guessed.
    fn http_route(&self, api_id: Option<&str>, route_key: &str) -> Option<HttpTarget> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT r.api_id, i.uri, i.credentials FROM http_routes r
                 JOIN http_integrations i ON i.api_id = r.api_id AND r.target = 'integrations/' || i.integration_id
                 WHERE r.route_key = ?2 AND (?1 IS NULL OR r.api_id = ?1) LIMIT 2",
            )
            .ok()?;
        let rows: Vec<HttpTarget> = st
            .query_map(params![api_id, route_key], |r| {
                Ok(HttpTarget {
                    api_id: r.get(0)?,
                    uri: r.get(1)?,
                    credentials: r.get(2)?,
                })
            })
            .ok()?
            .filter_map(Result::ok)
            .collect();
        match <[HttpTarget; 1]>::try_from(rows) {
            Ok([one]) => Some(one),
            Err(_) => None,
        }
    }

    fn encryption_key(&self, resource: &str) -> Option<String> {
        self.conn
            .prepare_cached("SELECT key FROM encryption_keys WHERE resource = ?1")
            .ok()?
            .query_row(params![resource], |r| r.get(0))
            .optional()
            .ok()?
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

    /// The owner recorded at import (`--owner`, else the ARN's account field); None also for a
    /// bucket policy imported without `--owner`, whose ARN names no account.
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

    /// The latest imported organization, should exports of several have been imported.
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

    /// (name, kind, document) of each policy attached to `target`, the name being its ARN when
    /// known. A policy known only by its summary (`list-policies-for-target`) comes with a null
    /// document, which gathering cannot parse and leaves out.
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

    /// Attachments decide, not policies: an SCP imported without `--target` applies to nothing, so
    /// with only such policies SCPs are still taken as absent.
    fn has_org_policies(&self) -> bool {
        self.query_cached("SELECT EXISTS (SELECT 1 FROM org_targets)", [], |r| {
            r.get::<_, bool>(0)
        })
        .unwrap_or(false)
    }

    /// By ARN or name; where several rows match (one name in two regions or accounts) the latest
    /// import wins.
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

/// Stores a version of a managed policy other than its default. It grants nothing; it is kept so
/// that a boundary fix can say when making it the default would already allow the call.
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
