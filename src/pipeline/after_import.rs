//! After an import: open and resolved findings diagnosed again against the policies now
//! stored, those whose request the stored policies now allow resolved, and resolved ones they
//! no longer allow opened again.

use super::*;

/// What [`after_import`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AfterImport {
    /// Findings whose diagnosis changed with the imported policies.
    pub rediagnosed: u64,
    /// Open findings the stored policies now allow.
    pub resolved: u64,
    /// Resolved findings the stored policies deny again.
    pub reopened: u64,
}

/// Everything an import calls for, in order: findings diagnosed again, those now allowed
/// resolved, those denied again reopened. `import` and the service's policy reloads both
/// run it, so a policy file changed under `watch` does what importing it by hand does.
pub fn after_import(store: &mut Store, rules: &Rules) -> Result<AfterImport, StoreError> {
    Ok(AfterImport {
        rediagnosed: rediagnose_open(store, rules)?,
        resolved: resolve_fixed(store, rules)?,
        reopened: reopen_unfixed(store, rules)?,
    })
}

/// After an import: every open or resolved finding is diagnosed again from the denial it was
/// last seen with, against the policies now stored (its principal, cause, state, explanation
/// and fix change in place; its id, counts, evidence and status stay). Returns how many changed.
pub fn rediagnose_open(store: &mut Store, rules: &Rules) -> Result<u64, StoreError> {
    rediagnose_open_of(store, rules, store::Only::All)
}

/// [`rediagnose_open`] for some findings only: after a replay whose logs changed a
/// configuration only their diagnoses read (a user pool's triggers are read for
/// `cognito-idp.amazonaws.com` alone, a table's key for KMS actions alone).
pub fn rediagnose_open_of(
    store: &mut Store,
    rules: &Rules,
    only: store::Only<'_>,
) -> Result<u64, StoreError> {
    const BATCH: usize = 500;
    let mut after = String::new();
    let mut changed = 0u64;
    loop {
        let batch = store.open_denials(&after, BATCH, only)?;
        let Some((last, _)) = batch.last() else {
            break;
        };
        after = last.clone();
        let updates: Vec<(String, Suggestion)> = {
            // One read transaction for the batch's many lookups, not one (and a lock) each.
            let _snapshot = store.snapshot();
            let memo = crate::evaluate::gather::Memo::new(&*store);
            batch
                .into_iter()
                .filter_map(|(id, json)| {
                    let d: Denial = serde_json::from_str(&json).ok()?;
                    Some((id, suggest::analyse(&d, rules, Some(&memo))))
                })
                .collect()
        };
        changed += store.rediagnosed(&updates)?;
    }
    Ok(changed)
}

/// After an import: every open finding whose request the stored policies now allow is resolved
/// (its fix was applied). New evidence reopens it. Returns how many were resolved.
pub fn resolve_fixed(store: &mut Store, rules: &Rules) -> Result<u64, StoreError> {
    let fixed = allowed_now(store, rules, "open", true)?;
    for id in &fixed {
        store.resolve(id)?;
    }
    Ok(fixed.len() as u64)
}

/// After an import: every resolved finding whose request the stored policies no longer allow
/// (the fix was taken back, or a deny added) is open again. Returns how many were reopened.
pub fn reopen_unfixed(store: &mut Store, rules: &Rules) -> Result<u64, StoreError> {
    let broken = allowed_now(store, rules, "resolved", false)?;
    for id in &broken {
        store.reopen(id)?;
    }
    Ok(broken.len() as u64)
}

/// The findings of `status` whose request the stored policies allow (`allowed`) or, evaluated
/// and known, do not. Walks the findings a page at a time, reading only what deciding needs: a
/// store of 100,000 findings is never in memory at once (an import, and every start of the
/// service, run this).
fn allowed_now(
    store: &Store,
    rules: &Rules,
    status: &str,
    allowed: bool,
) -> Result<Vec<String>, StoreError> {
    use crate::evaluate::{Decision, gather};
    const PAGE: usize = 1000;
    let mut fixed = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.parties(status, &after, PAGE)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id.clone();
        let _snapshot = store.snapshot();
        for f in &page {
            let (Some(principal), Some(action)) = (&f.principal, &f.action) else {
                continue;
            };
            let Some((caller, resource)) =
                diagnose::party(f.kind, f.cause, principal, f.resource.as_deref())
            else {
                continue;
            };
            let Some((v, set)) =
                gather::evaluate_now(store, rules, caller, action, &resource, None)
            else {
                continue;
            };
            // AWS stated why it denied: an allow of the stored policies resolves the finding
            // only when they hold that policy (an SCP imported without --target applies to
            // nothing).
            let allows =
                v.decision == Decision::Allow && diagnose::stated_policy_known(f.cause, &set);
            // Reopening needs the policies to deny: an unknown answer leaves a finding resolved.
            let denies = matches!(v.decision, Decision::ImplicitDeny | Decision::ExplicitDeny);
            if (allowed && allows) || (!allowed && denies) {
                fixed.push(f.id.clone());
            }
        }
    }
    Ok(fixed)
}

/// After user pools' triggers changed (learnt from the logs): the open findings of the services
/// whose invoke failures name a trigger rather than a function are diagnosed again, so they name
/// the function the trigger now invokes. Returns how many changed.
pub fn rediagnose_user_pool_findings(store: &mut Store, rules: &Rules) -> Result<u64, StoreError> {
    let mut changed = 0;
    for p in rules.user_pool_invokers() {
        changed += rediagnose_open_of(store, rules, store::Only::Principal(p))?;
    }
    Ok(changed)
}

/// After the logs showed which KMS key encrypts a table or secret: the open KMS findings are
/// diagnosed again, so a service's failure that names no key (DynamoDB's "KMS key access
/// denied error") names the key, whichever order the records were read in.
pub fn rediagnose_kms_findings(store: &mut Store, rules: &Rules) -> Result<u64, StoreError> {
    rediagnose_open_of(store, rules, store::Only::Service("kms"))
}
