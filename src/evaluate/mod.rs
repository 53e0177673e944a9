//! Evaluate: a request and the policies that apply to it → a [`Verdict`] that names its reasons.
//!
//! The order is AWS's documented policy evaluation logic
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>):
//! 1. An explicit `Deny` in any applicable policy wins, whichever side it is on. A resource
//!    policy's Deny that names the caller's account, its role or the caller itself applies.
//! 2. Service control policies (every level from the root to the account) and resource control
//!    policies (every level above the resource's account) must allow. Which of them apply at all
//!    is decided when they are gathered ([`gather`]): SCPs never restrict service principals, the
//!    management account or service-linked roles; RCPs cover only the services they support.
//! 3. Within one account, a resource-based policy that names the caller itself, its role, or
//!    everyone allows on its own; a grant to the role ARN stays within the role's boundary and
//!    session policies, a grant to the session or user does not. A statement that names only the
//!    account delegates to the account's IAM policies: the identity side must allow. A KMS key
//!    policy and a role trust policy must always allow (directly, or by delegating to the
//!    account).
//! 4. Otherwise identity-based policies must allow, intersected with the permissions boundary and
//!    the session policies where there are any.
//! 5. Across accounts, both sides must allow: the resource's policy (naming the caller, its role
//!    or its account) and the caller's identity side
//!    (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>).
//!
//! A service principal (S3, API Gateway... invoking a function) is judged by the resource policy
//! alone.
//!
//! Every step is three-valued: a statement whose condition needs a key the log does not reveal is
//! *undecided*, and the decision is `Unknown` only when such a statement could change it.

pub mod ask;
pub mod condition;
pub mod context;
pub mod gather;
pub mod principal;
mod verdict;

use crate::policy::wildcard;
use crate::policy::{Effect, Policy, Statement};
use condition::{Lookup, Tri};
use principal::Match;

pub use context::RequestContext;
use verdict::is_tag_key;
pub use verdict::{CrossAccount, Decision, Side, StatementRef, TagMiss, Verdict};

pub use crate::policy::vocab::PolicyKind;

/// A policy with the name a verdict shows for it.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// ARN of a managed policy, `<role or user ARN>#<inline name>` for inline policies, or the
    /// resource ARN for resource policies.
    pub name: String,
    /// Which part of the evaluation the policy takes (identity, resource, boundary, SCP...).
    pub kind: PolicyKind,
    /// The parsed policy, shared by every set that includes it.
    pub policy: std::sync::Arc<Policy>,
}

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM role, role session, user or root: its ARN as resolved (`arn:aws:iam::1:role/r`)
    /// and, for sessions, the session ARN.
    Iam {
        /// The role, user or root ARN whose policies apply (a session resolved to its role).
        arn: String,
        /// The `assumed-role` session ARN, for a session: a resource policy may name it.
        session_arn: Option<String>,
        /// The caller's account, compared with the resource's to tell a cross-account request.
        account: String,
    },
    /// An AWS service principal (`s3.amazonaws.com`).
    Service(String),
}

impl Caller {
    /// The caller's account; none for a service principal.
    pub fn account(&self) -> Option<&str> {
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
    /// The account that owns the resource, when known (else the ARN's, else the caller's).
    pub resource_account: Option<String>,
    /// SCPs by level, root first; empty when none were imported (then taken as allowing).
    pub scp_levels: Vec<Vec<NamedPolicy>>,
    /// RCPs by level; empty when none were imported.
    pub rcp_levels: Vec<Vec<NamedPolicy>>,
    /// The root, OU or account each SCP level is attached at, parallel to `scp_levels` (empty
    /// when the levels did not come from the store).
    pub scp_targets: Vec<String>,
    /// The same for `rcp_levels`.
    pub rcp_targets: Vec<String>,
    /// Whether the identity side is known (the principal's policies were imported).
    pub identity_known: bool,
    /// Why imported SCPs do not apply to this request (the management account, a
    /// service-linked role), when they do not.
    pub scp_exempt: Option<String>,
    /// Why imported RCPs do not apply (a service RCPs do not cover, the management account).
    pub rcp_exempt: Option<String>,
}

/// The request being judged.
#[derive(Clone)]
pub struct Request<'a> {
    /// Who makes the request.
    pub caller: Caller,
    /// The IAM action (`sqs:ReceiveMessage`).
    pub action: &'a str,
    /// The resource ARN, or `*` for an action that takes no resource.
    pub resource: &'a str,
    /// The condition keys and policy variables the request carries.
    pub context: &'a dyn Lookup,
}

