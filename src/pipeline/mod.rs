//! The pipeline: files → items → denials → diagnoses → stored findings.
//!
//! `replay` runs it over archived files with one worker thread per core reading, decompressing
//! and parsing files in parallel, and one writer (the calling thread) owning the database and
//! committing batches. Channels are bounded, so a slow disk slows the readers instead of growing
//! memory. `explain` runs the same per-item steps into an in-memory [`Aggregate`] instead.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::diagnose::{self, Diagnosis};
use crate::evaluate::gather::PolicySource;
use crate::finding::{self, Evidence, Finding};
use crate::ingest::{self, Item, Limits, Position, SourceKind};
use crate::parse::GatewayRequests;
use crate::parse::{Change, Denial, ParseError, Parsed, Parser};
use crate::rules::Rules;
use crate::store::{self, RunCounters, Store, StoreError};
use crate::suggest::{self, Suggestion};

mod after_import;
mod problem;
mod workers;
pub use after_import::{
    AfterImport, after_import, rediagnose_kms_findings, rediagnose_open, rediagnose_open_of,
    rediagnose_user_pool_findings, reopen_unfixed, resolve_fixed,
};
pub use problem::Problem;
use workers::workers;

/// How many diagnoses a worker gathers before handing them to the writer.
const BATCH: usize = 512;
/// The writer commits once this many diagnoses wait...
const FLUSH_ROWS: usize = 2048;
/// ...or once the oldest has waited this long.
const FLUSH_AFTER: Duration = Duration::from_millis(1000);

/// Options of a replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Size limits for records, lines and decompressed gzip data (`--max-*-bytes`).
    pub limits: Limits,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The database whose imported policies diagnoses consult (each worker opens it read-only).
    pub policies: Option<PathBuf>,
    /// Benchmark baseline: decompress every file with the same threads, parse nothing.
    pub decompress_only: bool,
    /// Follow symbolic links inside directories that lead out of the path given.
    pub follow_symlinks: bool,
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files, records, denials, new evidence and errors of the run: the summary line and `stats`.
    pub counters: RunCounters,
    /// User pools whose triggers the logs set: their invoke failures are diagnosed again once
    /// the run is stored, whichever order the records were read in.
    pub pool_changes: u64,
    /// Tables and secrets the logs showed a new KMS key for: the KMS findings are diagnosed
    /// again once the run is stored.
    pub key_changes: u64,
}

/// Progress reports while replaying.
pub trait Progress {
    /// A file is done; `bytes` is its stored size.
    fn file_done(&mut self, bytes: u64, totals: &RunCounters);
    /// A problem to show the user (already escaped).
    fn problem(&mut self, problem: &Problem);
}

/// One unit of work the readers send to the writer.
enum Msg {
    /// Diagnoses folded by finding and serialised in the worker: the writer only writes.
    Batch(store::Prepared),
    Changes(Vec<Change>),
    /// Findings of denials already stored: shown, not written.
    Seen(Vec<String>),
    Problem(Problem),
    /// A path that could not be listed: counted as an error, not as a file.
    WalkError(Problem),
    /// A path left out on purpose (a symbolic link leading out): said, not counted as an error.
    WalkSkipped(Problem),
    FileDone {
        bytes: u64,
        records: u64,
        denials: u64,
        errors: u64,
    },
}

/// Builds the natural key of a piece of evidence: the event's own id where it has one, else
/// the file's content fingerprint, the record's offset and a hash of the record's first line,
/// so that two files beginning alike never share a key while a copy of a file (renamed,
/// rotated, compressed) gives the same keys. Only the first line is hashed: a text event's
/// continuation lines (a traceback) may be cut off where a tailed chunk ended.
pub fn evidence_key(d: &Denial, fingerprint: u64, pos: Position, record: &[u8]) -> String {
    if let Some(k) = &d.event_key {
        return format!("ct:{k}");
    }
    if let Some(id) = &d.log_event_id {
        return format!("cw:{id}");
    }
    let first = match memchr::memchr(b'\n', record) {
        Some(i) => record.get(..i).unwrap_or(record),
        None => record,
    };
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    format!(
        "fp:{fingerprint:016x}:{}:{:08x}",
        pos.offset,
        xxhash_rust::xxh3::xxh3_64(first) as u32
    )
}

