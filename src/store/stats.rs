//! Run counters and the counts `whydenied stats` shows.

use serde::Serialize;

use super::*;

/// Counters of one replay, kept for `stats` and the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounters {
    /// Files read to their end (or to the error that stopped them).
    pub files: u64,
    /// Records and log events read, denials or not.
    pub records: u64,
    /// Denials found.
    pub denials: u64,
    /// Pieces of evidence not stored before: a second replay of the same files adds none.
    pub new_evidence: u64,
    /// Files, records and lines that could not be read or parsed (each named on stderr).
    pub errors: u64,
    /// Bytes of the files as stored (compressed size for gzip), for the throughput.
    pub bytes: u64,
}

impl Store {
    /// Records the counters of a finished replay.
    pub fn record_run(
        &mut self,
        command: &str,
        started_ms: i64,
        c: &RunCounters,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT INTO runs (command, started, finished, files, records, denials, new_evidence, errors, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    command,
                    started_ms,
                    Timestamp::now().as_millisecond(),
                    c.files as i64,
                    c.records as i64,
                    c.denials as i64,
                    c.new_evidence as i64,
                    c.errors as i64,
                    c.bytes as i64
                ],
            )
            .map_err(sq(&path))?;
        Ok(())
    }

    /// Counts for `stats`: (label, findings, denials) grouped by `column` of findings.
    pub fn counts_by(&self, column: &str) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let path = self.path.clone();
        let col = match column {
            "cause" | "kind" | "function" | "status" => column,
            _ => "cause",
        };
        let sql = format!(
            "SELECT COALESCE({col}, '-'), COUNT(*), SUM(count) FROM findings GROUP BY 1 ORDER BY 3 DESC, 1"
        );
        let mut st = self.conn.prepare(&sql).map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            let (k, f, d) = r.map_err(sq(&path))?;
            out.push((k, f.max(0) as u64, d.max(0) as u64));
        }
        Ok(out)
    }

    /// Denials per UTC day (from evidence times).
    pub fn denials_by_day(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare(
                "SELECT COALESCE(strftime('%Y-%m-%d', time / 1000, 'unixepoch'), 'unknown'), COUNT(*) FROM evidence
                 GROUP BY 1 ORDER BY 1",
            )
            .map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            let (d, n) = r.map_err(sq(&path))?;
            out.push((d, n.max(0) as u64));
        }
        Ok(out)
    }

    /// Ingest counters: totals of the recorded runs, and the service's unread bytes.
    pub fn ingest_counters(&self) -> Result<Ingest, StoreError> {
        let path = self.path.clone();
        let n = |v: i64| v.max(0) as u64;
        let replay = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(files), 0), COALESCE(SUM(records), 0), COALESCE(SUM(denials), 0),
                        COALESCE(SUM(errors), 0), COALESCE(SUM(bytes), 0), MAX(finished) FROM runs",
                [],
                |r| {
                    Ok(ReplayTotals {
                        replays: n(r.get(0)?),
                        files: n(r.get(1)?),
                        records: n(r.get(2)?),
                        denials: n(r.get(3)?),
                        errors: n(r.get(4)?),
                        bytes: n(r.get(5)?),
                        last_replay: r.get::<_, Option<i64>>(6)?.map(format_ms),
                    })
                },
            )
            .map_err(sq(&path))?;
        let service = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(MAX(size - offset, 0)), 0), MAX(updated) FROM file_positions WHERE complete = 0",
                [],
                |r| {
                    Ok(ServiceTotals {
                        files_tailed: n(r.get(0)?),
                        lag_bytes: n(r.get(1)?),
                        last_commit: r.get::<_, Option<i64>>(2)?.map(format_ms),
                    })
                },
            )
            .map_err(sq(&path))?;
        Ok(Ingest { replay, service })
    }

    /// Everything `whydenied stats` shows.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        Ok(Stats {
            by_cause: self.counts_by("cause")?,
            by_kind: self.counts_by("kind")?,
            by_function: self.counts_by("function")?,
            by_status: self.counts_by("status")?,
            denials_by_day: self.denials_by_day()?,
            ingest: self.ingest_counters()?,
        })
    }
}

/// Totals of every recorded replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayTotals {
    /// How many replays were recorded.
    pub replays: u64,
    /// Files read, over every replay.
    pub files: u64,
    /// Records read, over every replay.
    pub records: u64,
    /// Denials found, over every replay.
    pub denials: u64,
    /// Errors, over every replay.
    pub errors: u64,
    /// Stored bytes read, over every replay.
    pub bytes: u64,
    /// When the last replay finished (RFC 3339), if any.
    pub last_replay: Option<String>,
}

/// The service's files and how far behind it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceTotals {
    /// Files the service reads that are not complete gzip archives.
    pub files_tailed: u64,
    /// Bytes those files hold beyond the service's positions: how far behind it is.
    pub lag_bytes: u64,
    /// When the service last committed a position in one of those files (RFC 3339), if ever.
    pub last_commit: Option<String>,
}

/// What was read, by replays and by the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ingest {
    /// What `replay` read.
    pub replay: ReplayTotals,
    /// What the service (`watch`) reads.
    pub service: ServiceTotals,
}

/// Findings and denials of one value of a column (a cause, a kind, a function, a status).
pub type CountRow = (String, u64, u64);

/// The counts `whydenied stats` shows, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Findings and denials by cause.
    pub by_cause: Vec<CountRow>,
    /// Findings and denials by kind.
    pub by_kind: Vec<CountRow>,
    /// Findings and denials by function (`-` for findings that name none).
    pub by_function: Vec<CountRow>,
    /// Findings and denials by status (`open`, `resolved`).
    pub by_status: Vec<CountRow>,
    /// Denials per UTC day, oldest first.
    pub denials_by_day: Vec<(String, u64)>,
    /// The ingest counters.
    pub ingest: Ingest,
}
