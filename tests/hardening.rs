//! Hostile and unlucky inputs through the real binary: files that look alike, formats that
//! look like others, resources that never end, databases others can write, text that hides.
//! Every denial text is AWS's documented template (IAM User Guide, "Troubleshooting access
//! denied error messages") inside the botocore `ClientError` line a Python function logs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("WHYDENIED_DB")
        .env("COLUMNS", "100")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn findings(db: &Path) -> Vec<Value> {
    let out = run(db, &["report", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn total(db: &Path) -> u64 {
    findings(db)
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum()
}

/// One Lambda invocation that logs a denial of `param`.
fn lambda_log(param: &str, request: &str) -> String {
    format!(
        "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:f1f2983ee6a5180648530e997cf00206e4b3814bdcbdb53f2db5e0f1b7376565\n\
         START RequestId: {request} Version: $LATEST\n\
         [ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::111122223333:assumed-role/geo-role/geo-lookup is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:111122223333:parameter/{param} because no identity-based policy allows the ssm:GetParameter action\n\
         END RequestId: {request}\n"
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn replay(db: &Path, path: &Path) -> Output {
    run(db, &["replay", "--format", "json", path.to_str().unwrap()])
}

/// Two logs that begin with the same line are two files: each denial is kept.
#[test]
fn replayed_files_beginning_alike_keep_both_denials() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("one.log"), lambda_log("first", "r-1")).unwrap();
    std::fs::write(logs.join("two.log"), lambda_log("second", "r-2")).unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &logs);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(findings(&db).len(), 2, "{}", text(&out));
}

/// A log and its gzip copy hold the same denials: counted once, in one replay or two.
#[test]
fn a_log_and_its_compressed_copy_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let body: String = (0..3)
        .map(|i| lambda_log(&format!("p{i}"), &format!("r-{i}")))
        .collect();
    std::fs::write(logs.join("a.log.1"), &body).unwrap();
    std::fs::write(logs.join("a.log.2.gz"), gzip(body.as_bytes())).unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &logs);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(total(&db), 3, "{}", text(&out));
    let out = replay(&db, &logs.join("a.log.2.gz"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(total(&db), 3);
}

/// A text log that begins with `[` is text (Python's uncaught-exception line), and one NUL
/// byte does not make a log binary: the denials in both are found.
#[test]
fn text_that_begins_like_json_or_holds_a_nul_is_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = lambda_log("bracket", "r-1");
    let error_first = log
        .lines()
        .filter(|l| l.starts_with("[ERROR]"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(logs.join("bracket.log"), format!("{error_first}\n")).unwrap();
    let with_nul = lambda_log("nul", "r-2").replace("START RequestId", "START\0RequestId");
    std::fs::write(logs.join("nul.log"), with_nul).unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &logs);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let resources: Vec<String> = findings(&db)
        .iter()
        .map(|f| f["resource"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(resources.len(), 2, "{}", text(&out));
    assert!(resources.iter().any(|r| r.ends_with("parameter/bracket")));
    assert!(resources.iter().any(|r| r.ends_with("parameter/nul")));
}

/// In JSON lines, a garbage line with an unbalanced `{` does not swallow the next record.
#[test]
fn a_broken_json_line_does_not_swallow_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let event = |id: &str| {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"PutItem","awsRegion":"eu-west-1","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/app-role/app-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T because no identity-based policy allows the dynamodb:PutItem action","eventID":"{id}","recipientAccountId":"111122223333","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app-role/app-fn","accountId":"111122223333"}}}}"#
        )
    };
    let f = dir.path().join("events.jsonl");
    std::fs::write(
        &f,
        format!(
            "{}\nnot json {{ at all\n{}\n{}\n",
            event("e-1"),
            event("e-2"),
            event("e-3")
        ),
    )
    .unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &f);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("line 2"), "{}", text(&out));
    assert_eq!(total(&db), 3, "{}", text(&out));
}
