//! The embedded default backend: sled, one tree, spaces as key prefixes.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range(2)` on Linux, which neither
//! flushes the drive's write cache nor the file's metadata (its growing size). So [`sync`]
//! flushes sled and then `fsync`s its files and directory itself.
//!
//! Large chunks (over [`FILE_THRESHOLD`] compressed) live as files of their own under
//! `chunks/`, named by hash, with only a marker in sled: sled keeps large values in files it
//! never deletes promptly, and disposal must really give the space back. A chunk file is written
//! to a temporary name, fsynced and renamed *before* the transaction that refers to it, so an
//! entry never points at a missing file; a disposed chunk's file is deleted only *after* the
//! removal is on disk, so a crash can leave an orphan file but never lose a kept one.

use super::store::{Batch, Space, Store, StoreError};
use crate::verify::certificate::hex;
use std::path::{Path, PathBuf};

/// sled behind the [`Store`] interface.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
    /// Chunk files whose removal is applied but not yet durable.
    pending_deletes: std::sync::Mutex<Vec<PathBuf>>,
    /// Blob files (sled writes large values as files it never fsyncs) already made durable;
    /// they are written once and never change, so each is fsynced once.
    synced_files: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    /// Held for the store's lifetime: only the holder may tidy sled's files before opening.
    _lock: std::fs::File,
    /// Serialises [`Store::apply`]: its overwrite checks and its batch form one step.
    writer: std::sync::Mutex<()>,
}

impl SledStore {
    /// Opens (creating) the store in `dir`. A second process gets an error, not a hang.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock = super::store::lock_dir(dir)?;
        drop_unfinished_snapshots(dir)?;
        // Holding our lock, a busy sled lock can only be a store of this same process that was
        // just dropped: sled's I/O threads let go of its file a moment later. Wait for that.
        let mut attempts = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                // Group commit decides when to sync; sled's own thread also syncs (with fsync).
                .flush_every_ms(Some(1000))
                .open();
            match opened {
                Ok(db) => break db,
                // sled wraps flock's EWOULDBLOCK in an error of its own wording.
                Err(sled::Error::Io(io))
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    attempts += 1;
                    if attempts > 200 {
                        return Err(super::store::in_use(dir));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(other) => {
                    return Err(backend(format!("cannot open {}: {other}", dir.display())));
                }
            }
        };
        Ok(SledStore {
            db,
            dir: dir.to_path_buf(),
            pending_deletes: Default::default(),
            synced_files: Default::default(),
            _lock: lock,
            writer: Default::default(),
        })
    }
}

/// sled 0.34 writes a snapshot to `snap.<lsn>.generating` and renames it when complete, but
/// on start it reads the highest-named `snap.*` file, which is the unfinished one if a process
/// was killed mid-write, and then refuses to open ("corrupted data"). The snapshot is only a
/// shortcut over the log, and an unrenamed one was never published, so it is removed; the
/// caller holds the store's lock, so no live process is still writing it.
fn drop_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())
                .map_err(|e| backend(format!("{}: {e}", entry.path().display())))?;
        }
    }
    Ok(())
}

fn fsync(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| backend(format!("fsync {}: {e}", path.display())))
}

/// Chunks larger than this (compressed) are kept as files of their own.
pub const FILE_THRESHOLD: usize = 64 * 1024;
/// What sled holds for a file-backed chunk (never the start of a zstd frame).
const FILE_MARKER: &[u8] = b"tamga-chunk-file";

impl SledStore {
    fn chunk_path(&self, key: &[u8]) -> PathBuf {
        let name = hex(key);
        self.dir
            .join("chunks")
            .join(name.get(..2).unwrap_or("00"))
            .join(name)
    }

