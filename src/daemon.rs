//! `watch`: the service. Tails the configured sources until SIGTERM.
//!
//! Shape (after tokio's mini-redis): one tailer task and one writer task, both blocking tasks on
//! the tokio runtime, joined by a bounded channel; the async main task only waits for signals.
//!
//! - The tailer discovers files (a periodic rescan is the truth; `notify` events only wake it
//!   early), reads new complete lines, parses and diagnoses them, and sends each chunk with the
//!   checkpoint it earns. The channel is bounded, so a slow disk slows the reading down instead
//!   of growing memory.
//! - The writer owns the SQLite connection: it stores each chunk's findings and checkpoint in
//!   one transaction, then acknowledges, and only then does the tailer's position advance.
//! - SIGTERM/SIGINT: stop reading, drain the channel, commit, exit 0. SIGHUP: reload the config
//!   and re-import the policies, keeping every position.
//! - systemd: `READY=1` once the sources are open, `STATUS=` with counts, `WATCHDOG=1` when the
//!   unit sets `WatchdogSec`, `STOPPING=1` on shutdown (the sd_notify datagram protocol).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::{Config, SourceFormat, StartAt};
use crate::evaluate::gather::PolicySource;
use crate::ingest::tail::{Checkpoint, Spec, Tailer};
use crate::ingest::{Limits, Position};
use crate::parse::{Change, Parser};
use crate::pipeline::{self, Env, Input};
use crate::report::escape;
use crate::rules::Rules;
use crate::store::{Query, Store, StoreError};
use crate::suggest::suggest;

/// What stops the service.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config file could not be read or is invalid at start (a bad reload keeps the old one).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The async runtime or a signal handler could not be set up.
    #[error("cannot start the service: {0}")]
    Start(std::io::Error),
    /// The built-in catalogs or the message grammar did not load.
    #[error("the built-in rules: {0}")]
    Rules(String),
    /// The findings output file cannot be opened.
    #[error("{path}: {source}")]
    Output {
        /// The `[output] jsonl` file.
        path: PathBuf,
        /// Why it could not be opened for appending.
        source: std::io::Error,
    },
    /// The suppressions file cannot be read.
    #[error("{0}")]
    Suppressions(String),
    /// The reader or the writer stopped abnormally.
    #[error("a service task failed: {0}")]
    Task(String),
}

/// Sends sd_notify messages when `NOTIFY_SOCKET` is set (systemd `Type=notify`).
#[derive(Debug)]
pub struct Notifier {
    socket: Option<std::os::unix::net::UnixDatagram>,
    target: Option<String>,
}

impl Notifier {
    /// From the environment; a no-op outside systemd.
    pub fn from_env() -> Notifier {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let socket = target
            .as_ref()
            .and_then(|_| std::os::unix::net::UnixDatagram::unbound().ok());
        Notifier { socket, target }
    }

    /// Sends one message (`READY=1`, `STATUS=...`); errors are ignored, as systemd does.
    pub fn send(&self, msg: &str) {
        let (Some(sock), Some(target)) = (&self.socket, &self.target) else {
            return;
        };
        if let Some(abstract_name) = target.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            if let Ok(addr) =
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
            {
                let _ = sock.send_to_addr(msg.as_bytes(), &addr);
            }
        } else {
            let _ = sock.send_to(msg.as_bytes(), target);
        }
    }

    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
    pub fn watchdog() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec))
    }
}

/// A chunk on its way to the writer.
enum Msg {
    Chunk {
        /// Folded by finding, one fix built per finding, here: the writer only executes SQL.
        batch: crate::store::Prepared,
        changes: Vec<Change>,
        checkpoint: Checkpoint,
    },
    Import {
        file: PathBuf,
        imported: crate::import::Imported,
    },
}

/// What wakes the tailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Files,
    Reload,
    Stop,
}

