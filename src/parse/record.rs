//! Record shapes: CloudTrail events (plain, EventBridge `detail`, lookup-events `CloudTrailEvent`),
//! CloudWatch Logs events (`filter-log-events`, subscription `logEvents`, `aws logs tail
//! --format none`), Lambda JSON log records, and text log events.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{Denial, ParseError, Parser, parse_time};
use crate::ingest::SourceKind;
use crate::ingest::text::starts_with_timestamp;
use crate::parse::message::Family;

mod lenient;
use crate::policy::arn;
pub(crate) use lenient::{Lenient, Obj};

/// `userIdentity.sessionContext.sessionIssuer`: the role or user behind a session, with the path
/// that the session ARN drops.
#[derive(Debug, Default, Deserialize)]
struct Issuer<'a> {
    #[serde(borrow, default)]
    arn: Lenient<'a>,
    #[serde(borrow, default, rename = "accountId")]
    account_id: Lenient<'a>,
}

/// An entry of a data event's `resources`: what it touched and whose it is.
#[derive(Debug, Default, Deserialize)]
struct Touched<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Lenient<'a>,
    #[serde(borrow, default, rename = "accountId")]
    account_id: Lenient<'a>,
}

/// `userIdentity.sessionContext`; only the issuer is read.
#[derive(Debug, Default, Deserialize)]
struct SessionContext<'a> {
    #[serde(borrow, default, rename = "sessionIssuer")]
    session_issuer: Obj<Issuer<'a>>,
}

/// CloudTrail's `userIdentity`: who made the call. Its `type` tells an AWS service (`AWSService`,
/// named by `invokedBy`) and an unsigned request (`Anonymous`) from an IAM identity.
#[derive(Debug, Default, Deserialize)]
struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Lenient<'a>,
    #[serde(borrow, default)]
    arn: Lenient<'a>,
    #[serde(borrow, default, rename = "accountId")]
    account_id: Lenient<'a>,
    #[serde(borrow, default, rename = "invokedBy")]
    invoked_by: Lenient<'a>,
    #[serde(borrow, default, rename = "sessionContext")]
    session_context: Obj<SessionContext<'a>>,
}

