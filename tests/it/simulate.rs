//! `whydenied import DIR` and `whydenied simulate` through the real binary: who owns a resource,
//! which organization policies apply, what the organization says of a caller, and a verdict that
//! shows both sides of a request across accounts. Each case names the AWS documentation that
//! decides it.
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
const B: &str = "444455556666";
const MGMT: &str = "999988887777";

fn run(db: &Path, args: &[&str]) -> Output {
    crate::util::whydenied(db, args, None)
}

fn write(dir: &Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn doc(st: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": st}).to_string()
}

/// An authorization-details export with role `r1` at `/diff/` in `acct`, allowed `allow`.
fn auth(acct: &str, allow: &[&str], extra_roles: Vec<Value>) -> Value {
    let mut roles = vec![
        json!({"Path": "/diff/", "RoleName": "r1", "RoleId": "AROAEXAMPLE1",
        "Arn": format!("arn:aws:iam::{acct}:role/diff/r1"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": if allow.is_empty() { json!([]) } else { json!([{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": allow, "Resource": "*"}]}}]) },
        "AttachedManagedPolicies": [], "Tags": []}),
    ];
    roles.extend(extra_roles);
    json!({"RoleDetailList": roles, "UserDetailList": [], "GroupDetailList": [], "Policies": []})
}

fn simulate(db: &Path, principal: &str, action: &str, resource: &str, ctx: &[&str]) -> Value {
    let mut args = vec![
        "simulate",
        "--format",
        "json",
        "--principal",
        principal,
        "--action",
        action,
        "--resource",
        resource,
    ];
    for c in ctx {
        args.push("--context");
        args.push(c);
    }
    serde_json::from_str(&ok(&run(db, &args))).unwrap()
}

fn session(acct: &str) -> String {
    format!("arn:aws:sts::{acct}:assumed-role/r1/s")
}

