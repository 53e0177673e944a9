//! The service, run for real: `whydenied watch` on temporary directories, stopped with SIGTERM
//! and killed with SIGKILL, files rotated under it, and the sd_notify protocol read from a
//! datagram socket of our own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use crate::fixtures::denied;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Service {
    dir: tempfile::TempDir,
    logs: PathBuf,
    config: PathBuf,
    db: PathBuf,
}

impl Service {
    fn new() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let db = dir.path().join("w.db");
        let config = dir.path().join("w.toml");
        std::fs::write(
            &config,
            format!(
                "database = {:?}\n[[source]]\npath = {:?}\n[service]\nrescan_ms = 100\n",
                db.display().to_string(),
                format!("{}/**/*", logs.display())
            ),
        )
        .unwrap();
        Service {
            dir,
            logs,
            config,
            db,
        }
    }

    fn start(&self, notify: Option<&Path>) -> Running {
        let mut c = Command::new(env!("CARGO_BIN_EXE_whydenied"));
        c.args(["watch", "--config"])
            .arg(&self.config)
            .env_remove("WHYDENIED_DB")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("service.log")).unwrap());
        if let Some(n) = notify {
            c.env("NOTIFY_SOCKET", n);
        }
        Running(c.spawn().unwrap())
    }

    /// Pieces of evidence stored (the sum of finding counts).
    fn stored(&self) -> u64 {
        let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
            .arg("--db")
            .arg(&self.db)
            .args(["report", "--format", "json"])
            .output()
            .unwrap();
        if !out.status.success() {
            return 0;
        }
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.iter().map(|f| f["count"].as_u64().unwrap()).sum()
    }

    fn wait_for(&self, n: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.stored();
            if got >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn append(&self, file: &str, ids: std::ops::Range<u32>) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(file))
            .unwrap();
        for i in ids {
            writeln!(f, "{}", denied(&format!("ev-{i}"))).unwrap();
        }
    }
}

/// A running service that is killed when the test ends, also when it fails half-way, so no
/// service outlives its test.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn terminate(child: &mut Child) -> (Option<i32>, Duration) {
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), t.elapsed());
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            return (None, t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_commits_and_exits_zero_quickly() {
    let s = Service::new();
    let mut child = s.start(None);
    s.append("a.jsonl", 0..50);
    assert_eq!(s.wait_for(50), 50);
    s.append("a.jsonl", 50..80);
    std::thread::sleep(Duration::from_millis(300));
    let (code, took) = terminate(&mut child);
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Everything appended before the signal and picked up is committed; a restart reads the
    // rest without counting anything twice.
    let mut child = s.start(None);
    assert_eq!(s.wait_for(80), 80);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.stored(), 80);
    terminate(&mut child);
    let _ = &s.dir;
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_counts_nothing_twice() {
    let s = Service::new();
    let mut child = s.start(None);
    let mut next = 0u32;
    for round in 0..4 {
        // Write in bursts while the service reads, and kill it without warning.
        for _ in 0..5 {
            s.append("stream.jsonl", next..next + 20);
            next += 20;
            std::thread::sleep(Duration::from_millis(15 + 10 * round));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        child = s.start(None);
    }
    assert_eq!(s.wait_for(u64::from(next)), u64::from(next));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        s.stored(),
        u64::from(next),
        "exactly once after {next} lines and 4 SIGKILLs"
    );
    terminate(&mut child);
}

#[test]
fn rotations_of_every_style_are_followed() {
    let s = Service::new();
    let mut child = s.start(None);
    // Rename and create.
    s.append("app.log.jsonl", 0..10);
    assert_eq!(s.wait_for(10), 10);
    std::fs::rename(s.logs.join("app.log.jsonl"), s.logs.join("app.log.1")).unwrap();
    s.append("app.log.jsonl", 10..15);
    assert_eq!(s.wait_for(15), 15);
    // Copytruncate: copy away, truncate in place, write on.
    std::fs::copy(s.logs.join("app.log.jsonl"), s.logs.join("app.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(s.logs.join("app.log.jsonl"))
        .unwrap();
    s.append("app.log.jsonl", 15..20);
    assert_eq!(s.wait_for(20), 20);
    // A gzip archive written elsewhere and renamed into place.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let records: Vec<String> = (20..30).map(|i| denied(&format!("ev-{i}"))).collect();
    write!(gz, "{{\"Records\":[{}]}}", records.join(",")).unwrap();
    let tmp = s.dir.path().join("incoming.json.gz");
    std::fs::write(&tmp, gz.finish().unwrap()).unwrap();
    std::fs::create_dir_all(s.logs.join("2026/11/20")).unwrap();
    std::fs::rename(&tmp, s.logs.join("2026/11/20/trail.json.gz")).unwrap();
    assert_eq!(s.wait_for(30), 30);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(s.stored(), 30, "nothing read twice");
    terminate(&mut child);
}

#[test]
fn speaks_the_sd_notify_protocol() {
    let s = Service::new();
    let sock_path = s.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut child = s.start(Some(&sock_path));
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), "READY=1");
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
    let mut got = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if got.iter().any(|m| m == "STOPPING=1") {
            break;
        }
    }
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
}

