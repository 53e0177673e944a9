//! End-to-end scenarios: each directory under `tests/scenarios/` is one situation a Lambda user
//! meets, told with the files AWS would give them.
//!
//! A scenario holds `exports/` (AWS CLI outputs), `import.json` (the `whydenied import` calls to make:
//! `[{"args": ["--resource", "arn:..."], "files": ["exports/kms.json"]}]`), `logs/` (CloudTrail records
//! and log lines that show the failure) and `expect.json`. For every scenario the harness creates a
//! fresh database, runs the real binary's `import` calls and `replay --format json logs/`, and checks
//! what `expect.json` says:
//!
//! - `findings`: how many findings the replay must print (optional);
//! - `table_clean`: when true, `report --format table` must hold no raw control characters;
//! - `expect`: a list of expectations, each with `match` (fields that pick exactly one finding) and
//!   - any top-level finding field (`kind`, `cause`, `principal`, `function`, `resource`,
//!     `policy_state`, ...) compared for equality (`null` included);
//!   - `explanation_contains`: texts that must appear in `explanation` (case-insensitive; an array
//!     entry is a list of alternatives, any one of which suffices);
//!   - `text_contains`: the same, over `explanation` and `fix.notes` together;
//!   - `fix`: `target`, `managed_policy_arn`, `verified` compared for equality; `statement` and
//!     `statements` matched as a subset (objects by key, arrays by "every expected element matches some actual element", a
//!     scalar matches an array that contains it); `notes_contain` as above; `commands`: each entry
//!     is either a list of words or `{"words": [...], "args": {"--flag": "value"}, "arg_prefixes":
//!     {"--flag": "prefix"}, "json_args": {"--flag": <subset>}}`, and some command, once split with
//!     `shlex`, must hold the words in order, each flag followed by exactly its value (or a value
//!     starting with the prefix), and each JSON flag's value parsing to JSON that contains the
//!     subset.
//!
//! Every command of every finding must split with `shlex`. All mismatches of all scenarios are
//! collected, and the test fails once, listing them by scenario.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::lint;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scenarios")
}

fn run(db: &Path, args: &[OsString]) -> Output {
    crate::util::whydenied(db, args, Some("120"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A short JSON rendering for messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 2000 {
        format!("{}…", s.chars().take(2000).collect::<String>())
    } else {
        s
    }
}

/// Whether `actual` holds everything `expected` says (see the module documentation).
fn contains(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, ev)| contains(ev, a.get(k).unwrap_or(&Value::Null))),
        (Value::Object(_), _) => false,
        (Value::Array(e), Value::Array(a)) => {
            e.iter().all(|ev| a.iter().any(|av| contains(ev, av)))
        }
        (Value::Array(e), scalar) => e.iter().all(|ev| contains(ev, scalar)),
        (scalar, Value::Array(a)) => a.iter().any(|av| av == scalar),
        (e, a) => e == a,
    }
}

