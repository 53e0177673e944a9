//! Fixes to the organization's policies (SCPs, RCPs): the level of the account's path that
//! does not allow, and the policy attached there that can take the statement.

use super::*;
use crate::evaluate::gather::PolicySource;
use crate::evaluate::{self, PolicySet, Request};

/// The largest SCP or RCP document AWS Organizations accepts, in characters.
const ORG_POLICY_MAX: usize = 5_120;

/// The kind of organization policy a fix target stands for.
struct OrgKind {
    want: &'static str,
    api_type: &'static str,
    label: &'static str,
}

fn org_kind(target: Target) -> Option<OrgKind> {
    match target {
        Target::Scp => Some(OrgKind {
            want: "scp",
            api_type: "SERVICE_CONTROL_POLICY",
            label: "service control policy",
        }),
        Target::Rcp => Some(OrgKind {
            want: "rcp",
            api_type: "RESOURCE_CONTROL_POLICY",
            label: "resource control policy",
        }),
        _ => None,
    }
}

/// `p-…` from a policy ARN (`arn:aws:organizations::111:policy/o-x/service_control_policy/p-y`)
/// or the id itself.
pub(super) fn policy_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// AWS's own organization policies (`FullAWSAccess`, `RCPFullAWSAccess`) cannot be edited.
fn aws_managed(name: &str) -> bool {
    name.contains("::aws:policy/") || policy_id(name).starts_with("p-FullAWSAccess")
}

/// The stored document of an organization policy attached on the set's paths.
pub(super) fn raw_org_policy(
    name: &str,
    set: &PolicySet,
    src: &dyn PolicySource,
) -> Option<serde_json::Value> {
    set.scp_targets
        .iter()
        .chain(set.rcp_targets.iter())
        .flat_map(|t| src.org_policies_for(t))
        .find(|(n, _, d)| n == name && d.is_object())
        .map(|(_, _, d)| d)
}

/// The command that puts an organization policy back with new content.
pub(super) fn update_command(name: &str, doc: &serde_json::Value) -> String {
    let text = serde_json::to_string(doc).unwrap_or_default();
    super::command(&[
        "aws",
        "organizations",
        "update-policy",
        "--policy-id",
        policy_id(name),
        "--content",
        &text,
    ])
}

/// For a missing SCP or RCP allow: at every level of the path where nothing allows, the
/// statement merged into a customer policy attached there, or a new policy attached there when
/// none can take it. Run with the management account's credentials.
pub(super) fn org_commands(
    fix: &mut Fix,
    set: &PolicySet,
    src: &dyn PolicySource,
    req: &Request<'_>,
) {
    let Some(kind) = org_kind(fix.target) else {
        return;
    };
    let (levels, targets) = if kind.want == "scp" {
        (&set.scp_levels, &set.scp_targets)
    } else {
        (&set.rcp_levels, &set.rcp_targets)
    };
    if fix.all_statements.is_empty() || levels.len() != targets.len() {
        return;
    }
    let mut commands = Vec::new();
    let mut notes = Vec::new();
    for (level, target) in levels.iter().zip(targets) {
        if evaluate::level_allows(level, req, set) {
            continue;
        }
        let editable: Vec<(String, serde_json::Value)> = src
            .org_policies_for(target)
            .into_iter()
            .filter(|(n, k, d)| k == kind.want && !aws_managed(n) && d.get("Statement").is_some())
            .map(|(n, _, d)| (n, d))
            .collect();
        // The policy that already allows things at this level is the list the statement joins.
        let chosen = editable
            .iter()
            .find(|(_, d)| {
                let list = match d.get("Statement") {
                    Some(serde_json::Value::Array(a)) => a.iter().collect(),
                    Some(one) => vec![one],
                    None => Vec::new(),
                };
                list.iter()
                    .any(|s| s.get("Effect").and_then(|e| e.as_str()) == Some("Allow"))
            })
            .or(editable.first());
        let merged = chosen.map(|(n, d)| {
            let mut doc = d.clone();
            if let Some(list) = doc.get_mut("Statement") {
                if !list.is_array() {
                    *list = serde_json::Value::Array(vec![list.take()]);
                }
                if let Some(a) = list.as_array_mut() {
                    a.extend(fix.all_statements.iter().cloned());
                }
            }
            (n.clone(), doc)
        });
        match merged {
            Some((name, doc))
                if serde_json::to_string(&doc).map_or(0, |t| t.len()) <= ORG_POLICY_MAX =>
            {
                commands.push(update_command(&name, &doc));
                notes.push(format!(
                    "At {target} no {} allows it: the command puts {} back whole with the statement added.",
                    kind.label,
                    policy_id(&name)
                ));
            }
            other => {
                let doc =
                    serde_json::json!({"Version": "2012-10-17", "Statement": fix.all_statements});
                let text = serde_json::to_string(&doc).unwrap_or_default();
                let name = super::statement_id(
                    "Allow",
                    xxhash_rust::xxh3::xxh3_64(format!("{target}|{text}").as_bytes()),
                );
                commands.push(super::command(&[
                    "aws",
                    "organizations",
                    "create-policy",
                    "--name",
                    &name,
                    "--type",
                    kind.api_type,
                    "--description",
                    "Allows what a denied request needed",
                    "--content",
                    &text,
                ]));
                commands.push(super::command(&[
                    "aws",
                    "organizations",
                    "attach-policy",
                    "--policy-id",
                    "NEW_POLICY_ID",
                    "--target-id",
                    target,
                ]));
                notes.push(format!(
                    "At {target} no {} allows it{}: create a policy with the statement and attach it there (NEW_POLICY_ID is the Id that create-policy prints; a target takes at most five policies of a type).",
                    kind.label,
                    if other.is_some() {
                        format!(", and the policy there would exceed {ORG_POLICY_MAX} characters with the statement")
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    if commands.is_empty() {
        return;
    }
    fix.commands = commands;
    fix.notes.extend(notes);
    fix.account = management_account(src, levels.iter().flatten().map(|p| p.name.as_str()));
}

/// The organization's management account, which changes its SCPs and RCPs: the imported
/// organization's, else the one a customer policy's ARN names
/// (`arn:aws:organizations::<management account>:policy/...`; AWS managed ones name `aws`).
pub(super) fn management_account<'p>(
    src: &dyn PolicySource,
    policies: impl IntoIterator<Item = &'p str>,
) -> Option<String> {
    src.organization()
        .and_then(|o| o.management_account)
        .or_else(|| policies.into_iter().find_map(account_of_policy))
}

/// The management account an organization policy's ARN names, if it names one.
pub(super) fn account_of_policy(policy: &str) -> Option<String> {
    arn::Arn::parse(policy)
        .filter(|a| a.service == "organizations")
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
}