    /// Writes a chunk file durably (temporary name, fsync, rename, fsync of the directory).
    fn write_chunk_file(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.chunk_path(key);
        if path.exists() {
            return Ok(()); // content-addressed: the same bytes are already there
        }
        let dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        let io = |e: std::io::Error| backend(format!("chunk file {}: {e}", path.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(value).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        fsync(&dir)?;
        if let Some(parent) = dir.parent() {
            fsync(parent)?;
        }
        Ok(())
    }
}

fn backend(msg: String) -> StoreError {
    StoreError::Backend(msg)
}

impl Store for SledStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        for (space, k, v) in &batch.puts {
            if *space == Space::Chunks && v.len() > FILE_THRESHOLD {
                self.write_chunk_file(k, v)?;
            }
        }
        // Checks and the batch happen under one lock, so no other writer comes between them;
        // sled applies the batch atomically. (A sled transaction would do the same with much
        // more bookkeeping per key.)
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut writes = sled::Batch::default();
        let mut deletes = Vec::new();
        for (space, k, v) in &batch.puts {
            let full = space.key(k);
            let v: &[u8] = if *space == Space::Chunks && v.len() > FILE_THRESHOLD {
                FILE_MARKER
            } else {
                v
            };
            let existing = if space.append_only() {
                self.db.get(&full).map_err(|e| backend(e.to_string()))?
            } else {
                None
            };
            if let Some(old) = existing {
                if old.as_ref() != v {
                    return Err(StoreError::Overwrite {
                        space: *space,
                        key: hex(k),
                    });
                }
                continue; // the same bytes again: nothing to write
            }
            writes.insert(full, v);
        }
        for (space, k) in &batch.disposals {
            if !matches!(space, Space::Chunks | Space::Blobs) {
                return Err(StoreError::NotDisposable { space: *space });
            }
            let full = space.key(k);
            let old = self.db.get(&full).map_err(|e| backend(e.to_string()))?;
            if old.is_some_and(|old| old.as_ref() == FILE_MARKER) {
                deletes.push(self.chunk_path(k));
            }
            writes.remove(full);
        }
        self.db
            .apply_batch(writes)
            .map_err(|e| backend(e.to_string()))?;
        self.pending_deletes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(deletes);
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| backend(e.to_string()))?;
        // sled appends to its log `db`, which is fsynced every time. Everything else it writes
        // (snapshots, config, and large values as files under `blobs/`, which sled itself never
        // syncs) is written once and never changed: each such file is fsynced once, when first
        // seen, and then its directory, so that its name is durable too.
        fsync(&self.dir.join("db"))?;
        // Removals are durable now: their files may go.
        let gone: Vec<PathBuf> = std::mem::take(
            &mut *self
                .pending_deletes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for path in gone {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(backend(format!("removing {}: {e}", path.display()))),
            }
        }
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
        let v = self
            .db
            .get(space.key(k))
            .map_err(|e| backend(e.to_string()))?;
        match v {
            Some(iv) if space == Space::Chunks && iv.as_ref() == FILE_MARKER => {
                let path = self.chunk_path(k);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    // A missing file reads as a missing chunk; the audit names it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(backend(format!("{}: {e}", path.display()))),
                }
            }
            other => Ok(other.map(|iv| iv.to_vec())),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_store_contract() {
        crate::archive::contract::check(&|dir| Box::new(SledStore::open(dir).unwrap()));
    }

    #[test]
    fn a_snapshot_left_unfinished_by_a_kill_does_not_stop_the_store_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            let mut batch = Batch::default();
            batch.put(Space::Index, b"k".to_vec(), b"v".to_vec());
            store.apply(&batch).unwrap();
            store.sync().unwrap();
        }
        // What a process killed inside sled's snapshot writer leaves: a torn file that sorts
        // after every finished snapshot.
        std::fs::write(dir.path().join("snap.FFFFFFFFFFFFFFFF.generating"), b"torn").unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.get(Space::Index, b"k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }

    #[test]
    fn a_second_opener_is_told_the_store_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let second = SledStore::open(dir.path()).unwrap_err().to_string();
        assert!(
            second.contains("in use by another tamga process"),
            "{second}"
        );
    }
}
