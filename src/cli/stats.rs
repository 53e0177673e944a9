//! `whydenied stats`: counts by cause, kind, function and status, and what was read.

use super::*;

#[derive(Debug, Args)]
pub(super) struct StatsArgs {
    /// table or json.
    #[arg(long, value_enum, default_value = "table")]
    pub(super) format: SimFormat,
}

pub(super) fn stats(db: Option<PathBuf>, a: StatsArgs) -> Result<i32> {
    let path = db_path(db)?;
    let store = match Store::open_existing(&path)? {
        Some(s) => s,
        None => bail!("no database at {} yet", path.display()),
    };
    let st = store.stats()?;
    if a.format == SimFormat::Json {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&out::stats::json(&st))?
        ))?;
        return Ok(0);
    }
    print(&out::stats::table(&st))?;
    Ok(0)
}
