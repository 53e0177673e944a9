//! An account as its AWS CLI exports describe it: principals with their policies, managed
//! policies, resource policies, functions, event source mappings, user pools and the
//! organization. `import` reads the exports into these rows, the store keeps them, and the
//! evaluator and diagnosis read them back; none of them needs to know where a row came from.

use serde_json::Value;

/// An IAM role, user or group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrincipalRow {
    pub arn: String,
    /// `role`, `user` or `group`.
    pub kind: &'static str,
    pub name: String,
    pub path: String,
    pub account: String,
    pub id: Option<String>,
    /// A role's trust policy.
    pub trust: Option<Value>,
    /// The permissions boundary ARN (`Some(None)`: known to have none).
    pub boundary: Option<Option<String>>,
    pub tags: Option<Vec<(String, String)>>,
    /// Group names of a user.
    pub groups: Option<Vec<String>>,
    /// Attached managed policy ARNs (None: not in this file, keep what is stored).
    pub attached: Option<Vec<String>>,
    /// Inline policies (None: not in this file, keep what is stored).
    pub inline: Option<Vec<(String, Value)>>,
}

/// A managed policy's default version.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedRow {
    pub arn: String,
    pub name: String,
    pub version: Option<String>,
    pub document: Value,
    /// The policy's other versions, when the export lists them all (authorization details):
    /// they replace the ones stored before. None: this export does not say.
    pub other_versions: Option<Vec<(String, Value)>>,
}

/// A Cognito user pool and the functions its triggers invoke.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserPoolRow {
    pub id: String,
    pub arn: Option<String>,
    /// (`LambdaConfig` key, function ARN): `PreSignUp`, `PostConfirmation`...
    pub triggers: Vec<(String, String)>,
}

/// A Lambda function's configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionRow {
    pub name: String,
    pub arn: String,
    pub role: Option<String>,
    pub kms_key: Option<String>,
    pub vpc_subnets: Vec<String>,
    pub tracing: Option<String>,
    pub dead_letter: Option<String>,
    pub log_group: Option<String>,
    /// EFS access points mounted (`FileSystemConfigs[].Arn`).
    pub file_systems: Vec<String>,
}

/// An event source mapping.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappingRow {
    pub uuid: String,
    pub function_arn: Option<String>,
    pub source_arn: Option<String>,
    pub state: Option<String>,
    pub last_result: Option<String>,
    pub kms_key: Option<String>,
    pub on_failure: Option<String>,
}

/// A resource's own policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePolicyRow {
    pub resource_arn: String,
    /// `lambda`, `s3`, `sqs`, `sns`, `kms`, `secretsmanager`, or another service prefix.
    pub service: String,
    pub document: Value,
    /// The account that owns the resource: `--owner`, else the ARN's account field.
    pub account: Option<String>,
}

/// The organization itself (`aws organizations describe-organization`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationRow {
    /// `o-…`.
    pub id: String,
    /// The management account, which SCPs do not restrict and whose resources RCPs do not.
    pub management_account: Option<String>,
}

/// An SCP or RCP.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgPolicyRow {
    pub id: String,
    pub arn: Option<String>,
    pub name: Option<String>,
    /// `scp` or `rcp`.
    pub kind: &'static str,
    /// None when only the summary is known (`list-policies-for-target`).
    pub document: Option<Value>,
}
