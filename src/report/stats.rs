//! `whydenied stats` for people and for scripts: counts by cause, kind, function and status,
//! denials by day, and what was read.

use std::fmt::Write as _;

use super::{count, escape};
use crate::store::{CountRow, Stats};

/// The JSON document: each count keyed by its value, largest first (the store's order).
pub fn json(s: &Stats) -> serde_json::Value {
    fn map(rows: &[CountRow]) -> serde_json::Value {
        serde_json::Value::Object(
            rows.iter()
                .map(|(k, f, d)| (k.clone(), serde_json::json!({"findings": f, "denials": d})))
                .collect(),
        )
    }
    serde_json::json!({
        "by_cause": map(&s.by_cause),
        "by_kind": map(&s.by_kind),
        "by_function": map(&s.by_function),
        "by_status": map(&s.by_status),
        "denials_by_day": serde_json::Value::Object(
            s.denials_by_day
                .iter()
                .map(|(d, n)| (d.clone(), serde_json::json!(n)))
                .collect()
        ),
        "ingest": serde_json::to_value(&s.ingest).unwrap_or_default(),
    })
}

/// The table for people, every value from the logs escaped.
pub fn table(st: &Stats) -> String {
    let mut s = String::new();
    for (title, rows) in [
        ("cause", &st.by_cause),
        ("kind", &st.by_kind),
        ("function", &st.by_function),
        ("status", &st.by_status),
    ] {
        let _ = writeln!(s, "by {title}:");
        for (k, f, d) in rows.iter() {
            let _ = writeln!(
                s,
                "  {:<28} {:>15} {:>15}",
                escape(k),
                count(*f, "finding", "findings"),
                count(*d, "denial", "denials")
            );
        }
    }
    let _ = writeln!(s, "denials by day:");
    for (d, n) in &st.denials_by_day {
        let _ = writeln!(s, "  {d:<28} {n:>8}");
    }
    let _ = writeln!(s, "ingest:");
    let r = &st.ingest.replay;
    let _ = writeln!(
        s,
        "  replays {}, files {}, records {}, denials {}, errors {}, last {}",
        r.replays,
        r.files,
        r.records,
        r.denials,
        r.errors,
        r.last_replay.as_deref().unwrap_or("-")
    );
    let w = &st.ingest.service;
    let _ = writeln!(
        s,
        "  service: {} files tailed, {} bytes behind, last commit {}",
        w.files_tailed,
        w.lag_bytes,
        w.last_commit.as_deref().unwrap_or("-")
    );
    s
}
