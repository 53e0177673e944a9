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

mod json;
mod lines;
mod simd;

pub use json::JsonFramer;
pub use lines::LineFramer;

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
    TooLarge {
        /// The limit in bytes it exceeded.
        limit: usize,
    },
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;
    use std::io;

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
