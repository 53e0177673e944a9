//! Reading findings back: filters, the lean first pass of the table view, and the stored denial a
//! finding is diagnosed again from after an import.

use super::*;
use crate::policy::vocab::Kind;

/// A piece of evidence by its event's time and key, as the unique index `evidence_key` orders
/// them (the expression must be the index's for the index to be used).
pub(super) const EVIDENCE_BY_KEY: &str =
    "SELECT finding_id FROM evidence WHERE ifnull(time, 0) = ?1 AND ukey = ?2";

/// Filters of `report`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only findings last seen at or after this time (epoch ms): `--since`.
    pub since_ms: Option<i64>,
    /// Only findings first seen at or before this time (epoch ms): `--until`.
    pub until_ms: Option<i64>,
    /// Only this function, by exact name: `--function`.
    pub function: Option<String>,
    /// Only this role: an ARN exactly, or a name (with or without its path) that the role ARN ends
    /// with: `--role`.
    pub role: Option<String>,
    /// Only this account id: `--account`.
    pub account: Option<String>,
    /// Only this cause: `--cause`.
    pub cause: Option<Cause>,
    /// Only ids that begin with this text: `--id`.
    pub id: Option<String>,
    /// `open` or `resolved`; None for all.
    pub status: Option<String>,
    /// Only these findings (exact ids): what a replay touched, without reading the rest.
    pub ids: Option<Vec<String>>,
    /// Only the findings [`Store::touch`] named through this connection: what a replay touched,
    /// kept in SQLite rather than in memory (100,000 ids were about 9 MiB in a set).
    pub touched: bool,
    /// Only these findings, by the row [`Heading::row`] gave: a table's second pass, which
    /// then reads each row by its place in the table instead of through the id index.
    pub rows: Option<Vec<i64>>,
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
    /// Where the finding is stored (SQLite's rowid). Only meaningful within one
    /// [`Store::snapshot`]: a `VACUUM` may renumber the rows of a table keyed by text.
    pub row: i64,
    /// The finding's id.
    pub id: String,
    /// The function's name, when known: what the table groups by first.
    pub function: Option<String>,
    /// The principal, which groups findings that name no function.
    pub principal: Option<String>,
    /// When it was last seen (epoch ms): groups and findings are shown newest first.
    pub last_seen_ms: Option<i64>,
    /// How many pieces of evidence it has.
    pub count: u64,
}

/// The guard of [`Store::snapshot`]: ends the read transaction when dropped.
pub struct Snapshot<'c>(&'c rusqlite::Connection);

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // A read transaction has nothing to keep; should COMMIT fail, the transaction must
        // still end, or every later write on this connection would fail.
        if self.0.execute_batch("COMMIT").is_err() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// Which findings [`Store::open_denials`] walks.
