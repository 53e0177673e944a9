//! Writing diagnosed denials: findings and their evidence.
//!
//! A write happens in two steps so that the writer thread, the one that owns the database and
//! the bottleneck of a replay with many denials, does only SQL:
//! - [`prepare_with`] (in whichever thread diagnosed the denials) folds a batch by finding, the way
//!   successive upserts would fold it, and serialises what a finding row stores (explanation,
//!   fix, the latest denial) once per finding per batch, not once per event;
//! - [`record_prepared`] (in the writer) drops the evidence already stored and upserts each
//!   finding once with what is left.
//!
//! The fold keeps, per piece of evidence, the key and time, so evidence found already stored
//! (a file read again after a crash, an event delivered twice) is neither counted nor allowed
//! to move the finding's first or last time.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Evidence, Recorded, StoreError, sq};
use crate::diagnose::Diagnosis;
use crate::parse::Denial;
use crate::policy::vocab::{Cause, PolicyState};
use crate::suggest::Suggestion;

/// A batch of diagnosed denials, folded by finding and ready to write.
#[derive(Debug, Default)]
pub struct Prepared {
    groups: Vec<Group>,
    rows: usize,
}

impl Prepared {
    /// The findings the batch touches.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.id.as_str())
    }

    /// How many pieces of evidence it holds.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// One finding's share of a batch.
#[derive(Debug)]
struct Group {
    id: String,
    // From the first event: what a new finding is created with.
    key: String,
    kind: &'static str,
    principal: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    first_message: String,
    // From the event with the latest time (the first read of that time, the first when none
    // has one, so that a record read again never changes it): what the finding
    // says after successive upserts.
    cause: Cause,
    policy_state: PolicyState,
    explanation: String,
    fix: String,
    latest_message: String,
    denial: Option<String>,
    has_time: bool,
    // The first of the events' values that is known.
    account: Option<String>,
    region: Option<String>,
    function: Option<String>,
    evidence: Vec<Row>,
}

/// One piece of evidence as stored.
#[derive(Debug)]
struct Row {
    key: String,
    legacy_key: Option<String>,
    source: String,
    file: String,
    record: i64,
    line: i64,
    event_id: Option<String>,
    event_name: Option<String>,
    time_ms: Option<i64>,
    time: Option<String>,
    function: Option<String>,
}

