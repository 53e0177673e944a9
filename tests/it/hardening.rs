//! Hostile and unlucky inputs through the real binary: files that look alike, formats that
//! look like others, resources that never end, databases others can write, text that hides.
//! Every denial text is AWS's documented template (IAM User Guide, "Troubleshooting access
//! denied error messages") inside the botocore `ClientError` line a Python function logs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::gzip;

fn run(db: &Path, args: &[&str]) -> Output {
    crate::util::whydenied(db, args, Some("100"))
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
    let event = crate::fixtures::denied;
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

fn cloudtrail_event(id: &str, table: &str) -> String {
    crate::fixtures::denied(id).replace(":table/T ", &format!(":table/{table} "))
}

/// Two replays into one database at once: the second waits for the first's transactions
/// instead of failing, and every denial of both is stored.
#[test]
fn concurrent_replays_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let mut files = Vec::new();
    for side in ["a", "b"] {
        let d = dir.path().join(side);
        std::fs::create_dir(&d).unwrap();
        for f in 0..8 {
            let records: Vec<String> = (0..2000)
                .map(|i| cloudtrail_event(&format!("{side}-{f}-{i}"), &format!("{side}{}", i % 50)))
                .collect();
            std::fs::write(
                d.join(format!("{f}.json.gz")),
                gzip(format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes()),
            )
            .unwrap();
        }
        files.push(d);
    }
    let spawn = |d: &Path| {
        Command::new(env!("CARGO_BIN_EXE_whydenied"))
            .arg("--db")
            .arg(&db)
            .args(["replay", "--format", "json"])
            .arg(d)
            .env_remove("WHYDENIED_DB")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn(&files[0]);
    let b = spawn(&files[1]);
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(total(&db), 2 * 8 * 2000);
}

/// AWS said an SCP denied: an SCP imported without `--target` applies to nothing and is no
/// evidence the deny is gone, so the finding stays open; the same SCP attached to the account
/// (and allowing) resolves it.
#[test]
fn a_stated_scp_deny_is_not_resolved_by_an_scp_that_applies_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let msg = "User: arn:aws:sts::111122223333:assumed-role/app-role/app-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T with an explicit deny in a service control policy";
    let event = cloudtrail_event("scp-1", "T").replace(
        "User: arn:aws:sts::111122223333:assumed-role/app-role/app-fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/T because no identity-based policy allows the dynamodb:PutItem action",
        msg,
    );
    let log = dir.path().join("scp.jsonl");
    std::fs::write(&log, format!("{event}\n")).unwrap();
    assert_eq!(replay(&db, &log).status.code(), Some(0));
    let auth_file = app_role_may_put_items(dir.path());
    let scp = serde_json::json!({"Policy": {"PolicySummary": {"Id": "p-FullAWSAccess", "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": true},
        "Content": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}});
    let scp_file = dir.path().join("scp.json");
    std::fs::write(&scp_file, scp.to_string()).unwrap();
    let out = run(
        &db,
        &[
            "import",
            auth_file.to_str().unwrap(),
            scp_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(findings(&db)[0]["status"], "open", "{}", text(&out));
    let out = import_for_account(&db, &scp_file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(findings(&db)[0]["status"], "resolved", "{}", text(&out));
}

/// `get-account-authorization-details` of `app-role`, whose inline policy allows
/// `dynamodb:PutItem` everywhere (so only an organization policy can deny it), written in `dir`.
fn app_role_may_put_items(dir: &Path) -> std::path::PathBuf {
    let auth = serde_json::json!({"RoleDetailList": [{"Path": "/", "RoleName": "app-role", "RoleId": "AROAEXAMPLEHARDEN1",
        "Arn": "arn:aws:iam::111122223333:role/app-role",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [{"PolicyName": "app", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}}],
        "AttachedManagedPolicies": [], "Tags": []}], "UserDetailList": [], "GroupDetailList": [], "Policies": []});
    let f = dir.join("auth.json");
    std::fs::write(&f, auth.to_string()).unwrap();
    f
}

fn event_as(role: &str, id: &str, table: &str) -> String {
    cloudtrail_event(id, table).replace("app-role", role)
}

fn replay_events(db: &Path, dir: &Path, events: &[String]) {
    let f = dir.join(format!("events-{}.jsonl", events.len()));
    std::fs::write(&f, events.join("\n") + "\n").unwrap();
    let out = replay(db, &f);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// `--role` and ids are compared as text: `_` and `%` are not patterns.
#[test]
fn role_and_id_filters_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    replay_events(
        &db,
        dir.path(),
        &[event_as("app-a", "e-1", "T"), event_as("app_a", "e-2", "T")],
    );
    let principals = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["report", "--format", "json"];
        a.extend_from_slice(args);
        let out = run(&db, &a);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter()
            .map(|f| f["principal"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        principals(&["--role", "app_a"]),
        vec!["arn:aws:iam::111122223333:role/app_a"]
    );
    assert_eq!(
        principals(&["--role", "app-a"]),
        vec!["arn:aws:iam::111122223333:role/app-a"]
    );
    assert!(principals(&["--role", "%"]).is_empty());
    assert!(principals(&["--role", "app%"]).is_empty());
    // `show` of an id that is not there fails the same way piped or not; '' and '%' name nothing.
    for id in ["", "%", "_", "deadbeef"] {
        let out = run(&db, &["show", id]);
        assert_eq!(out.status.code(), Some(2), "show {id:?}: {}", text(&out));
        let out = run(&db, &["show", "--format", "json", id]);
        assert_eq!(out.status.code(), Some(2), "show {id:?}: {}", text(&out));
    }
    let id = findings(&db)[0]["id"].as_str().unwrap().to_string();
    let out = run(&db, &["show", "--format", "json", id.get(..6).unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A finding whose resource holds a literal `*` (a policy's resource, logged as is) is
/// suppressed alone: the `*` is not a wildcard that hides the other resources.
#[test]
fn suppressing_a_finding_with_a_literal_star_hides_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    replay_events(
        &db,
        dir.path(),
        &[
            cloudtrail_event("e-1", "*"),
            cloudtrail_event("e-2", "orders"),
        ],
    );
    let all = findings(&db);
    assert_eq!(all.len(), 2);
    let star = all
        .iter()
        .find(|f| f["resource"].as_str().unwrap().ends_with("table/*"))
        .unwrap();
    let out = run(
        &db,
        &[
            "suppress",
            star["id"].as_str().unwrap(),
            "--reason",
            "expected",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = findings(&db);
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(
        shown[0]["resource"]
            .as_str()
            .unwrap()
            .ends_with("table/orders")
    );
    // The rule names its finding: a later diagnosis that changes the cause does not bring it
    // back.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE findings SET cause = 'explicit_deny_identity' WHERE id = ?1",
            [star["id"].as_str().unwrap()],
        )
        .unwrap();
    assert_eq!(findings(&db).len(), 1);
}

/// What is no regular file: a device named on the command line is refused with exit 1 (never
/// read to the end of time), a named pipe is read as a stream (`replay <(zcat ...)`), and a
/// path that does not exist leaves no database behind.
#[test]
fn devices_are_refused_pipes_are_streams_and_nothing_read_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let out = run(&db, &["replay", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("character device"), "{}", text(&out));
    let out = run(&db, &["import", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let fifo = dir.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            writeln!(f, "{}", cloudtrail_event("pipe-1", "T")).unwrap();
        })
    };
    let out = run(&db, &["replay", "--format", "json", fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(total(&db), 1);
    // Bash's process substitution names the pipe `/dev/fd/N`, a link to `pipe:[…]` that no
    // path resolves to.
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, format!("{}\n", cloudtrail_event("pipe-2", "T"))).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$0" --db "$1" replay --format json <(cat "$2")"#)
        .arg(env!("CARGO_BIN_EXE_whydenied"))
        .arg(&db)
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(total(&db), 2);
    let none = dir.path().join("none.db");
    let out = run(&none, &["replay", "/nonexistent/path"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!none.exists(), "no database for nothing read");
    // One OS error, said once.
    let out = run(&db, &["import", "/nonexistent/path"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// Every command refuses a database others can write (a planted one would show its own "fix"
/// commands), one in a directory others can write without the sticky bit, and a symbolic link
/// to nothing, whose target it would otherwise create.
#[test]
fn every_command_refuses_a_database_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    replay_events(&db, dir.path(), &[cloudtrail_event("e-1", "T")]);
    let id = findings(&db)[0]["id"].as_str().unwrap().to_string();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    for args in [
        vec!["report"],
        vec!["report", "--format", "json"],
        vec!["show", id.as_str()],
        vec!["stats"],
        vec!["explain", "--message", "x"],
    ] {
        let out = run(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("writable by other users"),
            "{args:?}: {}",
            text(&out)
        );
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&open.join("x.db"), &["report"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("directory"), "{}", text(&out));
    let link = dir.path().join("link.db");
    let target = dir.path().join("elsewhere.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(
        &link,
        &[
            "replay",
            dir.path().join("events-1.jsonl").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("symbolic link"), "{}", text(&out));
    assert!(!target.exists(), "the link's target was created");
}

/// Invisible format characters in a log (a zero-width space, the Arabic letter mark, a
/// right-to-left override) reach no view raw: each is shown as its escape.
#[test]
fn invisible_characters_are_escaped_in_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let sneaky = "app\u{200b}fn\u{61c}x\u{202e}y";
    let event = cloudtrail_event("e-1", "T").replace("app-role", sneaky);
    replay_events(&db, dir.path(), &[event]);
    let id = findings(&db)[0]["id"].as_str().unwrap().to_string();
    for args in [
        vec!["report", "--format", "table"],
        vec!["report", "--format", "markdown"],
        vec!["show", "--format", "table", id.as_str()],
    ] {
        let out = run(&db, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        let shown = String::from_utf8_lossy(&out.stdout).to_string();
        for c in ['\u{200b}', '\u{61c}', '\u{202e}'] {
            assert!(
                !shown.contains(c),
                "{args:?} shows U+{:04X} raw: {shown}",
                c as u32
            );
        }
        assert!(shown.contains("u{200b}"), "{args:?}: {shown}");
    }
}

/// A store written by an older build keyed text evidence by fingerprint and offset alone (and
/// a gzip file's fingerprint was its compressed first KiB): replaying the same files again
/// finds those keys and counts nothing twice.
#[test]
fn evidence_stored_under_older_keys_is_not_counted_again() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let body: String = (0..3)
        .map(|i| lambda_log(&format!("p{i}"), &format!("r-{i}")))
        .collect();
    std::fs::write(logs.join("a.log"), &body).unwrap();
    let gz = gzip(
        body.replace("p0", "q0")
            .replace("p1", "q1")
            .replace("p2", "q2")
            .as_bytes(),
    );
    std::fs::write(logs.join("b.log.gz"), &gz).unwrap();
    let db = dir.path().join("h.db");
    assert_eq!(replay(&db, &logs).status.code(), Some(0));
    assert_eq!(total(&db), 6);
    // Turn the stored keys into the older ones.
    let old_gz_fp = xxhash_rust::xxh3::xxh3_64(&gz[..gz.len().min(1024)]);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let keys: Vec<(String, String)> = {
            let mut st = conn
                .prepare("SELECT e.ukey, e.file FROM evidence e")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for (k, file) in keys {
            let parts: Vec<&str> = k.split(':').collect();
            assert_eq!(parts.len(), 4, "{k}");
            let fp = if file.ends_with(".gz") {
                format!("{old_gz_fp:016x}")
            } else {
                parts[1].to_string()
            };
            conn.execute(
                "UPDATE evidence SET ukey = ?1 WHERE ukey = ?2",
                rusqlite::params![format!("fp:{fp}:{}", parts[2]), k],
            )
            .unwrap();
        }
    }
    let out = replay(&db, &logs);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(total(&db), 6, "{}", text(&out));
}

/// A gzip file that breaks within its first 4 KiB of content still gives the records before
/// the break, and the break is reported.
#[test]
fn a_small_truncated_gzip_keeps_what_came_before_the_break() {
    let dir = tempfile::tempdir().unwrap();
    // Distinct ids, so that the stream does not compress to almost nothing.
    let events: Vec<String> = (0..4u64)
        .map(|i| {
            let id = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes()));
            cloudtrail_event(&id, &id)
        })
        .collect();
    let text_len = events.join("\n").len();
    assert!(text_len < 4096, "{text_len}");
    let full = gzip((events.join("\n") + "\n").as_bytes());
    let f = dir.path().join("cut.json.gz");
    std::fs::write(&f, &full[..full.len() - 40]).unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &f);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cut.json.gz"), "{}", text(&out));
    assert!(total(&db) >= 1, "{}", text(&out));
}

/// A gzip header followed by garbage yields nothing at all, and is still an error, named.
#[test]
fn a_gzip_header_followed_by_garbage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.json.gz");
    std::fs::write(&f, b"\x1f\x8b\x08garbage").unwrap();
    let db = dir.path().join("h.db");
    let out = replay(&db, &f);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("broken.json.gz"), "{}", text(&out));
    assert!(text(&out).contains("gzip"), "{}", text(&out));
}

/// No SCP allows the call: the statement is added to the customer SCP attached at the level
/// that lacks it, run with the management account's credentials, which the SCP's ARN names
/// when no organization was imported. Enhanced message form of AWS's access-denied
/// documentation ("because no service control policy allows"), names substituted.
#[test]
fn a_missing_scp_allow_is_fixed_from_the_management_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let event = cloudtrail_event("scp-2", "T").replace(
        "because no identity-based policy allows",
        "because no service control policy allows",
    );
    let log = dir.path().join("scp.jsonl");
    std::fs::write(&log, format!("{event}\n")).unwrap();
    let auth_file = app_role_may_put_items(dir.path());
    let scp = serde_json::json!({"Policy": {"PolicySummary": {"Id": "p-s3only1", "Arn": "arn:aws:organizations::444455556666:policy/o-a1b2c3d4e5/service_control_policy/p-s3only1", "Name": "S3Only", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": false},
        "Content": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"}});
    let scp_file = dir.path().join("scp.json");
    std::fs::write(&scp_file, scp.to_string()).unwrap();
    let out = run(&db, &["import", auth_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = import_for_account(&db, &scp_file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(replay(&db, &log).status.code(), Some(0));
    let f = &findings(&db)[0];
    assert_eq!(f["cause"], "no_scp_allow", "{f:#}");
    assert_eq!(f["fix"]["target"], "scp", "{f:#}");
    assert_eq!(f["fix"]["account"], "444455556666", "{f:#}");
    assert!(
        f["fix"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("update-policy")),
        "{f:#}"
    );
}

/// `import --target 111122223333`: an organization policy attached to the test account.
fn import_for_account(db: &Path, file: &Path) -> Output {
    run(
        db,
        &["import", "--target", "111122223333", file.to_str().unwrap()],
    )
}
