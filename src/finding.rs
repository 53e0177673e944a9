//! A finding as CONTRACT.md shapes it, with its evidence and the rules that hide findings:
//! what the pipeline builds, the store keeps and the report prints. No SQL here.

use jiff::Timestamp;
use serde::Serialize;

use crate::policy::vocab::{Cause, Kind, PolicyState};
use crate::suggest::Fix;

/// One piece of evidence for a finding, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Where it came from: `cloudtrail`, `cloudwatch`, `lambda-text` or `event-source-mapping`.
    pub source: String,
    /// The file it was read from, as named on the command line or by the source's glob.
    pub file: String,
    /// The record's 0-based index among the records the file yielded.
    pub record: u64,
    /// The 1-based line the record starts on.
    pub line: u64,
    /// The CloudTrail `eventID`, for a CloudTrail record; `null` otherwise (always written, as
    /// CONTRACT.md's example shows it, so that strict readers find the key).
    pub event_id: Option<String>,
    /// The CloudTrail `eventName` (the API call that failed); `null` where the log has none.
    pub event_name: Option<String>,
    /// When the event happened (RFC 3339 UTC, second precision), when the log says.
    pub time: Option<String>,
    /// The function the log names for this piece (its log group or session), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The natural key that makes it unique.
    #[serde(skip)]
    pub key: String,
    /// The key an older build gave the same evidence, also looked for before storing it.
    #[serde(skip)]
    pub legacy_key: Option<String>,
    /// The event time in epoch milliseconds: which evidence is a finding's latest.
    #[serde(skip)]
    pub time_ms: Option<i64>,
    /// The denial this evidence showed, kept with its finding (the latest) so that a later
    /// import can diagnose the finding again.
    #[serde(skip)]
    pub denial: Option<std::sync::Arc<crate::parse::Denial>>,
}

/// A finding as CONTRACT.md shapes it (field order included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// 16 hex digits hashed from the deduplication key: stable across runs and imports.
    pub id: String,
    /// What was observed: `access_denied`, `trigger_setup`, `invoke_permission` or `kms`.
    pub kind: Kind,
    /// Why, in the words of AWS's messages (`no_identity_allow`, `explicit_deny_scp`...).
    pub cause: Cause,
    /// The earliest event time of its evidence (RFC 3339), when any piece has one.
    pub first_seen: Option<String>,
    /// The latest event time of its evidence (RFC 3339), when any piece has one.
    pub last_seen: Option<String>,
    /// How many distinct pieces of evidence showed it.
    pub count: u64,
    /// The account the denial happened in.
    pub account: Option<String>,
    /// The region the denial happened in.
    pub region: Option<String>,
    /// The role, user or service principal whose permissions are missing (for setup and KMS errors
    /// the execution role, not the deployer).
    pub principal: Option<String>,
    /// The Lambda function's name (not its ARN), when one can be told.
    pub function: Option<String>,
    /// The denied action; the first, where the message names several.
    pub action: Option<String>,
    /// The resource the action was denied on.
    pub resource: Option<String>,
    /// The message as AWS wrote it.
    pub message: String,
    /// The pieces of evidence (all of them, or the latest few where the output limits them).
    pub evidence: Vec<Evidence>,
    /// What the stored policies say today: `denied`, `allowed_now` or `unknown`.
    pub policy_state: PolicyState,
    /// Human sentences on why, each naming the policies and statements that decided.
    pub explanation: Vec<String>,
    /// The fix: target, statement, commands, and whether it was verified on the stored policies.
    pub fix: Fix,
    /// `open`, or `resolved` once a later import shows the stored policies allow it.
    pub status: String,
    /// When it became `resolved` (RFC 3339); None while open.
    pub resolved_at: Option<String>,
    /// The suppression that hides it, when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

/// A rule that hides expected denials. Every field set must match (wildcards `*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// The principal ARN to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The action to match, case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The resource ARN to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The cause to match (`no_identity_allow`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The function name to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Why the denial is expected, shown with the suppressed finding.
    pub reason: String,
    /// RFC 3339; the rule stops applying after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The fields are values to equal, not patterns: a rule made from a finding
    /// (`whydenied suppress ID`), whose resource may itself hold a literal `*`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
    /// The finding a rule was made from: it hides that finding whatever a later import says of
    /// its cause (the fields say what it was when suppressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl Suppression {
    /// Whether the rule hides `f` at time `now_ms` (an expired rule hides nothing).
    pub fn matches(&self, f: &Finding, now_ms: i64) -> bool {
        if let Some(until) = &self.until {
            match until.parse::<Timestamp>() {
                Ok(t) if t.as_millisecond() < now_ms => return false,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        if let Some(id) = &self.finding {
            return *id == f.id;
        }
        let exact = self.exact;
        let field = |pat: &Option<String>, val: &Option<String>, fold: bool| match pat {
            None => true,
            Some(p) => val.as_deref().is_some_and(|v| {
                if exact {
                    if fold {
                        p.eq_ignore_ascii_case(v)
                    } else {
                        p == v
                    }
                } else {
                    crate::policy::wildcard::matches(p, v, fold)
                }
            }),
        };
        field(&self.principal, &f.principal, false)
            && field(&self.action, &f.action, true)
            && field(&self.resource, &f.resource, false)
            && field(&self.cause, &Some(f.cause.to_string()), false)
            && field(&self.function, &f.function, false)
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with second precision.
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => ms.to_string(),
    }
}
