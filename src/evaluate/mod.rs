//! Evaluate: a request and the policies that apply to it → a [`Verdict`] that names its reasons.
//!
//! The order is AWS's documented policy evaluation logic:
//! 1. An explicit `Deny` in any applicable policy wins.
//! 2. Service control policies (every level from the root to the account) and resource control
//!    policies must allow.
//! 3. Within one account, a resource-based policy that allows the principal allows on its own —
//!    except a KMS key policy that only delegates to the account, and a role trust policy that
//!    names the account rather than the caller, which both also need the identity side.
//! 4. Otherwise identity-based policies must allow, intersected with the permissions boundary and
//!    the session policies where there are any.
//! 5. Across accounts, both the identity side and the resource side must allow.
//!
//! A service principal (S3, API Gateway... invoking a function) is judged by the resource policy
//! alone.
//!
//! Every step is three-valued: a statement whose condition needs a key the log does not reveal is
//! *undecided*, and the decision is `Unknown` only when such a statement could change it.

pub mod context;
pub mod gather;

use serde::Serialize;

use crate::policy::condition::{self, Lookup, Tri};
use crate::policy::wildcard;
use crate::policy::{Effect, Policy, PrincipalType, Statement};

pub use context::RequestContext;

/// The kinds of policy a verdict names (CONTRACT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Identity,
    Resource,
    PermissionsBoundary,
    Scp,
    Rcp,
    Session,
    Trust,
}

impl PolicyKind {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Resource => "resource",
            PolicyKind::PermissionsBoundary => "permissions_boundary",
            PolicyKind::Scp => "scp",
            PolicyKind::Rcp => "rcp",
            PolicyKind::Session => "session",
            PolicyKind::Trust => "trust",
        }
    }
}

/// A policy with the name a verdict shows for it.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// ARN of a managed policy, `<role or user ARN>#<inline name>` for inline policies, or the
    /// resource ARN for resource policies.
    pub name: String,
    pub kind: PolicyKind,
    pub policy: std::sync::Arc<Policy>,
}

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM role, role session, user or root: its ARN as resolved (`arn:aws:iam::1:role/r`)
    /// and, for sessions, the session ARN.
    Iam {
        arn: String,
        session_arn: Option<String>,
        account: String,
    },
    /// An AWS service principal (`s3.amazonaws.com`).
    Service(String),
}

impl Caller {
    fn account(&self) -> Option<&str> {
        match self {
            Caller::Iam { account, .. } => Some(account),
            Caller::Service(_) => None,
        }
    }
}

/// Everything that applies to one request, gathered from the store.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies of the principal (inline, attached, groups').
    pub identity: Vec<NamedPolicy>,
    /// The permissions boundary, when the principal has one.
    pub boundary: Option<NamedPolicy>,
    /// Session policies passed at AssumeRole, when known.
    pub session: Vec<NamedPolicy>,
    /// The resource's own policy (function policy, bucket, queue, topic, key, secret, or a role's
    /// trust policy for `sts:AssumeRole`).
    pub resource: Option<NamedPolicy>,
    /// The account that owns the resource, when known.
    pub resource_account: Option<String>,
    /// SCPs by level, root first; empty when none were imported (then taken as allowing).
    pub scp_levels: Vec<Vec<NamedPolicy>>,
    /// RCPs by level; empty when none were imported.
    pub rcp_levels: Vec<Vec<NamedPolicy>>,
    /// Whether the identity side is known (the principal's policies were imported).
    pub identity_known: bool,
}

/// The request being judged.
#[derive(Clone)]
pub struct Request<'a> {
    pub caller: Caller,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a dyn Lookup,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
    Unknown,
}

/// One statement that decided a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    pub policy: String,
    pub kind: PolicyKind,
    pub sid: Option<String>,
    pub index: usize,
    pub effect: &'static str,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// The statements that decided: the denying ones for an explicit deny, the allowing ones for
    /// an allow; for an implicit deny, may be empty.
    pub deciding: Vec<StatementRef>,
    /// The policy kinds in which no statement allowed the request.
    pub missing_allow: Vec<PolicyKind>,
    /// Condition keys whose values were needed and not known.
    pub missing_context_keys: Vec<String>,
    /// What the evaluation assumed (SCPs not imported...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How one policy kind answered: which statements allowed or denied for certain, which might.
