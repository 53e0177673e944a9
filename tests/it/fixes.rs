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
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::path::Path;
use std::process::Output;

use crate::util::ok;
use serde_json::{Value, json};

const A: &str = "111122223333";

fn run(db: &Path, args: &[&str]) -> Output {
    crate::util::whydenied(db, args, None)
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
/// granted: a fix never takes a name the role uses (its old fix-policy name included), and two
/// fixes for one role and service (two queues) take two names, so applying both keeps both.
#[test]
fn an_inline_fix_never_replaces_a_policy() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let keep = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": format!("arn:aws:dynamodb:eu-west-1:{A}:table/Profiles")}]});
    import_role(
        &db,
        d.path(),
        "billing-role",
        vec![("whydenied-billing-sqs", keep)],
    );
    let put = |queue: &str| -> (String, Value) {
        let f = explain(
            &db,
            &denial(
                "billing-role",
                "billing",
                "sqs:SendMessage",
                &format!("arn:aws:sqs:eu-west-1:{A}:{queue}"),
            ),
        );
        assert_eq!(f["fix"]["verified"], true, "{f:#}");
        let cmd = f["fix"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| words(c.as_str().unwrap()))
            .find(|w| w.get(2).map(String::as_str) == Some("put-role-policy"))
            .expect("a put-role-policy command");
        let at = |flag: &str| cmd[cmd.iter().position(|w| w == flag).unwrap() + 1].clone();
        (
            at("--policy-name"),
            serde_json::from_str(&at("--policy-document")).unwrap(),
        )
    };
    let (invoices, doc) = put("invoices");
    let (receipts, _) = put("receipts");
    assert_ne!(invoices, "whydenied-billing-sqs", "the role's own policy");
    assert_ne!(invoices, receipts, "two grants, two policies");
    assert!(doc.to_string().contains("sqs:SendMessage"), "{doc}");
    assert_eq!(put("invoices").0, invoices, "the same fix, the same name");
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

fn import_file(db: &Path, dir: &Path, name: &str, v: &Value, flags: &[&str]) {
    let f = dir.join(name);
    std::fs::write(&f, v.to_string()).unwrap();
    let mut args = vec!["import"];
    args.extend_from_slice(flags);
    args.push(f.to_str().unwrap());
    ok(&run(db, &args));
}

fn command_with(d: &Value, word: &str) -> Vec<String> {
    d["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| words(c.as_str().unwrap()))
        .find(|w| w.iter().any(|x| x == word))
        .unwrap_or_else(|| panic!("no {word} command in {d:#}"))
}

fn arg_after(cmd: &[String], flag: &str) -> String {
    cmd[cmd.iter().position(|x| x == flag).unwrap() + 1].clone()
}

/// A bucket policy that denies everything not coming through one VPC endpoint
/// (`aws:SourceVpce`, the S3 User Guide's "Restricting access to a specific VPC endpoint"
/// example): the log does not say which endpoint a request used, so the deny depends on an
/// unknown key. The fix exempts this role whatever the key's value, keeps the exemptions
/// already there, and puts the whole bucket policy back.
#[test]
fn a_deny_on_an_unknown_key_gets_an_exemption_that_holds_whatever_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    import_role(
        &db,
        dir.path(),
        "reader",
        vec![(
            "read",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports-bucket/*"}]}),
        )],
    );
    let admin = format!("arn:aws:iam::{A}:role/admin");
    let policy = json!({"Version": "2012-10-17", "Id": "Policy1415115909152", "Statement": [
        {"Sid": "Access-to-specific-VPCE-only", "Principal": "*", "Action": "s3:*", "Effect": "Deny",
         "Resource": ["arn:aws:s3:::reports-bucket", "arn:aws:s3:::reports-bucket/*"],
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"},
                       "ArnNotEquals": {"aws:PrincipalArn": admin}}}]});
    import_file(
        &db,
        dir.path(),
        "bucket.json",
        &json!({"Policy": policy.to_string()}),
        &["--resource", "arn:aws:s3:::reports-bucket"],
    );
    let message = format!(
        "User: arn:aws:sts::{A}:assumed-role/reader/fn is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::reports-bucket/2026/q4.csv with an explicit deny in a resource-based policy"
    );
    let d = explain(&db, &message);
    assert_eq!(d["fix"]["target"], "resource_policy", "{d:#}");
    let cmd = command_with(&d, "put-bucket-policy");
    assert_eq!(arg_after(&cmd, "--bucket"), "reports-bucket");
    let doc: Value = serde_json::from_str(&arg_after(&cmd, "--policy")).unwrap();
    let exempt = &doc["Statement"][0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"];
    let list: Vec<&str> = exempt
        .as_array()
        .unwrap_or_else(|| panic!("{doc:#}"))
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(list.contains(&admin.as_str()), "{doc:#}");
    assert!(
        list.contains(&format!("arn:aws:iam::{A}:role/reader").as_str()),
        "{doc:#}"
    );
    assert_eq!(
        doc["Statement"][0]["Condition"]["StringNotEquals"]["aws:SourceVpce"],
        "vpce-1a2b3c4d"
    );
    assert_eq!(d["fix"]["verified"], true, "{d:#}");
}

const MGMT: &str = "999988887777";

fn import_org(db: &Path, dir: &Path, scp: &Value, id: &str) {
    import_file(
        db,
        dir,
        "org.json",
        &json!({"Organization": {"Id": "o-exampleorgid", "MasterAccountId": MGMT, "FeatureSet": "ALL"}}),
        &[],
    );
    let arn =
        format!("arn:aws:organizations::{MGMT}:policy/o-exampleorgid/service_control_policy/{id}");
    import_file(
        db,
        dir,
        &format!("{id}.json"),
        &json!({"Policy": {"PolicySummary": {"Id": id, "Arn": arn, "Name": "allow-list",
            "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": false}, "Content": scp.to_string()}}),
        &["--target", A],
    );
}

/// No SCP on the account's path allows the action: the allow-list SCP attached there gets the
/// statement merged in (`organizations update-policy`), run from the management account.
#[test]
fn a_missing_scp_allow_is_merged_into_the_policy_at_that_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    import_role(
        &db,
        dir.path(),
        "worker",
        vec![(
            "app",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}),
        )],
    );
    import_org(
        &db,
        dir.path(),
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}]}),
        "p-examplescp1",
    );
    let message = format!(
        "User: arn:aws:sts::{A}:assumed-role/worker/fn is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:{A}:table/orders because no service control policy allows the dynamodb:GetItem action"
    );
    let d = explain(&db, &message);
    assert_eq!(d["fix"]["target"], "scp", "{d:#}");
    assert_eq!(d["fix"]["account"], MGMT, "{d:#}");
    let cmd = command_with(&d, "update-policy");
    assert_eq!(arg_after(&cmd, "--policy-id"), "p-examplescp1");
    let content = arg_after(&cmd, "--content");
    assert!(
        content.contains("s3:*") && content.contains("dynamodb:GetItem"),
        "{content}"
    );
    assert!(content.len() <= 5120);
    assert!(
        d["fix"]["notes"].to_string().contains(A),
        "the note names the target: {d:#}"
    );
    assert_eq!(d["fix"]["verified"], true, "{d:#}");
}

/// An SCP that denies a list of actions: the action comes out of the list, and the whole SCP
/// goes back with `update-policy`.
#[test]
fn an_scp_deny_is_narrowed_and_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    import_role(
        &db,
        dir.path(),
        "worker",
        vec![(
            "app",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}),
        )],
    );
    import_org(
        &db,
        dir.path(),
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoData", "Effect": "Deny", "Action": ["dynamodb:DeleteTable", "dynamodb:Scan"], "Resource": "*"}]}),
        "p-examplescp2",
    );
    let message = format!(
        "User: arn:aws:sts::{A}:assumed-role/worker/fn is not authorized to perform: dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:{A}:table/orders with an explicit deny in a service control policy"
    );
    let d = explain(&db, &message);
    assert_eq!(d["fix"]["target"], "scp", "{d:#}");
    let cmd = command_with(&d, "update-policy");
    assert_eq!(arg_after(&cmd, "--policy-id"), "p-examplescp2");
    let content: Value = serde_json::from_str(&arg_after(&cmd, "--content")).unwrap();
    assert_eq!(
        content["Statement"][1]["Action"],
        json!(["dynamodb:DeleteTable"])
    );
    assert_eq!(content["Statement"][0]["Action"], "*");
    assert_eq!(d["fix"]["account"], MGMT, "{d:#}");
    assert_eq!(d["fix"]["verified"], true, "{d:#}");
}

/// A resource policy in another account is changed with that account's credentials:
/// `fix.account` names it (the message form of AWS's IAM troubleshooting page, "because no
/// resource-based policy allows the <action> action", with the names substituted).
#[test]
fn a_resource_owned_by_another_account_names_that_account() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let f = explain(
        &db,
        &format!(
            "User: arn:aws:sts::{A}:assumed-role/orders-api-role/orders-api is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:444455556666:partner-queue because no resource-based policy allows the sqs:SendMessage action"
        ),
    );
    assert_eq!(f["fix"]["target"], "resource_policy", "{f:#}");
    assert_eq!(f["fix"]["account"], "444455556666", "{f:#}");
    // The same account's queue: nobody else must act.
    let f = explain(
        &db,
        &format!(
            "User: arn:aws:sts::{A}:assumed-role/orders-api-role/orders-api is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:{A}:orders-queue because no resource-based policy allows the sqs:SendMessage action"
        ),
    );
    assert!(f["fix"]["account"].is_null(), "{f:#}");
}

/// A VPC endpoint policy's explicit Deny is its owner's to narrow: the target says so, and no
/// Allow statement (which could not override the Deny) is offered. The enhanced message form
/// "with an explicit deny in a VPC endpoint policy" of AWS's access-denied documentation, names
/// substituted.
#[test]
fn a_vpc_endpoint_deny_is_narrowed_by_its_owner() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let f = explain(
        &db,
        &format!(
            "User: arn:aws:sts::{A}:assumed-role/orders-api-role/orders-api is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::reports/a.csv\" with an explicit deny in a VPC endpoint policy"
        ),
    );
    assert_eq!(f["cause"], "explicit_deny_vpc_endpoint", "{f:#}");
    assert_eq!(f["fix"]["target"], "vpc_endpoint_policy", "{f:#}");
    assert!(f["fix"]["statement"].is_null(), "{f:#}");
    assert!(
        f["fix"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("narrows the denying statement"),
        "{f:#}"
    );
}
