//! Tailing: which bytes of which files are new, and where each file stands.
//!
//! Input: glob patterns and the checkpoints last committed. Output: [`Work`] items, each a chunk
//! of complete lines (or a whole gzip archive) with the checkpoint that holds once that chunk's
//! findings are stored. The caller commits the findings and the checkpoint in one transaction and
//! only then calls [`Tailer::committed`]; a crash in between re-reads the chunk, and natural
//! evidence keys make that harmless (at-least-once reading, exactly-once findings).
//!
//! The rules (after vector's file source and the tailers that came before it):
//! - A file is identified by its device and inode, never by its path, so a renamed file keeps
//!   its place and a new file at the old path starts from the beginning (rename-and-create
//!   rotation); two files are never taken for one, whatever their first lines.
//! - The identity is checked against the file's head: a hash of its first bytes (up to 4 KiB,
//!   taken again as the file grows to that size). A head that changed means the inode now holds
//!   another file (deleted and reused) or the file was rewritten: it is read from the start.
//! - A checkpoint stores the offset after the last complete line and a marker hash of the bytes
//!   just before it; a file now shorter than the offset, or whose marker changed, was truncated
//!   (copytruncate) and is read again from the start.
//! - Gzip archives are immutable: read whole once they stop changing, then marked complete.
//! - A trailing partial line waits for its newline, or for the file to stay unchanged for
//!   [`IDLE_MS`] (a JSON document written at once, a finished export): then it is read as a
//!   line. A line longer than the limit is skipped.
//! - A failed scan (permissions, too many open files) is not a deletion: nothing is forgotten.
//! - What a file holds is recognised by its records' own keys and by the content fingerprint
//!   (its first line), not by its identity: a copy, or a `.gz` of a file already read, gives
//!   the same evidence keys and is counted once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Which file a checkpoint is about: its device and inode (0, 0 for a checkpoint stored before
/// files were identified so, matched once by its fingerprint).
pub type FileId = (u64, u64);

/// Where one file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The file's device and inode.
    pub id: FileId,
    /// The content fingerprint (first line, at most 1 KiB) evidence keys are made of.
    pub fingerprint: u64,
    /// How many of the file's first bytes `head_hash` covers, and their hash.
    pub head_len: u64,
    /// The hash of the first `head_len` bytes: a file rewritten in place no longer matches it.
    pub head_hash: u64,
    /// When the file was created (nanoseconds; 0 where the filesystem does not say): an inode
    /// reused for a new file has a new birth time.
    pub born: i64,
    /// Hash of the first [`PREFIX`] bytes (fewer for a shorter file), 0 for an empty file:
    /// the index copies are found by.
    pub prefix: u64,
    /// A checkpoint of the older kind (by fingerprint) this one takes the place of.
    pub replaces: Option<u64>,
    /// The path the file was last seen at (it follows a rename).
    pub path: PathBuf,
    /// Bytes fully processed (after the last complete line).
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
    /// Hash of up to 64 bytes before `offset`.
    pub marker: u64,
    /// Size and modification time when last seen.
    pub size: u64,
    /// The modification time, in epoch milliseconds: with `size`, whether the file changed at all.
    pub mtime_ms: i64,
    /// A gzip archive read to its end.
    pub complete: bool,
    /// Inside an over-long line: skip to the next newline.
    pub skipping: bool,
}

/// One unit of reading.
#[derive(Debug)]
pub struct Work {
    /// The file the chunk was read from.
    pub path: PathBuf,
    /// Complete lines read from `before.offset` (empty for a gzip archive, read from `path`).
    pub data: Vec<u8>,
    /// A gzip archive, read whole from `path` by the reader rather than handed over in `data`.
    pub gzip: bool,
    /// Where the chunk starts.
    pub before: Checkpoint,
    /// Where the file stands once the chunk is stored.
    pub after: Checkpoint,
    /// Something to report about the file (truncation, an over-long line).
    pub notes: Vec<String>,
    /// The shape its source is configured to hold.
    pub shape: Option<super::Shape>,
}

/// How a source is read at first start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The glob of `[[source]] path`.
    pub pattern: String,
    /// Files without a checkpoint at first start begin at their end.
    pub from_end: bool,
    /// Follow symbolic links that lead out of the glob's fixed base directory (`follow_symlinks`).
    pub follow_symlinks: bool,
    /// The shape its files hold (`[[source]] format`), or None to tell by content.
    pub shape: Option<super::Shape>,
}

