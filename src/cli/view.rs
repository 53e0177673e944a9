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
    let mut kept: Vec<i64> = Vec::new();
    let mut shown = 0usize;
    // Each group: its heading, latest time, count of denials, and its members' rows.
    let mut groups: Vec<(String, Option<String>, u64, Vec<i64>)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut first_rows = true;
    let mut row_error: Option<anyhow::Error> = None;
    let mut add = |row: i64, key: String, last: Option<String>, count: u64| {
        let i = *at.entry(key.clone()).or_insert_with(|| {
            groups.push((key, None, 0, Vec::new()));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            if g.1 < last {
                g.1 = last;
            }
            g.2 += count;
            g.3.push(row);
        }
    };
    if format != Format::Markdown && !filters {
        // Nothing to filter by a finding's content: the grouping needs a few columns only.
        store.each_heading(q, &mut |h| {
            let key = out::heading_key(h.function.as_deref(), h.principal.as_deref());
            add(
                h.row,
                key,
                h.last_seen_ms.map(whydenied::finding::format_ms),
                h.count,
            );
            shown += 1;
        })?;
    } else {
        // What a row or a heading shows needs no evidence.
        let rows = store.order(q)?;
        let bare = Query {
            evidence_limit: Some(0),
            ..Query::default()
        };
        store.each_of_rows(&bare, &rows, &mut |row, mut f| {
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
                    add(row, key, f.last_seen.clone(), f.count);
                }
            }
            shown += 1;
            kept.push(row);
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
            // Pass 1 chose these rows under the filters, in order, in this snapshot: they are
            // read back as they are (no filter, no sort, no list of ids for SQLite to unpack).
            let q = Query {
                evidence_limit: q.evidence_limit,
                ..Query::default()
            };
            store.each_of_rows(&q, &kept, &mut |_, mut f| {
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
            for (i, (key, _, _, mut rows)) in groups.into_iter().enumerate() {
                // A group's members, chosen by pass 1 under the filters: asked for alone (a
                // replay's list of every id it touched, repeated per group, made a table of
                // 100,000 findings take a minute), in storage order so the lookups walk the
                // table forwards.
                rows.sort_unstable();
                let q = Query {
                    rows: Some(rows),
                    lean: true,
                    evidence_limit: q.evidence_limit,
                    ..Query::default()
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

/// How many findings one reader thread reads and encodes at a time.
const CHUNK: usize = 64;

/// A chunk of findings made bytes of, in order.
struct Encoded {
    bytes: Vec<u8>,
    /// Where each finding's bytes end.
    ends: Vec<usize>,
    /// How many findings were read (kept or not).
    read: usize,
}

/// Reads `rows` through `store` and encodes the findings `keep` keeps.
fn encode_rows(
    store: &Store,
    q: &Query,
    rows: &[i64],
    lines: bool,
    keep: &(dyn Fn(&mut whydenied::finding::Finding) -> bool + Sync),
) -> Result<Encoded> {
    let mut e = Encoded {
        bytes: Vec::new(),
        ends: Vec::new(),
        read: 0,
    };
    let mut failed: Option<std::io::Error> = None;
    store.each_of_rows(q, rows, &mut |_, mut f| {
        e.read += 1;
        if failed.is_none() && keep(&mut f) {
            match out::encode(&f, lines, &mut e.bytes) {
                Ok(()) => e.ends.push(e.bytes.len()),
                Err(err) => failed = Some(err),
            }
        }
        Ok(())
    })?;
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(e),
    }
}

/// Writes every finding the query matches as JSON (or JSON lines) without holding them, and
/// returns how many were read. One thread wrote 92 MB for 29,000 findings in about 0.8 s
/// while the other core idled; reading (SQLite, decoding each stored fix) is most of it. So
/// the order is read here, and two threads with connections of their own read and encode
/// alternate chunks of it, which this thread writes in order. Each chunk is read in one
/// snapshot; a finding is always whole, as another process may write between chunks.
pub(super) fn stream_json(
    store: &Store,
    q: &Query,
    mut w: out::JsonWriter<std::io::BufWriter<std::io::StdoutLock<'_>>>,
    keep: &(dyn Fn(&mut whydenied::finding::Finding) -> bool + Sync),
) -> Result<usize> {
    let lines = w.lines();
    let order = {
        let _snapshot = store.snapshot();
        store.order(q)?
    };
    let chunks: Vec<&[i64]> = order.chunks(CHUNK).collect();
    let readers: Vec<Store> = if chunks.len() > 1 {
        (0..2)
            .map_while(|_| {
                let mut s = Store::open_existing(store.path()).ok().flatten()?;
                s.small_cache().ok()?;
                Some(s)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut read = 0usize;
    // A reader that has gone (`| head`): the rest is still read and counted, not written.
    let mut failed: Option<std::io::Error> = None;
    let mut put = |e: &Encoded, w: &mut out::JsonWriter<_>| {
        read += e.read;
        let mut from = 0;
        for &end in &e.ends {
            if failed.is_none()
                && let Err(err) = w.push_encoded(e.bytes.get(from..end).unwrap_or_default())
            {
                failed = Some(err);
            }
            from = end;
        }
    };
    if readers.len() < 2 {
        for rows in &chunks {
            let e = {
                let _snapshot = store.snapshot();
                encode_rows(store, q, rows, lines, keep)?
            };
            put(&e, &mut w);
        }
    } else {
        std::thread::scope(|s| -> Result<()> {
            let mut from_reader = Vec::new();
            for (i, reader) in readers.into_iter().enumerate() {
                // A chunk ahead at most per reader: memory stays a few chunks.
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Encoded>>(1);
                from_reader.push(rx);
                let chunks = &chunks;
                s.spawn(move || {
                    for rows in chunks.iter().skip(i).step_by(2) {
                        let e = {
                            let _snapshot = reader.snapshot();
                            encode_rows(&reader, q, rows, lines, keep)
                        };
                        let stop = e.is_err();
                        if tx.send(e).is_err() || stop {
                            break;
                        }
                    }
                });
            }
            for k in 0..chunks.len() {
                let e = from_reader
                    .get(k % 2)
                    .and_then(|rx| rx.recv().ok())
                    .ok_or_else(|| anyhow::anyhow!("a reader of the database stopped"))??;
                put(&e, &mut w);
            }
            Ok(())
        })?;
    }
    if failed.is_none()
        && let Err(e) = w.finish()
    {
        failed = Some(e);
    }
    match failed {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(read),
    }
}
