#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! What the integration tests share: running the real binary against a database, reading its
//! output, and writing inputs as AWS delivers them.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project's root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `samples/`, the data README's first command replays.
pub fn samples() -> PathBuf {
    root().join("samples")
}

/// `../shared/corpus`, the real public data the corpus tests read; None, said on standard
/// error, when it is not beside the project (the tests that need it then pass without it).
pub fn corpus() -> Option<PathBuf> {
    let p = root().join("../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; corpus tests need the shared corpus beside the project",
            p.display()
        );
        None
    }
}

/// Standard output as text, after checking the command exited 0 (both streams shown if not).
pub fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `whydenied --db DB ARGS...` with `$WHYDENIED_DB` unset and, when given, the terminal
/// width `COLUMNS` (tables wrap to it).
pub fn whydenied<I, S>(db: &Path, args: I, columns: Option<&str>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(env!("CARGO_BIN_EXE_whydenied"));
    c.arg("--db").arg(db).args(args).env_remove("WHYDENIED_DB");
    if let Some(w) = columns {
        c.env("COLUMNS", w);
    }
    c.output().unwrap()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `data` gzipped, as S3 delivers CloudTrail files.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
