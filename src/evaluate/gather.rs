//! Gathering: which stored policies apply to a request. The store implements [`PolicySource`];
//! this module only reads through it, so evaluation stays free of SQL and testable with plain
//! values.

use std::sync::Arc;

use serde_json::Value;

use super::{Caller, NamedPolicy, PolicyKind, PolicySet};
use crate::policy::Policy;
use crate::policy::arn::{self, Arn};
use crate::policy::snapshot::{FunctionRow, OrganizationRow, PrincipalRow};
use crate::rules::Rules;

/// Read access to imported facts.
pub trait PolicySource {
    /// A role or user by ARN (a session or path-less ARN resolves to the role by name).
    /// Rows and documents come shared (`Arc`): a role's policies can be large, and a remembering
    /// source hands the same one out thousands of times.
    fn principal(&self, arn: &str) -> Option<Arc<PrincipalRow>>;
    /// A group by account and name.
    fn group(&self, account: &str, name: &str) -> Option<Arc<PrincipalRow>>;
    /// An imported managed policy's default document.
    fn managed(&self, arn: &str) -> Option<Arc<Value>>;
    /// The function a Cognito user pool's trigger invokes (`PreSignUp`...), when imported.
    fn user_pool_trigger(&self, _pool_id: &str, _trigger: &str) -> Option<String> {
        None
    }
    /// The functions whose imported event source mappings read `source_arn` (a queue, a
    /// stream), by ARN.
    fn mapping_functions(&self, _source_arn: &str) -> Vec<String> {
        Vec::new()
    }
    /// A managed policy's versions other than the default, oldest first.
    fn managed_versions(&self, _arn: &str) -> Vec<(String, Arc<Value>)> {
        Vec::new()
    }
    /// The KMS key a table or secret is encrypted with (see [`EncryptionKeyRow`]), when an
    /// import or the logs showed it.
    ///
    /// [`EncryptionKeyRow`]: crate::policy::snapshot::EncryptionKeyRow
    fn encryption_key(&self, _resource: &str) -> Option<String> {
        None
    }
    /// What an HTTP API's route (`POST /orders`, `$default`) calls, from its imported routes
    /// and integrations; any imported API when `api_id` is None, if only one has the route.
    fn http_route(
        &self,
        _api_id: Option<&str>,
        _route_key: &str,
    ) -> Option<crate::policy::snapshot::HttpTarget> {
        None
    }
    /// A resource's own policy.
    fn resource_policy(&self, resource_arn: &str) -> Option<Arc<Value>>;
    /// The account that owns a resource whose policy was imported, when known.
    fn resource_owner(&self, _resource_arn: &str) -> Option<String> {
        None
    }
    /// The organization (id, management account), when `describe-organization` was imported.
    fn organization(&self) -> Option<OrganizationRow> {
        None
    }
    /// When policies were last imported (epoch ms): a snapshot newer than a denial may hold a
    /// grant made after it.
    fn imported_at(&self) -> Option<i64> {
        None
    }
    /// Organization policies attached to an account, OU or root: (name, `scp`|`rcp`, document).
    fn org_policies_for(&self, target: &str) -> Vec<(String, String, Value)>;
    /// The parent OU or root of an account or OU.
    fn org_parent(&self, child: &str) -> Option<String>;
    /// Whether any organization policy was imported with a target.
    fn has_org_policies(&self) -> bool;
    /// A function's configuration by name or ARN.
    fn function(&self, name_or_arn: &str) -> Option<FunctionRow>;
    /// A policy set gathered earlier for the same request key, where the source remembers them.
    fn remembered_set(&self, _key: &str) -> Option<(PolicySet, Gaps)> {
        None
    }
    /// Offers a gathered set for [`PolicySource::remembered_set`]; plain sources ignore it.
    fn remember_set(&self, _key: String, _set: &(PolicySet, Gaps)) {}
    /// The parsed form of the policy `name` of this kind. A remembering source parses each
    /// once, so that every set gathered for the same role shares one copy of its policies.
    fn parsed(&self, _kind: PolicyKind, _name: &str, doc: &Value) -> Option<Arc<Policy>> {
        Policy::parse(doc).ok().map(Arc::new)
    }
}

