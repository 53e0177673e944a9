//! Diagnose: a [`Denial`] → a [`Diagnosis`]: what was observed (`kind`), why (`cause`), whose
//! permissions are missing (`principal`), and the fix.
//!
//! This stage is pure. Without stored policies the cause comes from the message's own words; the
//! principal is the identity whose permissions must change (the execution role for setup errors,
//! the service principal for invoke permissions), not whoever made the failing call.

use serde::{Deserialize, Serialize};

use crate::evaluate::gather::{self, PolicySource};
use crate::evaluate::{
    self, Caller, Decision, NamedPolicy, PolicyKind, PolicySet, Request, RequestContext,
    StatementRef, Verdict, context::Facts,
};
use crate::parse::arn::{self, Arn};
use crate::parse::{Denial, Family, LambdaError, PolicyType, Reason};
use crate::policy::Policy;
use crate::rules::Rules;
use crate::suggest::{self, Fix, Need};

/// What was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A call denied at run time.
    AccessDenied,
    /// An event source mapping, VPC, tracing, dead-letter or trust check failed at setup.
    TriggerSetup,
    /// A service may not invoke the function.
    InvokePermission,
    /// KMS denied decrypting a function's environment.
    Kms,
}

impl Kind {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AccessDenied => "access_denied",
            Kind::TriggerSetup => "trigger_setup",
            Kind::InvokePermission => "invoke_permission",
            Kind::Kms => "kms",
        }
    }

    /// Parses the contract's name.
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::AccessDenied,
            Kind::TriggerSetup,
            Kind::InvokePermission,
            Kind::Kms,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Every cause value whydenied writes (CONTRACT.md lists the meaning of each).
pub const CAUSES: [&str; 20] = [
    "no_identity_allow",
    "no_resource_allow",
    "no_boundary_allow",
    "no_scp_allow",
    "no_rcp_allow",
    "no_session_allow",
    "no_vpc_endpoint_allow",
    "explicit_deny_identity",
    "explicit_deny_resource",
    "explicit_deny_boundary",
    "explicit_deny_scp",
    "explicit_deny_rcp",
    "explicit_deny_session",
    "explicit_deny_vpc_endpoint",
    "explicit_deny",
    "trust_policy",
    "propagation",
    "key_disabled",
    "unknown",
    "other_condition",
];

/// The diagnosis of one denial, everything a finding holds but its identity and counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub kind: Kind,
    pub cause: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub function: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub message: String,
    pub policy_state: String,
    pub explanation: Vec<String>,
    pub fix: Fix,
}

impl Diagnosis {
    /// The deduplication key: the same principal denied the same action on the same resource
    /// for the same cause is one finding. Where the principal is unknown (an execution role
    /// not yet imported) the function stands in for it.
    pub fn key(&self) -> String {
        let principal = match (&self.principal, &self.function) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => format!("function:{f}"),
            (None, None) => String::new(),
        };
        format!(
            "{principal}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.action.as_deref().unwrap_or_default(),
            self.resource.as_deref().unwrap_or_default(),
            self.cause
        )
    }

    /// A stable 16-hex-digit id derived from the key.
    pub fn id(&self) -> String {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(self.key().as_bytes()))
    }
}

/// The cause a message states.
pub fn cause_of(reason: &Reason) -> String {
    match reason {
        Reason::Implicit(PolicyType::Trust) | Reason::Explicit(PolicyType::Trust) => {
            "trust_policy".into()
        }
        Reason::Implicit(t) => format!("no_{}_allow", t.as_str()),
        Reason::Explicit(t) => format!("explicit_deny_{}", t.as_str()),
        Reason::ExplicitUntyped => "explicit_deny".into(),
        Reason::Other(_) => "other_condition".into(),
        Reason::Unstated => "unknown".into(),
    }
}

/// Diagnoses one denial from its message and context alone.
pub fn diagnose(d: &Denial, rules: &Rules) -> Diagnosis {
    diagnose_with(d, rules, None)
}

