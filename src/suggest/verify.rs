//! Fixes applied to the stored policies: merged documents and re-evaluation.
//!
//! A fix is verified by adding its statements to a copy of the gathered policy set where
//! applying it would put them (the identity policies, the boundary's document, every SCP or
//! RCP level, the resource's or trust policy) and evaluating the request again: the evaluator
//! that found the denial decides whether the fix ends it. The copy shares every policy the fix
//! leaves alone; `Arc::make_mut` copies only the one it changes.

use super::*;
use crate::evaluate::gather::PolicySource;
use crate::evaluate::{self, Decision, NamedPolicy, PolicyKind, PolicySet, Request, Verdict};
use crate::policy::Policy;

/// Where the current resource or trust policy is known, the command that applies the fix puts
/// the whole merged document back (these APIs replace the policy, they do not append).
///
/// Invoke permissions are left as they are: `add-permission` adds one statement, there is nothing
/// to merge. Boundaries and organization policies get their own commands (a new default version,
/// `update-policy`). Once the command merges, the notes asking the reader to merge by hand go.
pub(super) fn merged_commands(
    fix: &mut Fix,
    kind: Kind,
    set: &PolicySet,
    src: &dyn PolicySource,
    req: &Request<'_>,
    rules: &Rules,
) {
    let target = fix.target;
    if target == Target::PermissionsBoundary {
        boundary_command(fix, set, src, req);
        return;
    }
    if matches!(target, Target::Scp | Target::Rcp) {
        super::org::org_commands(fix, set, src, req);
        return;
    }
    if !matches!(
        target,
        Target::ResourcePolicy | Target::KeyPolicy | Target::TrustPolicy | Target::RepositoryPolicy
    ) || fix.all_statements.is_empty()
        || kind == Kind::InvokePermission
    {
        return;
    }
    let Some(res) = &set.resource else { return };
    let current = if target == Target::TrustPolicy {
        src.principal(&res.name).and_then(|p| p.trust.clone())
    } else {
        src.resource_policy(&res.name).map(|d| (*d).clone())
    };
    let Some(mut doc) = current else { return };
    let Some(list) = doc.get_mut("Statement") else {
        return;
    };
    if !list.is_array() {
        *list = serde_json::Value::Array(vec![list.take()]);
    }
    if let Some(a) = list.as_array_mut() {
        // A principal named by a unique id (AROA..., AIDA...) was deleted; IAM refuses to save
        // a policy that names one, so the merged document leaves it out and says so.
        let mut dropped = Vec::new();
        for st in a.iter_mut() {
            drop_unique_ids(st, &mut dropped);
        }
        a.retain(|st| {
            st.get("Principal")
                .is_none_or(|p| p.as_object().is_none_or(|o| !o.is_empty()))
        });
        if !dropped.is_empty() {
            fix.notes.push(format!(
                "The current policy names {}, the unique id of a deleted principal: IAM refuses it, so the merged document leaves it out.",
                dropped.join(", ")
            ));
        }
        a.extend(fix.all_statements.iter().cloned());
    }
    let cmd = super::put_back::command(rules, &res.name, &doc, target == Target::TrustPolicy);
    if let Some(c) = cmd {
        fix.commands = vec![c];
        fix.notes
            .retain(|n| !n.contains("merge") && !n.contains("replaces the whole"));
        fix.notes.push(
            "The command puts back the whole policy as imported with the statement added; re-import the policy first if it may have changed since.".into(),
        );
    }
}

/// Whether the policy a fix changes was imported, so that applying the fix to it proves
/// something: `Err` says what is missing.
/// A managed policy to attach is verifiable whenever the identity side is known, whatever the
/// target: attaching adds it to the principal's policies.
pub(super) fn verifiable(fix: &Fix, set: &PolicySet) -> Result<(), String> {
    let ok = match fix.target {
        Target::IdentityPolicy => set.identity_known,
        Target::ResourcePolicy
        | Target::KeyPolicy
        | Target::FunctionPolicy
        | Target::TrustPolicy => set.resource.is_some(),
        Target::PermissionsBoundary => set.boundary.is_some(),
        Target::Scp => !set.scp_levels.is_empty(),
        Target::Rcp => !set.rcp_levels.is_empty(),
        _ => false,
    };
    if ok || fix.managed_policy_arn.is_some() && set.identity_known {
        return Ok(());
    }
    Err(match fix.target {
        Target::IdentityPolicy => "some of the principal's policies were not imported".to_string(),
        Target::None => "there is nothing to apply".to_string(),
        t => format!(
            "the {} to change was not imported",
            t.as_str().replace('_', " ")
        ),
    })
}

