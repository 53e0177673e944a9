//! Every policy document whydenied suggests, linted by Parliament (PyPI `parliament`, pinned in
//! `tests/lint/requirements.txt`), an independent linter of IAM policies.
//!
//! The test setup installs it into `target/lint-venv` when Python can (or uses the interpreter
//! in `WHYDENIED_PYTHON`); without it the check says so and passes, unless
//! `WHYDENIED_REQUIRE_LINT` is set, as `.ci/run` sets it.
//!
//! Findings accepted, each for a reason:
//! - `RESOURCE_STAR` where every action of the statement takes no resource type in the Service
//!   Authorization Reference (`"*"` is then the only resource IAM accepts), and in a key
//!   policy, where `"*"` means the key itself;
//! - `RESOURCE_MISMATCH` on a DynamoDB stream ARN whose label holds colons (the label is a
//!   timestamp, `2026-11-01T08:00:00.000`; Parliament's match of the format stops at a colon);
//! - `MALFORMED` "neither Resource nor NotResource" in a statement that has a `Principal`:
//!   repository and trust policies leave `Resource` out, their resource is implied.
//!
//! - `RESOURCE_POLICY_PRIVILEGE_ESCALATION`: the denied action was itself a
//!   permissions-management one (`s3:PutBucketPolicy`); granting it is the fix asked for.
//!
//! Any other finding fails the test that collected the document.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
#![allow(
    dead_code,
    reason = "each test binary that includes this module uses only part of it"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::root;
use serde_json::{Value, json};

/// The Python interpreter that has Parliament, installing it when it can.
fn python() -> Result<PathBuf, String> {
    let works = |py: &Path| {
        Command::new(py)
            .args(["-c", "import parliament"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(p) = std::env::var_os("WHYDENIED_PYTHON") {
        let p = PathBuf::from(p);
        return if works(&p) {
            Ok(p)
        } else {
            Err(format!("{} cannot import parliament", p.display()))
        };
    }
    let venv = root().join("target/lint-venv");
    let py = venv.join("bin/python");
    if works(&py) {
        return Ok(py);
    }
    // One test binary at a time installs; the others wait for the lock.
    let lock = root().join("target/lint-venv.lock");
    let _ = std::fs::create_dir_all(root().join("target"));
    let mut waited = 0;
    while std::fs::create_dir(&lock).is_err() {
        if works(&py) {
            return Ok(py);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        waited += 1;
        if waited > 600 {
            return Err("timed out waiting for another test to install parliament".into());
        }
    }
    let result = (|| {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| format!("python3 -m venv: {e}"))?;
        if !made.status.success() {
            return Err(format!(
                "python3 -m venv failed: {}",
                String::from_utf8_lossy(&made.stderr)
            ));
        }
        let pip = Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(root().join("tests/lint/requirements.txt"))
            .output()
            .map_err(|e| format!("pip: {e}"))?;
        if !pip.status.success() || !works(&py) {
            return Err(format!(
                "pip install parliament failed: {}",
                String::from_utf8_lossy(&pip.stderr)
            ));
        }
        Ok(py.clone())
    })();
    let _ = std::fs::remove_dir(&lock);
    result
}

/// The documents of a fix to lint: its identity statements as one identity policy, its
/// resource statements (with a `Principal`) as one resource policy.
pub fn documents(fix: &Value) -> Vec<Value> {
    let stmts: Vec<Value> = match fix.get("statements").and_then(Value::as_array) {
        Some(a) => a.clone(),
        None => fix
            .get("statement")
            .into_iter()
            .filter(|s| !s.is_null())
            .cloned()
            .collect(),
    };
    let (resource, identity): (Vec<Value>, Vec<Value>) = stmts
        .into_iter()
        .partition(|s| s.get("Principal").is_some());
    [identity, resource]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| json!({"Version": "2012-10-17", "Statement": s}))
        .collect()
}

/// Why a finding is accepted, if it is.
fn accepted(issue: &str, detail: &Value, doc: &Value, rules: &whydenied::rules::Rules) -> bool {
    let stmts = doc["Statement"].as_array().cloned().unwrap_or_default();
    match issue {
        "RESOURCE_STAR" => {
            let actions: Vec<String> = match detail {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            // In a key policy "*" is the key itself.
            let key_policy = !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| a.to_ascii_lowercase().starts_with("kms:"))
                && stmts.iter().all(|s| s.get("Principal").is_some());
            key_policy
                || !actions.is_empty()
                    && actions
                        .iter()
                        .all(|a| rules.resource_types().of(a).is_empty())
        }
        "RESOURCE_MISMATCH" => {
            // Only stream formats, and the statement names a stream whose label has colons.
            let formats: Vec<String> = detail
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["required_format"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let labelled = stmts.iter().any(|s| {
                let res: Vec<String> = match s.get("Resource") {
                    Some(Value::String(r)) => vec![r.clone()],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                };
                res.iter().any(|r| {
                    r.starts_with("arn:aws:dynamodb:")
                        && r.split_once("/stream/")
                            .is_some_and(|(_, l)| l.contains(':'))
                })
            });
            !formats.is_empty()
                && formats
                    .iter()
                    .all(|f| f.contains(":dynamodb:") && f.contains("/stream/"))
                && labelled
        }
        "MALFORMED" => {
            detail
                .as_str()
                .is_some_and(|d| d.contains("neither Resource nor NotResource"))
                && stmts.iter().all(|s| s.get("Principal").is_some())
        }
        // The denial was of a permissions-management action (s3:PutBucketPolicy): granting it
        // is what the fix is for, and Parliament's warning about what it leads to stands.
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION" => true,
        _ => false,
    }
}

/// Lints the documents (id, document); returns the findings not accepted, or `Ok(None)` when
/// the linter is unavailable and not required.
pub fn lint(docs: &[(String, Value)]) -> Result<Vec<String>, String> {
    if docs.is_empty() {
        return Ok(Vec::new());
    }
    let py = match python() {
        Ok(p) => p,
        Err(why) => {
            if std::env::var_os("WHYDENIED_REQUIRE_LINT").is_some() {
                return Err(format!(
                    "WHYDENIED_REQUIRE_LINT is set but parliament is unavailable: {why}"
                ));
            }
            eprintln!(
                "SKIPPED the Parliament lint of {} documents: {why}",
                docs.len()
            );
            return Ok(Vec::new());
        }
    };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = dir.path().join("docs.json");
    let payload: Vec<Value> = docs
        .iter()
        .map(|(id, d)| json!({"id": id, "document": d}))
        .collect();
    std::fs::write(&input, serde_json::to_vec(&payload).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let out = Command::new(&py)
        .arg(root().join("tests/lint/lint.py"))
        .arg(&input)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "lint.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let rules = whydenied::rules::Rules::embedded().map_err(|e| e.to_string())?;
    let mut bad = Vec::new();
    for f in found {
        let id = f["id"].as_str().unwrap_or_default();
        let issue = f["issue"].as_str().unwrap_or_default();
        let doc = docs
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        if !accepted(issue, &f["detail"], &doc, &rules) {
            bad.push(format!("{id}: {issue} {} in {doc}", f["detail"]));
        }
    }
    eprintln!(
        "Parliament linted {} suggested documents: {} findings not accepted",
        docs.len(),
        bad.len()
    );
    Ok(bad)
}
