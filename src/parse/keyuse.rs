//! Which KMS key encrypts which resource, as the logs show it.
//!
//! DynamoDB and Secrets Manager fail with a message that names no key ("KMS key access denied
//! error", "Access to KMS is not allowed"), while KMS's own record of the call they made for
//! the caller names the key and, in its encryption context, the table or secret. Remembering
//! that link lets the service's failure be diagnosed as what it is: `kms:Decrypt` on that key.
//!
//! The link comes from a table's creation or update (`sSEDescription.kMSMasterKeyArn` in the
//! response) and from any KMS call another service made with an encryption context naming
//! its resource, allowed or denied (the key is the record's `resources[]`, or `keyId`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Denial, parse_time};
use crate::policy::arn;

/// A resource and the KMS key that encrypts it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUse {
    /// The table's ARN, or the secret's ARN without its random suffix ([`arn::secret_base`]).
    pub resource: String,
    /// The key's ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
    pub key: String,
    /// When the logs showed it.
    pub time: Option<Timestamp>,
    /// The CloudTrail `eventID` it was read from.
    pub event_id: Option<String>,
}

/// The resource a KMS encryption context names, for the services whose own failures do not
/// name their key: DynamoDB (`aws:dynamodb:tableName` with the account in
/// `aws:dynamodb:subscriberId`) and Secrets Manager (`SecretARN`). `region` and `account` are
/// the KMS record's.
pub fn kms_subject(context: &Value, region: Option<&str>, account: Option<&str>) -> Option<String> {
    if let Some(table) = context
        .get("aws:dynamodb:tableName")
        .and_then(Value::as_str)
    {
        let owner = context
            .get("aws:dynamodb:subscriberId")
            .and_then(Value::as_str)
            .or(account)?;
        return arn::table_arn(table, region?, owner);
    }
    let secret = context.get("SecretARN").and_then(Value::as_str)?;
    arn::secret_base(secret, region?, account?)
}

/// The key of a KMS record: `resources[]`'s key ARN, else a request's `keyId` when it is one.
fn key_arn(resources: Option<&Value>, params: &Value) -> Option<String> {
    let listed = resources
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("ARN").and_then(Value::as_str))
        .find(|a| is_key_arn(a));
    listed
        .or_else(|| {
            params
                .get("keyId")
                .and_then(Value::as_str)
                .filter(|k| is_key_arn(k))
        })
        .map(str::to_string)
}

fn is_key_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":kms:") && s.contains(":key/")
}

/// A successful KMS call made by another service for one of its resources (record fields as
/// CloudTrail writes them).
pub(super) fn from_kms_call(
    region: Option<&str>,
    account: Option<&str>,
    params: &Value,
    resources: Option<&Value>,
    time: Option<&str>,
    event_id: Option<&str>,
) -> Option<KeyUse> {
    let subject = kms_subject(params.get("encryptionContext")?, region, account)?;
    Some(KeyUse {
        resource: subject,
        key: key_arn(resources, params)?,
        time: time.and_then(parse_time),
        event_id: event_id.map(str::to_string),
    })
}

/// A table created or updated with a customer managed key: the response's
/// `tableDescription.sSEDescription.kMSMasterKeyArn`.
pub(super) fn from_table_change(
    response: &Value,
    time: Option<&str>,
    event_id: Option<&str>,
) -> Option<KeyUse> {
    let table = response.get("tableDescription")?;
    let key = table
        .get("sSEDescription")?
        .get("kMSMasterKeyArn")?
        .as_str()
        .filter(|k| is_key_arn(k))?;
    Some(KeyUse {
        resource: table.get("tableArn")?.as_str()?.to_string(),
        key: key.to_string(),
        time: time.and_then(parse_time),
        event_id: event_id.map(str::to_string),
    })
}

/// A denied KMS call another service made for the caller still names the key it wanted.
pub(super) fn from_denial(d: &Denial) -> Option<KeyUse> {
    d.request.invoked_by.as_ref()?;
    let subject = kms_subject(
        d.request.params.get("encryptionContext")?,
        d.region.as_deref(),
        d.account.as_deref(),
    )?;
    let key = d
        .resource
        .clone()
        .filter(|r| is_key_arn(r))
        .or_else(|| key_arn(None, &d.request.params))?;
    Some(KeyUse {
        resource: subject,
        key,
        time: d.time,
        event_id: d.event_id.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    /// Encryption contexts as the AWS KMS developer guide shows them for DynamoDB
    /// (services-dynamodb.md) and Secrets Manager (services-secrets-manager.md).
    #[test]
    fn contexts_name_tables_and_secrets() {
        let ddb = serde_json::json!({"aws:dynamodb:tableName": "Books", "aws:dynamodb:subscriberId": "111122223333"});
        assert_eq!(
            kms_subject(&ddb, Some("us-west-2"), None).as_deref(),
            Some("arn:aws:dynamodb:us-west-2:111122223333:table/Books")
        );
        let sm = serde_json::json!({"SecretARN": "arn:aws:secretsmanager:us-west-2:111122223333:secret:test-secret-a1b2c3", "SecretVersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"});
        assert_eq!(
            kms_subject(&sm, Some("us-west-2"), Some("111122223333")).as_deref(),
            Some("arn:aws:secretsmanager:us-west-2:111122223333:secret:test-secret")
        );
        let s3 = serde_json::json!({"aws:s3:arn": "arn:aws:s3:::b/k"});
        assert_eq!(kms_subject(&s3, Some("us-west-2"), Some("1")), None);
    }

    #[test]
    fn a_table_update_names_its_key() {
        let resp = serde_json::json!({"tableDescription": {"tableArn": "arn:aws:dynamodb:eu-west-1:111122223333:table/T",
            "sSEDescription": {"status": "UPDATING", "sSEType": "KMS", "kMSMasterKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/k"}}});
        let u = from_table_change(&resp, Some("2026-11-22T21:41:07Z"), None).unwrap();
        assert_eq!(
            u.resource,
            "arn:aws:dynamodb:eu-west-1:111122223333:table/T"
        );
        assert_eq!(u.key, "arn:aws:kms:eu-west-1:111122223333:key/k");
        // Back to an AWS owned key: no key to remember.
        let owned = serde_json::json!({"tableDescription": {"tableArn": "arn:aws:dynamodb:eu-west-1:1:table/T"}});
        assert!(from_table_change(&owned, None, None).is_none());
    }
}
