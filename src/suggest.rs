//! Suggest: what is needed → the fix: the managed policy to attach, the least-privilege
//! statement, the `aws` commands that apply it (every argument shell-quoted), and notes.
//!
//! Pure: reads the `rules/` catalogs and the [`Need`], writes nothing. The managed policy is named
//! only when it was made for a Lambda feature and grants every needed action; among several, the
//! one with the fewest actions wins.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::diagnose::Kind;
use crate::parse::arn;
use crate::rules::{ManagedPolicy, Rules};

/// Everything the fix depends on.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub kind: Option<Kind>,
    pub cause: String,
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
}

/// The fix of a finding, as CONTRACT.md shapes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub target: String,
    pub managed_policy_arn: Option<String>,
    pub statement: Option<Value>,
    pub commands: Vec<String>,
    pub verified: Option<bool>,
    pub notes: Vec<String>,
    /// Every statement of the fix when there are several (`statement` is the first): a stream
    /// mapping needs `ListStreams` on `*` beside the stream's own actions.
    #[serde(default, rename = "statements", skip_serializing_if = "at_most_one")]
    pub all_statements: Vec<Value>,
}

fn at_most_one(v: &[Value]) -> bool {
    v.len() <= 1
}

impl Fix {
    fn none(notes: Vec<String>) -> Fix {
        Fix {
            target: "none".into(),
            managed_policy_arn: None,
            statement: None,
            commands: Vec::new(),
            verified: None,
            notes,
            all_statements: Vec::new(),
        }
    }
}

/// Quotes each argument for a POSIX shell and joins them. Arguments come from logs, so none is
/// trusted: `shlex` quotes anything that is not plainly safe, and a NUL byte (which no shell
/// argument can hold) is dropped.
pub fn command(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            let clean: String = a.chars().filter(|c| *c != '\0').collect();
            match shlex::try_quote(&clean) {
                Ok(q) => q.into_owned(),
                Err(_) => "''".to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub use crate::policy::wildcard::action_matches;

use crate::rules::string_list as as_list;

/// Whether a managed policy allows `action` on every resource (`*`) with no condition.
fn grants_everywhere(p: &ManagedPolicy, action: &str) -> bool {
    p.everywhere.iter().any(|a| action_matches(a, action))
}

/// The smallest suggestable managed policy that grants all `actions`.
pub fn smallest_managed<'a>(rules: &'a Rules, actions: &[String]) -> Option<&'a ManagedPolicy> {
    if actions.is_empty() {
        return None;
    }
    rules
        .managed
        .iter()
        .filter(|p| p.suggest && actions.iter().all(|a| grants_everywhere(p, a)))
        .min_by_key(|p| p.size)
}

/// The policy name used for inline fixes: `whydenied-<function or role>-<service>`.
fn inline_name(need: &Need, actions: &[String]) -> String {
    let svc = actions
        .first()
        .and_then(|a| a.split(':').next())
        .unwrap_or("access");
    let base = need.function.as_deref().unwrap_or("fix");
    let raw = format!("whydenied-{base}-{svc}");
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(128)
        .collect()
}

