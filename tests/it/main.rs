//! The integration tests: one binary that runs the real `whydenied` executable, and the
//! library's stages, on real files (`samples/`, `tests/data/`, `tests/scenarios/`, the shared
//! corpus). Each module is one concern; `lint` is the Parliament check every module that makes
//! fixes uses.

mod cli;
mod corpus;
mod differential;
mod evaluate;
mod fixes;
mod fixtures;
mod golden;
mod hardening;
mod import;
mod integrations;
mod layout;
mod lint;
mod readme;
mod scenarios;
mod simulate;
mod snapshots;
mod util;
mod watch;
