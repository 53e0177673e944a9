//! Parse: records and log events → typed [`Denial`]s.
//!
//! Input: the [`crate::ingest::Item`]s of a file (JSON record bytes or text events). Output: for
//! each item, `Ok(Some(Denial))` when it records an access denial or a Lambda permission error,
//! `Ok(None)` when it does not, or a [`ParseError`] naming what was wrong with it.
//!
//! Invariants:
//! - Cheap first: a record is looked at only if a byte search finds `"errorCode"` or the routing
//!   patterns match; only then is it deserialised, borrowing from the input.
//! - A CloudTrail record whose `errorCode` says access denied always yields a denial, even when
//!   its message is missing or unreadable (the action then comes from the event name).
//! - Structured fields win over message text: CloudTrail's `userIdentity` names the caller even
//!   where the message's ARN is redacted or scrambled.

mod change;
mod gateway;
mod keyuse;
pub mod message;
mod record;
mod request;

use std::borrow::Cow;

use jiff::Timestamp;

use crate::policy::arn;
pub use change::{Change, RoleChange, UserPoolChange};
pub use gateway::GatewayRequests;
pub use keyuse::{KeyUse, kms_subject};

/// The KMS key a denied KMS call names for the table or secret another service made it for.
pub fn key_use_of(d: &Denial) -> Option<KeyUse> {
    keyuse::from_denial(d)
}
pub use message::{Family, Grammar, LambdaError, Message, PolicyKind, Reason};

use crate::ingest::SourceKind;
use crate::rules::Rules;

/// What was wrong with one record.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON, or JSON of an unexpected shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON that is none of the record shapes we know.
    #[error("a JSON object that is not a CloudTrail event or a log event (keys: {0})")]
    UnknownShape(String),
}

/// Request details of a control-plane call, from CloudTrail `requestParameters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// The service that made the call with the caller's credentials (CloudTrail's
    /// `invokedBy`: SQS asking KMS to decrypt for a queue's reader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
    /// The function's name (a name, partial ARN or ARN in the request, reduced to the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// The function's ARN when the request gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    /// An event source mapping's source (queue, stream, cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// The execution role in CreateFunction / UpdateFunctionConfiguration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// S3 bucket and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The S3 object key (`key` request parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Dead-letter or destination target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
    /// Functions and queues named as S3 notification destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda_targets: Vec<String>,
    /// The queues named as S3 notification destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_targets: Vec<String>,
    /// A KMS key named in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// The resource ARN the request is about, where it can be built from the parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// ELB target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    /// An API Gateway REST or HTTP API id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// An HTTP API's route key (`POST /orders`, `$default`), from its access log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_key: Option<String>,
    /// The source ARN a service principal's permission must name, when the log shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    /// The account that owns the resource, when the record says (CloudTrail `resources[]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_account: Option<String>,
    /// Service condition keys the request parameters reveal (`ec2:InstanceType`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<(String, String)>,
    /// The VPC endpoint the request went through (CloudTrail `vpcEndpointId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint: Option<String>,
    /// The request parameters as logged, for the integration catalog's templates.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
}

/// One observed denial with all the context its source gives.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Denial {
    /// The parsed message (family, reason, suffixes).
    pub message: Message,
    /// The denied action, canonical case; for several (a stream's list), the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Every action the message names, canonical case (includes `action`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// The resource, from the message or the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Where the denial was read: CloudTrail, CloudWatch Logs, Lambda text, a mapping's state.
    pub source: SourceKind,
    /// When the event happened, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// The account: CloudTrail's `recipientAccountId`, else the caller's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region the call went to (`awsRegion`), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The identity that made the call, as logged (a session ARN for assumed roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The IAM role or user behind the caller (with its path when the log gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_iam: Option<String>,
    /// The Lambda function whose code or configuration met the denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// CloudTrail event identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// A key that identifies the event itself across files and deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_key: Option<String>,
    /// The API call that failed (CloudTrail `eventName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The service the call went to (CloudTrail `eventSource`, `sqs.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    /// The record's error code (CloudTrail `errorCode`, a log's `errorType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What the request's parameters name: function, role, event source, bucket, targets...
    pub request: Request,
    /// A CloudWatch Logs event id, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_event_id: Option<String>,
    /// The caller's source IP address, when the record gives one (not an AWS service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The integration of `rules/integrations.json` this denial is, when the catalog knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    /// What the parser noticed that the explanation should say (a placeholder action replaced
    /// by the API's, accounts that disagree).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<String>,
}

/// Parser state shared by all records: the grammar and the catalogs.
#[derive(Debug)]
pub struct Parser<'r> {
    grammar: Grammar,
    rules: &'r Rules,
    /// Substring searchers built once: every record is searched with them.
    error_code: memchr::memmem::Finder<'static>,
    event_source: memchr::memmem::Finder<'static>,
}

/// What one JSON record turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Neither a denial nor a change we track.
    Nothing,
    /// A denial, boxed: it is much larger than the other variants.
    Denial(Box<Denial>),
    /// A successful change to an IAM role, a user pool's triggers or a resource's KMS key.
    Change(Change),
}