/// The key older builds gave the same evidence (fingerprint and offset only), which a store
/// written by them holds: None where the key is the event's own.
fn legacy_key(d: &Denial, fingerprint: u64, pos: Position) -> Option<String> {
    (d.event_key.is_none() && d.log_event_id.is_none())
        .then(|| format!("fp:{fingerprint:016x}:{}", pos.offset))
}

/// Turns one denial into a diagnosis and its evidence.
pub fn observe(
    d: Denial,
    rules: &Rules,
    src: Option<&dyn PolicySource>,
    file: &str,
    (fingerprint, legacy): (u64, u64),
    pos: Position,
    record: &[u8],
) -> (Suggestion, Evidence) {
    let key = evidence_key(&d, fingerprint, pos, record);
    let legacy = legacy_key(&d, legacy, pos);
    let (diag, ev) = observe_keyed(d, rules, src, file, pos, (key, legacy));
    (suggest::suggest(diag, rules, src), ev)
}

/// [`observe`] with the evidence keys already built, and the fix left to build: a batch
/// builds one per finding ([`store::prepare_with`]).
fn observe_keyed(
    d: Denial,
    rules: &Rules,
    src: Option<&dyn PolicySource>,
    file: &str,
    pos: Position,
    (key, legacy_key): (String, Option<String>),
) -> (Diagnosis, Evidence) {
    let diag = diagnose::diagnose_with(&d, rules, src);
    let ev = Evidence {
        source: d.source.as_str().to_string(),
        file: file.to_string(),
        record: pos.index,
        line: pos.line,
        event_id: d.event_id.clone(),
        event_name: d.event_name.clone(),
        time: d.time.map(|t| finding::format_ms(t.as_millisecond())),
        function: d.function.clone(),
        key,
        legacy_key,
        time_ms: d.time.map(|t| t.as_millisecond()),
        denial: Some(std::sync::Arc::new(d)),
    };
    (diag, ev)
}

/// What to read: a file, or an open stream (standard input).
pub enum Input<'a> {
    /// A path to open and read, gzip or not.
    Path(&'a Path),
    /// An open stream, read to its end.
    Reader(&'a mut dyn std::io::Read),
    /// Complete lines of a tailed file: its fingerprint and where the chunk starts, so that
    /// positions and evidence keys are those a full read of the file gives.
    Chunk {
        /// The complete lines read.
        data: &'a [u8],
        /// The file's content fingerprint, as a read of the whole file takes it.
        fingerprint: u64,
        /// The position of the chunk's first byte in the file (offset, line, record index).
        base: Position,
    },
}

/// What reading needs besides the input: the parser, the catalogs, the stored policies (when
/// any) and the size limits.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The message grammar and record parser.
    pub parser: &'a Parser<'a>,
    /// The built-in catalogs (actions, managed policies, Lambda setups, integrations).
    pub rules: &'a Rules,
    /// The imported policies and facts denials are evaluated against, when there are any.
    pub src: Option<&'a dyn PolicySource>,
    /// Size limits for records, lines and decompressed gzip data.
    pub limits: &'a Limits,
    /// The store, read before a denial is diagnosed: one whose evidence is stored already is
    /// handed to `seen` with its finding's id instead (a replay of files read before costs
    /// parsing and one lookup per denial, not a diagnosis).
    pub stored: Option<&'a Store>,
}

