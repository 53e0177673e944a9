//! Ingest: files on disk → records and log events, streamed, with every problem reported.
//!
//! Input: a path (file or directory, recursive). Output: for each file, a sequence of
//! [`Item`]s handed to a callback: JSON records (CloudTrail events, CloudWatch Logs events, Lambda
//! JSON log records) as raw bytes, or text log events (one line plus its continuation lines), each
//! with its [`Position`]; and [`Problem`]s for what could not be read.
//!
//! Invariants:
//! - Formats are told by content, never by file name: gzip by its magic bytes, JSON by its first
//!   byte, binary data by NUL bytes or invalid UTF-8 in the first block.
//! - Memory is bounded by the limits in [`Limits`], not by the file size.
//! - A file's identity is a content fingerprint (hash of its first KiB), so a renamed or copied
//!   file is recognised as the same.

pub mod fingerprint;
pub mod frame;
pub mod open;
pub mod tail;
pub mod text;
mod walk;

pub use walk::{Walked, walk_each};

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

pub use frame::{Position, SkipReason};

/// The import manifest a policy directory may hold (`whydenied-import.toml`): never a log.
pub const IMPORT_MANIFEST: &str = "whydenied-import.toml";

/// Size limits that keep memory bounded whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON record kept (CloudTrail caps events at 256 KiB; we allow much more).
    pub max_record_bytes: usize,
    /// Longest text line kept (CloudWatch Logs caps events at 256 KiB).
    pub max_line_bytes: usize,
    /// Largest multi-line text event kept; further continuation lines are dropped.
    pub max_event_bytes: usize,
    /// Most bytes one gzip file may decompress to. A CloudTrail file is a few MB; a file that
    /// inflates past this is a gzip bomb or not a log delivery, and reading stops there.
    pub max_decompressed_bytes: u64,
    /// The shape a source is configured to hold (`[[source]] format`), which then is not told
    /// from each chunk's content; None: told by content.
    pub shape: Option<Shape>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 8 * 1024 * 1024,
            max_line_bytes: 1024 * 1024,
            max_event_bytes: 256 * 1024,
            max_decompressed_bytes: 4 * 1024 * 1024 * 1024,
            shape: None,
        }
    }
}

/// How a file's content was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// JSON: records, wrappers of records, or JSON lines.
    Json,
    /// Text lines: CloudWatch Logs exports, `aws logs tail` output, plain Lambda logs.
    Text,
}

/// The evidence source a record or line came from, as written in a finding's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceKind {
    /// A CloudTrail event (S3 delivery file, JSON lines, EventBridge envelope, lookup-events).
    CloudTrail,
    /// A CloudWatch Logs event: export line, `filter-log-events`, `aws logs tail`.
    CloudWatch,
    /// Plain Lambda log text without CloudWatch framing.
    LambdaText,
    /// An event source mapping's own state (`aws lambda list-event-source-mappings` output):
    /// its `LastProcessingResult` or `StateTransitionReason`.
    Mapping,
}

impl SourceKind {
    /// The name used in finding JSON and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::CloudTrail => "cloudtrail",
            SourceKind::CloudWatch => "cloudwatch",
            SourceKind::LambdaText => "lambda-text",
            SourceKind::Mapping => "event-source-mapping",
        }
    }
}

