//! Fixes that are right, valid, safe to run and honestly verified: the cases of a wrong fix that
//! hurts (a replaced inline policy, a public grant, an option-looking name, a statement on the
//! wrong resource types, an oversized merged policy, a verification that proves nothing), each
//! through the real binary. The denial texts are AWS's documented template
//! (`User: <arn> is not authorized to perform: <action> on resource: <arn> because no
//! identity-based policy allows the <action> action`, IAM User Guide, "Troubleshooting access
//! denied error messages"), with our names.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const A: &str = "111122223333";

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("WHYDENIED_DB")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn explain(db: &Path, message: &str) -> Value {
    let out = ok(&run(
        db,
        &["explain", "--format", "json", "--message", message],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn denial(role: &str, function: &str, action: &str, resource: &str) -> String {
    format!(
        "User: arn:aws:sts::{A}:assumed-role/{role}/{function} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

fn import_role(db: &Path, dir: &Path, role: &str, inline: Vec<(&str, Value)>) {
    let policies: Vec<Value> = inline
        .into_iter()
        .map(|(n, d)| json!({"PolicyName": n, "PolicyDocument": d}))
        .collect();
    let auth = json!({"RoleDetailList": [{"Path": "/", "RoleName": role, "RoleId": "AROAEXAMPLEFIXES01",
        "Arn": format!("arn:aws:iam::{A}:role/{role}"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": policies, "AttachedManagedPolicies": [], "Tags": []}],
        "UserDetailList": [], "GroupDetailList": [], "Policies": []});
    let f = dir.join(format!("auth-{role}.json"));
    std::fs::write(&f, auth.to_string()).unwrap();
    ok(&run(db, &["import", f.to_str().unwrap()]));
}

fn words(cmd: &str) -> Vec<String> {
    shlex::split(cmd).unwrap()
}

/// `put-role-policy` with a name the role already has replaces that policy and revokes what it
/// granted: the existing document is put back with the statement added.
#[test]
fn an_existing_inline_policy_is_merged_not_replaced() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let keep = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": format!("arn:aws:dynamodb:eu-west-1:{A}:table/Profiles")}]});
    import_role(
        &db,
        d.path(),
        "billing-role",
        vec![("whydenied-billing-sqs", keep)],
    );
    let f = explain(
        &db,
        &denial(
            "billing-role",
            "billing",
            "sqs:SendMessage",
            &format!("arn:aws:sqs:eu-west-1:{A}:invoices"),
        ),
    );
    let cmd = f["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| words(c.as_str().unwrap()))
        .find(|w| w.get(2).map(String::as_str) == Some("put-role-policy"))
        .expect("a put-role-policy command");
    let doc_at = cmd.iter().position(|w| w == "--policy-document").unwrap();
    let doc: Value = serde_json::from_str(&cmd[doc_at + 1]).unwrap();
    let text = doc.to_string();
    assert!(text.contains("dynamodb:GetItem"), "kept: {text}");
    assert!(text.contains("sqs:SendMessage"), "added: {text}");
    assert_eq!(f["fix"]["verified"], true, "{f:#}");
}

/// A role whose name begins with `-` would be read as an option by the AWS CLI.
#[test]
fn names_that_look_like_options_go_with_their_flag() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let f = explain(
        &db,
        &denial(
            "-debug",
            "fn",
            "sqs:SendMessage",
            &format!("arn:aws:sqs:eu-west-1:{A}:q"),
        ),
    );
    let cmds: Vec<Vec<String>> = f["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| words(c.as_str().unwrap()))
        .collect();
    assert!(!cmds.is_empty(), "{f:#}");
    for w in &cmds {
        assert!(!w.iter().any(|x| x == "-debug"), "{w:?}");
        assert!(w.iter().any(|x| x == "--role-name=-debug"), "{w:?}");
    }
}

/// Without the principal, a resource-policy fix has no statement; none grants to everyone.
#[test]
fn an_unknown_principal_gets_no_public_grant() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    // The principal is cut from the message (the IAM guide's form, started at the verb).
    let f = explain(
        &db,
        "is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:111122223333:q because no resource-based policy allows the sqs:SendMessage action",
    );
    for st in f["fix"]["statements"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .chain(
            f["fix"]["statement"]
                .as_object()
                .map(|_| &f["fix"]["statement"]),
        )
    {
        let p = &st["Principal"];
        assert!(p != "*" && p["AWS"] != "*", "public grant: {st}");
    }
}

/// `ec2:RunInstances` on `instance/*` alone fails: the statement names every type it requires.
#[test]
fn run_instances_is_granted_on_every_type_it_requires() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    // The re:Post example of the AWS-FACTS notes, with its reason replaced by the implicit form.
    let f = explain(
        &db,
        "You are not authorized to perform this operation. User: arn:aws:sts::999888777666:assumed-role/ReadOnly/Tom is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:999888777666:instance/* because no identity-based policy allows the ec2:RunInstances action",
    );
    let text = f["fix"].to_string();
    for t in [
        "instance/*",
        "subnet/*",
        "network-interface/*",
        "security-group/*",
        "image/*",
    ] {
        assert!(text.contains(t), "{t} missing: {text}");
    }
}

/// `report --fixes` of a role with thousands of statements stays within IAM's limits: managed
/// policies of at most 6,144 characters, with the commands that create and attach them.
#[test]
fn merged_fixes_are_split_within_iam_limits() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    import_role(&db, d.path(), "scanner-role", vec![]);
    let lines: Vec<String> = (0..400)
        .map(|i| {
            denial(
                "scanner-role",
                "scanner",
                "s3:GetObject",
                &format!("arn:aws:s3:::bucket-with-a-long-name-{i:04}/reports/daily/summary.csv"),
            )
        })
        .collect();
    let log = d.path().join("scanner.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    ok(&run(
        &db,
        &["replay", "--format", "json", log.to_str().unwrap()],
    ));
    let out_file = d.path().join("fix.json");
    let out = run(
        &db,
        &[
            "report",
            "--fixes",
            "--role",
            "scanner-role",
            "-o",
            out_file.to_str().unwrap(),
        ],
    );
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("managed policies"), "{stderr}");
    let cmds: Vec<Vec<String>> = stdout.lines().map(words).collect();
    let creates = cmds
        .iter()
        .filter(|w| w.get(2).map(String::as_str) == Some("create-policy"))
        .count();
    let attaches = cmds
        .iter()
        .filter(|w| w.get(2).map(String::as_str) == Some("attach-role-policy"))
        .count();
    assert!(creates > 1 && creates == attaches, "{stdout}");
    for w in cmds
        .iter()
        .filter(|w| w.get(2).map(String::as_str) == Some("create-policy"))
    {
        let at = w.iter().position(|x| x == "--policy-document").unwrap();
        let file = w[at + 1].strip_prefix("file://").unwrap();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let chars = doc
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        assert!(chars <= 6144, "{file}: {chars} characters");
    }
}

/// A fix to a policy that was never imported proves nothing: `verified` is null, and the notes
/// say what was missing.
#[test]
fn a_fix_to_a_policy_never_imported_is_not_verified() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    import_role(&db, d.path(), "reader-role", vec![]);
    let f = explain(
        &db,
        &format!(
            "User: arn:aws:sts::{A}:assumed-role/reader-role/reader is not authorized to perform: sqs:ReceiveMessage on resource: arn:aws:sqs:eu-west-1:{A}:jobs because no resource-based policy allows the sqs:ReceiveMessage action"
        ),
    );
    assert_eq!(f["fix"]["target"], "resource_policy", "{f:#}");
    assert_eq!(f["fix"]["verified"], Value::Null, "{f:#}");
    assert!(
        f["fix"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("Not verified")),
        "{f:#}"
    );
}

/// A denial for want of a boundary allow is fixed on the boundary, a managed policy: a new
/// default version holding the current default plus the statement, so nothing the boundary
/// allowed is lost. An AWS managed boundary cannot be edited and says so.
#[test]
fn a_boundary_gets_a_new_default_version_keeping_what_it_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let boundary_arn = format!("arn:aws:iam::{A}:policy/team-boundary");
    let boundary_doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:*", "s3:GetObject"], "Resource": "*"}]});
    let identity = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]});
    let auth = json!({"RoleDetailList": [{"Path": "/", "RoleName": "bounded", "RoleId": "AROAEXAMPLEFIXES02",
        "Arn": format!("arn:aws:iam::{A}:role/bounded"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [{"PolicyName": "app", "PolicyDocument": identity}],
        "AttachedManagedPolicies": [],
        "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary_arn},
        "Tags": []}],
        "UserDetailList": [], "GroupDetailList": [],
        "Policies": [{"PolicyName": "team-boundary", "Arn": boundary_arn, "DefaultVersionId": "v1",
            "PolicyVersionList": [{"Document": boundary_doc, "VersionId": "v1", "IsDefaultVersion": true}]}]});
    let f = dir.path().join("auth.json");
    std::fs::write(&f, auth.to_string()).unwrap();
    ok(&run(&db, &["import", f.to_str().unwrap()]));
    let table = format!("arn:aws:dynamodb:us-east-1:{A}:table/orders");
    let message = format!(
        "User: arn:aws:sts::{A}:assumed-role/bounded/fn is not authorized to perform: dynamodb:GetItem on resource: {table} because no permissions boundary allows the dynamodb:GetItem action"
    );
    let d = explain(&db, &message);
    assert_eq!(d["fix"]["target"], "permissions_boundary", "{d:#}");
    let cmds = d["fix"]["commands"].as_array().unwrap();
    let cmd = cmds
        .iter()
        .map(|c| words(c.as_str().unwrap()))
        .find(|w| w.iter().any(|x| x == "create-policy-version"))
        .unwrap_or_else(|| panic!("{d:#}"));
    assert!(cmd.iter().any(|x| x == "--set-as-default"), "{cmd:?}");
    assert!(cmd.contains(&boundary_arn), "{cmd:?}");
    let doc: Value =
        serde_json::from_str(&cmd[cmd.iter().position(|x| x == "--policy-document").unwrap() + 1])
            .unwrap();
    let text = doc.to_string();
    assert!(
        text.contains("s3:GetObject") && text.contains("logs:*"),
        "{text}"
    );
    assert!(text.contains("dynamodb:GetItem"), "{text}");
    assert_eq!(d["fix"]["verified"], true, "{d:#}");
}
