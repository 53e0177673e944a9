//! A file's identity by content: the hash of its first line, so that a renamed, rotated or
//! compressed copy of a file is known as the file it was, and evidence keys built from it are
//! the same whichever command read the file.

/// Computes the content fingerprint of a stream from its head: the first line (at most 1 KiB).
/// A gzip archive's is that of its decompressed content, so a file and its compressed copy
/// (logrotate's `compress`) agree; `watch` and `replay` agree too, so evidence keys match
/// whichever read a file.
pub fn fingerprint(head: &[u8]) -> u64 {
    let first = head.get(..1024).unwrap_or(head);
    of_complete_line(head).unwrap_or_else(|| xxhash_rust::xxh3::xxh3_64(first))
}

/// The fingerprint of a file: its first line (at most 1 KiB), or None while that line is not
/// complete and shorter than 1 KiB.
pub fn of_complete_line(head: &[u8]) -> Option<u64> {
    let limit = head.len().min(1024);
    let window = head.get(..limit)?;
    let end = match memchr::memchr(b'\n', window) {
        Some(i) => i + 1,
        None if limit == 1024 => 1024,
        None => return None,
    };
    Some(xxhash_rust::xxh3::xxh3_64(window.get(..end)?))
}

/// The fingerprint older versions gave a gzip file: the hash of its first compressed KiB.
/// Evidence stored under it is still recognised.
pub fn legacy(stored_head: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(stored_head.get(..1024).unwrap_or(stored_head))
}