/// Tail state of all sources.
#[derive(Debug)]
pub struct Tailer {
    specs: Vec<Spec>,
    /// Committed checkpoints by file.
    known: HashMap<FileId, Checkpoint>,
    /// Checkpoints stored before files were identified by inode, by fingerprint: each is taken
    /// over by the first file whose first line matches.
    legacy: HashMap<u64, Checkpoint>,
    /// Work handed out and not yet committed, by file.
    pending: HashMap<FileId, Checkpoint>,
    /// Known files by the hash of their first [`PREFIX`] bytes (or fewer, for a shorter
    /// file): a new file that begins with the whole head of a known one is a copy of it
    /// (copytruncate's copy, a file moved from another filesystem), perhaps grown since, and
    /// goes on from where the known one stands. Entries may be stale; each is checked.
    by_prefix: HashMap<u64, Vec<FileId>>,
    /// Files no longer found (after a scan without errors): their inode may come back holding
    /// another file, so it is not taken for the same one. Their positions stay, to recognise
    /// copies of them.
    gone: std::collections::HashSet<FileId>,
    /// Gzip archives seen once, with their size: read when the size holds still.
    settling: HashMap<PathBuf, (u64, i64)>,
    first_scan: bool,
    /// [`IDLE_MS`], unless set otherwise.
    idle_ms: i64,
    max_chunk: usize,
    max_line: usize,
}

const MARKER_BYTES: u64 = 64;

/// How many of a file's first bytes check its identity.
const HEAD_MAX: usize = 4096;

/// How many of a file's first bytes index it for finding copies.
const PREFIX: usize = 64;

/// How long a file must stay unchanged before a last line without a newline is read, in
/// milliseconds.
pub const IDLE_MS: i64 = 2000;

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
compile_error!("whydenied tails files by inode: it builds on Unix only");

