//! Successful configuration changes in CloudTrail that later diagnoses read: a change to an
//! IAM role (a denial just after one is often propagation), the Lambda triggers a Cognito
//! user pool was given (a trigger's failure names the trigger, `PreSignUp`, not the function)
//! and the KMS key a table or secret is encrypted with (see [`keyuse`]).
//!
//! Only records without an error are changes; everything here is cheap to reject, since it runs
//! on every successful IAM and Cognito call of a trail.

use std::sync::LazyLock;

use jiff::Timestamp;
use memchr::memmem::Finder;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::keyuse::{self, KeyUse};
use super::parse_time;

/// A successful change to an IAM role (`AttachRolePolicy`, `PutRolePolicy`, `CreateRole`,
/// `UpdateAssumeRolePolicy`...): a denial just after one is often propagation.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleChange {
    /// The account the change was made in (`recipientAccountId`).
    pub account: Option<String>,
    /// The role's name, as the request names it (`roleName`: no path, no ARN).
    pub role_name: String,
    /// The IAM call (`AttachRolePolicy`, `PutRolePolicy`...).
    pub event_name: String,
    /// When the change was made (`eventTime`).
    pub time: Option<Timestamp>,
    /// The CloudTrail `eventID`.
    pub event_id: Option<String>,
    /// The policy attached or put, when the request names it.
    pub detail: Option<String>,
}

/// The Lambda triggers a user pool has after a successful `CreateUserPool` or
/// `UpdateUserPool`. Cognito resets every setting an update leaves out, so an update without
/// `lambdaConfig` leaves the pool without triggers: the list is the whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPoolChange {
    /// The account the pool belongs to (`recipientAccountId`).
    pub account: Option<String>,
    /// The pool's region (`awsRegion`).
    pub region: Option<String>,
    /// The pool's id (`us-east-2_M3mbRs9Qx`), from the request, or the response for a creation.
    pub pool_id: String,
    /// (`lambdaConfig` key as CloudTrail writes it, `preSignUp`; function ARN).
    pub triggers: Vec<(String, String)>,
    /// When the change was made (`eventTime`).
    pub time: Option<Timestamp>,
    /// The CloudTrail `eventID`.
    pub event_id: Option<String>,
}

/// A change worth remembering.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An IAM call that changed what a role may do.
    Role(RoleChange),
    /// A user pool created or updated, with its whole trigger list.
    UserPool(UserPoolChange),
    /// A table or secret seen encrypted with a KMS key.
    KeyUse(KeyUse),
}

/// IAM events that change what a role may do.
const ROLE_CHANGES: [&str; 8] = [
    "AttachRolePolicy",
    "PutRolePolicy",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "DetachRolePolicy",
    "DeleteRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
];

/// Cognito events that set a user pool's triggers.
const POOL_CHANGES: [&str; 2] = ["CreateUserPool", "UpdateUserPool"];

/// The few fields of a CloudTrail record a change needs (also inside an EventBridge envelope).
#[derive(Debug, Default, Deserialize)]
struct ChangeRecord<'a> {
    #[serde(default, rename = "eventSource")]
    event_source: Option<&'a str>,
    #[serde(default, rename = "eventName")]
    event_name: Option<&'a str>,
    #[serde(borrow, default, rename = "errorCode")]
    error_code: Option<&'a RawValue>,
    #[serde(default, rename = "eventTime")]
    event_time: Option<&'a str>,
    #[serde(default, rename = "eventID")]
    event_id: Option<&'a str>,
    #[serde(default, rename = "recipientAccountId")]
    account: Option<&'a str>,
    #[serde(default, rename = "awsRegion")]
    region: Option<&'a str>,
    #[serde(default, rename = "requestParameters")]
    request: Option<Value>,
    #[serde(default, rename = "responseElements")]
    response: Option<Value>,
    #[serde(default)]
    resources: Option<Value>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
}

/// DynamoDB events whose response names the table's key.
const TABLE_CHANGES: [&str; 2] = ["CreateTable", "UpdateTable"];

/// The substrings [`change`] looks for before parsing, each searcher built once: building one
/// per record (what `memmem::find` does) cost more than the search itself.
struct Needles {
    roles: Vec<Finder<'static>>,
    pools: Vec<Finder<'static>>,
    /// A table's key is in its response...
    table_key: Finder<'static>,
    /// ...a KMS call's subject in its encryption context.
    kms_subjects: Vec<Finder<'static>>,
}

