//! Integration tests that run the real `whydenied` binary on real files in temporary directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::fixtures::{DENIED, denied};
use crate::util::{gzip, samples, stderr};

fn run(db: &Path, args: &[&str]) -> Output {
    crate::util::whydenied(db, args, Some("80"))
}

fn json(out: &Output) -> Vec<Value> {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn replay_samples_twice_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let s = samples();
    let first = run(&db, &["replay", "--format", "json", s.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let a = json(&first);
    assert_eq!(
        a.len(),
        11,
        "samples/README.md lists 13 denials in 11 findings"
    );
    let total: u64 = a.iter().map(|f| f["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 13);
    assert!(
        stderr(&first).contains("13 denials (13 new)"),
        "{}",
        stderr(&first)
    );
    let second = run(&db, &["replay", "--format", "json", s.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(0));
    assert!(
        stderr(&second).contains("13 denials (0 new)"),
        "{}",
        stderr(&second)
    );
    // What was read is shown again, as it is stored: the denials already stored are not
    // diagnosed again, their findings are looked up.
    assert_eq!(
        json(&second),
        a,
        "the second replay prints the same findings"
    );
    let report = run(&db, &["report", "--format", "json"]);
    let b = json(&report);
    assert_eq!(b.len(), 11);
    assert_eq!(
        b.iter().map(|f| f["count"].as_u64().unwrap()).sum::<u64>(),
        13
    );
    // The database is private.
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn findings_have_the_contract_shape() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let out = run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    for f in json(&out) {
        for key in [
            "id",
            "kind",
            "cause",
            "first_seen",
            "last_seen",
            "count",
            "account",
            "region",
            "principal",
            "function",
            "action",
            "resource",
            "message",
            "evidence",
            "policy_state",
            "explanation",
            "fix",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
        assert_eq!(f["id"].as_str().unwrap().len(), 16);
        assert!(
            ["access_denied", "trigger_setup", "invoke_permission", "kms"]
                .contains(&f["kind"].as_str().unwrap())
        );
        assert_eq!(f["policy_state"], "unknown");
        assert!(f["fix"]["verified"].is_null());
        for key in [
            "target",
            "managed_policy_arn",
            "statement",
            "commands",
            "verified",
            "notes",
        ] {
            assert!(f["fix"].get(key).is_some(), "fix.{key} missing");
        }
        for e in f["evidence"].as_array().unwrap() {
            for key in ["source", "file", "record", "time"] {
                assert!(e.get(key).is_some(), "evidence.{key} missing");
            }
        }
        let t = f["last_seen"].as_str().unwrap();
        assert!(t.ends_with('Z') && t.len() == 20, "RFC 3339 seconds: {t}");
    }
    // The SQS mapping failure names the managed policy and its least-privilege statement.
    let report = run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--function",
            "orders-worker",
            "--cause",
            "no_identity_allow",
        ],
    );
    let sqs: Vec<Value> = json(&report)
        .into_iter()
        .filter(|f| f["action"] == "sqs:ReceiveMessage")
        .collect();
    assert_eq!(sqs.len(), 1);
    let f = &sqs[0];
    assert_eq!(f["kind"], "trigger_setup");
    assert_eq!(
        f["fix"]["managed_policy_arn"],
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    );
    assert_eq!(
        f["fix"]["statement"]["Resource"],
        "arn:aws:sqs:eu-west-1:111122223333:orders-queue"
    );
    assert_eq!(
        f["evidence"][0]["event_name"],
        "CreateEventSourceMapping20150331"
    );
}

#[test]
fn report_filters_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let by_role = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--role",
            "invoice-render-role",
        ],
    ));
    assert_eq!(by_role.len(), 1);
    assert_eq!(by_role[0]["action"], "s3:GetObject");
    assert_eq!(by_role[0]["count"], 2);
    let by_arn = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--role",
            "arn:aws:iam::111122223333:role/invoice-render-role",
        ],
    ));
    assert_eq!(by_arn.len(), 1);
    let by_account = json(&run(
        &db,
        &["report", "--format", "json", "--account", "999999999999"],
    ));
    assert!(by_account.is_empty());
    let old = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--until",
            "2020-01-01T00:00:00Z",
        ],
    ));
    assert!(old.is_empty());
    let recent = json(&run(&db, &["report", "--format", "json", "--since", "1h"]));
    assert!(
        recent.is_empty(),
        "sample events are from 2026-11-20, not the last hour"
    );
    let all_since = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--since",
            "2026-11-20T00:00:00Z",
        ],
    ));
    assert_eq!(all_since.len(), 11);
    let jsonl = run(&db, &["report", "--format", "jsonl"]);
    let lines: Vec<&str> = std::str::from_utf8(&jsonl.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(lines.len(), 11);
    for l in lines {
        serde_json::from_str::<Value>(l).unwrap();
    }
    let md = run(&db, &["report", "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&md.stdout).starts_with("# whydenied findings"));
    let table = run(&db, &["report", "--format", "table"]);
    let text = String::from_utf8(table.stdout).unwrap();
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
    assert!(text.contains("orders-worker"));
    let bad = run(&db, &["report", "--since", "yesterday-ish"]);
    assert_eq!(bad.status.code(), Some(2));
    // A misspelt cause is an error that lists the causes, not an empty report.
    let bad = run(&db, &["report", "--cause", "no_identity_alow"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("no_identity_allow"),
        "{}",
        stderr(&bad)
    );
    let one = run(
        &db,
        &["report", "--format", "json", "--cause", "no_identity_allow"],
    );
    assert!(json(&one).iter().all(|f| f["cause"] == "no_identity_allow"));
}

#[test]
fn bad_inputs_are_named_counted_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // One good file among the bad ones.
    std::fs::write(logs.join("good.jsonl"), format!("{}\n", denied("good-1"))).unwrap();
    std::fs::write(
        logs.join("broken.jsonl"),
        format!(
            "{{\"errorCode\": \"AccessDenied\", \"eventName\n{}\n",
            denied("after-broken")
        ),
    )
    .unwrap();
    let records: Vec<String> = (1..=300).map(|i| denied(&format!("gz-{i}"))).collect();
    let full = gzip(format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes());
    std::fs::write(logs.join("truncated.json.gz"), &full[..full.len() * 2 / 3]).unwrap();
    std::fs::write(
        logs.join("garbage.bin"),
        [0u8, 159, 146, 150, 0, 1, 2, 3, 255, 254],
    )
    .unwrap();
    std::fs::write(logs.join("empty.log"), b"").unwrap();
    let mut latin1 = b"2026-11-20T10:00:00.000Z caf\xe9 ".to_vec();
    latin1.extend_from_slice(
        b"An error occurred (AccessDenied) when calling the GetObject operation: Access Denied\n",
    );
    std::fs::write(logs.join("latin1.log"), latin1).unwrap();
    let mut huge = vec![b'x'; 50 * 1024 * 1024];
    huge.push(b'\n');
    huge.extend_from_slice(b"2026-11-20T10:00:00.000Z [ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::111122223333:assumed-role/r/fn-after-huge is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:111122223333:parameter/p because no identity-based policy allows the ssm:GetParameter action\n");
    std::fs::write(logs.join("huge-line.log"), huge).unwrap();
    let db = dir.path().join("w.db");
    let out = run(&db, &["replay", "--format", "json", logs.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for name in [
        "broken.jsonl",
        "truncated.json.gz",
        "garbage.bin",
        "latin1.log",
        "huge-line.log",
    ] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
    assert!(err.contains("line 1"), "the broken line is named: {err}");
    assert!(
        !err.contains("empty.log"),
        "an empty file is not an error: {err}"
    );
    let findings = json(&out);
    let ids: Vec<&str> = findings
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap())
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert!(ids.contains(&"good-1"));
    assert!(
        ids.contains(&"after-broken"),
        "the line after a broken one is read"
    );
    assert!(
        ids.contains(&"gz-1"),
        "records before the gzip truncation are kept"
    );
    let functions: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert!(
        functions.contains(&"fn-after-huge"),
        "the line after an oversized one is read"
    );
    assert!(
        findings.iter().any(|f| f["action"] == "s3:GetObject"),
        "a non-UTF-8 line is still read"
    );
}

#[test]
fn explain_reads_stdin_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .arg("--db")
        .arg(&db)
        .args(["explain", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n{}\n", denied("a"), denied("a")).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = json(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0]["count"], 1,
        "the same event twice is one piece of evidence"
    );
    assert_eq!(f[0]["function"], "app-fn");
    assert_eq!(f[0]["principal"], "arn:aws:iam::111122223333:role/app-role");
    assert!(!db.exists(), "explain created a database");
    let m = run(
        &db,
        &[
            "explain",
            "--format",
            "json",
            "-m",
            "The provided execution role does not have permissions to call PutTraceSegments on XRAY",
        ],
    );
    let f = json(&m);
    assert_eq!(f[0]["action"], "xray:PutTraceSegments");
    assert_eq!(
        f[0]["fix"]["managed_policy_arn"],
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
    );
}

#[test]
fn hostile_text_is_escaped_and_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    // S3 quotes the resource, so a key may hold anything, spaces and quotes included.
    let evil = DENIED
        .replace("app-fn", "app-fn\\u001b]0;pwned\\u0007")
        .replace(
            "dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T",
            "s3:GetObject on resource: \\\"arn:aws:s3:::b/reports/'; rm -rf ~; echo '.csv\\\"",
        )
        .replace("EVENT-ID", "evil");
    let file = dir.path().join("evil.jsonl");
    std::fs::write(&file, format!("{evil}\n")).unwrap();
    let out = run(
        &db,
        &["replay", "--format", "table", file.to_str().unwrap()],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "raw ESC reached the terminal: {text:?}"
    );
    let out = run(&db, &["report", "--format", "json"]);
    let f = json(&out);
    let cmd = f[0]["fix"]["commands"][0].as_str().unwrap();
    let words = shlex::split(cmd).unwrap();
    assert_eq!(
        words[0..4],
        ["aws", "iam", "put-role-policy", "--role-name"]
    );
    let doc_at = words.iter().position(|w| w == "--policy-document").unwrap();
    let doc: Value = serde_json::from_str(&words[doc_at + 1]).unwrap();
    assert_eq!(
        doc["Statement"][0]["Resource"],
        "arn:aws:s3:::b/reports/'; rm -rf ~; echo '.csv"
    );
}

#[test]
fn usage_and_fatal_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&dir.path().join("w.db"), &["replay"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&dir.path().join("w.db"), &["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    // A database path under a file cannot be created.
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let out = run(&file.join("w.db"), &["replay", samples().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("w.db"));
    // A report before any replay says what to do.
    let out = run(&dir.path().join("none.db"), &["report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("replay"));
}

#[test]
fn imported_policies_decide_state_cause_and_verification() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let p = samples().join("policies");
    let f = |n: &str| p.join(n).to_str().unwrap().to_string();
    let out = run(
        &db,
        &[
            "import",
            &f("iam-authorization-details.json"),
            &f("lambda-list-functions.json"),
            &f("lambda-get-policy-invoice-render.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = "arn:aws:kms:eu-west-1:111122223333:key/3f6c2a1e-8b4d-4e7a-9c15-2d8e7f0a4b61";
    let out = run(
        &db,
        &["import", "--resource", key, &f("kms-get-key-policy.json")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &db,
        &[
            "import",
            "--target",
            "111122223333",
            &f("organizations-describe-policy-deny-ec2.json"),
            &f("organizations-describe-policy-full-access.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let findings = json(&out);
    let by_action = |a: &str| {
        findings
            .iter()
            .find(|f| f["action"] == a)
            .unwrap_or_else(|| panic!("{a}"))
    };
    for f in &findings {
        assert_eq!(f["policy_state"], "denied", "{}", f["action"]);
    }
    // The session ARN lacks the role's path; the imported role supplies it.
    let s3 = by_action("s3:GetObject");
    assert_eq!(
        s3["principal"],
        "arn:aws:iam::111122223333:role/service-role/invoice-render-role"
    );
    assert_eq!(s3["fix"]["verified"], true);
    // The SQS mapping's execution role comes from the function configuration.
    let sqs = by_action("sqs:ReceiveMessage");
    assert_eq!(
        sqs["principal"],
        "arn:aws:iam::111122223333:role/orders-worker-role"
    );
    assert_eq!(sqs["fix"]["verified"], true);
    assert!(
        sqs["fix"]["commands"][0]
            .as_str()
            .unwrap()
            .contains("attach-role-policy")
    );
    // An explicit deny names its statement; the fix narrows it (the action leaves the Deny's
    // list) and is verified with the narrowed statement in place.
    let put = by_action("dynamodb:PutItem");
    assert_eq!(put["cause"], "explicit_deny_identity");
    assert_eq!(put["fix"]["verified"], true);
    let narrowed = &put["fix"]["statement"];
    assert_eq!(narrowed["Effect"], "Deny");
    assert!(
        !narrowed["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "dynamodb:PutItem")
    );
    let words = shlex::split(put["fix"]["commands"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        words[..4],
        ["aws", "iam", "create-policy-version", "--policy-arn"]
    );
    assert!(
        put["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("DenyProdWrites"))
    );
    // The SCP denies RunInstances for this instance type, read from the request parameters.
    let run_i = by_action("ec2:RunInstances");
    assert_eq!(run_i["cause"], "explicit_deny_scp");
    // Changed from the management account, which the SCP's ARN names.
    assert_eq!(run_i["fix"]["account"], "444455556666", "{run_i:#}");
    // S3 may not invoke the function: the add-permission fix is verified on the function policy.
    let inv = by_action("lambda:InvokeFunction");
    assert_eq!(inv["principal"], "s3.amazonaws.com");
    assert_eq!(inv["fix"]["verified"], true);
    // The key policy denies Decrypt.
    let kms = by_action("kms:Decrypt");
    assert_eq!(kms["cause"], "no_resource_allow");
    assert_eq!(kms["fix"]["target"], "key_policy");
    // explain uses the stored policies too.
    let m = run(
        &db,
        &[
            "explain",
            "--format",
            "json",
            "-m",
            "User: arn:aws:sts::111122223333:assumed-role/orders-api-role/orders-api is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:111122223333:orders-queue",
        ],
    );
    let f = json(&m);
    assert_eq!(f[0]["policy_state"], "denied");
    assert_eq!(
        f[0]["cause"], "no_identity_allow",
        "the legacy message gives no reason; the verdict does"
    );
    assert_eq!(f[0]["fix"]["verified"], true);
}

#[test]
fn merged_fixes_for_a_role_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let p = samples().join("policies");
    let out = run(
        &db,
        &[
            "import",
            p.join("iam-authorization-details.json").to_str().unwrap(),
            p.join("lambda-list-functions.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let file = dir.path().join("fix.json");
    let out = run(
        &db,
        &[
            "report",
            "--fixes",
            "--role",
            "orders-worker-role",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 2 findings verified"),
        "{}",
        stderr(&out)
    );
    let words = shlex::split(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(
        words[..6],
        [
            "aws",
            "iam",
            "put-role-policy",
            "--role-name",
            "orders-worker-role",
            "--policy-name"
        ]
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let actions: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    for a in [
        "secretsmanager:GetSecretValue",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // --fixes needs a role.
    let out = run(&db, &["report", "--fixes"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn propagation_names_the_role_change_seen_in_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    // The account as it is now: orders-worker-role has the SQS policy attached since.
    let mut auth: Value = serde_json::from_str(
        &std::fs::read_to_string(samples().join("policies/iam-authorization-details.json"))
            .unwrap(),
    )
    .unwrap();
    for r in auth["RoleDetailList"].as_array_mut().unwrap() {
        if r["RoleName"] == "orders-worker-role" {
            r["AttachedManagedPolicies"].as_array_mut().unwrap().push(serde_json::json!({
                "PolicyName": "AWSLambdaSQSQueueExecutionRole",
                "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
            }));
        }
    }
    let now = dir.path().join("auth-now.json");
    std::fs::write(&now, auth.to_string()).unwrap();
    let functions = samples().join("policies/lambda-list-functions.json");
    run(
        &db,
        &["import", now.to_str().unwrap(), functions.to_str().unwrap()],
    );
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let f = json(&run(
        &db,
        &["report", "--format", "json", "--cause", "propagation"],
    ));
    let sqs = f
        .iter()
        .find(|f| f["action"] == "sqs:ReceiveMessage")
        .unwrap();
    assert_eq!(sqs["policy_state"], "allowed_now");
    assert_eq!(sqs["fix"]["target"], "none");
    let last = sqs["explanation"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        last.contains("AttachRolePolicy") && last.contains("10:14:02"),
        "{last}"
    );
    // Replaying again does not repeat the sentence.
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let f = json(&run(
        &db,
        &["report", "--format", "json", "--cause", "propagation"],
    ));
    let sqs = f
        .iter()
        .find(|f| f["action"] == "sqs:ReceiveMessage")
        .unwrap();
    let n = sqs["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.as_str().unwrap().contains("AttachRolePolicy"))
        .count();
    assert_eq!(n, 1);
}

#[test]
fn suppressions_hide_but_keep_counting_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let all = json(&run(&db, &["report", "--format", "json"]));
    let s3 = all.iter().find(|f| f["action"] == "s3:GetObject").unwrap();
    let id = s3["id"].as_str().unwrap().get(..8).unwrap().to_string();
    let out = run(
        &db,
        &[
            "suppress",
            &id,
            "--reason",
            "scanner probing templates",
            "--until",
            "30d",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = json(&run(&db, &["report", "--format", "json"]));
    assert_eq!(shown.len(), all.len() - 1, "suppressed findings are hidden");
    let with_all = json(&run(&db, &["report", "--format", "json", "--all"]));
    assert_eq!(with_all.len(), all.len());
    let f = with_all
        .iter()
        .find(|f| f["action"] == "s3:GetObject")
        .unwrap();
    assert_eq!(f["suppressed"]["reason"], "scanner probing templates");
    assert_eq!(f["count"], 2, "still counted");
    // A rules file with wildcards, and an expired rule that hides nothing.
    let rules = dir.path().join("quiet.toml");
    std::fs::write(
        &rules,
        r#"
[[suppress]]
principal = "arn:aws:iam::111122223333:role/orders-*"
action = "SQS:*"
reason = "queue work in progress"

[[suppress]]
action = "*"
reason = "expired"
until = "2020-01-01T00:00:00Z"
"#,
    )
    .unwrap();
    let shown = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--suppressions",
            rules.to_str().unwrap(),
        ],
    ));
    assert!(
        !shown.iter().any(|f| f["action"] == "sqs:SendMessage"),
        "the wildcard rule hides SQS"
    );
    assert!(
        shown.iter().any(|f| f["action"] == "dynamodb:PutItem"),
        "the expired rule hides nothing"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[suppress]]\nreason = \"x\"\nprincipl = \"y\"\n").unwrap();
    let out = run(&db, &["report", "--suppressions", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("principl"));
}

#[test]
fn findings_resolve_when_a_later_import_allows_and_reopen_on_new_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let status = |s: &str| json(&run(&db, &["report", "--format", "json", "--status", s]));
    let sqs = |list: &[Value]| {
        list.iter()
            .find(|f| f["action"] == "sqs:ReceiveMessage")
            .cloned()
    };
    let p = samples().join("policies");
    let auth = p.join("iam-authorization-details.json");
    let functions = p.join("lambda-list-functions.json");
    run(
        &db,
        &[
            "import",
            auth.to_str().unwrap(),
            functions.to_str().unwrap(),
        ],
    );
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let open = status("open");
    assert!(open.iter().any(|f| f["action"] == "sqs:ReceiveMessage"));
    // The fix is applied: the role now has the SQS policy.
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&auth).unwrap()).unwrap();
    for r in v["RoleDetailList"].as_array_mut().unwrap() {
        if r["RoleName"] == "orders-worker-role" {
            r["AttachedManagedPolicies"].as_array_mut().unwrap().push(serde_json::json!({
                "PolicyName": "AWSLambdaSQSQueueExecutionRole",
                "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
            }));
        }
    }
    let fixed = dir.path().join("auth-fixed.json");
    std::fs::write(&fixed, v.to_string()).unwrap();
    let out = run(&db, &["import", fixed.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resolved"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let resolved = status("resolved");
    let found = sqs(&resolved).unwrap();
    assert!(found["resolved_at"].is_string());
    let open = status("open");
    assert!(sqs(&open).is_none());
    assert!(
        open.iter()
            .any(|f| f["action"] == "secretsmanager:GetSecretValue"),
        "not fixed, still open"
    );
    // The same denial again: reopened.
    let again = dir.path().join("again.jsonl");
    let rec = r#"{"eventVersion":"1.09","eventTime":"2026-11-21T09:00:00Z","eventSource":"lambda.amazonaws.com","eventName":"CreateEventSourceMapping20150331","awsRegion":"eu-west-1","errorCode":"InvalidParameterValueException","errorMessage":"The provided execution role does not have permissions to call ReceiveMessage on SQS","requestParameters":{"functionName":"orders-worker","eventSourceArn":"arn:aws:sqs:eu-west-1:111122223333:orders-queue"},"eventID":"reopen-1","recipientAccountId":"111122223333","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/deploy-role/ci","accountId":"111122223333"}}"#;
    std::fs::write(&again, format!("{rec}\n")).unwrap();
    // Back to the state before the fix: the stored policies deny again, so the finding is
    // open again, saying so, before any new denial.
    let out = run(&db, &["import", auth.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 finding open again"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let open = status("open");
    let found = sqs(&open).unwrap();
    assert_eq!(found["policy_state"], "denied", "{found}");
    assert_ne!(found["cause"], "propagation", "{found}");
    assert!(found["resolved_at"].is_null());
    run(
        &db,
        &["replay", "--format", "json", again.to_str().unwrap()],
    );
    let open = status("open");
    let found = sqs(&open).unwrap();
    assert!(found["resolved_at"].is_null());
    assert_eq!(found["count"], 2);
}

#[test]
fn show_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    run(
        &db,
        &["replay", "--format", "json", samples().to_str().unwrap()],
    );
    let all = json(&run(&db, &["report", "--format", "json"]));
    let sqs = all
        .iter()
        .find(|f| f["action"] == "sqs:ReceiveMessage")
        .unwrap();
    let out = run(
        &db,
        &[
            "show",
            sqs["id"].as_str().unwrap().get(..10).unwrap(),
            "--format",
            "table",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Finding",
        "Why",
        "Fix",
        "AWSLambdaSQSQueueExecutionRole",
        "Evidence (1)",
        "CreateEventSourceMapping20150331",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let out = run(&db, &["stats", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["by_kind"]["trigger_setup"]["findings"], 4);
    assert_eq!(v["ingest"]["replay"]["denials"], 13);
    let total: u64 = v["denials_by_day"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 13);
    let out = run(&db, &["stats"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("by cause:"));
}

/// A corrupt database, one from a newer whydenied, a world-writable one and one locked by
/// another process each stop `replay` with exit 2 and the reason, and none of them is changed.
#[test]
fn database_faults_exit_2_with_the_reason_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("ct.json");
    std::fs::write(&logs, denied("E1")).unwrap();
    let logs = logs.to_str().unwrap();

    let corrupt = dir.path().join("corrupt.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&corrupt, &garbage).unwrap();
    std::fs::set_permissions(&corrupt, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&corrupt, &["replay", logs]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt.db"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&corrupt).unwrap(), garbage);

    let db = dir.path().join("w.db");
    assert_eq!(run(&db, &["replay", logs]).status.code(), Some(0));
    let count = |db: &Path| -> i64 {
        let c = rusqlite::Connection::open(db).unwrap();
        c.query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&db), 1);

    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let out = run(&db, &["replay", logs]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));
    let c = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99, "a newer database is not migrated");
    c.pragma_update(None, "user_version", whydenied::store::SCHEMA_VERSION)
        .unwrap();
    drop(c);

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = run(&db, &["replay", logs]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("writable"), "{}", stderr(&out));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Another writer holds the database past the busy timeout.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    std::fs::write(dir.path().join("ct.json"), denied("E2")).unwrap();
    let out = run(&db, &["replay", logs]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(count(&db), 1);
    // Once the lock is gone the same replay stores the new occurrence.
    assert_eq!(run(&db, &["replay", logs]).status.code(), Some(0));
    assert_eq!(count(&db), 2);
}

/// A full disk (here: the file-size limit, with SIGXFSZ ignored so writes fail with EFBIG as
/// they would with ENOSPC) stops `replay` with exit 2 naming the database; what was committed
/// stays intact, and a later replay stores exactly the rest.
#[test]
fn a_full_disk_stops_replay_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let logs = dir.path().join("ct.jsonl");
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&denied(&format!("full-{i}")));
        text.push('\n');
    }
    std::fs::write(&logs, text).unwrap();
    let first = dir.path().join("first.json");
    std::fs::write(&first, denied("first")).unwrap();
    assert_eq!(
        run(&db, &["replay", first.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 600; exec \"$0\" --db \"$1\" replay \"$2\"")
        .arg(env!("CARGO_BIN_EXE_whydenied"))
        .arg(&db)
        .arg(&logs)
        .env_remove("WHYDENIED_DB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("w.db"), "{}", stderr(&out));
    let count = || -> i64 {
        let c = rusqlite::Connection::open(&db).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        c.query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))
            .unwrap()
    };
    let stored = count();
    assert!((1..20_001).contains(&stored), "{stored}");
    assert_eq!(
        run(&db, &["replay", logs.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(count(), 20_001);
}

/// Symbolic links inside a replayed directory: followed while they stay inside it, skipped
/// and named (not an error) when they lead out unless `--follow-symlinks`; a link back to a
/// parent directory neither loops nor reads anything twice.
#[test]
fn symlinks_out_of_a_replayed_directory_are_skipped_unless_asked() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(logs.join("sub/a.json"), denied("inside-1") + "\n").unwrap();
    std::fs::write(outside.join("b.json"), denied("outside-1") + "\n").unwrap();
    symlink(&outside, logs.join("elsewhere")).unwrap();
    symlink(outside.join("b.json"), logs.join("b-link.json")).unwrap();
    symlink("..", logs.join("sub/up")).unwrap();
    symlink("sub", logs.join("sub-again")).unwrap();
    let count =
        |out: &Output| -> u64 { json(out).iter().map(|f| f["count"].as_u64().unwrap()).sum() };

    let db = dir.path().join("w.db");
    let out = run(&db, &["replay", "--format", "json", logs.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(count(&out), 1, "{err}");
    assert!(
        err.contains("elsewhere: skipped") && err.contains("b-link.json: skipped"),
        "{err}"
    );
    assert!(err.contains("--follow-symlinks"), "{err}");
    // The inside file is read once although three paths lead to it.
    assert!(err.contains("1 file, 1 record,"), "{err}");

    let db2 = dir.path().join("w2.db");
    let out = run(
        &db2,
        &[
            "replay",
            "--follow-symlinks",
            "--format",
            "json",
            logs.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&out), 2, "{}", stderr(&out));
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));

    // A link to nothing is named and counted as an error; the rest is still read.
    symlink(dir.path().join("gone"), logs.join("dangling.json")).unwrap();
    let out = run(
        &dir.path().join("w4.db"),
        &["replay", "--format", "json", logs.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("dangling.json"), "{}", stderr(&out));
    assert_eq!(count(&out), 1, "{}", stderr(&out));
    std::fs::remove_file(logs.join("dangling.json")).unwrap();

    // A link given on the command line is the user's own choice: followed.
    let db3 = dir.path().join("w3.db");
    let out = run(
        &db3,
        &[
            "replay",
            "--format",
            "json",
            logs.join("elsewhere").to_str().unwrap(),
        ],
    );
    assert_eq!(count(&out), 1, "{}", stderr(&out));
}

/// The size limits are `replay` flags too: a record, a line or an inflating gzip file past them
/// is named and counted, and the rest of the input is still read.
#[test]
fn replay_limits_are_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("logs");
    std::fs::create_dir(dir).unwrap();
    let big = format!(
        "{{\"Records\":[{},{}]}}",
        denied("big").replace(
            "\"eventVersion\"",
            &format!("\"pad\":\"{}\",\"eventVersion\"", "x".repeat(3000))
        ),
        denied("small")
    );
    std::fs::write(dir.as_path().join("records.json"), &big).unwrap();
    let line = format!("2026-11-20T10:00:00.000Z\t1\tINFO\t{}\n", "y".repeat(3000));
    std::fs::write(dir.as_path().join("app.log"), line).unwrap();
    let many: String = (0..100)
        .map(|i| denied(&format!("gz-{i}")) + "\n")
        .collect();
    std::fs::write(dir.as_path().join("bomb.json.gz"), gzip(many.as_bytes())).unwrap();
    let db = tmp.path().join("w.db");
    let out = run(
        &db,
        &[
            "replay",
            "--format",
            "json",
            "--max-record-bytes",
            "2000",
            "--max-line-bytes",
            "2000",
            "--max-decompressed-bytes",
            "20000",
            dir.as_path().to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("records.json") && err.contains("2000"),
        "{err}"
    );
    assert!(err.contains("app.log"), "{err}");
    assert!(
        err.contains("bomb.json.gz") && err.contains("max_decompressed_bytes"),
        "{err}"
    );
    let stored: u64 = json(&out)
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    // The small record, and the gzip lines before the cut (each about 700 bytes).
    assert!((20..100).contains(&(stored - 1)), "{stored}: {err}");
    // Without the flags everything is read.
    let out = run(
        &tmp.path().join("w2.db"),
        &[
            "replay",
            "--format",
            "json",
            dir.as_path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stored: u64 = json(&out)
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    assert_eq!(stored, 102);
}

/// A database kept inside the replayed directory is not read as a log, nor are its side files.
#[test]
fn replay_skips_its_own_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), denied("own-1") + "\n").unwrap();
    let db = dir.path().join("w.db");
    for _ in 0..2 {
        let out = run(
            &db,
            &["replay", "--format", "json", dir.path().to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("1 file,"), "{}", stderr(&out));
    }
}

/// Findings saved by `replay --format json` (or jsonl) beside the logs are not read back as log
/// events: the second replay of the folder counts nothing new.
#[test]
fn replay_does_not_read_its_own_output_as_logs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), denied("own-out-1") + "\n").unwrap();
    let db = dir.path().join("w.db");
    for format in ["json", "jsonl"] {
        let out = run(
            &db,
            &["replay", "--format", format, dir.path().to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::write(dir.path().join(format!("out.{format}")), &out.stdout).unwrap();
    }
    let out = run(
        &db,
        &["replay", "--format", "json", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let found = json(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["count"], 1, "{}", stderr(&out));
}

/// `replay` writes JSON as it reads findings from the store: byte for byte what `report` prints
/// for the same findings, in both JSON shapes, and `[]` when there are none.
#[test]
fn streamed_replay_output_equals_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let samples = samples();
    for format in ["json", "jsonl"] {
        let replayed = run(
            &db,
            &["replay", "--format", format, samples.to_str().unwrap()],
        );
        assert!(replayed.status.success(), "{}", stderr(&replayed));
        let reported = run(&db, &["report", "--format", format]);
        assert!(!replayed.stdout.is_empty());
        // Exactly serde_json's own layout of the whole array (keys keep their order).
        let text = String::from_utf8(replayed.stdout.clone()).unwrap();
        let whole = if format == "json" {
            let v: Value = serde_json::from_str(&text).unwrap();
            serde_json::to_string_pretty(&v).unwrap() + "\n"
        } else {
            text.lines()
                .map(|l| {
                    serde_json::to_string(&serde_json::from_str::<Value>(l).unwrap()).unwrap()
                        + "\n"
                })
                .collect()
        };
        assert_eq!(text, whole);
        assert_eq!(
            String::from_utf8_lossy(&replayed.stdout),
            String::from_utf8_lossy(&reported.stdout)
        );
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(
        &db,
        &["replay", "--format", "json", empty.to_str().unwrap()],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
}

/// After an import every open finding is diagnosed again in place: the role of a trigger
/// error becomes known, its state and fix follow the imported policies, and its id stays, so
/// a later event of the same problem counts on the same finding.
#[test]
fn an_import_diagnoses_open_findings_again_and_keeps_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let s = samples();
    let out = run(&db, &["replay", "--format", "json", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = json(&run(&db, &["report", "--format", "json"]));
    let trigger = |v: &[Value]| -> Value {
        v.iter()
            .find(|f| f["action"] == "sqs:ReceiveMessage" && f["kind"] == "trigger_setup")
            .cloned()
            .unwrap()
    };
    let t0 = trigger(&before);
    assert!(t0["principal"].is_null(), "{t0:#}");
    let out = run(&db, &["import", s.join("policies").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("diagnosed again"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = json(&run(&db, &["report", "--format", "json"]));
    assert_eq!(after.len(), before.len(), "no finding appears or vanishes");
    let ids = |v: &[Value]| -> std::collections::BTreeSet<String> {
        v.iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&before),
        ids(&after),
        "ids do not change with an import"
    );
    let t1 = trigger(&after);
    assert_eq!(t1["id"], t0["id"]);
    assert_eq!(
        t1["principal"],
        "arn:aws:iam::111122223333:role/orders-worker-role"
    );
    assert_ne!(t1["policy_state"], "unknown", "{t1:#}");
    assert!(!t1["fix"]["verified"].is_null(), "{t1:#}");
    // A later event of the same problem: the same finding, one more.
    let later = {
        use std::io::Read;
        let gz = std::fs::read_dir(s.join("cloudtrail"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".json.gz"))
            .unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains("ReceiveMessage"))
            })
            .map(|r| {
                let mut r = r.clone();
                r["eventID"] = Value::from("later-receive-message");
                r["eventTime"] = Value::from("2026-11-21T10:00:00Z");
                r.to_string()
            })
    };
    assert!(
        later.is_some(),
        "the samples hold the ReceiveMessage setup error"
    );
    if let Some(line) = later {
        let f = dir.path().join("later.jsonl");
        std::fs::write(&f, line + "\n").unwrap();
        let out = run(&db, &["replay", "--format", "json", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let again = json(&run(&db, &["report", "--format", "json"]));
        assert_eq!(again.len(), after.len(), "{}", stderr(&out));
        assert_eq!(trigger(&again)["count"], t1["count"].as_u64().unwrap() + 1);
    }
}

/// Completions and manual pages come from the same command definition as `--help`, and the
/// help itself lists every command with one line, describes every flag and says each default
/// once.
#[test]
fn completions_manual_and_help_describe_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let commands = [
        "replay",
        "report",
        "explain",
        "import",
        "simulate",
        "watch",
        "show",
        "suppress",
        "stats",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&db, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for c in commands {
            assert!(text.contains(c), "{shell} completion lacks {c}");
        }
    }
    let out = run(&db, &["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH whydenied 1"));
    let pages = dir.path().join("man");
    let out = run(&db, &["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for c in commands {
        assert!(
            pages.join(format!("whydenied-{c}.1")).exists(),
            "no page for {c}"
        );
    }
    let top = String::from_utf8_lossy(&run(&db, &["--help"]).stdout).to_string();
    for c in commands {
        assert!(
            top.lines()
                .any(|l| l.trim_start().starts_with(c) && l.trim().len() > c.len() + 2),
            "{c} is listed with a line of its own: {top}"
        );
    }
    let flag = regex::Regex::new(r"^\s+(-[A-Za-z], )?--[a-z][a-z-]*( |$)").unwrap();
    for c in commands {
        let out = run(&db, &[c, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{c}: {}", stderr(&out));
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            assert!(
                !(line.contains("(default") && line.contains("[default:")),
                "{c}: a default said twice: {line}"
            );
            if flag.is_match(line) {
                // `-x, --flag <VALUE>  Description`, or the description on the next line when
                // the flag is long.
                let same_line = line
                    .trim_start()
                    .split("  ")
                    .filter(|p| !p.trim().is_empty())
                    .count()
                    >= 2;
                let next_line = lines.get(i + 1).is_some_and(|n| {
                    n.starts_with("   ") && !n.trim_start().starts_with('-') && !n.trim().is_empty()
                });
                assert!(
                    same_line || next_line,
                    "{c}: a flag without a description: {line}"
                );
            }
        }
    }
}

/// An HTTP API's access log in the JSON format (the fields of AWS's JSON example in
/// http-api-logging-variables.html, with `$context.integrationErrorMessage`, whose text is the
/// one https://repost.aws/knowledge-center/api-gateway-http-lambda-integrations quotes), as a
/// CloudWatch Logs export writes it (a timestamp first) and as bare JSON lines: both name the
/// route, which the imported routes and integrations join to its function. One finding.
#[test]
fn http_api_json_access_logs_name_the_routes_function() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let exports = crate::util::root().join("tests/scenarios/apigateway-http-api/exports");
    let ex = |f: &str| exports.join(f).to_string_lossy().into_owned();
    let out = run(&db, &["import", &ex("lambda-list-functions.json")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &db,
        &[
            "import",
            "--resource",
            "arn:aws:apigateway:us-east-1::/apis/9x8y7z6w5v",
            &ex("apigatewayv2-get-routes.json"),
            &ex("apigatewayv2-get-integrations.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stream = dir.path().join("logs/9x8y7z6w5v_.default-2026-11-20-12-40");
    std::fs::create_dir_all(&stream).unwrap();
    let line = r#"{"requestId":"Vc8pLhRtIAMEcRt=","ip":"203.0.113.61","requestTime":"20/Nov/2026:12:40:21 +0000","httpMethod":"POST","routeKey":"POST /orders","status":"500","protocol":"HTTP/1.1","responseLength":"35","integrationErrorMessage":"The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration. Check the permissions and try again."}"#;
    std::fs::write(
        stream.join("000000"),
        format!("2026-11-20T12:40:21.884Z {line}\n"),
    )
    .unwrap();
    std::fs::write(stream.join("000001"), format!("{line}\n")).unwrap();
    let out = run(
        &db,
        &[
            "replay",
            "--format",
            "json",
            dir.path().join("logs").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = json(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["count"], 2);
    assert_eq!(f[0]["principal"], "apigateway.amazonaws.com");
    assert_eq!(f[0]["function"], "orders-http");
    let cmd = f[0]["fix"]["commands"][0].as_str().unwrap();
    assert!(
        cmd.contains("arn:aws:execute-api:us-east-1:111122223333:9x8y7z6w5v/*/POST/orders"),
        "{cmd}"
    );
}

/// Every piece of evidence has the keys CONTRACT.md's example shows, `null` where the log has
/// no such value (a Lambda function's log has no CloudTrail event id).
#[test]
fn evidence_always_has_event_id_and_event_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let log = crate::util::samples().join("lambda-logs/orders-api.log");
    let out = run(&db, &["replay", "--format", "json", log.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = json(&out);
    assert!(!found.is_empty());
    for f in &found {
        for e in f["evidence"].as_array().unwrap() {
            let e = e.as_object().unwrap();
            for key in ["source", "file", "record", "event_id", "event_name", "time"] {
                assert!(e.contains_key(key), "{key} missing in {e:?}");
            }
            assert_ne!(e["source"], "cloudtrail");
            assert!(e["event_id"].is_null(), "{e:?}");
        }
    }
}

/// A Lambda CreateFunction passes its execution role to Lambda: the stored policy's
/// `iam:PassedToService` condition is decided (the request's value is `lambda.amazonaws.com`),
/// not left unknown. Message in the form of https://github.com/mozilla-iam/cis/issues/33, caller
/// and role substituted.
#[test]
fn create_function_passes_the_role_to_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let auth = samples().join("policies/iam-authorization-details.json");
    let out = run(&db, &["import", auth.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let record = serde_json::json!({
        "eventVersion": "1.09", "eventTime": "2026-11-20T10:00:00Z",
        "eventSource": "lambda.amazonaws.com", "eventName": "CreateFunction20150331",
        "awsRegion": "eu-west-1", "errorCode": "AccessDenied",
        "errorMessage": "User: arn:aws:sts::111122223333:assumed-role/deploy-role/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/orders-api-role",
        "requestParameters": {"functionName": "orders-api", "role": "arn:aws:iam::111122223333:role/orders-api-role"},
        "eventID": "pass-1", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/deploy-role/ci", "accountId": "111122223333"}
    });
    let f = dir.path().join("create.json");
    std::fs::write(&f, format!("{record}\n")).unwrap();
    let out = run(&db, &["explain", "--format", "json", f.to_str().unwrap()]);
    let found = json(&out);
    let pass = found
        .iter()
        .find(|x| x["action"] == "iam:PassRole")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(pass["policy_state"], "allowed_now", "{pass:#}");
}

/// A replay's table and Markdown views show what that replay touched, as `report` shows the
/// same findings, and nothing stored before it.
#[test]
fn replay_views_show_what_the_replay_touched() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, format!("{}\n", denied("ev-1"))).unwrap();
    let second = dir.path().join("second.jsonl");
    let other = DENIED
        .replace("app-fn", "billing-fn")
        .replace("app-role", "billing-role")
        .replace("EVENT-ID", "ev-2");
    std::fs::write(&second, format!("{other}\n")).unwrap();
    for format in ["table", "markdown"] {
        let replayed = dir.path().join(format!("again-{format}.db"));
        run(
            &replayed,
            &["replay", "--format", "json", first.to_str().unwrap()],
        );
        let out = run(
            &replayed,
            &["replay", "--format", format, second.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let shown = String::from_utf8(out.stdout).unwrap();
        assert!(shown.contains("billing-fn"), "{format}: {shown}");
        assert!(
            !shown.contains("app-fn"),
            "{format} shows a finding stored before: {shown}"
        );
        let report = run(
            &replayed,
            &["report", "--format", format, "--function", "billing-fn"],
        );
        assert_eq!(shown, String::from_utf8(report.stdout).unwrap(), "{format}");
    }
}

/// A JSON report of hundreds of findings is read in chunks by two threads and written in
/// order: every finding once, in the documented order (latest first, then the larger count,
/// then the id), each with all its evidence, and the same findings as JSON lines.
#[test]
fn a_large_json_report_keeps_its_order_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let logs = dir.path().join("many.jsonl");
    let mut lines = String::new();
    // 300 tables, some denied more than once and some at the same time, so that the order
    // needs every key.
    for t in 0..300 {
        for k in 0..=(t % 3) {
            let minute = (t * 7) % 50;
            let rec = DENIED
                .replace("table/T", &format!("table/T{t}"))
                .replace("10:00:00Z", &format!("10:{minute:02}:{k:02}Z"))
                .replace("EVENT-ID", &format!("ev-{t}-{k}"));
            lines.push_str(&rec);
            lines.push('\n');
        }
    }
    std::fs::write(&logs, lines).unwrap();
    let out = run(&db, &["replay", "--format", "json", logs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let replayed = json(&out);
    let report = json(&run(&db, &["report", "--format", "json"]));
    assert_eq!(report.len(), 300);
    assert_eq!(replayed, report);
    let key = |f: &Value| {
        (
            std::cmp::Reverse(f["last_seen"].as_str().unwrap().to_string()),
            std::cmp::Reverse(f["count"].as_u64().unwrap()),
            f["id"].as_str().unwrap().to_string(),
        )
    };
    assert!(report.windows(2).all(|w| key(&w[0]) < key(&w[1])));
    for f in &report {
        let t: usize = f["resource"]
            .as_str()
            .unwrap()
            .rsplit("/T")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(f["count"].as_u64(), Some(t as u64 % 3 + 1));
        assert_eq!(
            f["evidence"].as_array().unwrap().len() as u64,
            f["count"].as_u64().unwrap()
        );
    }
    // One finding read alone (one chunk, this thread) is the same as in the large report.
    let third = &report[123];
    let alone = json(&run(
        &db,
        &[
            "report",
            "--format",
            "json",
            "--id",
            third["id"].as_str().unwrap(),
        ],
    ));
    assert_eq!(&alone[0], third);
    let lines_out = run(&db, &["report", "--format", "jsonl"]);
    let from_lines: Vec<Value> = String::from_utf8(lines_out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_lines, report);
}
