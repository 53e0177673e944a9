//! A finding as CONTRACT.md shapes it, with its evidence and the rules that hide findings:
//! what the pipeline builds, the store keeps and the report prints. No SQL here.

use jiff::Timestamp;
use serde::Serialize;

use crate::policy::vocab::{Cause, Kind, PolicyState};
use crate::suggest::Fix;

/// One piece of evidence for a finding, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub source: String,
    pub file: String,
    pub record: u64,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The natural key that makes it unique.
    #[serde(skip)]
    pub key: String,
    /// The key an older build gave the same evidence, also looked for before storing it.
    #[serde(skip)]
    pub legacy_key: Option<String>,
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
    pub id: String,
    pub kind: Kind,
    pub cause: Cause,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub count: u64,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub function: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub policy_state: PolicyState,
    pub explanation: Vec<String>,
    pub fix: Fix,
    /// `open`, or `resolved` once a later import shows the stored policies allow it.
    pub status: String,
    pub resolved_at: Option<String>,
    /// The suppression that hides it, when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

/// A rule that hides expected denials. Every field set must match (wildcards `*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
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
