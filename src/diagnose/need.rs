//! What a fix must grant, and to whom: diagnosis's account of the need that `suggest` turns
//! into statements and commands. Diagnosis owns it so that the fix builder reads diagnosis's
//! output and nothing flows back.

use serde_json::Value;

use crate::policy::vocab::{Cause, Kind, Target};

/// Everything the fix depends on.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub kind: Option<Kind>,
    pub cause: Cause,
    pub principal: Option<String>,
    pub function: Option<String>,
    pub actions: Vec<String>,
    pub resource: Option<String>,
    pub event_source_arn: Option<String>,
    pub target_arn: Option<String>,
    pub kms_key: Option<String>,
    /// For invoke permissions: the service that must be allowed, its source and account.
    pub service_principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    /// The policy a message blames.
    pub policy_arn: Option<String>,
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
