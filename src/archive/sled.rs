//! The embedded default backend: sled, one tree, spaces as key prefixes.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range(2)` on Linux, which neither
//! flushes the drive's write cache nor the file's metadata (its growing size). So [`sync`]
//! flushes sled and then `fsync`s its files and directory itself.

use super::store::{Batch, Space, Store, StoreError};
use crate::verify::certificate::hex;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};

/// sled behind the [`Store`] interface.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
    /// Blob files (sled writes large values as files it never fsyncs) already made durable;
    /// they are written once and never change, so each is fsynced once.
    synced_files: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
}

impl SledStore {
    /// Opens (creating) the store in `dir`. A second process gets an error, not a hang.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            // Group commit decides when to sync; sled's own thread also syncs (with fsync).
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| match e {
                // sled wraps flock's EWOULDBLOCK in an error of its own wording.
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    backend(format!(
                        "{} is in use by another tamga process",
                        dir.display()
                    ))
                }
                other => backend(format!("cannot open {}: {other}", dir.display())),
            })?;
        Ok(SledStore {
            db,
            dir: dir.to_path_buf(),
            synced_files: Default::default(),
        })
    }
}

fn fsync(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| backend(format!("fsync {}: {e}", path.display())))
}

fn backend(msg: String) -> StoreError {
    StoreError::Backend(msg)
}

fn key(space: Space, k: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(k.len() + 1);
    v.push(space.prefix());
    v.extend_from_slice(k);
    v
}

impl Store for SledStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let result = self.db.transaction(|tx| {
            for (space, k, v) in &batch.puts {
                let full = key(*space, k);
                let existing = if space.append_only() {
                    tx.get(&full)?
                } else {
                    None
                };
                if let Some(old) = existing {
                    if old.as_ref() != v.as_slice() {
                        return Err(ConflictableTransactionError::Abort(StoreError::Overwrite {
                            space: *space,
                            key: hex(k),
                        }));
                    }
                    continue; // the same bytes again: nothing to write
                }
                tx.insert(full, v.as_slice())?;
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e.to_string())),
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| backend(e.to_string()))?;
        // sled appends to its log `db`, which is fsynced every time. Everything else it writes
        // (snapshots, config, and large values as files under `blobs/`, which sled itself never
        // syncs) is written once and never changed: each such file is fsynced once, when first
        // seen, and then its directory, so that its name is durable too.
        fsync(&self.dir.join("db"))?;
        let mut done = self
            .synced_files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for dir in [self.dir.clone(), self.dir.join("blobs")] {
            if !dir.is_dir() {
                continue;
            }
            let mut fresh = !done.contains(&dir);
            for entry in std::fs::read_dir(&dir).map_err(|e| backend(e.to_string()))? {
                let path = entry.map_err(|e| backend(e.to_string()))?.path();
                if path.is_file()
                    && path.file_name() != Some("db".as_ref())
                    && !done.contains(&path)
                {
                    fsync(&path)?;
                    done.insert(path);
                    fresh = true;
                }
            }
            if fresh {
                fsync(&dir)?;
                done.insert(dir);
            }
        }
        Ok(())
    }

    fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get(key(space, k))
            .map(|v| v.map(|iv| iv.to_vec()))
            .map_err(|e| backend(e.to_string()))
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.db
            .scan_prefix([space.prefix()])
            .keys()
            .map(|k| {
                k.map(|k| k.get(1..).unwrap_or_default().to_vec())
                    .map_err(|e| backend(e.to_string()))
            })
            .collect()
    }
}
