//! The table and Markdown views, and JSON written as the store is read: memory does not grow
//! with the findings.

use super::*;

/// Writes the table or Markdown view of every finding the query matches without holding them:
/// one pass keeps each finding's id and group, a second reads them back a group (table) or one
/// at a time (Markdown) and writes them out.
pub(super) fn stream_view(
    store: &Store,
    q: &Query,
    format: Format,
    style: out::Style,
    keep: &dyn Fn(&mut whydenied::finding::Finding) -> bool,
    filters: bool,
) -> Result<usize> {
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
    // Both passes read one snapshot: the second finds by row what the first saw.
    let _snapshot = store.snapshot();
    // Pass 1: what is shown, in order, and (table) under which heading.
    let mut ids: Vec<String> = Vec::new();
    let mut shown = 0usize;
    /// A group's members: their rows when the first pass read headings, else their ids.
    enum Members {
        Rows(Vec<i64>),
        Ids(Vec<String>),
    }
    let mut groups: Vec<(String, Option<String>, u64, Members)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut first_rows = true;
    let mut row_error: Option<anyhow::Error> = None;
    let mut add = |id: &str, row: Option<i64>, key: String, last: Option<String>, count: u64| {
        let i = *at.entry(key.clone()).or_insert_with(|| {
            let m = match row {
                Some(_) => Members::Rows(Vec::new()),
                None => Members::Ids(Vec::new()),
            };
            groups.push((key, None, 0, m));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            if g.1 < last {
                g.1 = last;
            }
            g.2 += count;
            match (&mut g.3, row) {
                (Members::Rows(v), Some(r)) => v.push(r),
                (Members::Ids(v), _) => v.push(id.to_string()),
                (Members::Rows(_), None) => debug_assert!(false, "a group mixes rows and ids"),
            }
        }
    };
    if format != Format::Markdown && !filters {
        // Nothing to filter by a finding's content: the grouping needs a few columns only.
        store.each_heading(q, &mut |h| {
            let key = out::heading_key(h.function.as_deref(), h.principal.as_deref());
            add(
                &h.id,
                Some(h.row),
                key,
                h.last_seen_ms.map(whydenied::finding::format_ms),
                h.count,
            );
            shown += 1;
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
                        if let Err(e) = out.put(&out::markdown_header(false)) {
                            row_error.get_or_insert(e);
                        }
                    }
                    if let Err(e) = out.put(&out::markdown_row(&f)) {
                        row_error.get_or_insert(e);
                    }
                }
                _ => {
                    let key = out::group_key(&f);
                    add(&f.id, None, key, f.last_seen.clone(), f.count);
                }
            }
            shown += 1;
            ids.push(f.id);
            Ok(())
        })?;
    }
    if let Some(e) = row_error {
        return Err(e);
    }
    if shown == 0 {
        out.put(&match format {
            Format::Markdown => out::markdown_header(true),
            _ => "No findings.\n".to_string(),
        })?;
        out.done()?;
        return Ok(0);
    }
    // Pass 2: read back exactly what pass 1 kept.
    let mut failed: Option<anyhow::Error> = None;
    match format {
        Format::Markdown => {
            // Pass 1 chose these under the filters, in this snapshot: only the ids are asked
            // again (the filters would repeat, and a replay's own list of ids with them).
            let q = Query {
                ids: Some(ids),
                evidence_limit: q.evidence_limit,
                ..Query::default()
            };
            store.each_finding(&q, &mut |mut f| {
                keep(&mut f);
                if failed.is_none()
                    && let Err(e) = out.put(&out::markdown_detail(&f))
                {
                    failed = Some(e);
                }
                Ok(())
            })?;
        }
        _ => {
            out::order_groups(&mut groups);
            for (i, (key, _, _, members)) in groups.into_iter().enumerate() {
                // A group's members, chosen by pass 1 under the filters: asked for alone (a
                // replay's list of every id it touched, repeated per group, made a table of
                // 100,000 findings take a minute).
                let q = match members {
                    Members::Rows(mut rows) => {
                        // In storage order: the lookups walk the table forwards.
                        rows.sort_unstable();
                        Query {
                            rows: Some(rows),
                            lean: true,
                            evidence_limit: q.evidence_limit,
                            ..Query::default()
                        }
                    }
                    Members::Ids(ids) => Query {
                        ids: Some(ids),
                        lean: true,
                        evidence_limit: q.evidence_limit,
                        ..Query::default()
                    },
                };
                let mut list = store.findings(&q)?;
                for f in &mut list {
                    keep(f);
                }
                let refs: Vec<&whydenied::finding::Finding> = list.iter().collect();
                if i > 0 {
                    out.put("\n")?;
                }
                out.put(&out::triage_group(&key, &refs, table_width(), style))?;
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    out.done()?;
    Ok(shown)
}

pub(super) fn stream_json(
    store: &Store,
    q: &Query,
    mut w: out::JsonWriter<std::io::BufWriter<std::io::StdoutLock<'_>>>,
    keep: &mut dyn FnMut(&mut whydenied::finding::Finding) -> bool,
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
