//! The sentences a message alone supports.

use super::*;

pub(super) fn explain_message(
    d: &Denial,
    kind: Kind,
    cause: Cause,
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
        // An integration with a credentials role: the role's own policies decide, said later.
        Family::Lambda(LambdaError::ApiGatewayInvoke) if kind != Kind::InvokePermission => {}
        Family::Lambda(LambdaError::ApiGatewayInvoke) => {
            // An authorizer's source ARN is `<api>/authorizers/<id>`, not a stage and route.
            let authorizer = d
                .request
                .source_arn
                .as_deref()
                .and_then(|s| s.split_once("/authorizers/"))
                .map(|(_, id)| id);
            out.push(match authorizer {
                Some(id) => format!(
                    "API Gateway may not invoke the function as the API's Lambda authorizer {id}: its resource policy has no statement for apigateway.amazonaws.com with this authorizer as source."
                ),
                None => "API Gateway may not invoke the function: its resource policy has no statement for apigateway.amazonaws.com with this API as source.".into(),
            })
        }
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
        // A catalog text names the integration: its action comes from the catalog.
        Family::Bare if d.integration.is_none() => out.push(format!(
            "The error gives no detail{}; the action is taken from the API call.",
            m.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        )),
        Family::Bare | Family::Authorization | Family::Catalog => {}
    }
    if m.truncated {
        out.push("The message was cut short in the log; details past the cut are unknown.".into());
    }
    if m.encoded {
        out.push("An encoded authorization message is attached: `aws sts decode-authorization-message` shows the full context.".into());
    }
    if cause == Cause::Unknown && kind == Kind::AccessDenied {
        out.push("The message does not say which policy type denied it; import the principal's policies to find out.".into());
    }
    if let Some(id) = &m.authorization_id {
        out.push(format!(
            "AWS recorded authorization id {id}: GetRequestAuthorizationDetails returns the full evaluation for 24 hours."
        ));
    }
}
