//! Import: the JSON that AWS CLI commands print → typed facts for the store.
//!
//! Input: one parsed JSON document and the options of `whydenied import` (`--target`,
//! `--resource`). Output: [`Imported`]: what the file was recognised as, the [`Fact`]s it holds,
//! and what was skipped (with why). Recognition is by content (the top-level keys AWS prints),
//! never by file name; a document that is none of the known outputs is refused with a message
//! that says what it looks like.
//!
//! Policy documents arrive as objects, JSON strings or URL-encoded strings: all three are
//! decoded and checked here, so the store only ever holds parsed, valid documents.

pub mod files;
mod rows;

use serde_json::Value;

use crate::policy::arn::{self, Arn};
use crate::policy::{self, Policy, PolicyError};

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not an output we know; says what it looks like.
    #[error("not an AWS CLI output whydenied imports: {0}")]
    Unrecognised(String),
    /// The output names no resource and `--resource` was not given.
    #[error("{0}: this output does not name its resource; give it with --resource ARN")]
    NeedsResource(&'static str),
    /// A policy document inside the file is malformed.
    #[error("{context}: {source}")]
    Policy {
        /// Where in the file the document was (`policy version of <ARN>`, an inline policy...).
        context: String,
        /// What is wrong with the document.
        source: PolicyError,
    },
}

/// Options of one `import` call.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--target ID`: the account, OU or root that organization policies apply to.
    pub target: Option<String>,
    /// `--resource ARN`: the resource a resource policy belongs to.
    pub resource: Option<String>,
    /// `--owner ACCOUNT`: the account that owns that resource, where its ARN does not say (an
    /// S3 bucket's ARN carries no account).
    pub owner: Option<String>,
}

use crate::policy::snapshot::{
    EncryptionKeyRow, FunctionRow, HttpApiRow, ManagedRow, MappingRow, OrgPolicyRow,
    OrganizationRow, PrincipalRow, ResourcePolicyRow, UserPoolRow,
};

/// One fact a file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A role, user or group, with its policies, boundary and tags.
    Principal(PrincipalRow),
    /// A managed policy's default version.
    Managed(ManagedRow),
    /// A Lambda function's configuration (execution role, KMS key, VPC, dead-letter target...).
    Function(FunctionRow),
    /// An event source mapping (function, source, state, last processing result).
    Mapping(MappingRow),
    /// A resource's own policy (a bucket, queue, topic, key, secret or function policy).
    ResourcePolicy(ResourcePolicyRow),
    /// A Cognito user pool and the functions its triggers invoke.
    UserPool(UserPoolRow),
    /// A table or secret encrypted with a customer managed KMS key.
    EncryptionKey(EncryptionKeyRow),
    /// An HTTP API's route or integration.
    HttpApi(HttpApiRow),
    /// A version of a managed policy that is not its default (`get-policy-version`).
    ManagedVersion {
        /// The managed policy's ARN (the `--resource` given: the output does not name it).
        arn: String,
        /// The `VersionId` (`v2`...).
        version: String,
        /// The version's policy document, decoded.
        document: Value,
    },
    /// An SCP or RCP (`aws organizations describe-policy`).
    OrgPolicy(OrgPolicyRow),
    /// The organization's id and management account (`describe-organization`).
    Organization(OrganizationRow),
    /// An organization policy applies to an account, OU or root.
    OrgTarget {
        /// The organization policy's id (`p-...`).
        policy_id: String,
        /// The account id, OU id (`ou-...`) or root id (`r-...`) it is attached to.
        target: String,
    },
    /// An account or OU sits under a parent OU or root.
    OrgParent {
        /// The account or OU id.
        child: String,
        /// The OU or root id it sits directly under.
        parent: String,
    },
}

/// What one file held.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// What the file was recognised as (`aws iam get-account-authorization-details`...).
    pub format: &'static str,
    /// Every fact recognised in the file; the store writes them in one transaction.
    pub facts: Vec<Fact>,
    /// Things not imported, each with a reason.
    pub skipped: Vec<String>,
}

