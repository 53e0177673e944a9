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
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How a source's files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// Told by content, as `replay` does.
    #[default]
    Auto,
    Cloudtrail,
    Cloudwatch,
    LambdaText,
}

/// Where to start in a file that has no checkpoint yet, at first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    Beginning,
    End,
}

/// One `[[source]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A glob (`/var/log/aws/cloudtrail/**/*.json.gz`).
    pub path: String,
    #[serde(default)]
    pub format: SourceFormat,
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
    pub database: Option<PathBuf>,
    #[serde(default, rename = "source")]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub policies: Policies,
    #[serde(default)]
    pub output: Output,
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
