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
use whydenied::report::{self as out, Format};
use whydenied::rules::Rules;
use whydenied::store::{Query, RunCounters, Store};

mod explain;
mod fixes;
mod import;
mod replay;
mod report;
mod simulate;
mod stats;
mod suppress;
mod view;
mod watch;

use explain::{ExplainArgs, explain};
use fixes::merged_fixes;
use import::{ImportArgs, import, read_json};
use replay::{ReplayArgs, replay};
use report::{ReportArgs, ShowArgs, StatusArg, report_cmd};
use simulate::{SimFormat, SimulateArgs, simulate};
use stats::{StatsArgs, stats};
use suppress::{SuppressArgs, suppress};
use view::{stream_json, stream_view};
use watch::{LogFormat, WatchArgs, watch};

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

#[derive(Debug, Args)]
struct FormatArg {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<FormatName>,
}

/// The output formats as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatName {
    Table,
    Json,
    Jsonl,
    Markdown,
}

impl From<FormatName> for Format {
    fn from(f: FormatName) -> Format {
        match f {
            FormatName::Table => Format::Table,
            FormatName::Json => Format::Json,
            FormatName::Jsonl => Format::Jsonl,
            FormatName::Markdown => Format::Markdown,
        }
    }
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
            eprintln!("whydenied: {}", out::escape_lines(&error_text(&e)));
            2
        }
    }
}

use out::count;

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
    f.format
        .map(Format::from)
        .unwrap_or(if std::io::stdout().is_terminal() {
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
    fn problem(&mut self, p: &pipeline::Problem) {
        let line = out::escape(&p.to_string());
        self.bar.suspend(|| eprintln!("whydenied: {line}"));
    }
}
