//! Calls a service makes to KMS with the caller's own credentials (CloudTrail's `invokedBy`):
//! SQS decrypting a queue's messages for its reader, DynamoDB a table's items, S3 an object,
//! Secrets Manager a secret. The denied party is the caller, but the request it made was to the
//! other service: the encryption context KMS logs names that service's resource, and for a
//! queue read by Lambda's own poller (an `awslambda_*` session) the reader is an event source
//! mapping, whose function the imported mappings name.

use serde_json::Value;

use crate::evaluate::gather::PolicySource;
use crate::parse::Denial;
use crate::policy::arn;

/// Encryption-context keys that name the resource a service encrypts, as each service's
/// documentation gives them (SQS `aws:sqs:arn`, DynamoDB `aws:dynamodb:tableName`, S3
/// `aws:s3:arn`, Secrets Manager `SecretARN`, Lambda `aws:lambda:FunctionArn`, CloudWatch Logs
/// `aws:logs:arn`), with the word for it.
const CONTEXT_KEYS: [(&str, &str); 6] = [
    ("aws:sqs:arn", "queue"),
    ("aws:dynamodb:tableName", "table"),
    ("aws:s3:arn", "object"),
    ("SecretARN", "secret"),
    ("aws:lambda:FunctionArn", "function"),
    ("aws:logs:arn", "log group"),
];

/// The table or secret a KMS call another service made for the caller was about, when its
/// encryption context names one whose service's own failures name no key.
pub(super) fn subject(d: &Denial) -> Option<String> {
    if !d.action.as_deref().is_some_and(|a| a.starts_with("kms:")) {
        return None;
    }
    d.request.invoked_by.as_ref()?;
    crate::parse::kms_subject(
        d.request.params.get("encryptionContext")?,
        d.region.as_deref(),
        d.account.as_deref(),
    )
}

/// What a KMS denial made on a caller's behalf adds: sentences for the explanation, and the
/// function when the caller is Lambda's poller for an imported event source mapping.
pub(super) struct Via {
    pub notes: Vec<String>,
    pub function: Option<String>,
}

/// None unless the denial is a KMS call another service made with the caller's credentials.
pub(super) fn via(d: &Denial, src: Option<&dyn PolicySource>) -> Option<Via> {
    if !d.action.as_deref().is_some_and(|a| a.starts_with("kms:")) {
        return None;
    }
    let service = d.request.invoked_by.as_deref()?;
    let context = d.request.params.get("encryptionContext")?;
    let (key, what, value) = CONTEXT_KEYS.iter().find_map(|(k, what)| {
        context
            .get(*k)
            .and_then(Value::as_str)
            .map(|v| (*k, *what, v))
    })?;
    let action = d.action.as_deref().unwrap_or("kms:Decrypt");
    let named = subject(d).unwrap_or_else(|| value.to_string());
    let mut notes = vec![format!(
        "{service} called {action} with the caller's own credentials for the {what} {named} (encryption context {key}): the caller needs {action} on the {what}'s key, and the key policy must allow it."
    )];
    let poller = d
        .caller
        .as_deref()
        .and_then(|c| c.rsplit('/').next())
        .is_some_and(|s| s.starts_with("awslambda_"));
    let mut function = None;
    if poller && key == "aws:sqs:arn" {
        let functions = src.map(|s| s.mapping_functions(value)).unwrap_or_default();
        // Only a mapping whose function runs as the denied role can be the reader.
        let role = d.caller_iam.as_deref().and_then(arn::role_name);
        let readers: Vec<&String> = functions
            .iter()
            .filter(|f| match (src.and_then(|s| s.function(f)), role) {
                (Some(c), Some(r)) => c.role.as_deref().and_then(arn::role_name) == Some(r),
                _ => true,
            })
            .collect();
        function = match readers.as_slice() {
            [one] => arn::function_name(one),
            _ => None,
        };
        notes.push(match &function {
            Some(f) => format!(
                "The caller is Lambda's poller for the event source mapping of {f} on {value}: it reads the queue with the function's execution role."
            ),
            None => format!(
                "The caller is Lambda's poller for an event source mapping on {value}: it reads the queue with the function's execution role (import `aws lambda list-event-source-mappings` to name the function)."
            ),
        });
    }
    Some(Via { notes, function })
}