/// Reads one input through the parser, calling `out` per diagnosis and `problem` per problem.
/// Returns (records, denials, errors, stored bytes).
pub fn process_file(
    source: Input<'_>,
    display: &str,
    env: Env<'_>,
    out: &mut dyn FnMut(Diagnosis, Evidence),
    seen: &mut dyn FnMut(String),
    problem: &mut dyn FnMut(Problem),
    change: &mut dyn FnMut(Change),
) -> (u64, u64, u64, u64) {
    let Env {
        parser,
        rules,
        src,
        limits,
        stored,
    } = env;
    // A denial's evidence keys are built once: looked up in the store, then stored with it.
    let evidence_keys = |d: &Denial, fp: (u64, u64), pos: Position, record: &[u8]| {
        (evidence_key(d, fp.0, pos, record), legacy_key(d, fp.1, pos))
    };
    let stored_finding = |d: &Denial, (key, legacy): &(String, Option<String>)| {
        let s = stored?;
        let t = d.time.map(|t| t.as_millisecond());
        s.finding_of_evidence(t, key)
            .or_else(|| legacy.as_deref().and_then(|k| s.finding_of_evidence(t, k)))
    };
    let (mut records, mut denials, mut errors) = (0u64, 0u64, 0u64);
    let (mut fp, base) = match &source {
        Input::Chunk {
            fingerprint, base, ..
        } => (*fingerprint, Some(*base)),
        _ => (0u64, None),
    };
    let mut legacy_fp = fp;
    let at = |p: Position| match base {
        Some(b) => Position {
            offset: b.offset + p.offset,
            line: b.line + p.line - 1,
            index: p.index,
        },
        None => p,
    };
    let mut gateway = GatewayRequests::new(display);
    let mut unknown = 0u64;
    let mut first_unknown: Option<(u64, String)> = None;
    let mut sink = |item: Item<'_>| match item {
        Item::Opened {
            fingerprint,
            legacy,
        } => {
            if base.is_none() {
                fp = fingerprint;
                legacy_fp = legacy;
            }
        }
        Item::Json(pos, bytes) => {
            let pos = at(pos);
            records += 1;
            match parser.json_record(bytes) {
                Ok(Parsed::Denial(mut d)) => {
                    denials += 1;
                    if let Some(k) = crate::parse::key_use_of(&d) {
                        change(Change::KeyUse(k));
                    }
                    // An HTTP API access log in JSON names its route in the record.
                    if d.message.family
                        == crate::parse::Family::Lambda(crate::parse::LambdaError::ApiGatewayInvoke)
                        && let Ok(text) = std::str::from_utf8(bytes)
                    {
                        gateway.correlate(&mut d, text);
                    }
                    let k = evidence_keys(&d, (fp, legacy_fp), pos, bytes);
                    if let Some(id) = stored_finding(&d, &k) {
                        seen(id);
                    } else {
                        let (diag, ev) = observe_keyed(*d, rules, src, display, pos, k);
                        out(diag, ev);
                    }
                }
                Ok(Parsed::Change(c)) => change(c),
                Ok(Parsed::Nothing) => {}
                Err(ParseError::UnknownShape(keys)) => {
                    // Reported once per file below: a whole file of foreign JSON is one problem.
                    unknown += 1;
                    first_unknown.get_or_insert((pos.line, keys));
                }
                Err(e) => {
                    errors += 1;
                    problem(Problem::Record {
                        file: display.to_string(),
                        line: pos.line,
                        record: pos.index,
                        error: e.to_string(),
                    });
                }
            }
        }
        Item::Text(pos, text) => {
            let pos = at(pos);
            records += 1;
            gateway.observe(text);
            if let Some(mut d) = parser.text(text, SourceKind::LambdaText) {
                gateway.correlate(&mut d, text);
                denials += 1;
                let k = evidence_keys(&d, (fp, legacy_fp), pos, text.as_bytes());
                if let Some(id) = stored_finding(&d, &k) {
                    seen(id);
                } else {
                    let (diag, ev) = observe_keyed(d, rules, src, display, pos, k);
                    out(diag, ev);
                }
            }
        }
        Item::Problem(p) => {
            errors += 1;
            problem(Problem::Input {
                file: display.to_string(),
                problem: p,
            });
        }
    };
    let result = match source {
        Input::Path(path) => ingest::read_file(path, limits, &mut sink),
        Input::Reader(r) => ingest::read_reader(r, limits, &mut sink),
        Input::Chunk { data, .. } => {
            let mut cursor = std::io::Cursor::new(data);
            ingest::read_reader(&mut cursor, limits, &mut sink)
        }
    };
    if let Some((line, keys)) = first_unknown {
        errors += 1;
        problem(Problem::UnknownShape {
            file: display.to_string(),
            count: unknown,
            line,
            keys,
        });
    }
    let stored = match result {
        Ok(info) => info.stored_bytes,
        Err(e) => {
            errors += 1;
            problem(Problem::Read {
                file: display.to_string(),
                error: e.to_string(),
            });
            0
        }
    };
    (records, denials, errors, stored)
}

