//! The catalog of Lambda integrations (`rules/integrations.json`): how each failure is
//! recognised, whose permission AWS checked, what that party needs and who must change what.
//! Data only; `parse` matches it and `diagnose` reads it.

use serde::Deserialize;

use crate::policy::vocab::{Cause, Target};

/// Whose permission AWS checked when the failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The identity in the log.
    Caller,
    /// The function's execution role, used by Lambda itself.
    ExecutionRole,
    /// An AWS service principal invoking the function.
    ServicePrincipal,
    /// The owner of another resource (an ECR repository, a layer), whose policy must allow.
    ResourceOwner,
    /// The VPC endpoint the request went through.
    VpcEndpoint,
}

/// One wording of a failure, with where it was seen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// A case-insensitive regular expression; named groups (`function`, `resource`) are read.
    pub pattern: String,
    /// The public source of the wording.
    pub source: String,
}

/// How a failure is recognised: any of its texts, or its error code, or the denied action
/// (with the resource and caller conditions).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The failure's wordings, each a case-insensitive regular expression with its source.
    #[serde(default)]
    pub texts: Vec<Text>,
    /// Error codes that identify it (CloudTrail `errorCode`), matched exactly.
    #[serde(default)]
    pub error_codes: Vec<String>,
    /// Denied actions that identify it, matched case-insensitively.
    #[serde(default)]
    pub actions: Vec<String>,
    /// With `actions`: the resource must contain this.
    #[serde(default)]
    pub resource_contains: Option<String>,
    /// With `actions`: the denied principal is an AWS service (`sns.amazonaws.com`).
    #[serde(default)]
    pub service_caller: bool,
    /// For a text several kinds of event source share (`EVENT_SOURCE_AUTHZ_ERROR`): the kinds
    /// this integration is for (`mq`, `kafka` for Amazon MSK, `self-managed-kafka`, or any
    /// other service prefix of the mapping's source ARN). Empty: any.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// Actions a party needs on one resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedSpec {
    /// The actions, in canonical case.
    pub actions: Vec<String>,
    /// A template (see the catalog's `_about`); `*` for actions without resource types.
    pub resource: String,
    /// A condition block the statement carries (templates allowed in values).
    #[serde(default)]
    pub condition: Option<serde_json::Value>,
    /// The condition applies only when the failing call went to this service.
    #[serde(default)]
    pub when_event_source: Option<String>,
}

/// One integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// A stable name (`kafka-authorization`) denials and tests refer to it by.
    pub id: String,
    /// The Lambda feature in words, which explanations and notes name.
    pub feature: String,
    /// The finding's `kind`.
    pub kind: String,
    /// Whose permission AWS checked.
    pub party: Party,
    /// The service principal that acts (for service principals and resource owners whose
    /// policy must name one).
    #[serde(default)]
    pub service_principal: Option<String>,
    /// How the failure is recognised (`match` in the file).
    #[serde(rename = "match")]
    pub matching: Match,
    /// The denied action when the text names none.
    #[serde(default)]
    pub action: Option<String>,
    /// Everything the party needs, one entry per resource.
    #[serde(default)]
    pub needs: Vec<NeedSpec>,
    /// The function the failure is about (a template).
    #[serde(default)]
    pub function: Option<String>,
    /// For a service's failure that is KMS's (DynamoDB, Secrets Manager): the table or secret
    /// whose key it is about (a template). The failure and KMS's record of the same call are
    /// one finding, and `{subject.kms_key}` is the key the imports or logs showed for it.
    #[serde(default)]
    pub subject: Option<String>,
    /// The source a service principal acts for, for `aws:SourceArn` (a template).
    #[serde(default)]
    pub source_arn: Option<String>,
    /// The source's account, for `aws:SourceAccount` (a template).
    #[serde(default)]
    pub source_account: Option<String>,
    /// The cause the text states.
    pub cause: Cause,
    /// Who must change what.
    pub fix: Target,
    /// The account that must run the fix, when not the denied principal's (a template).
    #[serde(default)]
    pub fix_account: Option<String>,
    /// A sentence added to the explanation, after the feature's name.
    #[serde(default)]
    pub note: Option<String>,
    /// The public documents the needed permissions come from.
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct IntegrationFile {
    pub integrations: Vec<Integration>,
}
