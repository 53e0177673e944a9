//! Import from disk: the size-capped JSON reader, directories walked recursively, and the
//! `whydenied-import.toml` manifest that says, per file, what `--resource`, `--owner` and
//! `--target` would.
//!
//! Exports are kept as files, so the facts a file cannot state about itself (a key policy's key,
//! a bucket's owner, the OU an SCP is attached to) belong beside it, written once, rather than
//! on every command line. A manifest lists entries whose `path` is a glob relative to the
//! manifest's directory; the nearest manifest with a matching entry wins, and its values win
//! over the command line's flags, which apply to every file:
//!
//! ```toml
//! [[file]]
//! path = "kms-get-key-policy.json"
//! resource = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
//!
//! [[file]]
//! path = "scp/*.json"
//! target = ["r-ab12", "ou-ab12-11111111"]   # one or several targets
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::Options;

/// The manifest's file name.
pub const MANIFEST: &str = crate::ingest::IMPORT_MANIFEST;

/// The largest file `import` reads, also after decompression: an authorization-details export
/// of a large account is tens of MB; past this it is not one.
pub const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Why a file could not be read for import.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file, a directory being walked or a manifest could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path, as given or found.
        path: String,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// A FIFO, a device, a socket: reading it could hang or never end.
    #[error("{path}: not a regular file")]
    NotRegular {
        /// The path as given, escaped.
        path: String,
    },
    /// The file, or what it decompresses to, is larger than [`MAX_IMPORT_BYTES`]; `path` names it.
    #[error("{path}: larger than the {MAX_IMPORT_BYTES}-byte import limit")]
    TooLarge {
        /// The path as given, escaped.
        path: String,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{path}: bad gzip data: {source}")]
    Gzip {
        /// The gzip file.
        path: String,
        /// What the decompressor reported.
        source: std::io::Error,
    },
    /// The (decompressed) content of `path` is not UTF-8, so it cannot be AWS CLI JSON output.
    #[error("{path}: not UTF-8 text")]
    NotUtf8 {
        /// The path as given, escaped.
        path: String,
    },
    /// The content is not one JSON document.
    #[error("{path}: not JSON: {source}")]
    NotJson {
        /// The file that does not parse.
        path: String,
        /// The JSON parser's error, with its line and column.
        source: serde_json::Error,
    },
    /// A manifest that does not parse, or names a bad value.
    #[error("{path}: {what}")]
    Manifest {
        /// The manifest file, escaped.
        path: String,
        /// What is wrong in it.
        what: String,
    },
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Reads a JSON file, gzipped or not, refusing what is not a regular file and capping the
/// bytes actually read (a file that grows while read cannot get past the cap).
pub fn read_json(path: &Path) -> Result<Value, FileError> {
    let io = |source| FileError::Io {
        path: shown(path),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { path: shown(path) });
    }
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_IMPORT_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(io)?;
    if raw.len() as u64 > MAX_IMPORT_BYTES {
        return Err(FileError::TooLarge { path: shown(path) });
    }
    let text = if crate::ingest::open::is_gzip(&raw) {
        let mut out = Vec::new();
        crate::ingest::open::gunzip_capped(&raw[..], MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|source| FileError::Gzip {
                path: shown(path),
                source,
            })?;
        if out.len() as u64 > MAX_IMPORT_BYTES {
            return Err(FileError::TooLarge { path: shown(path) });
        }
        out
    } else {
        raw
    };
    let text = String::from_utf8(text).map_err(|_| FileError::NotUtf8 { path: shown(path) })?;
    serde_json::from_str(&text).map_err(|source| FileError::NotJson {
        path: shown(path),
        source,
    })
}

/// One or several values.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    path: String,
    resource: Option<String>,
    owner: Option<String>,
    target: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    file: Vec<Entry>,
}

/// A directory's `whydenied-import.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    dir: PathBuf,
    entries: Vec<(glob::Pattern, Entry)>,
}

impl Manifest {
    /// Loads the manifest of `dir`, if it has one.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, FileError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(FileError::Io {
                    path: shown(&path),
                    source,
                });
            }
        };
        let bad = |what: String| FileError::Manifest {
            path: shown(&path),
            what,
        };
        let m: ManifestFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut entries = Vec::new();
        for e in m.file {
            let pat = glob::Pattern::new(&e.path)
                .map_err(|err| bad(format!("path {:?}: {err}", e.path)))?;
            if let Some(o) = &e.owner
                && !(o.len() == 12 && o.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(bad(format!(
                    "owner {o:?} is not a twelve-digit AWS account id"
                )));
            }
            entries.push((pat, e));
        }
        Ok(Some(Manifest {
            dir: dir.to_path_buf(),
            entries,
        }))
    }

    /// The entry for `file`, when one matches its path relative to the manifest.
    fn entry(&self, file: &Path) -> Option<&Entry> {
        let rel = file.strip_prefix(&self.dir).ok()?;
        let rel = rel.to_string_lossy();
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        self.entries
            .iter()
            .find(|(p, _)| p.matches_with(&rel, opts))
            .map(|(_, e)| e)
    }
}

