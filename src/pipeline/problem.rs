//! A problem with one input, as the reader met it. The text is the input's own (file names and
//! parser errors come from logs and paths an attacker may choose): it is escaped only where it
//! is printed, by the command line and the service.

use std::path::PathBuf;

use crate::ingest;

/// What went wrong with one input; `Display` gives the line a user sees, unescaped.
#[derive(Debug, Clone)]
pub enum Problem {
    /// A record that is not a denial the parser can read.
    Record {
        /// The input as named to the user.
        file: String,
        /// The 1-based line the record starts on.
        line: u64,
        /// The 0-based record index.
        record: u64,
        /// The parser's error.
        error: String,
    },
    /// Part of the input the framer or decoder skipped.
    Input {
        /// The input as named to the user.
        file: String,
        /// What was skipped, where, and why.
        problem: ingest::Problem,
    },
    /// JSON records with an `errorCode` that are neither CloudTrail nor log events.
    UnknownShape {
        /// The input as named to the user.
        file: String,
        /// How many such records.
        count: u64,
        /// The line of the first.
        line: u64,
        /// The keys of the first, for the user to recognise the format.
        keys: String,
    },
    /// The input could not be read to its end.
    Read {
        /// The input as named to the user.
        file: String,
        /// Why.
        error: String,
    },
    /// A path of the walk could not be read (counts as an error).
    Walk {
        /// The path.
        path: PathBuf,
        /// Why.
        error: String,
    },
    /// A path the walk skipped on purpose (a link out of the directory, a FIFO): said, not an
    /// error.
    Skipped {
        /// The path.
        path: PathBuf,
        /// Why it was skipped.
        why: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Record {
                file,
                line,
                record,
                error,
            } => write!(f, "{file}: line {line} (record {record}): {error}"),
            Problem::Input { file, problem } => write!(f, "{file}: {problem}"),
            Problem::UnknownShape {
                file,
                count,
                line,
                keys,
            } => write!(
                f,
                "{file}: {count} JSON record(s) with an errorCode are neither CloudTrail events nor log events (first at line {line}, keys: {keys}); skipped"
            ),
            Problem::Read { file, error } => write!(f, "{file}: {error}"),
            Problem::Walk { path, error } => write!(f, "{}: {error}", path.display()),
            Problem::Skipped { path, why } => write!(f, "{}: skipped: {why}", path.display()),
        }
    }
}
