//! `whydenied report` and `show`: stored findings, filtered, in every format.

use super::*;

/// A `--cause` value: one of the contract's causes, so that a misspelt filter is an error
/// listing them rather than an empty report.
pub(super) fn cause_arg(s: &str) -> Result<Cause, String> {
    s.parse::<Cause>().map_err(|_| {
        let all: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
        format!("not a cause; one of: {}", all.join(", "))
    })
}

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    #[command(flatten)]
    pub(super) format: FormatArg,
    /// Only findings seen within this long before now (`30m`, `24h`, `7d`) or since a time (RFC 3339).
    #[arg(long, value_name = "DURATION")]
    pub(super) since: Option<String>,
    /// Only findings first seen before this time (RFC 3339) or this long ago.
    #[arg(long, value_name = "TIME")]
    pub(super) until: Option<String>,
    /// Only findings of this Lambda function (name).
    #[arg(long, value_name = "NAME")]
    pub(super) function: Option<String>,
    /// Only findings of this IAM role (name, path/name, or ARN).
    #[arg(long, value_name = "NAME")]
    pub(super) role: Option<String>,
    /// Only findings in this AWS account.
    #[arg(long, value_name = "ID")]
    pub(super) account: Option<String>,
    /// Only findings with this cause (e.g. no_identity_allow).
    #[arg(long, value_name = "CAUSE", value_parser = cause_arg)]
    pub(super) cause: Option<Cause>,
    /// Only the finding with this id (or id prefix).
    #[arg(long, value_name = "ID")]
    pub(super) id: Option<String>,
    /// Print one merged least-privilege policy for the role's findings (needs --role).
    #[arg(long, requires = "role")]
    pub(super) fixes: bool,
    /// With --fixes: write the policy document to this file.
    #[arg(long, short = 'o', value_name = "FILE", requires = "fixes")]
    pub(super) output: Option<PathBuf>,
    /// Only open or resolved findings.
    #[arg(long, value_enum, default_value = "all")]
    pub(super) status: StatusArg,
    /// Show suppressed findings too (they are always stored and counted).
    #[arg(long)]
    pub(super) all: bool,
    /// A file of suppression rules ([[suppress]] tables), besides those stored with `suppress`.
    #[arg(long, value_name = "FILE", env = "WHYDENIED_SUPPRESSIONS")]
    pub(super) suppressions: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum StatusArg {
    Open,
    Resolved,
    All,
}

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// The finding's id (or its first characters).
    pub(super) id: String,
    #[command(flatten)]
    pub(super) format: FormatArg,
}

/// `30m`, `24h`, `7d`, `2w` before now, or an RFC 3339 time.
pub(super) fn parse_when(s: &str) -> Result<i64> {
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

pub(super) fn report_cmd(db: Option<PathBuf>, a: ReportArgs) -> Result<i32> {
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
        && let Some(w) = out::JsonWriter::new(
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
            format,
        )
    {
        // JSON is written as it is read: a store of any size prints in constant memory.
        stream_json(&store, &q, w, &|f| {
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
        let mark = |f: &mut whydenied::finding::Finding| {
            f.suppressed = rules_list.iter().find(|r| r.matches(f, now)).cloned();
            f.suppressed.is_none() || !hide_suppressed
        };
        let style = out::Style::detect(std::io::stdout().is_terminal());
        stream_view(&store, &q, format, style, &mark, !rules_list.is_empty())?;
        return Ok(0);
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
        bail!("no finding with id {}", out::escape(id));
    }
    if a.fixes {
        return merged_fixes(&store, &findings, a.output.as_deref());
    }
    let style = out::Style::detect(std::io::stdout().is_terminal());
    if a.id.is_some() && format == Format::Table {
        match findings.as_slice() {
            [one] => print(&out::detail(one, style))?,
            [] => bail!("no finding with that id"),
            many => {
                print(&out::render_styled(many, format, table_width(), style))?;
            }
        }
        return Ok(0);
    }
    print(&out::render_styled(&findings, format, table_width(), style))?;
    Ok(0)
}

/// A suppression rules file: `[[suppress]]` tables.
pub(super) fn load_suppressions(
    path: &std::path::Path,
) -> Result<Vec<whydenied::finding::Suppression>> {
    whydenied::daemon::load_suppressions(path).map_err(|e| anyhow!(e))
}