/// Every field of every JSON record shape we read; absent ones stay empty.
#[derive(Debug, Default, Deserialize)]
struct JsonRecord<'a> {
    // CloudTrail
    #[serde(borrow, default, rename = "eventVersion")]
    event_version: Lenient<'a>,
    #[serde(borrow, default, rename = "eventTime")]
    event_time: Lenient<'a>,
    #[serde(borrow, default, rename = "eventSource")]
    event_source: Lenient<'a>,
    #[serde(borrow, default, rename = "eventName")]
    event_name: Lenient<'a>,
    #[serde(borrow, default, rename = "awsRegion")]
    aws_region: Lenient<'a>,
    #[serde(borrow, default, rename = "errorCode")]
    error_code: Lenient<'a>,
    #[serde(borrow, default, rename = "errorMessage")]
    error_message: Lenient<'a>,
    /// An API Gateway access log's `$context.integrationErrorMessage` (JSON format).
    #[serde(borrow, default, rename = "integrationErrorMessage")]
    integration_error: Lenient<'a>,
    #[serde(borrow, default, rename = "eventID")]
    event_id: Lenient<'a>,
    #[serde(borrow, default, rename = "recipientAccountId")]
    recipient_account_id: Lenient<'a>,
    #[serde(borrow, default, rename = "userAgent")]
    user_agent: Lenient<'a>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    source_ip: Lenient<'a>,
    #[serde(borrow, default, rename = "vpcEndpointId")]
    vpc_endpoint_id: Lenient<'a>,
    #[serde(borrow, default, rename = "userIdentity")]
    user_identity: Obj<UserIdentity<'a>>,
    /// Kept raw: it is parsed only once the record is known to be a denial.
    #[serde(borrow, default, rename = "requestParameters")]
    request_parameters: Option<&'a RawValue>,
    /// Data events list the resources they touched with their owners' accounts.
    #[serde(borrow, default)]
    resources: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "@timestamp")]
    at_timestamp: Lenient<'a>,
    // EventBridge envelope and lookup-events
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "CloudTrailEvent")]
    cloudtrail_event: Lenient<'a>,
    // CloudWatch Logs events and Lambda JSON logs
    #[serde(borrow, default)]
    message: Lenient<'a>,
    /// A log event's time: epoch milliseconds (CloudWatch Logs) or RFC 3339 (Lambda JSON logs).
    #[serde(borrow, default)]
    timestamp: Lenient<'a>,
    #[serde(borrow, default, rename = "eventId")]
    log_event_id: Lenient<'a>,
    /// A subscription payload's `logEvents[].id`.
    #[serde(borrow, default)]
    id: Lenient<'a>,
    #[serde(borrow, default, rename = "logStreamName")]
    log_stream_name: Lenient<'a>,
    #[serde(borrow, default, rename = "errorType")]
    error_type: Lenient<'a>,
    #[serde(borrow, default)]
    time: Lenient<'a>,
    /// A Lambda telemetry record's `type` (`platform.start`...): never a denial.
    #[serde(borrow, default, rename = "type")]
    kind: Lenient<'a>,
    // An event source mapping (`list-event-source-mappings`)
    #[serde(borrow, default, rename = "UUID")]
    mapping_uuid: Lenient<'a>,
    #[serde(borrow, default, rename = "EventSourceArn")]
    mapping_source: Lenient<'a>,
    /// A self-managed Apache Kafka mapping's cluster (it has no `EventSourceArn`).
    #[serde(borrow, default, rename = "SelfManagedEventSource")]
    self_managed_source: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "FunctionArn")]
    mapping_function: Lenient<'a>,
    #[serde(borrow, default, rename = "LastProcessingResult")]
    last_processing_result: Lenient<'a>,
    #[serde(borrow, default, rename = "StateTransitionReason")]
    state_transition_reason: Lenient<'a>,
    #[serde(borrow, default, rename = "LastModified")]
    last_modified: Lenient<'a>,
    // A finding as whydenied writes it (`replay --format json > out` inside a replayed folder)
    #[serde(borrow, default)]
    policy_state: Lenient<'a>,
    #[serde(borrow, default)]
    fix: Option<&'a RawValue>,
}

impl JsonRecord<'_> {
    /// CloudTrail events carry `eventName` with `eventSource` or `eventVersion`; a CloudWatch or
    /// Lambda JSON record has neither pair, and an EventBridge envelope holds the event in
    /// `detail`.
    fn is_cloudtrail(&self) -> bool {
        self.event_name.get().is_some()
            && (self.event_source.get().is_some() || self.event_version.get().is_some())
    }
}

/// How many wrappers deep a record is unwrapped (`detail`, `CloudTrailEvent`): real exports nest
/// once or twice, and the bound keeps a crafted chain from recursing at will.
const MAX_NESTING: u8 = 3;

/// Entry point for one JSON record.
///
/// Most records are not denials, so the work goes from cheap to dear: a substring search for
/// `errorCode` first; without it a CloudTrail record is done (an IAM or Cognito one may still be
/// a change worth remembering), and any other must hold a phrase of the message grammar before
/// any JSON is parsed.
pub(super) fn json(p: &Parser<'_>, bytes: &[u8]) -> Result<super::Parsed, ParseError> {
    use super::Parsed;
    // Cheap skip: no error field and no denial wording means nothing to do.
    // `errorCode` without quotes also finds the escaped key inside a lookup-events string.
    let has_error = p.error_code.find(bytes).is_some();
    if !has_error {
        // A CloudTrail event without an error is no denial, whatever its parameters say; a
        // successful IAM call may be a role change worth remembering.
        if let Some(i) = p.event_source.find(bytes) {
            let value = bytes.get(i + 13..).unwrap_or_default();
            let value = value
                .iter()
                .position(|b| !matches!(b, b':' | b' ' | b'"'))
                .and_then(|k| value.get(k..))
                .unwrap_or_default();
            use super::change::Service;
            let service = [
                (&b"iam.amazonaws.com"[..], Service::Iam),
                (b"cognito-idp.amazonaws.com", Service::Cognito),
                (b"dynamodb.amazonaws.com", Service::Dynamodb),
                (b"kms.amazonaws.com", Service::Kms),
            ]
            .into_iter()
            .find_map(|(name, s)| value.starts_with(name).then_some(s));
            return Ok(service
                .and_then(|s| super::change::change(bytes, s))
                .map_or(Parsed::Nothing, Parsed::Change));
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok(Parsed::Nothing);
        };
        if !p.grammar.may_match(text) {
            return Ok(Parsed::Nothing);
        }
    }
    Ok(json_value(p, bytes, 0)?.map_or(Parsed::Nothing, |d| Parsed::Denial(Box::new(d))))
}