#[test]
fn check_config_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[[source]]\npath = \"/x/*\"\nstrat_at = \"end\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .args(["watch", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("strat_at") && err.contains("line 3"), "{err}");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/whydenied.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .args(["watch", "--check-config", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sighup_reloads_sources_and_policies_keeping_positions() {
    let s = Service::new();
    let other = s.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let mut child = s.start(None);
    s.append("a.jsonl", 0..5);
    assert_eq!(s.wait_for(5), 5);
    // A second source and a policy directory appear in the config; SIGHUP picks them up.
    let policies = s.dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let auth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/policies/iam-authorization-details.json");
    std::fs::copy(&auth, policies.join("auth.json")).unwrap();
    let mut cfg = std::fs::read_to_string(&s.config).unwrap();
    cfg.push_str(&format!(
        "[[source]]\npath = {:?}\n[policies]\npaths = [{:?}]\n",
        format!("{}/*", other.display()),
        format!("{}/*.json", policies.display())
    ));
    std::fs::write(&s.config, cfg).unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::File::create(other.join("b.jsonl")).unwrap();
    for i in 5..8 {
        writeln!(f, "{}", denied(&format!("ev-{i}"))).unwrap();
    }
    assert_eq!(
        s.wait_for(8),
        8,
        "the new source is read, the old one not again: {}",
        std::fs::read_to_string(s.dir.path().join("service.log")).unwrap_or_default()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.stored(), 8);
    // The policies were imported: simulate knows the sample roles.
    let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .arg("--db")
        .arg(&s.db)
        .args([
            "simulate",
            "--principal",
            "arn:aws:iam::111122223333:role/orders-worker-role",
            "--action",
            "sqs:ReceiveMessage",
            "--resource",
            "arn:aws:sqs:eu-west-1:111122223333:orders-queue",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
}

/// A file whose every line is broken is said in a few lines, not one per line: the first
/// problems one by one, then how many more.
#[test]
fn a_broken_file_is_logged_in_a_few_lines() {
    let s = Service::new();
    // The source is said to hold CloudTrail JSON, so each broken line is a problem.
    let cfg = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("[service]", "format = \"cloudtrail\"\n[service]");
    std::fs::write(&s.config, cfg).unwrap();
    let mut child = s.start(None);
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("{{\"broken\": {i}, \n"));
    }
    std::fs::write(s.logs.join("bad.jsonl"), text).unwrap();
    s.append("a.jsonl", 0..1);
    assert_eq!(s.wait_for(1), 1);
    std::thread::sleep(Duration::from_millis(500));
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
    let log = std::fs::read_to_string(s.dir.path().join("service.log")).unwrap();
    let lines = log.lines().filter(|l| l.contains("bad.jsonl")).count();
    assert!(lines <= 8, "{lines} lines:\n{log}");
    assert!(log.contains("more problems"), "{log}");
}

