//! `whydenied watch`: the service, run in the foreground.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(super) struct WatchArgs {
    /// The configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/whydenied/whydenied.toml"
    )]
    pub(super) config: PathBuf,
    /// Validate the configuration and exit.
    #[arg(long)]
    pub(super) check_config: bool,
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value = "text")]
    pub(super) log_format: LogFormat,
}

pub(super) fn watch(db: Option<PathBuf>, a: WatchArgs) -> Result<i32> {
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
