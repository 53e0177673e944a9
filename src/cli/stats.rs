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
                out::escape(k),
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
