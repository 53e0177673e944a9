//! Statements checked against the Service Authorization Reference before they are suggested:
//! every action exists, every resource is of a type the action takes (an action without
//! resource types is granted on `"*"`, an action such as `ec2:RunInstances` on every type it
//! requires), so that a fix applied as written does what it says.

use super::*;
use crate::rules::resources::{ActionType, arn_fits, arn_for};

/// The resources an action is to be granted on, from those the statement names.
fn resources_for(
    types: &[ActionType],
    named: &[String],
    region: Option<&str>,
    account: Option<&str>,
) -> (Vec<String>, bool) {
    if types.is_empty() {
        return (vec!["*".to_string()], named.iter().any(|r| r != "*"));
    }
    let mut out: Vec<String> = named
        .iter()
        .filter(|r| types.iter().any(|t| arn_fits(r, &t.arn)))
        .cloned()
        .collect();
    let mut changed = out.len() != named.len();
    // Every type the action requires must be granted; a resource named of another type is not
    // enough (RunInstances on instance/* alone fails for want of subnet, image...).
    let required: Vec<&ActionType> = types.iter().filter(|t| t.required).collect();
    if out.iter().any(|r| r == "*") {
        return (vec!["*".to_string()], changed);
    }
    for t in &required {
        if !out.iter().any(|r| arn_fits(r, &t.arn)) {
            out.push(arn_for(&t.arn, region, account));
            changed = true;
        }
    }
    if out.is_empty()
        && let Some(t) = types.first()
    {
        out.push(arn_for(&t.arn, region, account));
        changed = true;
    }
    (out, changed)
}

/// Makes statements valid: unknown actions are left out and named, resources fitted to the
/// types each action takes, statements regrouped by resource. `notes` says what changed.
pub(crate) fn validate(
    stmts: Vec<Value>,
    rules: &Rules,
    region: Option<&str>,
    account: Option<&str>,
    notes: &mut Vec<String>,
) -> Vec<Value> {
    let types = rules.resource_types();
    let mut out: Vec<Value> = Vec::new();
    for st in stmts {
        let actions = as_list(st.get("Action"));
        let named = as_list(st.get("Resource"));
        if actions.is_empty() || st.get("NotAction").is_some() || st.get("NotResource").is_some() {
            out.push(st);
            continue;
        }
        // (resources, actions) in first-seen order.
        let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for a in actions {
            if !a.contains(['*', '?']) && !rules.is_known_action(&a) {
                notes.push(format!(
                    "{a} is not an action the Service Authorization Reference lists; it was left out."
                ));
                continue;
            }
            let (res, changed) = if a.contains(['*', '?']) || named.is_empty() {
                (named.clone(), false)
            } else {
                resources_for(types.of(&a), &named, region, account)
            };
            if changed {
                let what = if res == ["*"] {
                    format!("{a} takes no resource type, so it is granted on \"*\"")
                } else {
                    format!("{a} is granted on {}", res.join(", "))
                };
                let line = format!("{what}: the resource types it takes.");
                if !notes.contains(&line) {
                    notes.push(line);
                }
            }
            match groups.iter_mut().find(|(r, _)| *r == res) {
                Some((_, acts)) => acts.push(a),
                None => groups.push((res, vec![a])),
            }
        }
        for (res, acts) in groups {
            let mut s = st.clone();
            set_member(&mut s, "Action", json!(acts));
            let r = match res.as_slice() {
                [one] => json!(one),
                _ => json!(res),
            };
            set_member(&mut s, "Resource", r);
            out.push(s);
        }
    }
    out
}
