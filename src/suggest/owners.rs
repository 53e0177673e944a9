//! Fixes for the owners the Lambda integrations add: function, layer, repository and VPC
//! endpoint policies.

use super::*;

/// A statement id unique to what it grants, so fixes for different callers do not collide.
fn sid(prefix: &str, parts: &[&str]) -> String {
    statement_id(
        prefix,
        xxhash_rust::xxh3::xxh3_64(parts.join("|").as_bytes()),
    )
}

/// The denied principal's account.
fn principal_account(need: &Need) -> Option<String> {
    need.principal
        .as_deref()
        .and_then(arn::Arn::parse)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty())
        .or_else(|| need.source_account.clone())
}

/// A layer version used by another account: its owner grants `lambda:GetLayerVersion` to the
/// function's account (`add-layer-version-permission`; layers take an account or an
/// organization, never a role).
pub(super) fn layer_fix(need: &Need) -> Fix {
    let mut notes = Vec::new();
    let layer = need.resource.clone();
    let parsed = layer.as_deref().and_then(arn::Arn::parse);
    // arn:aws:lambda:<region>:<owner>:layer:<name>:<version>
    let (name, version) = match parsed.map(|a| a.resource.split(':').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 3 && parts.first() == Some(&"layer") => (
            parts.get(1).map(|s| s.to_string()),
            parts.get(2).map(|s| s.to_string()),
        ),
        _ => (None, None),
    };
    let account = principal_account(need);
    let mut commands = Vec::new();
    let id = sid(
        "layer",
        &[
            layer.as_deref().unwrap_or_default(),
            account.as_deref().unwrap_or_default(),
        ],
    );
    let stmt = account.as_ref().map(|a| {
        json!({"Sid": id, "Effect": "Allow", "Principal": {"AWS": a}, "Action": "lambda:GetLayerVersion",
               "Resource": layer.clone().unwrap_or_else(|| "*".into())})
    });
    match (&name, &version, &account) {
        (Some(n), Some(v), Some(a)) => {
            let mut args = vec![
                "aws",
                "lambda",
                "add-layer-version-permission",
                "--layer-name",
                n,
                "--version-number",
                v,
                "--statement-id",
                &id,
                "--action",
                "lambda:GetLayerVersion",
                "--principal",
                a,
            ];
            if let Some(r) = parsed.map(|p| p.region).filter(|r| !r.is_empty()) {
                args.extend(["--region", r]);
            }
            commands.push(command(&args));
        }
        _ => notes.push(
            "The log does not name the layer version and the account that uses it: the layer's owner runs `aws lambda add-layer-version-permission` for them.".into(),
        ),
    }
    notes.push("The layer's owner grants this with their own credentials; to share with a whole organization, use --principal '*' with --organization-id, never '*' alone.".into());
    Fix {
        target: Target::LayerPolicy,
        managed_policy_arn: None,
        all_statements: stmt.iter().cloned().collect(),
        statement: stmt,
        commands,
        verified: None,
        notes,
        account: None,
    }
}

