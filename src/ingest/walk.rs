//! Walking the input paths: every regular file under them, recursively, in a stable order, one
//! directory's listing at a time, each directory once, links that lead out of a directory left
//! unread unless asked for.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use super::IMPORT_MANIFEST;

/// One result of walking the input paths.
#[derive(Debug)]
pub enum Walked {
    /// A regular file to read.
    File(PathBuf),
    /// A path that could not be listed or examined.
    Error(PathBuf, io::Error),
    /// A symbolic link inside a directory that leads out of the path it was found under, left
    /// unread because following such links was not asked for (the reason says where it leads).
    Skipped(PathBuf, String),
}

/// Walks the regular files under each path, recursively, in a stable order, handing each over
/// as it is found, so a tree of millions of files is never held in memory (only one directory's
/// sorted listing at a time). Hidden files and directories (`.git`, editor swap files) and
/// Markdown documents are skipped inside directories; a path given explicitly is always kept.
///
/// Symbolic links: a path given explicitly is followed. A link found inside a directory is
/// followed while it stays within that given path; one that leads out of it is reported as
/// [`Walked::Skipped`] unless `follow_symlinks`, because a log directory writable by others
/// must not be able to point the reader at `/etc` or another tenant's files. Each directory is
/// read once, so a link back to a parent cannot loop. `visit` returns false to stop early.
pub fn walk_each(paths: &[PathBuf], follow_symlinks: bool, visit: &mut dyn FnMut(Walked) -> bool) {
    let mut seen = HashSet::new();
    for p in paths {
        let root = match std::fs::canonicalize(p) {
            Ok(r) => r,
            // `/dev/fd/63` (`replay <(zcat ...)`) is a link to `pipe:[…]`, which no path
            // names: what it opens is its own root.
            Err(_) if std::fs::metadata(p).is_ok() => p.clone(),
            Err(e) => {
                if !visit(Walked::Error(p.clone(), e)) {
                    return;
                }
                continue;
            }
        };
        let mut w = Walk {
            root: &root,
            follow_symlinks,
            seen: &mut seen,
            visit: &mut *visit,
        };
        if !w.walk(p, true, false) {
            return;
        }
    }
}

/// The state of one walk: the given path it started from (canonical), and the directories
/// already read, by device and inode.
struct Walk<'a> {
    root: &'a Path,
    follow_symlinks: bool,
    seen: &'a mut HashSet<(u64, u64)>,
    visit: &'a mut dyn FnMut(Walked) -> bool,
}

impl Walk<'_> {
    /// `link`: `p` is a symbolic link (as its directory listing said).
    fn walk(&mut self, p: &Path, explicit: bool, link: bool) -> bool {
        use std::os::unix::fs::MetadataExt;
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') && n != "." && n != "..");
        if hidden && !explicit {
            return true;
        }
        // Documentation beside logs (a README in an export folder) is not a log, nor is an
        // import manifest beside policy exports.
        let doc =
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown")
            }) || p.file_name().is_some_and(|n| n == IMPORT_MANIFEST);
        if doc && !explicit {
            return true;
        }
        if link && !explicit && !self.follow_symlinks {
            match std::fs::canonicalize(p) {
                Ok(target) if target.starts_with(self.root) => {}
                Ok(target) => {
                    let why = format!(
                        "a symbolic link to {} (outside {}); not followed without --follow-symlinks",
                        target.display(),
                        self.root.display()
                    );
                    return (self.visit)(Walked::Skipped(p.to_path_buf(), why));
                }
                Err(e) => return (self.visit)(Walked::Error(p.to_path_buf(), e)),
            }
        }
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => return (self.visit)(Walked::Error(p.to_path_buf(), e)),
        };
        if meta.is_file() {
            return (self.visit)(Walked::File(p.to_path_buf()));
        }
        if !meta.is_dir() {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            // A pipe named on the command line (`replay <(zcat ...)`) is read as a stream;
            // devices (`/dev/zero`), sockets, and pipes met in a directory are not read.
            if t.is_fifo() && explicit {
                return (self.visit)(Walked::File(p.to_path_buf()));
            }
            let what = if t.is_char_device() {
                "a character device"
            } else if t.is_block_device() {
                "a block device"
            } else if t.is_fifo() {
                "a named pipe"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            let why = format!("{what}, not a log file: not read");
            return if explicit {
                (self.visit)(Walked::Error(
                    p.to_path_buf(),
                    io::Error::new(io::ErrorKind::InvalidInput, why),
                ))
            } else {
                (self.visit)(Walked::Skipped(p.to_path_buf(), why))
            };
        }
        if meta.is_dir() {
            if !self.seen.insert((meta.dev(), meta.ino())) {
                // Read already: a link back to a parent, or a second way to the same place.
                return true;
            }
            let entries = match std::fs::read_dir(p) {
                Ok(rd) => rd,
                Err(e) => return (self.visit)(Walked::Error(p.to_path_buf(), e)),
            };
            let mut children: Vec<(PathBuf, bool)> = entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    let link = e.file_type().is_ok_and(|t| t.is_symlink());
                    Some((e.path(), link))
                })
                .collect();
            children.sort();
            for (c, link) in children {
                if !self.walk(&c, false, link) {
                    return false;
                }
            }
        }
        true
    }
}