/// One unit of input handed to the parser.
#[derive(Debug)]
pub enum Item<'a> {
    /// The file is open: its content fingerprint, before any record.
    Opened {
        /// The content fingerprint (first line, at most 1 KiB, decompressed) of evidence keys.
        fingerprint: u64,
        /// The fingerprint older builds gave this file (a gzip archive's compressed first KiB),
        /// whose evidence keys a store may already hold.
        legacy: u64,
    },
    /// A JSON object.
    Json(Position, &'a [u8]),
    /// A text log event: its first line and continuation lines joined by `\n`.
    Text(Position, &'a str),
    /// Something that could not be read; the file goes on unless it is fatal for the file.
    Problem(Problem),
}

/// What went wrong with part of a file. Each names where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A record or line skipped by the framer.
    Skipped {
        /// Where the skipped record or line starts.
        pos: Position,
        /// Why it was skipped.
        reason: SkipReason,
    },
    /// A line with bytes that are not UTF-8 (kept with replacement characters).
    InvalidUtf8 {
        /// The 1-based line.
        line: u64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Skipped { pos, reason } => {
                write!(
                    f,
                    "line {} (record {}): skipped, {reason}",
                    pos.line, pos.index
                )
            }
            Problem::InvalidUtf8 { line } => {
                write!(
                    f,
                    "line {line}: not valid UTF-8, read with replacement characters"
                )
            }
        }
    }
}

/// Errors that stop reading one file (the run goes on with the others).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read at all.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// The gzip stream ended early or is corrupt; records before that point were kept.
    #[error("gzip data is truncated or corrupt after {bytes} decompressed bytes: {source}")]
    Gzip {
        /// Decompressed bytes read before the error.
        bytes: u64,
        /// The decompressor's error.
        source: io::Error,
    },
    /// The content is binary or otherwise not a log format.
    #[error("not a log format: {0}")]
    Unrecognised(String),
    /// The JSON input ended inside a value.
    #[error(
        "JSON input ends inside a value at byte {bytes} (line {line}); records before it were kept"
    )]
    TruncatedJson {
        /// Bytes read when the input ended.
        bytes: u64,
        /// The line the cut-off value starts on.
        line: u64,
    },
    /// The gzip stream inflates past `max_decompressed_bytes` (a gzip bomb, or not a log file).
    #[error(
        "gzip data decompresses to more than {limit} bytes (max_decompressed_bytes); reading stopped there, records before it were kept"
    )]
    DecompressedLimit {
        /// The limit in bytes (`--max-decompressed-bytes`).
        limit: u64,
    },
}

/// What reading one file produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Content fingerprint: the first line (at most 1 KiB) of the content, decompressed.
    pub fingerprint: u64,
    /// The fingerprint older builds gave a gzip file (its compressed first KiB), 0 for others.
    pub legacy_fingerprint: u64,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// How its content was recognised (None for an empty file).
    pub shape: Option<Shape>,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Stored bytes (compressed size for gzip).
    pub stored_bytes: u64,
}

pub use fingerprint::fingerprint;

