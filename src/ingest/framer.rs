//! Streaming framers: cut a byte stream into records without ever holding more than one record.
//!
//! Input: any `BufRead` (plain or decompressed). Output: one callback per record with its bytes and
//! where it started (byte offset, 1-based line, 0-based record index).
//!
//! Two framers exist because AWS writes two shapes:
//! - [`JsonFramer`] for JSON: a top-level array of objects (LookupEvents-style exports), wrapper
//!   objects whose `Records` / `events` / `logEvents` / `Events` array holds the records (S3
//!   delivery files, `filter-log-events`, subscription payloads, `lookup-events`), or a sequence of
//!   top-level objects (JSON lines, pretty-printed or not). A wrapper is unwrapped *while streaming*,
//!   so a 2 GB single-line delivery file costs one record of memory, never the whole file.
//! - [`LineFramer`] for text: lines, with a length limit; an oversized line is skipped and reported.
//!
//! Invariant: every byte of the input is either inside exactly one emitted record or skipped, and
//! every skip is reported through the callback as a [`Frame::Skipped`].

use std::io::{self, BufRead};

/// Keys of a top-level object whose array value holds the records.
const WRAPPER_KEYS: [&[u8]; 5] = [
    b"Records",
    b"events",
    b"logEvents",
    b"Events",
    b"EventSourceMappings",
];

/// Where a record starts in the (decompressed) stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset of the record's first byte.
    pub offset: u64,
    /// 1-based line number of the record's first byte.
    pub line: u64,
    /// 0-based index of the record among the records this file yielded.
    pub index: u64,
}

/// What a framer hands to its consumer.
#[derive(Debug)]
pub enum Frame<'a> {
    /// A whole record.
    Record(Position, &'a [u8]),
    /// A record or line that was not kept, and why (too large, not an object...).
    Skipped(Position, SkipReason),
}

/// Why a stretch of input was not turned into a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Longer than the configured limit.
    TooLarge { limit: usize },
    /// A JSON value where a record object was expected.
    NotAnObject,
    /// Unbalanced JSON: a closing bracket with nothing open.
    Unbalanced,
    /// A JSON value that never closed before the next line started a new one.
    Unterminated,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::TooLarge { limit } => write!(f, "longer than the limit of {limit} bytes"),
            SkipReason::NotAnObject => f.write_str("not a JSON object"),
            SkipReason::Unbalanced => f.write_str("unbalanced JSON brackets"),
            SkipReason::Unterminated => f.write_str("JSON value not terminated"),
        }
    }
}

/// Outcome of a framing pass that read to the end of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tail {
    /// The input ended inside a record or string (truncated file).
    pub incomplete: bool,
    /// Total bytes consumed.
    pub bytes: u64,
    /// Line number at the end.
    pub lines: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    Top,
    /// Inside a top-level value that is buffered whole (a record on its own).
    Whole,
    /// Inside a top-level array or wrapper array whose object elements are records.
    Unwrap,
    /// Skipping an over-long value until it closes.
    Skip,
    /// Skipping what is no JSON value at top level (a scalar, a stray quote, a log line) to the
    /// end of its line: brackets and quotes in it mean nothing, so a `{` in garbage cannot
    /// swallow the record on the next line.
    Garbage,
}

/// Splits JSON input into record objects. See the module documentation.
#[derive(Debug)]
pub struct JsonFramer {
    max_record: usize,
    buf: Vec<u8>,
    mode: Mode,
    depth: u32,
    in_str: bool,
    escape: bool,
    /// Depth at which record elements start when unwrapping (1 for `[...]`, 3 for `{"Records":[...]}`).
    elem_depth: u32,
    /// Depth of the wrapper array (elements live one deeper).
    wrap_depth: u32,
    in_elem: bool,
    /// For top-level objects: the last key string seen at depth 1, and whether we await its value.
    key: Vec<u8>,
    key_open: bool,
    expect_key: bool,
    await_value: bool,
    pos: Position,
    offset: u64,
    line: u64,
    index: u64,
    /// Mode to return to after a skipped element ends.
    skip_return: Mode,
    skip_depth: u32,
    /// The previous byte was a newline (a `{` here at depth > 0 starts a new JSON line).
    col0: bool,
    /// Inside an unwrapped record: the fast scanner's state.
    scan: Scan,
    /// The current record passed the size limit: scan to its end, keep nothing.
    discard: bool,
}

