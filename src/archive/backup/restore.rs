//! `tamga restore`: writes a verified generation into an empty store. The index goes last, so
//! a store a restore was cut short in holds no log head (and is to be removed and restored
//! again); the tiles are rebuilt by the archive when it is opened.

use super::check::Loaded;
use super::files::{self, Manifest};
use super::{BackupError, Refusal};
use crate::archive::ArchiveError;
use crate::archive::store::{Batch, Space, Store};
use std::collections::HashSet;
use std::path::Path;

/// Puts per batch, and bytes per batch: well inside every store's limits.
const BATCH_PUTS: usize = 512;
const BATCH_BYTES: usize = 8 << 20;

/// Batches of bounded size, applied as they fill.
struct Writer<'a> {
    store: &'a dyn Store,
    batch: Batch,
    bytes: usize,
    /// The receipts' dictionaries written so far.
    dictionaries: HashSet<Vec<u8>>,
}

impl Writer<'_> {
    fn put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
        self.bytes += key.len() + value.len();
        self.batch.put(space, key, value);
        if self.batch.puts.len() >= BATCH_PUTS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Keeps a backed-up receipt (its DER) as the archive keeps one: compressed against
    /// its dictionary, which goes in first (see `archive::receipts`).
    fn put_receipt(&mut self, key: &[u8], der: &[u8]) -> Result<(), BackupError> {
        let encoded = crate::archive::receipts::encode(der);
        if let Some((name, dictionary)) = encoded.dictionary
            && self.dictionaries.insert(name.clone())
        {
            self.put(Space::Receipts, &name, &dictionary)?;
        }
        self.put(Space::Receipts, key, &encoded.value)
    }

    fn flush(&mut self) -> Result<(), BackupError> {
        if !self.batch.puts.is_empty() {
            self.store
                .apply(&std::mem::take(&mut self.batch))
                .map_err(ArchiveError::from)?;
            self.bytes = 0;
        }
        Ok(())
    }
}

/// Whether `store` holds anything (a restore writes only into an empty one).
pub fn is_empty(store: &dyn Store) -> Result<bool, BackupError> {
    for space in Space::ALL {
        if !store.keys(space).map_err(ArchiveError::from)?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes generation `m` of the backup in `dir` (already verified, its records `loaded`) into
/// the empty `store`, and syncs it.
pub fn load(
    dir: &Path,
    m: &Manifest,
    loaded: &Loaded,
    store: &dyn Store,
) -> Result<(), BackupError> {
    if !is_empty(store)? {
        return Err(Refusal::StoreNotEmpty.into());
    }
    let mut w = Writer {
        store,
        batch: Batch::default(),
        bytes: 0,
        dictionaries: HashSet::new(),
    };
    for c in &m.chunks {
        let packed = files::read_bounded(&dir.join(files::chunk_path(c)), files::MAX_CHUNK_FILE)?;
        w.put(Space::Chunks, c, &packed)?;
    }
    let live: HashSet<&[u8]> = m
        .live
        .iter()
        .flat_map(|(_, b)| b.iter().map(|b| b.as_slice()))
        .collect();
    let mut seen = HashSet::new();
    let records = |name: &str| {
        loaded
            .spaces
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    for (k, v) in records("blobs.kv") {
        if live.contains(k.as_slice()) && seen.insert(k.as_slice()) {
            w.put(Space::Blobs, k, v)?;
        }
    }
    for (name, space) in [
        ("receipts.kv", Space::Receipts),
        ("checkpoints.kv", Space::Checkpoints),
        ("access.kv", Space::Access),
        ("log.kv", Space::Log),
    ] {
        let mut seen = HashSet::new();
        for (k, v) in records(name) {
            // A receipt for a retried submission may come twice; it is the same receipt.
            if !seen.insert(k.as_slice()) {
                continue;
            }
            if space == Space::Receipts {
                w.put_receipt(k, v)?;
            } else {
                w.put(space, k, v)?;
            }
        }
    }
    let note = loaded.checkpoint.size.to_be_bytes();
    if !records("checkpoints.kv").iter().any(|(k, _)| k == &note) {
        return Err(Refusal::CheckpointMissing.into());
    }
    for (k, v) in &loaded.acts {
        w.put(Space::Acts, k, v)?;
    }
    w.flush()?;
    for (k, v) in &loaded.index {
        w.put(Space::Index, k, v)?;
    }
    w.flush()?;
    store.sync().map_err(ArchiveError::from)?;
    Ok(())
}