/// Diagnoses one denial, using the stored policies and configurations when given.
pub fn diagnose_with(d: &Denial, rules: &Rules, src: Option<&dyn PolicySource>) -> Diagnosis {
    let m = &d.message;
    let (kind, cause) = match &m.family {
        Family::Lambda(e) => match e {
            LambdaError::RoleLacks { .. } | LambdaError::CannotAccessStream { .. } => {
                (Kind::TriggerSetup, "no_identity_allow".to_string())
            }
            LambdaError::TrustLambda => (Kind::TriggerSetup, "trust_policy".to_string()),
            LambdaError::S3Destination { .. }
            | LambdaError::ApiGatewayInvoke
            | LambdaError::ElbInvoke { .. } => {
                (Kind::InvokePermission, "no_resource_allow".to_string())
            }
            LambdaError::KmsEnvDenied | LambdaError::KmsCreateGrant => {
                (Kind::Kms, "unknown".to_string())
            }
            LambdaError::KmsDisabled => (Kind::Kms, "key_disabled".to_string()),
        },
        Family::Authorization | Family::Bare => (Kind::AccessDenied, cause_of(&m.reason)),
    };
    let mut function = d.function.clone();
    let mut resource = d.resource.clone();
    let mut service_principal = None;
    let mut source_arn = None;
    let principal = match (&m.family, kind) {
        (Family::Lambda(LambdaError::S3Destination { queue }), _) => {
            service_principal = Some("s3.amazonaws.com".to_string());
            source_arn = d
                .request
                .bucket
                .as_ref()
                .map(|b| format!("arn:aws:s3:::{b}"));
            let target = if *queue {
                d.request.queue_targets.first()
            } else {
                d.request.lambda_targets.first()
            };
            if let Some(t) = target {
                resource = Some(t.clone());
                if !queue {
                    function = arn::function_name(t);
                }
            } else if !queue {
                // The bucket is what the record names; the function is not known.
                resource = None;
            }
            service_principal.clone()
        }
        (Family::Lambda(LambdaError::ApiGatewayInvoke), _) => {
            service_principal = Some("apigateway.amazonaws.com".to_string());
            if let Some(f) = &d.request.function_arn {
                resource = Some(f.clone());
            }
            source_arn = d.request.source_arn.clone();
            if source_arn.is_none()
                && let (Some(api), Some(region), Some(account)) =
                    (&d.request.api_id, &d.region, &d.account)
            {
                source_arn = Some(format!("arn:aws:execute-api:{region}:{account}:{api}/*"));
            }
            service_principal.clone()
        }
        (Family::Lambda(LambdaError::ElbInvoke { function_arn }), _) => {
            service_principal = Some("elasticloadbalancing.amazonaws.com".to_string());
            source_arn = d.request.target_group.clone();
            if let Some(f) = function_arn
                .as_deref()
                .or(d.request.function_arn.as_deref())
            {
                resource = Some(f.to_string());
                function = arn::function_name(f);
            }
            service_principal.clone()
        }
        (_, Kind::TriggerSetup) => {
            // The execution role: named by CreateFunction/UpdateFunctionConfiguration; for a
            // mapping it is the function's, known once its configuration is imported.
            if matches!(m.family, Family::Lambda(LambdaError::TrustLambda)) {
                resource = d.request.role.clone();
            }
            d.request.role.clone()
        }
        _ => d.caller_iam.clone().or_else(|| d.caller.clone()),
    };
    // The function's configuration names its execution role and key.
    let config = match (src, &function) {
        (Some(s), Some(f)) => s.function(f).or_else(|| {
            d.request
                .function_arn
                .as_deref()
                .and_then(|a| s.function(a))
        }),
        _ => None,
    };
    let principal = match (&principal, kind, &config) {
        (None, Kind::TriggerSetup | Kind::Kms, Some(c)) => c.role.clone(),
        _ => principal,
    };
    // A role named without its path (session ARNs drop it) takes the imported role's ARN.
    let principal = match (src, &principal) {
        (Some(s), Some(p)) if p.contains(":role/") => {
            s.principal(p).map(|r| r.arn.clone()).or(principal)
        }
        _ => principal,
    };
    let kms_key = d.request.kms_key.clone().or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.kms_key.clone())
            .filter(|_| kind == Kind::Kms)
    });
    if kind == Kind::Kms && resource.is_none() {
        resource = kms_key.clone();
    }
    // Setup errors are about the event source (queue, stream), the dead-letter target, or
    // else the function being configured; the request's own resource is the function.
    if kind == Kind::TriggerSetup && !matches!(m.family, Family::Lambda(LambdaError::TrustLambda)) {
        resource = m
            .resource
            .clone()
            .or_else(|| d.request.event_source_arn.clone())
            .or_else(|| d.request.target_arn.clone())
            .or_else(|| d.resource.clone());
    }
    // Setups whose actions AWS only grants on "*" (ENIs, X-Ray) are about no one resource.
    if kind == Kind::TriggerSetup
        && let Some(setup) = d.action.as_deref().and_then(|a| rules.setup_for_action(a))
        && setup.grants.iter().all(|g| g.resource == "star")
    {
        resource = Some("*".to_string());
    }
    let region = d.region.clone().or_else(|| {
        resource
            .as_deref()
            .and_then(Arn::parse)
            .map(|a| a.region.to_string())
            .filter(|r| !r.is_empty())
    });
    let account = d.account.clone().or_else(|| {
        principal
            .as_deref()
            .and_then(Arn::parse)
            .map(|a| a.account.to_string())
            .filter(|a| !a.is_empty())
    });
    let mut explanation = Vec::new();
    explain_message(
        d,
        kind,
        &cause,
        principal.as_deref(),
        function.as_deref(),
        &mut explanation,
    );
    let need = Need {
        kind: Some(kind),
        cause: cause.clone(),
        principal: principal.clone(),
        function: function.clone(),
        actions: d.actions.clone(),
        resource: resource.clone(),
        event_source_arn: d.request.event_source_arn.clone(),
        target_arn: d.request.target_arn.clone(),
        kms_key,
        service_principal,
        source_arn,
        source_account: account.clone(),
        policy_arn: m.policy_arn.clone(),
        region: region.clone(),
    };
    let fix = suggest::fix(&need, rules);
    let mut diag = Diagnosis {
        kind,
        cause,
        account,
        region: region.clone(),
        principal,
        function,
        action: d.action.clone(),
        resource,
        message: m.text.clone(),
        policy_state: "unknown".to_string(),
        explanation,
        fix,
    };
    if let Some(s) = src {
        correlate(&mut diag, d, need, s, rules);
    }
    diag
}