/// [`gather`], answered from the source's memory when it has one: the set depends only on
/// the caller, action and resource while the stored facts stay the same.
pub fn gather_remembered(
    src: &dyn PolicySource,
    rules: &Rules,
    caller: &Caller,
    action: &str,
    resource: &str,
    owner_hint: OwnerHint<'_>,
) -> (PolicySet, Gaps) {
    let key = format!("{caller:?}\u{0}{action}\u{0}{resource}\u{0}{owner_hint:?}");
    if let Some(hit) = src.remembered_set(&key) {
        return hit;
    }
    let got = gather(src, rules, caller, action, resource, owner_hint);
    src.remember_set(key, &got);
    got
}

/// What gathering could not find, for explanations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    /// The principal itself was never imported.
    pub principal_missing: bool,
    /// Attached or boundary policies whose documents are unknown.
    pub missing_policies: Vec<String>,
}

fn named(
    src: &dyn PolicySource,
    name: String,
    kind: PolicyKind,
    doc: &Value,
) -> Option<NamedPolicy> {
    src.parsed(kind, &name, doc)
        .map(|policy| NamedPolicy { name, kind, policy })
}

fn managed_doc(src: &dyn PolicySource, rules: &Rules, arn: &str) -> Option<Arc<Value>> {
    src.managed(arn).or_else(|| {
        rules
            .managed_by_arn(arn)
            .map(|m| Arc::new(m.document.clone()))
    })
}

/// The resource policy that governs `resource`: the bucket's for an object, the function's for a
/// qualified function ARN, the role's trust policy for `sts:AssumeRole`.
fn resource_policy_for(
    src: &dyn PolicySource,
    action: &str,
    resource: &str,
) -> Option<NamedPolicy> {
    if is_trust_action(action) && resource.contains(":role/") {
        let role = src.principal(resource)?;
        let trust = role.trust.as_ref()?;
        return named(src, role.arn.clone(), PolicyKind::Trust, trust);
    }
    if let Some(d) = src.resource_policy(resource) {
        return named(src, resource.to_string(), PolicyKind::Resource, &d);
    }
    let base = policy_base(resource)?;
    let d = src.resource_policy(&base)?;
    named(src, base, PolicyKind::Resource, &d)
}

/// Whether a role's trust policy is the resource policy for this action: assuming the role,
/// and the session tags and source identity passed with it
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required>).
fn is_trust_action(action: &str) -> bool {
    const TRUST: [&str; 6] = [
        "sts:AssumeRole",
        "sts:AssumeRoleWithSAML",
        "sts:AssumeRoleWithWebIdentity",
        "sts:TagSession",
        "sts:SetSourceIdentity",
        "sts:SetContext",
    ];
    TRUST.iter().any(|t| t.eq_ignore_ascii_case(action))
}

/// The organization levels above an account, root first.
/// The organization policies of one kind on an account's path, root first, with the target
/// each level is attached at.
fn org_levels(
    src: &dyn PolicySource,
    account: &str,
    want: &str,
) -> (Vec<String>, Vec<Vec<NamedPolicy>>) {
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
    let mut targets = Vec::new();
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
            .filter_map(|(name, _, doc)| named(src, name, kind, &doc))
            .collect();
        if !level.is_empty() {
            levels.push(level);
            targets.push(target);
        }
    }
    (targets, levels)
}

/// What a request says about its resource's owner.
#[derive(Debug, Clone, Copy, Default, Hash, PartialEq, Eq)]
pub struct OwnerHint<'a> {
    /// `aws:ResourceAccount` given with the request (`--context`): it wins.
    pub given: Option<&'a str>,
    /// The log's `resources[].accountId` or `recipientAccountId`: used when nothing stored and
    /// no ARN says.
    pub logged: Option<&'a str>,
}

/// The account that owns `resource`, in the order the contract gives: `aws:ResourceAccount`
/// given with the request, else the owner recorded when its policy was imported, else the ARN's
/// account field, else the log's. `None` leaves it to the caller's account.
pub fn resource_owner(
    src: &dyn PolicySource,
    action: &str,
    resource: &str,
    hint: OwnerHint<'_>,
) -> Option<String> {
    let real = |h: Option<&str>| h.filter(|h| !h.is_empty()).map(str::to_string);
    if let Some(h) = real(hint.given) {
        return Some(h);
    }
    let base = if is_trust_action(action) {
        None
    } else {
        policy_base(resource)
    };
    src.resource_owner(resource)
        .or_else(|| base.and_then(|b| src.resource_owner(&b)))
        .or_else(|| {
            Arn::parse(resource)
                .map(|a| a.account.to_string())
                .filter(|a| !a.is_empty())
        })
        .or_else(|| real(hint.logged))
}

