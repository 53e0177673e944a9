//! Tailing: which bytes of which files are new, and where each file stands.
//!
//! Input: glob patterns and the checkpoints last committed. Output: [`Work`] items, each a chunk
//! of complete lines (or a whole gzip archive) with the checkpoint that holds once that chunk's
//! findings are stored. The caller commits the findings and the checkpoint in one transaction and
//! only then calls [`Tailer::committed`]; a crash in between re-reads the chunk, and natural
//! evidence keys make that harmless (at-least-once reading, exactly-once findings).
//!
//! The rules (after vector's file source):
//! - A file is identified by a content fingerprint — the hash of its first line, at most 1 KiB —
//!   never by its path, so a renamed file keeps its place and a new file at the old path starts
//!   from the beginning (rename-and-create rotation).
//! - A checkpoint stores the offset after the last complete line and a marker hash of the bytes
//!   just before it; a file now shorter than the offset, or whose marker changed, was truncated
//!   (copytruncate) and is read again from the start.
//! - Gzip archives are immutable: read whole once they stop changing, then marked complete.
//! - A trailing partial line waits for its newline; a line longer than the limit is skipped.
//! - A failed scan (permissions, too many open files) is not a deletion: nothing is forgotten.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where one file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub fingerprint: u64,
    pub path: PathBuf,
    /// Bytes fully processed (after the last complete line).
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
    /// Hash of up to 64 bytes before `offset`.
    pub marker: u64,
    /// Size and modification time when last seen.
    pub size: u64,
    pub mtime_ms: i64,
    /// A gzip archive read to its end.
    pub complete: bool,
    /// Inside an over-long line: skip to the next newline.
    pub skipping: bool,
}

/// One unit of reading.
#[derive(Debug)]
pub struct Work {
    pub path: PathBuf,
    /// Complete lines read from `before.offset` (empty for a gzip archive, read from `path`).
    pub data: Vec<u8>,
    pub gzip: bool,
    /// Where the chunk starts.
    pub before: Checkpoint,
    /// Where the file stands once the chunk is stored.
    pub after: Checkpoint,
    /// Something to report about the file (truncation, an over-long line).
    pub notes: Vec<String>,
}

/// How a source is read at first start.
#[derive(Debug, Clone)]
pub struct Spec {
    pub pattern: String,
    /// Files without a checkpoint at first start begin at their end.
    pub from_end: bool,
    pub follow_symlinks: bool,
}

/// Tail state of all sources.
#[derive(Debug)]
pub struct Tailer {
    specs: Vec<Spec>,
    /// Committed checkpoints by fingerprint.
    known: HashMap<u64, Checkpoint>,
    /// Work handed out and not yet committed, by fingerprint.
    pending: HashMap<u64, Checkpoint>,
    /// Gzip archives seen once, with their size: read when the size holds still.
    settling: HashMap<PathBuf, (u64, i64)>,
    first_scan: bool,
    max_chunk: usize,
    max_line: usize,
}

const MARKER_BYTES: u64 = 64;

/// The fingerprint of a file: its first line (at most 1 KiB), or None while that line is not
/// complete and shorter than 1 KiB.
pub fn fingerprint_of(head: &[u8]) -> Option<u64> {
    let limit = head.len().min(1024);
    let window = head.get(..limit)?;
    let end = match memchr::memchr(b'\n', window) {
        Some(i) => i + 1,
        None if limit == 1024 => 1024,
        None => return None,
    };
    Some(xxhash_rust::xxh3::xxh3_64(window.get(..end)?))
}

fn marker(file: &mut File, offset: u64) -> std::io::Result<u64> {
    let start = offset.saturating_sub(MARKER_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; (offset - start) as usize];
    file.read_exact(&mut buf)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&buf))
}

