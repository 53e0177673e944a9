//! The `whydenied` binary: command-line parsing, exit codes, and nothing else.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
