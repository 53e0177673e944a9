//! JSON records: arrays, wrapper objects unwrapped while streaming, and JSON lines; a record
//! is cut where its braces close, found 64 bytes at a time by [`super::simd`].

use std::io::{self, BufRead};

use super::simd::{Scan, scan_record};
use super::{Frame, Position, SkipReason, Tail};

/// Keys of a top-level object whose array value holds the records.
const WRAPPER_KEYS: [&[u8]; 5] = [
    b"Records",
    b"events",
    b"logEvents",
    b"Events",
    b"EventSourceMappings",
];

/// Where the framer stands in the input's top-level structure.
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
    /// The largest record kept, in bytes.
    max_record: usize,
    /// The current record's bytes, stitched together across reads.
    buf: Vec<u8>,
    mode: Mode,
    /// Bracket depth, counting only brackets outside strings.
    depth: u32,
    /// Inside a string: brackets and braces there are text.
    in_str: bool,
    /// The previous byte was a backslash inside a string, so a quote now does not end it.
    escape: bool,
    /// Depth at which record elements start when unwrapping (1 for `[...]`, 3 for `{"Records":[...]}`).
    elem_depth: u32,
    /// Depth of the wrapper array (elements live one deeper).
    wrap_depth: u32,
    /// Inside one element of the array being unwrapped.
    in_elem: bool,
    /// For top-level objects: the last key string seen at depth 1, and whether we await its value.
    key: Vec<u8>,
    key_open: bool,
    expect_key: bool,
    await_value: bool,
    /// Where the current record started.
    pos: Position,
    /// Bytes consumed before the current chunk.
    offset: u64,
    /// The current line, 1-based.
    line: u64,
    /// Records (and skipped records) handed out so far: the next one's index.
    index: u64,
    /// Mode to return to after a skipped element ends.
    skip_return: Mode,
    /// The depth at which the skipped value closes.
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
    ///
    /// The tail says whether the input ended inside a value (a truncated file) and how much of it
    /// was read; garbage left open at the end is not counted as truncation.
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

    /// Whether the bytes being read belong to a record and are copied: the whole of a top-level
    /// value, or one element of an unwrapped array, never the wrapper around them.
    fn capturing(&self) -> bool {
        match self.mode {
            Mode::Whole => true,
            Mode::Unwrap => self.in_elem,
            Mode::Top | Mode::Skip | Mode::Garbage => false,
        }
    }

    /// Frames one chunk. State carries across chunks, so a record split over two reads is stitched
    /// in `buf`; bytes are copied a span at a time, not byte by byte.
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
                                    self.scan = Scan::in_record();
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

    /// The position of a record starting at byte `offset` of the input, on the current line.
    fn position(&self, offset: u64) -> Position {
        Position {
            offset,
            line: self.line,
            index: self.index,
        }
    }

    /// Collects the key being read, to at most 32 bytes: the wrapper keys are short, and a longer
    /// key need only be told apart from them.
    fn push_key(&mut self, b: u8) {
        if self.key.len() < 32 {
            self.key.push(b);
        }
    }

    /// Whether the key just read names an array of records (`Records`, `events`...).
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

    /// Skips to the end of the value that closes at `depth`, then goes back to `ret`.
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
