//! whydenied: tells AWS Lambda users why a call was denied and exactly what to add to fix it.
//!
//! The modules are the stages of the data flow, each owning its types:
//! `ingest` (files → records and log events) → `parse` (→ typed denials) → `diagnose` (→ kind,
//! cause, principal) → `suggest` (→ the fix) → `store` (SQLite findings) → `report` (tables,
//! JSON, markdown). `pipeline` wires them for `replay` and `explain`; `rules` holds the catalogs
//! compiled in from `rules/`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod daemon;
pub mod diagnose;
pub mod evaluate;
pub mod finding;
pub mod import;
pub mod ingest;
pub mod parse;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod rules;
pub mod store;
pub mod suggest;
