//! Fixes to the denied principal's own identity policy.

use super::*;

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
/// The statements of an identity-policy fix, valid against the Service Authorization Reference.
fn identity_statements(need: &Need, rules: &Rules) -> (Vec<Value>, Vec<String>, Vec<String>) {
    let (stmts, actions, mut notes) = raw_identity_statements(need, rules);
    let account = need
        .principal
        .as_deref()
        .and_then(arn::Arn::parse)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty())
        .or_else(|| need.source_account.clone());
    let stmts = super::valid::validate(
        stmts,
        rules,
        need.region.as_deref(),
        account.as_deref(),
        &mut notes,
    );
    (stmts, actions, notes)
}

/// The statements one by one, before validation: one per resource group.
fn raw_identity_statements(need: &Need, rules: &Rules) -> (Vec<Value>, Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut all_actions: Vec<String> = Vec::new();
    let mut stmts = Vec::new();
    let main = need.actions.first().cloned();
    let setup = if need.kind == Some(Kind::TriggerSetup) {
        main.as_deref().and_then(|a| rules.setup_for_action(a))
    } else {
        None
    };
    if !need.grants.is_empty() {
        // The integration catalog says everything the party needs.
        for g in &need.grants {
            let res = g.resource.clone().unwrap_or_else(|| {
                notes.push(format!(
                    "The log does not name the resource for {}: narrow \"*\" to its ARN.",
                    g.actions.join(", ")
                ));
                "*".to_string()
            });
            all_actions.extend(g.actions.iter().cloned());
            let mut st = json!({"Effect": "Allow", "Action": g.actions, "Resource": res});
            if let Some(c) = &g.condition {
                set_member(&mut st, "Condition", c.clone());
            }
            stmts.push(st);
        }
        return (stmts, all_actions, notes);
    }
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

pub(super) fn identity_fix(need: &Need, rules: &Rules) -> Fix {
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
    // Principals whose identity policies cannot be edited where they are: say who can.
    if let Some(why) = p.and_then(|p| not_editable(&p, principal.unwrap_or_default())) {
        notes.insert(0, why);
        return Fix {
            target: "identity_policy".into(),
            managed_policy_arn: None,
            statement: first_statement(&stmts),
            commands,
            verified: None,
            notes,
            all_statements: stmts,
            account: None,
        };
    }
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
        account: None,
    }
}

/// Why a principal's own policies are not the place for the statement, and where it goes:
/// IAM Identity Center roles (their permission set), service-linked roles (AWS manages them),
/// the root user (no identity policies), federated users (the user and the session policy).
fn not_editable(p: &arn::Principal<'_>, arn_text: &str) -> Option<String> {
    let sso = p.name.starts_with("AWSReservedSSO_")
        || arn_text.contains("/aws-reserved/sso.amazonaws.com/");
    if sso
        && matches!(
            p.kind,
            arn::PrincipalKind::Role | arn::PrincipalKind::AssumedRole
        )
    {
        let set = permission_set(p.name).unwrap_or(p.name);
        return Some(format!(
            "{} is the role IAM Identity Center made for the permission set {set}: add the statement to that permission set (an inline policy or a customer managed policy it references) and re-provision it, e.g. `aws sso-admin put-inline-policy-to-permission-set` in the organization's Identity Center; the role itself cannot be edited.",
            p.name
        ));
    }
    if arn_text.contains(":role/aws-service-role/") || p.name.starts_with("AWSServiceRoleFor") {
        return Some(format!(
            "{} is a service-linked role: AWS manages its policies, so they cannot be changed; what denied it is a resource policy, a permissions guard-rail or the service's configuration.",
            p.name
        ));
    }
    match p.kind {
        arn::PrincipalKind::Root => Some(
            "The root user has no identity policies to change: a denial of root comes from a resource policy or an organization policy.".into(),
        ),
        arn::PrincipalKind::FederatedUser => Some(format!(
            "{} is a federated user session: its permissions are the intersection of the IAM user that called GetFederationToken and the policy passed then; grant it to that user and pass a session policy that allows it.",
            p.name
        )),
        _ => None,
    }
}

/// The permission set of an Identity Center role: `AWSReservedSSO_<set>_<16 hex digits>`.
fn permission_set(role: &str) -> Option<&str> {
    let rest = role.strip_prefix("AWSReservedSSO_")?;
    let (set, id) = rest.rsplit_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn permission_sets_from_role_names() {
        assert_eq!(
            permission_set("AWSReservedSSO_modernisation-platform-developer_1d9bd12b9fbfac0b"),
            Some("modernisation-platform-developer")
        );
        assert_eq!(
            permission_set("AWSReservedSSO_Read_Only_6e3a3c6c123a8e57"),
            Some("Read_Only")
        );
        assert_eq!(permission_set("AWSReservedSSO_x"), None);
    }
}