impl<'r> Parser<'r> {
    /// Builds the parser.
    pub fn new(rules: &'r Rules) -> Result<Self, regex::Error> {
        Ok(Parser {
            grammar: Grammar::with_integrations(&rules.integrations)?,
            rules,
            error_code: memchr::memmem::Finder::new(b"errorCode").into_owned(),
            event_source: memchr::memmem::Finder::new(b"\"eventSource\"").into_owned(),
        })
    }

    /// The message grammar.
    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    /// Parses one JSON record (CloudTrail event, EventBridge envelope, lookup-events entry,
    /// CloudWatch Logs event, Lambda JSON log record).
    pub fn json(&self, bytes: &[u8]) -> Result<Option<Denial>, ParseError> {
        match record::json(self, bytes)? {
            Parsed::Denial(d) => Ok(Some(*d)),
            Parsed::Nothing | Parsed::Change(_) => Ok(None),
        }
    }

    /// Parses one JSON record into a denial, a role change, or nothing, looking at each record
    /// as few times as possible (the replay hot path).
    pub fn json_record(&self, bytes: &[u8]) -> Result<Parsed, ParseError> {
        record::json(self, bytes)
    }

    /// Parses one text log event (a line and its continuation lines).
    pub fn text(&self, text: &str, source: SourceKind) -> Option<Denial> {
        record::text(self, text, source, None)
    }

    /// Parses a bare message (no record around it), as given to `explain` or in tests.
    pub fn message(&self, text: &str) -> Option<Denial> {
        let m = self.grammar.parse(text)?;
        let mut d = self.denial_from_message(m, SourceKind::LambdaText);
        self.resolve_caller(&mut d, None);
        self.classify(&mut d);
        Some(d)
    }

    /// Builds a denial from a parsed message, filling the actions it implies.
    fn denial_from_message(&self, m: Message, source: SourceKind) -> Denial {
        let (actions, resource) = self.message_actions(&m);
        // A wrapper that names the function (Terraform's `creating Lambda Function (NAME)`).
        let function = m
            .captures
            .iter()
            .find(|(k, _)| k == "function")
            .and_then(|(_, v)| arn::function_name(v));
        Denial {
            action: actions.first().cloned(),
            actions,
            resource,
            source,
            time: None,
            account: None,
            region: None,
            caller: m.principal.clone(),
            caller_iam: None,
            function,
            event_id: None,
            event_key: None,
            event_name: None,
            event_source: None,
            error_code: m.error_code.clone(),
            request: Request::default(),
            log_event_id: None,
            source_ip: None,
            integration: None,
            remarks: Vec::new(),
            message: m,
        }
    }

    /// The actions and resource a message names, in canonical case.
    fn message_actions(&self, m: &Message) -> (Vec<String>, Option<String>) {
        let r = self.rules;
        let mut resource = m.resource.clone();
        let actions: Vec<String> = match &m.family {
            Family::Catalog => m
                .integration
                .as_deref()
                .and_then(|id| r.integration(id))
                .and_then(|i| i.action.clone())
                .or_else(|| self.operation_action(m))
                .into_iter()
                .collect(),
            Family::Authorization | Family::Bare => match &m.action {
                Some(a) => vec![r.canonical_action(a)],
                None => self.operation_action(m).into_iter().collect(),
            },
            Family::Lambda(e) => match e {
                LambdaError::RoleLacks { operation, service } => {
                    let prefix = r.prefix_for_service_word(service);
                    vec![r.canonical_action(&format!("{prefix}:{operation}"))]
                }
                LambdaError::CannotAccessStream { stream, operations } => {
                    let prefix = stream
                        .as_deref()
                        .and_then(arn::Arn::parse)
                        .map(|a| a.service.to_string())
                        .unwrap_or_else(|| "kinesis".to_string());
                    let mut v: Vec<String> = operations
                        .iter()
                        .map(|o| r.canonical_action(&format!("{prefix}:{o}")))
                        .collect();
                    if v.is_empty() {
                        v.push(r.canonical_action(&format!("{prefix}:GetRecords")));
                    }
                    v
                }
                LambdaError::TrustLambda => vec!["sts:AssumeRole".to_string()],
                LambdaError::S3Destination { queue: true } => vec!["sqs:SendMessage".to_string()],
                LambdaError::S3Destination { queue: false } | LambdaError::ApiGatewayInvoke => {
                    vec!["lambda:InvokeFunction".to_string()]
                }
                LambdaError::ElbInvoke { function_arn } => {
                    if resource.is_none() {
                        resource = function_arn.clone();
                    }
                    vec!["lambda:InvokeFunction".to_string()]
                }
                LambdaError::KmsEnvDenied | LambdaError::KmsDisabled => {
                    vec!["kms:Decrypt".to_string()]
                }
                LambdaError::KmsCreateGrant => vec!["kms:CreateGrant".to_string()],
            },
        };
        (actions, resource)
    }

