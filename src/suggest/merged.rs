//! `report --fixes`: the identity-policy fixes of one role merged into policies IAM accepts.
//! One inline policy while all the role's inline policies stay within IAM's 10,240 characters;
//! otherwise managed policies of at most 6,144 characters each, attached to the role. An
//! inline policy of the same name is merged, never replaced.

use super::identity::{INLINE_ROLE_CHARS, MANAGED_CHARS, policy_chars};
use super::*;

/// The name of the merged policy.
pub const NAME: &str = "whydenied-fixes";
/// Managed policies a role may have attached by default.
pub const ATTACHED_DEFAULT_QUOTA: usize = 10;

/// One policy to create or put.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The policy's name: [`NAME`], numbered (`whydenied-fixes-1`...) when split into managed ones.
    pub name: String,
    /// The policy document, statements merged by resource.
    pub document: Value,
    /// A managed policy to create and attach, rather than an inline one.
    pub managed: bool,
}

/// Statements of one document, halved until each fits `limit` characters in a document of its
/// own (a statement listing thousands of actions is split by its actions).
fn fitting(st: &Value, limit: usize) -> Vec<Value> {
    let alone = json!({"Version": "2012-10-17", "Statement": [st]});
    let actions = as_list(st.get("Action"));
    if policy_chars(&alone) <= limit || actions.len() < 2 {
        return vec![st.clone()];
    }
    let (a, b) = actions.split_at(actions.len() / 2);
    let mut x = st.clone();
    set_member(&mut x, "Action", json!(a));
    let mut y = st.clone();
    set_member(&mut y, "Action", json!(b));
    let mut out = fitting(&x, limit);
    out.extend(fitting(&y, limit));
    out
}

/// Splits the merged statements of a role into the policies to apply, with notes.
pub fn split(stmts: &[Value], existing_inline: &[(String, Value)]) -> (Vec<Part>, Vec<String>) {
    let mut notes = Vec::new();
    let mut all: Vec<Value> = Vec::new();
    if let Some((_, d)) = existing_inline.iter().find(|(n, _)| n == NAME) {
        // Keep what the role's policy of that name grants.
        all.extend(as_list_values(d.get("Statement")));
        notes.push(format!(
            "The role already has an inline policy named {NAME}: its statements are kept in the merged document."
        ));
    }
    all.extend(stmts.iter().cloned());
    let merged = merge_statements(&all);
    let others: usize = existing_inline
        .iter()
        .filter(|(n, _)| n != NAME)
        .map(|(_, d)| policy_chars(d))
        .sum();
    let size = policy_chars(&merged);
    if others + size <= INLINE_ROLE_CHARS {
        return (
            vec![Part {
                name: NAME.into(),
                document: merged,
                managed: false,
            }],
            notes,
        );
    }
    notes.push(format!(
        "Merged, the statements hold {size} characters; with the role's other inline policies ({others}) that is over IAM's {INLINE_ROLE_CHARS} for a role's inline policies, so they are split into managed policies of at most {MANAGED_CHARS} characters, attached to the role."
    ));
    let pieces: Vec<Value> = as_list_values(merged.get("Statement"))
        .iter()
        .flat_map(|s| fitting(s, MANAGED_CHARS))
        .collect();
    let mut parts: Vec<Vec<Value>> = Vec::new();
    for st in pieces {
        let fits = parts.last().is_some_and(|p| {
            let mut trial = p.clone();
            trial.push(st.clone());
            policy_chars(&json!({"Version": "2012-10-17", "Statement": trial})) <= MANAGED_CHARS
        });
        match parts.last_mut() {
            Some(p) if fits => p.push(st),
            _ => parts.push(vec![st]),
        }
    }
    if parts.len() > ATTACHED_DEFAULT_QUOTA {
        notes.push(format!(
            "That makes {} managed policies; a role may have {ATTACHED_DEFAULT_QUOTA} attached unless the quota was raised (up to 20): narrow the statements first.",
            parts.len()
        ));
    }
    let parts = parts
        .into_iter()
        .enumerate()
        .map(|(i, st)| Part {
            name: format!("{NAME}-{}", i + 1),
            document: json!({"Version": "2012-10-17", "Statement": st}),
            managed: true,
        })
        .collect();
    (parts, notes)
}