/// Texts of a JSON array of strings (anything else yields nothing).
fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that each needle (a string, or a list of alternatives) occurs in `haystack`.
fn check_texts(
    what: &str,
    needles: &Value,
    haystack: &[String],
    label: &str,
    problems: &mut Vec<String>,
) {
    let joined = haystack.join("\n").to_lowercase();
    for needle in needles.as_array().into_iter().flatten() {
        let alternatives: Vec<&str> = match needle {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !alternatives
            .iter()
            .any(|alt| joined.contains(&alt.to_lowercase()))
        {
            problems.push(format!(
                "{label} {what}: expected to mention {}, got {}",
                alternatives
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                show(&Value::from(haystack.to_vec()))
            ));
        }
    }
}

/// Whether the split command `words` satisfies one command expectation.
fn command_matches(spec: &Value, words: &[String]) -> bool {
    let field = |name: &str| match spec {
        Value::Array(_) => &Value::Null,
        _ => spec.get(name).unwrap_or(&Value::Null),
    };
    let want = match spec {
        Value::Array(_) => spec,
        _ => field("words"),
    };
    // The words, in order.
    let mut rest = words.iter();
    for w in want.as_array().into_iter().flatten() {
        let w = w.as_str().unwrap_or_default();
        if !rest.any(|x| x == w) {
            return false;
        }
    }
    let value_after = |flag: &str| -> Option<&String> {
        let at = words.iter().position(|x| x == flag)?;
        words.get(at + 1)
    };
    for (flag, value) in field("args").as_object().into_iter().flatten() {
        if value_after(flag).map(String::as_str) != value.as_str() {
            return false;
        }
    }
    for (flag, prefix) in field("arg_prefixes").as_object().into_iter().flatten() {
        let prefix = prefix.as_str().unwrap_or_default();
        if !value_after(flag).is_some_and(|v| v.starts_with(prefix)) {
            return false;
        }
    }
    for (flag, subset) in field("json_args").as_object().into_iter().flatten() {
        let Some(text) = value_after(flag) else {
            return false;
        };
        let Ok(parsed) = serde_json::from_str::<Value>(text) else {
            return false;
        };
        if !contains(subset, &parsed) {
            return false;
        }
    }
    true
}

fn check_fix(expected: &Value, finding: &Value, label: &str, problems: &mut Vec<String>) {
    let fix = finding.get("fix").unwrap_or(&Value::Null);
    for (key, want) in expected.as_object().into_iter().flatten() {
        let got = fix.get(key).unwrap_or(&Value::Null);
        match key.as_str() {
            "statement" | "statements" => {
                if !contains(want, got) {
                    problems.push(format!(
                        "{label} fix.{key}: expected to contain {}, got {}",
                        show(want),
                        show(got)
                    ));
                }
            }
            "notes_contain" => {
                check_texts(
                    "fix.notes",
                    want,
                    &texts(fix.get("notes").unwrap_or(&Value::Null)),
                    label,
                    problems,
                );
            }
            "commands" => {
                let split: Vec<Vec<String>> =
                    texts(got).iter().filter_map(|c| shlex::split(c)).collect();
                for spec in want.as_array().into_iter().flatten() {
                    if !split.iter().any(|words| command_matches(spec, words)) {
                        problems.push(format!(
                            "{label} fix.commands: expected a command matching {}, got {}",
                            show(spec),
                            show(got)
                        ));
                    }
                }
            }
            _ => {
                if got != want {
                    problems.push(format!(
                        "{label} fix.{key}: expected {}, got {}",
                        show(want),
                        show(got)
                    ));
                }
            }
        }
    }
}

fn check_finding(expected: &Value, finding: &Value, label: &str, problems: &mut Vec<String>) {
    for (key, want) in expected.as_object().into_iter().flatten() {
        match key.as_str() {
            "match" => {}
            "fix" => check_fix(want, finding, label, problems),
            "explanation_contains" => check_texts(
                "explanation",
                want,
                &texts(finding.get("explanation").unwrap_or(&Value::Null)),
                label,
                problems,
            ),
            "text_contains" => {
                let mut all = texts(finding.get("explanation").unwrap_or(&Value::Null));
                all.extend(texts(
                    finding
                        .get("fix")
                        .and_then(|f| f.get("notes"))
                        .unwrap_or(&Value::Null),
                ));
                check_texts("explanation and fix.notes", want, &all, label, problems);
            }
            _ => {
                let got = finding.get(key).unwrap_or(&Value::Null);
                if got != want {
                    problems.push(format!(
                        "{label} {key}: expected {}, got {}",
                        show(want),
                        show(got)
                    ));
                }
            }
        }
    }
}

/// One line per finding, to say what there was when nothing matched.
fn summary(findings: &[Value]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{{action: {}, function: {}, principal: {}, cause: {}}}",
                f["action"], f["function"], f["principal"], f["cause"]
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Control characters (other than the newline) and bidirectional overrides in terminal output.
fn raw_controls(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            (c.is_control() && **c != '\n')
                || ('\u{202a}'..='\u{202e}').contains(*c)
                || ('\u{2066}'..='\u{2069}').contains(*c)
        })
        .map(|(i, c)| {
            let context: String = chars[i.saturating_sub(30)..(i + 30).min(chars.len())]
                .iter()
                .collect();
            format!("U+{:04X} in {context:?}", u32::from(*c))
        })
        .collect()
}

