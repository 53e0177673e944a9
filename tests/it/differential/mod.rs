//! The evaluator against an independent judge: `@cloud-copilot/iam-simulate` (npm, pinned in
//! `tests/oracle/package-lock.json`), the maintained engine behind iam-lens.
//!
//! A seeded generator builds small random AWS worlds: a role session or a user with groups,
//! identity and boundary policies, tags; one resource (S3 object or bucket, SQS queue, SNS
//! topic, KMS key, Lambda function, Secrets Manager secret, or a role to assume) in the same or
//! another account, with its resource-based policy; an organization with SCPs and RCPs at the
//! root, an OU and the account; a partner account outside it; service principals invoking a
//! function or sending to a queue. Each world is written as the AWS CLI would print it
//! (`get-account-authorization-details`, `get-bucket-policy`, `get-queue-attributes`,
//! `get-key-policy`, `lambda get-policy`, `describe-policy`, `list-parents`,
//! `describe-organization`...) with a `whydenied-import.toml` manifest, imported the way
//! `whydenied import DIR` does, and asked the way `whydenied simulate` does; some worlds go
//! through the real binary too, to show that path gives the same verdicts. The same question
//! goes to iam-simulate with the policies and a context it is given explicitly.
//!
//! Every disagreement fails the test, except where that simulator departs from AWS's
//! documentation. Those constructs are not generated, or the simulator is not handed the
//! policies AWS says do not apply:
//! - a `NotPrincipal` list that names only some of a caller's identities (iam-simulate exempts
//!   on any one; AWS checks the account, then the role, then the session:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>):
//!   lists are either complete or name someone else;
//! - SCPs for a service principal (iam-simulate applies them; SCPs restrict only IAM users and
//!   roles of member accounts:
//!   <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html>):
//!   a service-principal question hands the simulator no SCPs;
//! - RCP statements on services RCPs do not cover (iam-simulate applies RCPs to every action;
//!   <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html>
//!   lists the services): generated RCP statements name only covered services' actions;
//! - the management account and service-linked roles, which organization policies do not
//!   restrict and iam-simulate does not model: never generated (tests/eval_cases and the CLI
//!   tests cover them).
//!
//! Node and the pinned package come from `npm ci` in `tests/oracle` (`.ci/run` runs it; this test
//! runs it too when npm exists and the package is missing). Without them the test says so and
//! passes, unless `WHYDENIED_REQUIRE_ORACLE` is set, as CI sets it. `WHYDENIED_DIFF_SEED` and
//! `WHYDENIED_DIFF_WORLDS` change the seed and the number of worlds; the worlds of failing cases
//! are kept under `target/differential/`, the first three also shrunk (`shrink.rs`) to the
//! statements that still make the judges disagree. The generator is seeded `fastrand` rather
//! than proptest: the other judge is a Node process asked once per batch, and the shrinker
//! asks it once per step for every simpler world at once, which proptest's one-case-at-a-time
//! shrinking cannot do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod export;
mod shrink;
mod world;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use whydenied::evaluate::ask::{Question, ask};
use whydenied::evaluate::{Decision, Verdict};
use whydenied::import::{self, files};
use whydenied::rules::Rules;
use whydenied::store::Store;

use export::{simulation, whydenied_context, write_world};
use world::{Gen, QUESTIONS_PER_WORLD, World, world};

/// The acceptance bar: this many questions, all agreeing.
const MIN_CASES: usize = 500;

