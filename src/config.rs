//! The service's configuration: a TOML file validated into typed values.
//!
//! Unknown keys and bad values are errors that name the key and the line (the TOML parser's
//! spans), so a typo never silently disables a source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// What a config file could not be.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, not permitted, or not UTF-8).
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The config file that was given (`--config`).
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a bad value, or fails a check (no source,
    /// an empty or malformed glob); `message` names the key and its line.
    #[error("{path}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, with the key.
        message: String,
    },
}

/// How a source's files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// Told by content, as `replay` does.
    #[default]
    Auto,
    /// Read as JSON (S3 delivery files, record arrays, wrappers, one event per line).
    Cloudtrail,
    /// CloudWatch Logs exports: told by content like [`SourceFormat::Auto`], since an export is
    /// text lines and `filter-log-events` output is JSON.
    Cloudwatch,
    /// Read as text lines, for a function whose logger prints JSON objects among its text.
    LambdaText,
}

/// Where to start in a file that has no checkpoint yet, at first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Read a new file from its first byte.
    #[default]
    Beginning,
    /// Skip what a new file already holds and read only what is appended from now on.
    End,
}

/// One `[[source]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A glob (`/var/log/aws/cloudtrail/**/*.json.gz`).
    pub path: String,
    /// What the files hold (`auto` unless given).
    #[serde(default)]
    pub format: SourceFormat,
    /// Where a file without a checkpoint starts at the first start (`beginning` unless given).
    #[serde(default)]
    pub start_at: StartAt,
    /// Follow symbolic links that lead out of the source's directory.
    #[serde(default)]
    pub follow_symlinks: bool,
}

/// `[policies]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Globs of AWS CLI outputs to import at start and again when they change.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// A JSON-lines file that receives every new or updated finding.
    pub jsonl: Option<PathBuf>,
    /// One structured log line per new finding (default true).
    pub log_findings: Option<bool>,
    /// A file of suppression rules (`[[suppress]]` tables): matching findings are stored and
    /// counted, but neither logged nor written to `jsonl`.
    pub suppressions: Option<PathBuf>,
}

/// `[service]`: timing and limits.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Milliseconds between rescans (the source of truth; file events only wake it early).
    pub rescan_ms: Option<u64>,
    /// Longest text line kept, in bytes.
    pub max_line_bytes: Option<usize>,
    /// Largest JSON record kept, in bytes.
    pub max_record_bytes: Option<usize>,
    /// Most bytes one gzip file may decompress to.
    pub max_decompressed_bytes: Option<u64>,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SQLite database; `--db` overrides it, and without either it is the default path
    /// (systemd's `StateDirectory` under the unit).
    pub database: Option<PathBuf>,
    /// The `[[source]]` tables: the files to tail. At least one is required.
    #[serde(default, rename = "source")]
    pub sources: Vec<Source>,
    /// The policy exports to import, `[policies]`.
    #[serde(default)]
    pub policies: Policies,
    /// Where new findings go besides the database, `[output]`.
    #[serde(default)]
    pub output: Output,
    /// Timing and limits, `[service]`.
    #[serde(default)]
    pub service: Service,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        if c.sources.is_empty() {
            return Err("no [[source]] table: the service would read nothing".into());
        }
        for (i, s) in c.sources.iter().enumerate() {
            if s.path.trim().is_empty() {
                return Err(format!("source {}: path is empty", i + 1));
            }
            glob::Pattern::new(&s.path)
                .map_err(|e| format!("source {}: path {:?}: {e}", i + 1, s.path))?;
        }
        for p in &c.policies.paths {
            glob::Pattern::new(p).map_err(|e| format!("policies.paths {p:?}: {e}"))?;
        }
        if c.service.rescan_ms == Some(0) {
            return Err("service.rescan_ms must be at least 1".into());
        }
        Ok(c)
    }

    /// Time between rescans.
    pub fn rescan(&self) -> Duration {
        Duration::from_millis(self.service.rescan_ms.unwrap_or(250))
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
    fn parses_the_contract_example() {
        let c = Config::parse(
            r#"
database = "/var/lib/whydenied/whydenied.db"

[[source]]
path = "/var/log/aws/cloudtrail/**/*.json.gz"
format = "auto"
start_at = "beginning"

[[source]]
path = "/var/log/aws/lambda/*.log"
format = "lambda-text"
start_at = "end"

[policies]
paths = ["/etc/whydenied/policies/*.json"]
"#,
        )
        .unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[1].format, SourceFormat::LambdaText);
        assert_eq!(c.sources[1].start_at, StartAt::End);
        assert_eq!(c.policies.paths.len(), 1);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_key_and_line() {
        let e = Config::parse("[[source]]\npath = \"/x/*\"\nfromat = \"auto\"\n").unwrap_err();
        assert!(e.contains("fromat") && e.contains("line 3"), "{e}");
        let e = Config::parse("[[source]]\npath = \"/x/*\"\nstart_at = \"middle\"\n").unwrap_err();
        assert!(e.contains("middle") && e.contains("line 3"), "{e}");
        let e = Config::parse("database = \"x\"\n").unwrap_err();
        assert!(e.contains("[[source]]"), "{e}");
        let e = Config::parse("[[source]]\npath = \"/x/[\"\n").unwrap_err();
        assert!(e.contains("source 1"), "{e}");
    }
}