/// Reads one record by its shape: CloudTrail, then its wrappers (EventBridge `detail`, a
/// lookup-events `CloudTrailEvent` string) up to [`MAX_NESTING`] deep, Lambda telemetry, an event
/// source mapping, a CloudWatch Logs event (whose message is a log line of its own), a Lambda
/// JSON log record. An `errorCode` in none of these shapes is reported, not silently dropped.
fn json_value(p: &Parser<'_>, bytes: &[u8], depth: u8) -> Result<Option<Denial>, ParseError> {
    let rec: JsonRecord<'_> = serde_json::from_slice(bytes)?;
    if rec.is_cloudtrail() {
        return Ok(cloudtrail(p, &rec, bytes));
    }
    if depth < MAX_NESTING {
        if let Some(detail) = rec.detail {
            return json_value(p, detail.get().as_bytes(), depth + 1);
        }
        if let Some(inner) = rec.cloudtrail_event.get() {
            return json_value(p, inner.as_bytes(), depth + 1);
        }
    }
    if rec.kind.get().is_some_and(|k| k.starts_with("platform.")) {
        return Ok(None);
    }
    // whydenied's own output read back: its `message` is a denial already counted.
    if rec.policy_state.get().is_some() && rec.fix.is_some() {
        return Ok(None);
    }
    if rec.mapping_uuid.get().is_some()
        && (rec.mapping_source.get().is_some() || rec.self_managed_source.is_some())
    {
        return Ok(mapping(p, &rec, bytes));
    }
    // A CloudWatch Logs event: its message is a log line of its own.
    if let Some(msg) = rec.message.get()
        && (rec.log_stream_name.get().is_some()
            || rec.log_event_id.get().is_some()
            || rec.id.get().is_some()
            || rec
                .timestamp
                .get()
                .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit())))
    {
        let mut d = text(p, msg, SourceKind::CloudWatch, rec.timestamp.get());
        if let Some(d) = d.as_mut() {
            d.log_event_id = rec.log_event_id.owned().or_else(|| rec.id.owned());
        }
        return Ok(d);
    }
    // A Lambda JSON log record (`level` or `log_level`): the error text is in errorMessage or
    // message.
    let msg = rec
        .error_message
        .get()
        .or_else(|| rec.message.get())
        .or_else(|| rec.integration_error.get().filter(|m| *m != "-"));
    if let Some(msg) = msg {
        let mut d = match p.grammar.parse(msg) {
            Some(m) => p.denial_from_message(m, SourceKind::LambdaText),
            None => match rec.error_type.get() {
                Some(t) if is_denied_code(t) => {
                    let m = bare_message(p, msg, t);
                    p.denial_from_message(m, SourceKind::LambdaText)
                }
                _ => return Ok(None),
            },
        };
        if d.error_code.is_none() {
            d.error_code = rec.error_type.owned();
        }
        d.time = rec.timestamp.get().or(rec.time.get()).and_then(parse_time);
        p.resolve_caller(&mut d, Some(true));
        p.classify(&mut d);
        return Ok(Some(d));
    }
    if rec.error_code.get().is_some() {
        // An errorCode without eventName: not CloudTrail as we know it, but say so.
        return Err(ParseError::UnknownShape(keys_of(bytes)));
    }
    Ok(None)
}