#[derive(Debug, Clone, Copy)]
pub enum Only<'a> {
    /// Every open finding.
    All,
    /// The findings of one principal (a service whose failures a user pool's triggers decide).
    Principal(&'a str),
    /// The findings whose action is of one service (`kms`: a resource's key became known).
    Service(&'a str),
}

/// What deciding a finding's request again needs (its party and action), read without its
/// fix, explanation, denial or evidence.
#[derive(Debug, Clone)]
pub struct Party {
    /// The finding's id.
    pub id: String,
    /// What was observed.
    pub kind: Kind,
    /// Why it was denied.
    pub cause: Cause,
    /// Who was denied.
    pub principal: Option<String>,
    /// What was asked for.
    pub action: Option<String>,
    /// On what.
    pub resource: Option<String>,
}

impl Store {
    /// Up to `limit` findings of `status` with an id after `after`, in id order: one page of a
    /// walk over all of them that holds a page, not the store, in memory.
    pub fn parties(
        &self,
        status: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Party>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, kind, cause, principal, action, resource FROM findings
                    WHERE status = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(sq(&path))?;
        let rows = st
            .query_map(params![status, after, limit as i64], |r| {
                Ok(Party {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    cause: r.get(2)?,
                    principal: r.get(3)?,
                    action: r.get(4)?,
                    resource: r.get(5)?,
                })
            })
            .map_err(sq(&path))?;
        rows.collect::<Result<_, _>>().map_err(sq(&path))
    }

    /// Whether any evidence is stored (an error reads as yes: the lookups it would save are
    /// then made).
    pub fn has_evidence(&self) -> bool {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM evidence)", [], |r| r.get(0))
            .unwrap_or(true)
    }

    /// The finding a stored piece of evidence belongs to, by its event's time (ms) and key.
    pub fn finding_of_evidence(&self, time_ms: Option<i64>, key: &str) -> Option<String> {
        let mut st = self.conn.prepare_cached(EVIDENCE_BY_KEY).ok()?;
        rusqlite::OptionalExtension::optional(
            st.query_row(params![time_ms.unwrap_or(0), key], |r| r.get(0)),
        )
        .ok()?
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

    /// Whether the findings this connection touched are so large a share of the table that
    /// reading the table through is cheaper than finding each by its id (a replay into a new
    /// database touches every finding: 29,000 lookups by id took 0.13 s, the scan 0.04 s). The
    /// planner cannot tell: the temporary table has no statistics.
    fn touched_is_most(&self) -> bool {
        let count = |sql: &str| {
            self.conn
                .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                .ok()
                .flatten()
                .unwrap_or(0)
        };
        let touched = count("SELECT count(*) FROM temp.touched");
        // The largest rowid is at least the number of rows, and costs one descent.
        let rows = count("SELECT max(rowid) FROM findings");
        touched > 0 && touched.saturating_mul(4) >= rows
    }

    /// The query's SQL for `columns` of the matching findings, newest first, and its arguments.
    fn select(&self, q: &Query, columns: &str) -> (String, Vec<rusqlite::types::Value>) {
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
        if q.touched {
            // `+id` keeps SQLite from looking each touched id up in the table's index: it reads
            // the table in order and asks the touched set instead.
            sql.push_str(if self.touched_is_most() {
                " AND +id IN (SELECT id FROM temp.touched)"
            } else {
                " AND id IN (SELECT id FROM temp.touched)"
            });
        }
        if let Some(rows) = &q.rows {
            let list = serde_json::to_string(rows).unwrap_or_else(|_| "[]".into());
            bind(
                &mut sql,
                " AND rowid IN (SELECT value FROM json_each(?))",
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

    /// Remembers, for this connection only, that these findings were touched (see
    /// [`Query::touched`]); [`Store::untouch`] comes first.
    pub fn touch<'i>(&self, ids: impl IntoIterator<Item = &'i str>) -> Result<(), StoreError> {
        let path = self.path.clone();
        // One transaction for the batch (it writes only the connection's temporary database,
        // so takes no lock on the real one), not one per id.
        let tx = self
            .conn
            .is_autocommit()
            .then(|| self.conn.unchecked_transaction())
            .transpose()
            .map_err(sq(&path))?;
        {
            let mut ins = self
                .conn
                .prepare_cached("INSERT OR IGNORE INTO temp.touched (id) VALUES (?1)")
                .map_err(sq(&path))?;
            for id in ids {
                ins.execute([id]).map_err(sq(&path))?;
            }
        }
        if let Some(tx) = tx {
            tx.commit().map_err(sq(&path))?;
        }
        Ok(())
    }

    /// Forgets what [`Store::touch`] was told on this connection.
    pub fn untouch(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS touched (id TEXT PRIMARY KEY) WITHOUT ROWID;
                 DELETE FROM temp.touched;",
            )
            .map_err(sq(&path))
    }

    /// A read transaction that ends when the guard is dropped: everything read through this
    /// store meanwhile sees the same database, so what one pass found (a finding's row) is what
    /// a second pass finds. None when a transaction is already open (it is the snapshot then)
    /// or one could not be begun.
    pub fn snapshot(&self) -> Option<Snapshot<'_>> {
        (self.conn.is_autocommit() && self.conn.execute_batch("BEGIN").is_ok())
            .then_some(Snapshot(&self.conn))
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
        let (sql, args) = self.select(q, "SELECT id, function, principal, last_seen, count, rowid");
        let mut stmt = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok(Heading {
                    id: r.get(0)?,
                    function: r.get(1)?,
                    principal: r.get(2)?,
                    last_seen_ms: r.get(3)?,
                    count: r.get::<_, i64>(4)?.max(0) as u64,
                    row: r.get(5)?,
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
        // The order first, from a few narrow columns, then each finding by its row: sorting
        // whole rows (about 3 KB each, with the fix, explanation and denial) spilled to
        // temporary files and was most of a large JSON report's time.
        // One snapshot for the order and the rows, unless the caller holds one.
        let _snapshot = self.snapshot();
        let order = self.order(q)?;
        self.each_of_rows(q, &order, &mut |_, f| visit(f))
    }

    /// The rows of the findings the query matches, in its order (newest first): what
    /// [`Store::each_of_rows`] reads, here or through another connection.
    pub fn order(&self, q: &Query) -> Result<Vec<i64>, StoreError> {
        let path = self.path.clone();
        let (sql, args) = self.select(q, "SELECT rowid");
        let mut stmt = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
            .map_err(sq(&path))?;
        rows.collect::<Result<_, _>>().map_err(sq(&path))
    }

    /// The findings in `rows` (as [`Store::order`] gave them), in that order, each with its
    /// row, read as `q` says: its evidence limit and leanness (its filters made the rows). A row
    /// that is gone (pruned since the order was read) is left out.
    pub fn each_of_rows(
        &self,
        q: &Query,
        order: &[i64],
        visit: &mut dyn FnMut(i64, Finding) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let columns = if q.lean {
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
        };
        // Cached: the JSON output calls this once per chunk of 64 findings.
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{columns} FROM findings WHERE rowid = ?1"))
            .map_err(sq(&path))?;
        let read = |r: &rusqlite::Row<'_>| {
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
        };
        // The latest `limit` rows, oldest first: taken newest-first, then put back in order.
        let limit = q
            .evidence_limit
            .map_or(-1, |n| n.min(i64::MAX as usize) as i64);
        // Without a limit, no subquery (SQLite would copy each finding's evidence into a
        // temporary table before ordering it) and no ORDER BY: the rows come in the index's
        // order and are put in time order here, as `ORDER BY time IS NULL, time, id` would.
        // SQLite's sorter, set up for each finding's few rows, was a tenth of a JSON report.
        let mut ev = self
            .conn
            .prepare_cached(if limit < 0 {
                "SELECT source, file, record, line, event_id, event_name, time_text, function, ukey, time, id
                    FROM evidence WHERE finding_id = ?1 AND ?2 < 0"
            } else {
                "SELECT * FROM (
                    SELECT source, file, record, line, event_id, event_name, time_text, function, ukey, time, id
                    FROM evidence WHERE finding_id = ?1
                    ORDER BY time IS NOT NULL, time DESC, id DESC LIMIT ?2)
                 ORDER BY time IS NULL, time, id"
            })
            .map_err(sq(&path))?;
        for &row in order {
            // A finding removed since the order was read (another process pruned it) is left out.
            let Some(mut f) = stmt
                .query_row(params![row], read)
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(sq(&path))?
            else {
                continue;
            };
            if limit == 0 {
                visit(row, f)?;
                continue;
            }
            let rows = ev
                .query_map(params![f.id, limit], |r| {
                    let record: i64 = r.get(2)?;
                    let line: i64 = r.get(3)?;
                    let id: i64 = r.get(10)?;
                    Ok((
                        id,
                        Evidence {
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
                        },
                    ))
                })
                .map_err(sq(&path))?;
            let mut evidence = rows.collect::<Result<Vec<_>, _>>().map_err(sq(&path))?;
            if limit < 0 {
                evidence.sort_unstable_by_key(|(id, e)| (e.time_ms.is_none(), e.time_ms, *id));
            }
            f.evidence = evidence.into_iter().map(|(_, e)| e).collect();
            visit(row, f)?;
        }
        Ok(())
    }

    /// Open and resolved findings that keep the denial they were last seen with (a resolved one
    /// too says what the stored policies say today): up to `limit` of them with an id after
    /// `after`, in id order (so a caller can walk them all in bounded memory), of those `only`
    /// selects.
    pub fn open_denials(
        &self,
        after: &str,
        limit: usize,
        only: Only<'_>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let path = self.path.clone();
        let (principal, service) = match only {
            Only::All => (None, None),
            Only::Principal(p) => (Some(p), None),
            Only::Service(s) => (None, Some(format!("{s}:%"))),
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, denial FROM findings WHERE status IN ('open', 'resolved') AND denial IS NOT NULL AND id > ?1
                    AND (?3 IS NULL OR principal = ?3) AND (?4 IS NULL OR action LIKE ?4)
                    ORDER BY id LIMIT ?2",
            )
            .map_err(sq(&path))?;
        let rows = st
            .query_map(params![after, limit as i64, principal, service], |r| {
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

    /// Opens a resolved finding again (the policies imported since no longer allow its request).
    pub fn reopen(&mut self, id: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "UPDATE findings SET status = 'open', resolved_at = NULL WHERE id = ?1 AND status = 'resolved'",
                params![id],
            )
            .map_err(sq(&path))?;
        Ok(())
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
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    /// A walk over findings by pages returns each finding of the status once, in id order,
    /// whatever the page size.
    #[test]
    fn parties_walk_every_finding_of_a_status_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("w.db")).unwrap();
        for i in 0..7 {
            let status = if i == 3 { "resolved" } else { "open" };
            s.conn
                .execute(
                    "INSERT INTO findings (id, key, kind, cause, count, message, policy_state, explanation, fix, created_at, updated_at, status, principal, action)
                         VALUES (?1, ?1, 'access_denied', 'no_identity_allow', 1, 'm', 'unknown', '[]', '{}', 0, 0, ?2, 'arn:aws:iam::111122223333:role/r', 's3:GetObject')",
                    rusqlite::params![format!("f{}", 6 - i), status],
                )
                .unwrap();
        }
        for page in [1, 2, 4, 100] {
            let (mut seen, mut after) = (Vec::new(), String::new());
            loop {
                let got = s.parties("open", &after, page).unwrap();
                let Some(last) = got.last() else { break };
                after = last.id.clone();
                seen.extend(got.into_iter().map(|p| p.id));
            }
            assert_eq!(seen, ["f0", "f1", "f2", "f4", "f5", "f6"], "page of {page}");
        }
        let resolved = s.parties("resolved", "", 10).unwrap();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].cause, Cause::NoIdentityAllow);
        assert_eq!(resolved[0].action.as_deref(), Some("s3:GetObject"));
    }

    /// A finding's evidence is read oldest first, evidence without a time last, ties by the
    /// order it was stored: the same order SQLite's `ORDER BY` gives on the limited path.
    #[test]
    fn evidence_is_read_in_time_order_with_untimed_last() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("w.db")).unwrap();
        s.conn
            .execute(
                "INSERT INTO findings (id, key, kind, cause, count, message, policy_state, explanation, fix, created_at, updated_at, status)
                     VALUES ('f', 'f', 'access_denied', 'no_identity_allow', 6, 'm', 'unknown', '[]', '{}', 0, 0, 'open')",
                [],
            )
            .unwrap();
        let times = [Some(30), None, Some(10), Some(30), None, Some(20)];
        for (i, t) in times.iter().enumerate() {
            s.conn
                .execute(
                    "INSERT INTO evidence (finding_id, ukey, source, file, record, line, time) VALUES ('f', ?1, 'cloudtrail', 'x', 0, 0, ?2)",
                    rusqlite::params![format!("k{i}"), t],
                )
                .unwrap();
        }
        let read = |limit: Option<usize>| {
            let q = Query {
                evidence_limit: limit,
                ..Query::default()
            };
            let rows = s.order(&q).unwrap();
            let mut keys = Vec::new();
            s.each_of_rows(&q, &rows, &mut |_, f| {
                keys.extend(f.evidence.into_iter().map(|e| e.key));
                Ok(())
            })
            .unwrap();
            keys
        };
        assert_eq!(read(None), ["k2", "k5", "k0", "k3", "k1", "k4"]);
        assert_eq!(read(Some(100)), read(None));
        assert_eq!(read(Some(2)), ["k1", "k4"]);
    }

    /// What a connection touched is read by id when it is a few of many findings and by a
    /// scan of the table when it is most of them; both give the same findings in one order.
    #[test]
    fn touched_findings_are_the_same_read_by_id_or_by_scan() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("w.db")).unwrap();
        for i in 0..12 {
            s.conn
                .execute(
                    "INSERT INTO findings (id, key, kind, cause, last_seen, count, message, policy_state, explanation, fix, created_at, updated_at, status)
                         VALUES (?1, ?1, 'access_denied', 'no_identity_allow', ?2, 1, 'm', 'unknown', '[]', '{}', 0, 0, 'open')",
                    rusqlite::params![format!("f{i:02}"), (i * 7) % 5],
                )
                .unwrap();
        }
        let q = Query {
            touched: true,
            ..Query::default()
        };
        let ids = |s: &Store| -> Vec<String> {
            let rows = s.order(&q).unwrap();
            let mut out = Vec::new();
            s.each_of_rows(&q, &rows, &mut |_, f| {
                out.push(f.id);
                Ok(())
            })
            .unwrap();
            out
        };
        s.untouch().unwrap();
        s.touch(["f03", "f07"]).unwrap();
        assert!(!s.touched_is_most());
        assert_eq!(ids(&s), ["f07", "f03"], "newest first");
        let most = ["f00", "f01", "f03", "f04", "f07", "f08", "f09", "f11"];
        s.touch(most).unwrap();
        assert!(s.touched_is_most());
        let scanned = ids(&s);
        assert_eq!(scanned.len(), most.len());
        // The same order as the whole table's, restricted to what was touched.
        s.untouch().unwrap();
        let all = {
            let rows = s.order(&Query::default()).unwrap();
            let mut out = Vec::new();
            s.each_of_rows(&Query::default(), &rows, &mut |_, f| {
                out.push(f.id);
                Ok(())
            })
            .unwrap();
            out
        };
        let expected: Vec<String> = all
            .into_iter()
            .filter(|i| most.contains(&i.as_str()))
            .collect();
        assert_eq!(scanned, expected);
    }
}
