//! Diagnose: a [`Denial`] → a [`Diagnosis`]: what was observed (`kind`), why (`cause`), whose
//! permissions are missing (`principal`), and the fix.
//!
//! This stage is pure. Without stored policies the cause comes from the message's own words; the
//! principal is the identity whose permissions must change (the execution role for setup errors,
//! the service principal for invoke permissions), not whoever made the failing call.

use serde::{Deserialize, Serialize};

use crate::parse::arn::{self, Arn};
use crate::parse::{Denial, Family, LambdaError, PolicyType, Reason};
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
            if let (Some(api), Some(region), Some(account)) =
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
        kms_key: d.request.kms_key.clone(),
        service_principal,
        source_arn,
        source_account: account.clone(),
        policy_arn: m.policy_arn.clone(),
        region: d.region.clone(),
    };
    let fix = suggest::fix(&need, rules);
    Diagnosis {
        kind,
        cause,
        account,
        region: d.region.clone(),
        principal,
        function,
        action: d.action.clone(),
        resource,
        message: m.text.clone(),
        policy_state: "unknown".to_string(),
        explanation,
        fix,
    }
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
                "An explicit Deny in a {}{arn}{via} denies {what}; no Allow can override it.",
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
