//! Text log events: joins a log line with the continuation lines that belong to it.
//!
//! CloudWatch Logs exports do not escape newlines, so a Python traceback or a pretty-printed JSON
//! error arrives as several lines of which only the first carries a timestamp. Plain Lambda log
//! text has no timestamp on some lines either (`[ERROR] ClientError: ...` followed by the
//! traceback). One event is one denial at most, so the lines must be joined before parsing, or a
//! traceback that repeats the message would count it twice.
//!
//! Rule: a line continues the current event when it starts with white space, when it starts a
//! Python traceback, or when it does not look like the start of a log event and either the file's
//! lines carry timestamps (an export) or the current event is a traceback.

use super::frame::Position;
use super::{Item, Problem};

/// Joins lines into events and hands each finished event to the sink.
#[derive(Debug)]
pub struct Assembler {
    max_event: usize,
    buf: String,
    start: Position,
    open: bool,
    truncated: bool,
    /// The first non-empty line began with a timestamp: lines without one are continuations.
    timestamped: Option<bool>,
    traceback: bool,
}

impl Assembler {
    /// An assembler that keeps events up to `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Assembler {
            max_event,
            buf: String::new(),
            start: Position::default(),
            open: false,
            truncated: false,
            timestamped: None,
            traceback: false,
        }
    }

    /// Adds one line (without its newline).
    pub fn push_line(&mut self, pos: Position, bytes: &[u8], sink: &mut dyn FnMut(Item<'_>)) {
        let line = match std::str::from_utf8(bytes) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                sink(Item::Problem(Problem::InvalidUtf8 { line: pos.line }));
                String::from_utf8_lossy(bytes)
            }
        };
        let line = line.as_ref();
        if line.trim().is_empty() {
            return;
        }
        let stamped = starts_with_timestamp(line);
        let ts_mode = *self.timestamped.get_or_insert(stamped);
        let cont = self.open
            && (line.starts_with([' ', '\t'])
                || line.starts_with("Traceback (most recent call last)")
                || (!stamped && !starts_event(line) && (ts_mode || self.traceback)));
        if cont {
            if self.buf.len() + 1 + line.len() <= self.max_event {
                self.buf.push('\n');
                self.buf.push_str(line);
            } else {
                self.truncated = true;
            }
            if line.contains("Traceback (most recent call last)") {
                self.traceback = true;
            }
            return;
        }
        self.flush(sink);
        self.open = true;
        self.start = pos;
        self.buf.clear();
        let keep = floor_char_boundary(line, self.max_event);
        self.buf.push_str(line.get(..keep).unwrap_or_default());
        self.truncated = keep < line.len();
        self.traceback = line.contains("Traceback (most recent call last)");
    }

    /// Hands over the last event.
    pub fn finish(&mut self, sink: &mut dyn FnMut(Item<'_>)) {
        self.flush(sink);
    }

    fn flush(&mut self, sink: &mut dyn FnMut(Item<'_>)) {
        if self.open {
            sink(Item::Text(self.start, &self.buf));
            self.open = false;
            self.buf.clear();
        }
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `2026-11-20T10:04:11` (any suffix): CloudWatch export, `aws logs tail`, Node/Python app lines.
pub fn starts_with_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    if b.len() < 19 {
        return false;
    }
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..4).all(digit)
        && b.get(4) == Some(&b'-')
        && digit(5)
        && digit(6)
        && b.get(7) == Some(&b'-')
        && digit(8)
        && digit(9)
        && matches!(b.get(10), Some(b'T') | Some(b' '))
        && digit(11)
        && digit(12)
        && b.get(13) == Some(&b':')
}

/// Lines that begin a new log event even without a timestamp.
fn starts_event(line: &str) -> bool {
    const STARTS: [&str; 10] = [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "INIT_START",
        "INIT_REPORT",
        "RESTORE_",
        "EXTENSION",
        "TELEMETRY",
        "XRAY TraceId",
        "{",
    ];
    if STARTS.iter().any(|s| line.starts_with(s)) {
        return true;
    }
    // `[ERROR]`, `[WARNING]`... the Python runtime's level prefix.
    line.starts_with('[')
        && line
            .get(1..)
            .and_then(|r| r.split_once(']'))
            .is_some_and(|(lvl, _)| {
                !lvl.is_empty() && lvl.len() <= 8 && lvl.bytes().all(|c| c.is_ascii_uppercase())
            })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    fn events(lines: &[&str]) -> Vec<(u64, String)> {
        let mut a = Assembler::new(10_000);
        let mut out = Vec::new();
        let mut sink = |i: Item<'_>| {
            if let Item::Text(p, t) = i {
                out.push((p.line, t.to_string()))
            }
        };
        for (n, l) in lines.iter().enumerate() {
            let pos = Position {
                offset: 0,
                line: n as u64 + 1,
                index: n as u64,
            };
            a.push_line(pos, l.as_bytes(), &mut sink);
        }
        a.finish(&mut sink);
        out
    }

    #[test]
    fn export_continuations_join() {
        let ev = events(&[
            "2026-11-20T10:00:00.000Z [ERROR] ClientError: denied",
            "Traceback (most recent call last):",
            "  File \"/var/task/app.py\", line 1, in handler",
            "botocore.exceptions.ClientError: denied",
            "2026-11-20T10:00:01.000Z END RequestId: x",
        ]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].0, 1);
        assert!(ev[0].1.ends_with("botocore.exceptions.ClientError: denied"));
    }

    #[test]
    fn plain_text_lines_stand_alone_but_tracebacks_join() {
        let ev = events(&[
            "START RequestId: x Version: $LATEST",
            "[ERROR] ClientError: denied",
            "Traceback (most recent call last):",
            "  File \"/var/task/app.py\", line 1, in handler",
            "botocore.exceptions.ClientError: denied",
            "END RequestId: x",
        ]);
        assert_eq!(ev.len(), 3);
        assert!(ev[1].1.starts_with("[ERROR] ClientError"));
        assert!(ev[1].1.contains("botocore.exceptions"));
    }
}
