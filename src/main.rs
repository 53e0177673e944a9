//! The `whydenied` binary: command-line parsing, exit codes, and nothing else.

#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::run());
}