fn birth_ns(m: &std::fs::Metadata) -> i64 {
    m.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(0))
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
        let (legacy, known): (Vec<Checkpoint>, Vec<Checkpoint>) =
            checkpoints.into_iter().partition(|c| c.id == (0, 0));
        let mut by_prefix: HashMap<u64, Vec<FileId>> = HashMap::new();
        for c in known.iter().filter(|c| c.prefix != 0) {
            by_prefix.entry(c.prefix).or_default().push(c.id);
        }
        Tailer {
            specs,
            by_prefix,
            gone: std::collections::HashSet::new(),
            known: known.into_iter().map(|c| (c.id, c)).collect(),
            legacy: legacy.into_iter().map(|c| (c.fingerprint, c)).collect(),
            pending: HashMap::new(),
            settling: HashMap::new(),
            first_scan: true,
            idle_ms: IDLE_MS,
            max_chunk: 1024 * 1024,
            max_line,
        }
    }

    /// How long a file must stay unchanged before its last line without a newline is read.
    pub fn set_idle_ms(&mut self, ms: i64) {
        self.idle_ms = ms;
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
        let (mut files, mut errors) = self.discover();
        // New files first: a copy (copytruncate's `a.log.1`) is matched with its original's
        // position before the original, truncated, is read again and its old position gone.
        files.sort_by_key(|(p, _)| {
            std::fs::metadata(p).is_ok_and(|m| self.known.contains_key(&file_id(&m)))
        });
        let mut work = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (path, spec) in files {
            match self.scan_file(&path, spec, &mut seen) {
                Ok(Some(w)) => work.push(w),
                Ok(None) => {}
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
        if errors.is_empty() {
            for id in self.known.keys() {
                if !seen.contains(id) {
                    self.gone.insert(*id);
                }
            }
        }
        self.first_scan = false;
        (work, errors)
    }

    fn scan_file(
        &mut self,
        path: &Path,
        spec: usize,
        seen: &mut std::collections::HashSet<FileId>,
    ) -> std::io::Result<Option<Work>> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let id = file_id(&meta);
        let born = birth_ns(&meta);
        // A file reached by two paths (a hard link, a link inside the directory) is read once.
        if id != (0, 0) && !seen.insert(id) {
            return Ok(None);
        }
        let size = meta.len();
        let mtime = mtime_ms(&meta);
        let mut head = vec![0u8; HEAD_MAX.min(size as usize)];
        file.read_exact(&mut head)?;
        let gzip = super::open::is_gzip(&head);
        let idle = now_ms() - mtime >= self.idle_ms;
        // The content fingerprint: a gzip archive's is taken by the reader from its content.
        let fp = if gzip {
            0
        } else {
            match super::fingerprint::of_complete_line(&head) {
                Some(fp) => fp,
                // The first line is not complete yet: wait for it, or for the file to go idle.
                None if idle && size > 0 => xxhash_rust::xxh3::xxh3_64(&head),
                None => return Ok(None),
            }
        };
        if self.pending.contains_key(&id) {
            return Ok(None);
        }
        let from_end = self.first_scan && self.specs.get(spec).is_some_and(|s| s.from_end);
        let shape = self.specs.get(spec).and_then(|s| s.shape);
        let mut notes = Vec::new();
        let fresh = |replaces: Option<u64>| Checkpoint {
            id,
            fingerprint: fp,
            head_len: 0,
            head_hash: 0,
            born,
            prefix: 0,
            replaces,
            path: path.to_path_buf(),
            offset: 0,
            line: 1,
            marker: 0,
            size: 0,
            mtime_ms: 0,
            complete: false,
            skipping: false,
        };
        // The file as last seen under this inode, if it still begins as it did then. One
        // with nothing read yet proves nothing (an empty file's head matches any content), so
        // the new content may still be a copy of another file.
        let mut same = None;
        let returned = self.gone.remove(&id);
        if let Some(c) = self
            .known
            .get(&id)
            .filter(|c| !returned && (c.born == 0 || born == 0 || c.born == born))
        {
            let unchanged = head
                .get(..c.head_len as usize)
                .is_some_and(|h| xxhash_rust::xxh3::xxh3_64(h) == c.head_hash);
            if !unchanged && (c.offset > 0 || c.complete) {
                notes.push(format!(
                    "replaced or rewritten (its first {} bytes changed; {} bytes were read): reading it again from the start",
                    c.head_len, c.offset
                ));
            }
            if unchanged {
                same = Some(c.clone());
            }
        }
        let started = same
            .as_ref()
            .is_some_and(|c| c.offset > 0 || c.complete || c.skipping);
        let mut known = same.is_some();
        let mut cp = match same.filter(|_| started) {
            Some(mut c) => {
                // Renamed: same file, same place in it.
                c.path = path.to_path_buf();
                c
            }
            None => {
                let copy_of = (1..=PREFIX.min(head.len()))
                    .filter_map(|k| head.get(..k))
                    .filter_map(|p| self.by_prefix.get(&xxhash_rust::xxh3::xxh3_64(p)))
                    .flatten()
                    .filter(|other| **other != id)
                    .filter_map(|other| self.known.get(other))
                    .filter(|c| {
                        c.head_len > 0
                            && (c.offset > 0 || c.complete)
                            && head
                                .get(..c.head_len as usize)
                                .is_some_and(|h| xxhash_rust::xxh3::xxh3_64(h) == c.head_hash)
                    })
                    // A copy of a copy begins with both: it goes on from the longer.
                    .max_by_key(|c| (c.head_len, c.offset));
                // An older position of the same first line is this file's when it was stored
                // for this path, or for a path that no longer exists (the file was renamed):
                // files that merely begin alike shared one such row.
                let legacy = (fp != 0 && !self.pending.values().any(|c| c.replaces == Some(fp)))
                    .then(|| self.legacy.get(&fp))
                    .flatten()
                    .filter(|c| c.path == path || !c.path.exists());
                let unread = self.known.get(&id).filter(|_| known).cloned();
                match (copy_of, legacy) {
                    (Some(c), _) => {
                        known = false;
                        let mut c = c.clone();
                        c.id = id;
                        c.born = born;
                        c.path = path.to_path_buf();
                        c
                    }
                    (None, _) if unread.is_some() => {
                        let mut c = unread.unwrap_or_else(|| fresh(None));
                        c.path = path.to_path_buf();
                        c
                    }
                    (None, Some(c)) => {
                        let mut c = c.clone();
                        c.replaces = Some(c.fingerprint);
                        c.id = id;
                        c.born = born;
                        c.path = path.to_path_buf();
                        c
                    }
                    (None, None) => fresh(None),
                }
            }
        };
        cp.fingerprint = fp;
        cp.head_len = head.len() as u64;
        cp.head_hash = xxhash_rust::xxh3::xxh3_64(&head);
        cp.prefix = head
            .get(..PREFIX.min(head.len()))
            .filter(|p| !p.is_empty())
            .map_or(0, xxhash_rust::xxh3::xxh3_64);
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
            if from_end && !known {
                cp.complete = true;
                self.remember(cp);
                return Ok(None);
            }
            let before = cp.clone();
            cp.complete = true;
            return Ok(Some(self.hand_on(
                id,
                (size, mtime),
                Work {
                    path: path.to_path_buf(),
                    data: Vec::new(),
                    gzip: true,
                    before,
                    after: cp,
                    notes,
                    shape,
                },
            )));
        }
        if !known && from_end && cp.offset == 0 {
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
            if !known && size > 0 {
                // A copy of a file already read, or a file taken over from an older
                // checkpoint: nothing to read, but its position must be stored like any other,
                // or a restart would read it again.
                let before = cp.clone();
                return Ok(Some(self.hand_on(
                    id,
                    (size, mtime),
                    Work {
                        path: path.to_path_buf(),
                        data: Vec::new(),
                        gzip: false,
                        before,
                        after: cp,
                        notes,
                        shape,
                    },
                )));
            }
            if cp.size != size || cp.mtime_ms != mtime || !known {
                cp.size = size;
                cp.mtime_ms = mtime;
                self.remember(cp);
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
            return Ok(Some(self.hand_on(
                id,
                (size, mtime),
                Work {
                    path: path.to_path_buf(),
                    data: Vec::new(),
                    gzip: false,
                    before,
                    after: cp,
                    notes,
                    shape,
                },
            )));
        }
        let at_eof = cp.offset + data.len() as u64 == size;
        // A partial last line of a file that has stopped changing is complete: read it. One
        // that begins like JSON must be a whole JSON value: a record a buffered writer has
        // only half written is left for its newline.
        let tail_line = match last_newline {
            Some(i) => body.get(i + 1..).unwrap_or_default(),
            None => body,
        };
        let whole = match tail_line.trim_ascii_start().first() {
            Some(b'{') | Some(b'[') => {
                serde_json::from_slice::<serde::de::IgnoredAny>(tail_line).is_ok()
            }
            _ => true,
        };
        let idle_tail =
            at_eof && idle && whole && data.len() > start && data.last() != Some(&b'\n');
        let end = match last_newline {
            _ if idle_tail => data.len(),
            Some(i) => start + i + 1,
            None => {
                // A partial last line: wait for its newline.
                if start == 0 {
                    if known {
                        return Ok(None);
                    }
                    // A new file (or a copy taken over at its place): its position is stored
                    // now, so it is known by the time its original changes.
                    let before = cp.clone();
                    return Ok(Some(self.hand_on(
                        id,
                        (size, mtime),
                        Work {
                            path: path.to_path_buf(),
                            data: Vec::new(),
                            gzip: false,
                            before,
                            after: cp,
                            notes,
                            shape,
                        },
                    )));
                }
                start
            }
        };
        let mut chunk = data.get(start..end).unwrap_or_default().to_vec();
        let mut lines =
            memchr::memchr_iter(b'\n', data.get(..end).unwrap_or_default()).count() as u64;
        if idle_tail {
            chunk.push(b'\n');
            lines += 1;
        }
        let mut work_before = before;
        work_before.offset += start as u64;
        cp.offset += end as u64;
        cp.line += lines;
        cp.marker = marker(&mut file, cp.offset)?;
        Ok(Some(self.hand_on(
            id,
            (size, mtime),
            Work {
                path: path.to_path_buf(),
                data: chunk,
                gzip: false,
                before: work_before,
                after: cp,
                notes,
                shape,
            },
        )))
    }

    /// Every way out of reading a file ends here: the position the work leaves the file at
    /// takes the file's size and time and waits, pending, until the work is stored.
    fn hand_on(&mut self, id: FileId, (size, mtime): (u64, i64), mut work: Work) -> Work {
        work.after.size = size;
        work.after.mtime_ms = mtime;
        self.pending.insert(id, work.after.clone());
        work
    }

    /// The chunk's findings and checkpoint are durably stored: the position advances.
    pub fn committed(&mut self, after: &Checkpoint) {
        self.pending.remove(&after.id);
        self.remember(after.clone());
    }

    fn remember(&mut self, mut c: Checkpoint) {
        if let Some(fp) = c.replaces.take() {
            self.legacy.remove(&fp);
        }
        if c.prefix != 0 {
            let ids = self.by_prefix.entry(c.prefix).or_default();
            if !ids.contains(&c.id) {
                ids.push(c.id);
            }
            // Entries whose file has moved on are dropped here, so lists stay short.
            let known = &self.known;
            ids.retain(|i| *i == c.id || known.get(i).is_some_and(|k| k.prefix == c.prefix));
        }
        self.known.insert(c.id, c);
    }

    /// A chunk could not be stored: forget it, so the next scan reads it again.
    pub fn abandoned(&mut self, after: &Checkpoint) {
        self.pending.remove(&after.id);
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
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests;
