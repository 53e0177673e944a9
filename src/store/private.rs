//! The database's files are private: created 0600 in a directory only the owner may change, and
//! refused when another user could write them.

use super::*;

/// Creates the database file 0600 (and its directory 0700) before SQLite opens it, so it is
/// never readable by others, not even for a moment. Refuses a world-writable existing file.
/// Refuses a database others could write or replace: the file or its write-ahead log writable
/// by group or world, a directory writable by others without the sticky bit, or a symbolic
/// link to nothing (opening it would create the file wherever the link points). A planted
/// database would show its own "fix" commands.
pub(super) fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.file_type().is_symlink()
        && std::fs::metadata(path).is_err()
    {
        return Err(StoreError::DanglingLink {
            path: path.to_path_buf(),
            target: std::fs::read_link(path).unwrap_or_default(),
        });
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for file in [real.clone(), sidecar(&real, "-wal")] {
        if let Ok(m) = std::fs::metadata(&file)
            && m.permissions().mode() & 0o022 != 0
        {
            return Err(StoreError::WorldWritable { path: file });
        }
    }
    if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(m) = std::fs::metadata(dir)
    {
        let mode = m.permissions().mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(StoreError::DirectoryOpen {
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// `db` with `suffix` appended to its file name (SQLite's `-wal`, `-shm`).
pub(super) fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(super) fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    check_private(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(_) => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            Ok(())
        }
    }
}
