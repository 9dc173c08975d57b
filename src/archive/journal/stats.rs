//! Counters of the index's read path and merges, process-wide (relaxed atomics: a few
//! nanoseconds each), so a bench can say where a filing's or a proof's time goes as the
//! archive grows: how many look-ups reach the runs, how many a Bloom filter answers, how many
//! blocks are read from the file or found in the block cache, and how long merges take.

use std::sync::atomic::{AtomicU64, Ordering};

pub(super) static LOOKUPS: AtomicU64 = AtomicU64::new(0);
pub(super) static IN_MEMORY: AtomicU64 = AtomicU64::new(0);
pub(super) static LOOKUP_NANOS: AtomicU64 = AtomicU64::new(0);
pub(super) static ABSENT: AtomicU64 = AtomicU64::new(0);
pub(super) static RUN_PROBES: AtomicU64 = AtomicU64::new(0);
pub(super) static BLOOM_SKIPS: AtomicU64 = AtomicU64::new(0);
pub(super) static BLOCK_READS: AtomicU64 = AtomicU64::new(0);
pub(super) static CACHE_HITS: AtomicU64 = AtomicU64::new(0);
pub(super) static MEMO_HITS: AtomicU64 = AtomicU64::new(0);
pub(super) static MERGES: AtomicU64 = AtomicU64::new(0);
pub(super) static MERGED_ENTRIES: AtomicU64 = AtomicU64::new(0);
pub(super) static MERGE_MICROS: AtomicU64 = AtomicU64::new(0);

/// Adds one to a counter.
pub(super) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub(super) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The counters since the process started (every journal store in it together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Index look-ups (reads and the overwrite checks of writes).
    pub lookups: u64,
    /// Look-ups answered by the memtable (or the one being flushed).
    pub in_memory: u64,
    /// The time of those neither the memtable nor the memo answered, in nanoseconds (the clock read twice
    /// each: ≈ 50 ns of it is the counting; their answers are not timed).
    pub lookup_nanos: u64,
    /// Look-ups the runs' memo answered (`memo.rs`): asked of the runs before, since they last
    /// changed.
    pub memo_hits: u64,
    /// Look-ups that asked the runs and found the key in none.
    pub absent: u64,
    /// Runs asked (one look-up may ask several, newest first).
    pub run_probes: u64,
    /// Runs a Bloom filter answered "not here" without reading a block.
    pub bloom_skips: u64,
    /// Blocks read from a run's file (and checked).
    pub block_reads: u64,
    /// Blocks found in the block cache instead.
    pub cache_hits: u64,
    /// Merges finished.
    pub merges: u64,
    /// Entries those merges wrote.
    pub merged_entries: u64,
    /// Their time on their own thread, in microseconds.
    pub merge_micros: u64,
}

impl IndexStats {
    /// The counters now.
    pub fn now() -> IndexStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IndexStats {
            lookups: g(&LOOKUPS),
            in_memory: g(&IN_MEMORY),
            memo_hits: g(&MEMO_HITS),
            lookup_nanos: g(&LOOKUP_NANOS),
            absent: g(&ABSENT),
            run_probes: g(&RUN_PROBES),
            bloom_skips: g(&BLOOM_SKIPS),
            block_reads: g(&BLOCK_READS),
            cache_hits: g(&CACHE_HITS),
            merges: g(&MERGES),
            merged_entries: g(&MERGED_ENTRIES),
            merge_micros: g(&MERGE_MICROS),
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &IndexStats) -> IndexStats {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        IndexStats {
            lookups: d(self.lookups, earlier.lookups),
            in_memory: d(self.in_memory, earlier.in_memory),
            memo_hits: d(self.memo_hits, earlier.memo_hits),
            lookup_nanos: d(self.lookup_nanos, earlier.lookup_nanos),
            absent: d(self.absent, earlier.absent),
            run_probes: d(self.run_probes, earlier.run_probes),
            bloom_skips: d(self.bloom_skips, earlier.bloom_skips),
            block_reads: d(self.block_reads, earlier.block_reads),
            cache_hits: d(self.cache_hits, earlier.cache_hits),
            merges: d(self.merges, earlier.merges),
            merged_entries: d(self.merged_entries, earlier.merged_entries),
            merge_micros: d(self.merge_micros, earlier.merge_micros),
        }
    }
}
