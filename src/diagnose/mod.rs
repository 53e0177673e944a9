//! Diagnose: a [`Denial`] → a [`Diagnosis`]: what was observed (`kind`), why (`cause`), whose
//! permissions are missing (`principal`), and the fix.
//!
//! This stage is pure. Without stored policies the cause comes from the message's own words; the
//! principal is the identity whose permissions must change (the execution role for setup errors,
//! the service principal for invoke permissions), not whoever made the failing call.

use crate::evaluate::gather::{self, PolicySource};
use crate::evaluate::{
    self, Caller, Decision, NamedPolicy, PolicyKind, PolicySet, Request, RequestContext,
    StatementRef, Verdict, context::Facts,
};
use crate::parse::{Denial, Family, LambdaError, Reason};
use crate::policy::arn::{self, Arn};
pub use crate::policy::vocab::{Cause, Kind, PolicyState, Target};
use crate::rules::Rules;

mod abac;
mod correlate;
mod explain;
mod http_route;
pub mod integration;
mod need;
mod remedy;
mod via;

pub use need::Need;
pub use remedy::{Checked, Remedy};

use correlate::correlate;
pub use correlate::{describe_statement, stated_policy_known};
use explain::explain_message;

/// The diagnosis of one denial: everything a finding holds but its identity, counts and fix,
/// and what the fix must do ([`Need`], [`Remedy`]), which `suggest` builds from.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// What was observed: a call denied at run time, a setup check, an invoke permission, KMS.
    pub kind: Kind,
    /// Why: the reason the message states, or the stored policies' verdict once they are imported.
    pub cause: Cause,
    /// The account the denial happened in: the log's, else the principal ARN's account field.
    pub account: Option<String>,
    /// The region: the log's, else the resource ARN's.
    pub region: Option<String>,
    /// The role, user or service principal whose permissions are missing: the execution role for
    /// setup and KMS errors, the service for invoke permissions; None for an unsigned request.
    pub principal: Option<String>,
    /// The Lambda function's name (not its ARN), when one can be told.
    pub function: Option<String>,
    /// The denied IAM action in canonical case (`sqs:ReceiveMessage`); the first, where the message
    /// names several.
    pub action: Option<String>,
    /// The resource the action was denied on: for a setup error the queue, stream or dead-letter
    /// target rather than the function being configured; `*` for actions granted only on `*`.
    pub resource: Option<String>,
    /// The message as AWS wrote it.
    pub message: String,
    /// What the stored policies say today: denied, allowed now, or unknown when never imported.
    pub policy_state: PolicyState,
    /// Human sentences on why, each naming the policies and statements that decided.
    pub explanation: Vec<String>,
    /// What the fix must grant, and to whom.
    pub need: Need,
    /// The kind of change the evidence calls for.
    pub remedy: Remedy,
    /// What the finding is, from the log alone: see [`Diagnosis::key`].
    pub basis: String,
}

/// The deduplication key of a denial from what its log says, before any stored policy or
/// configuration is consulted: the principal the log names (the function, for Lambda's own
/// errors, whose execution role only an import reveals), the action, the resource and the cause
/// the message states. A later import changes what a finding says, never which finding it is.
fn basis(
    kind: Kind,
    principal: Option<&str>,
    function: Option<&str>,
    action: Option<&str>,
    resource: Option<&str>,
    cause: Cause,
) -> String {
    let who = match (kind, principal, function) {
        (Kind::TriggerSetup | Kind::Kms, _, Some(f)) => format!("function:{f}"),
        (_, Some(p), _) => p.to_string(),
        (_, None, Some(f)) => format!("function:{f}"),
        (_, None, None) => String::new(),
    };
    format!(
        "{who}\u{1f}{}\u{1f}{}\u{1f}{cause}",
        action.unwrap_or_default(),
        resource.unwrap_or_default(),
    )
}

/// The deduplication key of a KMS failure about a table or secret (see
/// [`crate::parse::kms_subject`]): DynamoDB's or Secrets Manager's own failure, which names no
/// key and states no reason, and KMS's record of the call the service made for the same
/// caller, which does, are one finding. So they are keyed by the caller, the action and the
/// table or secret, without a cause.
fn kms_basis(principal: Option<&str>, action: Option<&str>, subject: &str) -> String {
    basis(
        Kind::AccessDenied,
        principal,
        None,
        action,
        Some(subject),
        Cause::Unknown,
    )
}

impl Diagnosis {
    /// The deduplication key: the same principal denied the same action on the same resource
    /// for the same cause, as the log says them, is one finding.
    pub fn key(&self) -> String {
        self.basis.clone()
    }

