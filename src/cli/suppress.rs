//! `whydenied suppress`: a finding hidden, with a reason and an end.

use super::*;

#[derive(Debug, Args)]
pub(super) struct SuppressArgs {
    /// The finding to silence: its principal, action, resource and cause become the rule.
    pub(super) id: String,
    /// Why this denial is expected.
    #[arg(long)]
    pub(super) reason: String,
    /// The rule stops applying after this time (RFC 3339) or this long from now (30d).
    #[arg(long, value_name = "DATE")]
    pub(super) until: Option<String>,
}

pub(super) fn suppress(db: Option<PathBuf>, a: SuppressArgs) -> Result<i32> {
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
    let rule = whydenied::finding::Suppression {
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
        out::escape(f.action.as_deref().unwrap_or("-")),
        out::escape(f.principal.as_deref().unwrap_or("-")),
        rule.until
            .as_deref()
            .map(|u| format!(" until {u}"))
            .unwrap_or_default()
    );
    Ok(0)
}

/// An RFC 3339 time, or a duration from now (`30d`).
pub(super) fn parse_future(s: &str) -> Result<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let span: jiff::Span = s
        .parse()
        .map_err(|e| anyhow!("{s:?} is neither a time nor a duration: {e}"))?;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    Ok(now.checked_add(span.abs())?.timestamp().as_millisecond())
}