impl JsonFramer {
    /// A framer that keeps records up to `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        JsonFramer {
            max_record,
            buf: Vec::new(),
            mode: Mode::Top,
            depth: 0,
            in_str: false,
            escape: false,
            elem_depth: 0,
            wrap_depth: 0,
            in_elem: false,
            key: Vec::new(),
            key_open: false,
            expect_key: false,
            await_value: false,
            pos: Position::default(),
            offset: 0,
            line: 1,
            index: 0,
            skip_return: Mode::Top,
            skip_depth: 0,
            col0: true,
            scan: Scan::default(),
            discard: false,
        }
    }

    /// Reads `input` to its end, calling `emit` for each record or skip.
    pub fn run<R: BufRead>(
        mut self,
        input: &mut R,
        emit: &mut dyn FnMut(Frame<'_>),
    ) -> io::Result<Tail> {
        loop {
            let chunk = match input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            self.feed(chunk, emit);
            input.consume(n);
        }
        let incomplete = !matches!(self.mode, Mode::Top | Mode::Garbage) || self.in_str;
        Ok(Tail {
            incomplete,
            bytes: self.offset,
            lines: self.line,
        })
    }

    fn capturing(&self) -> bool {
        match self.mode {
            Mode::Whole => true,
            Mode::Unwrap => self.in_elem,
            Mode::Top | Mode::Skip | Mode::Garbage => false,
        }
    }

    fn feed(&mut self, chunk: &[u8], emit: &mut dyn FnMut(Frame<'_>)) {
        let mut i = 0usize;
        // Start of the span of `chunk` still to be copied into `buf` when capturing.
        let mut span = 0usize;
        while let Some(&b) = chunk.get(i) {
            if self.mode == Mode::Garbage {
                match memchr::memchr(b'\n', chunk.get(i..).unwrap_or_default()) {
                    Some(k) => {
                        i += k + 1;
                        self.line += 1;
                        self.col0 = true;
                        self.mode = Mode::Top;
                        continue;
                    }
                    None => {
                        i = chunk.len();
                        break;
                    }
                }
            }
            if self.mode == Mode::Unwrap && self.in_elem {
                // Inside a record of a wrapper or array: find its end 64 bytes at a time.
                let (end, lines) = scan_record(chunk, i, &mut self.scan);
                self.line += lines;
                match end {
                    Some(e) => {
                        let rec = chunk.get(span..=e).unwrap_or_default();
                        if self.discard {
                            emit(Frame::Skipped(
                                self.pos,
                                SkipReason::TooLarge {
                                    limit: self.max_record,
                                },
                            ));
                        } else if self.buf.is_empty() && rec.len() <= self.max_record {
                            // The whole record is in this chunk: no copy.
                            emit(Frame::Record(self.pos, rec));
                        } else if self.append(rec) {
                            emit(Frame::Record(self.pos, &self.buf));
                        } else {
                            emit(Frame::Skipped(
                                self.pos,
                                SkipReason::TooLarge {
                                    limit: self.max_record,
                                },
                            ));
                        }
                        self.index += 1;
                        self.buf.clear();
                        self.discard = false;
                        self.in_elem = false;
                        self.depth = self.elem_depth;
                        self.col0 = false;
                        i = e + 1;
                        continue;
                    }
                    None => {
                        if !self.discard && !self.append(chunk.get(span..).unwrap_or_default()) {
                            self.buf = Vec::new();
                            self.discard = true;
                        }
                        i = chunk.len();
                        span = i;
                        break;
                    }
                }
            }
            if self.in_str {
                // Fast path: jump to the next quote or backslash.
                if self.escape {
                    self.escape = false;
                    if self.key_open {
                        self.push_key(b);
                    }
                    i += 1;
                    continue;
                }
                match memchr::memchr3(b'"', b'\\', b'\n', chunk.get(i..).unwrap_or_default()) {
                    None => {
                        if self.key_open {
                            let rest = chunk.get(i..).unwrap_or_default().to_vec();
                            for c in rest {
                                self.push_key(c);
                            }
                        }
                        i = chunk.len();
                        break;
                    }
                    Some(k) => {
                        if self.key_open {
                            let part = chunk.get(i..i + k).unwrap_or_default().to_vec();
                            for c in part {
                                self.push_key(c);
                            }
                        }
                        i += k;
                        let c = chunk.get(i).copied().unwrap_or(b'"');
                        if c == b'\\' {
                            self.escape = true;
                        } else if c == b'\n' {
                            // A raw newline cannot be inside a JSON string: the value is broken.
                            // Leave the string so that the next line can resynchronise.
                            self.in_str = false;
                            self.key_open = false;
                            self.line += 1;
                            self.col0 = true;
                        } else {
                            self.in_str = false;
                            if self.key_open {
                                self.key_open = false;
                                self.await_value = true;
                            }
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            let here = self.offset + i as u64;
            if b == b'{' && self.col0 && self.depth > 0 && self.mode == Mode::Whole {
                // JSON lines: a line starting with `{` while the previous value is still open
                // means that value was broken. Report it and start over at this line.
                emit(Frame::Skipped(self.pos, SkipReason::Unterminated));
                self.index += 1;
                self.buf.clear();
                self.mode = Mode::Top;
                self.depth = 0;
            }
            self.col0 = b == b'\n';
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' | b',' | b':' => {}
                b'"' => {
                    self.in_str = true;
                    if self.mode == Mode::Whole && self.depth == 1 && self.expect_key {
                        self.key.clear();
                        self.key_open = true;
                        self.expect_key = false;
                    } else if self.mode == Mode::Whole && self.depth == 1 {
                        // A string value at depth 1: the next string is a key again.
                        self.await_value = false;
                        self.expect_key = true;
                    }
                    if self.mode == Mode::Top {
                        // A string at top level: not a record; skip its line.
                        self.in_str = false;
                        self.mode = Mode::Garbage;
                        self.pos = self.position(here);
                    }
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    match self.mode {
                        Mode::Top => {
                            self.pos = self.position(here);
                            if b == b'[' {
                                self.mode = Mode::Unwrap;
                                self.wrap_depth = 1;
                                self.elem_depth = 1;
                                self.in_elem = false;
                            } else {
                                self.mode = Mode::Whole;
                                self.buf.clear();
                                span = i;
                                self.expect_key = true;
                                self.await_value = false;
                            }
                        }
                        Mode::Whole => {
                            if self.depth == 2
                                && self.await_value
                                && b == b'['
                                && self.is_wrapper_key()
                            {
                                // `{"Records":[` - stream the elements instead of the whole object.
                                self.mode = Mode::Unwrap;
                                self.wrap_depth = 2;
                                self.elem_depth = 2;
                                self.in_elem = false;
                                self.buf.clear();
                            }
                            if self.depth == 2 {
                                self.await_value = false;
                                self.expect_key = false;
                            }
                        }
                        Mode::Unwrap => {
                            if !self.in_elem && self.depth == self.elem_depth + 1 {
                                if b == b'{' {
                                    self.in_elem = true;
                                    self.pos = self.position(here);
                                    self.buf.clear();
                                    self.discard = false;
                                    self.scan = Scan {
                                        depth: 1,
                                        ..Scan::default()
                                    };
                                    span = i;
                                } else {
                                    self.pos = self.position(here);
                                    self.begin_skip(Mode::Unwrap, self.depth - 1);
                                    emit(Frame::Skipped(self.pos, SkipReason::NotAnObject));
                                    self.index += 1;
                                }
                            }
                        }
                        Mode::Skip | Mode::Garbage => {}
                    }
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        let pos = self.position(here);
                        emit(Frame::Skipped(pos, SkipReason::Unbalanced));
                        i += 1;
                        continue;
                    }
                    self.depth -= 1;
                    match self.mode {
                        Mode::Whole => {
                            if self.depth == 1 {
                                // End of a nested value at depth 1: next string is a key.
                                self.expect_key = true;
                            }
                            if self.depth == 0 {
                                let end = i + 1;
                                if !self.append(chunk.get(span..end).unwrap_or_default()) {
                                    self.oversize(emit);
                                } else {
                                    emit(Frame::Record(self.pos, &self.buf));
                                    self.index += 1;
                                }
                                self.buf.clear();
                                self.mode = Mode::Top;
                            }
                        }
                        Mode::Unwrap => {
                            if self.in_elem && self.depth == self.elem_depth {
                                let end = i + 1;
                                if !self.append(chunk.get(span..end).unwrap_or_default()) {
                                    self.oversize(emit);
                                } else {
                                    emit(Frame::Record(self.pos, &self.buf));
                                    self.index += 1;
                                }
                                self.buf.clear();
                                self.in_elem = false;
                            } else if self.depth < self.wrap_depth {
                                // The wrapper array closed.
                                if self.depth == 0 {
                                    self.mode = Mode::Top;
                                } else {
                                    // Rest of the wrapper object: skip it, no records inside.
                                    self.begin_skip(Mode::Top, 0);
                                }
                            }
                        }
                        Mode::Skip => {
                            if self.depth == self.skip_depth {
                                self.mode = self.skip_return;
                                if self.mode == Mode::Unwrap {
                                    self.in_elem = false;
                                }
                            }
                        }
                        Mode::Top | Mode::Garbage => {}
                    }
                }
                _ => {
                    if self.mode == Mode::Top {
                        // A bare scalar at top level (number, true, garbage): skip to the next
                        // structural character; report it once per run of garbage.
                        self.pos = self.position(here);
                        emit(Frame::Skipped(self.pos, SkipReason::NotAnObject));
                        self.index += 1;
                        // The skip ends at the next newline, whatever the line holds.
                        self.mode = Mode::Garbage;
                    } else if self.mode == Mode::Whole && self.depth == 1 {
                        self.await_value = false;
                        self.expect_key = true;
                    }
                }
            }
            if self.mode == Mode::Skip && self.depth == 0 && b == b'\n' {
                self.mode = Mode::Top;
            }
            i += 1;
            // Keep the capture bounded while streaming through a huge value.
            if self.capturing() && i - span >= 64 * 1024 {
                if !self.append(chunk.get(span..i).unwrap_or_default()) {
                    self.oversize(emit);
                }
                span = i;
            }
        }
        if self.capturing() && !self.append(chunk.get(span..i).unwrap_or_default()) {
            self.oversize(emit);
        }
        self.offset += chunk.len() as u64;
    }

    fn position(&self, offset: u64) -> Position {
        Position {
            offset,
            line: self.line,
            index: self.index,
        }
    }

    fn push_key(&mut self, b: u8) {
        if self.key.len() < 32 {
            self.key.push(b);
        }
    }

    fn is_wrapper_key(&self) -> bool {
        WRAPPER_KEYS.contains(&self.key.as_slice())
    }

    /// Appends to the current record; false when that would pass the limit.
    fn append(&mut self, bytes: &[u8]) -> bool {
        if self.buf.len() + bytes.len() > self.max_record {
            return false;
        }
        self.buf.extend_from_slice(bytes);
        true
    }

    fn begin_skip(&mut self, ret: Mode, depth: u32) {
        self.skip_return = ret;
        self.skip_depth = depth;
        self.mode = Mode::Skip;
    }

    /// The current record passed the limit: report it and skip to its end.
    fn oversize(&mut self, emit: &mut dyn FnMut(Frame<'_>)) {
        emit(Frame::Skipped(
            self.pos,
            SkipReason::TooLarge {
                limit: self.max_record,
            },
        ));
        self.index += 1;
        self.buf = Vec::new();
        match self.mode {
            Mode::Whole => self.begin_skip(Mode::Top, 0),
            Mode::Unwrap => {
                let d = self.elem_depth;
                self.in_elem = false;
                self.begin_skip(Mode::Unwrap, d);
            }
            Mode::Top | Mode::Skip | Mode::Garbage => {}
        }
        if self.depth == self.skip_depth && self.mode == Mode::Skip {
            // The value already closed in this very byte.
            self.mode = self.skip_return;
        }
    }
}

/// Splits text into lines of at most `max_line` bytes (the newline and a trailing `\r` removed).
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
}

impl LineFramer {
    /// A framer that keeps lines up to `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LineFramer { max_line }
    }

    /// Reads `input` to its end, calling `emit` per line (`Frame::Record`) or oversized line.
    pub fn run<R: BufRead>(
        self,
        input: &mut R,
        emit: &mut dyn FnMut(Frame<'_>),
    ) -> io::Result<Tail> {
        let mut buf: Vec<u8> = Vec::new();
        let mut offset: u64 = 0;
        let mut line: u64 = 1;
        let mut start = Position {
            offset: 0,
            line: 1,
            index: 0,
        };
        let mut too_long = false;
        let mut index = 0u64;
        loop {
            let chunk = match input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            let mut i = 0usize;
            while i < n {
                let rest = chunk.get(i..).unwrap_or_default();
                let (piece, ended) = match memchr::memchr(b'\n', rest) {
                    Some(k) => (rest.get(..k).unwrap_or_default(), true),
                    None => (rest, false),
                };
                if !too_long {
                    if buf.len() + piece.len() > self.max_line {
                        too_long = true;
                        buf.clear();
                    } else {
                        buf.extend_from_slice(piece);
                    }
                }
                i += piece.len();
                if ended {
                    i += 1;
                    if too_long {
                        emit(Frame::Skipped(
                            start,
                            SkipReason::TooLarge {
                                limit: self.max_line,
                            },
                        ));
                    } else {
                        if buf.last() == Some(&b'\r') {
                            buf.pop();
                        }
                        emit(Frame::Record(start, &buf));
                    }
                    index += 1;
                    buf.clear();
                    too_long = false;
                    line += 1;
                    start = Position {
                        offset: offset + i as u64,
                        line,
                        index,
                    };
                }
            }
            offset += n as u64;
            input.consume(n);
        }
        let incomplete = !buf.is_empty() || too_long;
        if too_long {
            emit(Frame::Skipped(
                start,
                SkipReason::TooLarge {
                    limit: self.max_line,
                },
            ));
        } else if !buf.is_empty() {
            // A last line without its newline: a finished file keeps it.
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            emit(Frame::Record(start, &buf));
        }
        Ok(Tail {
            incomplete,
            bytes: offset,
            lines: line,
        })
    }
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

    fn frames_json(input: &[u8], max: usize) -> (Vec<(Position, String)>, Vec<SkipReason>, Tail) {
        let mut recs = Vec::new();
        let mut skips = Vec::new();
        let mut r = io::BufReader::with_capacity(7, input);
        let tail = JsonFramer::new(max)
            .run(&mut r, &mut |f| match f {
                Frame::Record(p, b) => recs.push((p, String::from_utf8(b.to_vec()).unwrap())),
                Frame::Skipped(_, why) => skips.push(why),
            })
            .unwrap();
        (recs, skips, tail)
    }

    #[test]
    fn unwraps_records_wrapper_in_small_chunks() {
        let input = br#"{"Records":[{"a":"x}"},{"b":[1,{"c":"\"]"}]}]}"#;
        let (recs, skips, tail) = frames_json(input, 1000);
        assert!(skips.is_empty());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1, r#"{"a":"x}"}"#);
        assert_eq!(recs[1].1, r#"{"b":[1,{"c":"\"]"}]}"#);
        assert!(!tail.incomplete);
    }

    #[test]
    fn wrapper_key_need_not_come_first() {
        let input =
            br#"{"nextToken":"t","searchedLogStreams":[{"x":1}],"events":[{"message":"m"}]}"#;
        let (recs, _, _) = frames_json(input, 1000);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1, r#"{"message":"m"}"#);
    }

    #[test]
    fn top_level_array_and_json_lines() {
        let (recs, _, _) = frames_json(b"[\n {\"a\":1},\n {\"b\":2}\n]\n", 1000);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].0.line, 3);
        let (recs, _, _) = frames_json(b"{\"a\":1}\n{\"b\":{\"Records\":[]}}\n", 1000);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].0.line, 2);
        assert_eq!(recs[1].1, r#"{"b":{"Records":[]}}"#);
    }

    #[test]
    fn oversized_record_is_skipped_and_the_next_kept() {
        let big = format!(r#"{{"Records":[{{"a":"{}"}},{{"b":1}}]}}"#, "x".repeat(500));
        let (recs, skips, _) = frames_json(big.as_bytes(), 100);
        assert_eq!(skips, vec![SkipReason::TooLarge { limit: 100 }]);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1, r#"{"b":1}"#);
        assert_eq!(recs[0].0.index, 1);
    }

    #[test]
    fn truncated_input_is_incomplete() {
        let (recs, _, tail) = frames_json(br#"{"Records":[{"a":1},{"b":"#, 1000);
        assert_eq!(recs.len(), 1);
        assert!(tail.incomplete);
    }

    #[test]
    fn broken_json_line_does_not_swallow_the_next() {
        let (recs, skips, _) = frames_json(b"{\"a\":\"cut\n{\"b\":2}\n{\"c\":{\n}}\n", 1000);
        assert_eq!(skips, vec![SkipReason::Unterminated]);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1, r#"{"b":2}"#);
        assert_eq!(recs[0].0.line, 2);
    }

    /// A line of garbage holding an unbalanced `{` or a stray quote ends at its newline: the
    /// record on the next line is kept.
    #[test]
    fn a_garbage_line_ends_at_its_newline() {
        let input = b"garbage { not json\n{\"b\":2}\noops \"quote\n{\"c\":3}\n\"str {\n{\"d\":4}\n";
        let (recs, skips, tail) = frames_json(input, 1000);
        let got: Vec<&str> = recs.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(got, vec![r#"{"b":2}"#, r#"{"c":3}"#, r#"{"d":4}"#]);
        assert_eq!(recs[0].0.line, 2);
        assert_eq!(recs[2].0.line, 6);
        assert_eq!(skips.len(), 2, "{skips:?}");
        assert!(!tail.incomplete);
    }

    #[test]
    fn lines_with_limit() {
        let input = b"one\r\ntwo-is-long\nthree";
        let mut got = Vec::new();
        let mut skipped = Vec::new();
        let mut r = io::BufReader::with_capacity(3, &input[..]);
        LineFramer::new(5)
            .run(&mut r, &mut |f| match f {
                Frame::Record(p, b) => got.push((p.line, String::from_utf8(b.to_vec()).unwrap())),
                Frame::Skipped(p, _) => skipped.push(p.line),
            })
            .unwrap();
        assert_eq!(got, vec![(1, "one".to_string()), (3, "three".to_string())]);
        assert_eq!(skipped, vec![2]);
    }
}

/// Scanning state inside one record: brace depth, whether the last byte scanned was inside a
/// string, and whether the next byte is escaped by a backslash that ended the previous block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Scan {
    depth: u32,
    in_string: bool,
    prev_escaped: u64,
}

/// Bit masks of one 64-byte block: quotes, backslashes, `{`, `}`, newlines.
#[derive(Debug, Clone, Copy, Default)]
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    newline: u64,
}

/// Classifies 64 bytes with SSE2, which every x86_64 CPU has (AVX2 is used where the CPU has it,
/// through `scan_record`); other targets use the scalar loop.
#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64]) -> Masks {
    classify_sse2(block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let mut m = Masks::default();
    for lane in 0..2 {
        // SAFETY: bytes lane*32 .. lane*32+32 of the 64-byte block are in bounds; unaligned load.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(lane * 32) as *const __m256i) };
        let bits = |c: u8| {
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8))) as u32 as u64
        };
        let shift = lane * 32;
        m.quote |= bits(b'"') << shift;
        m.backslash |= bits(b'\\') << shift;
        m.open |= bits(b'{') << shift;
        m.close |= bits(b'}') << shift;
        m.newline |= bits(b'\n') << shift;
    }
    m
}

