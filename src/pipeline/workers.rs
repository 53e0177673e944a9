//! How many workers a replay reads with.

/// Workers a replay starts by default, at most one per core. Each worker holds its batches,
/// its memo of fixes and its share of the allocator: replaying 20 % denials, each worker past
/// the second added 6-7 MiB of peak memory (measured on two cores: 49 MiB with two, 58 with
/// three, 66 with four, 94 with eight), while two already take less than `zcat`'s time.
/// `--threads` asks for more.
pub(super) const DEFAULT_WORKERS: usize = 2;

/// The workers of a replay: as many as asked (`0`: one per core, at most
/// [`DEFAULT_WORKERS`]), between 1 and 16.
pub(super) fn workers(asked: usize, cores: usize) -> usize {
    match asked {
        0 => cores.min(DEFAULT_WORKERS),
        n => n,
    }
    .clamp(1, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_per_core_up_to_the_default_unless_asked() {
        assert_eq!(workers(0, 1), 1);
        assert_eq!(workers(0, 2), 2);
        assert_eq!(workers(0, 64), DEFAULT_WORKERS);
        assert_eq!(workers(5, 2), 5);
        assert_eq!(workers(100, 2), 16);
    }
}