/// Builds the statements of an identity-policy fix: one per resource group.
fn identity_statements(need: &Need, rules: &Rules) -> (Vec<Value>, Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut all_actions: Vec<String> = Vec::new();
    let mut stmts = Vec::new();
    let main = need.actions.first().cloned();
    let setup = if need.kind == Some(Kind::TriggerSetup) {
        main.as_deref().and_then(|a| rules.setup_for_action(a))
    } else {
        None
    };
    match setup {
        Some(s) => {
            notes.push(format!("Lambda needs these permissions for {}.", s.feature));
            for g in &s.grants {
                let res = match g.resource.as_str() {
                    "star" => Some("*".to_string()),
                    "event_source" => need
                        .event_source_arn
                        .clone()
                        .or_else(|| need.resource.clone()),
                    "target" => need.target_arn.clone().or_else(|| need.resource.clone()),
                    "key" => need.kms_key.clone().or_else(|| need.resource.clone()),
                    tpl if tpl.contains("{source}") => need
                        .event_source_arn
                        .clone()
                        .or_else(|| need.resource.clone())
                        .map(|src| tpl.replace("{source}", &src)),
                    other => Some(other.to_string()),
                };
                let res = res.unwrap_or_else(|| {
                    notes.push(format!(
                        "The log does not name the resource for {}: narrow \"*\" to its ARN.",
                        g.actions.join(", ")
                    ));
                    "*".to_string()
                });
                all_actions.extend(g.actions.iter().cloned());
                stmts.push(json!({"Effect": "Allow", "Action": g.actions, "Resource": res}));
            }
            if s.kms_when_encrypted {
                match &need.kms_key {
                    Some(k) => {
                        all_actions.push("kms:Decrypt".into());
                        stmts.push(json!({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": k}));
                    }
                    None => notes.push(
                        "If the source is encrypted with a customer managed KMS key, the role also needs kms:Decrypt on that key.".into(),
                    ),
                }
            }
        }
        None => {
            let mut acts = need.actions.clone();
            acts.dedup();
            let res = need.resource.clone().unwrap_or_else(|| {
                if !acts.is_empty() {
                    notes.push(
                        "The log does not name the resource: narrow \"*\" to its ARN.".into(),
                    );
                }
                "*".to_string()
            });
            if !acts.is_empty() {
                all_actions.extend(acts.iter().cloned());
                stmts.push(json!({"Effect": "Allow", "Action": acts, "Resource": res}));
            }
        }
    }
    (stmts, all_actions, notes)
}

fn policy_document(stmts: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": stmts})
}

fn first_statement(stmts: &[Value]) -> Option<Value> {
    stmts.first().cloned()
}

/// Merges fix statements into one least-privilege policy: statements with the same effect,
/// resource and condition share one statement with the union of their actions; order is kept.
pub fn merge_statements(stmts: &[Value]) -> Value {
    let mut merged: Vec<Value> = Vec::new();
    for st in stmts {
        let key = |v: &Value| {
            (
                v.get("Effect").cloned(),
                v.get("Resource").cloned(),
                v.get("Condition").cloned(),
                v.get("Principal").cloned(),
            )
        };
        let actions = as_list(st.get("Action"));
        match merged.iter_mut().find(|m| key(m) == key(st)) {
            Some(m) => {
                let mut have = as_list(m.get("Action"));
                for a in actions {
                    if !have.iter().any(|h| h.eq_ignore_ascii_case(&a)) {
                        have.push(a);
                    }
                }
                if let Some(o) = m.as_object_mut() {
                    o.insert("Action".into(), json!(have));
                }
            }
            None => {
                let mut s = st.clone();
                if let Some(o) = s.as_object_mut() {
                    o.remove("Sid");
                    o.insert("Action".into(), json!(actions));
                }
                merged.push(s);
            }
        }
    }
    json!({"Version": "2012-10-17", "Statement": merged})
}

/// The stored policies allow the request now: nothing to add, but what to do.
pub fn propagation_fix(need: &Need, rules: &Rules) -> Fix {
    let mut notes = vec![
        "The stored policies allow this now. IAM is eventually consistent: a grant made seconds before the call may not have applied yet, so retry, or make the deployment or trigger depend on the policy.".to_string(),
    ];
    if need.function.is_some() || need.kind == Some(Kind::TriggerSetup) {
        notes.push(
            "Running functions keep the credentials they started with: update the function's configuration (any change) so new instances pick up the current role.".into(),
        );
    }
    let setup = need.actions.first().and_then(|a| rules.setup_for_action(a));
    if need.kind == Some(Kind::TriggerSetup) && setup.is_some_and(|s| s.kms_when_encrypted) {
        notes.push(
            "If the mapping still fails, check that the mapping's source ARN is the one the role allows, that a source encrypted with a customer managed KMS key also allows kms:Decrypt to the role, that no SCP denies it, and that the role was not deleted and re-created (grants to the old role do not carry over).".into(),
        );
    }
    if need.kind == Some(Kind::Kms) {
        notes.push(
            "A role deleted and re-created with the same name breaks the key's grant: point the function at another role and back, or re-save its KMS key setting, to create a new grant.".into(),
        );
    }
    Fix {
        target: "none".into(),
        managed_policy_arn: None,
        statement: None,
        commands: Vec::new(),
        verified: None,
        notes,
        all_statements: Vec::new(),
    }
}

/// The fix for what the diagnosis needs.
pub fn fix(need: &Need, rules: &Rules) -> Fix {
    let cause = need.cause.as_str();
    match cause {
        "no_identity_allow" | "unknown" if need.kind != Some(Kind::InvokePermission) => identity_fix(need, rules),
        "no_resource_allow" => resource_fix(need),
        "trust_policy" => trust_fix(need, rules),
        "no_boundary_allow" | "no_scp_allow" | "no_rcp_allow" => guard_fix(need),
        c if c.starts_with("explicit_deny") => deny_fix(need),
        "no_session_allow" => Fix::none(vec![
            "The session policy passed when the role was assumed does not allow it: pass a session policy that does, or none.".into(),
        ]),
        "no_vpc_endpoint_allow" => Fix::none(vec![
            "The VPC endpoint's policy does not allow it: the endpoint owner must add the action to the endpoint policy.".into(),
        ]),
        "key_disabled" => Fix::none(vec![
            "Enable the key (`aws kms enable-key`) or point the function at another key.".into(),
        ]),
        _ => Fix::none(Vec::new()),
    }
}

fn identity_fix(need: &Need, rules: &Rules) -> Fix {
    let (stmts, actions, mut notes) = identity_statements(need, rules);
    if stmts.is_empty() {
        return Fix::none(vec!["The log does not say which action was denied.".into()]);
    }
    let principal = need.principal.as_deref();
    let p = principal.and_then(arn::Principal::parse);
    let is_role = p.is_some_and(|p| {
        matches!(
            p.kind,
            arn::PrincipalKind::Role | arn::PrincipalKind::AssumedRole
        )
    });
    let is_user = p.is_some_and(|p| p.kind == arn::PrincipalKind::User);
    let execution_role = need.function.is_some() || need.kind == Some(Kind::TriggerSetup);
    let managed = if execution_role && (is_role || principal.is_none()) {
        smallest_managed(rules, &actions)
    } else {
        None
    };
    let doc = policy_document(&stmts);
    let doc_text = serde_json::to_string(&doc).unwrap_or_default();
    let mut commands = Vec::new();
    match (p, managed) {
        (Some(p), Some(m)) if is_role => {
            commands.push(command(&[
                "aws",
                "iam",
                "attach-role-policy",
                "--role-name",
                p.name,
                "--policy-arn",
                &m.arn,
            ]));
        }
        (Some(p), None) if is_role => {
            let name = inline_name(need, &actions);
            commands.push(command(&[
                "aws",
                "iam",
                "put-role-policy",
                "--role-name",
                p.name,
                "--policy-name",
                &name,
                "--policy-document",
                &doc_text,
            ]));
        }
        (Some(p), _) if is_user => {
            let name = inline_name(need, &actions);
            commands.push(command(&[
                "aws",
                "iam",
                "put-user-policy",
                "--user-name",
                p.name,
                "--policy-name",
                &name,
                "--policy-document",
                &doc_text,
            ]));
        }
        _ => {
            if let Some(f) = &need.function {
                notes.push(format!(
                    "The execution role is not known from the log: find it with `{}` (or import the function configuration) and apply the statement to it.",
                    command(&["aws", "lambda", "get-function-configuration", "--function-name", f, "--query", "Role", "--output", "text"])
                ));
            }
        }
    }
    if execution_role {
        notes.push(
            "After changing the role, update the function's configuration so running instances stop using old credentials.".into(),
        );
    }
    if need.kind == Some(Kind::TriggerSetup) {
        notes.push(
            "IAM is eventually consistent: if the role was changed seconds before, retry the deployment (or make the trigger depend on the policy).".into(),
        );
    }
    if need.cause == "unknown" {
        notes.push("The cause is not certain from the message alone; the statement is what the action needs.".into());
    }
    Fix {
        target: "identity_policy".into(),
        managed_policy_arn: managed.map(|m| m.arn.clone()),
        statement: first_statement(&stmts),
        commands,
        verified: None,
        notes,
        all_statements: stmts,
    }
}

fn resource_fix(need: &Need) -> Fix {
    let action = need
        .actions
        .first()
        .cloned()
        .unwrap_or_else(|| "lambda:InvokeFunction".into());
    if let Some(service) = &need.service_principal {
        // A service principal invoking a function: `aws lambda add-permission`.
        let mut notes = Vec::new();
        let function = need.function.clone();
        let mut cond = serde_json::Map::new();
        if let Some(src) = &need.source_arn {
            cond.insert("ArnLike".into(), json!({"AWS:SourceArn": src}));
        } else {
            notes.push("The log does not name the source (bucket, API, target group): add --source-arn to limit who may invoke.".into());
        }
        if let Some(acct) = &need.source_account {
            cond.insert("StringEquals".into(), json!({"AWS:SourceAccount": acct}));
        }
        let resource = need.resource.clone().unwrap_or_else(|| "*".into());
        // A statement id unique per (service, source, function), so fixes do not collide.
        let salt = format!(
            "{service}|{}|{}",
            need.source_arn.as_deref().unwrap_or_default(),
            need.function.as_deref().unwrap_or_default()
        );
        let sid = format!(
            "whydenied-{}-{:08x}",
            service.split('.').next().unwrap_or("service"),
            xxhash_rust::xxh3::xxh3_64(salt.as_bytes()) as u32
        );
        let mut stmt = json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource});
        if !cond.is_empty()
            && let Some(o) = stmt.as_object_mut()
        {
            o.insert("Condition".into(), Value::Object(cond));
        }
        let mut commands = Vec::new();
        match (&function, action.starts_with("lambda:")) {
            (Some(f), true) => {
                let mut args: Vec<&str> = vec![
                    "aws", "lambda", "add-permission", "--function-name", f, "--statement-id", &sid, "--action", &action,
                    "--principal", service,
                ];
                if let Some(src) = &need.source_arn {
                    args.extend(["--source-arn", src.as_str()]);
                }
                if let Some(acct) = &need.source_account {
                    args.extend(["--source-account", acct.as_str()]);
                }
                commands.push(command(&args));
            }
            (None, true) => notes.push("The log does not name the function: run `aws lambda add-permission` for it with the statement above.".into()),
            (_, false) => notes.push("Add the statement to the resource's policy (merge with the statements it has).".into()),
        }
        return Fix {
            target: "resource_policy".into(),
            managed_policy_arn: None,
            statement: Some(stmt.clone()),
            commands,
            verified: None,
            notes,
            all_statements: vec![stmt],
        };
    }
    // A principal denied by a resource policy (bucket, queue, key, secret...).
    let principal = need.principal.clone().unwrap_or_else(|| "*".into());
    let resource = need.resource.clone().unwrap_or_else(|| "*".into());
    let is_kms = action.starts_with("kms:");
    let stmt = json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": need.actions, "Resource": if is_kms { "*".to_string() } else { resource.clone() }});
    let mut notes = vec![format!(
        "Add the statement to the {} of {resource} (merge with the statements it has); the principal's identity policy must allow it too when the accounts differ.",
        if is_kms {
            "key policy"
        } else {
            "resource policy"
        }
    )];
    if is_kms {
        notes.push("In a key policy, \"Resource\": \"*\" means the key itself.".into());
    }
    Fix {
        target: if is_kms {
            "key_policy".into()
        } else {
            "resource_policy".into()
        },
        managed_policy_arn: None,
        statement: Some(stmt.clone()),
        commands: Vec::new(),
        verified: None,
        notes,
        all_statements: vec![stmt],
    }
}

fn trust_fix(need: &Need, rules: &Rules) -> Fix {
    let stmt = rules.trust_statement.clone();
    let mut commands = Vec::new();
    let mut notes = vec![
        "update-assume-role-policy replaces the whole trust policy: merge the statement with the ones the role has.".into(),
        "If the role was created seconds before, IAM may not have propagated it yet: retry.".into(),
    ];
    match need.principal.as_deref().and_then(arn::role_name) {
        Some(role) => {
            let doc = serde_json::to_string(&policy_document(std::slice::from_ref(&stmt)))
                .unwrap_or_default();
            commands.push(command(&[
                "aws",
                "iam",
                "update-assume-role-policy",
                "--role-name",
                role,
                "--policy-document",
                &doc,
            ]));
        }
        None => notes.push(
            "The log does not name the role: apply the statement to the function's execution role."
                .into(),
        ),
    }
    Fix {
        target: "trust_policy".into(),
        managed_policy_arn: None,
        statement: Some(stmt.clone()),
        commands,
        verified: None,
        notes,
        all_statements: vec![stmt],
    }
}

fn guard_fix(need: &Need) -> Fix {
    let (target, who) = match need.cause.as_str() {
        "no_boundary_allow" => (
            "permissions_boundary",
            "An account administrator must add it to the permissions boundary attached to the principal.",
        ),
        "no_scp_allow" => (
            "scp",
            "An organization administrator (management account) must allow it in the service control policies on the account's path.",
        ),
        _ => (
            "rcp",
            "An organization administrator (management account) must allow it in the resource control policies on the resource's account.",
        ),
    };
    let res = need.resource.clone().unwrap_or_else(|| "*".into());
    let stmt = (!need.actions.is_empty())
        .then(|| json!({"Effect": "Allow", "Action": need.actions, "Resource": res}));
    let mut notes = vec![who.to_string()];
    if let Some(p) = &need.policy_arn {
        notes.push(format!("The message names {p}."));
    }
    Fix {
        target: target.into(),
        managed_policy_arn: None,
        all_statements: stmt.iter().cloned().collect(),
        statement: stmt,
        commands: Vec::new(),
        verified: None,
        notes,
    }
}

fn deny_fix(need: &Need) -> Fix {
    let target = match need.cause.as_str() {
        "explicit_deny_identity" => "identity_policy",
        "explicit_deny_resource" => {
            if need.actions.first().is_some_and(|a| a.starts_with("kms:")) {
                "key_policy"
            } else {
                "resource_policy"
            }
        }
        "explicit_deny_boundary" => "permissions_boundary",
        "explicit_deny_scp" => "scp",
        "explicit_deny_rcp" => "rcp",
        _ => "none",
    };
    let action = need
        .actions
        .first()
        .map(String::as_str)
        .unwrap_or("the action");
    let mut notes = vec![format!(
        "An Allow cannot override an explicit Deny: narrow the denying statement (remove {action} from it, or add a condition that exempts this principal), never delete the policy wholesale."
    )];
    let mut commands = Vec::new();
    if let Some(p) = &need.policy_arn {
        notes.push(format!("The denying policy is {p}."));
        if p.contains(":iam:") || p.starts_with("arn:aws:iam") {
            commands.push(command(&["aws", "iam", "get-policy", "--policy-arn", p]));
        } else if p.contains(":organizations:")
            && let Some(id) = p.rsplit('/').next()
        {
            commands.push(command(&[
                "aws",
                "organizations",
                "describe-policy",
                "--policy-id",
                id,
            ]));
        }
    }
    if matches!(target, "scp" | "rcp") {
        notes.push("Only an organization administrator (management account) can change it.".into());
    }
    Fix {
        target: target.into(),
        managed_policy_arn: None,
        statement: None,
        commands,
        verified: None,
        notes,
        all_statements: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_inert() {
        let c = command(&["aws", "s3", "cp", "reports/'; rm -rf ~; echo '.csv"]);
        assert_eq!(
            shlex::split(&c).unwrap(),
            vec!["aws", "s3", "cp", "reports/'; rm -rf ~; echo '.csv"]
        );
        let c = command(&["x", "a\nb$(id)`id`"]);
        assert_eq!(shlex::split(&c).unwrap(), vec!["x", "a\nb$(id)`id`"]);
    }

    #[test]
    fn smallest_managed_policy_is_chosen() {
        let rules = Rules::embedded().unwrap();
        let sqs: Vec<String> = [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            smallest_managed(&rules, &sqs).unwrap().name,
            "AWSLambdaSQSQueueExecutionRole"
        );
        let eni = vec!["ec2:CreateNetworkInterface".to_string()];
        assert_eq!(
            smallest_managed(&rules, &eni).unwrap().name,
            "AWSLambdaENIManagementAccess"
        );
        assert!(smallest_managed(&rules, &["s3:GetObject".to_string()]).is_none());
    }
}
