//! `whydenied replay`: archived logs read, diagnosed and stored; what they hold printed.

use super::*;

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    #[command(flatten)]
    pub(super) format: FormatArg,
    /// Worker threads (default: one per core, at most two).
    #[arg(long, default_value_t = 0, hide = true)]
    pub(super) threads: usize,
    /// Benchmark baseline: only decompress the files (nothing is parsed or stored).
    #[arg(long, hide = true)]
    pub(super) decompress_only: bool,
    /// Follow symbolic links found inside the directories given even where they lead out of
    /// them (by default those are skipped and named on stderr).
    #[arg(long)]
    pub(super) follow_symlinks: bool,
    /// Skip JSON records larger than this (default 8 MiB), naming each.
    #[arg(long, value_name = "BYTES")]
    pub(super) max_record_bytes: Option<usize>,
    /// Skip text lines longer than this (default 1 MiB), naming each.
    #[arg(long, value_name = "BYTES")]
    pub(super) max_line_bytes: Option<usize>,
    /// Stop reading a gzip file once it has inflated to this much (default 4 GiB).
    #[arg(long, value_name = "BYTES")]
    pub(super) max_decompressed_bytes: Option<u64>,
    /// Files or directories to read.
    #[arg(required = true, value_name = "PATH")]
    pub(super) paths: Vec<PathBuf>,
}

pub(super) fn replay(db: Option<PathBuf>, a: ReplayArgs, rules: &Rules) -> Result<i32> {
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
                    out::escape(&p.display().to_string()),
                    out::escape(&e.to_string())
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
        pipeline::rediagnose_user_pool_findings(&mut store, rules)?;
    }
    if outcome.key_changes > 0 {
        pipeline::rediagnose_kms_findings(&mut store, rules)?;
    }
    store.annotate_propagation()?;
    store.record_run("replay", started_ms, &outcome.counters)?;
    let touched = Query {
        touched: true,
        ..Query::default()
    };
    let format = format_of(&a.format);
    let shown = match out::JsonWriter::new(
        std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        format,
    ) {
        // Written as it is read from the store: memory does not grow with the findings (the
        // triage and Markdown views keep ids and headings, then read a group at a time).
        Some(w) => stream_json(&store, &touched, w, &|_| true)?,
        None => {
            let style = out::Style::detect(std::io::stdout().is_terminal());
            stream_view(&store, &touched, format, style, &|_| true, false)?
        }
    };
    // The log was folded back while the findings were written out; done now.
    store.checkpoint_self()?;
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