/// Root cause 1: a bucket's ARN has no account; its owner comes from `--context
/// aws:ResourceAccount`, else from `import --owner` (or the manifest), else the caller's account.
/// Across accounts both sides must allow, and the owner's RCPs apply to S3.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>
#[test]
fn the_bucket_owner_decides_cross_account() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let exports = d.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    write(&exports, "auth.json", &auth(A, &["s3:GetObject"], vec![]));
    let bucket = doc(
        json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{B}:root")},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b1/*"}]),
    );
    write(&exports, "bucket.json", &json!({"Policy": bucket}));
    ok(&run(
        &db,
        &["import", exports.join("auth.json").to_str().unwrap()],
    ));
    // Without an owner the bucket is taken as the caller's: the identity policy allows.
    ok(&run(
        &db,
        &[
            "import",
            "--resource",
            "arn:aws:s3:::b1",
            exports.join("bucket.json").to_str().unwrap(),
        ],
    ));
    let key = "arn:aws:s3:::b1/k";
    let v = simulate(&db, &session(A), "s3:GetObject", key, &[]);
    assert_eq!(v["decision"], "allow", "{v:#}");
    // The context names the owner: across accounts, the bucket policy names only B.
    let v = simulate(
        &db,
        &session(A),
        "s3:GetObject",
        key,
        &[&format!("aws:ResourceAccount={B}")],
    );
    assert_eq!(v["decision"], "implicit_deny", "{v:#}");
    assert_eq!(v["missing_allow"], json!(["resource"]));
    assert_eq!(
        v["cross_account"]["denied_by"],
        json!(["resource"]),
        "{v:#}"
    );
    assert_eq!(v["cross_account"]["identity_side"]["decision"], "allow");
    assert_eq!(
        v["cross_account"]["identity_side"]["deciding"][0]["policy"],
        format!("arn:aws:iam::{A}:role/diff/r1#p")
    );
    assert_eq!(
        v["cross_account"]["resource_side"]["decision"],
        "implicit_deny"
    );
    // Imported with its owner, the same holds without the context.
    ok(&run(
        &db,
        &[
            "import",
            "--resource",
            "arn:aws:s3:::b1",
            "--owner",
            B,
            exports.join("bucket.json").to_str().unwrap(),
        ],
    ));
    let v = simulate(&db, &session(A), "s3:GetObject", key, &[]);
    assert_eq!(v["decision"], "implicit_deny", "{v:#}");
    // `--owner` takes an account id only.
    let bad = run(
        &db,
        &[
            "import",
            "--owner",
            "12",
            exports.join("bucket.json").to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
}

/// An RCP of the bucket owner's organization applies to S3 (it was never applied, since bucket
/// ARNs carry no account), and RCPs skip services they do not cover.
/// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html>
#[test]
fn rcps_apply_to_buckets_and_only_to_covered_services() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let e = d.path().join("exports");
    std::fs::create_dir(&e).unwrap();
    write(
        &e,
        "auth.json",
        &auth(A, &["s3:GetObject", "lambda:GetFunction"], vec![]),
    );
    write(
        &e,
        "rcp-full.json",
        &json!({"Policy": {"PolicySummary": {"Id": "p-RCPFullAWSAccess", "Arn": "arn:aws:organizations::aws:policy/resource_control_policy/p-RCPFullAWSAccess", "Name": "RCPFullAWSAccess", "Type": "RESOURCE_CONTROL_POLICY", "AwsManaged": true},
        "Content": doc(json!([{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]))}}),
    );
    write(
        &e,
        "rcp-deny.json",
        &json!({"Policy": {"PolicySummary": {"Id": "p-denys3", "Arn": format!("arn:aws:organizations::{MGMT}:policy/o-a1b2c3d4e5/resource_control_policy/p-denys3"), "Name": "DenyAll", "Type": "RESOURCE_CONTROL_POLICY", "AwsManaged": false},
        "Content": doc(json!([{"Effect": "Deny", "Principal": "*", "Action": ["s3:*", "lambda:*"], "Resource": "*"}]))}}),
    );
    std::fs::write(
        e.join("whydenied-import.toml"),
        format!("[[file]]\npath = \"rcp-*.json\"\ntarget = \"{A}\"\n"),
    )
    .unwrap();
    let out = ok(&run(&db, &["import", e.to_str().unwrap()]));
    assert!(
        out.contains("1 organization link") || out.contains("organization links"),
        "{out}"
    );
    let v = simulate(&db, &session(A), "s3:GetObject", "arn:aws:s3:::b1/k", &[]);
    assert_eq!(v["decision"], "explicit_deny", "{v:#}");
    assert_eq!(v["deciding"][0]["kind"], "rcp");
    // Lambda is not a service RCPs cover: the same Deny does not apply.
    let f = format!("arn:aws:lambda:eu-west-1:{A}:function:f");
    let v = simulate(&db, &session(A), "lambda:GetFunction", &f, &[]);
    assert_eq!(v["decision"], "allow", "{v:#}");
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("do not apply to lambda")),
        "{v:#}"
    );
}