/// How one policy kind answered: which statements allowed or denied for certain, which might,
/// and for resource policies how each allowing statement named the caller.
#[derive(Debug, Default)]
struct Found {
    allow: Vec<(StatementRef, Match)>,
    deny: Vec<StatementRef>,
    maybe_allow: Vec<(Match, Vec<String>)>,
    maybe_deny: Vec<String>,
    maybe_deny_refs: Vec<StatementRef>,
    tag_misses: Vec<TagMiss>,
    condition_misses: Vec<TagMiss>,
}

impl Found {
    /// Whether a statement whose principal match is one of `kinds` allows.
    fn allow_in(&self, kinds: &[Match]) -> Tri {
        if self.allow.iter().any(|(_, m)| kinds.contains(m)) {
            return Tri::True;
        }
        let mut keys = Vec::new();
        for (m, k) in &self.maybe_allow {
            if kinds.contains(m) {
                merge(&mut keys, k.clone());
            }
        }
        if keys.is_empty() {
            Tri::False
        } else {
            Tri::Unknown(keys)
        }
    }

    /// Whether any statement allows, however it names the caller.
    fn allow_any(&self) -> Tri {
        self.allow_in(&[Match::Account, Match::Parent, Match::Direct])
    }

    fn allow_refs(&self) -> impl Iterator<Item = StatementRef> + '_ {
        self.allow.iter().map(|(r, _)| r.clone())
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

/// How a statement names the caller; `No` when it does not apply to it. Policies without a
/// Principal element (identity, boundary, SCP) apply to their holder. A Deny with
/// `NotPrincipal` always applies to a principal that has a permissions boundary
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>).
fn principal_of(s: &Statement, caller: &Caller, has_boundary: bool) -> Match {
    match &s.principal {
        None => Match::Direct,
        Some(p) if p.not => {
            let applies = (has_boundary && s.effect == Effect::Deny)
                || principal::not_principal_applies(p, caller);
            if applies { Match::Direct } else { Match::No }
        }
        Some(p) => principal::principal_match(p, caller),
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
                    match pat.matches_arn(req.resource, Some(&condition::AsVars(req.context))) {
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
        let named = principal_of(s, &req.caller, has_boundary);
        if named == Match::No {
            continue;
        }
        let cond = resource_ok.and(condition::evaluate_all(&s.conditions, req.context));
        let r = stmt_ref(p, s);
        if s.effect == Effect::Allow && cond == Tri::False {
            // An Allow kept out only by tag conditions is the ABAC design saying no: name it.
            let failed: Vec<&crate::policy::Condition> = s
                .conditions
                .iter()
                .filter(|c| condition::evaluate(c, req.context) == Tri::False)
                .collect();
            if !failed.is_empty() && failed.iter().all(|c| is_tag_key(&c.key)) {
                let mut keys: Vec<String> = failed.iter().map(|c| c.key.clone()).collect();
                keys.dedup();
                let wanted = failed
                    .iter()
                    .filter(|c| c.values.iter().all(|v| !v.has_variables()))
                    .map(|c| {
                        let values = c.values.iter().map(|v| v.as_str().to_string()).collect();
                        (c.key.clone(), values)
                    })
                    .collect();
                out.tag_misses.push(TagMiss {
                    statement: r.clone(),
                    keys,
                    wanted,
                });
            } else if !failed.is_empty() {
                let mut keys: Vec<String> = failed.iter().map(|c| c.key.clone()).collect();
                keys.dedup();
                out.condition_misses.push(TagMiss {
                    statement: r.clone(),
                    keys,
                    wanted: Vec::new(),
                });
            }
        }
        match (s.effect, cond) {
            (_, Tri::False) => {}
            (Effect::Allow, Tri::True) => out.allow.push((r, named)),
            (Effect::Deny, Tri::True) => out.deny.push(r),
            (Effect::Allow, Tri::Unknown(k)) => out.maybe_allow.push((named, k)),
            (Effect::Deny, Tri::Unknown(k)) => {
                merge(&mut out.maybe_deny, k);
                out.maybe_deny_refs.push(r);
            }
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

/// Scans every level of an organization policy stack: each level must allow.
fn scan_levels(levels: &[Vec<NamedPolicy>], req: &Request<'_>, has_boundary: bool) -> Vec<Found> {
    levels
        .iter()
        .map(|level| {
            let mut f = Found::default();
            for p in level {
                scan(p, req, has_boundary, &mut f);
            }
            f
        })
        .collect()
}

/// Whether one level of an organization policy stack allows the request (`false` when it
/// does not or cannot be told): the level a fix must change.
pub fn level_allows(level: &[NamedPolicy], req: &Request<'_>, set: &PolicySet) -> bool {
    let mut f = Found::default();
    for p in level {
        scan(p, req, set.boundary.is_some(), &mut f);
    }
    f.allow_any() == Tri::True
}

/// All levels must allow.
fn levels_tri(levels: &[Found]) -> Tri {
    levels
        .iter()
        .fold(Tri::True, |acc, f| acc.and(f.allow_any()))
}

fn tri_decision(t: &Tri) -> Decision {
    match t {
        Tri::True => Decision::Allow,
        Tri::False => Decision::ImplicitDeny,
        Tri::Unknown(_) => Decision::Unknown,
    }
}

/// Whether the resource is a KMS key (not an alias): its key policy must always allow.
fn is_kms_key(resource: &str) -> bool {
    crate::policy::arn::Arn::parse(resource)
        .is_some_and(|a| a.service == "kms" && a.resource.starts_with("key/"))
}

/// Evaluates a request against its policies.
pub fn evaluate(req: &Request<'_>, set: &PolicySet) -> Verdict {
    let mut notes = Vec::new();
    let service_caller = matches!(req.caller, Caller::Service(_));
    let has_boundary = set.boundary.is_some();
    let scan_all = |ps: &[NamedPolicy]| {
        let mut f = Found::default();
        for p in ps {
            scan(p, req, has_boundary, &mut f);
        }
        f
    };

    // Organization policies. SCPs do not restrict service principals.
    let mut scp = Vec::new();
    if !service_caller {
        match &set.scp_exempt {
            Some(why) => notes.push(why.clone()),
            None if set.scp_levels.is_empty() => notes.push(
                "No service control policies were imported; they are taken as allowing.".into(),
            ),
            None => scp = scan_levels(&set.scp_levels, req, has_boundary),
        }
    }
    let mut rcp = Vec::new();
    match &set.rcp_exempt {
        Some(why) => notes.push(why.clone()),
        None if set.rcp_levels.is_empty() => {
            if !service_caller {
                notes.push(
                    "No resource control policies were imported; they are taken as allowing."
                        .into(),
                );
            }
        }
        None => rcp = scan_levels(&set.rcp_levels, req, has_boundary),
    }
    let res = set
        .resource
        .as_ref()
        .map(|p| scan_all(std::slice::from_ref(p)))
        .unwrap_or_default();
    let (id, boundary, session) = if service_caller {
        Default::default()
    } else {
        (
            scan_all(&set.identity),
            set.boundary
                .as_ref()
                .map(|b| scan_all(std::slice::from_ref(b)))
                .unwrap_or_default(),
            scan_all(&set.session),
        )
    };

    // Explicit denies, by side.
    let mut principal_denies: Vec<StatementRef> = Vec::new();
    let mut principal_maybe_deny: Vec<String> = Vec::new();
    for f in scp.iter().chain([&id, &boundary, &session]) {
        principal_denies.extend(f.deny.iter().cloned());
        merge(&mut principal_maybe_deny, f.maybe_deny.clone());
    }
    let mut resource_denies: Vec<StatementRef> = res.deny.clone();
    let mut resource_maybe_deny: Vec<String> = res.maybe_deny.clone();
    for f in &rcp {
        resource_denies.extend(f.deny.iter().cloned());
        merge(&mut resource_maybe_deny, f.maybe_deny.clone());
    }

    // The allow side, piece by piece.
    let scp_tri = levels_tri(&scp);
    let rcp_tri = levels_tri(&rcp);
    let id_tri = if set.identity_known {
        id.allow_any()
    } else {
        Tri::Unknown(vec![verdict::not_imported("identity policies")])
    };
    let b_tri = if has_boundary {
        boundary.allow_any()
    } else {
        Tri::True
    };
    let s_tri = if set.session.is_empty() {
        Tri::True
    } else {
        session.allow_any()
    };
    let identity_side = id_tri.clone().and(b_tri.clone()).and(s_tri.clone());

    let res_kind = set
        .resource
        .as_ref()
        .map(|p| p.kind)
        .unwrap_or(PolicyKind::Resource);
    let resource_account = set.resource_account.clone().or_else(|| {
        crate::policy::arn::Arn::parse(req.resource)
            .map(|a| a.account.to_string())
            .filter(|a| !a.is_empty())
    });
    let same_account = match (req.caller.account(), resource_account.as_deref()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    // A key policy or trust policy must allow even within the account.
    let delegating = res_kind == PolicyKind::Trust
        || is_kms_key(req.resource)
        || set
            .resource
            .as_ref()
            .is_some_and(|p| p.name.contains(":kms:"));
    let res_any = res.allow_any();
    let mut res_missing = false;
    let core: Tri = if service_caller {
        match &set.resource {
            None => {
                notes.push("The resource's policy was not imported.".into());
                Tri::Unknown(vec![verdict::not_imported("resource policy")])
            }
            Some(_) => {
                let t = res.allow_in(&[Match::Direct]);
                res_missing = t == Tri::False;
                t
            }
        }
    } else if same_account {
        match &set.resource {
            None if is_kms_key(req.resource) => {
                notes.push("The key policy was not imported; a key policy must allow every use of a KMS key.".into());
                identity_side
                    .clone()
                    .and(Tri::Unknown(vec![verdict::not_imported("key policy")]))
            }
            None => identity_side.clone(),
            Some(_) => {
                // Naming the session, the user or everyone grants on its own; naming the role
                // stays within the boundary and session policies.
                let direct = or(
                    res.allow_in(&[Match::Direct]),
                    res.allow_in(&[Match::Parent])
                        .and(b_tri.clone())
                        .and(s_tri.clone()),
                );
                let through_iam = if delegating {
                    res_any.clone().and(identity_side.clone())
                } else {
                    identity_side.clone()
                };
                let t = or(direct, through_iam);
                res_missing = t == Tri::False && res_any == Tri::False;
                t
            }
        }
    } else {
        match &set.resource {
            None => {
                notes.push(
                    "The resource is in another account and its policy was not imported.".into(),
                );
                identity_side
                    .clone()
                    .and(Tri::Unknown(vec![verdict::not_imported("resource policy")]))
            }
            Some(_) => {
                res_missing = res_any == Tri::False;
                res_any.clone().and(identity_side.clone())
            }
        }
    };
    let total = core.and(scp_tri.clone()).and(rcp_tri.clone());

    let mut missing_allow = Vec::new();
    if !service_caller {
        if id_tri == Tri::False {
            missing_allow.push(PolicyKind::Identity);
        }
        if b_tri == Tri::False {
            missing_allow.push(PolicyKind::PermissionsBoundary);
        }
        if s_tri == Tri::False {
            missing_allow.push(PolicyKind::Session);
        }
        if scp_tri == Tri::False {
            missing_allow.push(PolicyKind::Scp);
        }
    }
    if res_missing {
        missing_allow.push(res_kind);
    }
    if rcp_tri == Tri::False {
        missing_allow.push(PolicyKind::Rcp);
    }
    missing_allow.sort();
    missing_allow.dedup();

    let cross_account = match (&req.caller, resource_account.as_deref()) {
        (Caller::Iam { account, .. }, Some(owner)) if !same_account => {
            let side = |denies: &[StatementRef],
                        maybe: &[String],
                        tri: Tri,
                        allows: Vec<StatementRef>,
                        kinds: &[PolicyKind]| {
                let decision = if !denies.is_empty() {
                    Decision::ExplicitDeny
                } else if tri == Tri::True && !maybe.is_empty() {
                    Decision::Unknown
                } else {
                    tri_decision(&tri)
                };
                Side {
                    decision,
                    deciding: match decision {
                        Decision::ExplicitDeny => denies.to_vec(),
                        Decision::Allow => allows,
                        _ => Vec::new(),
                    },
                    missing_allow: if matches!(decision, Decision::ImplicitDeny) {
                        missing_allow
                            .iter()
                            .copied()
                            .filter(|k| kinds.contains(k))
                            .collect()
                    } else {
                        Vec::new()
                    },
                }
            };
            let id_allows = id
                .allow_refs()
                .chain(boundary.allow_refs())
                .chain(session.allow_refs())
                .chain(scp.iter().flat_map(Found::allow_refs))
                .collect();
            let identity = side(
                &principal_denies,
                &principal_maybe_deny,
                identity_side.clone().and(scp_tri.clone()),
                id_allows,
                &[
                    PolicyKind::Identity,
                    PolicyKind::PermissionsBoundary,
                    PolicyKind::Session,
                    PolicyKind::Scp,
                ],
            );
            let res_tri = match &set.resource {
                Some(_) => res_any.clone(),
                None => Tri::Unknown(vec![verdict::not_imported("resource policy")]),
            };
            let res_allows = res
                .allow_refs()
                .chain(rcp.iter().flat_map(Found::allow_refs))
                .collect();
            let resource = side(
                &resource_denies,
                &resource_maybe_deny,
                res_tri.and(rcp_tri.clone()),
                res_allows,
                &[PolicyKind::Resource, PolicyKind::Trust, PolicyKind::Rcp],
            );
            let mut denied_by = Vec::new();
            if identity.decision != Decision::Allow {
                denied_by.push("identity");
            }
            if resource.decision != Decision::Allow {
                denied_by.push("resource");
            }
            Some(CrossAccount {
                principal_account: account.clone(),
                resource_account: owner.to_string(),
                identity_side: identity,
                resource_side: resource,
                denied_by,
            })
        }
        _ => None,
    };

    let tag_conditions_failed: Vec<TagMiss> = [&id, &res, &boundary, &session]
        .into_iter()
        .flat_map(|f| f.tag_misses.iter().cloned())
        .collect();
    let conditions_failed: Vec<TagMiss> = [&id, &res, &boundary, &session]
        .into_iter()
        .flat_map(|f| f.condition_misses.iter().cloned())
        .collect();
    let mut deny = principal_denies;
    deny.append(&mut resource_denies);
    if !deny.is_empty() {
        return Verdict {
            decision: Decision::ExplicitDeny,
            deciding: deny,
            missing_allow: Vec::new(),
            missing_context_keys: Vec::new(),
            missing_policies: Vec::new(),
            notes,
            cross_account,
            tag_conditions_failed: Vec::new(),
            conditions_failed: Vec::new(),
            undecided_denies: Vec::new(),
        };
    }
    let undecided_denies: Vec<StatementRef> = scp
        .iter()
        .chain(rcp.iter())
        .chain([&id, &boundary, &session, &res])
        .flat_map(|f| f.maybe_deny_refs.iter().cloned())
        .collect();
    let mut maybe_deny = principal_maybe_deny;
    merge(&mut maybe_deny, resource_maybe_deny);
    let mut unknown_keys: Vec<String> = Vec::new();
    let decision = match (&total, maybe_deny.is_empty()) {
        (Tri::False, _) => Decision::ImplicitDeny,
        (Tri::True, true) => Decision::Allow,
        (Tri::True, false) => {
            merge(&mut unknown_keys, maybe_deny);
            Decision::Unknown
        }
        (Tri::Unknown(k), _) => {
            merge(&mut unknown_keys, k.clone());
            merge(&mut unknown_keys, maybe_deny);
            Decision::Unknown
        }
    };
    let deciding = if decision == Decision::Allow {
        res.allow_refs()
            .chain(id.allow_refs())
            .chain(boundary.allow_refs())
            .chain(session.allow_refs())
            .chain(scp.iter().flat_map(Found::allow_refs))
            .chain(rcp.iter().flat_map(Found::allow_refs))
            .collect()
    } else {
        Vec::new()
    };
    Verdict {
        deciding,
        missing_allow: if decision == Decision::Allow {
            Vec::new()
        } else {
            missing_allow
        },
        missing_policies: unknown_keys
            .iter()
            .filter_map(|k| verdict::unimported(k).map(str::to_string))
            .collect(),
        missing_context_keys: unknown_keys
            .into_iter()
            .filter(|k| verdict::unimported(k).is_none())
            .collect(),
        tag_conditions_failed: if decision == Decision::ImplicitDeny {
            tag_conditions_failed
        } else {
            Vec::new()
        },
        conditions_failed: if decision == Decision::ImplicitDeny {
            conditions_failed
        } else {
            Vec::new()
        },
        undecided_denies: if decision == Decision::Allow {
            Vec::new()
        } else {
            undecided_denies
        },
        decision,
        notes,
        cross_account,
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
mod tests;