/// The statements of a document element (one object or a list).
fn as_list_values(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    }
}

/// The commands that apply the parts to `role` in `account`; `file` names where each part's
/// document was written (`file://...`), or None to inline the JSON.
pub fn commands(parts: &[Part], role: &str, account: &str, files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let text = serde_json::to_string(&p.document).unwrap_or_default();
        let doc = files.get(i).map(|f| format!("file://{f}")).unwrap_or(text);
        if p.managed {
            out.push(command(&[
                "aws",
                "iam",
                "create-policy",
                "--policy-name",
                &p.name,
                "--policy-document",
                &doc,
            ]));
            out.push(command(&[
                "aws",
                "iam",
                "attach-role-policy",
                "--role-name",
                role,
                "--policy-arn",
                &format!("arn:aws:iam::{account}:policy/{}", p.name),
            ]));
        } else {
            out.push(command(&[
                "aws",
                "iam",
                "put-role-policy",
                "--role-name",
                role,
                "--policy-name",
                &p.name,
                "--policy-document",
                &doc,
            ]));
        }
    }
    out
}

/// What the merged policy does to one finding's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The request is allowed with the merged policy attached.
    Allowed,
    /// Still not allowed: the verdict with the merged policy attached.
    Still(crate::evaluate::Decision),
    /// The role's policies were never imported: nothing to check against.
    NotImported,
    /// The finding's principal is not a role or user ARN.
    NoPrincipal,
}

/// The statements of every part as one policy, to evaluate with.
pub fn as_policy(parts: &[Part]) -> Result<crate::policy::Policy, crate::policy::PolicyError> {
    let all: Vec<Value> = parts
        .iter()
        .flat_map(|p| {
            p.document
                .get("Statement")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    crate::policy::Policy::parse(&json!({"Version": "2012-10-17", "Statement": all}))
}

/// Checks one finding's request (`principal` calling `action` on `resource`) against the
/// stored policies with the merged policy attached to the principal.
pub fn check(
    src: &dyn crate::evaluate::gather::PolicySource,
    rules: &Rules,
    merged: &std::sync::Arc<crate::policy::Policy>,
    principal: &str,
    action: &str,
    resource: &str,
) -> Check {
    use crate::evaluate::{Caller, Decision, NamedPolicy, PolicyKind};
    let Some(p) = crate::policy::arn::Principal::parse(principal) else {
        return Check::NoPrincipal;
    };
    let caller = Caller::Iam {
        arn: p.iam_arn(),
        session_arn: None,
        account: p.account.to_string(),
    };
    let extra = NamedPolicy {
        name: "merged fix".into(),
        kind: PolicyKind::Identity,
        policy: merged.clone(),
    };
    match crate::evaluate::gather::evaluate_now(src, rules, caller, action, resource, Some(extra)) {
        None => Check::NotImported,
        Some((v, _)) if v.decision == Decision::Allow => Check::Allowed,
        Some((v, _)) => Check::Still(v.decision),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn large_merges_are_split_within_the_managed_limit() {
        let stmts: Vec<Value> = (0..2000)
            .map(|i| json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": format!("arn:aws:s3:::bucket-{i}/*")}))
            .collect();
        let (parts, notes) = split(&stmts, &[]);
        assert!(parts.len() > 1);
        assert!(
            parts
                .iter()
                .all(|p| p.managed && policy_chars(&p.document) <= MANAGED_CHARS)
        );
        assert!(notes.iter().any(|n| n.contains("10240")), "{notes:?}");
        let small = split(&stmts[..3], &[]).0;
        assert_eq!(small.len(), 1);
        assert!(!small[0].managed);
        // An inline policy of the same name is merged, not replaced.
        let existing = vec![(
            NAME.to_string(),
            json!({"Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:111122223333:q"}]}),
        )];
        let kept = split(&stmts[..1], &existing).0;
        assert!(kept[0].document.to_string().contains("sqs:SendMessage"));
    }
}
