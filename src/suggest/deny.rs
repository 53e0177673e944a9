//! An explicit deny: the narrowest change to the statement that denies.

use super::*;
use crate::diagnose::Checked;
use crate::evaluate::gather::PolicySource;
use crate::evaluate::{self, Caller, Decision, NamedPolicy, PolicyKind, PolicySet, StatementRef};
use crate::policy::Policy;

/// The raw document of a policy a verdict names, from the store (or the shipped catalog).
fn raw_policy(
    s: &StatementRef,
    set: &PolicySet,
    src: &dyn PolicySource,
    rules: &Rules,
) -> Option<serde_json::Value> {
    match s.kind {
        PolicyKind::Identity | PolicyKind::PermissionsBoundary => match s.policy.split_once('#') {
            Some((owner, name)) => src.principal(owner).and_then(|p| {
                p.inline
                    .as_ref()?
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, d)| d.clone())
            }),
            None => src
                .managed(&s.policy)
                .map(|d| (*d).clone())
                .or_else(|| rules.managed_by_arn(&s.policy).map(|m| m.document.clone())),
        },
        PolicyKind::Resource => src.resource_policy(&s.policy).map(|d| (*d).clone()),
        PolicyKind::Trust => src.principal(&s.policy).and_then(|p| p.trust.clone()),
        PolicyKind::Scp | PolicyKind::Rcp => super::org::raw_org_policy(&s.policy, set, src),
        PolicyKind::Session | PolicyKind::VpcEndpoint => None,
    }
}