/// An event source mapping whose own state reports a permission problem: Lambda checked the
/// execution role while polling, and wrote what failed in `LastProcessingResult` or
/// `StateTransitionReason`. Only wordings the integration catalog knows count.
fn mapping(p: &Parser<'_>, rec: &JsonRecord<'_>, bytes: &[u8]) -> Option<Denial> {
    let text = [&rec.last_processing_result, &rec.state_transition_reason]
        .into_iter()
        .filter_map(|f| f.get())
        .find(|t| p.grammar.parse(t).is_some_and(|m| m.integration.is_some()))?;
    let mut m = p.grammar.parse(text)?;
    // Amazon MQ, Amazon MSK and self-managed Kafka mappings share their state texts: the kind
    // of source decides which integration the text is.
    let kind = match rec.mapping_source.get().and_then(arn::Arn::parse) {
        Some(a) => Some(a.service.to_string()),
        None => rec
            .self_managed_source
            .is_some()
            .then(|| "self-managed-kafka".to_string()),
    };
    if let Some(kind) = kind {
        let fits = |id: &str| {
            p.rules.integration(id).is_some_and(|i| {
                i.matching.sources.is_empty() || i.matching.sources.contains(&kind)
            })
        };
        if m.integration.as_deref().is_some_and(|id| !fits(id)) {
            m.integration = p
                .grammar
                .integrations_matching(text)
                .into_iter()
                .find(|id| fits(id))
                .map(str::to_string);
        }
    }
    let mut d = p.denial_from_message(m, SourceKind::Mapping);
    d.request.event_source_arn = rec.mapping_source.owned();
    d.request.function_arn = rec.mapping_function.owned();
    d.request.function_name = rec.mapping_function.get().and_then(arn::function_name);
    d.function = d.request.function_name.clone();
    d.request.params = serde_json::from_slice(bytes).unwrap_or_default();
    let source = rec.mapping_function.get().and_then(arn::Arn::parse);
    d.region = source
        .map(|a| a.region.to_string())
        .filter(|r| !r.is_empty());
    d.account = source
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty());
    d.time = rec.last_modified.get().and_then(|t| {
        // The CLI prints LastModified as epoch seconds with a fraction, or as a timestamp.
        t.parse::<f64>()
            .ok()
            .and_then(|secs| jiff::Timestamp::from_millisecond((secs * 1000.0) as i64).ok())
            .or_else(|| parse_time(t))
    });
    // The same state of the same mapping, exported again, is the same evidence.
    d.event_key = Some(format!(
        "mapping:{}|{:016x}",
        rec.mapping_uuid.get().unwrap_or_default(),
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    ));
    p.classify(&mut d);
    Some(d)
}

/// The first keys of an object, for the error that says what an unknown shape looked like.
fn keys_of(bytes: &[u8]) -> String {
    let map: Result<std::collections::BTreeMap<&str, IgnoredAny>, _> =
        serde_json::from_slice(bytes);
    match map {
        Ok(m) => m.keys().take(8).copied().collect::<Vec<_>>().join(", "),
        Err(_) => "?".to_string(),
    }
}

/// Error codes that mean access was denied: `AccessDenied`, `AccessDeniedException`,
/// `Client.UnauthorizedOperation`, `UnauthorizedOperation`, `KMSAccessDeniedException`...
pub(crate) fn is_denied_code(code: &str) -> bool {
    let l = code.to_ascii_lowercase();
    l.contains("accessdenied")
        || l.contains("unauthorized")
        || l == "authorizationerror"
        || l == "authorizationerrorexception"
}

