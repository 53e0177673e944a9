//! What a fix must grant, and to whom: diagnosis's account of the need that `suggest` turns
//! into statements and commands. Diagnosis owns it so that the fix builder reads diagnosis's
//! output and nothing flows back.

use serde_json::Value;

use crate::policy::vocab::{Cause, Kind, Target};

/// Everything the fix depends on.
#[derive(Debug, Clone, Default)]
pub struct Need {
    /// What was observed, as the diagnosis found it (always set by diagnosis; None by default).
    pub kind: Option<Kind>,
    /// The cause, which decides the kind of fix (grant, narrow a deny, fix a trust policy).
    pub cause: Cause,
    /// The role, user or service principal to grant to; None when no one can be named.
    pub principal: Option<String>,
    /// The function's name, for commands that take it (`aws lambda add-permission`).
    pub function: Option<String>,
    /// Every action the message names, in canonical case, the denied one first.
    pub actions: Vec<String>,
    /// The resource the fix's statement names; None when the log does not say.
    pub resource: Option<String>,
    /// The queue, stream or cluster an event source mapping reads (`eventSourceArn`).
    pub event_source_arn: Option<String>,
    /// The dead-letter target or a mapping's on-failure destination the request names.
    pub target_arn: Option<String>,
    /// The KMS key involved: the request's, else the function's configured key for a KMS error.
    pub kms_key: Option<String>,
    /// For invoke permissions: the service that must be allowed, its source and account.
    pub service_principal: Option<String>,
    /// The source the service acts for (a bucket, an API, a target group), for `aws:SourceArn`.
    pub source_arn: Option<String>,
    /// The account the source belongs to, for `aws:SourceAccount`; else the denial's account.
    pub source_account: Option<String>,
    /// The policy a message blames.
    pub policy_arn: Option<String>,
    /// The region, for naming resources in the fix and checking it against the service reference.
    pub region: Option<String>,
    /// Everything the party needs, when the integration catalog says (else the setup catalog
    /// or the denied actions decide).
    pub grants: Vec<super::integration::Grant>,
    /// The owner who must change something, when the catalog says.
    pub target: Option<Target>,
    /// The account that must run the fix, when not the denied principal's.
    pub fix_account: Option<String>,
    /// The VPC endpoint the request went through.
    pub vpc_endpoint: Option<String>,
    /// The denied principal's inline policies, when imported: a fix must not replace one.
    pub inline_policies: Vec<(String, Value)>,
}

impl Need {
    /// The facts a setup grant's resource is named from.
    pub fn grant_facts(&self) -> crate::rules::GrantFacts<'_> {
        crate::rules::GrantFacts {
            event_source: self.event_source_arn.as_deref(),
            resource: self.resource.as_deref(),
            target: self.target_arn.as_deref(),
            key: self.kms_key.as_deref(),
        }
    }
}
