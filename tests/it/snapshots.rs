//! Snapshot tests (insta) of the people-facing views on the bundled samples: the table at 80 and
//! 120 columns, the markdown report and `show`. After an intended change,
//! `INSTA_UPDATE=always cargo test --test it snapshots` rewrites `tests/snapshots/*.snap`;
//! review the diff before committing it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use crate::util::root;
use std::path::{Path, PathBuf};

fn output(db: &Path, args: &[&str], columns: &str) -> String {
    let out = crate::util::whydenied(db, args, Some(columns));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn check(name: &str, got: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, got));
}

fn replayed() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let p = root().join("samples/policies");
    output(
        &db,
        &[
            "import",
            p.join("iam-authorization-details.json").to_str().unwrap(),
            p.join("lambda-list-functions.json").to_str().unwrap(),
            p.join("lambda-get-policy-invoice-render.json")
                .to_str()
                .unwrap(),
        ],
        "80",
    );
    output(
        &db,
        &[
            "replay",
            "--format",
            "json",
            root().join("samples").to_str().unwrap(),
        ],
        "80",
    );
    (dir, db)
}

#[test]
fn table_at_80_columns() {
    let (_dir, db) = replayed();
    let text = output(&db, &["report", "--format", "table"], "80");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    check("samples-table", &text);
}

#[test]
fn table_at_120_columns() {
    let (_dir, db) = replayed();
    check(
        "samples-table-120",
        &output(&db, &["report", "--format", "table"], "120"),
    );
}

#[test]
fn markdown_report() {
    let (_dir, db) = replayed();
    check(
        "samples-markdown",
        &output(&db, &["report", "--format", "markdown"], "80"),
    );
}

#[test]
fn detail_view() {
    let (_dir, db) = replayed();
    let text = output(&db, &["show", "81d085cc", "--format", "table"], "80");
    // Evidence paths depend on where the checkout is: keep the file name only.
    let root = root().display().to_string();
    check("samples-show", &text.replace(&root, "<root>"));
}