/// The cause a verdict shows.
fn cause_of_verdict(v: &Verdict) -> Option<String> {
    let suffix = |k: PolicyKind| match k {
        PolicyKind::Identity => "identity",
        PolicyKind::Resource => "resource",
        PolicyKind::PermissionsBoundary => "boundary",
        PolicyKind::Scp => "scp",
        PolicyKind::Rcp => "rcp",
        PolicyKind::Session => "session",
        PolicyKind::Trust => "trust",
    };
    match v.decision {
        Decision::ExplicitDeny => v.deciding.first().map(|s| match s.kind {
            PolicyKind::Trust => "trust_policy".to_string(),
            k => format!("explicit_deny_{}", suffix(k)),
        }),
        Decision::ImplicitDeny => {
            // The most specific guard first: an organization or boundary gap explains a denial
            // even where the identity side also lacks the grant.
            let order = [
                PolicyKind::Scp,
                PolicyKind::Rcp,
                PolicyKind::PermissionsBoundary,
                PolicyKind::Session,
                PolicyKind::Trust,
                PolicyKind::Identity,
                PolicyKind::Resource,
            ];
            order
                .iter()
                .find(|k| v.missing_allow.contains(k))
                .map(|k| match k {
                    PolicyKind::Trust => "trust_policy".to_string(),
                    k => format!("no_{}_allow", suffix(*k)),
                })
        }
        Decision::Allow | Decision::Unknown => None,
    }
}

fn describe_statement(s: &StatementRef) -> String {
    let which = match &s.sid {
        Some(sid) => format!("statement {sid:?} (#{})", s.index),
        None => format!("statement #{}", s.index),
    };
    format!("{which} of {} ({} policy)", s.policy, s.kind.as_str())
}

