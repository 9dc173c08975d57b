//! The one-time build of a derived index (the tallies, the look-up lists) for an archive
//! written before it existed: marked as building first, so that a read-only store refuses at
//! once rather than after reading the whole log; written in bounded batches; its version
//! written last, so that a build cut short is simply done again.

use super::ArchiveError;
use super::store::{Batch, Space, Store};

/// Index keys written per batch while building.
const BUILD_BATCH: usize = 10_000;

/// Marks the index under `version_key` as not built (version 0) before anything is read.
pub(super) fn begin(store: &dyn Store, version_key: &[u8]) -> Result<(), ArchiveError> {
    let mut probe = Batch::default();
    probe.put(Space::Index, version_key, 0u64.to_be_bytes());
    Ok(store.apply(&probe)?)
}

/// Writes `writes` into the index in batches, then `version` under `version_key`.
pub(super) fn finish(
    store: &dyn Store,
    version_key: &[u8],
    version: u64,
    writes: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<(), ArchiveError> {
    let (mut b, mut n) = (Batch::default(), 0);
    for (k, v) in writes {
        b.put(Space::Index, k, v);
        n += 1;
        if n == BUILD_BATCH {
            store.apply(&std::mem::take(&mut b))?;
            n = 0;
        }
    }
    if n > 0 {
        store.apply(&b)?;
    }
    let mut b = Batch::default();
    b.put(Space::Index, version_key, version.to_be_bytes());
    Ok(store.apply(&b)?)
}