    /// The action a wrapper's service and operation name (`An error occurred (AccessDenied) when
    /// calling the GetObject operation`), when the catalog knows it; with no service, the
    /// operation's name alone where it is unambiguous.
    fn operation_action(&self, m: &Message) -> Option<String> {
        let r = self.rules;
        let op = m.operation.as_deref()?;
        if m.event_row {
            let src = format!("{}.amazonaws.com", m.service.as_deref().unwrap_or_default());
            return r.actions_for_event(&src, op).into_iter().next();
        }
        if let Some(svc) = &m.service {
            let a = format!("{}:{op}", r.prefix_for_service_word(svc));
            if r.is_known_action(&a) {
                return Some(r.canonical_action(&a));
            }
        }
        r.action_for_operation(op)
    }

    /// Which integration of the catalog a denial is: by its wording (the grammar found it), else
    /// by the denied action (with the catalog's resource and caller conditions), else by its
    /// error code. A denial of a wording the catalog knows takes the catalog's action.
    fn classify(&self, d: &mut Denial) {
        let found = d.message.integration.clone().or_else(|| {
            self.rules
                .integrations
                .iter()
                .find(|i| {
                    let m = &i.matching;
                    let by_action = !m.actions.is_empty()
                        && d.action
                            .as_deref()
                            .is_some_and(|a| m.actions.iter().any(|x| x.eq_ignore_ascii_case(a)))
                        && m.resource_contains.as_deref().is_none_or(|want| {
                            d.resource.as_deref().is_some_and(|r| r.contains(want))
                        })
                        && (!m.service_caller
                            || d.caller.as_deref().is_some_and(is_service_principal));
                    let by_code = d
                        .error_code
                        .as_deref()
                        .is_some_and(|c| m.error_codes.iter().any(|x| x == c));
                    by_action || by_code
                })
                .map(|i| i.id.clone())
        });
        let Some(id) = found else { return };
        if let Some(i) = self.rules.integration(&id)
            && let Some(a) = &i.action
            && d.message.family != Family::Authorization
        {
            // The API named in the record is not what was denied (Secrets Manager's KMS call).
            d.action = Some(a.clone());
            d.actions = vec![a.clone()];
        }
        d.integration = Some(id);
    }

    /// Fills `caller_iam`, `account` and `function` from the caller ARN. `lambda_hint` says
    /// whether the source shows the call came from a Lambda function (its user agent, or a
    /// function's own log); None means "unknown, judge by the session name".
    fn resolve_caller(&self, d: &mut Denial, lambda_hint: Option<bool>) {
        let Some(caller) = d.caller.clone() else {
            return;
        };
        let Some(p) = arn::Principal::parse(&caller) else {
            return;
        };
        if d.caller_iam.is_none() {
            d.caller_iam = Some(p.iam_arn());
        }
        if d.account.is_none() && !p.account.is_empty() {
            d.account = Some(p.account.to_string());
        }
        // IAM Identity Center roles are people's, never a function's execution role.
        let sso = p.name.starts_with("AWSReservedSSO_");
        if d.function.is_none()
            && !sso
            && let Some(session) = p.session
        {
            let likely = arn::looks_like_function_session(session);
            let is_fn = match lambda_hint {
                Some(h) => h && likely,
                None => likely,
            };
            if is_fn {
                d.function = Some(session.to_string());
            }
        }
    }
}

/// Whether a principal is an AWS service's (`sns.amazonaws.com`, `logs.eu-west-1.amazonaws.com`).
pub fn is_service_principal(p: &str) -> bool {
    !p.starts_with("arn:")
        && (p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn"))
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Parses CloudTrail's and the logs' time formats: RFC 3339, `2024-06-02 20:16:32.000000000`
/// (UTC assumed), and epoch milliseconds.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        // Milliseconds for anything after 2001 in ms; seconds otherwise.
        return if n > 100_000_000_000 {
            Timestamp::from_millisecond(n).ok()
        } else {
            Timestamp::from_second(n).ok()
        };
    }
    let fixed: Cow<'_, str> = if s.len() > 10 && s.as_bytes().get(10) == Some(&b' ') {
        Cow::Owned(format!("{}T{}", s.get(..10)?, s.get(11..)?))
    } else {
        Cow::Borrowed(s)
    };
    if let Ok(t) = fixed.parse::<Timestamp>() {
        return Some(t);
    }
    let dt: jiff::civil::DateTime = fixed.trim_end_matches('Z').parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
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

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-20T10:04:11Z").unwrap().to_string(),
            "2026-11-20T10:04:11Z"
        );
        assert_eq!(
            parse_time("2024-06-02 20:16:32.000000000")
                .unwrap()
                .to_string(),
            "2024-06-02T20:16:32Z"
        );
        assert_eq!(
            parse_time("1560948335625").unwrap().to_string(),
            "2019-06-19T12:45:35.625Z"
        );
        assert_eq!(
            parse_time("2026-09-01T21:42:57.837000+00:00")
                .unwrap()
                .to_string(),
            "2026-09-01T21:42:57.837Z"
        );
        assert!(parse_time("yesterday").is_none());
    }
}