#[derive(Debug, Default)]
struct Found {
    allow: Vec<StatementRef>,
    deny: Vec<StatementRef>,
    maybe_allow: Vec<String>,
    maybe_deny: Vec<String>,
}

impl Found {
    fn allow_tri(&self) -> Tri {
        if !self.allow.is_empty() {
            Tri::True
        } else if !self.maybe_allow.is_empty() {
            Tri::Unknown(self.maybe_allow.clone())
        } else {
            Tri::False
        }
    }
}

fn stmt_ref(p: &NamedPolicy, s: &Statement) -> StatementRef {
    StatementRef {
        policy: p.name.clone(),
        kind: p.kind,
        sid: s.sid.clone(),
        index: s.index,
        effect: match s.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        },
    }
}

/// Whether a statement's Principal element covers the caller (resource policies only). A Deny
/// with `NotPrincipal` always applies to a principal that has a permissions boundary.
fn principal_matches(s: &Statement, caller: &Caller, has_boundary: bool) -> bool {
    if has_boundary && s.effect == Effect::Deny && s.principal.as_ref().is_some_and(|p| p.not) {
        return true;
    }
    let Some(p) = &s.principal else {
        // Identity policies have no Principal: they apply to their holder.
        return true;
    };
    let hit = p.any
        || p.entries.iter().any(|(t, v)| match (t, caller) {
            (PrincipalType::Service, Caller::Service(svc)) => v.eq_ignore_ascii_case(svc),
            (
                PrincipalType::Aws,
                Caller::Iam {
                    arn,
                    session_arn,
                    account,
                },
            ) => {
                v == "*"
                    || v == account
                    || *v == format!("arn:aws:iam::{account}:root")
                    || v.ends_with(&format!(":iam::{account}:root"))
                    || v == arn
                    || session_arn.as_deref() == Some(v.as_str())
                    || (v.contains('*') && wildcard::matches(v, arn, false))
            }
            _ => false,
        });
    if p.not { !hit } else { hit }
}

/// Whether an allowing statement names the caller's session (or, for a user, the user): such a
/// grant is not limited by the boundary or session policies, a grant to the role ARN is.
fn names_session_or_user(s: &Statement, caller: &Caller) -> bool {
    match (&s.principal, caller) {
        (
            Some(p),
            Caller::Iam {
                arn, session_arn, ..
            },
        ) if !p.not => p.entries.iter().any(|(t, v)| {
            *t == PrincipalType::Aws
                && (session_arn.as_deref() == Some(v.as_str())
                    || (session_arn.is_none() && v == arn && arn.contains(":user/")))
        }),
        _ => false,
    }
}

/// Whether a principal entry names the caller itself rather than its whole account.
fn names_caller_directly(s: &Statement, caller: &Caller) -> bool {
    match (&s.principal, caller) {
        (
            Some(p),
            Caller::Iam {
                arn, session_arn, ..
            },
        ) if !p.not => p.entries.iter().any(|(t, v)| {
            *t == PrincipalType::Aws && (v == arn || session_arn.as_deref() == Some(v.as_str()))
        }),
        (Some(p), Caller::Service(_)) => !p.not,
        _ => false,
    }
}