/// Counters shared for `STATUS=` lines.
#[derive(Debug, Default)]
struct Counters {
    files: AtomicU64,
    records: AtomicU64,
    denials: AtomicU64,
    new_findings: AtomicU64,
    errors: AtomicU64,
}

fn specs(c: &Config) -> Vec<Spec> {
    c.sources
        .iter()
        .map(|s| Spec {
            pattern: s.path.clone(),
            from_end: s.start_at == StartAt::End,
            follow_symlinks: s.follow_symlinks,
            shape: match s.format {
                SourceFormat::Auto | SourceFormat::Cloudwatch => None,
                SourceFormat::Cloudtrail => Some(crate::ingest::Shape::Json),
                SourceFormat::LambdaText => Some(crate::ingest::Shape::Text),
            },
        })
        .collect()
}

/// How long file events are gathered before a scan: 10 ms costs a hundredth of the 1 s latency
/// budget and, with 100 busy files, cuts the service's CPU by half (bench/load.py).
const COALESCE: Duration = Duration::from_millis(10);

/// Most chunks committed in one transaction, and the depth of the queue to the writer.
const CHUNKS_PER_COMMIT: usize = 64;
/// The `[output] jsonl` line of an updated finding carries its latest this-many pieces of
/// evidence (its `count` says how many there are), so that lines do not grow with its history.
const JSONL_EVIDENCE: usize = 10;

fn limits(c: &Config) -> Limits {
    let d = Limits::default();
    Limits {
        max_line_bytes: c.service.max_line_bytes.unwrap_or(d.max_line_bytes),
        max_record_bytes: c.service.max_record_bytes.unwrap_or(d.max_record_bytes),
        max_decompressed_bytes: c
            .service
            .max_decompressed_bytes
            .unwrap_or(d.max_decompressed_bytes),
        ..d
    }
}

/// Policy files matched by the config, with their modification times.
fn policy_files(c: &Config) -> Vec<(PathBuf, i64)> {
    let mut out = Vec::new();
    for p in &c.policies.paths {
        if let Ok(paths) = glob::glob(p) {
            for path in paths.flatten() {
                let m = std::fs::metadata(&path)
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                out.push((path, m));
            }
        }
    }
    out.sort();
    out
}

/// Reads one policy file with what its directory's `whydenied-import.toml` says of it: one
/// import per target it names.
fn read_policy(path: &Path) -> Result<Vec<crate::import::Imported>, String> {
    use crate::import::files;
    let v = files::read_json(path).map_err(|e| e.to_string())?;
    let opts = files::options_for_file(path, &crate::import::Options::default())
        .map_err(|e| e.to_string())?;
    opts.iter()
        .map(|o| crate::import::recognise(&v, o).map_err(|e| e.to_string()))
        .collect()
}

/// Runs the service until a stop signal. `config_path` is re-read on SIGHUP.
pub fn run(
    config_path: &Path,
    db_override: Option<PathBuf>,
    default_db: PathBuf,
) -> Result<(), DaemonError> {
    let config = Config::load(config_path)?;
    let db = db_override
        .or_else(|| config.database.clone())
        .unwrap_or(default_db);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Start)?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Start)?;
        let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Start)?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        serve(config, config_path.to_path_buf(), db, shutdown).await
    })
}

