//! Command line → typed commands → library calls. `anyhow` lives here only; exit codes per
//! CONTRACT.md: 0 success, 1 some inputs could not be read or parsed, 2 usage or fatal error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use whydenied::ingest::Limits;
use whydenied::pipeline::{self, Aggregate, Env, Input, Options, Progress};
use whydenied::policy::vocab::{Cause, Target};
use whydenied::report::{self, Format};
use whydenied::rules::Rules;
use whydenied::store::{Query, RunCounters, Store};

/// Tells AWS Lambda users why a call was denied and exactly what to add to fix it.
#[derive(Debug, Parser)]
#[command(name = "whydenied", version, about, long_about = None)]
struct Cli {
    /// The SQLite database (default: $WHYDENIED_DB, else $XDG_STATE_HOME/whydenied/whydenied.db).
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read archived logs (files or directories, recursive, .gz transparent) into findings.
    Replay(ReplayArgs),
    /// Show stored findings.
    Report(ReportArgs),
    /// Diagnose the events or log lines given, storing nothing.
    Explain(ExplainArgs),
    /// Store policies and facts from AWS CLI output (IAM, Lambda, resource and organization policies).
    Import(ImportArgs),
    /// Ask whether a principal may perform an action now, on the stored policies.
    Simulate(SimulateArgs),
    /// The service: tail the configured sources until SIGTERM.
    Watch(WatchArgs),
    /// One finding in full: evidence, explanation, fix and commands (same as `report --id`).
    Show(ShowArgs),
    /// Silence an expected denial: stored, counted, but hidden from reports.
    Suppress(SuppressArgs),
    /// Counts by cause, kind, function and day, and the ingest counters.
    Stats(StatsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one per command into a directory.
    Man(ManArgs),
}

/// A `--cause` value: one of the contract's causes, so that a misspelt filter is an error
/// listing them rather than an empty report.
fn cause_arg(s: &str) -> Result<Cause, String> {
    s.parse::<Cause>().map_err(|_| {
        let all: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
        format!("not a cause; one of: {}", all.join(", "))
    })
}

#[derive(Debug, Args)]
struct ManArgs {
    /// Write whydenied.1 and whydenied-<command>.1 into this directory instead.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// The configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/whydenied/whydenied.toml"
    )]
    config: PathBuf,
    /// Validate the configuration and exit.
    #[arg(long)]
    check_config: bool,
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The account, OU or root that the organization policies in these files apply to.
    #[arg(long, value_name = "ID")]
    target: Option<String>,
    /// The resource whose policy these files hold, where the output does not say (bucket and key policies).
    #[arg(long, value_name = "ARN")]
    resource: Option<String>,
    /// The account that owns that resource, where its ARN does not say (an S3 bucket's ARN has no account).
    #[arg(long, value_name = "ACCOUNT", value_parser = account_id)]
    owner: Option<String>,
    /// Files or directories (read recursively) of JSON printed by the AWS CLI.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// The principal: a role, user or assumed-role session ARN, or a service principal (s3.amazonaws.com).
    #[arg(long, value_name = "ARN")]
    principal: String,
    /// The action, e.g. sqs:ReceiveMessage.
    #[arg(long, value_name = "ACTION")]
    action: String,
    /// The resource ARN.
    #[arg(long, value_name = "ARN", default_value = "*")]
    resource: String,
    /// A condition key and its value; repeat a key for several values.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// A policy document to add to the principal's identity policies for this question only.
    #[arg(long, value_name = "FILE")]
    with_policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: SimFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SimFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
