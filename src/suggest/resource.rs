//! Fixes to resource, trust, guard-rail and denying policies.
//!
//! Each is built from the need alone and leaves `verified` unset: applying the fix to the
//! stored policies and evaluating again, and the commands that put a merged document back,
//! are `verify`'s.

use super::*;

/// The fix for a resource policy that does not allow the request (`no_resource_allow`).
///
/// A service principal invoking a function gets `aws lambda add-permission`, conditioned on
/// `aws:SourceArn` and `aws:SourceAccount` so that no other bucket, API or account can use the
/// grant (the confused-deputy guard AWS recommends); its statement id comes from the service,
/// source and function, so that grants for two sources do not replace each other. An IAM
/// principal gets a statement naming it, never one for everyone; in a key policy its `Resource`
/// is `*`, which there means the key itself.
pub(super) fn resource_fix(need: &Need, rules: &Rules) -> Fix {
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
        let sid = statement_id(
            service.split('.').next().unwrap_or("service"),
            xxhash_rust::xxh3::xxh3_64(salt.as_bytes()),
        );
        let mut stmt = json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource});
        if !cond.is_empty()
            && let Some(o) = stmt.as_object_mut()
        {
            o.insert("Condition".into(), Value::Object(cond));
        }
        let stmt = super::valid::validate(
            vec![stmt],
            rules,
            need.region.as_deref(),
            need.source_account.as_deref(),
            &mut notes,
        )
        .into_iter()
        .next()
        .unwrap_or_default();
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
            target: if action.starts_with("lambda:") {
                Target::FunctionPolicy
            } else {
                Target::ResourcePolicy
            },
            managed_policy_arn: None,
            statement: Some(stmt.clone()),
            commands,
            verified: None,
            notes,
            all_statements: vec![stmt],
            account: None,
        };
    }
    // A principal denied by a resource policy (bucket, queue, key, secret...). Never a grant
    // to everyone: without the principal there is no statement.
    let resource = need.resource.clone().unwrap_or_else(|| "*".into());
    let is_kms = action.starts_with("kms:");
    let target = if is_kms {
        Target::KeyPolicy
    } else {
        Target::ResourcePolicy
    };
    let Some(principal) = need.principal.clone() else {
        return Fix {
            target,
            managed_policy_arn: None,
            statement: None,
            commands: Vec::new(),
            verified: None,
            notes: vec![format!(
                "The log does not name the principal: add a statement for it to the policy of {resource}; never one for everyone."
            )],
            all_statements: Vec::new(),
            account: None,
        };
    };
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
    let stmts = super::valid::validate(
        vec![stmt],
        rules,
        need.region.as_deref(),
        account_of(need).as_deref(),
        &mut notes,
    );
    Fix {
        target,
        managed_policy_arn: None,
        statement: stmts.first().cloned(),
        commands: Vec::new(),
        verified: None,
        notes,
        all_statements: stmts,
        account: None,
    }
}

/// A trust policy that does not let the caller assume the role. For Lambda's own check (the
/// execution role at setup) the statement trusts `lambda.amazonaws.com`; for an IAM principal
/// denied `sts:AssumeRole` it names the caller's role or user ARN, never a session or a
/// unique id, and goes to the role being assumed.
pub(super) fn trust_fix(need: &Need, rules: &Rules) -> Fix {
    let lambda_setup = need.kind == Some(Kind::TriggerSetup)
        || need.service_principal.as_deref() == Some("lambda.amazonaws.com");
    let (stmt, role) = if lambda_setup {
        (
            rules.trust_statement.clone(),
            need.principal.as_deref().and_then(arn::role_name),
        )
    } else {
        let caller = need.principal.as_deref().and_then(|p| {
            let pr = arn::Principal::parse(p)?;
            matches!(
                pr.kind,
                arn::PrincipalKind::Role
                    | arn::PrincipalKind::AssumedRole
                    | arn::PrincipalKind::User
                    | arn::PrincipalKind::Root
            )
            .then(|| pr.iam_arn())
        });
        match caller {
            Some(c) => (
                json!({"Effect": "Allow", "Principal": {"AWS": c}, "Action": "sts:AssumeRole"}),
                need.resource.as_deref().and_then(arn::role_name),
            ),
            None => {
                return Fix::none(vec![
                    "The log does not name who tried to assume the role: add a statement naming its role ARN to the role's trust policy.".into(),
                ]);
            }
        }
    };
    let mut commands = Vec::new();
    let mut notes = vec![
        "update-assume-role-policy replaces the whole trust policy: merge the statement with the ones the role has.".into(),
        "If the role was created seconds before, IAM may not have propagated it yet: retry.".into(),
    ];
    if !lambda_setup {
        notes.push("The caller's own identity policy must allow sts:AssumeRole on the role too when the accounts differ.".into());
    }
    match role {
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
            "The log does not name the role: apply the statement to the role being assumed.".into(),
        ),
    }
    Fix {
        target: Target::TrustPolicy,
        managed_policy_arn: None,
        statement: Some(stmt.clone()),
        commands,
        verified: None,
        notes,
        all_statements: vec![stmt],
        account: None,
    }
}

