//! Attribute-based access control: the fix is the tag an Allow's condition wants
//! (`iam tag-role` / `tag-user`), not a broader Allow that bypasses the design; it is checked by
//! evaluating again with the tag in the request context.

use super::*;
use crate::diagnose::Checked;
use crate::evaluate::condition::{KeyState, Lookup};
use crate::evaluate::context::Facts;
use crate::evaluate::{self, Decision, Request, RequestContext};

/// The fix that tags the principal: `iam tag-role` or `iam tag-user`.
pub(super) fn tag_fix(principal: &str, key: &str, value: &str) -> Option<Fix> {
    let p = arn::Principal::parse(principal)?;
    let (cmd, flag) = match p.kind {
        arn::PrincipalKind::Role | arn::PrincipalKind::AssumedRole => ("tag-role", "--role-name"),
        arn::PrincipalKind::User => ("tag-user", "--user-name"),
        _ => return None,
    };
    let tag = format!("Key={key},Value={value}");
    Some(Fix {
        target: Target::PrincipalTags,
        managed_policy_arn: None,
        statement: None,
        commands: vec![super::command(&[
            "aws", "iam", cmd, flag, p.name, "--tags", &tag,
        ])],
        verified: None,
        notes: vec![format!(
            "The policies grant by tag: give {} the tag {key}={value} rather than a new Allow that would bypass the attribute-based design. Running sessions keep the tags they started with.",
            p.name
        )],
        all_statements: Vec::new(),
        account: None,
    })
}

/// The fix, verified with `aws:PrincipalTag/<key>` set to `value` in the request context.
pub(super) fn verified_tag_fix(
    principal: &str,
    key: &str,
    value: &str,
    c: &Checked,
) -> Option<Fix> {
    let mut fix = tag_fix(principal, key, value)?;
    let name = format!("aws:PrincipalTag/{key}");
    let tagged = RequestContext::derive(
        &c.caller,
        &c.resource,
        &Facts {
            given: &[(name.clone(), value.to_string())],
            ..Facts::default()
        },
    );
    let after = evaluate::evaluate(
        &Request {
            caller: c.caller.clone(),
            action: &c.action,
            resource: &c.resource,
            context: &Overlay {
                over: &tagged,
                base: &c.context,
                key: name,
            },
        },
        &c.set,
    );
    fix.verified = Some(after.decision == Decision::Allow);
    Some(fix)
}

/// One key from `over`, every other from `base`.
struct Overlay<'a> {
    over: &'a RequestContext,
    base: &'a RequestContext,
    key: String,
}

impl Lookup for Overlay<'_> {
    fn get(&self, key: &str) -> KeyState<'_> {
        if key.eq_ignore_ascii_case(&self.key) {
            self.over.get(key)
        } else {
            self.base.get(key)
        }
    }
}
