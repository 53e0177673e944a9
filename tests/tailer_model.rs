//! Model-based test of the tailer against a real temporary directory.
//!
//! Random sequences of operations — append lines (sometimes leaving a partial last line), finish a
//! partial line, rotate by rename-and-create, rotate by copytruncate, truncate, delete, drop a
//! gzip archive in by atomic rename, read (scan and commit), crash (lose everything not
//! committed) and restart (a new tailer from the committed checkpoints) — and after each read:
//! - no line is read twice (exactly-once across restarts, because a position is committed with
//!   what was read before it);
//! - at the end, every complete line written is read, except lines a truncation destroyed
//!   before they were read (the documented residual gap of copytruncate).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use whydenied::ingest::tail::{Checkpoint, Spec, Tailer};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The durable store of the model: lines read and positions, committed together.
#[derive(Default)]
struct Durable {
    read: Vec<String>,
    checkpoints: HashMap<(u64, u64), Checkpoint>,
}

fn spec(dir: &Path) -> Vec<Spec> {
    vec![Spec {
        pattern: format!("{}/*", dir.display()),
        from_end: false,
        follow_symlinks: false,
        shape: None,
    }]
}

fn gunzip(path: &Path) -> String {
    use std::io::Read;
    let raw = std::fs::read(path).unwrap();
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Scans until there is nothing left, committing every chunk.
fn read_all(t: &mut Tailer, d: &mut Durable) {
    for _ in 0..64 {
        let (work, _) = t.scan();
        if work.is_empty() {
            return;
        }
        for w in work {
            let text = if w.gzip {
                gunzip(&w.path)
            } else {
                String::from_utf8(w.data.clone()).unwrap()
            };
            d.read.extend(text.lines().map(str::to_string));
            d.checkpoints.insert(w.after.id, w.after.clone());
            t.committed(&w.after);
        }
    }
}

#[test]
fn no_loss_without_truncation_and_no_duplicates_across_restarts() {
    for seed in 1..=40u64 {
        run_model(seed);
    }
}

fn run_model(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x2545F4914F6CDD1D ^ seed.wrapping_mul(0x9E3779B97F4A7C15));
    let mut durable = Durable::default();
    let mut tailer = Tailer::new(spec(dir.path()), Vec::new(), 4096);
    // Partial lines wait for their newline here, however slow the machine.
    tailer.set_idle_ms(i64::MAX);
    let mut next_id = 0u64;
    // Lines written and not destroyed by a truncation before being read.
    let mut written: Vec<String> = Vec::new();
    let mut destroyed: HashSet<String> = HashSet::new();
    // Each live file: its path and whether it ends with a partial line (and which).
    let mut live: Vec<(PathBuf, Option<String>)> = Vec::new();
    let mut serial = 0u64;
    let new_file = |serial: &mut u64| {
        *serial += 1;
        dir.path().join(format!("f{serial}.log"))
    };
    for _step in 0..120 {
        match rng.below(11) {
            // Append complete lines (and maybe start a partial one) to a file.
            0..=3 => {
                if live.is_empty() || rng.below(4) == 0 {
                    let p = new_file(&mut serial);
                    std::fs::File::create(&p).unwrap();
                    live.push((p, None));
                }
                let i = rng.below(live.len() as u64) as usize;
                let (path, partial) = &mut live[i];
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&*path)
                    .unwrap();
                if let Some(p) = partial.take() {
                    f.write_all(b"\n").unwrap();
                    written.push(p);
                }
                for _ in 0..1 + rng.below(4) {
                    next_id += 1;
                    let line = format!("line-{seed}-{next_id}");
                    writeln!(f, "{line}").unwrap();
                    written.push(line);
                }
                if rng.below(3) == 0 {
                    next_id += 1;
                    let line = format!("line-{seed}-{next_id}");
                    write!(f, "{line}").unwrap();
                    *partial = Some(line);
                }
            }
            // Rename-and-create.
            4 => {
                if let Some(i) = (!live.is_empty()).then(|| rng.below(live.len() as u64) as usize) {
                    let (path, partial) = live[i].clone();
                    let rotated =
                        dir.path()
                            .join(format!("r{}-{}-{_step}.log", serial, rng.below(1000)));
                    std::fs::rename(&path, &rotated).unwrap();
                    std::fs::File::create(&path).unwrap();
                    live[i] = (rotated, partial);
                    live.push((path, None));
                }
            }
            // Copytruncate: copy, then truncate in place (lines not yet read may be lost).
            5 => {
                if let Some(i) = (!live.is_empty()).then(|| rng.below(live.len() as u64) as usize) {
                    let (path, partial) = live[i].clone();
                    read_all(&mut tailer, &mut durable);
                    let copy =
                        dir.path()
                            .join(format!("c{}-{}-{_step}.log", serial, rng.below(1000)));
                    std::fs::copy(&path, &copy).unwrap();
                    std::fs::OpenOptions::new()
                        .write(true)
                        .truncate(true)
                        .open(&path)
                        .unwrap();
                    // The copy has the same content, hence the same fingerprint: it is the
                    // same file to the tailer, already read.
                    live[i] = (copy, partial);
                    live.push((path, None));
                }
            }
            // Truncate without copying: unread lines are destroyed.
            6 => {
                if let Some(i) = (!live.is_empty()).then(|| rng.below(live.len() as u64) as usize) {
                    let (path, partial) = live[i].clone();
                    let content = std::fs::read_to_string(&path).unwrap_or_default();
                    for l in content.lines() {
                        if !durable.read.iter().any(|r| r == l) {
                            destroyed.insert(l.to_string());
                        }
                    }
                    if let Some(p) = partial {
                        destroyed.insert(p);
                    }
                    std::fs::OpenOptions::new()
                        .write(true)
                        .truncate(true)
                        .open(&path)
                        .unwrap();
                    live[i].1 = None;
                }
            }
            // Delete a file after it was read.
            7 => {
                if let Some(i) = (!live.is_empty()).then(|| rng.below(live.len() as u64) as usize) {
                    read_all(&mut tailer, &mut durable);
                    let (path, partial) = live.remove(i);
                    if let Some(p) = partial {
                        destroyed.insert(p);
                    }
                    std::fs::remove_file(path).unwrap();
                }
            }
            // A gzip archive renamed into place.
            8 => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                for _ in 0..1 + rng.below(5) {
                    next_id += 1;
                    let line = format!("line-{seed}-{next_id}");
                    writeln!(gz, "{line}").unwrap();
                    written.push(line);
                }
                serial += 1;
                let tmp = dir.path().join(format!(".tmp{serial}"));
                std::fs::write(&tmp, gz.finish().unwrap()).unwrap();
                std::fs::rename(&tmp, dir.path().join(format!("a{serial}.json.gz"))).unwrap();
            }
            // Read.
            9 => read_all(&mut tailer, &mut durable),
            // Crash and restart: only what was committed survives.
            _ => {
                let (work, _) = tailer.scan();
                drop(work); // read, never committed
                tailer = Tailer::new(
                    spec(dir.path()),
                    durable.checkpoints.values().cloned().collect(),
                    4096,
                );
                tailer.set_idle_ms(i64::MAX);
            }
        }
        let mut seen = HashSet::new();
        for r in &durable.read {
            assert!(
                seen.insert(r.clone()),
                "seed {seed} step {_step}: {r} read twice; files: {:?}",
                std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect::<Vec<_>>()
            );
        }
    }
    // Finish partial lines and read everything (archives settle over two scans).
    for (path, partial) in &mut live {
        if let Some(p) = partial.take() {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&*path)
                .unwrap();
            f.write_all(b"\n").unwrap();
            written.push(p);
        }
    }
    read_all(&mut tailer, &mut durable);
    read_all(&mut tailer, &mut durable);
    let read: HashSet<&String> = durable.read.iter().collect();
    for w in &written {
        if destroyed.contains(w) {
            continue;
        }
        assert!(
            read.contains(w),
            "seed {seed}: {w} was written and never read"
        );
    }
    assert_eq!(read.len(), durable.read.len(), "seed {seed}: duplicates");
}