/// The options for `file` under the manifests in force (innermost first): one set per target.
fn options_for(file: &Path, manifests: &[Manifest], base: &Options) -> Vec<Options> {
    let Some(e) = manifests.iter().find_map(|m| m.entry(file)) else {
        return vec![base.clone()];
    };
    let mut o = base.clone();
    if e.resource.is_some() {
        o.resource = e.resource.clone();
    }
    if e.owner.is_some() {
        o.owner = e.owner.clone();
    }
    match &e.target {
        None => vec![o],
        Some(OneOrMany::One(t)) => {
            o.target = Some(t.clone());
            vec![o]
        }
        Some(OneOrMany::Many(ts)) => ts
            .iter()
            .map(|t| Options {
                target: Some(t.clone()),
                ..o.clone()
            })
            .collect(),
    }
}

/// The options for one file named on its own (the service's `[policies]` globs): the manifest
/// of its directory applies.
pub fn options_for_file(file: &Path, base: &Options) -> Result<Vec<Options>, FileError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let manifests: Vec<Manifest> = Manifest::load(dir)?.into_iter().collect();
    Ok(options_for(file, &manifests, base))
}

/// One file to import, with its options.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The export file to read.
    pub path: PathBuf,
    /// The options for it: the command line's, overridden by the nearest manifest entry (one
    /// planned file per target when the entry lists several).
    pub opts: Options,
    /// Named on the command line (an unrecognised file is an error), rather than found in a
    /// directory (an unrecognised file is skipped with a note).
    pub named: bool,
}

/// What to import for the paths given: files as they are, directories walked recursively in
/// name order (hidden entries and the manifests themselves left out), each directory's manifest
/// applied below it.
pub fn plan(inputs: &[PathBuf], base: &Options) -> Result<Vec<Planned>, FileError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut seen = Vec::new();
            walk(input, &[], base, &mut seen, &mut out)?;
        } else {
            let dir = input.parent().unwrap_or(Path::new("."));
            let manifests: Vec<Manifest> = Manifest::load(dir)?.into_iter().collect();
            for opts in options_for(input, &manifests, base) {
                out.push(Planned {
                    path: input.clone(),
                    opts,
                    named: true,
                });
            }
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    outer: &[Manifest],
    base: &Options,
    seen: &mut Vec<PathBuf>,
    out: &mut Vec<Planned>,
) -> Result<(), FileError> {
    // A link back to a parent cannot loop: each directory is read once.
    let canon = std::fs::canonicalize(dir).map_err(|source| FileError::Io {
        path: shown(dir),
        source,
    })?;
    if seen.contains(&canon) {
        return Ok(());
    }
    seen.push(canon);
    let mut manifests: Vec<Manifest> = Manifest::load(dir)?.into_iter().collect();
    manifests.extend(outer.iter().cloned());
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| FileError::Io {
            path: shown(dir),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for p in names {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') || name == MANIFEST {
            continue;
        }
        if p.is_dir() {
            walk(&p, &manifests, base, seen, out)?;
            continue;
        }
        for opts in options_for(&p, &manifests, base) {
            out.push(Planned {
                path: p.clone(),
                opts,
                named: false,
            });
        }
    }
    Ok(())
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
    fn manifest_entries_apply_below_their_directory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("scp")).unwrap();
        std::fs::write(d.path().join("key.json"), "{}").unwrap();
        std::fs::write(d.path().join("scp/deny.json"), "{}").unwrap();
        std::fs::write(d.path().join("README.md"), "notes").unwrap();
        std::fs::write(d.path().join(".hidden.json"), "{}").unwrap();
        std::fs::write(
            d.path().join(MANIFEST),
            "[[file]]\npath = \"key.json\"\nresource = \"arn:aws:kms:eu-west-1:111122223333:key/k\"\n\n[[file]]\npath = \"scp/*.json\"\ntarget = [\"r-ab12\", \"ou-ab12-11111111\"]\n",
        )
        .unwrap();
        let p = plan(&[d.path().to_path_buf()], &Options::default()).unwrap();
        let got: Vec<(String, Option<String>, Option<String>)> = p
            .iter()
            .map(|x| {
                (
                    x.path.file_name().unwrap().to_string_lossy().to_string(),
                    x.opts.resource.clone(),
                    x.opts.target.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("README.md".into(), None, None),
                (
                    "key.json".into(),
                    Some("arn:aws:kms:eu-west-1:111122223333:key/k".into()),
                    None
                ),
                ("deny.json".into(), None, Some("r-ab12".into())),
                ("deny.json".into(), None, Some("ou-ab12-11111111".into())),
            ]
        );
        assert!(p.iter().all(|x| !x.named));
    }

    #[test]
    fn a_bad_manifest_is_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(MANIFEST),
            "[[file]]\npath = \"a\"\nowner = \"x\"\n",
        )
        .unwrap();
        let e = plan(&[d.path().to_path_buf()], &Options::default()).unwrap_err();
        assert!(e.to_string().contains("whydenied-import.toml"), "{e}");
        std::fs::write(d.path().join(MANIFEST), "[[file]]\npaht = \"a\"\n").unwrap();
        assert!(plan(&[d.path().to_path_buf()], &Options::default()).is_err());
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let e = read_json(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(e, FileError::NotRegular { .. }), "{e}");
    }
}