/// Folds a batch by finding (in order of first appearance), dropping repeated evidence keys.
/// The batch may hold diagnoses whose fixes are not built yet: `finish` builds one per
/// finding, from the event the finding keeps (its latest), instead of one per event, so a
/// finding denied many times in a batch (a function failing on every invocation) costs one fix.
pub fn prepare_with<T: Borrow<Diagnosis>>(
    batch: Vec<(T, Evidence)>,
    mut finish: impl FnMut(T) -> Suggestion,
) -> Prepared {
    // Positions in the batch: which event is first, which latest, per finding.
    struct Fold {
        id: String,
        first: usize,
        latest: usize,
        max_ms: Option<i64>,
        denial: Option<usize>,
        account: Option<String>,
        region: Option<String>,
        function: Option<String>,
        evidence: Vec<usize>,
    }
    let mut folds: Vec<Fold> = Vec::new();
    {
        let mut fold_of: std::collections::HashMap<String, usize> = Default::default();
        let mut fresh: HashSet<&str> = HashSet::new();
        for (i, (d, e)) in batch.iter().enumerate() {
            if !fresh.insert(e.key.as_str()) {
                continue;
            }
            let d: &Diagnosis = d.borrow();
            let id = d.id();
            let has_denial = e.denial.is_some().then_some(i);
            if let Some(f) = fold_of.get(&id).and_then(|&k| folds.get_mut(k)) {
                if let Some(t) = e.time_ms {
                    if f.max_ms.is_none_or(|m| t > m) {
                        f.max_ms = Some(t);
                        f.latest = i;
                        f.denial = has_denial.or(f.denial);
                    }
                } else {
                    f.denial = f.denial.or(has_denial);
                }
                f.account = f.account.take().or_else(|| d.account.clone());
                f.region = f.region.take().or_else(|| d.region.clone());
                f.function = f.function.take().or_else(|| d.function.clone());
                f.evidence.push(i);
            } else {
                fold_of.insert(id.clone(), folds.len());
                folds.push(Fold {
                    id,
                    first: i,
                    latest: i,
                    max_ms: e.time_ms,
                    denial: has_denial,
                    account: d.account.clone(),
                    region: d.region.clone(),
                    function: d.function.clone(),
                    evidence: vec![i],
                });
            }
        }
    }
    let (mut diags, mut evs): (Vec<Option<T>>, Vec<Option<Evidence>>) =
        batch.into_iter().map(|(d, e)| (Some(d), Some(e))).unzip();
    let mut rows = 0;
    let mut groups = Vec::with_capacity(folds.len());
    for f in folds {
        rows += f.evidence.len();
        // What a new finding is created with, from its first event (which may be the latest).
        let Some(first) = diags
            .get(f.first)
            .and_then(Option::as_ref)
            .map(Borrow::borrow)
        else {
            continue;
        };
        let first: &Diagnosis = first;
        let (key, kind) = (first.key(), first.kind.as_str());
        let (principal, action, resource) = (
            first.principal.clone(),
            first.action.clone(),
            first.resource.clone(),
        );
        let first_message = first.message.clone();
        let Some(last) = diags
            .get_mut(f.latest)
            .and_then(Option::take)
            .map(&mut finish)
        else {
            continue;
        };
        let denial = denial_json(
            f.denial
                .and_then(|i| evs.get(i))
                .and_then(|e| e.as_ref()?.denial.as_ref()),
        );
        groups.push(Group {
            id: f.id,
            key,
            kind,
            principal,
            action,
            resource,
            first_message,
            cause: last.cause,
            policy_state: last.policy_state,
            explanation: serde_json::to_string(&last.explanation).unwrap_or_else(|_| "[]".into()),
            fix: serde_json::to_string(&last.fix).unwrap_or_else(|_| "{}".into()),
            latest_message: last.diagnosis.message,
            denial,
            has_time: f.max_ms.is_some(),
            account: f.account,
            region: f.region,
            function: f.function,
            evidence: f
                .evidence
                .into_iter()
                .filter_map(|i| evs.get_mut(i).and_then(Option::take))
                .map(|e| Row {
                    key: e.key,
                    legacy_key: e.legacy_key,
                    source: e.source,
                    file: e.file,
                    record: e.record as i64,
                    line: e.line as i64,
                    event_id: e.event_id,
                    event_name: e.event_name,
                    time_ms: e.time_ms,
                    time: e.time,
                    function: e.function,
                })
                .collect(),
        });
    }
    Prepared { groups, rows }
}

/// Stores diagnosed denials inside an open transaction.
pub(crate) fn record_in(
    tx: &rusqlite::Transaction<'_>,
    batch: &[(Suggestion, Evidence)],
    path: &Path,
) -> Result<Recorded, StoreError> {
    record_prepared(
        tx,
        std::slice::from_ref(&prepare_with(batch.to_vec(), |s| s)),
        path,
    )
}