/// Who is judged for a diagnosis: the service for invoke permissions and trust, else the role.
fn caller_of(diag: &Diagnosis, d: &Denial) -> Option<(Caller, String)> {
    let resource = diag.resource.clone().unwrap_or_else(|| "*".to_string());
    if diag.kind == Kind::InvokePermission {
        return Some((Caller::Service(diag.principal.clone()?), resource));
    }
    if diag.cause == "trust_policy" && diag.kind == Kind::TriggerSetup {
        return Some((
            Caller::Service("lambda.amazonaws.com".into()),
            diag.principal.clone()?,
        ));
    }
    let principal = diag.principal.clone()?;
    let p = arn::Principal::parse(&principal)?;
    let session = d.caller.clone().filter(|c| {
        c.contains(":assumed-role/") && d.caller_iam.as_deref() == Some(principal.as_str())
    });
    Some((
        Caller::Iam {
            arn: p.iam_arn(),
            session_arn: session,
            account: p.account.to_string(),
        },
        resource,
    ))
}

/// Evaluates the denial against the stored policies: policy state, explanation, the cause where
/// the message did not give one, and whether the fix would work.
fn correlate(
    diag: &mut Diagnosis,
    d: &Denial,
    mut need: Need,
    src: &dyn PolicySource,
    rules: &Rules,
) {
    let Some(action) = diag.action.clone() else {
        return;
    };
    let Some((caller, resource)) = caller_of(diag, d) else {
        diag.explanation
            .push("The principal is not known, so the stored policies were not consulted.".into());
        return;
    };
    let caller = gather::resolve_caller(src, caller);
    let given_owner = d
        .request
        .context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("aws:ResourceAccount"))
        .map(|(_, v)| v.as_str());
    let hint = gather::OwnerHint {
        given: given_owner,
        logged: d.request.resource_account.as_deref(),
    };
    let (mut set, gaps) = gather::gather_remembered(src, rules, &caller, &action, &resource, hint);
    if gaps.principal_missing {
        if let Caller::Iam { arn, .. } = &caller {
            diag.explanation.push(format!(
                "The policies of {arn} were never imported; the cause comes from the message alone."
            ));
        }
        return;
    }
    if matches!(caller, Caller::Service(_)) && set.resource.is_none() {
        diag.explanation.push(format!(
            "The policy of {resource} was never imported; the cause comes from the message alone."
        ));
        return;
    }
    let known = gather::store_facts(src, &caller, &set);
    let facts = Facts {
        given: &d.request.context,
        time: d.time,
        region: d.region.as_deref(),
        source_ip: d.source_ip.as_deref(),
        source_arn: need.source_arn.as_deref(),
        source_account: need.source_account.as_deref(),
        ..Facts::default()
    }
    .with_store(&known);
    let ctx = RequestContext::derive(&caller, &resource, &facts);
    let req = Request {
        caller: caller.clone(),
        action: &action,
        resource: &resource,
        context: &ctx,
    };
    let v = evaluate::evaluate(&req, &set);
    for m in &gaps.missing_policies {
        diag.explanation.push(format!(
            "{m} is attached, but its document was not imported."
        ));
    }
    let who = match &caller {
        Caller::Iam { arn, .. } => arn.clone(),
        Caller::Service(s) => s.clone(),
    };
    diag.policy_state = match v.decision {
        Decision::Allow => "allowed_now",
        Decision::ImplicitDeny | Decision::ExplicitDeny => "denied",
        Decision::Unknown => "unknown",
    }
    .to_string();
    if let Some(x) = &v.cross_account
        && v.decision != Decision::Allow
    {
        let sides: Vec<&str> = x
            .denied_by
            .iter()
            .map(|s| match *s {
                "identity" => "the caller's side",
                _ => "the resource owner's side",
            })
            .collect();
        diag.explanation.push(format!(
            "The request crosses accounts ({} calls a resource of {}): both sides must allow, and {} did not.",
            x.principal_account,
            x.resource_account,
            sides.join(" and ")
        ));
    }
    match v.decision {
        Decision::ExplicitDeny => {
            for s in &v.deciding {
                diag.explanation.push(format!(
                    "The stored policies deny it: {} denies {action}.",
                    describe_statement(s)
                ));
            }
        }
        Decision::ImplicitDeny => {
            for k in &v.missing_allow {
                let line = match k {
                    PolicyKind::Identity => format!(
                        "{who} has {} identity {}; none allows {action} on {resource}.",
                        set.identity.len(),
                        if set.identity.len() == 1 {
                            "policy"
                        } else {
                            "policies"
                        }
                    ),
                    PolicyKind::PermissionsBoundary => format!(
                        "The permissions boundary {} does not allow {action}.",
                        set.boundary
                            .as_ref()
                            .map(|b| b.name.as_str())
                            .unwrap_or("?")
                    ),
                    PolicyKind::Scp => format!(
                        "No service control policy at one level of the organization allows {action}."
                    ),
                    PolicyKind::Rcp => {
                        format!("No resource control policy allows {action} on {resource}.")
                    }
                    PolicyKind::Session => format!("The session policy does not allow {action}."),
                    PolicyKind::Resource => format!(
                        "The policy of {resource} has no statement that allows {who} to call {action}."
                    ),
                    PolicyKind::Trust => {
                        format!("The trust policy of {resource} does not allow {who}.")
                    }
                };
                diag.explanation.push(line);
            }
        }
        Decision::Allow => {
            let by: Vec<String> = v.deciding.iter().map(describe_statement).collect();
            diag.explanation.push(format!(
                "The stored policies allow {action} now ({}): the grant came after the denial, or the caller still used old credentials.",
                by.join("; ")
            ));
        }
        Decision::Unknown => diag.explanation.push(format!(
            "The stored policies cannot decide without {}, which the log does not show.",
            v.missing_context_keys.join(", ")
        )),
    }
    // An allow proves nothing about a policy type the message blames that was never imported.
    if v.decision == Decision::Allow
        && let Some(missing) = blamed_but_not_imported(&d.message.reason, &set)
    {
        diag.policy_state = "unknown".to_string();
        diag.explanation.push(format!(
            "The message blames {missing}, which was not imported (or cannot be), so the stored policies cannot confirm or refute it."
        ));
        return;
    }
    if v.decision == Decision::Allow {
        // The stored policies allow it now: the grant was too recent for IAM when the call was
        // made, or the caller still used credentials from before it.
        diag.cause = "propagation".to_string();
        diag.fix = suggest::propagation_fix(&need, rules);
        diag.fix.verified = Some(true);
        return;
    }
    if let Some(derived) = cause_of_verdict(&v) {
        if matches!(
            diag.cause.as_str(),
            "unknown" | "explicit_deny" | "other_condition"
        ) {
            diag.cause = derived;
            need.cause = diag.cause.clone();
            diag.fix = suggest::fix(&need, rules);
        } else if derived != diag.cause {
            diag.explanation.push(format!(
                "The message points to {}, but the stored policies show {derived}; AWS names only one reason when several apply.",
                diag.cause
            ));
        }
    }
    if v.decision == Decision::ExplicitDeny {
        narrow_deny(diag, &v, &req, &set, src, rules, &action);
        return;
    }
    merged_commands(diag, &set, src);
    if v.decision == Decision::Unknown {
        // Undecided now, so a fix cannot be proven either.
        return;
    }
    let failing = verify(&diag.fix, &req, &mut set, rules, src, &action);
    diag.fix.verified = Some(failing.is_none());
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
            Decision::Unknown => format!(
                "the result depends on {}",
                after.missing_context_keys.join(", ")
            ),
            Decision::Allow => String::new(),
        };
        diag.fix.notes.insert(
            0,
            format!("Not verified: with this fix applied to the stored policies, {why}."),
        );
    }
}

