//! Fixes to the denied principal's own identity policy.

use super::*;

/// The name of an inline fix policy, `whydenied-<function>-<service>-<hash>` (`fix` without a
/// function), kept to the characters and the 128-character length IAM allows in a policy name.
/// The hash is of the statements: two fixes for one role and service (two queues, two buckets)
/// get two names, so applying one after the other adds both grants instead of the second
/// `put-role-policy` replacing the first; the same fix again gets the same name.
fn inline_name(need: &Need, actions: &[String], stmts: &[Value]) -> String {
    let svc = actions
        .first()
        .and_then(|a| a.split(':').next())
        .unwrap_or("access");
    let base = need.function.as_deref().unwrap_or("fix");
    let hash =
        xxhash_rust::xxh3::xxh3_64(serde_json::to_string(stmts).unwrap_or_default().as_bytes())
            as u32;
    let tail = format!("-{hash:08x}");
    let head: String = format!("whydenied-{base}-{svc}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(128 - tail.len())
        .collect();
    head + &tail
}

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
            let facts = need.grant_facts();
            for g in &s.grants {
                let res = g.resource_for(&facts).unwrap_or_else(|| {
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

/// The fix in the denied principal's own identity policy. A function's execution role gets the
/// smallest AWS managed policy made for the feature, when one grants every action
/// (`attach-role-policy`); otherwise the statements go in an inline policy. A principal whose
/// policies cannot be edited where it is (an Identity Center role, a service-linked role, root,
/// a federated user) gets the statement and a note on where it goes instead, but no command.
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
    let mut commands = Vec::new();
    // Principals whose identity policies cannot be edited where they are: say who can.
    if let Some(why) = p.and_then(|p| not_editable(&p, principal.unwrap_or_default())) {
        notes.insert(0, why);
        return Fix {
            target: Target::IdentityPolicy,
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
        (Some(p), None) if is_role || is_user => {
            let (kind, flag) = if is_role {
                ("role", "--role-name")
            } else {
                ("user", "--user-name")
            };
            commands.extend(inline_commands(
                need, &actions, &stmts, kind, flag, p.name, &mut notes,
            ));
        }
        (Some(p), Some(_)) if is_user => {
            commands.extend(inline_commands(
                need,
                &actions,
                &stmts,
                "user",
                "--user-name",
                p.name,
                &mut notes,
            ));
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
    if need.cause == Cause::Unknown {
        notes.push("The cause is not certain from the message alone; the statement is what the action needs.".into());
    }
    Fix {
        target: Target::IdentityPolicy,
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

/// IAM's limits on identity policies, in characters without white space: all inline policies
/// of a role or user together, and one managed policy.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>
pub const INLINE_ROLE_CHARS: usize = 10_240;
/// All inline policies of a user together.
pub const INLINE_USER_CHARS: usize = 2_048;
/// One managed policy (each of its versions).
pub const MANAGED_CHARS: usize = 6_144;

/// A document's size as IAM counts it: characters outside white space.
pub fn policy_chars(doc: &Value) -> usize {
    serde_json::to_string(doc)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

/// The commands that add statements as an inline policy without taking anything away: a name
/// the principal does not use yet, or, when it has an inline policy of that name already, that
/// document with the statements merged in; a managed policy when the inline limit would be
/// passed.
fn inline_commands(
    need: &Need,
    actions: &[String],
    stmts: &[Value],
    kind: &str,
    flag: &str,
    name_of: &str,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let name = inline_name(need, actions, stmts);
    let existing = need.inline_policies().iter().find(|(n, _)| *n == name);
    let doc = match existing {
        Some((n, d)) => {
            let mut merged = d.clone();
            let list = match merged.get_mut("Statement") {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            };
            match list {
                Some(a) => a.extend(stmts.iter().cloned()),
                None => merged = policy_document(stmts),
            }
            notes.push(format!(
                "The {kind} already has an inline policy named {n}: the command puts it back with these statements added, keeping everything it grants."
            ));
            merged
        }
        None => policy_document(stmts),
    };
    let others: usize = need
        .inline_policies()
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(_, d)| policy_chars(d))
        .sum();
    let limit = if kind == "role" {
        INLINE_ROLE_CHARS
    } else {
        INLINE_USER_CHARS
    };
    let size = policy_chars(&doc);
    if others + size > limit {
        // Too large as an inline policy: a managed policy, attached.
        notes.push(format!(
            "The {kind}'s inline policies would hold {} characters, over IAM's {limit}: the statements go in a managed policy instead (at most {MANAGED_CHARS} characters).",
            others + size
        ));
        let fresh = policy_document(stmts);
        if policy_chars(&fresh) > MANAGED_CHARS {
            notes.push(format!(
                "The statements hold {} characters, over a managed policy's {MANAGED_CHARS}: split them into several policies.",
                policy_chars(&fresh)
            ));
            return Vec::new();
        }
        let text = serde_json::to_string(&fresh).unwrap_or_default();
        let acct = account_of(need).unwrap_or_else(|| "ACCOUNT_ID".into());
        let attach = if kind == "role" {
            "attach-role-policy"
        } else {
            "attach-user-policy"
        };
        return vec![
            command(&[
                "aws",
                "iam",
                "create-policy",
                "--policy-name",
                &name,
                "--policy-document",
                &text,
            ]),
            command(&[
                "aws",
                "iam",
                attach,
                flag,
                name_of,
                "--policy-arn",
                &format!("arn:aws:iam::{acct}:policy/{name}"),
            ]),
        ];
    }
    let text = serde_json::to_string(&doc).unwrap_or_default();
    let put = if kind == "role" {
        "put-role-policy"
    } else {
        "put-user-policy"
    };
    vec![command(&[
        "aws",
        "iam",
        put,
        flag,
        name_of,
        "--policy-name",
        &name,
        "--policy-document",
        &text,
    ])]
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
