//! What an evaluation answers: the decision with its reasons (the statements that decided, the
//! policy kinds with no Allow, the keys an undecided verdict needs, the Allows a condition
//! kept out), so that every sentence of an explanation can name its policy and statement.

use serde::Serialize;

use super::PolicyKind;

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// An applicable statement allows it, and nothing denies it.
    Allow,
    /// No statement denies it, but a policy kind that must allow does not.
    ImplicitDeny,
    /// A `Deny` statement applies: it wins over every Allow.
    ExplicitDeny,
    /// Undecided: a statement that could change the outcome needs a condition key nobody gave.
    Unknown,
}

/// One statement that decided a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    /// The policy's name: a managed policy's ARN, `<principal ARN>#<inline name>`, or the resource
    /// ARN of a resource policy.
    pub policy: String,
    /// The kind of policy it belongs to.
    pub kind: PolicyKind,
    /// The statement's `Sid`, when it has one.
    pub sid: Option<String>,
    /// The statement's position in the policy's `Statement` list, from 0.
    pub index: usize,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Allow, implicit deny, explicit deny, or unknown.
    pub decision: Decision,
    /// The statements that decided: the denying ones for an explicit deny, the allowing ones for
    /// an allow; for an implicit deny, may be empty.
    pub deciding: Vec<StatementRef>,
    /// The policy kinds in which no statement allowed the request.
    pub missing_allow: Vec<PolicyKind>,
    /// Condition keys whose values were needed and not known.
    pub missing_context_keys: Vec<String>,
    /// Policies the decision waits on that were never imported (`key policy`, `resource
    /// policy`, `identity policies`): an unknown decision names them here, not as keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_policies: Vec<String>,
    /// What the evaluation assumed (SCPs not imported...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// For a request across accounts, how each side answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_account: Option<CrossAccount>,
    /// Allow statements that matched the request but for a condition on a tag (ABAC): the
    /// statement and the tag keys whose test failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_conditions_failed: Vec<TagMiss>,
    /// Allow statements that matched the request but for a condition on another key
    /// (`aws:SourceArn` naming another user pool, bucket or rule): the statement and the keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions_failed: Vec<TagMiss>,
    /// Deny statements that apply unless a condition whose key is not known says otherwise:
    /// the statements an explicit deny the log reports most likely came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecided_denies: Vec<StatementRef>,
}

/// An Allow that a tag condition kept from applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagMiss {
    /// The Allow statement the tag condition kept from applying.
    pub statement: StatementRef,
    /// The condition keys (`aws:PrincipalTag/team`) whose test failed.
    pub keys: Vec<String>,
    /// The values the failing conditions test for, key by key, when they are literals.
    pub wanted: Vec<(String, Vec<String>)>,
}

/// Whether a condition key tests a tag (attribute-based access control).
pub(super) fn is_tag_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["aws:principaltag/", "aws:resourcetag/", "aws:requesttag/"]
        .iter()
        .any(|p| k.starts_with(p))
        || k.ends_with("existingobjecttag")
        || k.contains(":resourcetag/")
}

/// Both sides of a request across accounts: each must allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossAccount {
    /// The caller's account.
    pub principal_account: String,
    /// The account that owns the resource.
    pub resource_account: String,
    /// The caller's side: identity policies, boundary, session policies, SCPs.
    pub identity_side: Side,
    /// The owner's side: the resource's policy and the RCPs above its account.
    pub resource_side: Side,
    /// The sides that did not allow: `identity`, `resource`.
    pub denied_by: Vec<&'static str>,
}

/// How one side of a cross-account request answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    /// What this side decided on its own.
    pub decision: Decision,
    /// The denying statements of this side, or the allowing ones.
    pub deciding: Vec<StatementRef>,
    /// The policy kinds of this side in which no statement allowed the request.
    pub missing_allow: Vec<PolicyKind>,
}

/// Inside evaluation an unimported policy travels with the unknown condition keys (both leave
/// the decision open); this marks it so the verdict can tell them apart.
const NOT_IMPORTED: &str = " (not imported)";

/// The placeholder for a policy the decision needs that was not imported.
pub(crate) fn not_imported(what: &str) -> String {
    format!("{what}{NOT_IMPORTED}")
}

/// The policy an unknown stands for, when it is an unimported policy rather than a key.
pub(crate) fn unimported(unknown: &str) -> Option<&str> {
    unknown.strip_suffix(NOT_IMPORTED)
}

impl Verdict {
    /// What an unknown decision waits on, for sentences: the keys, then the unimported policies.
    pub fn undecided_by(&self) -> String {
        self.missing_context_keys
            .iter()
            .cloned()
            .chain(self.missing_policies.iter().map(|p| not_imported(p)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