struct FormatArg {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    format: FormatArg,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0, hide = true)]
    threads: usize,
    /// Benchmark baseline: only decompress the files (nothing is parsed or stored).
    #[arg(long, hide = true)]
    decompress_only: bool,
    /// Follow symbolic links found inside the directories given even where they lead out of
    /// them (by default those are skipped and named on stderr).
    #[arg(long)]
    follow_symlinks: bool,
    /// Skip JSON records larger than this (default 8 MiB), naming each.
    #[arg(long, value_name = "BYTES")]
    max_record_bytes: Option<usize>,
    /// Skip text lines longer than this (default 1 MiB), naming each.
    #[arg(long, value_name = "BYTES")]
    max_line_bytes: Option<usize>,
    /// Stop reading a gzip file once it has inflated to this much (default 4 GiB).
    #[arg(long, value_name = "BYTES")]
    max_decompressed_bytes: Option<u64>,
    /// Files or directories to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    format: FormatArg,
    /// Only findings seen within this long before now (`30m`, `24h`, `7d`) or since a time (RFC 3339).
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Only findings first seen before this time (RFC 3339) or this long ago.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only findings of this Lambda function (name).
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// Only findings of this IAM role (name, path/name, or ARN).
    #[arg(long, value_name = "NAME")]
    role: Option<String>,
    /// Only findings in this AWS account.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Only findings with this cause (e.g. no_identity_allow).
    #[arg(long, value_name = "CAUSE", value_parser = cause_arg)]
    cause: Option<Cause>,
    /// Only the finding with this id (or id prefix).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Print one merged least-privilege policy for the role's findings (needs --role).
    #[arg(long, requires = "role")]
    fixes: bool,
    /// With --fixes: write the policy document to this file.
    #[arg(long, short = 'o', value_name = "FILE", requires = "fixes")]
    output: Option<PathBuf>,
    /// Only open or resolved findings.
    #[arg(long, value_enum, default_value = "all")]
    status: StatusArg,
    /// Show suppressed findings too (they are always stored and counted).
    #[arg(long)]
    all: bool,
    /// A file of suppression rules ([[suppress]] tables), besides those stored with `suppress`.
    #[arg(long, value_name = "FILE", env = "WHYDENIED_SUPPRESSIONS")]
    suppressions: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StatusArg {
    Open,
    Resolved,
    All,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The finding's id (or its first characters).
    id: String,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct SuppressArgs {
    /// The finding to silence: its principal, action, resource and cause become the rule.
    id: String,
    /// Why this denial is expected.
    #[arg(long)]
    reason: String,
    /// The rule stops applying after this time (RFC 3339) or this long from now (30d).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
}

#[derive(Debug, Args)]
struct StatsArgs {
    /// table or json.
    #[arg(long, value_enum, default_value = "table")]
    format: SimFormat,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    #[command(flatten)]
    format: FormatArg,
    /// A message to diagnose, given on the command line instead of a file.
    #[arg(long, short = 'm', value_name = "TEXT", conflicts_with = "input")]
    message: Option<String>,
    /// A file of CloudTrail events or log lines; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Runs the command line and returns the exit status.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
        }
    };
    // Levels from RUST_LOG (or WHYDENIED_LOG); the service logs at info by default.
    let (default_level, json) = match &cli.command {
        Command::Watch(w) => ("info", w.log_format == LogFormat::Json),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHYDENIED_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json {
        builder.json().try_init()
    } else if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        // journald adds its own timestamps.
        builder.without_time().try_init()
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("whydenied: {}", report::escape(&error_text(&e)));
            2
        }
    }
}

/// `1 finding`, `2 findings`: a count with its noun in the right number.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An error and its causes, each said once: a cause whose text the message already holds (an
/// OS error quoted by the error that wraps it) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let t = cause.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
    }
    text
}

fn dispatch(cli: Cli) -> Result<i32> {
    let rules = Rules::embedded().context("loading the built-in rules")?;
    match cli.command {
        Command::Replay(a) => replay(cli.db, a, &rules),
        Command::Report(a) => report_cmd(cli.db, a),
        Command::Explain(a) => explain(cli.db, a, &rules),
        Command::Import(a) => import(cli.db, a),
        Command::Simulate(a) => simulate(cli.db, a, &rules),
        Command::Watch(a) => watch(cli.db, a),
        Command::Show(a) => report_cmd(
            cli.db,
            ReportArgs {
                format: a.format,
                since: None,
                until: None,
                function: None,
                role: None,
                account: None,
                cause: None,
                id: Some(a.id),
                fixes: false,
                output: None,
                status: StatusArg::All,
                all: true,
                suppressions: None,
            },
        ),
        Command::Suppress(a) => suppress(cli.db, a),
        Command::Stats(a) => stats(cli.db, a),
        Command::Completions(a) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into memory first: written straight to a closed pipe, the generator panics.
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "whydenied", &mut out);
            print(&String::from_utf8_lossy(&out))?;
            Ok(0)
        }
        Command::Man(a) => {
            use clap::CommandFactory;
            match a.dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    clap_mangen::generate_to(Cli::command(), &dir)
                        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
                }
                None => {
                    let mut out = Vec::new();
                    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
                    print(&String::from_utf8_lossy(&out))?;
                }
            }
            Ok(0)
        }
    }
}

/// `--db`, else `$WHYDENIED_DB`, else the XDG state directory.
fn db_path(db: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = db {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("WHYDENIED_DB").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(s) => PathBuf::from(s),
        None => {
            let home = std::env::var_os("HOME")
                .ok_or_else(|| anyhow!("no --db, $WHYDENIED_DB, $XDG_STATE_HOME or $HOME"))?;
            PathBuf::from(home).join(".local/state")
        }
    };
    Ok(state.join("whydenied").join("whydenied.db"))
}

fn format_of(f: &FormatArg) -> Format {
    f.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    })
}

fn table_width() -> u16 {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<u16>().ok())
    {
        return c;
    }
    comfy_table::Table::new().width().unwrap_or(100)
}