/// An ECR repository Lambda may not pull from: its policy must allow `lambda.amazonaws.com`
/// (for the function's account), and across accounts the function's account too.
pub(super) fn repository_fix(need: &Need) -> Fix {
    let mut notes = Vec::new();
    let repo = need.resource.clone();
    let parsed = repo.as_deref().and_then(arn::Arn::parse);
    let repo_account = parsed.map(|a| a.account.to_string());
    let fn_account = need.source_account.clone();
    let region = parsed
        .map(|a| a.region.to_string())
        .or_else(|| need.region.clone());
    let actions = json!(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]);
    let mut stmts = Vec::new();
    let mut lambda = json!({"Sid": "LambdaECRImageRetrievalPolicy", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": actions});
    if let (Some(acct), Some(r)) = (&fn_account, &region) {
        set_member(
            &mut lambda,
            "Condition",
            json!({"StringLike": {"aws:sourceArn": format!("arn:aws:lambda:{r}:{acct}:function:*")}}),
        );
    } else {
        notes.push("Narrow the statement with a StringLike aws:sourceArn condition on the functions that use the image.".into());
    }
    stmts.push(lambda);
    if let (Some(fa), Some(ra)) = (&fn_account, &repo_account)
        && fa != ra
    {
        stmts.push(json!({"Sid": "CrossAccountPermission", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{fa}:root")}, "Action": actions}));
    }
    let mut commands = Vec::new();
    match parsed.and_then(|a| a.resource.strip_prefix("repository/")) {
        Some(name) => {
            let mut args = vec![
                "aws",
                "ecr",
                "get-repository-policy",
                "--repository-name",
                name,
            ];
            if let Some(ra) = &repo_account {
                args.extend(["--registry-id", ra.as_str()]);
            }
            commands.push(command(&args));
            notes.push("set-repository-policy replaces the repository's policy: add these statements to the one get-repository-policy prints, then run `aws ecr set-repository-policy` with the merged document.".into());
        }
        None => notes.push(
            "The log does not name the image's repository: add the statements to its policy."
                .into(),
        ),
    }
    Fix {
        target: Target::RepositoryPolicy,
        managed_policy_arn: None,
        statement: stmts.first().cloned(),
        all_statements: stmts,
        commands,
        verified: None,
        notes,
        account: None,
    }
}

/// How an endpoint's owner changes its policy: print it (`describe-vpc-endpoints`), `change` it,
/// put it back whole (`modify-vpc-endpoint` replaces it). Without the endpoint's id, where to
/// find it (`unnamed`).
fn endpoint_steps(
    need: &Need,
    change: &str,
    unnamed: &str,
    notes: &mut Vec<String>,
) -> Vec<String> {
    match &need.vpc_endpoint {
        Some(id) => {
            notes.push(format!(
                "modify-vpc-endpoint --policy-document replaces the endpoint's policy: {change} the one printed above, then run `aws ec2 modify-vpc-endpoint --vpc-endpoint-id {id} --policy-document file://policy.json`."
            ));
            vec![command(&[
                "aws",
                "ec2",
                "describe-vpc-endpoints",
                "--vpc-endpoint-ids",
                id,
                "--query",
                "VpcEndpoints[0].PolicyDocument",
                "--output",
                "text",
            ])]
        }
        None => {
            notes.push(format!(
                "The log does not name the VPC endpoint: `aws ec2 describe-vpc-endpoints` {unnamed}."
            ));
            Vec::new()
        }
    }
}

/// A request a VPC endpoint's policy denied explicitly: no Allow overrides it, so the endpoint's
/// owner narrows that Deny. whydenied holds no endpoint policies, so it shows where to look.
pub(super) fn vpc_endpoint_deny_fix(need: &Need) -> Fix {
    let action = need.actions.first().map_or("the action", String::as_str);
    let mut notes = vec![format!(
        "The VPC endpoint's policy denies {action} explicitly, and an Allow cannot override it: its owner narrows the denying statement (remove {action} from it, or add a condition that exempts this principal), never deleting the policy wholesale."
    )];
    let commands = endpoint_steps(
        need,
        "change the Deny in",
        "lists them and their policies",
        &mut notes,
    );
    Fix {
        target: Target::VpcEndpointPolicy,
        managed_policy_arn: None,
        statement: None,
        all_statements: Vec::new(),
        commands,
        verified: None,
        notes,
        account: None,
    }
}

/// A request a VPC endpoint's policy refused: the endpoint's owner allows it in the policy.
pub(super) fn vpc_endpoint_fix(need: &Need) -> Fix {
    let mut notes = Vec::new();
    let actions = need.actions.clone();
    // Never everyone: the principal, else everyone of its account.
    let principal = match (&need.principal, &need.source_account) {
        (Some(p), _) => Some((json!({"AWS": p}), None)),
        (None, Some(a)) => Some((
            json!({"AWS": "*"}),
            Some(json!({"StringEquals": {"aws:PrincipalAccount": a}})),
        )),
        (None, None) => None,
    };
    let stmt = match (actions.is_empty(), principal) {
        (false, Some((p, cond))) => {
            let mut s = json!({"Effect": "Allow", "Principal": p, "Action": actions,
                "Resource": need.resource.clone().unwrap_or_else(|| "*".into())});
            if let Some(c) = cond {
                set_member(&mut s, "Condition", c);
            }
            Some(s)
        }
        _ => None,
    };
    let commands = endpoint_steps(
        need,
        "add the statement to",
        "lists them; add the statement to the endpoint's policy",
        &mut notes,
    );
    notes.push("If the endpoint policy denies this explicitly, narrow that Deny; an Allow cannot override it.".into());
    Fix {
        target: Target::VpcEndpointPolicy,
        managed_policy_arn: None,
        all_statements: stmt.iter().cloned().collect(),
        statement: stmt,
        commands,
        verified: None,
        notes,
        account: None,
    }
}