/// The service: tails the configured sources into `db` until `shutdown` completes, then
/// drains what was read and commits it. SIGHUP reloads the configuration and policies.
pub async fn serve(
    config: Config,
    config_path: PathBuf,
    db: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let notifier = Arc::new(Notifier::from_env());
    let mut store = Store::open(&db)?;
    let checkpoints = store.checkpoints()?;
    tracing::info!(database = %db.display(), checkpoints = checkpoints.len(), "whydenied watch starting");
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (wake_tx, wake_rx) = mpsc::channel::<Wake>();
    let (tx, rx) = mpsc::sync_channel::<Msg>(CHUNKS_PER_COMMIT);
    let (ack_tx, ack_rx) = mpsc::channel::<(Checkpoint, bool)>();

    // File events only wake the scanner early; losing them (inotify limits, NFS) costs latency,
    // never data.
    let watcher = {
        let wake = wake_tx.clone();
        let w = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
            let _ = wake.send(Wake::Files);
        });
        match w {
            Ok(mut w) => {
                use notify::Watcher;
                for s in &config.sources {
                    let base = base_of(&s.path);
                    if let Err(e) = w.watch(&base, notify::RecursiveMode::Recursive) {
                        tracing::warn!(dir = %base.display(), error = %e, "cannot watch; relying on rescans");
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no file notifications; relying on rescans");
                None
            }
        }
    };

    // The catalogs, loaded once for both threads.
    let rules = Arc::new(Rules::embedded().map_err(|e| DaemonError::Rules(e.to_string()))?);
    let writer = {
        let notifier = notifier.clone();
        let counters = counters.clone();
        let output = config.output.clone();
        let rules = rules.clone();
        tokio::task::spawn_blocking(move || {
            writer(
                &mut store, &rules, rx, ack_tx, &output, &counters, &notifier,
            )
        })
    };
    let tailer = {
        let rules = rules.clone();
        let counters = counters.clone();
        let stop = stop.clone();
        let notifier = notifier.clone();
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            tailer(
                &rules,
                config,
                config_path,
                db,
                checkpoints,
                tx,
                ack_rx,
                wake_rx,
                stop,
                &counters,
                &notifier,
            )
        })
    };

    // Signals.
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Start)?;
    tokio::pin!(shutdown);
    let watchdog = Notifier::watchdog();
    let mut tick =
        tokio::time::interval(watchdog.map(|w| w / 2).unwrap_or(Duration::from_secs(10)));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration and policies");
                let _ = wake_tx.send(Wake::Reload);
            }
            _ = tick.tick() => {
                if watchdog.is_some() {
                    notifier.send("WATCHDOG=1");
                }
            }
        }
        if tailer.is_finished() {
            break;
        }
    }
    notifier.send("STOPPING=1");
    tracing::info!("stopping: draining and committing");
    stop.store(true, Ordering::SeqCst);
    let _ = wake_tx.send(Wake::Stop);
    drop(watcher);
    let tail_result = tailer.await.map_err(|e| DaemonError::Task(e.to_string()))?;
    let write_result = writer.await.map_err(|e| DaemonError::Task(e.to_string()))?;
    write_result?;
    tail_result?;
    tracing::info!(
        records = counters.records.load(Ordering::Relaxed),
        denials = counters.denials.load(Ordering::Relaxed),
        "stopped"
    );
    Ok(())
}