/// SCPs do not restrict the management account nor service-linked roles; the organization
/// places accounts, so `aws:PrincipalOrgID` is derived for them.
/// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html>
#[test]
fn scps_skip_the_management_account_and_service_linked_roles() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let e = d.path().join("exports");
    std::fs::create_dir(&e).unwrap();
    let slr = json!({"Path": "/aws-service-role/lambda.amazonaws.com/", "RoleName": "AWSServiceRoleForLambda", "RoleId": "AROAEXAMPLESLR",
        "Arn": format!("arn:aws:iam::{A}:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}}],
        "AttachedManagedPolicies": [], "Tags": []});
    write(&e, "auth-a.json", &auth(A, &["sqs:*"], vec![slr]));
    write(&e, "auth-m.json", &auth(MGMT, &["sqs:*"], vec![]));
    write(
        &e,
        "organization.json",
        &json!({"Organization": {"Id": "o-a1b2c3d4e5", "Arn": format!("arn:aws:organizations::{MGMT}:organization/{MGMT}/o-a1b2c3d4e5"), "FeatureSet": "ALL",
        "MasterAccountArn": format!("arn:aws:organizations::{MGMT}:account/o-a1b2c3d4e5/{MGMT}"), "MasterAccountId": MGMT, "MasterAccountEmail": "admin@example.com"}}),
    );
    write(
        &e,
        "parents-a.json",
        &json!({"Parents": [{"Id": "r-ab12", "Type": "ROOT"}]}),
    );
    write(
        &e,
        "scp.json",
        &json!({"Policy": {"PolicySummary": {"Id": "p-denysqs", "Arn": format!("arn:aws:organizations::{MGMT}:policy/o-a1b2c3d4e5/service_control_policy/p-denysqs"), "Name": "NoSqs", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": false},
        "Content": doc(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]))}}),
    );
    std::fs::write(
        e.join("whydenied-import.toml"),
        format!("[[file]]\npath = \"parents-a.json\"\ntarget = \"{A}\"\n\n[[file]]\npath = \"scp.json\"\ntarget = [\"r-ab12\", \"{MGMT}\"]\n"),
    )
    .unwrap();
    ok(&run(&db, &["import", e.to_str().unwrap()]));
    let q = |acct: &str| format!("arn:aws:sqs:eu-west-1:{acct}:q");
    let v = simulate(&db, &session(A), "sqs:SendMessage", &q(A), &[]);
    assert_eq!(v["decision"], "explicit_deny", "{v:#}");
    let v = simulate(&db, &session(MGMT), "sqs:SendMessage", &q(MGMT), &[]);
    assert_eq!(v["decision"], "allow", "the management account: {v:#}");
    let slr = format!("arn:aws:sts::{A}:assumed-role/AWSServiceRoleForLambda/x");
    let v = simulate(&db, &slr, "sqs:SendMessage", &q(A), &[]);
    assert_eq!(v["decision"], "allow", "a service-linked role: {v:#}");
    // The organization places A under its root: aws:PrincipalOrgID is known.
    let bucket = doc(
        json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b1/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]),
    );
    write(&e, "bucket.json", &json!({"Policy": bucket}));
    ok(&run(
        &db,
        &[
            "import",
            "--resource",
            "arn:aws:s3:::b1",
            "--owner",
            B,
            e.join("bucket.json").to_str().unwrap(),
        ],
    ));
    // A's role has no S3 permission: the bucket allows the organization, the identity side
    // does not, across accounts.
    let v = simulate(&db, &session(A), "s3:GetObject", "arn:aws:s3:::b1/k", &[]);
    assert_eq!(v["decision"], "implicit_deny", "{v:#}");
    assert_eq!(v["missing_allow"], json!(["identity"]), "{v:#}");
    assert_eq!(v["missing_context_keys"], json!([]), "{v:#}");
}

