//! What must change, as diagnosis found it: the one thing `suggest` needs besides the [`Need`]
//! to build a fix, and the evaluation a fix is applied to and checked against.
//!
//! Diagnosis decides *which kind* of change the evidence calls for (grant, narrow a deny, tag
//! the principal...) because that follows from the verdict; the statements, commands and the
//! re-evaluation with the fix applied are `suggest`'s.
//!
//! [`Need`]: super::Need

use crate::evaluate::{Caller, Decision, PolicySet, Request, RequestContext, StatementRef};

/// The request as evaluated against the stored policies, owned so that it can travel from
/// diagnosis to the fix builder.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Who was evaluated: the IAM principal (with the session, when the log shows one), or the
    /// service for invoke permissions and trust.
    pub caller: Caller,
    /// The action evaluated, in canonical case.
    pub action: String,
    /// The resource evaluated (the role itself when Lambda's trust in it was checked).
    pub resource: String,
    /// The condition keys derived from the log and the store, as the evaluation used them.
    pub context: RequestContext,
    /// The stored policies that apply to the request; the fix is merged into a copy of these.
    pub set: PolicySet,
    /// What the stored policies decided before any fix.
    pub decision: Decision,
}

impl Checked {
    /// The request, to evaluate again.
    pub fn request(&self) -> Request<'_> {
        Request {
            caller: self.caller.clone(),
            action: &self.action,
            resource: &self.resource,
            context: &self.context,
        }
    }
}

/// The change the evidence calls for.
#[derive(Debug, Clone)]
pub enum Remedy {
    /// Grant what the need names. With the stored evaluation, the fix is merged into the
    /// documents it changes and, unless the verdict was undecided, verified by re-evaluation.
    Grant {
        /// The stored evaluation, when policies were imported.
        checked: Option<Box<Checked>>,
    },
    /// The stored policies, imported after the denial, allow it: nothing to change.
    Propagation,
    /// A deny statement decides: narrow it (drop the action from it, or exempt the principal
    /// when `exempt_only`, because the deny depends on keys the log does not give).
    NarrowDeny {
        /// The deny statement that decided.
        deny: StatementRef,
        /// Exempt the principal rather than drop the action: the deny depends on keys the log does
        /// not give, so which requests it catches cannot be told.
        exempt_only: bool,
        /// Network condition keys the deny depends on (`aws:SourceVpce`...): said in a note.
        network_keys: Vec<String>,
        /// The evaluation the narrowed deny is checked against.
        checked: Box<Checked>,
    },
    /// An attribute-based Allow wants a tag the principal lacks: tag it, verified with the tag.
    PrincipalTag {
        /// The role or user ARN to tag.
        principal: String,
        /// The tag key the Allow's condition tests, without its `aws:PrincipalTag/` prefix.
        key: String,
        /// The one literal value the condition wants.
        value: String,
        /// The evaluation the tagged principal is checked against.
        checked: Box<Checked>,
    },
    /// An unsigned request: there is no principal to grant to.
    Unsigned,
    /// The fix was built; what it was built from is no longer kept.
    Built,
}