    /// A stable 16-hex-digit id derived from the key.
    pub fn id(&self) -> String {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(self.key().as_bytes()))
    }
}

/// The party AWS checked for a finding, and the resource it was checked on: a service invoking
/// a function, Lambda assuming the execution role (the role is the resource), else the IAM
/// principal. None when the principal is not an ARN.
pub fn party(
    kind: Kind,
    cause: Cause,
    principal: &str,
    resource: Option<&str>,
) -> Option<(Caller, String)> {
    let resource = resource.unwrap_or("*").to_string();
    if kind == Kind::InvokePermission {
        return Some((Caller::Service(principal.to_string()), resource));
    }
    if kind == Kind::TriggerSetup && cause == Cause::TrustPolicy {
        return Some((
            Caller::Service("lambda.amazonaws.com".into()),
            principal.to_string(),
        ));
    }
    let p = arn::Principal::parse(principal)?;
    Some((
        Caller::Iam {
            arn: p.iam_arn(),
            session_arn: None,
            account: p.account.to_string(),
        },
        resource,
    ))
}

/// The cause a message states.
pub fn cause_of(reason: &Reason) -> Cause {
    match reason {
        Reason::Implicit(t) => Cause::no_allow(*t),
        Reason::Explicit(t) => Cause::explicit_deny(*t),
        Reason::ExplicitUntyped => Cause::ExplicitDeny,
        Reason::Other(_) => Cause::OtherCondition,
        Reason::Unstated => Cause::Unknown,
    }
}

/// Diagnoses one denial from its message and context alone.
pub fn diagnose(d: &Denial, rules: &Rules) -> Diagnosis {
    diagnose_with(d, rules, None)
}

