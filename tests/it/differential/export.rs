//! A world written as the AWS CLI prints it, and as iam-simulate is handed it.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use whydenied::import::files;

use super::world::*;

pub fn doc(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub fn write(dir: &Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// `aws iam get-account-authorization-details` for one account.
pub fn authorization_details(w: &World, acct: &str) -> Value {
    let mut roles = Vec::new();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut policies = Vec::new();
    let tags: Vec<Value> = w
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    let mut attached = Vec::new();
    if !w.managed.is_empty() {
        let arn = format!("arn:aws:iam::{acct}:policy/managed-1");
        attached.push(json!({"PolicyName": "managed-1", "PolicyArn": arn}));
        policies.push(json!({"PolicyName": "managed-1", "PolicyId": "ANPAEXAMPLE1", "Arn": arn, "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
            "PolicyVersionList": [{"Document": doc(&w.managed), "VersionId": "v1", "IsDefaultVersion": true}]}));
    }
    let boundary = w.boundary.as_ref().map(|b| {
        let arn = format!("arn:aws:iam::{acct}:policy/boundary-1");
        policies.push(json!({"PolicyName": "boundary-1", "PolicyId": "ANPAEXAMPLE2", "Arn": arn, "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
            "PolicyVersionList": [{"Document": doc(b), "VersionId": "v1", "IsDefaultVersion": true}]}));
        json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn})
    });
    let inline: Vec<Value> = if w.identity.is_empty() {
        Vec::new()
    } else {
        vec![json!({"PolicyName": "inline-1", "PolicyDocument": doc(&w.identity)})]
    };
    if acct == w.account {
        match &w.who {
            Who::Session { path } => {
                let mut r = json!({"Path": path, "RoleName": "r1", "RoleId": "AROAEXAMPLEROLE1", "Arn": w.role_arn(),
                    "CreateDate": "2026-01-01T00:00:00Z",
                    "AssumeRolePolicyDocument": doc(&[json!({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})]),
                    "InstanceProfileList": [], "RolePolicyList": inline, "AttachedManagedPolicies": attached, "Tags": tags});
                if let Some(b) = &boundary {
                    r["PermissionsBoundary"] = b.clone();
                }
                roles.push(r);
            }
            Who::User => {
                let mut u = json!({"Path": "/", "UserName": "alice", "UserId": "AIDAEXAMPLEUSER1", "Arn": w.user_arn(),
                    "CreateDate": "2026-01-01T00:00:00Z", "GroupList": ["devs"], "UserPolicyList": inline,
                    "AttachedManagedPolicies": attached, "Tags": tags});
                if let Some(b) = &boundary {
                    u["PermissionsBoundary"] = b.clone();
                }
                users.push(u);
                let gp: Vec<Value> = if w.group.is_empty() {
                    Vec::new()
                } else {
                    vec![json!({"PolicyName": "group-inline", "PolicyDocument": doc(&w.group)})]
                };
                groups.push(json!({"Path": "/", "GroupName": "devs", "GroupId": "AGPAEXAMPLEGROUP", "Arn": format!("arn:aws:iam::{acct}:group/devs"),
                    "CreateDate": "2026-01-01T00:00:00Z", "GroupPolicyList": gp, "AttachedManagedPolicies": []}));
            }
            Who::Service { .. } => {}
        }
    }
    if w.res == Res::Trust && acct == w.owner {
        let trust = w.resource_policy.clone().unwrap_or_default();
        roles.push(json!({"Path": "/", "RoleName": "target", "RoleId": "AROAEXAMPLETARGET", "Arn": w.resource_arn(),
            "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": doc(&trust),
            "InstanceProfileList": [], "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": []}));
    }
    json!({"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies})
}

/// Writes the world's exports and manifest into `dir`.
pub fn write_world(w: &World, dir: &Path) {
    let mut manifest = String::new();
    let mut entry = |path: &str, fields: &[(&str, String)]| {
        let _ = writeln!(manifest, "[[file]]\npath = {path:?}");
        for (k, v) in fields {
            let _ = writeln!(manifest, "{k} = {v}");
        }
        manifest.push('\n');
    };
    for acct in [A, B] {
        write(
            dir,
            &format!("auth-{acct}.json"),
            &authorization_details(w, acct),
        );
    }
    if let Some(st) = &w.resource_policy {
        let text = serde_json::to_string(&doc(st)).unwrap();
        let arn = w.policy_owner_arn();
        match w.res {
            Res::S3Object | Res::S3Bucket => {
                write(dir, "s3-get-bucket-policy.json", &json!({"Policy": text}));
                let mut f = vec![("resource", format!("{arn:?}"))];
                if w.s3_owner == S3Owner::Manifest {
                    f.push(("owner", format!("{:?}", w.owner)));
                }
                entry("s3-get-bucket-policy.json", &f);
            }
            Res::Sqs => write(
                dir,
                "sqs-get-queue-attributes.json",
                &json!({"Attributes": {"Policy": text, "QueueArn": arn}}),
            ),
            Res::Sns => write(
                dir,
                "sns-get-topic-attributes.json",
                &json!({"Attributes": {"Policy": text, "TopicArn": arn, "Owner": w.owner}}),
            ),
            Res::Kms => {
                write(
                    dir,
                    "kms-get-key-policy.json",
                    &json!({"Policy": text, "PolicyName": "default"}),
                );
                entry(
                    "kms-get-key-policy.json",
                    &[("resource", format!("{arn:?}"))],
                );
            }
            Res::Lambda => {
                write(
                    dir,
                    "lambda-get-policy.json",
                    &json!({"Policy": text, "RevisionId": "4bd4d2c8-0000-4a5e-9b3a-0f2c1d9e8a77"}),
                );
                entry(
                    "lambda-get-policy.json",
                    &[("resource", format!("{arn:?}"))],
                );
            }
            Res::Secret => write(
                dir,
                "secretsmanager-get-resource-policy.json",
                &json!({"ARN": arn, "Name": "s1", "ResourcePolicy": text}),
            ),
            Res::Trust => {}
        }
    }
    let mut n = 0;
    for (kind, pols) in [
        ("SERVICE_CONTROL_POLICY", &w.scps),
        ("RESOURCE_CONTROL_POLICY", &w.rcps),
    ] {
        let Some(pols) = pols else { continue };
        for (name, st, targets) in pols {
            n += 1;
            let id = if name == "FullAWSAccess" || name == "RCPFullAWSAccess" {
                format!("p-{name}")
            } else {
                format!("p-{n:08}")
            };
            let arn = if id == "p-FullAWSAccess" {
                "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
                    .to_string()
            } else if id == "p-RCPFullAWSAccess" {
                "arn:aws:organizations::aws:policy/resource_control_policy/p-RCPFullAWSAccess"
                    .to_string()
            } else {
                format!(
                    "arn:aws:organizations::{MANAGEMENT}:policy/{ORG}/{}/{id}",
                    kind.to_ascii_lowercase()
                )
            };
            let file = format!("org-{n}.json");
            write(
                dir,
                &file,
                &json!({"Policy": {"PolicySummary": {"Id": id, "Arn": arn, "Name": name, "Type": kind, "AwsManaged": id.contains("Full")},
                "Content": serde_json::to_string(&doc(st)).unwrap()}}),
            );
            let ts: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
            entry(&file, &[("target", format!("[{}]", ts.join(", ")))]);
        }
    }
    if w.scps.is_some() || w.rcps.is_some() || w.org_imported {
        let mut parents = vec![(A, OU), (OU, ROOT)];
        if w.b_in_org {
            parents.push((B, ROOT));
        }
        for (child, parent) in parents {
            let file = format!("parents-{child}.json");
            let t = if parent.starts_with("r-") {
                "ROOT"
            } else {
                "ORGANIZATIONAL_UNIT"
            };
            write(dir, &file, &json!({"Parents": [{"Id": parent, "Type": t}]}));
            entry(&file, &[("target", format!("{child:?}"))]);
        }
    }
    if w.org_imported {
        write(
            dir,
            "organization.json",
            &json!({"Organization": {"Id": ORG, "Arn": format!("arn:aws:organizations::{MANAGEMENT}:organization/{MANAGEMENT}/{ORG}"),
            "FeatureSet": "ALL", "MasterAccountArn": format!("arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{MANAGEMENT}"),
            "MasterAccountId": MANAGEMENT, "MasterAccountEmail": "admin@example.com"}}),
        );
    }
    std::fs::write(dir.join(files::MANIFEST), manifest).unwrap();
}

/// What whydenied is told with `--context` (everything else it derives from the imports).
pub fn whydenied_context(w: &World) -> Vec<(String, String)> {
    let mut c = Vec::new();
    match &w.who {
        Who::Service {
            source_arn,
            source_account,
            ..
        } => {
            c.push(("aws:SourceArn".into(), source_arn.clone()));
            c.push(("aws:SourceAccount".into(), source_account.to_string()));
        }
        _ => {
            if !w.org_imported || !w.in_org(w.account) {
                c.push(("aws:PrincipalOrgID".into(), w.org_of(w.account).into()));
            }
        }
    }
    if matches!(w.res, Res::S3Object | Res::S3Bucket) && w.s3_owner == S3Owner::Context {
        c.push(("aws:ResourceAccount".into(), w.owner.into()));
    }
    c
}

/// The simulation iam-simulate is handed: the same policies, and the context spelled out.
pub fn simulation(w: &World, action: &str) -> Value {
    let mut ctx = serde_json::Map::new();
    let service = matches!(w.who, Who::Service { .. });
    match &w.who {
        Who::Service {
            principal,
            source_arn,
            source_account,
        } => {
            ctx.insert("aws:SourceArn".into(), json!(source_arn));
            ctx.insert("aws:SourceAccount".into(), json!(source_account));
            ctx.insert("aws:PrincipalIsAWSService".into(), json!("true"));
            ctx.insert("aws:PrincipalServiceName".into(), json!(principal));
        }
        _ => {
            ctx.insert("aws:PrincipalArn".into(), json!(w.principal_arn()));
            ctx.insert("aws:PrincipalAccount".into(), json!(w.account));
            ctx.insert("aws:PrincipalOrgID".into(), json!(w.org_of(w.account)));
            ctx.insert("aws:PrincipalIsAWSService".into(), json!("false"));
            for (k, v) in &w.tags {
                ctx.insert(format!("aws:PrincipalTag/{k}"), json!(v));
            }
        }
    }
    ctx.insert("aws:SecureTransport".into(), json!("true"));
    ctx.insert("aws:ResourceAccount".into(), json!(w.owner));
    let mut identity = Vec::new();
    if !w.identity.is_empty() {
        identity.push(json!({"name": "inline-1", "policy": doc(&w.identity)}));
    }
    if !w.managed.is_empty() {
        identity.push(json!({"name": "managed-1", "policy": doc(&w.managed)}));
    }
    if !w.group.is_empty() {
        identity.push(json!({"name": "group-inline", "policy": doc(&w.group)}));
    }
    let levels = |pols: &Option<OrgPolicies>, acct: &'static str| {
        let Some(pols) = pols else { return Vec::new() };
        w.chain(acct)
            .into_iter()
            .map(|t| {
                // iam-simulate attaches RCPFullAWSAccess to every level itself.
                let ps: Vec<Value> = pols
                    .iter()
                    .filter(|(n, _, ts)| ts.contains(&t) && n != "RCPFullAWSAccess")
                    .map(|(n, st, _)| json!({"name": n, "policy": doc(st)}))
                    .collect();
                json!({"orgIdentifier": t, "policies": ps})
            })
            .collect::<Vec<_>>()
    };
    let scps = if service {
        Vec::new()
    } else {
        levels(&w.scps, w.account)
    };
    let rcps = levels(&w.rcps, w.owner);
    let mut sim = json!({
        "request": {"principal": w.principal(), "action": action,
                    "resource": {"resource": w.resource_arn(), "accountId": w.owner},
                    "contextVariables": ctx},
        "identityPolicies": identity,
        "serviceControlPolicies": scps,
        "resourceControlPolicies": rcps,
    });
    if let Some(st) = &w.resource_policy {
        sim["resourcePolicy"] = doc(st);
    }
    if let Some(b) = &w.boundary {
        sim["permissionBoundaryPolicies"] = json!([{"name": "boundary-1", "policy": doc(b)}]);
    }
    sim
}