/// Applies the fix to the stored policies and re-evaluates every action it grants; returns the
/// first verdict that is still not an allow (None: the fix works).
///
/// Every SCP or RCP level gets the statements, since each level on the path must allow. A
/// resource or trust fix without an imported policy becomes that resource's only policy. Actions
/// with wildcards are not asked about: they stand for no one request.
pub(super) fn verify(
    fix: &Fix,
    req: &Request<'_>,
    set: &mut PolicySet,
    rules: &Rules,
    src: &dyn PolicySource,
    action: &str,
) -> Option<Verdict> {
    let unchanged = |set: &PolicySet| {
        let v = evaluate::evaluate(req, set);
        if v.decision == Decision::Allow {
            None
        } else {
            Some(v)
        }
    };
    let doc = |stmts: &[serde_json::Value]| serde_json::json!({"Version": "2012-10-17", "Statement": stmts});
    let added = |kind: PolicyKind, stmts: &[serde_json::Value]| {
        Policy::parse(&doc(stmts)).ok().map(|policy| NamedPolicy {
            name: "whydenied fix".into(),
            kind,
            policy: policy.into(),
        })
    };
    if let Some(m) = &fix.managed_policy_arn {
        let d = src
            .managed(m)
            .map(|d| (*d).clone())
            .or_else(|| rules.managed_by_arn(m).map(|p| p.document.clone()));
        match d.and_then(|d| Policy::parse(&d).ok()) {
            Some(policy) => set.identity.push(NamedPolicy {
                name: m.clone(),
                kind: PolicyKind::Identity,
                policy: policy.into(),
            }),
            None => return unchanged(set),
        }
    } else {
        let stmts = &fix.all_statements;
        if stmts.is_empty() {
            return unchanged(set);
        }
        match fix.target {
            Target::IdentityPolicy => set.identity.extend(added(PolicyKind::Identity, stmts)),
            Target::PermissionsBoundary => {
                if let (Some(b), Some(p)) = (
                    &mut set.boundary,
                    added(PolicyKind::PermissionsBoundary, stmts),
                ) {
                    std::sync::Arc::make_mut(&mut b.policy)
                        .statements
                        .extend(p.policy.statements.iter().cloned());
                }
            }
            Target::Scp => {
                for level in &mut set.scp_levels {
                    level.extend(added(PolicyKind::Scp, stmts));
                }
            }
            Target::Rcp => {
                for level in &mut set.rcp_levels {
                    level.extend(added(PolicyKind::Rcp, stmts));
                }
            }
            Target::ResourcePolicy
            | Target::FunctionPolicy
            | Target::KeyPolicy
            | Target::TrustPolicy => {
                let kind = if fix.target == Target::TrustPolicy {
                    PolicyKind::Trust
                } else {
                    PolicyKind::Resource
                };
                match &mut set.resource {
                    Some(r) => {
                        if let Some(p) = added(kind, stmts) {
                            std::sync::Arc::make_mut(&mut r.policy)
                                .statements
                                .extend(p.policy.statements.iter().cloned());
                        }
                    }
                    None => {
                        set.resource = added(kind, stmts).map(|mut p| {
                            p.name = req.resource.to_string();
                            p
                        })
                    }
                }
            }
            _ => return unchanged(set),
        }
    }
    // The denied request itself must now be allowed, and so must every action the fix grants,
    // each on the resources its statement names (a statement's "*" stands for the request's
    // resource): the whole need of the feature, on the resource types the actions take.
    let mut asks: Vec<(String, String)> = vec![(action.to_string(), req.resource.to_string())];
    let stmts: Vec<&serde_json::Value> = if fix.all_statements.is_empty() {
        fix.statement.iter().collect()
    } else {
        fix.all_statements.iter().collect()
    };
    for st in stmts {
        // Resource policies name the resource they are about.
        let named = crate::rules::string_list(st.get("Resource"));
        let resources = if named.is_empty() || st.get("Principal").is_some() {
            vec![req.resource.to_string()]
        } else {
            named
                .into_iter()
                .map(|r| {
                    if r == "*" {
                        req.resource.to_string()
                    } else {
                        r
                    }
                })
                .collect()
        };
        for a in crate::rules::string_list(st.get("Action")) {
            if a.contains(['*', '?']) {
                continue;
            }
            for r in &resources {
                if !asks
                    .iter()
                    .any(|(x, y)| x.eq_ignore_ascii_case(&a) && y == r)
                {
                    asks.push((a.clone(), r.clone()));
                }
            }
        }
    }
    asks.iter().find_map(|(a, r)| {
        let q = Request {
            caller: req.caller.clone(),
            action: a,
            resource: r,
            context: req.context,
        };
        let v = evaluate::evaluate(&q, set);
        (v.decision != Decision::Allow).then_some(v)
    })
}

