//! Folding the write-ahead log back into the database beside a bulk writer.
//!
//! SQLite checkpoints in the connection whose commit pushed the log past its limit: during a
//! replay that is the writer thread, which then copies tens of megabytes of pages and waits for
//! their `fsync` while the reader threads fill the channel to it and stop. Measured on a
//! 20 %-denial replay: a tenth of the writer's time, and the readers idle for about a quarter
//! of a second at each checkpoint. A bulk writer hands that to a thread of its own, with its
//! own connection: a passive checkpoint never blocks the writer, which goes on committing to
//! the log's end while the pages before are copied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{Store, StoreError, sq};

/// Frames in the log past which the checkpoint thread is woken: checkpointing at every
/// commit would copy the pages each commit rewrites (the evidence-key index's) again and
/// again; at 10,000 frames (80 MB of 8 KiB pages) the same pages are copied once per fold.
const WAKE_AT: i32 = if cfg!(test) { 200 } else { 10_000 };

/// The thread goes on copying while more than this many frames are left (the writer having
/// committed meanwhile), so that what the writer copies itself stays small.
const LEFT_FOR_WRITER: i32 = WAKE_AT / 20;

/// Frames past which the writer checkpoints itself, whatever the thread does, as SQLite
/// would: a thread starved of CPU on a busy machine must not let the log grow without end.
const WRITER_AT: i32 = 3 * WAKE_AT;

/// Where the fold of the log stands, shared by the writer's hook and the thread.
const IDLE: u8 = 0;
const COPYING: u8 = 1;
const COPIED: u8 = 2;

/// The checkpoint thread of a bulk writer; stops (after the checkpoint it is in) when
/// dropped. The writer's hook keeps a sender too, so stopping is a flag, not a hang-up.
#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
    stop: Arc<AtomicBool>,
    /// The writer is done: the thread folds the whole log, leaving the writer nothing.
    last: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // A full channel already holds the wake-up that makes the thread see the flag.
        let _ = self.wake.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Store {
    /// For a bulk writer (replay): from now on a thread with its own connection folds the
    /// write-ahead log back, woken by this connection's commits once the log holds
    /// [`WAKE_AT`] frames. SQLite starts the log again from its beginning only when a write
    /// begins with every frame copied, which a thread copying while the writer commits never
    /// sees; so once the thread is done, the writer's next commit copies the few frames it
    /// added meanwhile itself, and the write after starts the log again. Readers are not
    /// affected. Undone by [`Store::checkpoint_self`] (or closing the store).
    pub fn checkpoint_beside(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let conn = Connection::open(&path).map_err(sq(&path))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(sq(&path))?;
        let (wake, woken) = sync_channel::<()>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let last = Arc::new(AtomicBool::new(false));
        let is_last = Arc::clone(&last);
        let state = Arc::new(AtomicU8::new(IDLE));
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() && !stopped.load(Ordering::Acquire) {
                    // Passive: copies what no reader still needs and returns, never blocking
                    // the writer. A few rounds at most: a writer outpacing the copy is
                    // caught up with at the next wake-up.
                    let leave = if is_last.load(Ordering::Acquire) {
                        0
                    } else {
                        LEFT_FOR_WRITER
                    };
                    for _ in 0..4 {
                        let left = conn
                            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                                Ok(r.get::<_, i32>(1)? - r.get::<_, i32>(2)?)
                            })
                            .unwrap_or(0);
                        if left <= leave || stopped.load(Ordering::Acquire) {
                            break;
                        }
                    }
                    shared.store(COPIED, Ordering::Release);
                }
            })
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        let nudge = wake.clone();
        // The hook replaces SQLite's automatic checkpoint for this connection.
        self.conn
            .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, frames: i32| {
                if frames < WAKE_AT {
                    return Ok(());
                }
                match state.load(Ordering::Acquire) {
                    IDLE if nudge.try_send(()).is_ok() => state.store(COPYING, Ordering::Release),
                    // Busy when the thread is copying (it will be done soon): ignored.
                    _ if frames >= WRITER_AT => {
                        let _ = wal.checkpoint();
                    }
                    COPIED => {
                        // What is left is a few hundred frames. Its error (busy: another
                        // process checkpointing) would be reported as the commit's, which
                        // has happened: ignored, and the thread woken again next commit.
                        let _ = wal.checkpoint();
                        state.store(IDLE, Ordering::Release);
                    }
                    _ => {}
                }
                Ok(())
            }))
            .map_err(sq(&path))?;
        // A second call replaces the first thread (dropping it stops it).
        self.beside = Some(Checkpointer {
            wake,
            stop,
            last,
            thread: Some(thread),
        });
        Ok(())
    }

    /// The bulk write is over: this connection's commits no longer fold the log, and the
    /// thread folds all of it back while the caller goes on (reading the findings out), instead
    /// of the writer copying what is left and waiting for its `fsync` first. Followed by
    /// [`Store::checkpoint_self`] (or closing the store), which waits for the thread.
    pub fn fold_beside(&mut self) -> Result<(), StoreError> {
        let Some(b) = &self.beside else {
            return Ok(());
        };
        let path = self.path.clone();
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(sq(&path))?;
        b.last.store(true, Ordering::Release);
        // A full channel already holds a wake-up the thread has not taken.
        let _ = b.wake.try_send(());
        Ok(())
    }

    /// Back to SQLite's own checkpoints at its default 1,000 frames (which also removes the
    /// hook): the checkpoint thread is stopped.
    pub fn checkpoint_self(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.beside = None;
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 1000")
            .map_err(sq(&path))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    fn wal_bytes(path: &std::path::Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// At the end of a bulk write the thread folds the log while another connection reads;
    /// every row is there for it, and waiting for the thread afterwards returns.
    #[test]
    fn the_last_fold_runs_beside_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut store = Store::open(&path).unwrap();
        store.checkpoint_beside().unwrap();
        store.conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        let row = "x".repeat(7000);
        for _ in 0..WAKE_AT * 3 {
            store
                .conn
                .execute("INSERT INTO t VALUES (?1)", [&row])
                .unwrap();
        }
        store.fold_beside().unwrap();
        let reader = Connection::open(&path).unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, i64::from(WAKE_AT) * 3);
        drop(reader);
        store.checkpoint_self().unwrap();
        let (busy, log, copied): (i64, i64, i64) = store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((busy, log), (0, copied));
    }

    #[test]
    fn a_bulk_writer_keeps_its_log_bounded_and_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut store = Store::open(&path).unwrap();
        store.checkpoint_beside().unwrap();
        store.conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        // Ten times the wake-up threshold in rows of about a page, committed in small
        // transactions, as fast as they can be.
        let row = "x".repeat(7000);
        let mut largest = 0;
        for _ in 0..WAKE_AT * 10 {
            let tx = store.conn.transaction().unwrap();
            for _ in 0..10 {
                tx.execute("INSERT INTO t VALUES (?1)", [&row]).unwrap();
            }
            tx.commit().unwrap();
            largest = largest.max(wal_bytes(&path));
        }
        store.checkpoint_self().unwrap();
        let n: i64 = store
            .conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, i64::from(WAKE_AT) * 100);
        // The log was folded back and started again: it never held the table (a hundred
        // times the threshold in frames; a frame is a page and a 24-byte header). How far
        // past the writer's own threshold it gets depends on how the thread is scheduled
        // against a writer this fast; well under half the table, with room for a busy machine.
        let bound = (40 * WAKE_AT as u64) * (8192 + 24);
        assert!(
            largest < bound,
            "write-ahead log of {largest} bytes, bound {bound}"
        );
    }
}