/// A policy file changed under the service does what importing it by hand does: the findings
/// it now allows are resolved, and taking the grant back opens them again.
#[test]
fn a_changed_policy_file_resolves_and_reopens_findings() {
    let s = Service::new();
    let policies = s.dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    // `aws iam get-account-authorization-details` for the denied role: first without the grant.
    let auth = |inline: serde_json::Value| {
        serde_json::json!({
            "UserDetailList": [], "GroupDetailList": [], "Policies": [],
            "RoleDetailList": [{
                "Path": "/", "RoleName": "app-role", "RoleId": "AROAEXAMPLEAPPROLE01",
                "Arn": "arn:aws:iam::111122223333:role/app-role",
                "CreateDate": "2026-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]},
                "InstanceProfileList": [], "RolePolicyList": inline,
                "AttachedManagedPolicies": [], "Tags": []
            }]
        })
        .to_string()
    };
    let file = policies.join("auth.json");
    std::fs::write(&file, auth(serde_json::json!([]))).unwrap();
    let mut cfg = std::fs::read_to_string(&s.config).unwrap();
    cfg.push_str(&format!(
        "[policies]\npaths = [{:?}]\n",
        format!("{}/*.json", policies.display())
    ));
    std::fs::write(&s.config, cfg).unwrap();
    let mut child = s.start(None);
    s.append("a.jsonl", 0..2);
    assert_eq!(s.wait_for(2), 2);
    let status = || -> Vec<(String, String)> {
        let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
            .arg("--db")
            .arg(&s.db)
            .args(["report", "--format", "json"])
            .output()
            .unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.iter()
            .map(|f| {
                (
                    f["status"].as_str().unwrap_or("").to_string(),
                    f["policy_state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let wait_until = |want: (&str, &str)| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = status();
            if got.iter().all(|(st, ps)| st == want.0 && ps == want.1) && !got.is_empty() {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "{got:?}, not {want:?}: {}",
                    std::fs::read_to_string(s.dir.path().join("service.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_until(("open", "denied"));
    // The fix is applied: the role may now put items in the table.
    let grant = serde_json::json!([{"PolicyName": "put-items", "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem",
        "Resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/T"}]}}]);
    std::fs::write(&file, auth(grant)).unwrap();
    wait_until(("resolved", "allowed_now"));
    // And taken back.
    std::fs::write(&file, auth(serde_json::json!([]))).unwrap();
    wait_until(("open", "denied"));
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
}

#[test]
fn the_example_config_runs_against_rotating_exports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let trail = root.join("cloudtrail");
    let lambda = root.join("lambda");
    std::fs::create_dir_all(trail.join("2026/11/20")).unwrap();
    std::fs::create_dir_all(&lambda).unwrap();
    // The shipped example, with its directories moved under the test's own.
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/whydenied.toml"))
            .unwrap();
    let cfg = example
        .replace("/var/lib/whydenied", &root.display().to_string())
        .replace("/var/log/aws", &root.display().to_string())
        .replace(
            "/etc/whydenied/policies",
            &root.join("policies").display().to_string(),
        )
        .replace("start_at = \"end\"", "start_at = \"beginning\"");
    let cfg_path = root.join("whydenied.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_whydenied"))
        .args(["watch", "--config"])
        .arg(&cfg_path)
        .env_remove("WHYDENIED_DB")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = root.join("whydenied.db");
    // CloudTrail delivery files arrive whole, renamed into place.
    for n in 0..3 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let records: Vec<String> = (0..4).map(|i| denied(&format!("ct-{n}-{i}"))).collect();
        write!(gz, "{{\"Records\":[{}]}}", records.join(",")).unwrap();
        let tmp = root.join(format!(".part{n}"));
        std::fs::write(&tmp, gz.finish().unwrap()).unwrap();
        std::fs::rename(
            &tmp,
            trail.join(format!(
                "2026/11/20/111122223333_CloudTrail_eu-west-1_{n}.json.gz"
            )),
        )
        .unwrap();
    }
    // A Lambda log exported line by line, rotated by rename-and-create halfway.
    let line = |i: u32| {
        format!(
            "2026-11-20T10:00:{i:02}.000Z [ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::111122223333:assumed-role/fn-role/fn is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:111122223333:parameter/p{i} because no identity-based policy allows the ssm:GetParameter action\n"
        )
    };
    let log = lambda.join("fn.log");
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..5 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    std::fs::rename(&log, lambda.join("fn.log.1")).unwrap();
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 5..10 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    let s = Service {
        dir: tempfile::tempdir().unwrap(),
        logs: lambda.clone(),
        config: cfg_path.clone(),
        db: db.clone(),
    };
    assert_eq!(s.wait_for(22), 22, "12 CloudTrail denials and 10 log lines");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(s.stored(), 22);
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
}

/// `[output] jsonl`: a private file of one line per updated finding per commit, each line a
/// whole finding whose evidence is its latest pieces only, so that a finding hit thousands of
/// times does not write ever longer lines.
#[test]
fn jsonl_output_has_one_bounded_line_per_update() {
    let s = Service::new();
    let out = s.dir.path().join("findings.jsonl");
    let mut config = std::fs::read_to_string(&s.config).unwrap();
    config.push_str(&format!(
        "[output]\njsonl = {:?}\n",
        out.display().to_string()
    ));
    std::fs::write(&s.config, config).unwrap();
    let mut child = s.start(None);
    // Three bursts of the same denial: the finding is created once and updated twice.
    for (n, burst) in [0..40u32, 40..70, 70..100].into_iter().enumerate() {
        s.append("a.jsonl", burst.clone());
        assert_eq!(
            s.wait_for(u64::from(burst.end)),
            u64::from(burst.end),
            "burst {n}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(&mut child);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // At least one line per burst, never one per event.
    assert!(
        (3..100).contains(&lines.len()),
        "{} lines for 100 events",
        lines.len()
    );
    for l in &lines {
        assert_eq!(l["action"], "dynamodb:PutItem");
        let evidence = l["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty() && evidence.len() <= 10, "{l}");
        assert!(evidence.len() as u64 <= l["count"].as_u64().unwrap());
    }
    let last = lines.last().unwrap();
    assert_eq!(last["count"], 100);
    // The latest pieces: the last line ends with the last event appended.
    let ids: Vec<&str> = last["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ev-99"), "{ids:?}");
}

/// A full disk under the running service (its file-size limit lowered from outside with
/// `prlimit`, SIGXFSZ ignored, so SQLite's writes fail as they would with ENOSPC): the service
/// retries, keeps running, loses nothing, and once space is back stores exactly what it could
/// not, with nothing counted twice.
#[test]
fn a_full_disk_under_the_service_loses_nothing() {
    let has_prlimit = Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_prlimit {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let s = Service::new();
    let log = s.dir.path().join("service.log");
    let mut child = Running(
        Command::new("sh")
            .arg("-c")
            .arg("trap '' XFSZ; exec \"$0\" watch --config \"$1\"")
            .arg(env!("CARGO_BIN_EXE_whydenied"))
            .arg(&s.config)
            .env_remove("WHYDENIED_DB")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    s.append("a.jsonl", 0..20);
    assert_eq!(s.wait_for(20), 20);
    let pid = child.id().to_string();
    let limit = |soft: &str| {
        let st = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={soft}:unlimited")])
            .status()
            .unwrap();
        assert!(st.success());
    };
    // No file of the service may grow past 4 KiB: every commit fails.
    limit("4096");
    s.append("a.jsonl", 20..60);
    // Five retries with back-off take 3 s; wait past them.
    std::thread::sleep(Duration::from_secs(4));
    assert!(child.try_wait().unwrap().is_none(), "the service died");
    assert_eq!(s.stored(), 20);
    limit("unlimited");
    assert_eq!(s.wait_for(60), 60);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(s.stored(), 60);
    let (code, _) = terminate(&mut child);
    assert_eq!(code, Some(0));
    // The log is a file of the service too: it says so unless it had already reached 4 KiB.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("retrying") || text.len() >= 4096, "{text}");
}

/// A Lambda log of our own in the form the runtime writes (first line INIT_START, botocore's
/// `ClientError` line with AWS's documented denial template): `param` names the denied
/// parameter, so files differ only after their first line.
fn lambda_log(param: &str, request: &str) -> String {
    format!(
        "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:f1f2983ee6a5180648530e997cf00206e4b3814bdcbdb53f2db5e0f1b7376565\n\
         START RequestId: {request} Version: $LATEST\n\
         [ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::111122223333:assumed-role/geo-role/geo-lookup is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:111122223333:parameter/{param} because no identity-based policy allows the ssm:GetParameter action\n\
         END RequestId: {request}\n"
    )
}

/// Two files whose first lines are the same are two files: both denials are stored, and the
/// service does not take one for a rewrite of the other.
#[test]
fn files_beginning_alike_are_two_files() {
    let s = Service::new();
    let mut child = s.start(None);
    std::fs::write(
        s.logs.join("one.log"),
        lambda_log("first", "9a8b7c6d-5e4f-4a3b-8c2d-000000000001"),
    )
    .unwrap();
    std::fs::write(
        s.logs.join("two.log"),
        lambda_log("second", "9a8b7c6d-5e4f-4a3b-8c2d-000000000002"),
    )
    .unwrap();
    assert_eq!(s.wait_for(2), 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.stored(), 2);
    terminate(&mut child);
    let log = std::fs::read_to_string(s.dir.path().join("service.log")).unwrap();
    assert!(!log.contains("rewritten"), "{log}");
}

/// logrotate's `compress`: `a.log.1` becomes `a.log.1.gz` in the watched directory. The
/// archive holds what was already read, so nothing is counted again.
#[test]
fn a_compressed_rotation_counts_nothing_twice() {
    let s = Service::new();
    let mut child = s.start(None);
    let mut text = String::new();
    for i in 0..3 {
        text.push_str(&lambda_log(
            &format!("p{i}"),
            &format!("9a8b7c6d-5e4f-4a3b-8c2d-00000000001{i}"),
        ));
    }
    std::fs::write(s.logs.join("a.log"), &text).unwrap();
    assert_eq!(s.wait_for(3), 3);
    std::fs::rename(s.logs.join("a.log"), s.logs.join("a.log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(s.logs.join("a.log.1.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(s.logs.join("a.log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(s.stored(), 3, "the compressed copy is the same file");
    terminate(&mut child);
}

/// A last line without a newline (a JSON object written at once) is read once the file has
/// been idle for two seconds.
#[test]
fn a_last_line_without_newline_is_read_once_idle() {
    let s = Service::new();
    let mut child = s.start(None);
    std::fs::write(s.logs.join("event.json"), denied("ev-no-newline")).unwrap();
    assert_eq!(s.wait_for(1), 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.stored(), 1, "read once");
    terminate(&mut child);
}

/// `[[source]] format` decides how a source's files are read: a line that is a JSON object is
/// read as text in a `lambda-text` source (a logger printing objects), where its denial is
/// found; told by content, the same file is JSON without a denial in it.
#[test]
fn a_source_format_decides_how_its_files_are_read() {
    let s = Service::new();
    let text_dir = s.dir.path().join("text");
    std::fs::create_dir(&text_dir).unwrap();
    std::fs::write(
        &s.config,
        format!(
            "database = {:?}\n[[source]]\npath = {:?}\nformat = \"lambda-text\"\n[[source]]\npath = {:?}\n[service]\nrescan_ms = 100\n",
            s.db.display().to_string(),
            format!("{}/*", text_dir.display()),
            format!("{}/*", s.logs.display()),
        ),
    )
    .unwrap();
    let mut child = s.start(None);
    // AWS's documented denial template inside an object a logger printed.
    let line = "{\"msg\": \"User: arn:aws:sts::111122223333:assumed-role/geo-role/geo-lookup is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:111122223333:parameter/p because no identity-based policy allows the ssm:GetParameter action\"}\n";
    std::fs::write(text_dir.join("app.log"), line).unwrap();
    std::fs::write(s.logs.join("app.log"), line).unwrap();
    assert_eq!(s.wait_for(1), 1);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        s.stored(),
        1,
        "only the lambda-text source reads it as text"
    );
    terminate(&mut child);
}

/// The service runs in-process until its shutdown future completes, and then drains and
/// commits what it read: a test (or an embedding program) stops it without signals.
#[test]
fn serve_stops_when_its_shutdown_future_completes() {
    let s = Service::new();
    s.append("a.log", 0..3);
    let config = whydenied::config::Config::load(&s.config).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let db = s.db.clone();
    let service = rt.spawn(whydenied::daemon::serve(
        config,
        s.config.clone(),
        db,
        async move {
            let _ = stopped.await;
        },
    ));
    assert_eq!(s.wait_for(3), 3, "the service stored the three denials");
    stop.send(()).unwrap();
    let result = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), service).await })
        .expect("the service stopped within 20 s")
        .expect("the service task did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(s.stored(), 3);
}