/// The message of a record whose code says denied but whose text the grammar does not read (or
/// is empty): a `Bare` message with the code kept, so the denial still counts; the code stands
/// in for an empty text.
fn bare_message(p: &Parser<'_>, msg: &str, code: &str) -> super::Message {
    let text = if msg.trim().is_empty() { code } else { msg };
    let mut m = p
        .grammar
        .parse(text)
        .filter(|m| m.family == Family::Bare)
        .unwrap_or_else(|| super::Message {
            family: Family::Bare,
            principal: None,
            action: None,
            more_actions: Vec::new(),
            resource: None,
            reason: super::Reason::Unstated,
            via: None,
            policy_arn: None,
            authorization_id: None,
            encoded: false,
            truncated: text.ends_with("..."),
            error_code: None,
            operation: None,
            service: None,
            event_row: false,
            integration: None,
            captures: Vec::new(),
            text: super::message::fold_ws(text),
        });
    m.error_code = Some(code.to_string());
    m
}

/// A CloudTrail event with an error, as a denial. A denied code counts with any message; other
/// codes count only with a permission error the grammar or the catalog knows. The structured
/// fields (identity, request parameters, resources, region, account) complete what the message
/// says; the caller comes from the identity, since the message may be redacted.
fn cloudtrail(p: &Parser<'_>, rec: &JsonRecord<'_>, _bytes: &[u8]) -> Option<Denial> {
    let code = rec.error_code.get();
    let msg = rec.error_message.get().unwrap_or_default();
    let denied = code.is_some_and(is_denied_code);
    let parsed = if code.is_some() && !msg.is_empty() {
        p.grammar.parse(msg)
    } else {
        None
    };
    // Other error codes count only when the message is a permission error we know
    // (InvalidParameterValueException for Lambda setup, SNS's AuthorizationError).
    let m = match (denied, parsed) {
        (_, Some(m)) if m.family != Family::Bare => m,
        // A wording of the integration catalog is a permission error whatever the code that
        // carries it (Cognito wraps a trigger's AccessDeniedException in its own exceptions).
        (_, Some(m)) if m.integration.is_some() => m,
        (true, Some(m)) => m,
        (true, None) => bare_message(p, msg, code.unwrap_or_default()),
        (false, _) => return None,
    };
    let mut d = p.denial_from_message(m, SourceKind::CloudTrail);
    d.error_code = code.map(str::to_string);
    d.event_id = rec.event_id.owned();
    if let Some(id) = rec.event_id.get() {
        // eventID is unique per event, but test fixtures and hand-made exports reuse ids; the
        // event's time, name, source address, agent and message make the identity certain while
        // the same event delivered twice (S3 file and EventBridge) still matches itself.
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [
            rec.event_time.get(),
            rec.event_name.get(),
            rec.source_ip.get(),
            rec.user_agent.get(),
            Some(msg),
        ] {
            h.update(part.unwrap_or_default().as_bytes());
            h.update(b"\x1f");
        }
        d.event_key = Some(format!("{id}|{:016x}", h.digest()));
    }
    d.event_name = rec.event_name.owned();
    d.event_source = rec.event_source.owned();
    d.time = rec
        .event_time
        .get()
        .or(rec.at_timestamp.get())
        .and_then(parse_time);
    d.region = rec.aws_region.owned();
    d.request.vpc_endpoint = rec.vpc_endpoint_id.owned();
    d.source_ip = rec
        .source_ip
        .owned()
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    let ui = rec.user_identity.0.as_ref();
    let issuer = ui
        .and_then(|u| u.session_context.0.as_ref())
        .and_then(|s| s.session_issuer.0.as_ref());
    d.account = rec
        .recipient_account_id
        .owned()
        .or_else(|| ui.and_then(|u| u.account_id.owned()));
    // The caller: the structured identity beats the message (which may be redacted).
    if let Some(u) = ui {
        if let Some(a) = u.arn.get() {
            d.caller = Some(a.to_string());
        } else if u.kind.get() == Some("AWSService") {
            d.caller = u.invoked_by.owned();
        } else if u.account_id.get() == Some("ANONYMOUS_PRINCIPAL")
            || u.kind
                .get()
                .is_some_and(|k| k.eq_ignore_ascii_case("anonymous"))
        {
            // An unsigned request (S3 writes the account as ANONYMOUS_PRINCIPAL).
            d.caller = Some("anonymous".to_string());
        }
        d.caller_iam = issuer
            .and_then(|i| i.arn.owned())
            .filter(|a| a.contains(":role/") || a.contains(":user/"));
        if d.account.is_none() {
            d.account = issuer.and_then(|i| i.account_id.owned());
        }
    }
    let from_lambda = rec
        .user_agent
        .get()
        .is_some_and(|ua| ua.contains("AWS_Lambda") || ua.contains("exec-env/AWS_Lambda"));
    p.resolve_caller(&mut d, Some(from_lambda));
    if let Some(raw) = rec.request_parameters {
        let vpce = d.request.vpc_endpoint.take();
        d.request = super::request::request(raw, d.region.as_deref(), d.account.as_deref());
        d.request.vpc_endpoint = vpce;
    }
    // A service calling with the caller's credentials (an AWSService caller is that service).
    if let Some(u) = ui.filter(|u| u.arn.get().is_some()) {
        d.request.invoked_by = u.invoked_by.owned();
    }
    if d.function.is_none() {
        d.function = d.request.function_name.clone();
    }
    // Data events list the resources with their owners: a bucket in another account makes the
    // call cross-account.
    if let Some(raw) = rec.resources
        && let Ok(list) = serde_json::from_str::<Vec<Obj<Touched<'_>>>>(raw.get())
    {
        let list: Vec<&Touched<'_>> = list.iter().filter_map(|r| r.0.as_ref()).collect();
        d.request.resource_account = list
            .iter()
            .find(|r| r.kind.get() == Some("AWS::S3::Bucket"))
            .and_then(|r| r.account_id.owned())
            .or_else(|| list.iter().find_map(|r| r.account_id.owned()));
    }
    // An action the service reference does not know (a placeholder such as `iam:Action`, a
    // redaction) is checked against the API the record names.
    if let (Some(a), Some(src), Some(name)) = (
        d.action.clone(),
        rec.event_source.get(),
        rec.event_name.get(),
    ) && !a.contains('*')
        && !p.rules.is_known_action(&a)
        && let Some(real) = p.rules.actions_for_event(src, name).into_iter().next()
        && p.rules.is_known_action(&real)
    {
        d.remarks.push(format!(
            "The message names {a}, which is no IAM action; the call was {name}, so the action is {real}."
        ));
        d.actions = vec![real.clone()];
        d.action = Some(real);
    }
    // The message's principal and the record's caller should be of one account.
    if let (Some(mp), Some(caller)) = (d.message.principal.as_deref(), d.caller.as_deref())
        && let (Some(a), Some(b)) = (arn::Principal::parse(mp), arn::Principal::parse(caller))
        && !a.account.is_empty()
        && !b.account.is_empty()
        && a.account != b.account
    {
        d.remarks.push(format!(
            "The message names a principal of account {}, but the record's caller is of account {}: the message may be about another hop of the request.",
            a.account, b.account
        ));
    }
    // Where the message names no action, the event does.
    if d.actions.is_empty()
        && let (Some(src), Some(name)) = (rec.event_source.get(), rec.event_name.get())
    {
        let acts = p.rules.actions_for_event(src, name);
        d.actions = acts.into_iter().take(1).collect();
        d.action = d.actions.first().cloned();
    }
    if d.resource.is_none() {
        d.resource = d.request.resource_arn.clone();
    }
    // A Lambda call that passes a role (CreateFunction, UpdateFunctionConfiguration) passes it
    // to Lambda: that is the request's `iam:PassedToService`, which CloudTrail does not record.
    if rec.event_source.get() == Some("lambda.amazonaws.com")
        && d.actions
            .iter()
            .any(|a| a.eq_ignore_ascii_case("iam:PassRole"))
        && !d
            .request
            .context
            .iter()
            .any(|(k, _)| k == "iam:PassedToService")
    {
        d.request
            .context
            .push(("iam:PassedToService".into(), "lambda.amazonaws.com".into()));
    }
    p.classify(&mut d);
    Some(d)
}