fn scan(p: &NamedPolicy, req: &Request<'_>, has_boundary: bool, out: &mut Found) {
    for s in &p.policy.statements {
        let action_ok = match &s.action {
            Some(m) => {
                m.patterns
                    .iter()
                    .any(|pat| wildcard::action_matches(pat, req.action))
                    != m.not
            }
            None => false,
        };
        if !action_ok {
            continue;
        }
        let resource_ok: Tri = match &s.resource {
            // Trust policies and some resource policies omit Resource: they cover their resource.
            None => Tri::True,
            Some(m) => {
                let mut any = Tri::False;
                for pat in &m.patterns {
                    match wildcard::arn_matches(pat, req.resource, Some(req.context)) {
                        Ok(true) => {
                            any = Tri::True;
                            break;
                        }
                        Ok(false) | Err(wildcard::VarError::Absent(_)) => {}
                        Err(wildcard::VarError::Unknown(k)) => any = Tri::Unknown(vec![k]),
                    }
                }
                match (any, m.not) {
                    (Tri::True, true) => Tri::False,
                    (Tri::False, true) => Tri::True,
                    (t, _) => t,
                }
            }
        };
        if resource_ok == Tri::False {
            continue;
        }
        if !principal_matches(s, &req.caller, has_boundary) {
            continue;
        }
        let cond = resource_ok.and(condition::evaluate_all(&s.conditions, req.context));
        let r = stmt_ref(p, s);
        match (s.effect, cond) {
            (_, Tri::False) => {}
            (Effect::Allow, Tri::True) => out.allow.push(r),
            (Effect::Deny, Tri::True) => out.deny.push(r),
            (Effect::Allow, Tri::Unknown(k)) => merge(&mut out.maybe_allow, k),
            (Effect::Deny, Tri::Unknown(k)) => merge(&mut out.maybe_deny, k),
        }
    }
}

fn merge(into: &mut Vec<String>, keys: Vec<String>) {
    for k in keys {
        if !into.contains(&k) {
            into.push(k);
        }
    }
}