/// Reads one file and hands every item to `sink`. Returns what was learnt of the file, or the
/// error that stopped reading it (items already handed over stay valid).
pub fn read_file(
    path: &Path,
    limits: &Limits,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<FileInfo, IngestError> {
    let file = File::open(path)?;
    let stored_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_opened(file, stored_bytes, limits, sink)
}

/// Reads an already opened stream (standard input for `explain`).
pub fn read_reader(
    reader: &mut dyn Read,
    limits: &Limits,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<FileInfo, IngestError> {
    read_opened(reader, 0, limits, sink)
}

fn read_opened<R: Read>(
    reader: R,
    stored_bytes: u64,
    limits: &Limits,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<FileInfo, IngestError> {
    let mut raw = BufReader::with_capacity(256 * 1024, reader);
    let stored_head = raw.fill_buf()?;
    let gzip = open::is_gzip(stored_head);
    let legacy = if gzip {
        fingerprint::legacy(stored_head)
    } else {
        0
    };
    let mut info = FileInfo {
        fingerprint: 0,
        legacy_fingerprint: legacy,
        gzip,
        shape: None,
        bytes: 0,
        stored_bytes,
    };
    if gzip {
        read_gzip(raw, limits, sink, &mut info)?;
    } else {
        read_stream(&mut raw, limits, sink, &mut info, false)?;
    }
    Ok(info)
}

/// Decompresses with the size cap applied: hitting the cap ends the stream like an EOF, and is
/// then reported in preference to whatever the cut-off caused (a truncated JSON value).
fn read_gzip<R: BufRead>(
    raw: R,
    limits: &Limits,
    sink: &mut dyn FnMut(Item<'_>),
    info: &mut FileInfo,
) -> Result<(), IngestError> {
    let capped = open::gunzip_capped(raw, limits.max_decompressed_bytes);
    let mut dec = BufReader::with_capacity(256 * 1024, capped);
    let r = read_stream(&mut dec, limits, sink, info, true);
    if dec.get_ref().hit() {
        return Err(IngestError::DecompressedLimit {
            limit: limits.max_decompressed_bytes,
        });
    }
    r
}

fn read_stream<R: BufRead>(
    input: &mut R,
    limits: &Limits,
    sink: &mut dyn FnMut(Item<'_>),
    info: &mut FileInfo,
    gzip: bool,
) -> Result<(), IngestError> {
    let gz_err = |bytes: u64, e: io::Error| IngestError::Gzip { bytes, source: e };
    // The first block (or all there is), whatever the reads underneath return: the
    // fingerprint and the format must not depend on how a decompressor cuts its output.
    let mut head = Vec::with_capacity(HEAD_BYTES);
    // A stream that breaks within its first block still yields what came before the break
    // (read_to_end keeps it): framed first, then the error is reported.
    let broken = input
        .by_ref()
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .err();
    info.fingerprint = fingerprint(&head);
    sink(Item::Opened {
        fingerprint: info.fingerprint,
        legacy: if gzip {
            info.legacy_fingerprint
        } else {
            info.fingerprint
        },
    });
    let mut empty = io::Cursor::new(Vec::new());
    let mut rest: &mut dyn BufRead = if broken.is_some() { &mut empty } else { input };
    let mut input = Prefixed {
        head: head.clone(),
        pos: 0,
        inner: &mut rest,
    };
    let input = &mut input;
    // A configured shape still refuses binary data.
    let Some(shape) = sniff(&head).map(|s| limits.shape.unwrap_or(s)) else {
        // A stream broken before anything could be read (a gzip header and garbage).
        if let Some(e) = broken {
            return Err(if gzip {
                gz_err(0, e)
            } else {
                IngestError::Io(e)
            });
        }
        return if head.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(())
        } else {
            Err(IngestError::Unrecognised(describe_binary(&head)))
        };
    };
    info.shape = Some(shape);
    // Count the bytes read, for the message when a gzip stream breaks.
    let mut counter = Counting {
        inner: input,
        bytes: 0,
    };
    let result = match shape {
        Shape::Json => {
            frame::JsonFramer::new(limits.max_record_bytes).run(&mut counter, &mut |f| match f {
                frame::Frame::Record(pos, bytes) => sink(Item::Json(pos, bytes)),
                frame::Frame::Skipped(pos, reason) => {
                    sink(Item::Problem(Problem::Skipped { pos, reason }))
                }
            })
        }
        Shape::Text => {
            let mut asm = text::Assembler::new(limits.max_event_bytes);
            let r =
                frame::LineFramer::new(limits.max_line_bytes).run(&mut counter, &mut |f| match f {
                    frame::Frame::Record(pos, bytes) => asm.push_line(pos, bytes, sink),
                    frame::Frame::Skipped(pos, reason) => {
                        sink(Item::Problem(Problem::Skipped { pos, reason }))
                    }
                });
            asm.finish(sink);
            r
        }
    };
    info.bytes = counter.bytes;
    if let Some(e) = broken {
        return Err(if gzip {
            gz_err(counter.bytes, e)
        } else {
            IngestError::Io(e)
        });
    }
    match result {
        Ok(tail) => {
            if shape == Shape::Json && tail.incomplete {
                return Err(IngestError::TruncatedJson {
                    bytes: tail.bytes,
                    line: tail.lines,
                });
            }
            Ok(())
        }
        Err(e) if gzip => Err(gz_err(counter.bytes, e)),
        Err(e) => Err(IngestError::Io(e)),
    }
}

/// Tells the shape of a stream from its first block, or None for empty or binary data.
///
/// JSON is told by parsing, not by a first `{` or `[`: Python's `[ERROR] ...` lines and Node's
/// `{ [AccessDenied: ...` dumps begin like JSON and are text. Binary is told by the share of
/// NUL, control and invalid UTF-8 bytes, so one stray NUL does not turn a log into binary.
pub fn sniff(head: &[u8]) -> Option<Shape> {
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let first = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let sample = body.get(..body.len().min(4096)).unwrap_or(body);
    // Text in a legacy encoding (a Latin-1 byte here and there) is still text; mostly invalid
    // UTF-8, NUL or control bytes is not.
    let mut invalid = 0usize;
    let mut control = 0usize;
    for chunk in sample.utf8_chunks() {
        invalid += chunk.invalid().len();
        control += chunk
            .valid()
            .bytes()
            .filter(|b| b.is_ascii_control() && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
            .count();
    }
    if (invalid + control) * 20 > sample.len() {
        return None;
    }
    let rest = body.get(first..).unwrap_or_default();
    if !matches!(rest.first(), Some(b'{') | Some(b'[')) {
        return Some(Shape::Text);
    }
    if json_prefix(rest) {
        return Some(Shape::Json);
    }
    // JSON lines with a broken line are still JSON lines: every line begins with `{` and one
    // at least is a whole object (a file cut short after its first record), or most lines
    // are whole objects. Text that begins like JSON (Node's `{ [AccessDenied: ...` dump) goes
    // on in lines that do not.
    let mut lines: Vec<&[u8]> = rest
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .collect();
    // The block's last line is cut short when the block is full: it proves nothing.
    if head.len() >= HEAD_BYTES && !rest.ends_with(b"\n") {
        lines.pop();
    }
    let object = |l: &&[u8]| l.first() == Some(&b'{');
    let whole = lines
        .iter()
        .filter(|l| object(l) && serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok())
        .count();
    let all_objects = lines.iter().all(object);
    if whole >= 1 && (all_objects || whole * 2 > lines.len()) {
        return Some(Shape::Json);
    }
    Some(Shape::Text)
}

/// Whether `bytes` are JSON values one after another, the last perhaps cut off by the end of
/// the block.
fn json_prefix(bytes: &[u8]) -> bool {
    let mut values =
        serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    loop {
        match values.next() {
            None => return true,
            Some(Ok(_)) => {}
            Some(Err(e)) => return e.is_eof(),
        }
    }
}

fn describe_binary(head: &[u8]) -> String {
    if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive (unzip it first)".to_string()
    } else if head.starts_with(b"BZh") {
        "a bzip2 stream (only gzip is read)".to_string()
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "a zstd stream (only gzip is read)".to_string()
    } else if head.starts_with(b"SQLite format 3") {
        "an SQLite database".to_string()
    } else {
        "binary data (NUL bytes or invalid UTF-8 in the first 4 KiB)".to_string()
    }
}

/// How much of a stream is read first, to fingerprint it and tell its format.
const HEAD_BYTES: usize = 4096;

/// A stream whose first bytes were already read: they are served first, then the stream
/// itself, without copying it through another buffer.
struct Prefixed<'a, R: BufRead> {
    head: Vec<u8>,
    pos: usize,
    inner: &'a mut R,
}

impl<R: BufRead> Read for Prefixed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.head.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return self.inner.read(buf);
        }
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Prefixed<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.head.len() {
            return Ok(self.head.get(self.pos..).unwrap_or_default());
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if self.pos < self.head.len() {
            self.pos = (self.pos + amt).min(self.head.len());
        } else {
            self.inner.consume(amt);
        }
    }
}

/// A `BufRead` adaptor that counts the bytes consumed.
struct Counting<'a, R: BufRead> {
    inner: &'a mut R,
    bytes: u64,
}