/// The caller as the store knows it: a session's role named with its path (session ARNs drop
/// it), so that `aws:PrincipalArn` and ARN conditions see the role's real ARN.
pub fn resolve_caller(src: &dyn PolicySource, caller: Caller) -> Caller {
    match caller {
        Caller::Iam {
            arn,
            session_arn,
            account,
        } => {
            let arn = src
                .principal(&arn)
                .map(|p| p.arn.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or(arn);
            Caller::Iam {
                arn,
                session_arn,
                account,
            }
        }
        other => other,
    }
}

/// Where an account sits in the imported organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The organization's id (`aws:PrincipalOrgID`, `aws:ResourceOrgID`).
    pub org_id: String,
    /// `o-…/r-…/ou-…/`, down to the account's parent (`aws:PrincipalOrgPaths`).
    pub path: String,
}

/// The organization an account belongs to, when `describe-organization` and a parent chain up
/// to the root (`list-parents`...) were imported. `None`: unknown, not "outside".
pub fn membership(src: &dyn PolicySource, account: &str) -> Option<Membership> {
    let org = src.organization()?;
    let mut chain = Vec::new();
    let mut cur = account.to_string();
    let in_org = org.management_account.as_deref() == Some(account);
    while let Some(p) = src.org_parent(&cur) {
        if chain.contains(&p) || chain.len() > 8 {
            break;
        }
        chain.push(p.clone());
        cur = p;
    }
    let reaches_root = chain.last().is_some_and(|r| r.starts_with("r-"));
    if !reaches_root && !in_org {
        return None;
    }
    chain.reverse();
    let mut path = format!("{}/", org.id);
    for c in &chain {
        path.push_str(c);
        path.push('/');
    }
    Some(Membership {
        org_id: org.id,
        path,
    })
}

/// What the store knows that a request's context needs: the principal's tags, the organization
/// the caller and the resource belong to, and the resource's owner.
#[derive(Debug, Clone, Default)]
pub struct StoreFacts {
    /// The principal's imported tags (`aws:PrincipalTag/*`); None when not imported, or a service.
    pub principal_tags: Option<Vec<(String, String)>>,
    /// The caller's organization and path (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`).
    pub principal_org: Option<Membership>,
    /// The resource account's organization and path (`aws:ResourceOrgID`, `aws:ResourceOrgPaths`).
    pub resource_org: Option<Membership>,
    /// The account that owns the resource, as gathering decided it (`aws:ResourceAccount`).
    pub resource_account: Option<String>,
}

/// The store's facts for a request whose policies were gathered into `set`.
pub fn store_facts(src: &dyn PolicySource, caller: &Caller, set: &PolicySet) -> StoreFacts {
    let (principal_tags, principal_org) = match caller {
        Caller::Iam { arn, account, .. } => (
            src.principal(arn).and_then(|p| p.tags.clone()),
            membership(src, account),
        ),
        Caller::Service(_) => (None, None),
    };
    StoreFacts {
        principal_tags,
        principal_org,
        resource_org: set
            .resource_account
            .as_deref()
            .and_then(|a| membership(src, a)),
        resource_account: set.resource_account.clone(),
    }
}

/// The resource a stored policy belongs to, for an ARN inside it: the bucket of an object, the
/// function of a qualified function ARN.
fn policy_base(resource: &str) -> Option<String> {
    let a = Arn::parse(resource)?;
    match a.service {
        "s3" => Some(format!(
            "arn:{}:s3:::{}",
            a.partition,
            a.resource.split('/').next()?
        )),
        "lambda" => Some(format!(
            "arn:{}:lambda:{}:{}:function:{}",
            a.partition,
            a.region,
            a.account,
            arn::function_name(resource)?
        )),
        _ => None,
    }
}