/// Removes unique ids (`AROA...`, `AIDA...`) from a statement's `Principal`, collecting them.
/// Only role (`AROA`) and user (`AIDA`) ids: IAM shows a deleted principal in a policy by its
/// unique id and refuses to save a policy that names one. A statement whose `Principal` is left
/// empty is then dropped by the caller.
fn drop_unique_ids(st: &mut serde_json::Value, dropped: &mut Vec<String>) {
    let is_id = |v: &str| {
        (v.starts_with("AROA") || v.starts_with("AIDA"))
            && v.len() >= 16
            && v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    let Some(aws) = st.get_mut("Principal").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let empty = match aws.get_mut("AWS") {
        Some(serde_json::Value::String(s)) if is_id(s) => {
            dropped.push(s.clone());
            true
        }
        Some(serde_json::Value::Array(list)) => {
            list.retain(|x| match x.as_str() {
                Some(s) if is_id(s) => {
                    dropped.push(s.to_string());
                    false
                }
                _ => true,
            });
            list.is_empty()
        }
        _ => false,
    };
    if empty {
        aws.remove("AWS");
    }
}

/// A permissions boundary is a managed policy: a new default version with the statement merged
/// into the current default (`create-policy-version --set-as-default`), where it was imported.
fn boundary_command(fix: &mut Fix, set: &PolicySet, src: &dyn PolicySource, req: &Request<'_>) {
    let Some(b) = &set.boundary else { return };
    // A version of the boundary that is not the default may already allow the request (written
    // and never made the default, or an older one rolled back): making it the default is then
    // the smaller change, though it changes everything else the boundary allows too.
    let others = src.managed_versions(&b.name);
    let versions = others.len() + 1;
    let allowing: Vec<String> = others
        .into_iter()
        .filter(|(_, doc)| {
            let Ok(policy) = Policy::parse(doc) else {
                return false;
            };
            let mut trial = set.clone();
            trial.boundary = Some(NamedPolicy {
                name: b.name.clone(),
                kind: PolicyKind::PermissionsBoundary,
                policy: policy.into(),
            });
            evaluate::evaluate(req, &trial).decision == Decision::Allow
        })
        .map(|(v, _)| v)
        .collect();
    if let Some(newest) = allowing.last() {
        fix.notes.push(format!(
            "Version {} of the boundary {} (not its default) already allows this: `{}` makes it the default instead of adding a version; compare it with the default first, since everything else the boundary allows changes with it.",
            allowing.join(", "),
            b.name,
            super::command(&[
                "aws",
                "iam",
                "set-default-policy-version",
                "--policy-arn",
                &b.name,
                "--version-id",
                newest,
            ]),
        ));
    }
    if fix.all_statements.is_empty() || b.name.starts_with("arn:aws:iam::aws:") {
        if b.name.starts_with("arn:aws:iam::aws:") {
            fix.notes.push(format!(
                "{} is an AWS managed policy and cannot be changed: set a customer managed boundary that allows it (`aws iam put-role-permissions-boundary`).",
                b.name
            ));
        }
        return;
    }
    let Some(current) = src.managed(&b.name) else {
        return;
    };
    let mut doc = (*current).clone();
    let Some(list) = doc.get_mut("Statement") else {
        return;
    };
    if !list.is_array() {
        *list = serde_json::Value::Array(vec![list.take()]);
    }
    if let Some(a) = list.as_array_mut() {
        a.extend(fix.all_statements.iter().cloned());
    }
    let text = serde_json::to_string(&doc).unwrap_or_default();
    fix.commands.push(super::command(&[
        "aws",
        "iam",
        "create-policy-version",
        "--policy-arn",
        &b.name,
        "--policy-document",
        &text,
        "--set-as-default",
    ]));
    let five = if versions >= 5 {
        // IAM keeps at most five versions of a managed policy; create-policy-version fails
        // with LimitExceeded on a sixth.
        format!(
            "It has {versions} versions, the most IAM keeps: delete a non-default one first (`aws iam delete-policy-version`), or the command fails."
        )
    } else {
        "A managed policy keeps at most five versions: if it has five, delete a non-default one first (`aws iam list-policy-versions`).".to_string()
    };
    fix.notes.push(format!(
        "The boundary {} gets a new default version: its current default with the statement added. {five}",
        b.name
    ));
}