/// Parses one text log event. `time_hint` is the event time from a JSON wrapper (ms or RFC 3339).
///
/// The time is the line's own timestamp, else the wrapper's, else that of an embedded JSON
/// record, else the one inside a Python error line.
pub(super) fn text(
    p: &Parser<'_>,
    event: &str,
    source: SourceKind,
    time_hint: Option<&str>,
) -> Option<Denial> {
    if !p.grammar.may_match(event) {
        return None;
    }
    let (stamp, body, framed) = split_prefix(event);
    let source = if framed && source == SourceKind::LambdaText {
        SourceKind::CloudWatch
    } else {
        source
    };
    // An embedded JSON object (Lambda JSON logs, Node's `Invoke Error {...}`) holds the message
    // unescaped in errorMessage or message.
    let (text_to_parse, json_code, json_time): (Cow<'_, str>, Option<String>, Option<String>) =
        match body.find('{') {
            Some(i) => {
                match serde_json::from_str::<JsonRecord<'_>>(body.get(i..).unwrap_or_default()) {
                    Ok(rec) => match rec.error_message.get().or_else(|| rec.message.get()) {
                        Some(m) => (
                            Cow::Owned(format!("{} {m}", body.get(..i).unwrap_or_default())),
                            rec.error_type.owned(),
                            rec.timestamp.owned().or_else(|| rec.time.owned()),
                        ),
                        None => (Cow::Borrowed(body), rec.error_type.owned(), None),
                    },
                    Err(_) => (Cow::Borrowed(body), None, None),
                }
            }
            None => (Cow::Borrowed(body), None, None),
        };
    let m = p.grammar.parse(&text_to_parse)?;
    // In free text an error code alone (`AccessDenied` in a sentence or a table) is not a
    // denial: it needs an SDK wrapper, an error type, or one of AWS's own phrases.
    if m.family == Family::Bare
        && m.error_code.is_none()
        && json_code.is_none()
        && !p.grammar.is_bare_phrase(&m.text)
    {
        return None;
    }
    let mut d = p.denial_from_message(m, source);
    if d.error_code.is_none() {
        d.error_code = json_code;
    }
    d.time = stamp
        .and_then(parse_time)
        .or_else(|| time_hint.and_then(parse_time))
        .or_else(|| json_time.as_deref().and_then(parse_time))
        .or_else(|| inner_time(body));
    // A function's own log: the session in its messages is the function.
    p.resolve_caller(&mut d, Some(true));
    p.classify(&mut d);
    Some(d)
}

