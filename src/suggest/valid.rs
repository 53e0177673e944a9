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
        .filter(|r| types.iter().any(|t| arn_fits(r, t.arn)))
        .cloned()
        .collect();
    let mut changed = out.len() != named.len();
    // Every type the action requires must be granted; a resource named of another type is not
    // enough (RunInstances on instance/* alone fails for want of subnet, image...).
    let required: Vec<&ActionType> = types.iter().filter(|t| t.required).collect();
    // "*" for an action that takes resource types grants more than it needs: the types it
    // requires, in the account and region, say the same for this fix.
    if out.iter().any(|r| r == "*") {
        out.retain(|r| r != "*");
        changed = true;
    }
    // An action that acts on several resources at once (RunInstances, CreateNetworkInterface)
    // is authorized on each one the request involves, optional types included (the volume, the
    // security group): grant every type it takes. When nothing named fits, likewise.
    let all_types = required.len() > 1 || out.is_empty();
    for t in types {
        if (t.required || all_types) && !out.iter().any(|r| arn_fits(r, t.arn)) {
            out.push(arn_for(t.arn, region, account));
            changed = true;
        }
    }
    (out, changed)
}

/// Whether a region field is a region's name (`eu-west-1`, `us-gov-west-1`, `cn-north-1`).
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts
            .first()
            .is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// An ARN from a log, made fit for a policy: a redacted or scrambled account (`XXXX`,
/// `<accountId>`, `*****`) becomes the account the fix is for, else `*`; a region that is no
/// region's name, `*`; a placeholder in the name (`<role-name>`), `*`. Returns the ARN and
/// whether it changed.
fn sanitize(arn: &str, account: Option<&str>) -> (String, bool) {
    let Some(parts) = arn
        .strip_prefix("arn:")
        .map(|r| r.splitn(5, ':').collect::<Vec<_>>())
    else {
        return (arn.to_string(), false);
    };
    let [partition, service, region, acct, rest] = parts.as_slice() else {
        return (arn.to_string(), false);
    };
    let mut changed = false;
    let region = if region.is_empty() || *region == "*" || is_region(region) {
        region.to_string()
    } else {
        changed = true;
        "*".to_string()
    };
    let ok_account = acct.is_empty()
        || *acct == "*"
        || *acct == "aws"
        || (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()));
    let acct = if ok_account {
        acct.to_string()
    } else {
        changed = true;
        account.unwrap_or("*").to_string()
    };
    // `<placeholder>` in the name, or a name cut at one (`role/`).
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' {
            changed = true;
            for d in chars.by_ref() {
                if d == '>' {
                    break;
                }
            }
            name.push('*');
        } else {
            name.push(c);
        }
    }
    if name.ends_with('/') || name.ends_with(':') {
        changed = true;
        name.push('*');
    }
    (
        format!("arn:{partition}:{service}:{region}:{acct}:{name}"),
        changed,
    )
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
    // The fix's own region and account come from the log too: use them only when real.
    let region = region.filter(|r| is_region(r));
    let account = account.filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    let mut out: Vec<Value> = Vec::new();
    for st in stmts {
        // A key policy's "*" is the key itself.
        let key_policy = st.get("Principal").is_some()
            && as_list(st.get("Action"))
                .iter()
                .all(|a| a.to_ascii_lowercase().starts_with("kms:"));
        if key_policy {
            out.push(st);
            continue;
        }
        let actions = as_list(st.get("Action"));
        let mut named = as_list(st.get("Resource"));
        let mut redacted = false;
        for r in &mut named {
            let (clean, changed) = sanitize(r, account);
            redacted |= changed;
            *r = clean;
        }
        if redacted {
            let line = "The log hides or scrambles part of a resource ARN (an account, a region, a placeholder): the statement has the account the fix is for, or \"*\", there; narrow it to the real ARN.".to_string();
            if !notes.contains(&line) {
                notes.push(line);
            }
        }
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
                resources_for(&types.of(&a), &named, region, account)
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