/// `import DIR` reads every export under it, with the manifest's per-file options; what is not
/// an export is skipped with a note, a key policy without its key is an error naming the
/// manifest.
#[test]
fn import_a_directory_with_its_manifest() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/policies");
    let out = ok(&run(&db, &["import", samples.to_str().unwrap()]));
    assert!(
        out.contains("kms-get-key-policy.json: aws kms get-key-policy: stored 1 resource policy"),
        "{out}"
    );
    assert!(!out.contains("applies to nothing"), "{out}");
    let e = d.path().join("exports");
    std::fs::create_dir_all(e.join("nested")).unwrap();
    std::fs::write(e.join("notes.txt"), "not an export").unwrap();
    write(&e, "package.json", &json!({"name": "x"}));
    write(
        &e,
        "nested/key.json",
        &json!({"Policy": doc(json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"}])), "PolicyName": "default"}),
    );
    let out = run(&db, &["import", e.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("notes.txt: skipped"), "{stdout}");
    assert!(
        stdout.contains("package.json: skipped: not an export"),
        "{stdout}"
    );
    assert!(stderr.contains("whydenied-import.toml"), "{stderr}");
    std::fs::write(
        e.join("whydenied-import.toml"),
        format!("[[file]]\npath = \"nested/key.json\"\nresource = \"arn:aws:kms:eu-west-1:{A}:key/k1\"\n"),
    )
    .unwrap();
    ok(&run(&db, &["import", e.to_str().unwrap()]));
    // Refused: what is not a regular file.
    let out = run(&db, &["import", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

/// A trust policy that names a deleted role by its unique id (IAM shows `AROA...` once the ARN it
/// was saved with is gone) is named in the explanation of an AssumeRole denial. The denial text
/// is CloudTrail's, from DataDog/stratus-red-team's `aws.discovery.ec2-download-user-data`.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles>
#[test]
fn a_stale_unique_id_in_a_trust_policy_is_named() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let acct = "321848314756";
    let target = json!({"Path": "/", "RoleName": "stratus-red-team-get-usr-data-role", "RoleId": "AROAEXAMPLETARGET01",
        "Arn": format!("arn:aws:iam::{acct}:role/stratus-red-team-get-usr-data-role"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "AROAJ2T6ZLEXAMPLEOLD"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": []});
    let user = json!({"Path": "/", "UserName": "christophe", "UserId": "AIDAEXAMPLEUSER0001", "Arn": format!("arn:aws:iam::{acct}:user/christophe"),
        "GroupList": [], "UserPolicyList": [{"PolicyName": "assume", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}}],
        "AttachedManagedPolicies": [], "Tags": []});
    write(
        d.path(),
        "auth.json",
        &json!({"RoleDetailList": [target], "UserDetailList": [user], "GroupDetailList": [], "Policies": []}),
    );
    ok(&run(
        &db,
        &["import", d.path().join("auth.json").to_str().unwrap()],
    ));
    let out = ok(&run(
        &db,
        &[
            "explain",
            "--format",
            "json",
            "--message",
            &format!(
                "User: arn:aws:iam::{acct}:user/christophe is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{acct}:role/stratus-red-team-get-usr-data-role"
            ),
        ],
    ));
    let f: Value = serde_json::from_str(&out).unwrap();
    let f = &f[0];
    assert_eq!(f["policy_state"], "denied", "{f:#}");
    assert!(
        f["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("AROAJ2T6ZLEXAMPLEOLD")),
        "{f:#}"
    );
    // The fix trusts the caller by its ARN, on the role assumed; the merged trust policy leaves
    // the stale id out, since IAM refuses to save a policy that names one.
    assert_eq!(f["fix"]["target"], "trust_policy", "{f:#}");
    assert_eq!(
        f["fix"]["statement"]["Principal"]["AWS"],
        format!("arn:aws:iam::{acct}:user/christophe")
    );
    let cmd = f["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| shlex::split(c.as_str().unwrap()).unwrap())
        .find(|w| w.iter().any(|x| x == "update-assume-role-policy"))
        .expect("update-assume-role-policy");
    let doc = &cmd[cmd.iter().position(|x| x == "--policy-document").unwrap() + 1];
    assert!(!doc.contains("AROAJ2T6ZLEXAMPLEOLD"), "{doc}");
    assert!(doc.contains("user/christophe"), "{doc}");
    assert!(
        cmd.iter()
            .any(|x| x == "stratus-red-team-get-usr-data-role"),
        "{cmd:?}"
    );
}

/// A message without a time whose request the imported policies allow: `policy_state` says what
/// they decide today (`allowed_now`); `unknown` is kept for a principal never imported. The
/// explanation does not claim an order the log cannot show.
#[test]
fn an_untimed_denial_the_stored_policies_allow_is_allowed_now() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("w.db");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/policies");
    ok(&run(&db, &["import", samples.to_str().unwrap()]));
    // The wording of AWS's "Troubleshoot access denied error messages" (IAM User Guide).
    let m = "User: arn:aws:sts::111122223333:assumed-role/orders-api-role/orders-api is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/Orders because no identity-based policy allows the dynamodb:GetItem action";
    let out = ok(&run(&db, &["explain", "--format", "json", "-m", m]));
    let f: Value = serde_json::from_str(&out).unwrap();
    let f = &f[0];
    assert_eq!(f["policy_state"], "allowed_now", "{f:#}");
    assert_eq!(f["cause"], "no_identity_allow", "{f:#}");
    assert!(f["fix"]["verified"].is_null(), "already allowed: {f:#}");
    let why = f["explanation"].to_string();
    assert!(why.contains("The log gives no time"), "{why}");
    assert!(!why.contains("imported before this denial"), "{why}");
    assert!(!why.contains("the grant came later"), "{why}");
}