/// The policy type a message blames, when nothing of that type is in the stored set.
fn blamed_but_not_imported(reason: &Reason, set: &PolicySet) -> Option<&'static str> {
    let t = match reason {
        Reason::Implicit(t) | Reason::Explicit(t) => *t,
        _ => return None,
    };
    let known = match t {
        PolicyType::Identity => set.identity_known,
        PolicyType::Resource | PolicyType::Trust => set.resource.is_some(),
        PolicyType::Scp => !set.scp_levels.is_empty(),
        PolicyType::Rcp => !set.rcp_levels.is_empty(),
        PolicyType::Boundary => set.boundary.is_some(),
        PolicyType::Session | PolicyType::VpcEndpoint => false,
    };
    (!known).then_some(match t {
        PolicyType::Identity => "an identity-based policy",
        PolicyType::Resource => "a resource-based policy",
        PolicyType::Trust => "a role trust policy",
        PolicyType::Scp => "a service control policy",
        PolicyType::Rcp => "a resource control policy",
        PolicyType::Boundary => "a permissions boundary",
        PolicyType::Session => "a session policy",
        PolicyType::VpcEndpoint => "a VPC endpoint policy",
    })
}

/// The raw document of a policy a verdict names, from the store (or the shipped catalog).
fn raw_policy(
    s: &StatementRef,
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
        PolicyKind::Scp | PolicyKind::Rcp | PolicyKind::Session => None,
    }
}

