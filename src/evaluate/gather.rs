//! Gathering: which stored policies apply to a request. The store implements [`PolicySource`];
//! this module only reads through it, so evaluation stays free of SQL and testable with plain
//! values.

use serde_json::Value;

use super::{Caller, NamedPolicy, PolicyKind, PolicySet};
use crate::import::{FunctionRow, MappingRow, PrincipalRow};
use crate::parse::arn::{self, Arn};
use crate::policy::Policy;
use crate::rules::Rules;

/// Read access to imported facts.
pub trait PolicySource {
    /// A role or user by ARN (a session or path-less ARN resolves to the role by name).
    fn principal(&self, arn: &str) -> Option<PrincipalRow>;
    /// A group by account and name.
    fn group(&self, account: &str, name: &str) -> Option<PrincipalRow>;
    /// An imported managed policy's default document.
    fn managed(&self, arn: &str) -> Option<Value>;
    /// A resource's own policy.
    fn resource_policy(&self, resource_arn: &str) -> Option<Value>;
    /// Organization policies attached to an account, OU or root: (name, `scp`|`rcp`, document).
    fn org_policies_for(&self, target: &str) -> Vec<(String, String, Value)>;
    /// The parent OU or root of an account or OU.
    fn org_parent(&self, child: &str) -> Option<String>;
    /// Whether any organization policy was imported with a target.
    fn has_org_policies(&self) -> bool;
    /// A function's configuration by name or ARN.
    fn function(&self, name_or_arn: &str) -> Option<FunctionRow>;
    /// The mapping of a function from a source.
    fn mapping_for(&self, function_arn: &str, source_arn: &str) -> Option<MappingRow>;
}

/// What gathering could not find, for explanations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    /// The principal itself was never imported.
    pub principal_missing: bool,
    /// Attached or boundary policies whose documents are unknown.
    pub missing_policies: Vec<String>,
}

fn named(name: String, kind: PolicyKind, doc: &Value) -> Option<NamedPolicy> {
    Policy::parse(doc)
        .ok()
        .map(|policy| NamedPolicy { name, kind, policy })
}

fn managed_doc(src: &dyn PolicySource, rules: &Rules, arn: &str) -> Option<Value> {
    src.managed(arn)
        .or_else(|| rules.managed_by_arn(arn).map(|m| m.document.clone()))
}

/// The resource policy that governs `resource`: the bucket's for an object, the function's for a
/// qualified function ARN, the role's trust policy for `sts:AssumeRole`.
fn resource_policy_for(
    src: &dyn PolicySource,
    action: &str,
    resource: &str,
) -> Option<NamedPolicy> {
    if action.eq_ignore_ascii_case("sts:AssumeRole") {
        let role = src.principal(resource)?;
        let trust = role.trust?;
        return named(role.arn, PolicyKind::Trust, &trust);
    }
    if let Some(d) = src.resource_policy(resource) {
        return named(resource.to_string(), PolicyKind::Resource, &d);
    }
    let a = Arn::parse(resource)?;
    let base = match a.service {
        "s3" => format!("arn:{}:s3:::{}", a.partition, a.resource.split('/').next()?),
        "lambda" => format!(
            "arn:{}:lambda:{}:{}:function:{}",
            a.partition,
            a.region,
            a.account,
            arn::function_name(resource)?
        ),
        _ => return None,
    };
    let d = src.resource_policy(&base)?;
    named(base, PolicyKind::Resource, &d)
}

/// The organization levels above an account, root first.
fn org_levels(src: &dyn PolicySource, account: &str, want: &str) -> Vec<Vec<NamedPolicy>> {
    let mut chain = vec![account.to_string()];
    let mut cur = account.to_string();
    while let Some(p) = src.org_parent(&cur) {
        if chain.contains(&p) || chain.len() > 8 {
            break;
        }
        chain.push(p.clone());
        cur = p;
    }
    chain.reverse();
    let mut levels = Vec::new();
    for target in chain {
        let kind = if want == "scp" {
            PolicyKind::Scp
        } else {
            PolicyKind::Rcp
        };
        let level: Vec<NamedPolicy> = src
            .org_policies_for(&target)
            .into_iter()
            .filter(|(_, k, _)| k == want)
            .filter_map(|(name, _, doc)| named(name, kind, &doc))
            .collect();
        if !level.is_empty() {
            levels.push(level);
        }
    }
    levels
}

/// Gathers the policies for a request.
pub fn gather(
    src: &dyn PolicySource,
    rules: &Rules,
    caller: &Caller,
    action: &str,
    resource: &str,
) -> (PolicySet, Gaps) {
    let mut set = PolicySet::default();
    let mut gaps = Gaps::default();
    if let Caller::Iam { arn, account, .. } = caller {
        match src.principal(arn) {
            None => gaps.principal_missing = true,
            Some(p) => {
                set.identity_known = true;
                let mut holders = vec![p.clone()];
                for g in p.groups.clone().unwrap_or_default() {
                    if let Some(group) = src.group(&p.account, &g) {
                        holders.push(group);
                    } else {
                        gaps.missing_policies.push(format!("group {g}"));
                    }
                }
                for h in &holders {
                    for (name, doc) in h.inline.clone().unwrap_or_default() {
                        if let Some(np) =
                            named(format!("{}#{name}", h.arn), PolicyKind::Identity, &doc)
                        {
                            set.identity.push(np);
                        }
                    }
                    for m in h.attached.clone().unwrap_or_default() {
                        match managed_doc(src, rules, &m)
                            .and_then(|d| named(m.clone(), PolicyKind::Identity, &d))
                        {
                            Some(np) => set.identity.push(np),
                            None => gaps.missing_policies.push(m),
                        }
                    }
                }
                if let Some(b) = p.boundary.clone().flatten() {
                    match managed_doc(src, rules, &b)
                        .and_then(|d| named(b.clone(), PolicyKind::PermissionsBoundary, &d))
                    {
                        Some(np) => set.boundary = Some(np),
                        None => gaps.missing_policies.push(b),
                    }
                }
                if !gaps.missing_policies.is_empty() {
                    set.identity_known = false;
                }
            }
        }
        if src.has_org_policies() {
            set.scp_levels = org_levels(src, account, "scp");
        }
    }
    set.resource = resource_policy_for(src, action, resource);
    set.resource_account = Arn::parse(resource)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty());
    if let Some(acct) = &set.resource_account
        && src.has_org_policies()
    {
        set.rcp_levels = org_levels(src, acct, "rcp");
    }
    (set, gaps)
}
