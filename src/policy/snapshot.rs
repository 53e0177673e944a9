//! An account as its AWS CLI exports describe it: principals with their policies, managed
//! policies, resource policies, functions, event source mappings, user pools and the
//! organization. `import` reads the exports into these rows, the store keeps them, and the
//! evaluator and diagnosis read them back; none of them needs to know where a row came from.

use serde_json::Value;

/// An IAM role, user or group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrincipalRow {
    /// The role's, user's or group's ARN, with its path.
    pub arn: String,
    /// `role`, `user` or `group`.
    pub kind: &'static str,
    /// The name (`RoleName`, `UserName`, `GroupName`), without the path.
    pub name: String,
    /// The IAM path (`/service-role/`), `/` when none.
    pub path: String,
    /// The account, from the ARN.
    pub account: String,
    /// The unique id (`RoleId`: `AROA…`): a policy that names one names a principal since deleted.
    pub id: Option<String>,
    /// A role's trust policy.
    pub trust: Option<Value>,
    /// The permissions boundary ARN (`Some(None)`: known to have none).
    pub boundary: Option<Option<String>>,
    /// The tags, for `aws:PrincipalTag/*` (None: this export does not say).
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
    /// The policy's ARN (`arn:aws:iam::aws:policy/...` for an AWS managed policy).
    pub arn: String,
    /// The `PolicyName`.
    pub name: String,
    /// The default version's `VersionId`, when the export gives it.
    pub version: Option<String>,
    /// The default version's document, decoded.
    pub document: Value,
    /// The policy's other versions, when the export lists them all (authorization details):
    /// they replace the ones stored before. None: this export does not say.
    pub other_versions: Option<Vec<(String, Value)>>,
}

/// A Cognito user pool and the functions its triggers invoke.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserPoolRow {
    /// The pool's id (`us-east-2_M3mbRs9Qx`), which CloudTrail's `userPoolId` names.
    pub id: String,
    /// The pool's ARN, when the output gives it.
    pub arn: Option<String>,
    /// (`LambdaConfig` key, function ARN): `PreSignUp`, `PostConfirmation`...
    pub triggers: Vec<(String, String)>,
}

/// A table or secret and the customer managed KMS key that encrypts it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncryptionKeyRow {
    /// The table's ARN, or the secret's without its random suffix
    /// ([`crate::policy::arn::secret_base`]).
    pub resource: String,
    /// The key's ARN.
    pub key: String,
}

/// An API Gateway HTTP API's route or integration (`aws apigatewayv2 get-routes`,
/// `get-integrations`): an HTTP API's access log names the route, never the function.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpApiRow {
    /// A route (`POST /orders`, `$default`) and its target (`integrations/<id>`).
    Route {
        /// The API's id.
        api_id: String,
        /// The `RouteKey`.
        route_key: String,
        /// The `Target`, when the route has one.
        target: Option<String>,
    },
    /// An integration: what it calls and with which credentials.
    Integration {
        /// The API's id.
        api_id: String,
        /// The `IntegrationId`.
        integration_id: String,
        /// The `IntegrationUri` (a function ARN for a Lambda proxy integration).
        uri: Option<String>,
        /// The `CredentialsArn`: the role API Gateway invokes with instead of its service
        /// principal.
        credentials: Option<String>,
    },
}

/// What an HTTP API's route calls, joined through its integration.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    /// The API's id.
    pub api_id: String,
    /// The integration's `IntegrationUri` (a function ARN for a Lambda proxy integration).
    pub uri: Option<String>,
    /// The integration's `CredentialsArn`, when it invokes with a role.
    pub credentials: Option<String>,
}

/// A Lambda function's configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionRow {
    /// The `FunctionName`.
    pub name: String,
    /// The `FunctionArn`.
    pub arn: String,
    /// The execution role's ARN (`Role` of the function configuration).
    pub role: Option<String>,
    /// The customer managed key that encrypts the environment (`KMSKeyArn`); None: AWS's key.
    pub kms_key: Option<String>,
    /// `VpcConfig.SubnetIds`: a function in a VPC needs to manage its network interfaces.
    pub vpc_subnets: Vec<String>,
    /// `TracingConfig.Mode` (`Active` needs X-Ray write permissions).
    pub tracing: Option<String>,
    /// `DeadLetterConfig.TargetArn`: the queue or topic failed asynchronous invocations go to.
    pub dead_letter: Option<String>,
    /// `LoggingConfig.LogGroup`: the log group the function writes to.
    pub log_group: Option<String>,
    /// EFS access points mounted (`FileSystemConfigs[].Arn`).
    pub file_systems: Vec<String>,
}

/// An event source mapping.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappingRow {
    /// The mapping's `UUID`.
    pub uuid: String,
    /// The function the mapping invokes (`FunctionArn`).
    pub function_arn: Option<String>,
    /// The queue, stream or cluster it reads (`EventSourceArn`).
    pub source_arn: Option<String>,
    /// `State`: `Enabled`, `Disabled`, `Creating`...
    pub state: Option<String>,
    /// `LastProcessingResult`: it reports a permission problem (`PROBLEM: ...`) when polling fails.
    pub last_result: Option<String>,
    /// The key that encrypts the mapping's filter criteria (`KMSKeyArn`).
    pub kms_key: Option<String>,
    /// Where records that failed go (`DestinationConfig.OnFailure.Destination`).
    pub on_failure: Option<String>,
}

/// A resource's own policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePolicyRow {
    /// The resource the policy belongs to: `--resource`, the output's own ARN, or the one resource
    /// every statement names (the bucket for `bucket/*`, the unqualified function).
    pub resource_arn: String,
    /// `lambda`, `s3`, `sqs`, `sns`, `kms`, `secretsmanager`, or another service prefix.
    pub service: String,
    /// The policy document, decoded.
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
    /// The policy's id (`p-…`), which `--target` attachments refer to.
    pub id: String,
    /// The policy's ARN, when the output gives it.
    pub arn: Option<String>,
    /// The policy's name, shown in explanations.
    pub name: Option<String>,
    /// `scp` or `rcp`.
    pub kind: &'static str,
    /// None when only the summary is known (`list-policies-for-target`).
    pub document: Option<Value>,
}
