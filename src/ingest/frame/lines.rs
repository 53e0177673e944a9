//! Text records: lines, with a length limit; an oversized line is skipped and reported.

use std::io::{self, BufRead};

use super::{Frame, Position, SkipReason, Tail};

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
