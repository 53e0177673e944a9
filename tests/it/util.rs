#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! What the integration tests share: running the real binary against a database, reading its
//! output, and writing inputs as AWS delivers them.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `samples/`, the data README's first command replays.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
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
