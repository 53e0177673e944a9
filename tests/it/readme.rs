//! README.md's examples are run: every ```` ```console ```` block, in order, against one
//! database, from a directory where `samples/` is the repository's samples, and what each
//! command prints must be what the block shows. So the README cannot drift from the binary.
//!
//! A block holds commands (`$ whydenied ...`, continued with a trailing `\`) each followed by
//! its expected output: standard output, then standard error. In expected output a line `...`
//! stands for any number of lines and `[..]` for any text within a line. Run times and rates
//! (`in 0.26 s (0.3 MB/s)`) are redacted on both sides. A command that must fail ends with
//! `# exit N`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::path::Path;
use std::process::Command;

struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands and outputs of every console block, in README order.
fn steps(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut continued = false;
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continued = false;
            continue;
        }
        if !in_block {
            continue;
        }
        if continued && let Some(s) = steps.last_mut() {
            s.command.push(' ');
            s.command.push_str(line.trim_end_matches('\\').trim());
            continued = line.ends_with('\\');
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            continued = cmd.ends_with('\\');
            steps.push(Step {
                line: n + 1,
                command: cmd.trim_end_matches('\\').trim().to_string(),
                expected: Vec::new(),
            });
        } else if let Some(s) = steps.last_mut() {
            s.expected.push(line.to_string());
        }
    }
    steps
}

/// Run times and rates differ on every run.
fn redact(line: &str) -> String {
    let re = regex::Regex::new(r"in [0-9]+\.[0-9]+ s \([0-9]+\.[0-9]+ MB/s\)").unwrap();
    re.replace_all(line, "in [time]").trim_end().to_string()
}

/// Whether `line` matches `pattern`, where `[..]` is any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let mut rest = line;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.split_once(p) {
                Some((_, after)) => rest = after,
                None => return false,
            }
        }
    }
    true
}

/// Whether `actual` lines match `expected`, with `...` for any run of lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(e, a) && matches(rest, more)),
    }
}

#[test]
fn every_console_example_in_the_readme_is_what_the_binary_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let steps = steps(&readme);
    assert!(
        steps.len() >= 5,
        "the README shows its commands in console blocks"
    );
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("samples"), dir.path().join("samples")).unwrap();
    let db = dir.path().join("readme.db");
    let mut failures = Vec::new();
    for s in &steps {
        let (command, want_code) = match s.command.rsplit_once("# exit ") {
            Some((c, code)) => (c.trim().to_string(), code.trim().parse::<i32>().unwrap()),
            None => (s.command.clone(), 0),
        };
        let words = shlex::split(&command).unwrap();
        assert_eq!(
            words.first().map(String::as_str),
            Some("whydenied"),
            "README.md:{}: console blocks run whydenied only",
            s.line
        );
        let out = Command::new(env!("CARGO_BIN_EXE_whydenied"))
            .args(&words[1..])
            .current_dir(dir.path())
            .env("WHYDENIED_DB", &db)
            .env("COLUMNS", "80")
            .env("NO_COLOR", "1")
            .env_remove("WHYDENIED_SUPPRESSIONS")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let actual: Vec<String> = text.lines().map(redact).collect();
        let expected: Vec<String> = s.expected.iter().map(|l| redact(l)).collect();
        let code = out.status.code();
        if code != Some(want_code) || !matches(&expected, &actual) {
            failures.push(format!(
                "README.md:{}: `{}` exited {code:?} (expected {want_code}) and printed:\n{}\n",
                s.line,
                s.command,
                actual.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_matcher_understands_elisions() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(matches(&v(&["a", "...", "d"]), &v(&["a", "b", "c", "d"])));
    assert!(matches(&v(&["a", "..."]), &v(&["a"])));
    assert!(!matches(&v(&["a", "d"]), &v(&["a", "b", "d"])));
    assert!(line_matches("id [..] end", "id 123 end"));
    assert!(!line_matches("id [..] end", "id 123 and"));
    assert_eq!(
        redact("replay: 1 file in 0.26 s (0.3 MB/s)"),
        "replay: 1 file in [time]"
    );
}
