//! The layout README's "Layout" section draws, checked on the source tree: each stage uses
//! only the stages before it and the shared vocabulary, and no source file outgrows 800 lines.
#![allow(
    clippy::unwrap_used,
    clippy::string_slice,
    reason = "tests fail by panicking; `crate::` is ASCII, so slicing after it is on a boundary"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The library's top-level modules in data-flow order: a module may use those before it.
/// `policy` and `rules` are the shared vocabulary; `import` sits beside `ingest` (both read
/// files), `config` is read by the service only.
const ORDER: &[&str] = &[
    "policy", "rules", "config", "ingest", "import", "parse", "evaluate", "diagnose", "suggest",
    "finding", "store", "report", "pipeline", "daemon",
];

/// Uses the order would allow but the layout rules out: the evaluator reads the IAM vocabulary
/// and the imported snapshot's rows (`policy::snapshot`), never a parsed log or an import.
const FORBIDDEN: &[(&str, &str)] = &[("evaluate", "parse"), ("evaluate", "import")];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`src/parse/message/mod.rs` → `parse`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names through `crate::` (in code or doc links alike: a doc
/// that points backwards in the flow is as wrong as a use). A chain of `super::` long enough to
/// climb to the crate root would escape this check; none is written (the few `super::super::`
/// are test modules reaching their own stage).
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        // `crate::` itself, not the end of a longer path segment (`my_crate::`).
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn stages_depend_forward_only() {
    let src = crate::util::root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        // The binary (main.rs, cli/) uses the library through `whydenied::`, and lib.rs
        // declares the modules.
        let Some(mine) = rank(&m) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("crate::{"),
            "{}: grouped `crate::{{..}}` imports hide what a file uses",
            f.display()
        );
        for used in uses(&text) {
            if used == m {
                continue;
            }
            let allowed = match rank(&used) {
                Some(r) => r < mine && !FORBIDDEN.contains(&(m.as_str(), used.as_str())),
                None => false,
            };
            if !allowed {
                wrong.push(format!("{} uses crate::{used}", f.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses against the data flow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_library_module_has_its_place() {
    // A new top-level module must be placed in ORDER (and in README's Layout), or the check
    // above would skip it.
    let src = crate::util::root().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        let line = line.trim();
        let decl = ["pub mod ", "pub(crate) mod ", "mod "]
            .iter()
            .find_map(|p| line.strip_prefix(p));
        if let Some(name) = decl.filter(|n| n.ends_with(';')) {
            let name = name.trim_end_matches(';');
            assert!(
                ORDER.contains(&name),
                "lib.rs declares {name}, not in ORDER"
            );
        }
    }
}

#[test]
fn no_source_file_over_800_lines() {
    let root = crate::util::root();
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 800).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}