#[cfg(target_arch = "x86_64")]
fn classify_sse2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut m = Masks::default();
    for lane in 0..4 {
        // SAFETY: `block` holds 64 bytes, so bytes lane*16 .. lane*16+16 are in bounds; the load
        // is unaligned; SSE2 is always available on x86_64.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i);
            let bits =
                |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u16 as u64;
            let shift = lane * 16;
            m.quote |= bits(b'"') << shift;
            m.backslash |= bits(b'\\') << shift;
            m.open |= bits(b'{') << shift;
            m.close |= bits(b'}') << shift;
            m.newline |= bits(b'\n') << shift;
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' => m.open |= bit,
            b'}' => m.close |= bit,
            b'\n' => m.newline |= bit,
            _ => {}
        }
    }
    m
}

/// The characters escaped by backslashes (simdjson's branchless odd-run rule): after an odd run
/// of backslashes the next character is escaped, after an even run it is not.
fn escaped_mask(backslash: u64, prev_escaped: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*prev_escaped;
    let follows_escape = (backslash << 1) | *prev_escaped;
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *prev_escaped = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows_escape
}

/// Bit i set when an odd number of bits at or below i are set in `x`.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Scans `data` from `start` inside a record whose state is `st`, 64 bytes at a time, for the
/// brace that closes it. Returns its index (or None at the end of `data`, with `st` ready for the
/// next chunk) and the newlines outside strings before it.
fn scan_record(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            // SAFETY: the CPU supports AVX-512BW, PCLMULQDQ and POPCNT (checked by simd_level).
            Simd::Avx512 => return unsafe { scan_record_avx512(data, start, st) },
            // SAFETY: the CPU supports AVX2, PCLMULQDQ and POPCNT (checked by simd_level).
            Simd::Avx2 => return unsafe { scan_record_avx2(data, start, st) },
            Simd::Sse2 => {}
        }
    }
    scan_record_with(data, start, st, classify, prefix_xor)
}

