//! Import tests on real exports in `../shared/corpus/iam/` (counts taken from the files with jq),
//! plus the simulator on what was imported. Skipped, saying so, when the corpus is absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::path::Path;
use std::process::Command;

use crate::util::corpus;
use serde_json::Value;
use whydenied::evaluate::gather::PolicySource;
use whydenied::import::{Options, recognise};
use whydenied::store::Store;

fn load(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn bin(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn authorization_details_exports_are_stored_whole() {
    let Some(c) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("i.db")).unwrap();
    // `jq '[.RoleDetailList, .UserDetailList, .GroupDetailList, .Policies] | map(length)'`
    for (file, want) in [
        (
            "iam/cloudsplaining/example-account-authorization-details.json",
            (78, 44, 5, 84),
        ),
        (
            "iam/cloudmapper/iam-get-account-authorization-details.json",
            (4, 2, 1, 2),
        ),
    ] {
        let imp = recognise(&load(&c.join(file)), &Options::default()).unwrap();
        assert_eq!(imp.format, "aws iam get-account-authorization-details");
        assert!(imp.skipped.is_empty(), "{file}: {:?}", imp.skipped);
        let n = store.import(&imp, file).unwrap();
        assert_eq!(
            (n.roles, n.users, n.groups, n.managed_policies),
            want,
            "{file}"
        );
    }
    // Every role is found again, by ARN and by a session ARN (which drops the path).
    let export = load(&c.join("iam/cloudsplaining/example-account-authorization-details.json"));
    for r in export["RoleDetailList"].as_array().unwrap() {
        let arn = r["Arn"].as_str().unwrap();
        let p = store.principal(arn).unwrap();
        assert_eq!(p.kind, "role");
        assert_eq!(
            p.inline.as_ref().unwrap().len(),
            r["RolePolicyList"].as_array().unwrap().len()
        );
        assert_eq!(
            p.attached.as_ref().unwrap().len(),
            r["AttachedManagedPolicies"].as_array().unwrap().len()
        );
        let name = r["RoleName"].as_str().unwrap();
        let account = arn.split(':').nth(4).unwrap();
        let session = format!("arn:aws:sts::{account}:assumed-role/{name}/s");
        assert_eq!(
            store.principal(&session).map(|p| p.arn.clone()).as_deref(),
            Some(arn),
            "{session}"
        );
    }
    // Every managed policy's default version is stored.
    for p in export["Policies"].as_array().unwrap() {
        assert!(store.managed(p["Arn"].as_str().unwrap()).is_some());
    }
    // Re-importing replaces, it does not duplicate.
    let imp = recognise(&export, &Options::default()).unwrap();
    let n = store.import(&imp, "again").unwrap();
    assert_eq!(n.roles, 78);
}

#[test]
fn lambda_outputs_are_recognised() {
    let Some(c) = corpus() else { return };
    let v = load(&c.join("iam/cloudmapper/lambda-get-policy-invpclambda.json"));
    let imp = recognise(&v, &Options::default()).unwrap();
    assert_eq!(imp.format, "aws lambda get-policy");
    let v = load(&c.join("iam/cloudmapper/lambda-list-functions.json"));
    let imp = recognise(&v, &Options::default()).unwrap();
    assert_eq!(imp.format, "aws lambda list-functions");
    assert_eq!(imp.facts.len(), 1);
    // The quoted get-policy outputs: each names its function through its statements.
    let text =
        std::fs::read_to_string(c.join("iam/lambda-get-policy-quoted/get-policy-outputs.jsonl"))
            .unwrap();
    for line in text.lines() {
        let imp = recognise(&serde_json::from_str(line).unwrap(), &Options::default()).unwrap();
        assert_eq!(imp.format, "aws lambda get-policy", "{line}");
    }
}

#[test]
fn shipped_managed_policies_match_the_published_documents() {
    let Some(c) = corpus() else { return };
    let rules = whydenied::rules::Rules::embedded().unwrap();
    let mut compared = 0;
    for m in &rules.managed {
        let f = c.join("managed-policies").join(format!("{}.json", m.name));
        if !f.exists() {
            continue;
        }
        let published = &load(&f)["PolicyVersion"]["Document"];
        let norm = |d: &Value| -> Vec<(Vec<String>, Vec<String>)> {
            let p = whydenied::policy::Policy::parse(d).unwrap();
            let mut v: Vec<_> = p
                .statements
                .iter()
                .map(|s| {
                    let mut a: Vec<String> = s
                        .action
                        .as_ref()
                        .map(|m| m.patterns.iter().map(|p| p.to_string()).collect())
                        .unwrap_or_default();
                    a.sort();
                    let mut r: Vec<String> = s
                        .resource
                        .as_ref()
                        .map(|m| m.patterns.iter().map(|p| p.to_string()).collect())
                        .unwrap_or_default();
                    r.sort();
                    (a, r)
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(norm(&m.document), norm(published), "{}", m.name);
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} compared");
}

#[test]
fn simulate_on_imported_policies() {
    let Some(c) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let export = c.join("iam/cloudsplaining/example-account-authorization-details.json");
    let out = bin(&db, &["import", export.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("78 roles"));
    // A user whose attached policy allows iam:PassRole on *.
    let out = bin(
        &db,
        &[
            "simulate",
            "--principal",
            "arn:aws:iam::200611803367:user/fn1-privesc3-partial-user",
            "--action",
            "iam:PassRole",
            "--resource",
            "arn:aws:iam::200611803367:role/any",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(
        v["deciding"][0]["policy"],
        "arn:aws:iam::200611803367:policy/fn1-passrole-star"
    );
    assert_eq!(v["deciding"][0]["kind"], "identity");
    // The same user may not read SQS.
    let out = bin(
        &db,
        &[
            "simulate",
            "--principal",
            "arn:aws:iam::200611803367:user/fn1-privesc3-partial-user",
            "--action",
            "sqs:ReceiveMessage",
            "--resource",
            "arn:aws:sqs:us-east-1:200611803367:q",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "implicit_deny");
    assert_eq!(v["missing_allow"], serde_json::json!(["identity"]));
    // --with-policy tests a fix before applying it.
    let fix = dir.path().join("fix.json");
    std::fs::write(&fix, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"arn:aws:sqs:us-east-1:200611803367:q"}]}"#).unwrap();
    let out = bin(
        &db,
        &[
            "simulate",
            "--principal",
            "arn:aws:iam::200611803367:user/fn1-privesc3-partial-user",
            "--action",
            "sqs:ReceiveMessage",
            "--resource",
            "arn:aws:sqs:us-east-1:200611803367:q",
            "--with-policy",
            fix.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "allow");
    // A principal that was never imported: exit 2 naming it.
    let out = bin(
        &db,
        &[
            "simulate",
            "--principal",
            "arn:aws:iam::999999999999:role/nobody",
            "--action",
            "s3:GetObject",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("arn:aws:iam::999999999999:role/nobody"));
}

#[test]
fn unknown_files_are_refused_with_what_they_look_like() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let f = dir.path().join("trail.json");
    std::fs::write(&f, r#"{"Records":[]}"#).unwrap();
    let g = dir.path().join("garbage.json");
    std::fs::write(&g, "not json at all").unwrap();
    let out = bin(&db, &["import", f.to_str().unwrap(), g.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trail.json") && err.contains("CloudTrail"),
        "{err}"
    );
    assert!(
        err.contains("garbage.json") && err.contains("not JSON"),
        "{err}"
    );
}

/// `get-policy-version` of a version that is not the default is kept as one of the policy's
/// other versions (not what it grants); authorization details replace them with the versions
/// they list. Output shape: AWS CLI `aws iam get-policy-version` (PolicyVersion object).
#[test]
fn non_default_policy_versions_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("v.db")).unwrap();
    let arn = "arn:aws:iam::111122223333:policy/Boundary";
    let version = |id: &str, default: bool, action: &str| {
        serde_json::json!({"PolicyVersion": {
            "Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]},
            "VersionId": id, "IsDefaultVersion": default, "CreateDate": "2026-11-19T16:02:11Z"}})
    };
    let opts = Options {
        resource: Some(arn.to_string()),
        ..Options::default()
    };
    for (id, default, action) in [
        ("v1", true, "s3:GetObject"),
        ("v3", false, "dynamodb:PutItem"),
        ("v10", false, "sqs:SendMessage"),
    ] {
        let imp = recognise(&version(id, default, action), &opts).unwrap();
        assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
        store.import(&imp, "pv.json").unwrap();
    }
    let default = store.managed(arn).unwrap();
    assert_eq!(default["Statement"][0]["Action"], "s3:GetObject");
    let others: Vec<String> = store
        .managed_versions(arn)
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(others, ["v3", "v10"], "numeric order, the default left out");
    // Authorization details list every version: they replace what was known.
    let details = serde_json::json!({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [],
        "Policies": [{"PolicyName": "Boundary", "Arn": arn, "DefaultVersionId": "v2", "PolicyVersionList": [
            {"Document": {"Version": "2012-10-17", "Statement": []}, "VersionId": "v2", "IsDefaultVersion": true},
            {"Document": {"Version": "2012-10-17", "Statement": []}, "VersionId": "v1", "IsDefaultVersion": false}]}]});
    let imp = recognise(&details, &Options::default()).unwrap();
    store.import(&imp, "details.json").unwrap();
    let others: Vec<String> = store
        .managed_versions(arn)
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(others, ["v1"]);
}
