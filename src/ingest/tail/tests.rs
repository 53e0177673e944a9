//! The tailer on real files: appends, partial lines, renames, truncation, oversized lines.

use super::*;
use std::io::Write;

fn tailer(dir: &Path) -> Tailer {
    Tailer::new(
        vec![Spec {
            pattern: format!("{}/*.log", dir.display()),
            from_end: false,
            follow_symlinks: false,
            shape: None,
        }],
        Vec::new(),
        1000,
    )
}

fn drain(t: &mut Tailer) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let (work, _) = t.scan();
        if work.is_empty() {
            break;
        }
        for w in work {
            lines.extend(
                String::from_utf8(w.data.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_string),
            );
            t.committed(&w.after);
        }
    }
    lines
}

#[test]
fn appends_partial_lines_rename_and_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(b"one\ntwo\nthr").unwrap();
    let mut t = tailer(dir.path());
    assert_eq!(drain(&mut t), vec!["one", "two"]);
    f.write_all(b"ee\n").unwrap();
    assert_eq!(drain(&mut t), vec!["three"]);
    // Rename and create: the old file keeps its place, the new one starts at 0.
    std::fs::rename(&p, dir.path().join("a.1.log")).unwrap();
    let mut g = std::fs::File::create(&p).unwrap();
    g.write_all(b"fresh\n").unwrap();
    f.write_all(b"four\n").unwrap();
    let mut got = drain(&mut t);
    got.sort();
    assert_eq!(got, vec!["four", "fresh"]);
    g.write_all(b"more data here\n").unwrap();
    assert_eq!(drain(&mut t), vec!["more data here"]);
    // Copytruncate: same first line, then a shorter file.
    let mut h = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    h.write_all(b"fresh\nb\n").unwrap();
    assert_eq!(drain(&mut t), vec!["fresh", "b"]);
}

/// An idle file's last line without a newline is read, unless it begins like JSON and
/// is not yet a whole JSON value (a buffered writer half-way through a record).
#[test]
fn an_idle_last_line_is_read_when_it_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tailer(dir.path());
    t.set_idle_ms(0);
    std::fs::write(dir.path().join("a.log"), b"first\nplain text end").unwrap();
    std::fs::write(dir.path().join("b.log"), b"{\"half\": [1, 2").unwrap();
    let mut got = drain(&mut t);
    got.sort();
    assert_eq!(got, vec!["first", "plain text end"]);
    std::fs::write(dir.path().join("c.log"), b"{\"whole\": true}").unwrap();
    assert_eq!(drain(&mut t), vec!["{\"whole\": true}"]);
}

#[test]
fn oversized_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.log");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(b"head\n").unwrap();
    f.write_all(&vec![b'x'; 5000]).unwrap();
    let mut t = tailer(dir.path());
    assert_eq!(drain(&mut t), vec!["head"]);
    f.write_all(b"\nafter\n").unwrap();
    assert_eq!(drain(&mut t), vec!["after"]);
}