use rows::*;

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn list<'a>(v: &'a Value, k: &str) -> Vec<&'a Value> {
    match v.get(k) {
        Some(Value::Array(a)) => a.iter().collect(),
        // The CLI's own example prints some lists as bare objects: be lenient.
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

/// Decodes and validates a policy document from any of its encodings.
fn doc(v: &Value, context: impl Fn() -> String) -> Result<Value, ImportError> {
    let d = policy::document_value(v).map_err(|source| ImportError::Policy {
        context: context(),
        source,
    })?;
    Policy::from_document(&d).map_err(|source| ImportError::Policy {
        context: context(),
        source,
    })?;
    Ok(d)
}

fn tags(v: &Value) -> Option<Vec<(String, String)>> {
    v.get("Tags").map(|_| {
        list(v, "Tags")
            .into_iter()
            .filter_map(|t| Some((s(t, "Key")?, s(t, "Value").unwrap_or_default())))
            .collect()
    })
}

/// The owner of a resource: `--owner`, else its ARN's account field.
fn owner(resource: &str, opts: &Options) -> Option<String> {
    opts.owner
        .clone()
        .or_else(|| Some(account_of(resource)).filter(|a| !a.is_empty()))
}

fn account_of(arn: &str) -> String {
    Arn::parse(arn)
        .map(|a| a.account.to_string())
        .unwrap_or_default()
}

/// Recognises one parsed file.
pub fn recognise(v: &Value, opts: &Options) -> Result<Imported, ImportError> {
    let obj = match v {
        Value::Object(o) => o,
        Value::Array(_) => return Err(ImportError::Unrecognised(describe(v))),
        _ => return Err(ImportError::Unrecognised(describe(v))),
    };
    let has = |k: &str| obj.contains_key(k);
    if has("RoleDetailList") || has("UserDetailList") || has("GroupDetailList") {
        return authorization_details(v);
    }
    if let Some(role) = v.get("Role").filter(|r| r.get("RoleName").is_some()) {
        let mut out = Imported {
            format: "aws iam get-role",
            ..Default::default()
        };
        out.facts.push(Fact::Principal(role_row(role, false)?));
        return Ok(out);
    }
    if let Some(pv) = v.get("PolicyVersion") {
        return policy_version(pv, opts);
    }
    if has("Functions") {
        let mut out = Imported {
            format: "aws lambda list-functions",
            ..Default::default()
        };
        for f in list(v, "Functions") {
            out.facts.push(Fact::Function(function_row(f)));
        }
        return Ok(out);
    }
    if let Some(c) = v
        .get("Configuration")
        .filter(|c| c.get("FunctionArn").is_some())
    {
        return Ok(Imported {
            format: "aws lambda get-function",
            facts: vec![Fact::Function(function_row(c))],
            skipped: Vec::new(),
        });
    }
    if has("FunctionArn") && has("FunctionName") {
        return Ok(Imported {
            format: "aws lambda get-function-configuration",
            facts: vec![Fact::Function(function_row(v))],
            skipped: Vec::new(),
        });
    }
    if has("EventSourceMappings") {
        let mut out = Imported {
            format: "aws lambda list-event-source-mappings",
            ..Default::default()
        };
        for m in list(v, "EventSourceMappings") {
            out.facts.push(Fact::Mapping(mapping_row(m)));
        }
        return Ok(out);
    }
    if has("UUID") && has("EventSourceArn") {
        return Ok(Imported {
            format: "aws lambda get-event-source-mapping",
            facts: vec![Fact::Mapping(mapping_row(v))],
            skipped: Vec::new(),
        });
    }
    if let Some(pool) = v.get("UserPool").filter(|p| p.get("Id").is_some()) {
        return Ok(Imported {
            format: "aws cognito-idp describe-user-pool",
            facts: vec![Fact::UserPool(user_pool_row(pool))],
            skipped: Vec::new(),
        });
    }
    let items = list(v, "Items");
    let all = |k: &str| !items.is_empty() && items.iter().all(|i| i.get(k).is_some());
    if all("RouteKey") || all("IntegrationId") || has("RouteKey") || has("IntegrationType") {
        return http_api(v, opts);
    }
    if let Some(t) = v.get("Table").filter(|t| t.get("TableArn").is_some()) {
        return Ok(Imported {
            format: "aws dynamodb describe-table",
            facts: table_key(t).map(Fact::EncryptionKey).into_iter().collect(),
            skipped: Vec::new(),
        });
    }
    if let Some(secret) = s(v, "ARN").filter(|a| a.contains(":secretsmanager:"))
        && has("Name")
        && !has("ResourcePolicy")
        && !has("SecretString")
        && !has("SecretBinary")
    {
        return Ok(Imported {
            format: "aws secretsmanager describe-secret",
            facts: secret_key(&secret, v)
                .map(Fact::EncryptionKey)
                .into_iter()
                .collect(),
            skipped: Vec::new(),
        });
    }
    if let Some(o) = v.get("Organization").filter(|o| o.get("Id").is_some()) {
        return Ok(Imported {
            format: "aws organizations describe-organization",
            facts: vec![Fact::Organization(OrganizationRow {
                id: s(o, "Id").unwrap_or_default(),
                management_account: s(o, "MasterAccountId").or_else(|| s(o, "ManagementAccountId")),
            })],
            skipped: Vec::new(),
        });
    }
    if let Some(p) = v.get("Policy").filter(|p| p.get("PolicySummary").is_some()) {
        return org_policy(p, opts);
    }
    if has("Policies")
        && list(v, "Policies")
            .iter()
            .all(|p| p.get("Type").is_some() && p.get("Id").is_some())
    {
        return policies_for_target(v, opts);
    }
    if has("Parents") {
        let child = opts.target.clone().ok_or(ImportError::NeedsResource(
            "aws organizations list-parents (give the child with --target ID)",
        ))?;
        let mut out = Imported {
            format: "aws organizations list-parents",
            ..Default::default()
        };
        for p in list(v, "Parents") {
            if let Some(id) = s(p, "Id") {
                out.facts.push(Fact::OrgParent {
                    child: child.clone(),
                    parent: id,
                });
            }
        }
        return Ok(out);
    }
    if has("Accounts") || has("OrganizationalUnits") {
        let parent = opts.target.clone().ok_or(ImportError::NeedsResource(
            "aws organizations list-accounts-for-parent (give the parent with --target ID)",
        ))?;
        let mut out = Imported {
            format: if has("Accounts") {
                "aws organizations list-accounts-for-parent"
            } else {
                "aws organizations list-organizational-units-for-parent"
            },
            ..Default::default()
        };
        for a in list(v, "Accounts")
            .into_iter()
            .chain(list(v, "OrganizationalUnits"))
        {
            if let Some(id) = s(a, "Id") {
                out.facts.push(Fact::OrgParent {
                    child: id,
                    parent: parent.clone(),
                });
            }
        }
        return Ok(out);
    }
    if let Some(attrs) = v.get("Attributes").filter(|a| {
        a.get("Policy").is_some() || a.get("QueueArn").is_some() || a.get("TopicArn").is_some()
    }) {
        return attribute_policy(attrs, opts);
    }
    if let Some(rp) = v.get("ResourcePolicy") {
        let resource =
            opts.resource
                .clone()
                .or_else(|| s(v, "ARN"))
                .ok_or(ImportError::NeedsResource(
                    "aws secretsmanager get-resource-policy",
                ))?;
        let document = doc(rp, || format!("secret {resource}"))?;
        return Ok(Imported {
            format: "aws secretsmanager get-resource-policy",
            facts: vec![Fact::ResourcePolicy(ResourcePolicyRow {
                account: owner(&resource, opts),
                resource_arn: resource,
                service: "secretsmanager".into(),
                document,
            })],
            skipped: Vec::new(),
        });
    }
    if let Some(p) = v.get("policyText").filter(|p| p.is_string()) {
        let resource = opts
            .resource
            .clone()
            .ok_or(ImportError::NeedsResource("aws ecr get-repository-policy"))?;
        let document = doc(p, || format!("repository policy of {resource}"))?;
        return Ok(Imported {
            format: "aws ecr get-repository-policy",
            facts: vec![Fact::ResourcePolicy(ResourcePolicyRow {
                account: owner(&resource, opts).or_else(|| s(v, "registryId")),
                resource_arn: resource,
                service: "ecr".into(),
                document,
            })],
            skipped: Vec::new(),
        });
    }
    if let Some(p) = v.get("Policy").filter(|p| p.is_string() || p.is_object()) {
        return resource_policy(p, v, opts);
    }
    Err(ImportError::Unrecognised(describe(v)))
}

/// A short description of an unknown document, naming its top-level keys.
fn describe(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            if o.contains_key("Records") {
                return "a CloudTrail log file (use `whydenied replay` for logs)".into();
            }
            if o.contains_key("eventVersion") || o.contains_key("eventName") {
                return "a CloudTrail event (use `whydenied replay` or `explain` for logs)".into();
            }
            if o.contains_key("Statement") {
                return "a bare policy document: import the CLI output that names its owner (get-role, get-policy-version with --resource ARN, get-bucket-policy with --resource ARN...)".into();
            }
            let keys: Vec<&str> = o.keys().take(8).map(String::as_str).collect();
            format!("a JSON object with keys {}", keys.join(", "))
        }
        Value::Array(a) => format!("a JSON array of {} items", a.len()),
        other => format!(
            "a JSON {}",
            match other {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                _ => "null",
            }
        ),
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
    use serde_json::json;

    #[test]
    fn ecr_get_repository_policy_needs_its_repository() {
        // The shape of `aws ecr get-repository-policy` (AWS CLI reference, example output).
        let v = json!({"registryId": "123456789012", "repositoryName": "project-a/nginx-web-app",
            "policyText": "{\n  \"Version\" : \"2008-10-17\",\n  \"Statement\" : [ {\n    \"Sid\" : \"AllowPull\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::123456789012:role/pull\"\n    },\n    \"Action\" : [ \"ecr:BatchGetImage\", \"ecr:GetDownloadUrlForLayer\" ]\n  } ]\n}"});
        assert!(recognise(&v, &Options::default()).is_err());
        let opts = Options {
            resource: Some(
                "arn:aws:ecr:us-west-2:123456789012:repository/project-a/nginx-web-app".into(),
            ),
            ..Options::default()
        };
        let i = recognise(&v, &opts).unwrap();
        assert_eq!(i.format, "aws ecr get-repository-policy");
        match &i.facts[0] {
            Fact::ResourcePolicy(r) => {
                assert_eq!(r.service, "ecr");
                assert_eq!(r.account.as_deref(), Some("123456789012"));
                assert!(r.document["Statement"].is_array());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lambda_get_policy_names_its_function() {
        let v = json!({"Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"s\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"s3.amazonaws.com\"},\"Action\":\"lambda:InvokeFunction\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:f:PROD\"}]}", "RevisionId": "x"});
        let i = recognise(&v, &Options::default()).unwrap();
        assert_eq!(i.format, "aws lambda get-policy");
        match &i.facts[0] {
            Fact::ResourcePolicy(r) => {
                assert_eq!(r.resource_arn, "arn:aws:lambda:us-east-1:1:function:f")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn key_policy_needs_resource() {
        let v = json!({"Policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::1:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", "PolicyName": "default"});
        assert!(matches!(
            recognise(&v, &Options::default()),
            Err(ImportError::NeedsResource(_))
        ));
        let opts = Options {
            resource: Some("arn:aws:kms:us-east-1:1:key/k".into()),
            ..Options::default()
        };
        assert!(recognise(&v, &opts).is_ok());
    }

    /// A bucket's ARN has no account: `--owner` names it, and other ARNs carry theirs.
    #[test]
    fn resource_owner_from_flag_or_arn() {
        let v = json!({"Policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::1:root\"},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b1/*\"}]}"});
        let owner_of = |opts: &Options| match &recognise(&v, opts).unwrap().facts[0] {
            Fact::ResourcePolicy(r) => r.account.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(owner_of(&Options::default()), None);
        let opts = Options {
            owner: Some("444455556666".into()),
            ..Options::default()
        };
        assert_eq!(owner_of(&opts).as_deref(), Some("444455556666"));
        let q = json!({"Attributes": {"Policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"*\"}]}", "QueueArn": "arn:aws:sqs:us-east-1:111122223333:q"}});
        match &recognise(&q, &Options::default()).unwrap().facts[0] {
            Fact::ResourcePolicy(r) => assert_eq!(r.account.as_deref(), Some("111122223333")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn describe_organization_names_the_management_account() {
        let v = json!({"Organization": {"Id": "o-exampleorgid", "Arn": "arn:aws:organizations::111111111111:organization/111111111111/o-exampleorgid", "FeatureSet": "ALL", "MasterAccountArn": "arn:aws:organizations::111111111111:account/o-exampleorgid/111111111111", "MasterAccountId": "111111111111", "MasterAccountEmail": "bill@example.com"}});
        let i = recognise(&v, &Options::default()).unwrap();
        assert_eq!(i.format, "aws organizations describe-organization");
        assert_eq!(
            i.facts,
            vec![Fact::Organization(OrganizationRow {
                id: "o-exampleorgid".into(),
                management_account: Some("111111111111".into()),
            })]
        );
    }

    /// Shapes of the DynamoDB DescribeTable (`SSEDescription`) and Secrets Manager
    /// DescribeSecret (`KmsKeyId`) API references' examples.
    #[test]
    fn tables_and_secrets_name_their_keys() {
        let key = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE";
        let v = json!({"Table": {"TableName": "MusicCollection", "TableArn": "arn:aws:dynamodb:us-west-2:123456789012:table/MusicCollection",
            "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}}});
        let i = recognise(&v, &Options::default()).unwrap();
        assert_eq!(i.format, "aws dynamodb describe-table");
        assert_eq!(
            i.facts,
            vec![Fact::EncryptionKey(EncryptionKeyRow {
                resource: "arn:aws:dynamodb:us-west-2:123456789012:table/MusicCollection".into(),
                key: key.into(),
            })]
        );
        // An AWS owned key: a table, and nothing to store.
        let owned = json!({"Table": {"TableName": "T", "TableArn": "arn:aws:dynamodb:us-west-2:1:table/T"}});
        assert!(
            recognise(&owned, &Options::default())
                .unwrap()
                .facts
                .is_empty()
        );
        let v = json!({"ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-Ca8JGt", "Name": "MyTestSecret",
            "KmsKeyId": key, "LastChangedDate": 1523477145.729});
        let i = recognise(&v, &Options::default()).unwrap();
        assert_eq!(i.format, "aws secretsmanager describe-secret");
        assert_eq!(
            i.facts,
            vec![Fact::EncryptionKey(EncryptionKeyRow {
                resource: "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret"
                    .into(),
                key: key.into(),
            })]
        );
    }

    /// `aws apigatewayv2 get-routes` and `get-integrations` as the AWS CLI examples print them
    /// (awscli/examples/apigatewayv2): the API is named by --resource.
    #[test]
    fn http_api_routes_and_integrations_need_their_api() {
        let routes = json!({"Items": [{"ApiKeyRequired": false, "AuthorizationType": "NONE", "RouteId": "72jz1wk", "RouteKey": "ANY /admin", "Target": "integrations/a1b2c3"}]});
        let e = recognise(&routes, &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--resource"), "{e}");
        let opts = Options {
            resource: Some("arn:aws:apigateway:us-west-2::/apis/a1b2c3d4e5".into()),
            ..Options::default()
        };
        let i = recognise(&routes, &opts).unwrap();
        assert_eq!(i.format, "aws apigatewayv2 get-routes");
        assert_eq!(
            i.facts,
            vec![Fact::HttpApi(HttpApiRow::Route {
                api_id: "a1b2c3d4e5".into(),
                route_key: "ANY /admin".into(),
                target: Some("integrations/a1b2c3".into()),
            })]
        );
        let integrations = json!({"Items": [{"ConnectionType": "INTERNET", "IntegrationId": "a1b2c3", "IntegrationMethod": "POST", "IntegrationType": "AWS_PROXY",
            "IntegrationUri": "arn:aws:lambda:us-west-2:123456789012:function:my-function", "PayloadFormatVersion": "2.0", "TimeoutInMillis": 30000}]});
        let i = recognise(&integrations, &opts).unwrap();
        assert_eq!(i.format, "aws apigatewayv2 get-integrations");
        assert!(
            matches!(&i.facts[..], [Fact::HttpApi(HttpApiRow::Integration { uri: Some(u), credentials: None, .. })] if u.ends_with(":my-function"))
        );
    }

    #[test]
    fn refuses_what_it_does_not_know_and_says_what_it_is() {
        let e = recognise(&json!({"Records": []}), &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("CloudTrail"), "{e}");
        let e = recognise(&json!({"foo": 1, "bar": 2}), &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("foo"), "{e}");
    }

    #[test]
    fn org_policy_with_and_without_target() {
        let v = json!({"Policy":{"PolicySummary":{"Id":"p-1","Arn":"arn:aws:organizations::1:policy/o-x/service_control_policy/p-1","Name":"n","Type":"SERVICE_CONTROL_POLICY"},"Content":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"}});
        let i = recognise(&v, &Options::default()).unwrap();
        assert_eq!(i.facts.len(), 1);
        assert_eq!(i.skipped.len(), 1);
        let i = recognise(
            &v,
            &Options {
                target: Some("ou-1".into()),
                ..Options::default()
            },
        )
        .unwrap();
        assert!(i.facts.contains(&Fact::OrgTarget {
            policy_id: "p-1".into(),
            target: "ou-1".into()
        }));
    }
}