fn print(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Progress on stderr: a bar on a terminal, problems as lines.
struct Bar {
    bar: ProgressBar,
}

impl Progress for Bar {
    fn file_done(&mut self, bytes: u64, t: &RunCounters) {
        self.bar.inc(bytes);
        self.bar.set_message(format!(
            "{}, {}, {}, {}",
            count(t.files, "file", "files"),
            count(t.records, "record", "records"),
            count(t.denials, "denial", "denials"),
            count(t.errors, "error", "errors")
        ));
    }
    fn problem(&mut self, line: &str) {
        self.bar.suspend(|| eprintln!("whydenied: {line}"));
    }
}

fn replay(db: Option<PathBuf>, a: ReplayArgs, rules: &Rules) -> Result<i32> {
    let started = Instant::now();
    let started_ms = jiff::Timestamp::now().as_millisecond();
    let path = db_path(db)?;
    // Nothing to read: say so and leave no database behind.
    let missing: Vec<String> = a
        .paths
        .iter()
        .filter_map(|p| {
            std::fs::metadata(p).err().map(|e| {
                format!(
                    "{}: {}",
                    report::escape(&p.display().to_string()),
                    report::escape(&e.to_string())
                )
            })
        })
        .collect();
    if missing.len() == a.paths.len() {
        for m in &missing {
            eprintln!("whydenied: {m}");
        }
        eprintln!("replay: nothing to read");
        return Ok(1);
    }
    let mut store = Store::open(&path)?;
    // The bar's total costs a walk of its own: only worth it when someone watches the bar.
    let mut total = 0u64;
    if std::io::stderr().is_terminal() {
        whydenied::ingest::walk_each(&a.paths, a.follow_symlinks, &mut |w| {
            if let whydenied::ingest::Walked::File(f) = w {
                total += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            }
            true
        });
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}")
    {
        bar.set_style(style);
    }
    let mut progress = Bar { bar };
    let opts = Options {
        threads: a.threads,
        policies: Some(path.clone()),
        decompress_only: a.decompress_only,
        follow_symlinks: a.follow_symlinks,
        limits: {
            let d = Limits::default();
            Limits {
                max_record_bytes: a.max_record_bytes.unwrap_or(d.max_record_bytes),
                max_line_bytes: a.max_line_bytes.unwrap_or(d.max_line_bytes),
                max_decompressed_bytes: a
                    .max_decompressed_bytes
                    .unwrap_or(d.max_decompressed_bytes),
                ..d
            }
        },
    };
    let outcome = pipeline::replay(&a.paths, &mut store, rules, &opts, &mut progress)?;
    progress.bar.finish_and_clear();
    if outcome.pool_changes > 0 {
        for p in rules.user_pool_invokers() {
            pipeline::rediagnose_open_of(&mut store, rules, Some(p))?;
        }
    }
    store.annotate_propagation()?;
    store.record_run("replay", started_ms, &outcome.counters)?;
    let touched = Query {
        ids: Some(outcome.finding_ids.iter().cloned().collect()),
        ..Query::default()
    };
    let format = format_of(&a.format);
    let shown = match report::JsonWriter::new(
        std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        format,
    ) {
        // JSON is written as it is read from the store: memory does not grow with the findings.
        // JSON is written as it is read from the store: memory does not grow with the findings.
        Some(w) => stream_json(&store, &touched, w, &mut |_| true)?,
        None => {
            // The triage and Markdown views group and count: they need every finding, not
            // every piece of evidence.
            let findings = store.findings(&Query {
                evidence_limit: Some(0),
                ..touched
            })?;
            print(&report::render(&findings, format, table_width()))?;
            findings.len()
        }
    };
    let c = &outcome.counters;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "replay: {}, {}, {} ({} new), {}, {} in {:.2} s ({:.1} MB/s)",
        count(c.files, "file", "files"),
        count(c.records, "record", "records"),
        count(c.denials, "denial", "denials"),
        c.new_evidence,
        count(shown as u64, "finding", "findings"),
        count(c.errors, "error", "errors"),
        secs,
        c.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    Ok(if c.errors > 0 { 1 } else { 0 })
}

/// Writes the findings of `q` that `keep` keeps (it may annotate them) as they are read from the
/// store. Returns how many were read. A closed pipe (`| head`) ends the output quietly.
/// Writes the table or Markdown view of every finding the query matches without holding them:
/// one pass keeps each finding's id and group, a second reads them back a group (table) or one
/// at a time (Markdown) and writes them out.
fn stream_view(
    store: &Store,
    q: &Query,
    format: Format,
    style: report::Style,
    keep: &dyn Fn(&mut whydenied::store::Finding) -> bool,
    filters: bool,
) -> Result<i32> {
    struct Out(std::io::BufWriter<std::io::StdoutLock<'static>>, bool);
    impl Out {
        /// Writes unless the reader has gone (`| head`): then everything else is dropped.
        fn put(&mut self, s: &str) -> Result<()> {
            if self.1 {
                return Ok(());
            }
            match self.0.write_all(s.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => self.1 = true,
                Err(e) => return Err(e.into()),
                Ok(()) => {}
            }
            Ok(())
        }
        fn done(mut self) -> Result<()> {
            match self.0.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe && !self.1 => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
    let mut out = Out(std::io::BufWriter::new(std::io::stdout().lock()), false);
    // Pass 1: what is shown, in order, and (table) under which heading.
    let mut ids: Vec<String> = Vec::new();
    let mut groups: Vec<(String, Option<String>, u64, Vec<String>)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut first_rows = true;
    let mut row_error: Option<anyhow::Error> = None;
    let mut add = |id: &str, key: String, last: Option<String>, count: u64| {
        let i = *at.entry(key.clone()).or_insert_with(|| {
            groups.push((key, None, 0, Vec::new()));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.1 = g.1.clone().max(last);
            g.2 += count;
            g.3.push(id.to_string());
        }
    };
    if format != Format::Markdown && !filters {
        // Nothing to filter by a finding's content: the grouping needs a few columns only.
        store.each_heading(q, &mut |h| {
            let key = report::heading_key(h.function.as_deref(), h.principal.as_deref());
            add(
                &h.id,
                key,
                h.last_seen_ms.map(whydenied::store::format_ms),
                h.count,
            );
            ids.push(h.id);
        })?;
    } else {
        store.each_finding(q, &mut |mut f| {
            if !keep(&mut f) {
                return Ok(());
            }
            match format {
                Format::Markdown => {
                    if first_rows {
                        first_rows = false;
                        if let Err(e) = out.put(&report::markdown_header(false)) {
                            row_error.get_or_insert(e);
                        }
                    }
                    if let Err(e) = out.put(&report::markdown_row(&f)) {
                        row_error.get_or_insert(e);
                    }
                }
                _ => {
                    let key = report::group_key(&f);
                    add(&f.id, key, f.last_seen.clone(), f.count);
                }
            }
            ids.push(f.id);
            Ok(())
        })?;
    }
    if let Some(e) = row_error {
        return Err(e);
    }
    if ids.is_empty() {
        out.put(&match format {
            Format::Markdown => report::markdown_header(true),
            _ => "No findings.\n".to_string(),
        })?;
        out.done()?;
        return Ok(0);
    }
    // Pass 2: read back exactly what pass 1 kept.
    let mut failed: Option<anyhow::Error> = None;
    match format {
        Format::Markdown => {
            let q = Query {
                ids: Some(ids),
                ..q.clone()
            };
            store.each_finding(&q, &mut |mut f| {
                keep(&mut f);
                if failed.is_none()
                    && let Err(e) = out.put(&report::markdown_detail(&f))
                {
                    failed = Some(e);
                }
                Ok(())
            })?;
        }
        _ => {
            report::order_groups(&mut groups);
            for (i, (key, _, _, members)) in groups.into_iter().enumerate() {
                let q = Query {
                    ids: Some(members),
                    lean: true,
                    ..q.clone()
                };
                let mut list = store.findings(&q)?;
                for f in &mut list {
                    keep(f);
                }
                let refs: Vec<&whydenied::store::Finding> = list.iter().collect();
                if i > 0 {
                    out.put("\n")?;
                }
                out.put(&report::triage_group(&key, &refs, table_width(), style))?;
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    out.done()?;
    Ok(0)
}

fn stream_json(
    store: &Store,
    q: &Query,
    mut w: report::JsonWriter<std::io::BufWriter<std::io::StdoutLock<'_>>>,
    keep: &mut dyn FnMut(&mut whydenied::store::Finding) -> bool,
) -> Result<usize> {
    let mut n = 0usize;
    let mut failed: Option<std::io::Error> = None;
    store.each_finding(q, &mut |mut f| {
        n += 1;
        if keep(&mut f)
            && failed.is_none()
            && let Err(e) = w.push(&f)
        {
            failed = Some(e);
        }
        Ok(())
    })?;
    if failed.is_none()
        && let Err(e) = w.finish()
    {
        failed = Some(e);
    }
    match failed {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(n),
    }
}

/// `30m`, `24h`, `7d`, `2w` before now, or an RFC 3339 time.
fn parse_when(s: &str) -> Result<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let span: jiff::Span = s.parse().map_err(|e| {
        anyhow!("{s:?} is neither a duration like 24h or 7d nor an RFC 3339 time: {e}")
    })?;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let then = now
        .checked_sub(span.abs())
        .with_context(|| format!("{s:?} is too far back"))?;
    Ok(then.timestamp().as_millisecond())
}

fn report_cmd(db: Option<PathBuf>, a: ReportArgs) -> Result<i32> {
    let path = db_path(db)?;
    let store = match Store::open_existing(&path)? {
        Some(s) => s,
        None => bail!(
            "no database at {} yet: run `whydenied replay PATH` first",
            path.display()
        ),
    };
    if let Some(id) = &a.id
        && id.trim().is_empty()
    {
        bail!("an empty id names no finding: give the finding's id or its first characters");
    }
    let q = Query {
        since_ms: a.since.as_deref().map(parse_when).transpose()?,
        until_ms: a.until.as_deref().map(parse_when).transpose()?,
        function: a.function,
        role: a.role,
        account: a.account,
        cause: a.cause,
        id: a.id.clone(),
        status: match a.status {
            StatusArg::Open => Some("open".into()),
            StatusArg::Resolved => Some("resolved".into()),
            StatusArg::All => None,
        },
        ..Query::default()
    };
    // Suppressions: from the store and from a rules file; a match is noted, and hidden unless
    // --all (or one finding is asked for by id).
    let mut rules_list = store.suppressions()?;
    if let Some(file) = &a.suppressions {
        rules_list.extend(load_suppressions(file)?);
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let hide_suppressed = !a.all && a.id.is_none();
    let format = format_of(&a.format);
    if !a.fixes
        && a.id.is_none()
        && let Some(w) = report::JsonWriter::new(
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
            format,
        )
    {
        // JSON is written as it is read: a store of any size prints in constant memory.
        stream_json(&store, &q, w, &mut |f| {
            f.suppressed = rules_list.iter().find(|r| r.matches(f, now)).cloned();
            f.suppressed.is_none() || !hide_suppressed
        })?;
        return Ok(0);
    }
    // Only the detail view of one finding shows evidence.
    let q = Query {
        evidence_limit: if a.id.is_some() { None } else { Some(0) },
        ..q
    };
    if !a.fixes && a.id.is_none() {
        // The table and Markdown views of the whole store, in bounded memory.
        let mark = |f: &mut whydenied::store::Finding| {
            f.suppressed = rules_list.iter().find(|r| r.matches(f, now)).cloned();
            f.suppressed.is_none() || !hide_suppressed
        };
        let style = report::Style::detect(std::io::stdout().is_terminal());
        return stream_view(&store, &q, format, style, &mark, !rules_list.is_empty());
    }
    let mut findings = store.findings(&q)?;
    for f in &mut findings {
        f.suppressed = rules_list.iter().find(|r| r.matches(f, now)).cloned();
    }
    if hide_suppressed {
        findings.retain(|f| f.suppressed.is_none());
    }
    if let Some(id) = &a.id
        && findings.is_empty()
    {
        // The same on a terminal and in a pipe: asking for one finding that is not there fails.
        bail!("no finding with id {}", report::escape(id));
    }
    if a.fixes {
        return merged_fixes(&store, &findings, a.output.as_deref());
    }
    let style = report::Style::detect(std::io::stdout().is_terminal());
    if a.id.is_some() && format == Format::Table {
        match findings.as_slice() {
            [one] => print(&report::detail(one, style))?,
            [] => bail!("no finding with that id"),
            many => {
                print(&report::render_styled(many, format, table_width(), style))?;
            }
        }
        return Ok(0);
    }
    print(&report::render_styled(
        &findings,
        format,
        table_width(),
        style,
    ))?;
    Ok(0)
}

/// A suppression rules file: `[[suppress]]` tables.
fn load_suppressions(path: &std::path::Path) -> Result<Vec<whydenied::store::Suppression>> {
    whydenied::daemon::load_suppressions(path).map_err(|e| anyhow!(e))
}

fn suppress(db: Option<PathBuf>, a: SuppressArgs) -> Result<i32> {
    let path = db_path(db)?;
    let mut store = match Store::open_existing(&path)? {
        Some(_) => Store::open(&path)?,
        None => bail!("no database at {}", path.display()),
    };
    let found = store.findings(&Query {
        id: Some(a.id.clone()),
        ..Query::default()
    })?;
    let f = match found.as_slice() {
        [one] => one,
        [] => bail!("no finding with id {}", a.id),
        _ => bail!("{} matches several findings: give more of the id", a.id),
    };
    let until = match &a.until {
        Some(u) => Some(
            jiff::Timestamp::from_millisecond(parse_future(u)?)
                .map_err(|e| anyhow!("{e}"))?
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        ),
        None => None,
    };
    let rule = whydenied::store::Suppression {
        principal: f.principal.clone(),
        action: f.action.clone(),
        resource: f.resource.clone(),
        cause: Some(f.cause.to_string()),
        function: None,
        reason: a.reason.clone(),
        until,
        exact: true,
        finding: Some(f.id.clone()),
    };
    store.add_suppression(&rule)?;
    println!(
        "suppressed {} ({} {}){}",
        f.id,
        report::escape(f.action.as_deref().unwrap_or("-")),
        report::escape(f.principal.as_deref().unwrap_or("-")),
        rule.until
            .as_deref()
            .map(|u| format!(" until {u}"))
            .unwrap_or_default()
    );
    Ok(0)
}

/// An RFC 3339 time, or a duration from now (`30d`).
fn parse_future(s: &str) -> Result<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let span: jiff::Span = s
        .parse()
        .map_err(|e| anyhow!("{s:?} is neither a time nor a duration: {e}"))?;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    Ok(now.checked_add(span.abs())?.timestamp().as_millisecond())
}

fn stats(db: Option<PathBuf>, a: StatsArgs) -> Result<i32> {
    let path = db_path(db)?;
    let store = match Store::open_existing(&path)? {
        Some(s) => s,
        None => bail!("no database at {} yet", path.display()),
    };
    let by = |c: &str| -> Result<Vec<(String, u64, u64)>> { Ok(store.counts_by(c)?) };
    let (cause, kind, function, status) =
        (by("cause")?, by("kind")?, by("function")?, by("status")?);
    let days = store.denials_by_day()?;
    let ingest = store.ingest_counters()?;
    if a.format == SimFormat::Json {
        let obj = |v: &Vec<(String, u64, u64)>| {
            serde_json::Value::Object(
                v.iter()
                    .map(|(k, f, d)| (k.clone(), serde_json::json!({"findings": f, "denials": d})))
                    .collect(),
            )
        };
        let out = serde_json::json!({
            "by_cause": obj(&cause),
            "by_kind": obj(&kind),
            "by_function": obj(&function),
            "by_status": obj(&status),
            "denials_by_day": serde_json::Value::Object(days.iter().map(|(d, n)| (d.clone(), serde_json::json!(n))).collect()),
            "ingest": ingest,
        });
        print(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        return Ok(0);
    }
    use std::fmt::Write as _;
    let mut s = String::new();
    for (title, rows) in [
        ("cause", &cause),
        ("kind", &kind),
        ("function", &function),
        ("status", &status),
    ] {
        let _ = writeln!(s, "by {title}:");
        for (k, f, d) in rows.iter() {
            let _ = writeln!(
                s,
                "  {:<28} {:>15} {:>15}",
                report::escape(k),
                count(*f, "finding", "findings"),
                count(*d, "denial", "denials")
            );
        }
    }
    let _ = writeln!(s, "denials by day:");
    for (d, n) in &days {
        let _ = writeln!(s, "  {d:<28} {n:>8}");
    }
    let _ = writeln!(s, "ingest:");
    let null = serde_json::Value::Null;
    let r = ingest.get("replay").unwrap_or(&null);
    let _ = writeln!(
        s,
        "  replays {}, files {}, records {}, denials {}, errors {}, last {}",
        r["replays"],
        r["files"],
        r["records"],
        r["denials"],
        r["errors"],
        r["last_replay"].as_str().unwrap_or("-")
    );
    let w = ingest.get("service").unwrap_or(&null);
    let _ = writeln!(
        s,
        "  service: {} files tailed, {} bytes behind, last commit {}",
        w["files_tailed"],
        w["lag_bytes"],
        w["last_commit"].as_str().unwrap_or("-")
    );
    print(&s)?;
    Ok(0)
}

/// `report --fixes --role R`: one policy for every identity-policy fix of the role, verified
/// against each finding it covers on the stored policies.
fn merged_fixes(
    store: &Store,
    findings: &[whydenied::store::Finding],
    output: Option<&std::path::Path>,
) -> Result<i32> {
    use whydenied::suggest::merged;
    let rules = Rules::embedded()?;
    let covered: Vec<&whydenied::store::Finding> = findings
        .iter()
        .filter(|f| {
            f.fix.target == Target::IdentityPolicy
                && (f.fix.statement.is_some() || !f.fix.all_statements.is_empty())
        })
        .collect();
    if covered.is_empty() {
        bail!("no finding of that role has an identity-policy fix");
    }
    let mut stmts = Vec::new();
    for f in &covered {
        if f.fix.all_statements.is_empty() {
            stmts.extend(f.fix.statement.iter().cloned());
        } else {
            stmts.extend(f.fix.all_statements.iter().cloned());
        }
    }
    // The role's own inline policies: a policy of the same name is merged, not replaced.
    let role_arn = covered.first().and_then(|f| f.principal.clone());
    let existing = role_arn
        .as_deref()
        .and_then(|r| {
            whydenied::evaluate::gather::PolicySource::principal(store, r)
                .and_then(|p| p.inline.clone())
        })
        .unwrap_or_default();
    let (parts, notes) = merged::split(&stmts, &existing);
    let policy = std::sync::Arc::new(merged::as_policy(&parts)?);
    let mut verified = 0;
    for f in &covered {
        let (Some(principal), Some(action)) = (&f.principal, &f.action) else {
            eprintln!("{}: principal unknown, not verified", f.id);
            continue;
        };
        let resource = f.resource.as_deref().unwrap_or("*");
        let said = match merged::check(store, &rules, &policy, principal, action, resource) {
            merged::Check::NoPrincipal => continue,
            merged::Check::NotImported => {
                eprintln!(
                    "{}: {action}: the role's policies were never imported, not verified",
                    f.id
                );
                continue;
            }
            merged::Check::Allowed => {
                verified += 1;
                "allowed with the merged policy".to_string()
            }
            merged::Check::Still(d) => format!("still {d:?}").to_lowercase(),
        };
        eprintln!("{}: {action} on {}: {said}", f.id, report::escape(resource));
    }
    let role = role_arn
        .as_deref()
        .and_then(whydenied::policy::arn::role_name)
        .unwrap_or("ROLE");
    let account = role_arn
        .as_deref()
        .and_then(whydenied::policy::arn::Arn::parse)
        .map(|a| a.account.to_string())
        .unwrap_or_else(|| "ACCOUNT_ID".into());
    for n in &notes {
        eprintln!("note: {n}");
    }
    match output {
        Some(path) => {
            // The first document in FILE, the others beside it (FILE-2, FILE-3...).
            let mut files = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let f = if i == 0 {
                    path.to_path_buf()
                } else {
                    let mut name = path.as_os_str().to_owned();
                    name.push(format!("-{}", i + 1));
                    std::path::PathBuf::from(name)
                };
                std::fs::write(
                    &f,
                    format!("{}\n", serde_json::to_string_pretty(&p.document)?),
                )
                .with_context(|| format!("cannot write {}", f.display()))?;
                files.push(f.display().to_string());
            }
            for c in merged::commands(&parts, role, &account, &files) {
                println!("{c}");
            }
        }
        None => {
            for p in &parts {
                print(&format!("{}\n", serde_json::to_string_pretty(&p.document)?))?;
            }
        }
    }
    eprintln!(
        "{verified} of {} verified with the merged policy",
        count(covered.len() as u64, "finding", "findings")
    );
    Ok(0)
}

fn explain(db: Option<PathBuf>, a: ExplainArgs, rules: &Rules) -> Result<i32> {
    let parser = whydenied::parse::Parser::new(rules)?;
    // The stored policies, when there is a database; explain never creates one.
    let store = Store::open_existing(&db_path(db)?)?;
    let src = store
        .as_ref()
        .map(|s| s as &dyn whydenied::evaluate::gather::PolicySource);
    let mut agg = Aggregate::default();
    let mut errors = 0u64;
    let limits = whydenied::ingest::Limits::default();
    let mut problem = |p: String| {
        errors += 1;
        eprintln!("whydenied: {p}");
    };
    if let Some(m) = &a.message {
        match parser.message(m) {
            Some(d) => {
                let (diag, ev) =
                    pipeline::observe(d, rules, src, "(message)", (0, 0), Default::default(), &[]);
                agg.add(diag, ev);
            }
            None => {
                eprintln!("whydenied: the message is not an access-denied error whydenied knows")
            }
        }
    } else {
        let (display, input_is_stdin) = match &a.input {
            None => ("(stdin)".to_string(), true),
            Some(p) if p.as_os_str() == "-" => ("(stdin)".to_string(), true),
            Some(p) => (p.display().to_string(), false),
        };
        let mut add = |d, e| agg.add(d, e);
        if input_is_stdin {
            let mut stdin = std::io::stdin().lock();
            pipeline::process_file(
                Input::Reader(&mut stdin),
                &display,
                Env {
                    parser: &parser,
                    rules,
                    src,
                    limits: &limits,
                    stored: None,
                },
                &mut add,
                &mut |_| {},
                &mut problem,
                &mut |_| {},
            );
        } else if let Some(p) = &a.input {
            pipeline::process_file(
                Input::Path(p),
                &display,
                Env {
                    parser: &parser,
                    rules,
                    src,
                    limits: &limits,
                    stored: None,
                },
                &mut add,
                &mut |_| {},
                &mut problem,
                &mut |_| {},
            );
        }
    }
    let findings = agg.into_findings();
    print(&report::render(
        &findings,
        format_of(&a.format),
        table_width(),
    ))?;
    Ok(if errors > 0 { 1 } else { 0 })
}

/// Reads a JSON file, gzipped or not, within the import size limit.
fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    Ok(whydenied::import::files::read_json(path)?)
}

/// Whether a file's name says it holds JSON (`.json`, `.json.gz`): such a file that does not
/// parse is an error even inside a directory; other files there are skipped.
fn looks_like_json_name(p: &std::path::Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    n.ends_with(".json") || n.ends_with(".json.gz")
}

/// A twelve-digit AWS account id.
fn account_id(s: &str) -> std::result::Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a twelve-digit AWS account id"))
    }
}

fn import(db: Option<PathBuf>, a: ImportArgs) -> Result<i32> {
    let path = db_path(db)?;
    let mut store = Store::open(&path)?;
    let opts = whydenied::import::Options {
        target: a.target.clone(),
        resource: a.resource.clone(),
        owner: a.owner.clone(),
    };
    let mut failed = 0;
    let planned = whydenied::import::files::plan(&a.files, &opts)?;
    for job in &planned {
        let f = &job.path;
        let name = report::escape(&f.display().to_string());
        let v = match read_json(f) {
            Ok(v) => v,
            Err(e)
                if !job.named
                    && e.downcast_ref::<whydenied::import::files::FileError>()
                        .is_some_and(|e| {
                            matches!(
                                e,
                                whydenied::import::files::FileError::NotJson { .. }
                                    | whydenied::import::files::FileError::NotUtf8 { .. }
                            )
                        })
                    && !looks_like_json_name(f) =>
            {
                println!("{name}: skipped: not a JSON file");
                continue;
            }
            Err(e) => {
                eprintln!("whydenied: {}", report::escape(&error_text(&e)));
                failed += 1;
                continue;
            }
        };
        match whydenied::import::recognise(&v, &job.opts) {
            Ok(imp) => {
                let c = store.import(&imp, &f.display().to_string())?;
                let mut parts = Vec::new();
                for (n, one, many) in [
                    (c.roles, "role", "roles"),
                    (c.users, "user", "users"),
                    (c.groups, "group", "groups"),
                    (c.managed_policies, "managed policy", "managed policies"),
                    (c.resource_policies, "resource policy", "resource policies"),
                    (c.functions, "function", "functions"),
                    (c.mappings, "event source mapping", "event source mappings"),
                    (
                        c.org_policies,
                        "organization policy",
                        "organization policies",
                    ),
                    (c.org_links, "organization link", "organization links"),
                    (c.user_pools, "user pool", "user pools"),
                ] {
                    if n > 0 {
                        parts.push(count(n, one, many));
                    }
                }
                if parts.is_empty() {
                    parts.push("nothing".into());
                }
                println!("{name}: {}: stored {}", imp.format, parts.join(", "));
                for sk in &imp.skipped {
                    println!("{name}: skipped: {}", report::escape(sk));
                }
            }
            Err(whydenied::import::ImportError::Unrecognised(what)) if !job.named => {
                println!(
                    "{name}: skipped: not an export whydenied imports ({})",
                    report::escape(&what)
                );
            }
            Err(e @ whydenied::import::ImportError::NeedsResource(_)) if !job.named => {
                eprintln!(
                    "whydenied: {name}: {} (or name it in the directory's {})",
                    report::escape(&e.to_string()),
                    whydenied::import::files::MANIFEST
                );
                failed += 1;
            }
            Err(e) => {
                eprintln!("whydenied: {name}: {}", report::escape(&e.to_string()));
                failed += 1;
            }
        }
    }
    // Findings whose fix the imported policies now show applied are resolved.
    let rules = Rules::embedded()?;
    let again = pipeline::rediagnose_open(&mut store, &rules)?;
    if again > 0 {
        println!(
            "{} diagnosed again with the imported policies",
            count(again, "finding", "findings")
        );
    }
    let resolved = pipeline::resolve_fixed(&mut store, &rules)?;
    if resolved > 0 {
        println!(
            "{} resolved: the imported policies now allow them",
            count(resolved, "finding", "findings")
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn simulate(db: Option<PathBuf>, a: SimulateArgs, rules: &Rules) -> Result<i32> {
    use whydenied::evaluate::ask;
    let path = db_path(db)?;
    let store = match Store::open_existing(&path)? {
        Some(s) => s,
        None => bail!(
            "no database at {}: import the principal's policies first (`whydenied import`)",
            path.display()
        ),
    };
    let mut given = Vec::new();
    for kv in &a.context {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--context {kv:?}: expected KEY=VALUE"))?;
        given.push((k.trim().to_string(), v.to_string()));
    }
    let with_policy = match &a.with_policy {
        Some(f) => {
            let v = read_json(f)?;
            let policy =
                whydenied::policy::Policy::parse(&v).with_context(|| format!("{}", f.display()))?;
            Some((f.display().to_string(), policy))
        }
        None => None,
    };
    let action = rules.canonical_action(&a.action);
    let verdict = ask::ask(
        &store,
        rules,
        ask::Question {
            principal: &a.principal,
            action: &a.action,
            resource: &a.resource,
            context: &given,
            with_policy,
        },
    )?;
    match a.format {
        SimFormat::Json => print(&format!("{}\n", serde_json::to_string_pretty(&verdict)?))?,
        SimFormat::Table => print(&simulate_table(&verdict, &action, &a.resource))?,
    }
    Ok(0)
}

fn simulate_table(v: &whydenied::evaluate::Verdict, action: &str, resource: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let decision = serde_json::to_value(v.decision)
        .ok()
        .and_then(|d| d.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{}: {} on {}",
        decision,
        report::escape(action),
        report::escape(resource)
    );
    for d in &v.deciding {
        let _ = writeln!(
            s,
            "  {} statement {} in {} policy {}",
            d.effect,
            d.sid
                .as_deref()
                .map(|s| format!("{} (#{})", report::escape(s), d.index))
                .unwrap_or_else(|| format!("#{}", d.index)),
            d.kind.as_str(),
            report::escape(&d.policy)
        );
    }
    if !v.missing_allow.is_empty() {
        let kinds: Vec<&str> = v.missing_allow.iter().map(|k| k.as_str()).collect();
        let _ = writeln!(s, "  no statement allows it in: {}", kinds.join(", "));
    }
    if !v.missing_context_keys.is_empty() {
        let _ = writeln!(
            s,
            "  undecided without: {}",
            report::escape(&v.missing_context_keys.join(", "))
        );
    }
    for n in &v.notes {
        let _ = writeln!(s, "  note: {}", report::escape(n));
    }
    s
}

fn watch(db: Option<PathBuf>, a: WatchArgs) -> Result<i32> {
    if a.check_config {
        let c = whydenied::config::Config::load(&a.config)?;
        println!(
            "{}: ok: {} source(s), {} policy path(s), database {}",
            a.config.display(),
            c.sources.len(),
            c.policies.paths.len(),
            db.clone()
                .or(c.database.clone())
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "(default)".into())
        );
        return Ok(0);
    }
    // systemd's StateDirectory gives the database a home.
    let default_db = match std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("whydenied.db"),
        None => db_path(None)?,
    };
    let db = db.or_else(|| {
        std::env::var_os("WHYDENIED_DB")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    whydenied::daemon::run(&a.config, db, default_db)?;
    Ok(0)
}