impl<R: BufRead> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        // Lines are the framers' business; counting them twice would cost a pass over the data.
        self.bytes += amt as u64;
        self.inner.consume(amt);
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

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"  {\"Records\":[]}"), Some(Shape::Json));
        assert_eq!(sniff(b"\xef\xbb\xbf[{}]"), Some(Shape::Json));
        assert_eq!(
            sniff(b"2026-11-20T10:00:00.000Z START RequestId"),
            Some(Shape::Text)
        );
        assert_eq!(sniff(b"\x00\x01\x02\x03garbage"), None);
        // Begins like JSON, is text.
        assert_eq!(
            sniff(b"[ERROR] ClientError: An error occurred (AccessDeniedException)\n"),
            Some(Shape::Text)
        );
        assert_eq!(
            sniff(b"{ [AccessDenied: User: arn:aws:sts::1:assumed-role/r/f is not authorized\n"),
            Some(Shape::Text)
        );
        // Pretty-printed JSON cut off by the end of the block is JSON.
        assert_eq!(
            sniff(b"{\n  \"Records\": [\n    {\"eventVersion\": \"1.0"),
            Some(Shape::Json)
        );
        // JSON lines with a broken first line are JSON lines.
        assert_eq!(
            sniff(b"{\"a\": garbage\n{\"b\":1}\n{\"c\":2}\n{\"d\":3}\n"),
            Some(Shape::Json)
        );
        // A short JSON-lines file whose second (last) record was cut off mid-string.
        assert_eq!(
            sniff(b"{\"eventID\":\"1\",\"errorCode\":\"AccessDenied\"}\n{\"eventID\":\"2\",\"errorMessage\":\"User: arn:aws:sts::1:assumed-role/r/f is not authorized to perfo\n"),
            Some(Shape::Json)
        );
        // Text whose first line happens to be a JSON object stays text.
        assert_eq!(
            sniff(b"{\"level\":\"info\"}\nSTART RequestId: 1 Version: $LATEST\nEND RequestId: 1\n"),
            Some(Shape::Text)
        );
        // One NUL byte in a text log does not make it binary.
        let mut t = b"START RequestId: 1 Version: $LATEST\n".repeat(20);
        t.push(0);
        t.extend_from_slice(b"END RequestId: 1\n");
        assert_eq!(sniff(&t), Some(Shape::Text));
        assert_eq!(sniff(b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6"), None);
        assert_eq!(sniff(b"   \n"), None);
    }

    /// A gzip bomb stops at the decompressed-size cap with its own error; the records before the
    /// cap are kept, and an input of exactly the cap is not reported.
    #[test]
    fn gzip_bomb_is_capped() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let mut body = b"{\"a\":1}\n{\"a\":2}\n".to_vec();
        body.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
        body.extend_from_slice(b"{\"a\":3}\n");
        let bomb = gz(&body);
        assert!(bomb.len() < 64 * 1024, "{} compressed bytes", bomb.len());
        let limits = Limits {
            max_decompressed_bytes: 1024 * 1024,
            ..Limits::default()
        };
        let mut records = 0;
        let r = read_reader(&mut bomb.as_slice(), &limits, &mut |i| {
            if let Item::Json(..) = i {
                records += 1;
            }
        });
        assert!(
            matches!(r, Err(IngestError::DecompressedLimit { limit: 1048576 })),
            "{r:?}"
        );
        assert_eq!(records, 2);

        let exact = gz(&body[..16]);
        let limits = Limits {
            max_decompressed_bytes: 16,
            ..Limits::default()
        };
        let mut records = 0;
        let r = read_reader(&mut exact.as_slice(), &limits, &mut |i| {
            if let Item::Json(..) = i {
                records += 1;
            }
        });
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(records, 2);
    }
}