/// Diagnoses one denial, using the stored policies and configurations when given.
pub fn diagnose_with(d: &Denial, rules: &Rules, src: Option<&dyn PolicySource>) -> Diagnosis {
    if let Some(i) = d
        .integration
        .as_deref()
        .and_then(|id| rules.integration(id))
    {
        return diagnose_integration(d, i, rules, src);
    }
    let m = &d.message;
    let (kind, cause) = match &m.family {
        Family::Lambda(e) => match e {
            LambdaError::RoleLacks { .. } | LambdaError::CannotAccessStream { .. } => {
                (Kind::TriggerSetup, Cause::NoIdentityAllow)
            }
            LambdaError::TrustLambda => (Kind::TriggerSetup, Cause::TrustPolicy),
            LambdaError::S3Destination { .. }
            | LambdaError::ApiGatewayInvoke
            | LambdaError::ElbInvoke { .. } => (Kind::InvokePermission, Cause::NoResourceAllow),
            LambdaError::KmsEnvDenied | LambdaError::KmsCreateGrant => (Kind::Kms, Cause::Unknown),
            LambdaError::KmsDisabled => (Kind::Kms, Cause::KeyDisabled),
        },
        Family::Authorization | Family::Bare | Family::Catalog => {
            (Kind::AccessDenied, cause_of(&m.reason))
        }
    };
    let mut function = d.function.clone();
    let mut resource = d.resource.clone();
    let mut service_principal = None;
    let mut source_arn = None;
    let mut route_basis = None;
    let mut notes = Vec::new();
    let mut credentials_role: Option<String> = None;
    let principal = match (&m.family, kind) {
        (Family::Lambda(LambdaError::S3Destination { queue }), _) => {
            service_principal = rules.invoke_principal("s3");
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
            service_principal = rules.invoke_principal("apigateway");
            if let Some(f) = &d.request.function_arn {
                resource = Some(f.clone());
            }
            source_arn = d.request.source_arn.clone();
            if d.request.function_arn.is_none()
                && let Some(route) = &d.request.route_key
            {
                // An HTTP API's access log names the route: which finding it is comes from the
                // route, and the function from the imported routes and integrations.
                let api = d.request.api_id.as_deref().unwrap_or("");
                route_basis = Some(format!("{api} {route}"));
                let http = http_route::resolve(d, src);
                notes.extend(http.notes);
                if let Some(f) = http.function_arn {
                    function = arn::function_name(&f);
                    resource = Some(f);
                }
                source_arn = http.source_arn.or(source_arn);
                // The integration invokes with its own role: that role's policies decide.
                credentials_role = http.credentials;
            }
            if source_arn.is_none()
                && let (Some(api), Some(region), Some(account)) =
                    (&d.request.api_id, &d.region, &d.account)
            {
                source_arn = Some(format!("arn:aws:execute-api:{region}:{account}:{api}/*"));
            }
            match &credentials_role {
                Some(role) => {
                    service_principal = None;
                    Some(role.clone())
                }
                None => service_principal.clone(),
            }
        }
        (Family::Lambda(LambdaError::ElbInvoke { function_arn }), _) => {
            service_principal = rules.invoke_principal("elasticloadbalancing");
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
        // Lambda decrypts a function's environment with that function's execution role: the
        // function invoked, whoever invoked it.
        (_, Kind::Kms) => {
            if let Some(f) = &d.request.function_name {
                function = Some(f.clone());
            }
            resource = m.resource.clone().filter(|r| r.contains(":kms:"));
            // KMS's own quoted message names that role; the record's caller is the invoker.
            m.principal
                .as_deref()
                .and_then(arn::Principal::parse)
                .filter(|p| p.kind != arn::PrincipalKind::Other)
                .map(|p| p.iam_arn())
        }
        _ => d.caller_iam.clone().or_else(|| d.caller.clone()),
    };
    let basis = match (via::subject(d), &route_basis) {
        (Some(subject), _) => kms_basis(principal.as_deref(), d.action.as_deref(), &subject),
        // The route's function and role come from the store: the key is the route's.
        (None, Some(route)) => basis(
            Kind::InvokePermission,
            rules.invoke_principal("apigateway").as_deref(),
            None,
            d.action.as_deref(),
            Some(route),
            Cause::NoResourceAllow,
        ),
        (None, None) => basis(
            kind,
            principal.as_deref(),
            function.as_deref(),
            d.action.as_deref(),
            resource.as_deref(),
            cause,
        ),
    };
    // An integration with credentials: the role's identity policy decides, not the function's.
    let (kind, cause) = match &credentials_role {
        Some(_) => (Kind::AccessDenied, Cause::Unknown),
        None => (kind, cause),
    };
    // A KMS call another service made for the caller names that service's resource.
    if let Some(v) = via::via(d, src) {
        if function.is_none() {
            function = v.function;
        }
        notes = v.notes;
    }
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
        // A dead-letter target or a mapping's on-failure destination is what SendMessage or
        // Publish is about, not the mapping's stream.
        let to_target = d
            .action
            .as_deref()
            .and_then(|a| rules.setup_for_action(a))
            .is_some_and(|s| s.grants.iter().any(|g| g.resource == "target"));
        let target = d.request.target_arn.clone().filter(|_| to_target);
        resource = m
            .resource
            .clone()
            .or(target)
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
    finish(
        d,
        rules,
        src,
        Parts {
            kind,
            cause,
            principal,
            function,
            resource,
            kms_key,
            service_principal,
            source_arn,
            source_account: None,
            grants: Vec::new(),
            target: None,
            fix_account: None,
            notes,
            basis,
        },
    )
}

/// What the front half of a diagnosis found, for [`finish`].
struct Parts {
    kind: Kind,
    cause: Cause,
    principal: Option<String>,
    function: Option<String>,
    resource: Option<String>,
    kms_key: Option<String>,
    service_principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    grants: Vec<integration::Grant>,
    target: Option<Target>,
    fix_account: Option<String>,
    /// Sentences the integration adds to the explanation.
    notes: Vec<String>,
    basis: String,
}

/// A denial the integration catalog knows: the catalog says whose permission was checked and
/// what that party needs; a reason the message states still decides the cause.
fn diagnose_integration(
    d: &Denial,
    i: &crate::rules::Integration,
    rules: &Rules,
    src: Option<&dyn PolicySource>,
) -> Diagnosis {
    let r = integration::resolve(i, d, src);
    // Which finding this is comes from the log alone.
    let logged = match src {
        Some(_) => integration::resolve(i, d, None),
        None => r.clone(),
    };
    let stated = match d.message.reason {
        Reason::Unstated => None,
        ref reason => Some(cause_of(reason)),
    };
    let key_remark = unknown_key_remark(&r);
    // A path-less role takes the imported role's ARN.
    let principal = match (src, &r.principal) {
        (Some(s), Some(p)) if p.contains(":role/") => s
            .principal(p)
            .map(|x| x.arn.clone())
            .or(r.principal.clone()),
        _ => r.principal.clone(),
    };
    finish(
        d,
        rules,
        src,
        Parts {
            kind: r.kind,
            cause: stated.unwrap_or(r.cause),
            principal,
            function: r.function.clone(),
            resource: r.resource,
            kms_key: None,
            service_principal: r.service_principal,
            source_arn: r.source_arn,
            source_account: r.source_account,
            grants: r.grants,
            target: Some(r.fix_target),
            fix_account: r.fix_account,
            notes: r
                .note
                .map(|n| format!("{}: {n}", i.feature))
                .into_iter()
                .chain(trigger_remark(d, r.function.as_deref()))
                .chain(key_remark)
                .collect(),
            basis: match &logged.subject {
                Some(subject) => kms_basis(
                    logged.principal.as_deref(),
                    d.action.as_deref().or(i.action.as_deref()),
                    subject,
                ),
                None => basis(
                    logged.kind,
                    logged.principal.as_deref(),
                    logged.function.as_deref(),
                    d.action.as_deref(),
                    logged.resource.as_deref(),
                    stated.unwrap_or(logged.cause),
                ),
            },
        },
    )
}

/// For a KMS failure about a table or secret whose key neither the imports nor the logs
/// showed: which resource, and where its key is named.
fn unknown_key_remark(r: &integration::Resolved) -> Option<String> {
    let subject = r.subject.as_deref()?;
    if r.grants.iter().any(|g| g.resource.as_deref() != Some("*")) {
        return None;
    }
    let how = if subject.contains(":dynamodb:") {
        "`aws dynamodb describe-table` (SSEDescription.KMSMasterKeyArn)"
    } else {
        "`aws secretsmanager describe-secret` (KmsKeyId)"
    };
    Some(format!(
        "The failure is about {subject}, whose KMS key is not known: {how} names it; import that output to narrow the statement to the key."
    ))
}

/// For a Cognito trigger's failure: which trigger of which pool, and the function it invokes
/// when the imports or the logs tell.
fn trigger_remark(d: &Denial, function: Option<&str>) -> Option<String> {
    let trigger = d
        .message
        .captures
        .iter()
        .find(|(k, _)| k == "trigger")
        .map(|(_, v)| v.as_str())?;
    let pool = d.request.params.get("userPoolId")?.as_str()?;
    Some(match function {
        Some(f) => format!("The {trigger} trigger of user pool {pool} invokes {f}."),
        None => format!(
            "Neither the imports nor the logs say which function the {trigger} trigger of user pool {pool} invokes: import `aws cognito-idp describe-user-pool --user-pool-id {pool}`."
        ),
    })
}

/// The shared second half: region, account, explanation, the fix, and the stored policies.
fn finish(d: &Denial, rules: &Rules, src: Option<&dyn PolicySource>, p: Parts) -> Diagnosis {
    let m = &d.message;
    let Parts {
        kind,
        cause,
        principal,
        function,
        resource,
        kms_key,
        service_principal,
        source_arn,
        source_account,
        grants,
        target,
        fix_account,
        notes,
        basis,
    } = p;
    let region = d.region.clone().or_else(|| {
        resource
            .as_deref()
            .and_then(Arn::parse)
            .map(|a| a.region.to_string())
            .filter(|r| !r.is_empty())
    });
    let account = d.account.clone().or_else(|| {
        [principal.as_deref(), resource.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(Arn::parse)
            .map(|a| a.account.to_string())
            .find(|a| !a.is_empty())
    });
    let mut explanation = Vec::new();
    explain_message(
        d,
        kind,
        cause,
        principal.as_deref(),
        function.as_deref(),
        &mut explanation,
    );
    explanation.extend(d.remarks.iter().cloned());
    explanation.extend(notes);
    // An unsigned request has no principal to grant to.
    let anonymous = kind == Kind::AccessDenied
        && principal
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("anonymous"));
    if anonymous {
        explanation.push("The request was not signed (an anonymous caller): there is no principal to grant it to.".into());
    }
    let principal = if anonymous { None } else { principal };
    let need = Need {
        kind: Some(kind),
        cause,
        principal: principal.clone(),
        function: function.clone(),
        actions: d.actions.clone(),
        resource: resource.clone(),
        event_source_arn: d.request.event_source_arn.clone(),
        target_arn: d.request.target_arn.clone(),
        kms_key,
        service_principal,
        source_arn,
        source_account: source_account.or_else(|| account.clone()),
        policy_arn: m.policy_arn.clone(),
        region: region.clone(),
        grants,
        target,
        fix_account,
        vpc_endpoint: d.request.vpc_endpoint.clone(),
        principal_row: match (src, &principal) {
            (Some(s), Some(p)) => s.principal(p),
            _ => None,
        },
    };
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
        policy_state: PolicyState::Unknown,
        explanation,
        need,
        remedy: if anonymous {
            Remedy::Unsigned
        } else {
            Remedy::Grant { checked: None }
        },
        basis,
    };
    if let Some(s) = src {
        correlate(&mut diag, d, s, rules);
    }
    diag
}
