//! Changes the logs showed (a role's policies, a user pool's triggers, a table's or secret's
//! KMS key): kept once each, and the evidence a propagation finding is given.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::*;
use crate::parse::Change;

/// (finding id, principal, first seen, last seen, explanation JSON).
type PropagationRow = (String, String, Option<i64>, Option<i64>, String);

/// How far from a denial a change to its role is taken as the reason for it.
const PROPAGATION_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Inserts changes inside an open transaction. A role change already stored is kept once; a
/// user pool's triggers and a resource's key replace what is stored only when they are newer (an
/// export imported later, or a later update in the logs, wins), so reading logs out of order
/// changes nothing. Returns how many resources got a key other than the one stored.
pub(super) fn insert_role_changes(
    tx: &rusqlite::Transaction<'_>,
    changes: &[Change],
    path: &std::path::Path,
) -> Result<u64, StoreError> {
    let mut new_keys = 0;
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
    let mut keys = tx
        .prepare_cached(
            "INSERT INTO encryption_keys (resource, key, seen_at, source) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(resource) DO UPDATE SET key = excluded.key, seen_at = excluded.seen_at,
                source = excluded.source
             WHERE excluded.seen_at > encryption_keys.seen_at",
        )
        .map_err(sq(path))?;
    let mut stored_key = tx
        .prepare_cached("SELECT key FROM encryption_keys WHERE resource = ?1")
        .map_err(sq(path))?;
    for c in changes {
        if let Change::KeyUse(k) = c {
            let known: Option<String> = stored_key
                .query_row(params![k.resource], |r| r.get(0))
                .optional()
                .map_err(sq(path))?;
            new_keys += u64::from(known.as_deref() != Some(k.key.as_str()));
        }
        match c {
            Change::Role(c) => roles.execute(params![
                c.account,
                c.role_name,
                c.event_name,
                c.time.map(|t| t.as_millisecond()),
                c.event_id,
                c.detail
            ]),
            Change::KeyUse(k) => keys.execute(params![
                k.resource,
                k.key,
                k.time.map_or(0, |t| t.as_millisecond()),
                format!("CloudTrail {}", k.event_id.as_deref().unwrap_or("event"))
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
    Ok(new_keys)
}

impl Store {
    /// Stores the changes seen in the logs (once each). Returns how many tables or secrets got
    /// a KMS key other than the one stored: their KMS findings are worth diagnosing again.
    pub fn record_changes(&mut self, changes: &[Change]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sq(&path))?;
        let new_keys = insert_role_changes(&tx, changes, &path)?;
        tx.commit().map_err(sq(&path))?;
        Ok(new_keys)
    }

    /// Adds to each propagation finding the change to its role nearest its denials, when the
    /// logs show one within minutes: the evidence that the grant was too recent.
    pub fn annotate_propagation(&mut self) -> Result<u64, StoreError> {
        let path = self.path.clone();
        // No change logged, nothing to add: the findings are not read (a scan of every row,
        // the largest part of the end of a replay of 29,000 findings).
        let any_change = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM role_changes)", [], |r| {
                r.get::<_, bool>(0)
            })
            .map_err(sq(&path))?;
        if !any_change {
            return Ok(0);
        }
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    /// A propagation finding is given the change to its role that the logs show near its
    /// denials, once; with no change logged nothing is read or written.
    #[test]
    fn a_propagation_finding_is_given_the_nearby_role_change_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("w.db")).unwrap();
        let first = 1_795_000_000_000_i64;
        s.conn
            .execute(
                "INSERT INTO findings (id, key, kind, cause, principal, first_seen, last_seen, count, message, policy_state, explanation, fix, created_at, updated_at, status)
                     VALUES ('p', 'p', 'access_denied', 'propagation', 'arn:aws:iam::111122223333:role/service-role/app-role', ?1, ?1, 1, 'm', 'unknown', '[\"before\"]', '{}', 0, 0, 'open')",
                [first],
            )
            .unwrap();
        let explanation = |s: &Store| -> Vec<String> {
            let text: String = s
                .conn
                .query_row("SELECT explanation FROM findings WHERE id = 'p'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            serde_json::from_str(&text).unwrap()
        };
        assert_eq!(s.annotate_propagation().unwrap(), 0);
        assert_eq!(explanation(&s), ["before"]);
        s.conn
            .execute(
                "INSERT INTO role_changes (account, role_name, event_name, time, event_id) VALUES ('111122223333', 'app-role', 'AttachRolePolicy', ?1, 'e1')",
                [first + 30_000],
            )
            .unwrap();
        assert_eq!(s.annotate_propagation().unwrap(), 1);
        let lines = explanation(&s);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1].starts_with("The logs show AttachRolePolicy on app-role at ")
                && lines[1].contains("30 s after the first denial"),
            "{lines:?}"
        );
        assert_eq!(s.annotate_propagation().unwrap(), 0, "added once");
    }
}