/// The service of a successful call that may be a change, as the record's `eventSource` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    Iam,
    Cognito,
    Dynamodb,
    Kms,
}

static NEEDLES: LazyLock<Needles> = LazyLock::new(|| {
    let all = |xs: &[&str]| {
        xs.iter()
            .map(|x| Finder::new(x.as_bytes()).into_owned())
            .collect()
    };
    Needles {
        roles: all(&ROLE_CHANGES),
        pools: all(&POOL_CHANGES),
        table_key: Finder::new(b"kMSMasterKeyArn").into_owned(),
        kms_subjects: all(&["aws:dynamodb:tableName", "SecretARN"]),
    }
});

/// A successful role, user-pool or key-use change of `service`, or None (cheap for everything
/// else: only the words a change of that service must hold are looked for, since KMS and
/// DynamoDB calls are among a trail's most frequent).
pub(super) fn change(bytes: &[u8], service: Service) -> Option<Change> {
    let n = &*NEEDLES;
    let any = |fs: &[Finder<'static>]| fs.iter().any(|f| f.find(bytes).is_some());
    let worth = match service {
        Service::Iam => any(&n.roles),
        Service::Cognito => any(&n.pools),
        Service::Dynamodb => n.table_key.find(bytes).is_some(),
        Service::Kms => any(&n.kms_subjects),
    };
    if !worth {
        return None;
    }
    let rec: ChangeRecord<'_> = serde_json::from_slice(bytes).ok()?;
    let rec = match rec.detail {
        Some(d) if rec.event_name.is_none() => serde_json::from_str(d.get()).ok()?,
        _ => rec,
    };
    if rec.error_code.is_some_and(|e| e.get() != "null") {
        return None;
    }
    let event = rec.event_name?;
    match rec.event_source? {
        "iam.amazonaws.com" if ROLE_CHANGES.contains(&event) => role_change(&rec, event),
        "cognito-idp.amazonaws.com" if POOL_CHANGES.contains(&event) => user_pool_change(&rec),
        "dynamodb.amazonaws.com" if TABLE_CHANGES.contains(&event) => {
            keyuse::from_table_change(rec.response.as_ref()?, rec.event_time, rec.event_id)
                .map(Change::KeyUse)
        }
        "kms.amazonaws.com" => keyuse::from_kms_call(
            rec.region,
            rec.account,
            rec.request.as_ref()?,
            rec.resources.as_ref(),
            rec.event_time,
            rec.event_id,
        )
        .map(Change::KeyUse),
        _ => None,
    }
}

fn role_change(rec: &ChangeRecord<'_>, event: &str) -> Option<Change> {
    let params = rec.request.as_ref()?;
    let role = params.get("roleName")?.as_str()?.to_string();
    let detail = params
        .get("policyArn")
        .or_else(|| params.get("policyName"))
        .or_else(|| params.get("permissionsBoundary"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(Change::Role(RoleChange {
        account: rec.account.map(str::to_string),
        role_name: role,
        event_name: event.to_string(),
        time: rec.event_time.and_then(parse_time),
        event_id: rec.event_id.map(str::to_string),
        detail,
    }))
}

/// An update names its pool in the request; a creation's id is only in the response.
fn user_pool_change(rec: &ChangeRecord<'_>) -> Option<Change> {
    let params = rec.request.as_ref()?;
    let pool_id = params
        .get("userPoolId")
        .or_else(|| rec.response.as_ref()?.get("userPool")?.get("id"))?
        .as_str()?
        .to_string();
    let mut triggers = Vec::new();
    if let Some(Value::Object(config)) = params.get("lambdaConfig") {
        for (name, v) in config {
            // Plain triggers are an ARN; the custom sender triggers are `{lambdaArn, ...}`.
            let arn = v.as_str().or_else(|| {
                v.get("lambdaArn")
                    .or_else(|| v.get("LambdaArn"))
                    .and_then(Value::as_str)
            });
            if let Some(arn) = arn.filter(|a| a.contains(":lambda:")) {
                triggers.push((name.clone(), arn.to_string()));
            }
        }
    }
    Some(Change::UserPool(UserPoolChange {
        account: rec.account.map(str::to_string),
        region: rec.region.map(str::to_string),
        pool_id,
        triggers,
        time: rec.event_time.and_then(parse_time),
        event_id: rec.event_id.map(str::to_string),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    #[test]
    fn an_update_gives_the_pool_its_whole_trigger_list() {
        let rec = br#"{"eventVersion":"1.08","eventSource":"cognito-idp.amazonaws.com","eventName":"UpdateUserPool","awsRegion":"us-east-2","recipientAccountId":"111122223333","eventTime":"2026-11-20T09:31:02Z","requestParameters":{"userPoolId":"us-east-2_M3mbRs9Qx","lambdaConfig":{"preSignUp":"arn:aws:lambda:us-east-2:111122223333:function:member-signup-v2","customEmailSender":{"lambdaVersion":"V1_0","lambdaArn":"arn:aws:lambda:us-east-2:111122223333:function:mailer"}}},"responseElements":null}"#;
        let Some(Change::UserPool(c)) = change(rec, Service::Cognito) else {
            panic!("a user pool change")
        };
        assert_eq!(c.pool_id, "us-east-2_M3mbRs9Qx");
        assert_eq!(c.triggers.len(), 2);
        assert!(
            c.triggers
                .iter()
                .any(|(k, v)| k == "preSignUp" && v.ends_with(":member-signup-v2"))
        );
        assert!(
            c.triggers
                .iter()
                .any(|(k, v)| k == "customEmailSender" && v.ends_with(":mailer"))
        );
        // An update that failed changed nothing.
        let failed = String::from_utf8_lossy(rec).replace(
            r#""eventTime""#,
            r#""errorCode":"InvalidParameterException","eventTime""#,
        );
        assert!(change(failed.as_bytes(), Service::Cognito).is_none());
    }

    /// Each service's change is looked for by its own words: a KMS call made for a DynamoDB
    /// table names the key, and the same record routed as another service is no change.
    #[test]
    fn a_key_use_is_found_by_its_service() {
        let kms = br#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"us-west-2","recipientAccountId":"111122223333","requestParameters":{"encryptionContext":{"aws:dynamodb:tableName":"Books","aws:dynamodb:subscriberId":"111122223333"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}"#;
        let Some(Change::KeyUse(k)) = change(kms, Service::Kms) else {
            panic!("a key use")
        };
        assert_eq!(
            k.resource,
            "arn:aws:dynamodb:us-west-2:111122223333:table/Books"
        );
        assert!(k.key.ends_with("key/1234abcd-12ab-34cd-56ef-1234567890ab"));
        for other in [Service::Iam, Service::Cognito, Service::Dynamodb] {
            assert!(change(kms, other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_role_change_is_read_as_before() {
        let rec = br#"{"eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","recipientAccountId":"111122223333","requestParameters":{"roleName":"app","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}"#;
        let Some(Change::Role(c)) = change(rec, Service::Iam) else {
            panic!("a role change")
        };
        assert_eq!(c.role_name, "app");
        assert_eq!(
            c.detail.as_deref(),
            Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
    }

    /// Shapes no API writes, truncated records and a non-Lambda ARN: no change, no panic.
    #[test]
    fn odd_user_pool_records_are_no_change_or_no_trigger() {
        let head = r#"{"eventSource":"cognito-idp.amazonaws.com","eventName":"UpdateUserPool","requestParameters":"#;
        for params in [
            r#"{"userPoolId":7,"lambdaConfig":{}}"#,
            r#"{"lambdaConfig":{"preSignUp":"arn:aws:lambda:us-east-1:1:function:f"}}"#,
            r#""HIDDEN_DUE_TO_SECURITY_REASONS""#,
        ] {
            assert!(
                change(format!("{head}{params}}}").as_bytes(), Service::Cognito).is_none(),
                "{params}"
            );
        }
        assert!(
            change(
                format!("{head}{{\"userPoolId\":\"p\",").as_bytes(),
                Service::Cognito
            )
            .is_none()
        );
        let odd = format!(
            "{head}{}}}",
            r#"{"userPoolId":"p","lambdaConfig":{"preSignUp":["x"],"postConfirmation":"arn:aws:sns:us-east-1:1:t","x":null}}"#
        );
        let Some(Change::UserPool(c)) = change(odd.as_bytes(), Service::Cognito) else {
            panic!("a user pool change without triggers")
        };
        assert!(c.triggers.is_empty());
    }
}
