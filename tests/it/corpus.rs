//! Tests over real public data in `../shared/corpus` (see its SOURCES.md). The expected values in
//! `tests/data/corpus_expect.json` were counted independently of whydenied (jq and Python over
//! the raw files). Every test here skips, saying so, when the corpus is absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn expect() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus_expect.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_whydenied"))
}

/// Every CloudTrail record with an AccessDenied / UnauthorizedOperation errorCode becomes
/// evidence of exactly one finding; no other record does.
#[test]
fn every_denied_cloudtrail_record_is_one_piece_of_evidence() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let out = bin()
        .arg("--db")
        .arg(&db)
        .args(["replay", "--format", "json"])
        .arg(corpus.join("cloudtrail"))
        .output()
        .unwrap();
    // The Panther metadata file beside the events is not a log: exit 1, named on stderr.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("events.meta.jsonl"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    // Evidence by (file relative to the corpus, position): line for JSON lines, index for arrays.
    let mut at: HashMap<(String, u64), (&Value, &Value)> = HashMap::new();
    let mut evidence_total = 0u64;
    for f in &findings {
        let ev = f["evidence"].as_array().unwrap();
        assert_eq!(
            f["count"].as_u64().unwrap(),
            ev.len() as u64,
            "count equals evidence rows"
        );
        for e in ev {
            evidence_total += 1;
            let file = e["file"].as_str().unwrap();
            let rel = file.split("corpus/").nth(1).unwrap().to_string();
            let pos = if rel.ends_with(".jsonl") {
                e["line"].as_u64().unwrap()
            } else {
                e["record"].as_u64().unwrap()
            };
            assert!(
                at.insert((rel, pos), (f, e)).is_none(),
                "one evidence per record"
            );
        }
    }
    let exp = expect();
    let files = exp["cloudtrail"]["files"].as_object().unwrap();
    let mut expected_keys = HashSet::new();
    let mut denied = 0u64;
    for (path, info) in files {
        for r in info["denied_records"].as_array().unwrap() {
            denied += 1;
            let pos = r["line_or_index"].as_u64().unwrap();
            let event_id = r["eventID"].as_str().unwrap_or("");
            match at.get(&(path.clone(), pos)) {
                Some((f, e)) => {
                    expected_keys.insert((path.clone(), pos));
                    assert_eq!(e["source"], "cloudtrail");
                    if !event_id.is_empty() {
                        assert_eq!(e["event_id"].as_str().unwrap(), event_id);
                    }
                    // The action: the message's, else the event's IAM action; an action the
                    // service reference does not know (a placeholder) is the event's too.
                    let placeholder = r["flags"].as_array().is_some_and(|f| {
                        f.iter()
                            .any(|x| x == "expected_action_not_in_iam_reference")
                    });
                    let from_event = r["action_from"] == "event" || placeholder;
                    let want = r
                        .get("iam_action_for_event")
                        .and_then(Value::as_str)
                        .filter(|_| from_event)
                        .unwrap_or_else(|| r["expected_action"].as_str().unwrap());
                    assert_eq!(f["action"].as_str().unwrap(), want, "{path}:{pos}");
                }
                None => {
                    // Only the same event seen in two datasets may share one evidence.
                    let dup = exp["cloudtrail"]["summary"]["denied_eventIDs_in_more_than_one_file"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|d| d["eventID"] == event_id);
                    assert!(
                        dup,
                        "denied record {path}:{pos} ({event_id}) has no evidence"
                    );
                }
            }
        }
    }
    assert_eq!(denied, 63, "independent count of denied records");
    // No evidence points at a record that was not denied.
    for k in at.keys() {
        assert!(
            expected_keys.contains(k),
            "evidence for a record that was not denied: {k:?}"
        );
    }
    assert_eq!(
        evidence_total, 62,
        "63 denied records, one event present in two datasets"
    );
}