/// Evaluates a request against its policies.
pub fn evaluate(req: &Request<'_>, set: &PolicySet) -> Verdict {
    let mut notes = Vec::new();
    let mut deny: Vec<StatementRef> = Vec::new();
    let mut maybe_deny: Vec<String> = Vec::new();
    let mut missing_allow = Vec::new();
    let mut unknown_keys: Vec<String> = Vec::new();
    // (allowing statements, tri) per stage that must allow.
    let mut required: Vec<(PolicyKind, Tri, Vec<StatementRef>)> = Vec::new();

    let service_caller = matches!(req.caller, Caller::Service(_));
    let has_boundary = set.boundary.is_some();
    let collect = |p: &NamedPolicy, found: &mut Found| scan(p, req, has_boundary, found);

    // Organization policies, level by level. SCPs do not restrict service principals.
    if !service_caller {
        if set.scp_levels.is_empty() {
            notes.push(
                "No service control policies were imported; they are taken as allowing.".into(),
            );
        }
        for level in &set.scp_levels {
            let mut f = Found::default();
            for p in level {
                collect(p, &mut f);
            }
            deny.append(&mut f.deny);
            merge(&mut maybe_deny, std::mem::take(&mut f.maybe_deny));
            required.push((PolicyKind::Scp, f.allow_tri(), f.allow));
        }
    }
    if set.rcp_levels.is_empty() {
        if !service_caller {
            notes.push(
                "No resource control policies were imported; they are taken as allowing.".into(),
            );
        }
    } else {
        for level in &set.rcp_levels {
            let mut f = Found::default();
            for p in level {
                collect(p, &mut f);
            }
            deny.append(&mut f.deny);
            merge(&mut maybe_deny, std::mem::take(&mut f.maybe_deny));
            required.push((PolicyKind::Rcp, f.allow_tri(), f.allow));
        }
    }

    // The resource's own policy.
    let mut res = Found::default();
    let mut res_direct = false;
    let mut res_unlimited = false;
    if let Some(p) = &set.resource {
        collect(p, &mut res);
        res_unlimited = p.policy.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && names_session_or_user(s, &req.caller)
                && res.allow.iter().any(|r| r.index == s.index)
        });
        res_direct = p.policy.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && names_caller_directly(s, &req.caller)
                && res.allow.iter().any(|r| r.index == s.index)
        });
    }
    deny.append(&mut res.deny);
    merge(&mut maybe_deny, std::mem::take(&mut res.maybe_deny));

    // Identity side, boundary, session.
    let mut id = Found::default();
    let mut boundary = Found::default();
    let mut session = Found::default();
    if !service_caller {
        for p in &set.identity {
            collect(p, &mut id);
        }
        if let Some(b) = &set.boundary {
            collect(b, &mut boundary);
        }
        for p in &set.session {
            collect(p, &mut session);
        }
        for f in [&mut id, &mut boundary, &mut session] {
            deny.append(&mut f.deny);
            merge(&mut maybe_deny, std::mem::take(&mut f.maybe_deny));
        }
    }

    if !deny.is_empty() {
        return Verdict {
            decision: Decision::ExplicitDeny,
            deciding: deny,
            missing_allow: Vec::new(),
            missing_context_keys: Vec::new(),
            notes,
        };
    }

    // The allow side.
    let res_kind = set
        .resource
        .as_ref()
        .map(|p| p.kind)
        .unwrap_or(PolicyKind::Resource);
    let res_tri = res.allow_tri();
    let arn_account = crate::parse::arn::Arn::parse(req.resource)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty());
    let resource_account = set.resource_account.clone().or(arn_account);
    let same_account = match (req.caller.account(), resource_account.as_deref()) {
        (Some(a), Some(b)) => a == b,
        (Some(_), None) => true,
        (None, _) => true,
    };
    let (allow_tri, allowing): (Tri, Vec<StatementRef>) = if service_caller {
        if set.resource.is_none() {
            notes.push("The resource's policy was not imported.".into());
            (
                Tri::Unknown(vec!["resource policy (not imported)".into()]),
                Vec::new(),
            )
        } else {
            if res_tri == Tri::False {
                missing_allow.push(res_kind);
            }
            (res_tri, res.allow.clone())
        }
    } else {
        let id_tri = if set.identity_known {
            id.allow_tri()
        } else {
            Tri::Unknown(vec!["identity policies (not imported)".into()])
        };
        let mut identity_side = id_tri.clone();
        let mut identity_allows = id.allow.clone();
        if set.boundary.is_some() {
            let bt = boundary.allow_tri();
            if bt == Tri::False {
                missing_allow.push(PolicyKind::PermissionsBoundary);
            }
            identity_side = identity_side.and(bt);
            identity_allows.extend(boundary.allow.iter().cloned());
        }
        if !set.session.is_empty() {
            let st = session.allow_tri();
            if st == Tri::False {
                missing_allow.push(PolicyKind::Session);
            }
            identity_side = identity_side.and(st);
            identity_allows.extend(session.allow.iter().cloned());
        }
        if id_tri == Tri::False {
            missing_allow.push(PolicyKind::Identity);
        }
        // A resource policy can allow on its own within the account, when it names the caller
        // itself (a KMS key policy or trust policy that names only the account delegates to IAM).
        let delegating = matches!(res_kind, PolicyKind::Trust)
            || set
                .resource
                .as_ref()
                .is_some_and(|p| p.name.contains(":kms:"));
        let resource_alone = same_account && (!delegating || res_direct);
        match (&set.resource, same_account) {
            (Some(_), true) if resource_alone => {
                // Either side may allow. A grant to the role ARN (not the session) is still
                // limited by the boundary and session policies.
                let mut res_side = res_tri.clone();
                if !res_unlimited {
                    if set.boundary.is_some() {
                        res_side = res_side.and(boundary.allow_tri());
                    }
                    if !set.session.is_empty() {
                        res_side = res_side.and(session.allow_tri());
                    }
                }
                let either = or(res_side, identity_side.clone());
                let mut allows = res.allow.clone();
                allows.extend(identity_allows);
                if either == Tri::False && res_tri == Tri::False {
                    missing_allow.push(res_kind);
                }
                (either, allows)
            }
            (Some(_), _) => {
                // Both sides must allow (cross-account, or a delegating key/trust policy).
                if res_tri == Tri::False {
                    missing_allow.push(res_kind);
                }
                let mut allows = res.allow.clone();
                allows.extend(identity_allows);
                (res_tri.and(identity_side), allows)
            }
            // A KMS key's policy must allow (or delegate to the account): without it imported
            // nothing can be decided.
            (None, true)
                if req.resource.starts_with("arn:")
                    && req.resource.contains(":kms:")
                    && req.resource.contains(":key/") =>
            {
                notes.push("The key policy was not imported; a key policy must allow every use of a KMS key.".into());
                (
                    identity_side.and(Tri::Unknown(vec!["key policy (not imported)".into()])),
                    identity_allows,
                )
            }
            (None, true) => (identity_side, identity_allows),
            (None, false) => {
                notes.push(
                    "The resource is in another account and its policy was not imported.".into(),
                );
                (
                    identity_side.and(Tri::Unknown(vec!["resource policy (not imported)".into()])),
                    identity_allows,
                )
            }
        }
    };
    let mut total = allow_tri;
    let mut all_allowing = allowing;
    for (kind, tri, allows) in required {
        if tri == Tri::False && !missing_allow.contains(&kind) {
            missing_allow.push(kind);
        }
        total = total.and(tri);
        all_allowing.extend(allows);
    }
    let decision = match (&total, maybe_deny.is_empty()) {
        (Tri::False, _) => Decision::ImplicitDeny,
        (Tri::True, true) => Decision::Allow,
        (Tri::True, false) => {
            merge(&mut unknown_keys, maybe_deny.clone());
            Decision::Unknown
        }
        (Tri::Unknown(k), _) => {
            merge(&mut unknown_keys, k.clone());
            merge(&mut unknown_keys, maybe_deny.clone());
            Decision::Unknown
        }
    };
    missing_allow.sort();
    missing_allow.dedup();
    Verdict {
        deciding: if decision == Decision::Allow {
            all_allowing
        } else {
            Vec::new()
        },
        missing_allow: if decision == Decision::Allow {
            Vec::new()
        } else {
            missing_allow
        },
        missing_context_keys: unknown_keys,
        decision,
        notes,
    }
}

fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::True, _) | (_, Tri::True) => Tri::True,
        (Tri::Unknown(mut x), Tri::Unknown(y)) => {
            merge(&mut x, y);
            Tri::Unknown(x)
        }
        (Tri::Unknown(x), Tri::False) | (Tri::False, Tri::Unknown(x)) => Tri::Unknown(x),
        (Tri::False, Tri::False) => Tri::False,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::policy::condition::MapContext;
    use serde_json::json;

    fn np(name: &str, kind: PolicyKind, doc: serde_json::Value) -> NamedPolicy {
        NamedPolicy {
            name: name.into(),
            kind,
            policy: Policy::parse(&doc).unwrap().into(),
        }
    }

    fn role() -> Caller {
        Caller::Iam {
            arn: "arn:aws:iam::111122223333:role/r".into(),
            session_arn: Some("arn:aws:sts::111122223333:assumed-role/r/fn".into()),
            account: "111122223333".into(),
        }
    }

    fn allow(action: &str, resource: &str) -> serde_json::Value {
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":action,"Resource":resource}]})
    }

    #[test]
    fn identity_allow_and_implicit_deny() {
        let ctx = MapContext::default();
        let set = PolicySet {
            identity: vec![np("p", PolicyKind::Identity, allow("sqs:*", "*"))],
            identity_known: true,
            ..Default::default()
        };
        let q = "arn:aws:sqs:eu-west-1:111122223333:q";
        let v = evaluate(
            &Request {
                caller: role(),
                action: "sqs:ReceiveMessage",
                resource: q,
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::Allow);
        assert_eq!(v.deciding[0].policy, "p");
        let v = evaluate(
            &Request {
                caller: role(),
                action: "s3:GetObject",
                resource: q,
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ImplicitDeny);
        assert_eq!(v.missing_allow, vec![PolicyKind::Identity]);
    }

    #[test]
    fn boundary_intersects_and_deny_wins() {
        let ctx = MapContext::default();
        let mut set = PolicySet {
            identity: vec![np("p", PolicyKind::Identity, allow("*", "*"))],
            boundary: Some(np("b", PolicyKind::PermissionsBoundary, allow("s3:*", "*"))),
            identity_known: true,
            ..Default::default()
        };
        let v = evaluate(
            &Request {
                caller: role(),
                action: "sqs:SendMessage",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ImplicitDeny);
        assert_eq!(v.missing_allow, vec![PolicyKind::PermissionsBoundary]);
        set.identity.push(np(
            "d",
            PolicyKind::Identity,
            json!({"Statement":[{"Sid":"NoGet","Effect":"Deny","NotAction":"s3:List*","Resource":"*"}]}),
        ));
        let v = evaluate(
            &Request {
                caller: role(),
                action: "s3:GetObject",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ExplicitDeny);
        assert_eq!(v.deciding[0].sid.as_deref(), Some("NoGet"));
    }

    #[test]
    fn unknown_only_when_it_matters() {
        let ctx = MapContext::default();
        let set = PolicySet {
            identity: vec![np(
                "p",
                PolicyKind::Identity,
                json!({"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}),
            )],
            identity_known: true,
            ..Default::default()
        };
        let v = evaluate(
            &Request {
                caller: role(),
                action: "s3:GetObject",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::Unknown);
        assert_eq!(v.missing_context_keys, vec!["aws:PrincipalOrgID"]);
        // Not applicable to this action: the unknown key does not matter.
        let v = evaluate(
            &Request {
                caller: role(),
                action: "sqs:SendMessage",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ImplicitDeny);
    }

    #[test]
    fn service_principal_and_resource_policy() {
        let mut ctx = MapContext::default();
        ctx.set("aws:SourceArn", &["arn:aws:s3:::b"]);
        ctx.set("aws:SourceAccount", &["111122223333"]);
        let fpol = json!({"Statement":[{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:eu-west-1:111122223333:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}]});
        let set = PolicySet {
            resource: Some(np(
                "arn:aws:lambda:eu-west-1:111122223333:function:f",
                PolicyKind::Resource,
                fpol,
            )),
            ..Default::default()
        };
        let f = "arn:aws:lambda:eu-west-1:111122223333:function:f";
        let v = evaluate(
            &Request {
                caller: Caller::Service("s3.amazonaws.com".into()),
                action: "lambda:InvokeFunction",
                resource: f,
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::Allow);
        let v = evaluate(
            &Request {
                caller: Caller::Service("sns.amazonaws.com".into()),
                action: "lambda:InvokeFunction",
                resource: f,
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ImplicitDeny);
        assert_eq!(v.missing_allow, vec![PolicyKind::Resource]);
    }

    #[test]
    fn cross_account_needs_both_sides() {
        let ctx = MapContext::default();
        let bucket = json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/r"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]});
        let mut set = PolicySet {
            resource: Some(np("arn:aws:s3:::b", PolicyKind::Resource, bucket)),
            resource_account: Some("444455556666".into()),
            identity_known: true,
            ..Default::default()
        };
        let req = Request {
            caller: role(),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            context: &ctx,
        };
        assert_eq!(evaluate(&req, &set).decision, Decision::ImplicitDeny);
        set.identity
            .push(np("p", PolicyKind::Identity, allow("s3:GetObject", "*")));
        assert_eq!(evaluate(&req, &set).decision, Decision::Allow);
        // Same account: the bucket policy alone allows.
        set.identity.clear();
        set.resource_account = Some("111122223333".into());
        assert_eq!(evaluate(&req, &set).decision, Decision::Allow);
    }

    #[test]
    fn scp_levels_must_all_allow() {
        let ctx = MapContext::default();
        let full = np("FullAWSAccess", PolicyKind::Scp, allow("*", "*"));
        let set = PolicySet {
            identity: vec![np("p", PolicyKind::Identity, allow("*", "*"))],
            identity_known: true,
            scp_levels: vec![
                vec![full.clone()],
                vec![np("ou", PolicyKind::Scp, allow("s3:*", "*"))],
                vec![full],
            ],
            ..Default::default()
        };
        let v = evaluate(
            &Request {
                caller: role(),
                action: "sqs:SendMessage",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::ImplicitDeny);
        assert_eq!(v.missing_allow, vec![PolicyKind::Scp]);
        let v = evaluate(
            &Request {
                caller: role(),
                action: "s3:PutObject",
                resource: "*",
                context: &ctx,
            },
            &set,
        );
        assert_eq!(v.decision, Decision::Allow);
    }
}