/// Reads and decompresses a file, discarding what it holds: the floor a replay is measured
/// against. Returns the stored size.
fn decompress_only(path: &Path) -> u64 {
    use std::io::{BufRead, Read};
    let Ok(f) = std::fs::File::open(path) else {
        return 0;
    };
    let stored = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut raw = std::io::BufReader::with_capacity(256 * 1024, f);
    let gz = raw.fill_buf().map(ingest::open::is_gzip).unwrap_or(false);
    let mut buf = vec![0u8; 256 * 1024];
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    stored
}

/// Replays files and directories into the store.
pub fn replay(
    paths: &[PathBuf],
    store: &mut Store,
    rules: &Rules,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Outcome, StoreError> {
    let mut outcome = Outcome::default();
    let cores = std::thread::available_parallelism().map_or(workers::DEFAULT_WORKERS, |n| n.get());
    let threads = workers(opts.threads, cores);
    // A single explicit file needs one worker; a directory is walked as the workers read, so
    // millions of files are never listed in memory at once.
    let single = matches!(paths, [p] if p.is_file());
    let threads = if single { 1 } else { threads };
    let (path_tx, path_rx) = mpsc::sync_channel::<PathBuf>(threads * 64);
    let own_files = OwnFiles::new(opts.policies.as_deref());
    let path_rx = std::sync::Mutex::new(path_rx);
    // Four batches a worker: enough to keep the workers busy while the writer waits for a
    // checkpoint's `fsync` (tens of milliseconds; two a worker left them idle then), and
    // eight at most whatever the workers: more only wait longer for the one writer.
    let (tx, rx) = mpsc::sync_channel::<Msg>((threads * 4).min(8));
    let mut store_error: Option<StoreError> = None;
    store.checkpoint_beside()?;
    // Which findings the input belongs to is told to the store as batches arrive (for the
    // output's `Query::touched`); none yet, whatever this connection did before.
    store.untouch()?;
    // One parser for all workers: its grammar is megabytes of compiled patterns, and its memo
    // of messages is worth more shared. The resource-type catalog, which the first fix needs,
    // is read beside it (about half the grammar's time, on the other core).
    let parser = std::thread::scope(|s| {
        s.spawn(|| {
            rules.resource_types();
        });
        Parser::new(rules).ok()
    });
    let parser = parser.as_ref();
    std::thread::scope(|scope| {
        {
            let tx = tx.clone();
            scope.spawn(move || {
                ingest::walk_each(paths, opts.follow_symlinks, &mut |w| match w {
                    ingest::Walked::File(f) if own_files.is_own(&f) => true,
                    ingest::Walked::File(f) => path_tx.send(f).is_ok(),
                    ingest::Walked::Error(p, e) => tx
                        .send(Msg::WalkError(Problem::Walk {
                            path: p,
                            error: e.to_string(),
                        }))
                        .is_ok(),
                    ingest::Walked::Skipped(p, why) => tx
                        .send(Msg::WalkSkipped(Problem::Skipped { path: p, why }))
                        .is_ok(),
                });
            });
        }
        for _ in 0..threads {
            let tx = tx.clone();
            let path_rx = &path_rx;
            let limits = opts.limits;
            scope.spawn(move || {
                let Some(parser) = parser else {
                    return;
                };
                // Each worker reads policies through its own connection.
                // Only a database that holds imported facts is worth asking.
                let policies = opts
                    .policies
                    .as_deref()
                    .and_then(|p| Store::open_existing(p).ok().flatten())
                    .filter(|s| s.last_import_ms().is_some());
                // The stored facts do not change during a replay: each worker remembers what it
                // read, so the 5,000th denial of the same role costs hash lookups, not queries.
                let memo = policies
                    .as_ref()
                    .map(|s| crate::evaluate::gather::Memo::new(s));
                let src = memo.as_ref().map(|s| s as &dyn PolicySource);
                // And looks up evidence keys through another, so that denials stored before are
                // not diagnosed again. A database that held no evidence when the replay began
                // has nothing to find (a record read twice in this run is folded by the
                // writer, which checks every key): no lookup per denial then.
                let stored = opts
                    .policies
                    .as_deref()
                    .and_then(|p| Store::open_existing(p).ok().flatten())
                    .filter(Store::has_evidence)
                    .and_then(|mut s| s.small_cache().ok().map(|()| s));
                loop {
                    // The lock is held only to take the next path.
                    let next = path_rx.lock().ok().and_then(|rx| rx.recv().ok());
                    let Some(path) = next else { break };
                    let path = path.as_path();
                    if opts.decompress_only {
                        let bytes = decompress_only(path);
                        if tx
                            .send(Msg::FileDone {
                                bytes,
                                records: 0,
                                denials: 0,
                                errors: 0,
                            })
                            .is_err()
                        {
                            break;
                        }
                        continue;
                    }
                    let display = path.display().to_string();
                    let finish = |b: Vec<(Diagnosis, Evidence)>| {
                        store::prepare_with(b, |d| suggest::suggest(d, rules, src))
                    };
                    let mut batch = Vec::new();
                    let mut seen = Vec::new();
                    let mut problems = Vec::new();
                    let mut changes = Vec::new();
                    let (records, denials, errors, bytes) = process_file(
                        Input::Path(path),
                        &display,
                        Env {
                            parser,
                            rules,
                            src,
                            limits: &limits,
                            stored: stored.as_ref(),
                        },
                        &mut |d, e| {
                            batch.push((d, e));
                            if batch.len() >= BATCH {
                                let full = std::mem::take(&mut batch);
                                let _ = tx.send(Msg::Batch(finish(full)));
                            }
                        },
                        &mut |id| {
                            // One id per finding per file is enough for the output.
                            if seen.last() != Some(&id) {
                                seen.push(id);
                            }
                        },
                        &mut |p| problems.push(p),
                        &mut |c| changes.push(c),
                    );
                    if !seen.is_empty() {
                        seen.sort_unstable();
                        seen.dedup();
                        let _ = tx.send(Msg::Seen(seen));
                    }
                    for p in problems {
                        let _ = tx.send(Msg::Problem(p));
                    }
                    if !changes.is_empty() {
                        let _ = tx.send(Msg::Changes(changes));
                    }
                    if !batch.is_empty() {
                        let _ = tx.send(Msg::Batch(finish(batch)));
                    }
                    if tx
                        .send(Msg::FileDone {
                            bytes,
                            records,
                            denials,
                            errors,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // The writer: this thread owns the database. Diagnoses wait in `pending` until enough
        // have gathered (or enough time has passed) to be worth one transaction: each commit
        // rewrites every page it touched, and the same findings recur from file to file.
        let mut pending: Vec<store::Prepared> = Vec::new();
        let mut pending_rows = 0usize;
        let mut since = Instant::now();
        for msg in rx.iter() {
            match msg {
                Msg::Batch(b) => {
                    if store_error.is_some() {
                        continue;
                    }
                    if let Err(e) = store.touch(b.ids()) {
                        store_error = Some(e);
                        continue;
                    }
                    if pending.is_empty() {
                        since = Instant::now();
                    }
                    pending_rows += b.rows();
                    pending.push(b);
                    if pending_rows >= FLUSH_ROWS || since.elapsed() >= FLUSH_AFTER {
                        pending_rows = 0;
                        flush(store, &mut pending, &mut outcome, &mut store_error);
                    }
                }
                Msg::Seen(ids) => {
                    if store_error.is_none()
                        && let Err(e) = store.touch(ids.iter().map(String::as_str))
                    {
                        store_error = Some(e);
                    }
                }
                Msg::Changes(c) => {
                    outcome.pool_changes += c
                        .iter()
                        .filter(|c| matches!(c, Change::UserPool(_)))
                        .count() as u64;
                    if store_error.is_none() {
                        match store.record_changes(&c) {
                            Ok(n) => outcome.key_changes += n,
                            Err(e) => store_error = Some(e),
                        }
                    }
                }
                Msg::Problem(p) => progress.problem(&p),
                Msg::WalkError(p) => {
                    outcome.counters.errors += 1;
                    progress.problem(&p);
                }
                Msg::WalkSkipped(p) => progress.problem(&p),
                Msg::FileDone {
                    bytes,
                    records,
                    denials,
                    errors,
                } => {
                    let c = &mut outcome.counters;
                    c.files += 1;
                    c.records += records;
                    c.denials += denials;
                    c.errors += errors;
                    c.bytes += bytes;
                    progress.file_done(bytes, c);
                    if !pending.is_empty() && since.elapsed() >= FLUSH_AFTER {
                        pending_rows = 0;
                        flush(store, &mut pending, &mut outcome, &mut store_error);
                    }
                }
            }
        }
        flush(store, &mut pending, &mut outcome, &mut store_error);
    });
    // The log is folded back beside what the caller does next (the output): it calls
    // `Store::checkpoint_self` when done.
    let back = store.fold_beside();
    match store_error {
        Some(e) => Err(e),
        None => back.map(|()| outcome),
    }
}

/// The database and its side files (`-wal`, `-shm`, `-journal`): never read as logs when a
/// replayed directory holds them (`whydenied --db ./w.db replay .`).
struct OwnFiles {
    names: Vec<std::ffi::OsString>,
    paths: Vec<PathBuf>,
}

impl OwnFiles {
    fn new(db: Option<&Path>) -> OwnFiles {
        let mut own = OwnFiles {
            names: Vec::new(),
            paths: Vec::new(),
        };
        let Some(db) = db else { return own };
        let (Some(dir), Some(name)) = (db.parent(), db.file_name()) else {
            return own;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Ok(dir) = std::fs::canonicalize(dir) else {
            return own;
        };
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut n = name.to_os_string();
            n.push(suffix);
            own.paths.push(dir.join(&n));
            own.names.push(n);
        }
        own
    }

    /// Whether `p` is one of them; only a matching file name costs a path resolution.
    fn is_own(&self, p: &Path) -> bool {
        p.file_name()
            .is_some_and(|n| self.names.iter().any(|o| o == n))
            && std::fs::canonicalize(p).is_ok_and(|c| self.paths.contains(&c))
    }
}

/// How long a replay keeps trying to write a batch while another process holds the database.
const BUSY_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// Writes the diagnoses waiting in `pending` in one transaction. After a store error nothing
/// more is written: the error ends the replay, and what was committed before it stays.
fn flush(
    store: &mut Store,
    pending: &mut Vec<store::Prepared>,
    outcome: &mut Outcome,
    store_error: &mut Option<StoreError>,
) {
    if !pending.is_empty() && store_error.is_none() {
        // Another writer (a second replay, the service) may hold the database past the busy
        // timeout: the batch is tried again, for up to a few minutes, before the replay fails.
        let mut waited = std::time::Duration::ZERO;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            match store.record_prepared(pending) {
                Ok(n) => outcome.counters.new_evidence += n,
                Err(e) if e.is_busy() && waited < BUSY_RETRY_FOR => {
                    std::thread::sleep(pause);
                    waited += pause + store::BUSY_TIMEOUT;
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                    continue;
                }
                Err(e) => *store_error = Some(e),
            }
            break;
        }
    }
    pending.clear();
}

/// In-memory findings for `explain`: the same keys and counting as the store, nothing written.
#[derive(Debug, Default)]
pub struct Aggregate {
    findings: BTreeMap<String, Finding>,
    seen: HashSet<String>,
    order: Vec<String>,
}

impl Aggregate {
    /// Adds one observation.
    pub fn add(&mut self, d: Suggestion, e: Evidence) {
        if !self.seen.insert(e.key.clone()) {
            return;
        }
        let id = d.id();
        let t = e.time.clone();
        let f = self.findings.entry(id.clone()).or_insert_with(|| {
            self.order.push(id.clone());
            Finding {
                id: id.clone(),
                kind: d.kind,
                cause: d.cause,
                first_seen: t.clone(),
                last_seen: t.clone(),
                count: 0,
                account: d.account.clone(),
                region: d.region.clone(),
                principal: d.principal.clone(),
                function: d.function.clone(),
                action: d.action.clone(),
                resource: d.resource.clone(),
                message: d.message.clone(),
                evidence: Vec::new(),
                policy_state: d.policy_state,
                explanation: d.explanation.clone(),
                fix: d.fix.clone(),
                status: "open".to_string(),
                resolved_at: None,
                suppressed: None,
            }
        });
        f.count += 1;
        if let Some(t) = &t {
            if f.first_seen.as_ref().is_none_or(|x| t < x) {
                f.first_seen = Some(t.clone());
            }
            if f.last_seen.as_ref().is_none_or(|x| t > x) {
                f.last_seen = Some(t.clone());
            }
        }
        f.evidence.push(e);
    }

    /// The findings, newest first.
    pub fn into_findings(self) -> Vec<Finding> {
        let mut v: Vec<Finding> = self.findings.into_values().collect();
        v.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(b.count.cmp(&a.count))
                .then(a.id.cmp(&b.id))
        });
        v
    }
}