fn mtime_ms(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The directory a glob starts from (everything before the first wildcard).
fn base_dir(pattern: &str) -> PathBuf {
    let cut = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    let prefix = pattern.get(..cut).unwrap_or(pattern);
    match prefix.rfind('/') {
        Some(i) => PathBuf::from(prefix.get(..i.max(1)).unwrap_or("/")),
        None => PathBuf::from("."),
    }
}

impl Tailer {
    /// A tailer over `specs`, resuming from committed checkpoints.
    pub fn new(specs: Vec<Spec>, checkpoints: Vec<Checkpoint>, max_line: usize) -> Tailer {
        Tailer {
            specs,
            known: checkpoints
                .into_iter()
                .map(|c| (c.fingerprint, c))
                .collect(),
            pending: HashMap::new(),
            settling: HashMap::new(),
            first_scan: true,
            max_chunk: 1024 * 1024,
            max_line,
        }
    }

    /// Replaces the sources (config reload) keeping every position.
    pub fn set_specs(&mut self, specs: Vec<Spec>) {
        self.specs = specs;
    }

    /// The files the globs match now, with their spec; errors are returned, not fatal.
    pub fn discover(&self) -> (Vec<(PathBuf, usize)>, Vec<String>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for (i, spec) in self.specs.iter().enumerate() {
            let base = std::fs::canonicalize(base_dir(&spec.pattern)).ok();
            let entries = match glob::glob(&spec.pattern) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(format!("{}: {e}", spec.pattern));
                    continue;
                }
            };
            for entry in entries {
                match entry {
                    Ok(p) => {
                        let Ok(meta) = std::fs::symlink_metadata(&p) else {
                            continue;
                        };
                        if meta.file_type().is_symlink() && !spec.follow_symlinks {
                            // A link is read only when it stays inside the source's directory.
                            let inside = match (&base, std::fs::canonicalize(&p)) {
                                (Some(b), Ok(t)) => t.starts_with(b),
                                _ => false,
                            };
                            if !inside {
                                continue;
                            }
                        }
                        if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
                            files.push((p, i));
                        }
                    }
                    Err(e) => errors.push(format!("{}: {e}", e.path().display())),
                }
            }
        }
        files.sort();
        files.dedup_by(|a, b| a.0 == b.0);
        (files, errors)
    }

    /// One pass over every file: the work to do now. Call again after committing it.
    pub fn scan(&mut self) -> (Vec<Work>, Vec<String>) {
        let (files, mut errors) = self.discover();
        let mut work = Vec::new();
        let mut seen_fps = std::collections::HashSet::new();
        for (path, spec) in files {
            match self.scan_file(&path, spec) {
                Ok(Some(w)) => {
                    if seen_fps.insert(w.after.fingerprint) {
                        work.push(w);
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
        self.first_scan = false;
        (work, errors)
    }

    fn scan_file(&mut self, path: &Path, spec: usize) -> std::io::Result<Option<Work>> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let size = meta.len();
        let mtime = mtime_ms(&meta);
        let mut head = vec![0u8; 1024.min(size as usize)];
        file.read_exact(&mut head)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let fp = if gzip {
            Some(xxhash_rust::xxh3::xxh3_64(&head))
        } else {
            fingerprint_of(&head)
        };
        let Some(fp) = fp else {
            // The first line is not complete yet: wait for it.
            return Ok(None);
        };
        if self.pending.contains_key(&fp) {
            return Ok(None);
        }
        let from_end = self.first_scan && self.specs.get(spec).is_some_and(|s| s.from_end);
        let mut notes = Vec::new();
        let mut cp = match self.known.get(&fp) {
            Some(c) => {
                let mut c = c.clone();
                if c.path != path {
                    // Renamed: same content, same place in it.
                    c.path = path.to_path_buf();
                }
                c
            }
            None => Checkpoint {
                fingerprint: fp,
                path: path.to_path_buf(),
                offset: 0,
                line: 1,
                marker: 0,
                size: 0,
                mtime_ms: 0,
                complete: false,
                skipping: false,
            },
        };
        if gzip {
            if cp.complete {
                return Ok(None);
            }
            // An archive is read once it holds still (written elsewhere and renamed in, or
            // finished in place).
            let settled = self.settling.get(path) == Some(&(size, mtime));
            self.settling.insert(path.to_path_buf(), (size, mtime));
            if !settled {
                return Ok(None);
            }
            if from_end && !self.known.contains_key(&fp) {
                cp.complete = true;
                self.known.insert(fp, cp);
                return Ok(None);
            }
            let before = cp.clone();
            cp.complete = true;
            cp.size = size;
            cp.mtime_ms = mtime;
            self.pending.insert(fp, cp.clone());
            return Ok(Some(Work {
                path: path.to_path_buf(),
                data: Vec::new(),
                gzip: true,
                before,
                after: cp,
                notes,
            }));
        }
        if !self.known.contains_key(&fp) && from_end {
            // First start, `start_at = "end"`: skip what is there, up to the last newline.
            cp.offset = last_newline_before(&mut file, size)?;
            cp.marker = if cp.offset > 0 {
                marker(&mut file, cp.offset)?
            } else {
                0
            };
            cp.line = 0;
        }
        // Truncation (copytruncate, or rewritten in place): start again.
        if cp.offset > size || (cp.offset > 0 && marker(&mut file, cp.offset)? != cp.marker) {
            notes.push(format!(
                "truncated or rewritten (was {} bytes read, now {size} bytes): reading it again from the start",
                cp.offset
            ));
            cp.offset = 0;
            cp.line = 1;
            cp.marker = 0;
            cp.skipping = false;
        }
        if cp.offset == size {
            if cp.size != size || cp.mtime_ms != mtime {
                cp.size = size;
                cp.mtime_ms = mtime;
                self.known.insert(fp, cp);
            }
            return Ok(None);
        }
        let want = ((size - cp.offset) as usize).min(self.max_chunk.max(self.max_line + 1));
        file.seek(SeekFrom::Start(cp.offset))?;
        let mut data = vec![0u8; want];
        file.read_exact(&mut data)?;
        let before = cp.clone();
        let mut start = 0usize;
        // Inside an over-long line that no newline in `data` ends: nothing to read here.
        let mut inside_long_line = false;
        if cp.skipping {
            match memchr::memchr(b'\n', &data) {
                Some(i) => {
                    start = i + 1;
                    cp.skipping = false;
                }
                None => inside_long_line = true,
            }
        }
        let body = data.get(start..).unwrap_or_default();
        let last_newline = if inside_long_line {
            None
        } else {
            memchr::memrchr(b'\n', body)
        };
        if !inside_long_line && last_newline.is_none() && body.len() > self.max_line {
            notes.push(format!(
                "line {} is longer than {} bytes: skipped",
                cp.line, self.max_line
            ));
            cp.skipping = true;
            inside_long_line = true;
        }
        if inside_long_line {
            // The position moves past these bytes and is committed like any other.
            cp.offset += data.len() as u64;
            cp.marker = marker(&mut file, cp.offset)?;
            cp.size = size;
            cp.mtime_ms = mtime;
            self.pending.insert(fp, cp.clone());
            return Ok(Some(Work {
                path: path.to_path_buf(),
                data: Vec::new(),
                gzip: false,
                before,
                after: cp,
                notes,
            }));
        }
        let end = match last_newline {
            Some(i) => start + i + 1,
            None => {
                // A partial last line: wait for its newline.
                if start == 0 {
                    return Ok(None);
                }
                start
            }
        };
        let chunk = data.get(start..end).unwrap_or_default().to_vec();
        let lines = memchr::memchr_iter(b'\n', data.get(..end).unwrap_or_default()).count() as u64;
        let mut work_before = before;
        work_before.offset += start as u64;
        cp.offset += end as u64;
        cp.line += lines;
        cp.marker = marker(&mut file, cp.offset)?;
        cp.size = size;
        cp.mtime_ms = mtime;
        self.pending.insert(fp, cp.clone());
        Ok(Some(Work {
            path: path.to_path_buf(),
            data: chunk,
            gzip: false,
            before: work_before,
            after: cp,
            notes,
        }))
    }

    /// The chunk's findings and checkpoint are durably stored: the position advances.
    pub fn committed(&mut self, after: &Checkpoint) {
        self.pending.remove(&after.fingerprint);
        self.known.insert(after.fingerprint, after.clone());
    }

    /// A chunk could not be stored: forget it, so the next scan reads it again.
    pub fn abandoned(&mut self, after: &Checkpoint) {
        self.pending.remove(&after.fingerprint);
    }

    /// Whether any work is out and not yet committed.
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The offset after the last newline before `size` (0 when there is none).
fn last_newline_before(file: &mut File, size: u64) -> std::io::Result<u64> {
    let mut end = size;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let len = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        let slice = buf.get_mut(..len).unwrap_or_default();
        file.read_exact(slice)?;
        if let Some(i) = memchr::memrchr(b'\n', slice) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tailer(dir: &Path) -> Tailer {
        Tailer::new(
            vec![Spec {
                pattern: format!("{}/*.log", dir.display()),
                from_end: false,
                follow_symlinks: false,
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
}