/// Splits `<timestamp> [<log stream>] <message>` (CloudWatch export, `aws logs tail`). Returns
/// the timestamp, the message, and whether a CloudWatch prefix was found.
fn split_prefix(event: &str) -> (Option<&str>, &str, bool) {
    if !starts_with_timestamp(event) {
        return (None, event, false);
    }
    // Node's text format is `<ts>\t<requestId>\tLEVEL\t...`: the timestamp is part of the
    // message there, not a CloudWatch prefix.
    let Some(sp) = event.find([' ', '\t']) else {
        return (Some(event), "", false);
    };
    let (ts, rest) = (
        event.get(..sp).unwrap_or_default(),
        event.get(sp + 1..).unwrap_or_default(),
    );
    if event.as_bytes().get(sp) == Some(&b'\t') {
        return (Some(ts), rest, false);
    }
    // `aws logs tail` detailed format: `<ts> <stream> <message>`; Lambda streams look like
    // `2026/09/01/[$LATEST]0cea...`.
    if let Some((stream, msg)) = rest.split_once(' ')
        && stream.len() > 11
        && stream.as_bytes().get(4) == Some(&b'/')
        && stream.contains('[')
    {
        return (Some(ts), msg, true);
    }
    (Some(ts), rest, true)
}

/// The time in `[ERROR]\t<ts>\t<requestId>\t...` (Python) lines.
fn inner_time(body: &str) -> Option<jiff::Timestamp> {
    body.split('\t')
        .take(3)
        .find(|f| starts_with_timestamp(f))
        .and_then(parse_time)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests;