/// For an explicit deny: the narrowest change to the denying statement — drop the action when
/// the statement lists it among others, else exempt this principal with a condition — checked
/// by re-evaluating with the statement replaced. `exempt_only`: the statement's condition
/// depends on a key the log does not give, so only an exemption of this principal works
/// whatever that key's value.
pub(super) fn narrow_deny(
    fix: &mut Fix,
    deny: &StatementRef,
    exempt_only: bool,
    checked: &Checked,
    src: &dyn PolicySource,
    rules: &Rules,
) {
    let req = &checked.request();
    let set = &checked.set;
    let action = checked.action.as_str();
    let Some(mut doc) = raw_policy(deny, set, src, rules) else {
        fix.verified = Some(false);
        return;
    };
    let stmts = match doc.get_mut("Statement") {
        Some(serde_json::Value::Array(a)) => a,
        Some(o @ serde_json::Value::Object(_)) => {
            *o = serde_json::Value::Array(vec![o.take()]);
            match o.as_array_mut() {
                Some(a) => a,
                None => return,
            }
        }
        _ => return,
    };
    let Some(stmt) = stmts.get_mut(deny.index) else {
        return;
    };
    let listed: Vec<String> = match stmt.get("Action") {
        Some(serde_json::Value::String(a)) => vec![a.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let how = if !exempt_only
        && listed.len() > 1
        && listed.iter().any(|a| a.eq_ignore_ascii_case(action))
    {
        let rest: Vec<String> = listed
            .into_iter()
            .filter(|a| !a.eq_ignore_ascii_case(action))
            .collect();
        if let Some(o) = stmt.as_object_mut() {
            o.insert("Action".into(), serde_json::json!(rest));
        }
        format!("remove {action} from the statement's actions")
    } else {
        let who = match &req.caller {
            Caller::Iam { arn, .. } => arn.clone(),
            Caller::Service(s) => s.clone(),
        };
        let key = if matches!(req.caller, Caller::Service(_)) {
            "aws:PrincipalServiceName"
        } else {
            "aws:PrincipalArn"
        };
        let op = if key == "aws:PrincipalArn" {
            "ArnNotEquals"
        } else {
            "StringNotEquals"
        };
        if let Some(o) = stmt.as_object_mut() {
            let cond = o
                .entry("Condition")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(c) = cond.as_object_mut() {
                let entry = c.entry(op).or_insert_with(|| serde_json::json!({}));
                if let Some(e) = entry.as_object_mut() {
                    // Exemptions already there stay: the principal joins their list.
                    match e.get_mut(key) {
                        Some(serde_json::Value::Array(list)) => {
                            list.push(serde_json::json!(who));
                        }
                        Some(one @ serde_json::Value::String(_)) => {
                            *one = serde_json::json!([one.take(), who]);
                        }
                        _ => {
                            e.insert(key.to_string(), serde_json::json!(who));
                        }
                    }
                }
            }
        }
        format!(
            "add a condition that exempts {who} (it holds whatever the other condition keys say)"
        )
    };
    let narrowed = stmt.clone();
    // Re-evaluate with the narrowed statement in place.
    let mut trial = set.clone();
    let replaced = Policy::parse(&doc).ok();
    // The same organization policy may be attached at several levels: each copy changes.
    let slots: Vec<&mut NamedPolicy> = match deny.kind {
        PolicyKind::Identity => trial
            .identity
            .iter_mut()
            .filter(|p| p.name == deny.policy)
            .collect(),
        PolicyKind::PermissionsBoundary => trial.boundary.iter_mut().collect(),
        PolicyKind::Resource | PolicyKind::Trust => trial.resource.iter_mut().collect(),
        PolicyKind::Scp => trial
            .scp_levels
            .iter_mut()
            .flatten()
            .filter(|p| p.name == deny.policy)
            .collect(),
        PolicyKind::Rcp => trial
            .rcp_levels
            .iter_mut()
            .flatten()
            .filter(|p| p.name == deny.policy)
            .collect(),
        PolicyKind::Session | PolicyKind::VpcEndpoint => Vec::new(),
    };
    let mut ok = false;
    if let Some(p) = replaced
        && !slots.is_empty()
    {
        let p: std::sync::Arc<Policy> = p.into();
        for slot in slots {
            slot.policy = p.clone();
        }
        ok = evaluate::evaluate(req, &trial).decision == Decision::Allow;
    }
    let which = match &deny.sid {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement #{}", deny.index),
    };
    fix.statement = Some(narrowed.clone());
    fix.all_statements = vec![narrowed];
    let text = serde_json::to_string(&doc).unwrap_or_default();
    fix.commands.clear();
    match (deny.kind, deny.policy.split_once('#')) {
        (PolicyKind::Identity, Some((owner, name))) if !owner.contains(":user/") => {
            if let Some(role) = arn::role_name(owner) {
                fix.commands.push(super::command(&[
                    "aws",
                    "iam",
                    "put-role-policy",
                    "--role-name",
                    role,
                    "--policy-name",
                    name,
                    "--policy-document",
                    &text,
                ]));
            }
        }
        (PolicyKind::Identity, Some((owner, name))) if owner.contains(":user/") => {
            if let Some(user) = owner.rsplit('/').next() {
                fix.commands.push(super::command(&[
                    "aws",
                    "iam",
                    "put-user-policy",
                    "--user-name",
                    user,
                    "--policy-name",
                    name,
                    "--policy-document",
                    &text,
                ]));
            }
        }
        (PolicyKind::Resource | PolicyKind::Trust, _) => {
            fix.commands.extend(super::put_back::command(
                rules,
                &deny.policy,
                &doc,
                deny.kind == PolicyKind::Trust,
            ));
        }
        (PolicyKind::Scp | PolicyKind::Rcp, _) => {
            fix.commands
                .push(super::org::update_command(&deny.policy, &doc));
            fix.account =
                super::org::management_account(src, [deny.policy.as_str()]).or(fix.account.take());
        }
        (PolicyKind::Identity | PolicyKind::PermissionsBoundary, None)
            if !deny.policy.contains(":iam::aws:") =>
        {
            fix.commands.push(super::command(&[
                "aws",
                "iam",
                "create-policy-version",
                "--policy-arn",
                &deny.policy,
                "--policy-document",
                &text,
                "--set-as-default",
            ]));
        }
        _ => {}
    }
    fix.notes.insert(
        0,
        format!("Narrowest change: in {which} of {}, {how}; `statement` is the statement as it would read.", deny.policy),
    );
    if deny.policy.contains(":iam::aws:") {
        fix.notes.push("The denying policy is AWS managed and cannot be edited: detach it, or attach a customer managed copy with the change.".into());
    }
    fix.verified = Some(ok);
    if !ok {
        fix.notes.insert(0, "Not verified: with this change another policy still denies or does not allow the request.".into());
    }
}