/// Worlds that also go through the real binary.
const BINARY_WORLDS: usize = 8;

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle")
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether node and the pinned simulator are ready, installing it when npm can.
fn oracle_ready() -> Result<(), String> {
    if !have("node") {
        return Err("node is not installed".into());
    }
    let pkg = oracle_dir().join("node_modules/@cloud-copilot/iam-simulate/package.json");
    if !pkg.exists() {
        if !have("npm") {
            return Err("npm is not installed to fetch @cloud-copilot/iam-simulate".into());
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(oracle_dir())
            .output()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !out.status.success() || !pkg.exists() {
            return Err(format!(
                "npm ci in tests/oracle failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

fn run_oracle(sims: &[Value], dir: &Path) -> Vec<Result<String, String>> {
    let input = dir.join("simulations.json");
    std::fs::write(&input, serde_json::to_vec(&sims).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(oracle_dir().join("run.mjs"))
        .arg(&input)
        .current_dir(oracle_dir())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    assert_eq!(got.len(), sims.len());
    got.into_iter()
        .map(|r| match r.get("result").and_then(Value::as_str) {
            Some(d) => Ok(d.to_string()),
            None => Err(r["error"].as_str().unwrap_or("?").to_string()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Asking whydenied
// ---------------------------------------------------------------------------------------------

/// Imports a world's directory as `whydenied import DIR` does.
fn import_dir(store: &mut Store, dir: &Path) {
    let plan = files::plan(&[dir.to_path_buf()], &import::Options::default()).unwrap();
    for job in plan {
        let name = job.path.file_name().unwrap().to_string_lossy().to_string();
        if name == "simulations.json" {
            continue;
        }
        let v = files::read_json(&job.path).unwrap();
        let imp = import::recognise(&v, &job.opts)
            .unwrap_or_else(|e| panic!("{}: {e}", job.path.display()));
        store.import(&imp, &job.path.display().to_string()).unwrap();
    }
}

/// Both judges' answers on `action` in each of `worlds`: whydenied asked in process,
/// iam-simulate in one batch. None for a world that cannot be written or imported.
fn answers(
    worlds: &[World],
    action: &'static str,
    rules: &Rules,
    dir: &Path,
) -> Vec<Option<(String, Result<String, String>)>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut ours = Vec::new();
    let mut sims = Vec::new();
    for (k, w) in worlds.iter().enumerate() {
        let d = dir.join(format!("candidate-{k}"));
        let db = dir.join(format!("candidate-{k}.db"));
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::fs::create_dir_all(&d).unwrap();
            write_world(w, &d);
            let mut store = Store::open(&db).unwrap();
            import_dir(&mut store, &d);
            let v = ask(
                &store,
                rules,
                Question {
                    principal: &w.principal(),
                    action,
                    resource: &w.resource_arn(),
                    context: &whydenied_context(w),
                    with_policy: None,
                },
            )
            .unwrap();
            decision_name(v.decision).to_string()
        }));
        ours.push(got.ok());
        sims.push(json!({"id": k, "simulation": simulation(w, action)}));
    }
    let theirs = run_oracle(&sims, dir);
    ours.into_iter()
        .zip(theirs)
        .map(|(o, t)| o.map(|o| (o, t)))
        .collect()
}

/// Whether a simpler world keeps the original disagreement: the same answer from whydenied,
/// and the same answer (or an error) from iam-simulate.
fn same_disagreement(
    a: &Option<(String, Result<String, String>)>,
    ours: &str,
    theirs: &Result<String, String>,
) -> bool {
    match (a, theirs) {
        (Some((o, Ok(t))), Ok(e)) => o == ours && t == e,
        (Some((o, Err(_))), Err(_)) => o == ours,
        _ => false,
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allowed",
        Decision::ImplicitDeny => "ImplicitlyDenied",
        Decision::ExplicitDeny => "ExplicitlyDenied",
        Decision::Unknown => "unknown",
    }
}

fn describe(v: &Verdict) -> String {
    format!(
        "{} deciding={:?} missing_allow={:?} keys={:?} notes={:?}",
        decision_name(v.decision),
        v.deciding
            .iter()
            .map(|d| format!("{}#{}:{}", d.policy, d.index, d.effect))
            .collect::<Vec<_>>(),
        v.missing_allow,
        v.missing_context_keys,
        v.notes
    )
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_whydenied"))
}

/// The same question through the real binary: `import DIR` once, then `simulate`.
fn ask_binary(db: &Path, w: &World, action: &str) -> String {
    let mut cmd = Command::new(bin());
    cmd.arg("--db")
        .arg(db)
        .args(["simulate", "--format", "json", "--principal"])
        .arg(w.principal())
        .args(["--action", action, "--resource"])
        .arg(w.resource_arn());
    for (k, v) in whydenied_context(w) {
        cmd.arg("--context").arg(format!("{k}={v}"));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    match v["decision"].as_str().unwrap() {
        "allow" => "Allowed",
        "implicit_deny" => "ImplicitlyDenied",
        "explicit_deny" => "ExplicitlyDenied",
        _ => "unknown",
    }
    .to_string()
}

#[test]
fn evaluator_agrees_with_iam_simulate() {
    if let Err(why) = oracle_ready() {
        if std::env::var_os("WHYDENIED_REQUIRE_ORACLE").is_some() {
            panic!("WHYDENIED_REQUIRE_ORACLE is set but the oracle is unavailable: {why}");
        }
        eprintln!("SKIPPED evaluator_agrees_with_iam_simulate: {why} (see tests/oracle)");
        return;
    }
    let seed: u64 = std::env::var("WHYDENIED_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_201);
    let worlds: usize = std::env::var("WHYDENIED_DIFF_WORLDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MIN_CASES.div_ceil(QUESTIONS_PER_WORLD) + 10);
    let rules = Rules::embedded().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(seed),
    };
    let mut sims = Vec::new();
    // (world index, action, whydenied's answer, its verdict)
    let mut ours: Vec<(usize, &'static str, String, String)> = Vec::new();
    let mut all = Vec::new();
    for i in 0..worlds {
        let w = world(&mut g);
        let dir = tmp.path().join(format!("world-{i}"));
        std::fs::create_dir(&dir).unwrap();
        write_world(&w, &dir);
        let db = tmp.path().join(format!("world-{i}.db"));
        let mut store = Store::open(&db).unwrap();
        import_dir(&mut store, &dir);
        let ctx = whydenied_context(&w);
        let principal = w.principal();
        let resource = w.resource_arn();
        for &action in &w.questions {
            let v = ask(
                &store,
                &rules,
                Question {
                    principal: &principal,
                    action,
                    resource: &resource,
                    context: &ctx,
                    with_policy: None,
                },
            )
            .unwrap_or_else(|e| panic!("world {i}: {e}"));
            ours.push((
                i,
                action,
                decision_name(v.decision).to_string(),
                describe(&v),
            ));
            sims.push(json!({"id": ours.len() - 1, "simulation": simulation(&w, action)}));
        }
        drop(store);
        all.push((w, dir));
    }
    // The real binary gives the same verdicts as the library path.
    for (i, (w, dir)) in all.iter().enumerate().take(BINARY_WORLDS) {
        let db = tmp.path().join(format!("bin-{i}.db"));
        let out = Command::new(bin())
            .arg("--db")
            .arg(&db)
            .arg("import")
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        for &action in &w.questions {
            let got = ask_binary(&db, w, action);
            let lib = ours
                .iter()
                .find(|(wi, a, _, _)| *wi == i && *a == action)
                .unwrap();
            assert_eq!(got, lib.2, "world {i} {action}: binary and library differ");
        }
    }
    let theirs = run_oracle(&sims, tmp.path());
    let mut failures = String::new();
    let mut failed = 0;
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for (n, ((wi, action, got, verdict), expect)) in ours.iter().zip(&theirs).enumerate() {
        *tally.entry(got.clone()).or_default() += 1;
        let ok = matches!(expect, Ok(e) if e == got);
        if ok {
            continue;
        }
        failed += 1;
        let keep = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/differential")
            .join(format!("{seed}-world-{wi}"));
        let _ = std::fs::create_dir_all(&keep);
        for e in std::fs::read_dir(&all[*wi].1).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "db") {
                continue;
            }
            let _ = std::fs::copy(e.path(), keep.join(e.file_name()));
        }
        let _ = std::fs::write(
            keep.join(format!("simulation-{n}.json")),
            serde_json::to_vec_pretty(&sims[n]["simulation"]).unwrap(),
        );
        // The first few failures are shrunk to the statements that decide them.
        let shrunk = if failed <= 3 {
            let (small, steps) = shrink::shrink(
                &all[*wi].0,
                &mut |ws| {
                    answers(ws, action, &rules, &tmp.path().join("shrink"))
                        .iter()
                        .map(|a| same_disagreement(a, got, expect))
                        .collect()
                },
                100,
            );
            let to = keep.join(format!("shrunk-{n}"));
            let _ = std::fs::remove_dir_all(&to);
            let _ = std::fs::create_dir_all(&to);
            write_world(&small, &to);
            format!(
                "; shrunk in {steps} steps to {} statements in {}",
                shrink::statements(&small),
                to.display()
            )
        } else {
            String::new()
        };
        if failed <= 25 {
            let _ = writeln!(
                failures,
                "case {n} (world {wi}, {action}): whydenied {verdict}; iam-simulate {expect:?}; kept in {}{shrunk}",
                keep.display()
            );
        }
    }
    eprintln!(
        "differential: {} cases in {worlds} worlds (seed {seed}), {failed} disagreements; whydenied said {tally:?}",
        ours.len()
    );
    assert!(ours.len() >= MIN_CASES, "only {} cases", ours.len());
    assert!(
        failed == 0,
        "{failed} of {} cases disagree with iam-simulate:\n{failures}",
        ours.len()
    );
}