/// The real messages users pasted yield a finding with the action the text names.
#[test]
fn real_lambda_messages_name_the_right_action() {
    let Some(corpus) = corpus() else { return };
    let rules = whydenied::rules::Rules::embedded().unwrap();
    let parser = whydenied::parse::Parser::new(&rules).unwrap();
    let text =
        std::fs::read_to_string(corpus.join("lambda-logs/github-issues/messages.jsonl")).unwrap();
    let messages: HashMap<String, String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let exp = expect();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for r in exp["lambda_messages"]["records"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let msg = &messages[id];
        let got = parser.message(msg);
        match (r["expected_action"].as_str(), &got) {
            (Some(want), Some(d)) => {
                checked += 1;
                let kind = whydenied::diagnose::diagnose(d, &rules).kind.as_str();
                let kinds: Vec<&str> = r
                    .get("acceptable_kinds")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_else(|| vec![r["expected_kind"].as_str().unwrap_or("")]);
                if d.action.as_deref() != Some(want) || !kinds.contains(&kind) {
                    wrong.push(format!(
                        "{id}: got {:?}/{kind}, want {want}/{kinds:?}",
                        d.action
                    ));
                }
            }
            (Some(want), None) => wrong.push(format!("{id}: not recognised, want {want}")),
            (None, _) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 55, "only {checked} messages checked");
}

/// The raw multi-line excerpts (runtime logs, API Gateway logs, truncated exports) replay
/// without a panic, and the denials they hold are found.
#[test]
fn raw_excerpts_replay_and_yield_their_denials() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--db")
        .arg(dir.path().join("r.db"))
        .args(["replay", "--format", "json"])
        .arg(corpus.join("lambda-logs/github-issues/raw"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The truncated CloudWatch Logs Insights exports are named as broken, so exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("azul-5238.txt"), "{stderr}");
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let actions: HashSet<&str> = findings
        .iter()
        .filter_map(|f| f["action"].as_str())
        .collect();
    let exp = expect();
    for (file, info) in exp["raw_files"]["files"].as_object().unwrap() {
        for d in info["denials"].as_array().unwrap() {
            if let Some(a) = d["expected_action"].as_str() {
                assert!(
                    actions.contains(a),
                    "{file}: {a} not found among {actions:?}"
                );
            }
        }
    }
}

use crate::lint;
use crate::util::corpus;

/// Every fix suggested for the corpus (CloudTrail records, the raw excerpts and the pasted
/// messages) lints clean with Parliament, but for the accepted findings `lint.rs` lists.
#[test]
fn every_fix_of_the_corpus_lints_clean() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut docs = Vec::new();
    for sub in ["cloudtrail", "lambda-logs/github-issues/raw"] {
        let out = bin()
            .arg("--db")
            .arg(dir.path().join("l.db"))
            .args(["replay", "--format", "json"])
            .arg(corpus.join(sub))
            .output()
            .unwrap();
        let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        for f in &findings {
            for (k, d) in lint::documents(&f["fix"]).into_iter().enumerate() {
                docs.push((format!("{sub} {} {}.{k}", f["id"], f["action"]), d));
            }
        }
    }
    let rules = whydenied::rules::Rules::embedded().unwrap();
    let parser = whydenied::parse::Parser::new(&rules).unwrap();
    let text =
        std::fs::read_to_string(corpus.join("lambda-logs/github-issues/messages.jsonl")).unwrap();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(d) = parser.message(v["message"].as_str().unwrap()) {
            let diag = whydenied::suggest::analyse(&d, &rules, None);
            let fix = serde_json::to_value(&diag.fix).unwrap();
            for (k, doc) in lint::documents(&fix).into_iter().enumerate() {
                docs.push((format!("message {} {k}", v["id"]), doc));
            }
        }
    }
    let bad = lint::lint(&docs).unwrap();
    assert!(
        bad.is_empty(),
        "{} findings:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