fn run_scenario(dir: &Path, fixes: &mut Vec<(String, Value)>) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = read_json(&dir.join("expect.json"));
    let imports = read_json(&dir.join("import.json"));
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("whydenied.db");

    for call in imports.as_array().expect("import.json is a list") {
        let mut args: Vec<OsString> = vec!["import".into()];
        args.extend(
            texts(call.get("args").unwrap_or(&Value::Null))
                .into_iter()
                .map(OsString::from),
        );
        let files = texts(call.get("files").unwrap_or(&Value::Null));
        args.extend(files.iter().map(|f| dir.join(f).into_os_string()));
        let out = run(&db, &args);
        if out.status.code() != Some(0) {
            problems.push(format!(
                "import {files:?}: expected exit 0, got {:?}: {}",
                out.status.code(),
                stderr(&out)
            ));
        }
    }

    let replay = run(
        &db,
        &[
            "replay".into(),
            "--format".into(),
            "json".into(),
            dir.join("logs").into_os_string(),
        ],
    );
    if replay.status.code() != Some(0) {
        problems.push(format!(
            "replay: expected exit 0, got {:?}: {}",
            replay.status.code(),
            stderr(&replay)
        ));
    }
    let findings: Vec<Value> = match serde_json::from_slice(&replay.stdout) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!(
                "replay printed no JSON array ({e}): {:?}; stderr: {}",
                String::from_utf8_lossy(&replay.stdout),
                stderr(&replay)
            ));
            return problems;
        }
    };

    if let Some(n) = expect.get("findings").and_then(Value::as_u64)
        && findings.len() as u64 != n
    {
        problems.push(format!(
            "findings: expected {n}, got {}: [{}]",
            findings.len(),
            summary(&findings)
        ));
    }

    // Every suggested document is linted once all scenarios ran.
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    for (i, f) in findings.iter().enumerate() {
        for (k, doc) in lint::documents(&f["fix"]).into_iter().enumerate() {
            fixes.push((format!("{name}#{i}.{k} ({})", f["action"]), doc));
        }
    }
    // Every command of every finding splits back into words.
    for f in &findings {
        for cmd in texts(&f["fix"]["commands"]) {
            if shlex::split(&cmd).is_none() {
                problems.push(format!(
                    "[{}] fix.commands: {cmd:?} does not split as a shell command",
                    f["action"]
                ));
            }
        }
    }

    for e in expect["expect"].as_array().into_iter().flatten() {
        let m = &e["match"];
        let label = format!("[{}]", show(m));
        let matching: Vec<&Value> = findings.iter().filter(|f| contains(m, f)).collect();
        match matching.as_slice() {
            [one] => check_finding(e, one, &label, &mut problems),
            [] => problems.push(format!(
                "{label}: no finding matches; findings: [{}]",
                summary(&findings)
            )),
            many => problems.push(format!(
                "{label}: {} findings match, expected one: [{}]",
                many.len(),
                summary(&findings)
            )),
        }
    }

    if expect.get("table_clean") == Some(&Value::Bool(true)) {
        let table = run(&db, &["report".into(), "--format".into(), "table".into()]);
        if table.status.code() != Some(0) {
            problems.push(format!(
                "report --format table: expected exit 0, got {:?}: {}",
                table.status.code(),
                stderr(&table)
            ));
        }
        let text = String::from_utf8_lossy(&table.stdout);
        if text.trim().is_empty() {
            problems.push("report --format table printed nothing".to_string());
        }
        for c in raw_controls(&text) {
            problems.push(format!("report --format table: raw control character {c}"));
        }
    }
    problems
}

#[test]
fn scenarios() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no scenarios under tests/scenarios");
    let mut failed: Vec<(String, Vec<String>)> = Vec::new();
    let mut fixes = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let problems = run_scenario(dir, &mut fixes);
        if problems.is_empty() {
            eprintln!("scenario {name}: ok");
        } else {
            eprintln!("scenario {name}: {} mismatch(es)", problems.len());
            failed.push((name, problems));
        }
    }
    match lint::lint(&fixes) {
        Ok(bad) if bad.is_empty() => {}
        Ok(bad) => failed.push(("Parliament".into(), bad)),
        Err(e) => failed.push(("Parliament".into(), vec![e])),
    }
    if !failed.is_empty() {
        let mut msg = format!("{} of {} scenarios failed:\n", failed.len(), dirs.len());
        for (name, problems) in &failed {
            msg.push_str(&format!("\n[{name}]\n"));
            for p in problems {
                msg.push_str(&format!("  - {p}\n"));
            }
        }
        panic!("{msg}");
    }
}
