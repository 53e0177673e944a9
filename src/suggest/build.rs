//! The fix a diagnosis calls for, built and checked: the one place fixes are made.
//!
//! Diagnosis says what must change ([`Remedy`]) and for whom ([`Need`]); this builds the
//! statements and commands, merges them into the documents they change when those were
//! imported, and applies them to the stored policies to say whether they work (`verified`).
//!
//! [`Need`]: crate::diagnose::Need

use std::ops::Deref;

use super::*;
use crate::diagnose::{Checked, Diagnosis, Remedy, describe_statement};
use crate::evaluate::Decision;
use crate::evaluate::gather::PolicySource;

/// A diagnosis with its fix: what a finding is made of. The diagnosis's need and remedy were
/// spent building the fix and are empty here.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// What the denial was and why; its need and remedy are spent.
    pub diagnosis: Diagnosis,
    /// The fix built from that diagnosis.
    pub fix: Fix,
}

impl std::borrow::Borrow<Diagnosis> for Suggestion {
    fn borrow(&self) -> &Diagnosis {
        &self.diagnosis
    }
}

impl Deref for Suggestion {
    type Target = Diagnosis;
    fn deref(&self) -> &Diagnosis {
        &self.diagnosis
    }
}

/// Builds the fix of `diag`. With `src`, the stored policies a fix changes are merged and the
/// fix is verified against them.
pub fn suggest(mut diag: Diagnosis, rules: &Rules, src: Option<&dyn PolicySource>) -> Suggestion {
    // What the fix was built from is not kept: a finding holds the fix.
    let remedy = std::mem::replace(&mut diag.remedy, Remedy::Built);
    let need = &std::mem::take(&mut diag.need);
    let fix = match (remedy, src) {
        (Remedy::Unsigned, _) => Fix::none(vec!["Sign the request with credentials that are allowed; only if the data is meant to be public should the resource's policy allow everyone, and then with a condition that narrows it.".into()]),
        (Remedy::Propagation, _) => {
            let mut f = propagation_fix(need, rules);
            f.verified = Some(true);
            f
        }
        (
            Remedy::NarrowDeny {
                deny,
                exempt_only,
                network_keys,
                checked,
            },
            Some(src),
        ) => {
            let mut f = fix(need, rules);
            deny::narrow_deny(&mut f, &deny, exempt_only, &checked, src, rules);
            if !network_keys.is_empty() {
                f.notes.push(format!(
                    "The Deny restricts the network path ({}): the request likely came another way (a function outside the VPC, or a VPC without a route through the endpoint). Sending the function's traffic through that path fixes it without an exemption; exempt the role only if it is meant to bypass the restriction.",
                    network_keys.join(", ")
                ));
            }
            f
        }
        (
            Remedy::PrincipalTag {
                principal,
                key,
                value,
                checked,
            },
            _,
        ) => tags::verified_tag_fix(&principal, &key, &value, &checked)
            .unwrap_or_else(|| fix(need, rules)),
        (
            Remedy::Grant {
                checked: Some(checked),
            },
            Some(src),
        ) => {
            let mut f = fix(need, rules);
            checked_grant(&mut f, diag.kind, &checked, src, rules);
            f
        }
        _ => fix(need, rules),
    };
    Suggestion {
        diagnosis: diag,
        fix,
    }
}

/// Diagnoses a denial and builds its fix: the two stages in one call.
pub fn analyse(
    d: &crate::parse::Denial,
    rules: &Rules,
    src: Option<&dyn PolicySource>,
) -> Suggestion {
    suggest(crate::diagnose::diagnose_with(d, rules, src), rules, src)
}

/// A grant against the stored evaluation: merged into the document it changes, then verified
/// on the policy it changes, as imported, unless the verdict was undecided.
fn checked_grant(f: &mut Fix, kind: Kind, c: &Checked, src: &dyn PolicySource, rules: &Rules) {
    let req = c.request();
    verify::merged_commands(f, kind, &c.set, src, &req, rules);
    if c.decision == Decision::Unknown {
        // Undecided now, so a fix cannot be proven either.
        return;
    }
    if let Err(why) = verify::verifiable(f, &c.set) {
        f.verified = None;
        f.notes.push(format!("Not verified: {why}."));
        return;
    }
    let mut set = c.set.clone();
    let failing = verify::verify(f, &req, &mut set, rules, src, &c.action);
    f.verified = Some(failing.is_none());
    if let Some(after) = failing {
        let why = match after.decision {
            Decision::ExplicitDeny => {
                let by: Vec<String> = after.deciding.iter().map(describe_statement).collect();
                format!("an explicit Deny still applies ({})", by.join("; "))
            }
            Decision::ImplicitDeny => {
                let kinds: Vec<&str> = after.missing_allow.iter().map(|k| k.as_str()).collect();
                format!("still nothing allows it in: {}", kinds.join(", "))
            }
            Decision::Unknown => format!("the result depends on {}", after.undecided_by()),
            Decision::Allow => String::new(),
        };
        f.notes.insert(
            0,
            format!("Not verified: with this fix applied to the stored policies, {why}."),
        );
    }
}