/// The fix for a guard rail without an Allow (`no_boundary_allow`, `no_scp_allow`,
/// `no_rcp_allow`): the statement the identity policy would get, for the administrator who owns
/// the boundary or the organization's policies. Its command needs the current document to merge
/// into, so `verify` adds it where that document was imported.
pub(super) fn guard_fix(need: &Need, rules: &Rules) -> Fix {
    let (target, who) = match need.cause {
        Cause::NoBoundaryAllow => (
            Target::PermissionsBoundary,
            "An account administrator must add it to the permissions boundary attached to the principal.",
        ),
        Cause::NoScpAllow => (
            Target::Scp,
            "An organization administrator (management account) must allow it in the service control policies on the account's path.",
        ),
        _ => (
            Target::Rcp,
            "An organization administrator (management account) must allow it in the resource control policies on the resource's account.",
        ),
    };
    let res = need.resource.clone().unwrap_or_else(|| "*".into());
    let mut notes = vec![who.to_string()];
    let stmts: Vec<Value> = (!need.actions.is_empty())
        .then(|| json!({"Effect": "Allow", "Action": need.actions, "Resource": res}))
        .into_iter()
        .collect();
    let stmts = super::valid::validate(
        stmts,
        rules,
        need.region.as_deref(),
        account_of(need).as_deref(),
        &mut notes,
    );
    let stmt = stmts.first().cloned();
    if let Some(p) = &need.policy_arn {
        notes.push(format!("The message names {p}."));
    }
    Fix {
        target,
        managed_policy_arn: None,
        all_statements: stmts,
        account: None,
        statement: stmt,
        commands: Vec::new(),
        verified: None,
        notes,
    }
}

/// The fix for an explicit deny. No Allow overrides a Deny, so it starts as advice to narrow the
/// denying statement, with the command that shows the policy when the message names it; where
/// the stored policies show the statement, `deny::narrow_deny` narrows it. The target follows the
/// kind of policy that denied (a resource policy's deny on a KMS action is the key policy's).
pub(super) fn deny_fix(need: &Need) -> Fix {
    let target = match need.cause {
        Cause::ExplicitDenyIdentity => Target::IdentityPolicy,
        Cause::ExplicitDenyResource => {
            if need.actions.first().is_some_and(|a| a.starts_with("kms:")) {
                Target::KeyPolicy
            } else {
                Target::ResourcePolicy
            }
        }
        Cause::ExplicitDenyBoundary => Target::PermissionsBoundary,
        Cause::ExplicitDenyScp => Target::Scp,
        Cause::ExplicitDenyRcp => Target::Rcp,
        _ => Target::None,
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
    // The organization's policies change in its management account, which a customer
    // policy's ARN names even before anything is imported.
    let mut account = None;
    if matches!(target, Target::Scp | Target::Rcp) {
        notes.push("Only an organization administrator (management account) can change it.".into());
        account = need
            .policy_arn
            .as_deref()
            .and_then(super::org::account_of_policy);
    }
    Fix {
        target,
        managed_policy_arn: None,
        statement: None,
        commands,
        verified: None,
        notes,
        all_statements: Vec::new(),
        account,
    }
}