/// The widest instruction set the scanner can use on this CPU.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    Avx512,
    Avx2,
    Sse2,
}

#[cfg(target_arch = "x86_64")]
fn simd_level() -> Simd {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let base = std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("popcnt");
        if base && std::arch::is_x86_feature_detected!("avx512bw") {
            Simd::Avx512
        } else if base && std::arch::is_x86_feature_detected!("avx2") {
            Simd::Avx2
        } else {
            Simd::Sse2
        }
    })
}

/// Classifies 64 bytes with one AVX-512 load and a compare into a mask register per class.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn classify_avx512(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    // SAFETY: `block` is 64 readable bytes; the load is unaligned.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let eq = |c: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8));
    Masks {
        quote: eq(b'"'),
        backslash: eq(b'\\'),
        open: eq(b'{'),
        close: eq(b'}'),
        newline: eq(b'\n'),
    }
}

/// `scan_record` compiled for AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,popcnt")]
unsafe fn scan_record_avx512(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    // SAFETY: this function only runs where AVX-512BW, PCLMULQDQ and POPCNT are available.
    scan_record_with(
        data,
        start,
        st,
        |b| unsafe { classify_avx512(b) },
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// `scan_record` compiled for AVX2, carry-less multiplication and POPCNT, so that the
/// classification, the quote prefix-xor and the brace counts inline into the loop as single
/// instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
unsafe fn scan_record_avx2(data: &[u8], start: usize, st: &mut Scan) -> (Option<usize>, u64) {
    // SAFETY: this function only runs where AVX2, PCLMULQDQ and POPCNT are available.
    scan_record_with(
        data,
        start,
        st,
        |b| unsafe { classify_avx2(b) },
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// `prefix_xor` in one carry-less multiplication by all ones (simdjson's trick).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// The scanning loop. Most 64-byte blocks of a record hold no backslash and cannot close the
/// record (fewer closing braces than the depth), so those take no per-bit work: the depth moves
/// by the difference of two popcounts.
#[inline(always)]
fn scan_record_with(
    data: &[u8],
    start: usize,
    st: &mut Scan,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> (Option<usize>, u64) {
    let mut pos = start;
    let mut lines = 0u64;
    let mut block = [0u8; 64];
    while pos < data.len() {
        let n = (data.len() - pos).min(64);
        let bytes: &[u8; 64] = match data
            .get(pos..pos + 64)
            .and_then(|s| <&[u8; 64]>::try_from(s).ok())
        {
            Some(b) => b,
            None => {
                block.fill(0);
                if let (Some(dst), Some(src)) = (block.get_mut(..n), data.get(pos..pos + n)) {
                    dst.copy_from_slice(src);
                }
                &block
            }
        };
        let valid = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let m = classify(bytes);
        let backslash = m.backslash & valid;
        let (escaped, carry) = if backslash == 0 && st.prev_escaped == 0 {
            (0, 0)
        } else {
            let mut carry = st.prev_escaped;
            let escaped = escaped_mask(backslash, &mut carry);
            (escaped, carry)
        };
        let quotes = m.quote & valid & !escaped;
        let mut in_str = prefix_xor(quotes);
        if st.in_string {
            in_str = !in_str;
        }
        let open = m.open & valid & !in_str;
        let close = m.close & valid & !in_str;
        let newline = m.newline & valid & !in_str;
        let closes = close.count_ones();
        if closes < st.depth {
            // The depth stays above zero through this block.
            st.depth = st.depth + open.count_ones() - closes;
        } else {
            let mut structural = open | close;
            while structural != 0 {
                let bit = structural.trailing_zeros();
                structural &= structural - 1;
                if (open >> bit) & 1 == 1 {
                    st.depth += 1;
                } else {
                    st.depth = st.depth.saturating_sub(1);
                    if st.depth == 0 {
                        let below = if bit == 63 {
                            u64::MAX
                        } else {
                            (1u64 << (bit + 1)) - 1
                        };
                        lines += u64::from((newline & below).count_ones());
                        // The record closed outside any string; the next byte starts fresh.
                        st.in_string = false;
                        st.prev_escaped = 0;
                        return (Some(pos + bit as usize), lines);
                    }
                }
            }
        }
        lines += u64::from(newline.count_ones());
        st.in_string = (in_str >> (n - 1)) & 1 == 1;
        st.prev_escaped = if n == 64 { carry } else { (escaped >> n) & 1 };
        pos += n;
    }
    (None, lines)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod scan_tests {
    use super::*;

    /// Random records with nasty strings, split at random chunk sizes: the framer must return
    /// exactly the records serde_json sees in the array.
    #[test]
    fn fast_scan_agrees_with_serde_on_random_records() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces = [
            "a", "\\\\", "\\\"", "{", "}", "[", "]", "\\n", "x y", "\\\\\\\"", "é", "\\u0041",
        ];
        for round in 0..300 {
            let mut records = Vec::new();
            for _ in 0..1 + next() % 6 {
                let mut s = String::new();
                for _ in 0..next() % 8 {
                    s.push_str(pieces[(next() % pieces.len() as u64) as usize]);
                }
                let nested = if next() % 2 == 0 {
                    format!(r#","n":{{"m":[1,{{"k":"{s}"}}]}}"#)
                } else {
                    String::new()
                };
                records.push(format!(r#"{{"a":"{s}","b":[{{}},"{s}"]{nested}}}"#));
            }
            let file = format!("{{\"Records\":[{}]}}", records.join(","));
            let parsed: serde_json::Value = serde_json::from_str(&file).unwrap();
            assert_eq!(parsed["Records"].as_array().unwrap().len(), records.len());
            let cap = 1 + (next() % 97) as usize;
            let mut got = Vec::new();
            let mut r = std::io::BufReader::with_capacity(cap, file.as_bytes());
            JsonFramer::new(1 << 20)
                .run(&mut r, &mut |f| match f {
                    Frame::Record(_, b) => got.push(String::from_utf8(b.to_vec()).unwrap()),
                    Frame::Skipped(_, why) => panic!("round {round}: skipped {why}"),
                })
                .unwrap();
            assert_eq!(got, records, "round {round}, chunk {cap}");
        }
    }

    /// Every classifier agrees with a plain byte loop.
    #[test]
    fn classifiers_agree() {
        let mut seed = 0xDEAD_BEEF_u64;
        for _ in 0..2000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = b"\"\\{}\nax"[(seed % 7) as usize];
            }
            let mut want = Masks::default();
            for (i, &b) in block.iter().enumerate() {
                let bit = 1u64 << i;
                match b {
                    b'"' => want.quote |= bit,
                    b'\\' => want.backslash |= bit,
                    b'{' => want.open |= bit,
                    b'}' => want.close |= bit,
                    b'\n' => want.newline |= bit,
                    _ => {}
                }
            }
            let same = |m: Masks| {
                (m.quote, m.backslash, m.open, m.close, m.newline)
                    == (
                        want.quote,
                        want.backslash,
                        want.open,
                        want.close,
                        want.newline,
                    )
            };
            assert!(same(classify(&block)));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: checked just above.
                assert!(same(unsafe { classify_avx2(&block) }));
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: checked just above.
                assert!(same(unsafe { classify_avx512(&block) }));
            }
        }
    }

    /// The carry-less prefix-xor equals the shift ladder.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn clmul_prefix_xor_agrees() {
        if !std::arch::is_x86_feature_detected!("pclmulqdq") {
            return;
        }
        let mut seed = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // SAFETY: checked just above.
            assert_eq!(unsafe { prefix_xor_clmul(seed) }, prefix_xor(seed));
        }
        // SAFETY: as above.
        assert_eq!(unsafe { prefix_xor_clmul(0) }, 0);
        assert_eq!(unsafe { prefix_xor_clmul(1 << 63) }, 1 << 63);
    }

    /// The portable scanner and the dispatched one (AVX2 where the CPU has it) find the same
    /// ends with the same state, from every start, on random nasty records.
    #[test]
    fn portable_and_dispatched_scanners_agree() {
        let mut seed = 0xFEED_F00D_u64;
        let alphabet = b"\"\\{}[]\nax";
        for _ in 0..3000 {
            let mut rec = vec![b'{'];
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for _ in 0..(seed % 300) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                rec.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let start = 1 + (seed % 3) as usize;
            let init = Scan {
                depth: 1 + (seed % 4) as u32,
                in_string: seed & 16 != 0,
                prev_escaped: (seed >> 5) & 1,
            };
            let (mut a, mut b) = (init, init);
            let start = start.min(rec.len());
            let want = scan_record_with(&rec, start, &mut a, classify, prefix_xor);
            let got = scan_record(&rec, start, &mut b);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&rec));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn escapes_across_block_boundaries() {
        // 63 bytes then a backslash at the block edge escaping a quote in the next block.
        let filler = "x".repeat(57);
        let rec = format!(r#"{{"a":"{filler}\"}}","b":1}}"#);
        let mut st = Scan {
            depth: 1,
            ..Scan::default()
        };
        let (end, _) = scan_record(rec.as_bytes(), 1, &mut st);
        assert_eq!(end, Some(rec.len() - 1));
    }
}