/// A stored finding's request evaluated against the policies stored now, with no context but
/// what the store knows; `extra` is an identity policy to add (a fix being checked). None when
/// the checked party's policies were never imported (the principal, or a service's resource
/// policy), so that no verdict is read from policies nobody imported.
pub fn evaluate_now(
    src: &dyn PolicySource,
    rules: &Rules,
    caller: Caller,
    action: &str,
    resource: &str,
    extra: Option<NamedPolicy>,
) -> Option<(crate::evaluate::Verdict, PolicySet)> {
    use crate::evaluate::{Request, RequestContext, context::Facts};
    let caller = resolve_caller(src, caller);
    let (mut set, gaps) = gather(src, rules, &caller, action, resource, OwnerHint::default());
    if gaps.principal_missing || (matches!(caller, Caller::Service(_)) && set.resource.is_none()) {
        return None;
    }
    set.identity.extend(extra);
    let known = store_facts(src, &caller, &set);
    let ctx = RequestContext::derive(&caller, resource, &Facts::default().with_store(&known));
    let v = crate::evaluate::evaluate(
        &Request {
            caller,
            action,
            resource,
            context: &ctx,
        },
        &set,
    );
    Some((v, set))
}

/// Gathers the policies for a request. `owner_hint` is what the request says of the resource's
/// account (see [`resource_owner`]).
pub fn gather(
    src: &dyn PolicySource,
    rules: &Rules,
    caller: &Caller,
    action: &str,
    resource: &str,
    owner_hint: OwnerHint<'_>,
) -> (PolicySet, Gaps) {
    let mut set = PolicySet::default();
    let mut gaps = Gaps::default();
    let org = src.organization();
    let management = org.as_ref().and_then(|o| o.management_account.clone());
    let mut service_linked = false;
    if let Caller::Iam { arn, account, .. } = caller {
        match src.principal(arn) {
            None => gaps.principal_missing = true,
            Some(p) => {
                set.identity_known = true;
                service_linked = rules.is_service_linked_role(&p.arn);
                let mut holders = vec![p.clone()];
                for g in p.groups.iter().flatten() {
                    if let Some(group) = src.group(&p.account, g) {
                        holders.push(group);
                    } else {
                        gaps.missing_policies.push(format!("group {g}"));
                    }
                }
                for h in &holders {
                    for (name, doc) in h.inline.iter().flatten() {
                        if let Some(np) =
                            named(src, format!("{}#{name}", h.arn), PolicyKind::Identity, doc)
                        {
                            set.identity.push(np);
                        }
                    }
                    for m in h.attached.iter().flatten() {
                        match managed_doc(src, rules, m)
                            .and_then(|d| named(src, m.clone(), PolicyKind::Identity, &d))
                        {
                            Some(np) => set.identity.push(np),
                            None => gaps.missing_policies.push(m.clone()),
                        }
                    }
                }
                if let Some(b) = p.boundary.clone().flatten() {
                    match managed_doc(src, rules, &b)
                        .and_then(|d| named(src, b.clone(), PolicyKind::PermissionsBoundary, &d))
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
        service_linked |= rules.is_service_linked_role(arn);
        if src.has_org_policies() {
            if service_linked {
                set.scp_exempt = Some(format!(
                    "{arn} is a service-linked role: service control policies do not restrict it."
                ));
            } else if management.as_deref() == Some(account.as_str()) {
                set.scp_exempt = Some(format!(
                    "{account} is the organization's management account: service control policies do not restrict it."
                ));
            } else {
                (set.scp_targets, set.scp_levels) = org_levels(src, account, "scp");
            }
        }
    }
    set.resource = resource_policy_for(src, action, resource);
    set.resource_account = resource_owner(src, action, resource, owner_hint)
        .or_else(|| caller.account().map(str::to_string));
    if src.has_org_policies() {
        let prefix = action.split(':').next().unwrap_or_default();
        if !rules.rcp_covers(prefix) {
            set.rcp_exempt = Some(format!(
                "Resource control policies do not apply to {prefix} actions."
            ));
        } else if service_linked {
            set.rcp_exempt = Some(
                "The caller is a service-linked role: resource control policies do not restrict it."
                    .into(),
            );
        } else if let Some(acct) = &set.resource_account {
            if management.as_deref() == Some(acct.as_str()) {
                set.rcp_exempt = Some(format!(
                    "The resource is in the organization's management account {acct}: resource control policies do not apply to it."
                ));
            } else {
                (set.rcp_targets, set.rcp_levels) = org_levels(src, acct, "rcp");
            }
        }
    }
    (set, gaps)
}

/// A [`PolicySource`] that remembers every answer of the one it wraps. Replaying an archive
/// meets the same role, policies and resources thousands of times; each database read and JSON
/// decode then happens once per worker. It must only wrap a source that does not change while it
/// lives (one replay run); it forgets everything past `MEMO_MAX` entries per kind.
pub struct Memo<'a> {
    inner: &'a dyn PolicySource,
    principals: MemoMap<Option<Arc<PrincipalRow>>>,
    groups: MemoMap<Option<Arc<PrincipalRow>>>,
    managed: MemoMap<Option<Arc<Value>>>,
    resources: MemoMap<Option<Arc<Value>>>,
    owners: MemoMap<Option<String>>,
    organization: std::cell::OnceCell<Option<OrganizationRow>>,
    imported_at: std::cell::OnceCell<Option<i64>>,
    org: MemoMap<Vec<(String, String, Value)>>,
    parents: MemoMap<Option<String>>,
    has_org: std::cell::OnceCell<bool>,
    functions: MemoMap<Option<FunctionRow>>,
    sets: MemoMap<(PolicySet, Gaps)>,
    policies: MemoMap<Option<Arc<Policy>>>,
}

type MemoMap<T> = std::cell::RefCell<std::collections::HashMap<String, T>>;

/// Entries kept per kind before a memo starts over; bounds memory on very varied input.
const MEMO_MAX: usize = 4096;

fn remember<T: Clone>(map: &MemoMap<T>, key: String, load: impl FnOnce() -> T) -> T {
    if let Some(v) = map.borrow().get(&key) {
        return v.clone();
    }
    let v = load();
    keep(map, key, v.clone());
    v
}

/// Inserts into a memo map, starting it over when it is full.
fn keep<T>(map: &MemoMap<T>, key: String, value: T) {
    let mut m = map.borrow_mut();
    if m.len() >= MEMO_MAX {
        m.clear();
    }
    m.insert(key, value);
}

impl<'a> Memo<'a> {
    /// Wraps `inner`, remembering nothing yet.
    pub fn new(inner: &'a dyn PolicySource) -> Self {
        Memo {
            inner,
            principals: Default::default(),
            groups: Default::default(),
            managed: Default::default(),
            resources: Default::default(),
            owners: Default::default(),
            organization: Default::default(),
            imported_at: Default::default(),
            org: Default::default(),
            parents: Default::default(),
            has_org: Default::default(),
            functions: Default::default(),
            sets: Default::default(),
            policies: Default::default(),
        }
    }
}

impl PolicySource for Memo<'_> {
    fn principal(&self, arn: &str) -> Option<Arc<PrincipalRow>> {
        remember(&self.principals, arn.to_string(), || {
            self.inner.principal(arn)
        })
    }
    fn group(&self, account: &str, name: &str) -> Option<Arc<PrincipalRow>> {
        remember(&self.groups, format!("{account}\u{0}{name}"), || {
            self.inner.group(account, name)
        })
    }
    fn managed(&self, arn: &str) -> Option<Arc<Value>> {
        remember(&self.managed, arn.to_string(), || self.inner.managed(arn))
    }
    fn managed_versions(&self, arn: &str) -> Vec<(String, Arc<Value>)> {
        // Asked only when a boundary fix is built: not worth a memo.
        self.inner.managed_versions(arn)
    }
    fn user_pool_trigger(&self, pool_id: &str, trigger: &str) -> Option<String> {
        self.inner.user_pool_trigger(pool_id, trigger)
    }
    fn mapping_functions(&self, source_arn: &str) -> Vec<String> {
        self.inner.mapping_functions(source_arn)
    }
    fn encryption_key(&self, resource: &str) -> Option<String> {
        self.inner.encryption_key(resource)
    }
    fn http_route(
        &self,
        api_id: Option<&str>,
        route_key: &str,
    ) -> Option<crate::policy::snapshot::HttpTarget> {
        self.inner.http_route(api_id, route_key)
    }
    fn resource_policy(&self, resource_arn: &str) -> Option<Arc<Value>> {
        remember(&self.resources, resource_arn.to_string(), || {
            self.inner.resource_policy(resource_arn)
        })
    }
    fn resource_owner(&self, resource_arn: &str) -> Option<String> {
        remember(&self.owners, resource_arn.to_string(), || {
            self.inner.resource_owner(resource_arn)
        })
    }
    fn organization(&self) -> Option<OrganizationRow> {
        self.organization
            .get_or_init(|| self.inner.organization())
            .clone()
    }
    fn imported_at(&self) -> Option<i64> {
        *self.imported_at.get_or_init(|| self.inner.imported_at())
    }
    fn org_policies_for(&self, target: &str) -> Vec<(String, String, Value)> {
        remember(&self.org, target.to_string(), || {
            self.inner.org_policies_for(target)
        })
    }
    fn org_parent(&self, child: &str) -> Option<String> {
        remember(&self.parents, child.to_string(), || {
            self.inner.org_parent(child)
        })
    }
    fn has_org_policies(&self) -> bool {
        *self.has_org.get_or_init(|| self.inner.has_org_policies())
    }
    fn function(&self, name_or_arn: &str) -> Option<FunctionRow> {
        remember(&self.functions, name_or_arn.to_string(), || {
            self.inner.function(name_or_arn)
        })
    }
    fn remembered_set(&self, key: &str) -> Option<(PolicySet, Gaps)> {
        self.sets.borrow().get(key).cloned()
    }
    fn remember_set(&self, key: String, set: &(PolicySet, Gaps)) {
        keep(&self.sets, key, set.clone());
    }
    fn parsed(&self, kind: PolicyKind, name: &str, doc: &Value) -> Option<Arc<Policy>> {
        // A name stands for one document while the stored facts do not change.
        remember(&self.policies, format!("{kind:?}\u{0}{name}"), || {
            Policy::parse(doc).ok().map(Arc::new)
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Counts the reads that reach it.
    #[derive(Default)]
    struct Counting {
        reads: Cell<u32>,
    }

    impl PolicySource for Counting {
        fn principal(&self, arn: &str) -> Option<Arc<PrincipalRow>> {
            self.reads.set(self.reads.get() + 1);
            arn.contains("known").then(Arc::default)
        }
        fn group(&self, _: &str, _: &str) -> Option<Arc<PrincipalRow>> {
            None
        }
        fn managed(&self, arn: &str) -> Option<Arc<Value>> {
            self.reads.set(self.reads.get() + 1);
            Some(Arc::new(Value::String(arn.to_string())))
        }
        fn resource_policy(&self, _: &str) -> Option<Arc<Value>> {
            None
        }
        fn org_policies_for(&self, _: &str) -> Vec<(String, String, Value)> {
            Vec::new()
        }
        fn org_parent(&self, _: &str) -> Option<String> {
            None
        }
        fn has_org_policies(&self) -> bool {
            self.reads.set(self.reads.get() + 1);
            false
        }
        fn function(&self, _: &str) -> Option<FunctionRow> {
            None
        }
    }

    /// Each distinct question reaches the wrapped source once, absent answers included, and the
    /// answers are the wrapped source's.
    #[test]
    fn memo_reads_each_fact_once() {
        let inner = Counting::default();
        let memo = Memo::new(&inner);
        for _ in 0..1000 {
            assert!(memo.principal("arn:aws:iam::1:role/known").is_some());
            assert!(memo.principal("arn:aws:iam::1:role/other").is_none());
            assert_eq!(
                memo.managed("arn:aws:iam::aws:policy/P").as_deref(),
                Some(&Value::String("arn:aws:iam::aws:policy/P".into()))
            );
            assert!(!memo.has_org_policies());
        }
        assert_eq!(inner.reads.get(), 4);
    }

    /// Past its bound a memo starts over instead of growing.
    #[test]
    fn memo_is_bounded() {
        let inner = Counting::default();
        let memo = Memo::new(&inner);
        for i in 0..(MEMO_MAX * 3) {
            memo.principal(&format!("arn:aws:iam::1:role/r{i}"));
        }
        assert!(memo.principals.borrow().len() <= MEMO_MAX);
    }
}