/// Stores prepared batches inside an open transaction: per finding, the evidence not stored
/// before, and one upsert when there is any.
pub(crate) fn record_prepared(
    tx: &rusqlite::Transaction<'_>,
    batches: &[Prepared],
    path: &Path,
) -> Result<Recorded, StoreError> {
    let path = path.to_path_buf();
    let now = Timestamp::now().as_millisecond();
    let mut rec = Recorded::default();
    let mut seen = tx
        .prepare_cached(super::findings::EVIDENCE_BY_KEY)
        .map_err(sq(&path))?;
    let mut exists = tx
        .prepare_cached("SELECT 1 FROM findings WHERE id = ?1")
        .map_err(sq(&path))?;
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO findings (id, key, kind, cause, first_seen, last_seen, count, account, region,
                principal, function, action, resource, message, policy_state, explanation, fix, created_at, updated_at, denial)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?20)
             ON CONFLICT(id) DO UPDATE SET
                principal = COALESCE(excluded.principal, principal),
                cause = CASE WHEN ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN excluded.cause ELSE cause END,
                policy_state = CASE WHEN ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN excluded.policy_state ELSE policy_state END,
                resource = COALESCE(excluded.resource, resource),
                denial = CASE WHEN ?20 IS NOT NULL AND ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN ?20
                    ELSE COALESCE(denial, ?20) END,
                count = count + excluded.count,
                status = 'open',
                resolved_at = NULL,
                first_seen = CASE WHEN ?5 IS NULL THEN first_seen WHEN first_seen IS NULL OR ?5 < first_seen THEN ?5 ELSE first_seen END,
                last_seen = CASE WHEN ?6 IS NULL THEN last_seen WHEN last_seen IS NULL OR ?6 > last_seen THEN ?6 ELSE last_seen END,
                account = COALESCE(account, excluded.account),
                region = COALESCE(region, excluded.region),
                function = COALESCE(function, excluded.function),
                message = CASE WHEN ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN ?19 ELSE message END,
                explanation = CASE WHEN ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN excluded.explanation ELSE explanation END,
                fix = CASE WHEN ?6 IS NOT NULL AND (last_seen IS NULL OR ?6 > last_seen) THEN excluded.fix ELSE fix END,
                updated_at = excluded.updated_at",
        )
        .map_err(sq(&path))?;
    let mut ev = tx
        .prepare_cached(
            "INSERT INTO evidence (finding_id, ukey, source, file, record, line, event_id, event_name, time, time_text, function)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(sq(&path))?;
    let mut new: Vec<&Row> = Vec::new();
    for g in batches.iter().flat_map(|b| &b.groups) {
        // Evidence stored before (by this transaction's earlier groups too) does not count.
        new.clear();
        for r in &g.evidence {
            let mut stored = false;
            for k in std::iter::once(&r.key).chain(r.legacy_key.iter()) {
                stored = seen
                    .query_row(params![r.time_ms.unwrap_or(0), k], |_| Ok(()))
                    .optional()
                    .map_err(sq(&path))?
                    .is_some();
                if stored {
                    break;
                }
            }
            if !stored {
                new.push(r);
            }
        }
        if new.is_empty() {
            continue;
        }
        let min_ms = new.iter().filter_map(|r| r.time_ms).min();
        let max_ms = new.iter().filter_map(|r| r.time_ms).max();
        let created = !exists.exists(params![g.id]).map_err(sq(&path))?;
        // A new finding's message is the latest event's, or the first's when none has a time.
        let message = if g.has_time {
            &g.latest_message
        } else {
            &g.first_message
        };
        upsert
            .execute(params![
                g.id,
                g.key,
                g.kind,
                g.cause,
                min_ms,
                max_ms,
                new.len() as i64,
                g.account,
                g.region,
                g.principal,
                g.function,
                g.action,
                g.resource,
                message,
                g.policy_state,
                g.explanation,
                g.fix,
                now,
                g.latest_message,
                g.denial,
            ])
            .map_err(sq(&path))?;
        for r in &new {
            ev.execute(params![
                g.id,
                r.key,
                r.source,
                r.file,
                r.record,
                r.line,
                r.event_id,
                r.event_name,
                r.time_ms,
                r.time,
                r.function
            ])
            .map_err(sq(&path))?;
        }
        rec.new += new.len() as u64;
        rec.touched.push((g.id.clone(), created));
    }
    Ok(rec)
}

/// The largest denial kept with a finding for diagnosing it again: a CloudTrail event is at
/// most 256 KiB; past this its request parameters are left out.
const MAX_DENIAL_JSON: usize = 64 * 1024;

fn denial_json(d: Option<&Arc<Denial>>) -> Option<String> {
    let d = d?;
    let text = serde_json::to_string(&**d).ok()?;
    if text.len() <= MAX_DENIAL_JSON {
        return Some(text);
    }
    let mut slim = (**d).clone();
    slim.request.params = serde_json::Value::Null;
    serde_json::to_string(&slim)
        .ok()
        .filter(|t| t.len() <= MAX_DENIAL_JSON)
}