/// For an explicit deny: the narrowest change to the denying statement — drop the action when
/// the statement lists it among others, else exempt this principal with a condition — checked
/// by re-evaluating with the statement replaced.
#[allow(clippy::too_many_arguments)]
fn narrow_deny(
    diag: &mut Diagnosis,
    v: &Verdict,
    req: &Request<'_>,
    set: &PolicySet,
    src: &dyn PolicySource,
    rules: &Rules,
    action: &str,
) {
    let Some(deny) = v.deciding.first() else {
        return;
    };
    let Some(mut doc) = raw_policy(deny, src, rules) else {
        diag.fix.verified = Some(false);
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
    let how = if listed.len() > 1 && listed.iter().any(|a| a.eq_ignore_ascii_case(action)) {
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
                    e.insert(key.to_string(), serde_json::json!(who));
                }
            }
        }
        format!("add a condition that exempts {who}")
    };
    let narrowed = stmt.clone();
    // Re-evaluate with the narrowed statement in place.
    let mut trial = set.clone();
    let replaced = Policy::parse(&doc).ok();
    let slot: Option<&mut NamedPolicy> = match deny.kind {
        PolicyKind::Identity => trial.identity.iter_mut().find(|p| p.name == deny.policy),
        PolicyKind::PermissionsBoundary => trial.boundary.as_mut(),
        PolicyKind::Resource | PolicyKind::Trust => trial.resource.as_mut(),
        _ => None,
    };
    let mut ok = false;
    if let (Some(slot), Some(p)) = (slot, replaced) {
        slot.policy = p.into();
        ok = evaluate::evaluate(req, &trial).decision == Decision::Allow;
    }
    let which = match &deny.sid {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement #{}", deny.index),
    };
    diag.fix.statement = Some(narrowed.clone());
    diag.fix.all_statements = vec![narrowed];
    let text = serde_json::to_string(&doc).unwrap_or_default();
    diag.fix.commands.clear();
    match (deny.kind, deny.policy.split_once('#')) {
        (PolicyKind::Identity, Some((owner, name))) => {
            if let Some(role) = arn::role_name(owner) {
                diag.fix.commands.push(suggest::command(&[
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
        (PolicyKind::Identity | PolicyKind::PermissionsBoundary, None)
            if !deny.policy.contains(":iam::aws:") =>
        {
            diag.fix.commands.push(suggest::command(&[
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
    diag.fix.notes.insert(
        0,
        format!("Narrowest change: in {which} of {}, {how}; `statement` is the statement as it would read.", deny.policy),
    );
    if deny.policy.contains(":iam::aws:") {
        diag.fix.notes.push("The denying policy is AWS managed and cannot be edited: detach it, or attach a customer managed copy with the change.".into());
    }
    diag.fix.verified = Some(ok);
    if !ok {
        diag.fix.notes.insert(0, "Not verified: with this change another policy still denies or does not allow the request.".into());
    }
}

/// Where the current resource or trust policy is known, the command that applies the fix puts
/// the whole merged document back (these APIs replace the policy, they do not append).
fn merged_commands(diag: &mut Diagnosis, set: &PolicySet, src: &dyn PolicySource) {
    let target = diag.fix.target.as_str();
    if !matches!(target, "resource_policy" | "key_policy" | "trust_policy")
        || diag.fix.all_statements.is_empty()
        || diag.kind == Kind::InvokePermission
    {
        return;
    }
    let Some(res) = &set.resource else { return };
    let current = if target == "trust_policy" {
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
        a.extend(diag.fix.all_statements.iter().cloned());
    }
    let text = serde_json::to_string(&doc).unwrap_or_default();
    let arn = res.name.clone();
    let cmd = match (
        target,
        Arn::parse(&arn).map(|a| {
            (
                a.service.to_string(),
                a.region.to_string(),
                a.account.to_string(),
                a.resource.to_string(),
            )
        }),
    ) {
        ("trust_policy", _) => arn::role_name(&arn).map(|r| {
            suggest::command(&[
                "aws",
                "iam",
                "update-assume-role-policy",
                "--role-name",
                r,
                "--policy-document",
                &text,
            ])
        }),
        (_, Some((svc, region, account, rest))) => match svc.as_str() {
            "s3" => Some(suggest::command(&[
                "aws",
                "s3api",
                "put-bucket-policy",
                "--bucket",
                &rest,
                "--policy",
                &text,
            ])),
            "kms" => Some(suggest::command(&[
                "aws",
                "kms",
                "put-key-policy",
                "--key-id",
                &arn,
                "--policy-name",
                "default",
                "--policy",
                &text,
            ])),
            "sqs" => {
                let url = format!("https://sqs.{region}.amazonaws.com/{account}/{rest}");
                let attrs = serde_json::json!({"Policy": text}).to_string();
                Some(suggest::command(&[
                    "aws",
                    "sqs",
                    "set-queue-attributes",
                    "--queue-url",
                    &url,
                    "--attributes",
                    &attrs,
                ]))
            }
            "sns" => Some(suggest::command(&[
                "aws",
                "sns",
                "set-topic-attributes",
                "--topic-arn",
                &arn,
                "--attribute-name",
                "Policy",
                "--attribute-value",
                &text,
            ])),
            "secretsmanager" => Some(suggest::command(&[
                "aws",
                "secretsmanager",
                "put-resource-policy",
                "--secret-id",
                &arn,
                "--resource-policy",
                &text,
            ])),
            _ => None,
        },
        _ => None,
    };
    if let Some(c) = cmd {
        diag.fix.commands = vec![c];
        diag.fix
            .notes
            .retain(|n| !n.contains("merge") && !n.contains("replaces the whole"));
        diag.fix.notes.push(
            "The command puts back the whole policy as imported with the statement added; re-import the policy first if it may have changed since.".into(),
        );
    }
}

/// Applies the fix to the stored policies and re-evaluates every action it grants; returns the
/// first verdict that is still not an allow (None: the fix works).
fn verify(
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
        match fix.target.as_str() {
            "identity_policy" => set.identity.extend(added(PolicyKind::Identity, stmts)),
            "permissions_boundary" => {
                if let (Some(b), Some(p)) = (
                    &mut set.boundary,
                    added(PolicyKind::PermissionsBoundary, stmts),
                ) {
                    std::sync::Arc::make_mut(&mut b.policy)
                        .statements
                        .extend(p.policy.statements.iter().cloned());
                }
            }
            "scp" => {
                for level in &mut set.scp_levels {
                    level.extend(added(PolicyKind::Scp, stmts));
                }
            }
            "rcp" => {
                for level in &mut set.rcp_levels {
                    level.extend(added(PolicyKind::Rcp, stmts));
                }
            }
            "resource_policy" | "key_policy" | "trust_policy" => {
                let kind = if fix.target == "trust_policy" {
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
    // Every action the fix grants for this resource must now be allowed; the main one at least.
    let mut actions: Vec<String> = vec![action.to_string()];
    if let Some(st) = fix.statement.as_ref().and_then(|s| s.get("Action")) {
        match st {
            serde_json::Value::String(a) => actions.push(a.clone()),
            serde_json::Value::Array(a) => {
                actions.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)))
            }
            _ => {}
        }
    }
    actions.dedup();
    actions.iter().find_map(|a| {
        let r = Request {
            caller: req.caller.clone(),
            action: a,
            resource: req.resource,
            context: req.context,
        };
        let v = evaluate::evaluate(&r, set);
        (v.decision != Decision::Allow).then_some(v)
    })
}

fn explain_message(
    d: &Denial,
    kind: Kind,
    cause: &str,
    principal: Option<&str>,
    function: Option<&str>,
    out: &mut Vec<String>,
) {
    let m = &d.message;
    let who = principal.unwrap_or("the caller");
    let what = d.action.as_deref().unwrap_or("the action");
    match &m.reason {
        Reason::Implicit(t) if kind == Kind::AccessDenied => out.push(format!(
            "AWS says no {} allows {what} for {who}.",
            t.describe()
        )),
        Reason::Explicit(t) => {
            let via = m
                .via
                .map(|v| format!(" (reached through a {})", v.describe()))
                .unwrap_or_default();
            let arn = m
                .policy_arn
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
            out.push(format!(
                "An explicit Deny in {} {}{arn}{via} denies {what}; no Allow can override it.",
                if t.describe().starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                t.describe()
            ));
        }
        Reason::ExplicitUntyped => out.push(format!(
            "An explicit Deny denies {what}; the message does not say in which policy type."
        )),
        Reason::Other(why) => out.push(format!("AWS denied {what} {why}.")),
        _ => {}
    }
    match &m.family {
        Family::Lambda(LambdaError::RoleLacks { operation, service }) => out.push(format!(
            "Lambda checked the execution role{} when the function or trigger was set up: it may not call {operation} on {service}.",
            function.map(|f| format!(" of {f}")).unwrap_or_default()
        )),
        Family::Lambda(LambdaError::CannotAccessStream { .. }) => out.push(
            "Lambda could not read the stream with the execution role when the event source mapping was created.".into(),
        ),
        Family::Lambda(LambdaError::TrustLambda) => out.push(format!(
            "The role{} does not trust lambda.amazonaws.com (or was created moments before and IAM had not yet propagated it).",
            principal.map(|p| format!(" {p}")).unwrap_or_default()
        )),
        Family::Lambda(LambdaError::S3Destination { queue: false }) => out.push(
            "S3 checked that it may invoke the function when the bucket notification was saved; the function's resource policy does not allow s3.amazonaws.com.".into(),
        ),
        Family::Lambda(LambdaError::S3Destination { queue: true }) => out.push(
            "S3 checked that it may send to the queue when the bucket notification was saved; the queue policy does not allow s3.amazonaws.com.".into(),
        ),
        Family::Lambda(LambdaError::ApiGatewayInvoke) => out.push(
            "API Gateway may not invoke the function: its resource policy has no statement for apigateway.amazonaws.com with this API as source.".into(),
        ),
        Family::Lambda(LambdaError::ElbInvoke { .. }) => out.push(
            "The load balancer may not invoke the function: add the permission before registering the target.".into(),
        ),
        Family::Lambda(LambdaError::KmsEnvDenied) => out.push(
            "Lambda could not decrypt the function's environment variables: the execution role needs kms:Decrypt on the function's KMS key, the key policy must allow it, and a role deleted and re-created with the same name breaks the key's grant.".into(),
        ),
        Family::Lambda(LambdaError::KmsDisabled) => out.push(
            "The KMS key that encrypts the function's environment is disabled.".into(),
        ),
        Family::Lambda(LambdaError::KmsCreateGrant) => out.push(
            "Lambda could not create a grant on the KMS key: the caller needs kms:CreateGrant on it, or the key is not valid.".into(),
        ),
        Family::Bare => out.push(format!(
            "The error gives no detail{}; the action is taken from the API call.",
            m.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        )),
        Family::Authorization => {}
    }
    if m.truncated {
        out.push("The message was cut short in the log; details past the cut are unknown.".into());
    }
    if m.encoded {
        out.push("An encoded authorization message is attached: `aws sts decode-authorization-message` shows the full context.".into());
    }
    if cause == "unknown" && kind == Kind::AccessDenied {
        out.push("The message does not say which policy type denied it; import the principal's policies to find out.".into());
    }
    if let Some(id) = &m.authorization_id {
        out.push(format!(
            "AWS recorded authorization id {id}: GetRequestAuthorizationDetails returns the full evaluation for 24 hours."
        ));
    }
}