/// The directory a source glob starts from.
fn base_of(pattern: &str) -> PathBuf {
    let cut = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    let prefix = pattern.get(..cut).unwrap_or(pattern);
    match prefix.rfind('/') {
        Some(0) => PathBuf::from("/"),
        Some(i) => PathBuf::from(prefix.get(..i).unwrap_or("/")),
        None => PathBuf::from("."),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the tailer thread's whole state, handed over once when it is spawned"
)]
fn tailer(
    rules: &Rules,
    mut config: Config,
    config_path: PathBuf,
    db: PathBuf,
    checkpoints: Vec<Checkpoint>,
    tx: mpsc::SyncSender<Msg>,
    acks: mpsc::Receiver<(Checkpoint, bool)>,
    wake: mpsc::Receiver<Wake>,
    stop: Arc<AtomicBool>,
    counters: &Counters,
    notifier: &Notifier,
) -> Result<(), DaemonError> {
    let parser = Parser::new(rules).map_err(|e| DaemonError::Rules(e.to_string()))?;
    let mut tail = Tailer::new(specs(&config), checkpoints, limits(&config).max_line_bytes);
    let mut policies: Vec<(PathBuf, i64)> = Vec::new();
    let mut ready = false;
    let mut last_status = Instant::now();
    loop {
        // Commits acknowledged since the last pass move the positions.
        while let Ok((cp, ok)) = acks.try_recv() {
            if ok {
                tail.committed(&cp);
            } else {
                tail.abandoned(&cp);
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // Policies: imported at start and whenever a file changes.
        let now_policies = policy_files(&config);
        if now_policies != policies {
            for (path, m) in &now_policies {
                if policies.iter().any(|(p, pm)| p == path && pm == m) {
                    continue;
                }
                match read_policy(path) {
                    Ok(all) => {
                        for imported in all {
                            if tx
                                .send(Msg::Import {
                                    file: path.clone(),
                                    imported,
                                })
                                .is_err()
                            {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(file = %escape(&path.display().to_string()), error = %escape(&e), "policy file not imported");
                    }
                }
            }
            policies = now_policies;
        }
        let (work, errors) = tail.scan();
        for e in errors {
            // A failed scan is not a deletion: the files keep their positions.
            tracing::warn!(error = %escape(&e), "scan problem");
        }
        if !ready {
            notifier.send("READY=1");
            ready = true;
        }
        let store = Store::open_existing(&db).ok().flatten();
        let src = store.as_ref().map(|s| s as &dyn PolicySource);
        let lim = limits(&config);
        for w in work {
            if stop.load(Ordering::SeqCst) {
                tail.abandoned(&w.after);
                continue;
            }
            let shown = w.path.display().to_string();
            for n in &w.notes {
                tracing::warn!(file = %escape(&shown), "{}", escape(n));
            }
            let mut batch = Vec::new();
            let mut changes = Vec::new();
            // The source's configured format, where it has one, decides every chunk's shape.
            let lim = Limits {
                shape: w.shape,
                ..lim
            };
            let env = Env {
                parser: &parser,
                rules,
                src,
                limits: &lim,
                // The service reads each byte once (positions are checkpointed); a lookup per
                // denial would buy nothing.
                stored: None,
            };
            // A file of the wrong shape has a problem on every line: the first few are logged,
            // the rest counted and said in one line.
            let mut unsaid = 0u64;
            let mut said = 0u32;
            let mut problem = |p: pipeline::Problem| {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                if said < PROBLEMS_SAID_PER_CHUNK {
                    said += 1;
                    tracing::warn!("{}", escape(&p.to_string()));
                } else {
                    unsaid += 1;
                }
            };
            let (records, denials, _, _) = if w.gzip {
                pipeline::process_file(
                    Input::Path(&w.path),
                    &shown,
                    env,
                    &mut |d, e| batch.push((d, e)),
                    &mut |_| {},
                    &mut problem,
                    &mut |c| changes.push(c),
                )
            } else if w.data.is_empty() {
                (0, 0, 0, 0)
            } else {
                pipeline::process_file(
                    Input::Chunk {
                        data: &w.data,
                        fingerprint: w.before.fingerprint,
                        base: Position {
                            offset: w.before.offset,
                            line: w.before.line,
                            index: 0,
                        },
                    },
                    &shown,
                    env,
                    &mut |d, e| batch.push((d, e)),
                    &mut |_| {},
                    &mut problem,
                    &mut |c| changes.push(c),
                )
            };
            if unsaid > 0 {
                tracing::warn!(file = %escape(&shown), more = unsaid, "more problems in this read, not logged one by one (each is counted)");
            }
            counters.records.fetch_add(records, Ordering::Relaxed);
            counters.denials.fetch_add(denials, Ordering::Relaxed);
            counters.files.fetch_add(1, Ordering::Relaxed);
            // Blocks while the writer is behind: back-pressure, not memory.
            if tx
                .send(Msg::Chunk {
                    batch: crate::store::prepare_with(batch, |d| suggest(d, env.rules, env.src)),
                    changes,
                    checkpoint: w.after,
                })
                .is_err()
            {
                return Ok(());
            }
        }
        drop(store);
        if last_status.elapsed() >= Duration::from_secs(5) {
            notifier.send(&format!(
                "STATUS=records {} denials {} new findings {} errors {}",
                counters.records.load(Ordering::Relaxed),
                counters.denials.load(Ordering::Relaxed),
                counters.new_findings.load(Ordering::Relaxed),
                counters.errors.load(Ordering::Relaxed)
            ));
            last_status = Instant::now();
        }
        // Busy: loop again at once to collect acks and keep reading; idle: sleep until woken.
        let wait = if tail.busy() {
            Duration::from_millis(5)
        } else {
            config.rescan()
        };
        // Collect every wake-up that arrived (a burst of file events is one), without losing a
        // reload or a stop among them.
        let mut reload = false;
        match wake.recv_timeout(wait) {
            Ok(Wake::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(Wake::Reload) => reload = true,
            // Appends come in bursts, one event per write: let the burst finish so that many
            // busy files cost one scan, not one scan per line.
            Ok(Wake::Files) => std::thread::sleep(COALESCE),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        while let Ok(w) = wake.try_recv() {
            match w {
                Wake::Stop => return Ok(()),
                Wake::Reload => reload = true,
                Wake::Files => {}
            }
        }
        if reload {
            match Config::load(&config_path) {
                Ok(c) => {
                    tail.set_specs(specs(&c));
                    config = c;
                    policies.clear();
                    tracing::info!("configuration reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "configuration not reloaded; keeping the old one")
                }
            }
        }
    }
    Ok(())
}

/// How many problems of one read of a file are logged one by one.
const PROBLEMS_SAID_PER_CHUNK: u32 = 5;

fn writer(
    store: &mut Store,
    rules: &Rules,
    rx: mpsc::Receiver<Msg>,
    acks: mpsc::Sender<(Checkpoint, bool)>,
    output: &crate::config::Output,
    counters: &Counters,
    _notifier: &Notifier,
) -> Result<(), DaemonError> {
    let mut jsonl = match &output.jsonl {
        Some(p) => Some(
            open_private_append(p).map_err(|source| DaemonError::Output {
                path: p.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let log_findings = output.log_findings.unwrap_or(true);
    let suppressions = match &output.suppressions {
        Some(p) => load_suppressions(p).map_err(DaemonError::Suppressions)?,
        None => Vec::new(),
    };
    let mut pending: Option<Msg> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        match msg {
            Msg::Import { file, imported } => {
                match store.import(&imported, &file.display().to_string()) {
                    Ok(c) => {
                        tracing::info!(file = %escape(&file.display().to_string()), format = imported.format, roles = c.roles, policies = c.managed_policies + c.resource_policies, functions = c.functions, "policies imported")
                    }
                    Err(e) => tracing::error!(error = %e, "import failed"),
                }
                // The findings follow the policies as `import` makes them, once for the files
                // that changed together.
                match rx.try_recv() {
                    Ok(next @ Msg::Import { .. }) => pending = Some(next),
                    other => {
                        if let Ok(m) = other {
                            pending = Some(m);
                        }
                        match crate::pipeline::after_import(store, rules) {
                            Ok(a) if a != crate::pipeline::AfterImport::default() => {
                                tracing::info!(
                                    rediagnosed = a.rediagnosed,
                                    resolved = a.resolved,
                                    reopened = a.reopened,
                                    "findings updated for the imported policies"
                                );
                            }
                            Ok(_) => {}
                            Err(e) => tracing::error!(error = %e, "updating findings failed"),
                        }
                    }
                }
            }
            Msg::Chunk {
                batch,
                changes,
                checkpoint,
            } => {
                // Chunks already queued are committed together: one sync to disk for all of
                // them, which is what the cost of many busy files comes down to.
                let mut chunks = vec![(batch, changes, checkpoint)];
                while chunks.len() < CHUNKS_PER_COMMIT {
                    match rx.try_recv() {
                        Ok(Msg::Chunk {
                            batch,
                            changes,
                            checkpoint,
                        }) => chunks.push((batch, changes, checkpoint)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let refs: Vec<crate::store::Chunk<'_>> = chunks
                    .iter()
                    .map(|(b, c, cp)| (b, c.as_slice(), cp))
                    .collect();
                let mut tries = 0;
                let recorded = loop {
                    match store.record_chunks(&refs) {
                        Ok(r) => break Some(r),
                        Err(e) if tries < 5 => {
                            // A locked or busy database: back off and try again.
                            tries += 1;
                            tracing::warn!(error = %e, attempt = tries, "store busy, retrying");
                            std::thread::sleep(Duration::from_millis(200 * tries));
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot store; the chunks will be read again");
                            break None;
                        }
                    }
                };
                drop(refs);
                let ok = recorded.is_some();
                let pools = chunks
                    .iter()
                    .flat_map(|(_, c, _)| c)
                    .any(|c| matches!(c, Change::UserPool(_)));
                if ok
                    && pools
                    && let Err(e) = crate::pipeline::rediagnose_user_pool_findings(store, rules)
                {
                    tracing::error!(error = %e, "cannot diagnose again after a user pool change");
                }
                let keys = recorded.iter().flatten().any(|r| r.new_keys > 0);
                if keys && let Err(e) = crate::pipeline::rediagnose_kms_findings(store, rules) {
                    tracing::error!(error = %e, "cannot diagnose again after a key was seen");
                }
                for (_, _, checkpoint) in chunks {
                    let _ = acks.send((checkpoint, ok));
                }
                let Some(recs) = recorded else { continue };
                // One line per finding per commit, however many of its events the commit held;
                // created if any of them created it.
                let mut updated: Vec<(&String, bool)> = Vec::new();
                let mut at: std::collections::HashMap<&String, usize> =
                    std::collections::HashMap::new();
                for (id, created) in recs.iter().flat_map(|r| &r.touched) {
                    match at.get(id) {
                        Some(&i) => {
                            if let Some(u) = updated.get_mut(i) {
                                u.1 |= *created;
                            }
                        }
                        None => {
                            at.insert(id, updated.len());
                            updated.push((id, *created));
                        }
                    }
                }
                for (id, created) in updated {
                    let Ok(found) = store.findings(&Query {
                        ids: Some(vec![id.clone()]),
                        evidence_limit: Some(JSONL_EVIDENCE),
                        ..Query::default()
                    }) else {
                        continue;
                    };
                    let Some(f) = found.into_iter().next() else {
                        continue;
                    };
                    let now = jiff::Timestamp::now().as_millisecond();
                    let mut rules = suppressions.clone();
                    rules.extend(store.suppressions().unwrap_or_default());
                    if let Some(rule) = rules.iter().find(|r| r.matches(&f, now)) {
                        tracing::debug!(finding = %f.id, reason = %escape(&rule.reason), "suppressed finding");
                        continue;
                    }
                    if created {
                        counters.new_findings.fetch_add(1, Ordering::Relaxed);
                        if log_findings {
                            tracing::info!(
                                finding = %f.id,
                                kind = %f.kind,
                                cause = %f.cause,
                                principal = %escape(f.principal.as_deref().unwrap_or("-")),
                                action = %escape(f.action.as_deref().unwrap_or("-")),
                                resource = %escape(f.resource.as_deref().unwrap_or("-")),
                                "new finding"
                            );
                        }
                    }
                    if let Some(out) = &mut jsonl {
                        use std::io::Write;
                        if let Ok(line) = serde_json::to_string(&f) {
                            let _ = writeln!(out, "{line}");
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// A suppression rules file: `[[suppress]]` tables.
pub fn load_suppressions(path: &Path) -> Result<Vec<crate::finding::Suppression>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        suppress: Vec<crate::finding::Suppression>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let f: File = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim()))?;
    Ok(f.suppress)
}

/// Opens an output file for appending, created 0600.
fn open_private_append(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(p)
}
