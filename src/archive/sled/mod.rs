//! The sled backend (`--store sled`; the default until issue #15): one tree, spaces as key
//! prefixes.
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
//! removal is on disk, so a crash can leave an orphan file but never lose a kept one. Temporary
//! files never outlive a failed write, nor a crash past the next open; orphans are listed by
//! [`Store::strays`] (see `files`).
//!
//! A full disk: sled 0.34 keeps the first I/O error it meets and fails every write after it,
//! for as long as the process lives, even once space is back. So a store in error reopens sled
//! (at most every [`REOPEN_EVERY`], and only when the disk has room again) and replays onto it
//! the batches applied since the last successful flush, which the failed sled may or may not
//! have written: they are kept in memory until a flush covers them. Replaying them in order is
//! harmless where they did land (the same keys take the same values), so the reopened store
//! holds exactly what the archive above was told was applied, and nothing needs rereading.
//! A batch whose apply *failed* is the opposite case: sled may hold part of it in memory but
//! will not recover it, so its keys read as errors until the reopen. And since sled cannot
//! even open on a full disk, the store keeps a small reserve file to give up for that.

mod files;

use super::store::{Batch, Space, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How long a store in error waits between attempts to reopen itself.
pub const REOPEN_EVERY: Duration = Duration::from_millis(500);
/// Free space below which a store in error does not try to reopen: sled needs some to start
/// (it may write a snapshot), and while it waits the old handle still serves reads.
const ROOM_TO_REOPEN: u64 = 1 << 20;
/// Bytes of batches kept for a replay beyond which `apply` flushes sled itself, so that a
/// store nobody syncs (only reads, logged) does not keep them without bound.
const REPLAY_LIMIT: usize = 16 << 20;

/// sled behind the [`Store`] interface.
#[derive(Debug)]
pub struct SledStore {
    /// `None` only after a reopen that failed: reads then fail too, until one succeeds.
    db: RwLock<Option<sled::Db>>,
    dir: PathBuf,
    /// Chunk files whose removal is applied but not yet durable.
    /// Chunk files whose removal is applied but not yet durable: (chunk key, file).
    pending_deletes: Mutex<Vec<(Vec<u8>, PathBuf)>>,
    /// Blob files (sled writes large values as files it never fsyncs) already made durable;
    /// they are written once and never change, so each is fsynced once.
    synced_files: Mutex<std::collections::HashSet<PathBuf>>,
    /// Held for the store's lifetime: only the holder may tidy sled's files before opening.
    _lock: std::fs::File,
    /// Keys of batches whose apply failed: sled may hold part of such a batch in memory (its
    /// log will not recover it), so until a reopen drops that memory they read as errors, never
    /// as values that were not kept. `doubt` says whether there are any, without a lock.
    doubtful: RwLock<std::collections::HashSet<Vec<u8>>>,
    doubt: std::sync::atomic::AtomicBool,
    /// Tests: the next apply fails after sled has taken the batch in memory, as when sealing
    /// the batch in its log fails.
    #[cfg(test)]
    seal_fails: std::sync::atomic::AtomicBool,
    /// Whether the reserve ([`files::keep_reserve`]) is in place; once given up, it is written
    /// again after a sync finds room.
    reserve: std::sync::atomic::AtomicBool,
    /// Serialises [`Store::apply`] (its overwrite checks and its batch form one step) and
    /// reopening; holds what a reopen needs.
    writer: Mutex<Health>,
}

/// What a reopen needs: the batches to replay, and why and since when the store is in error.
#[derive(Debug, Default)]
struct Health {
    /// Batches applied since the last flush known to have succeeded, oldest first, with
    /// their approximate sizes.
    unsynced: Vec<(sled::Batch, usize)>,
    /// Their approximate size.
    unsynced_bytes: usize,
    /// Counts reopens, so that a sync that began before one does not drop batches after it.
    generation: u64,
    /// Set by a failed sled operation: no writes until a reopen succeeds.
    failed: Option<Failure>,
}

#[derive(Debug)]
struct Failure {
    why: String,
    next_try: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value is replaced whole after the step it records has succeeded.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SledStore {
    /// Opens (creating) the store in `dir`. A second process gets an error, not a hang.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, true)
    }

    /// Opens a private copy made for reading (`archive::readonly`): its chunk files are the
    /// original's, linked, so nothing is swept from them and no reserve is kept beside them —
    /// a read-only audit must not remove a file of the archive it reads.
    pub fn open_copy(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, own: bool) -> Result<Self, StoreError> {
        let lock = super::store::lock_dir(dir)?;
        drop_unfinished_snapshots(dir)?;
        if own {
            // Before sled, which may need the space they hold to start on a full disk.
            files::sweep(dir)?;
        }
        let db = open_db(dir)?;
        let reserve = own && files::keep_reserve(dir);
        Ok(SledStore {
            reserve: std::sync::atomic::AtomicBool::new(reserve),
            doubtful: Default::default(),
            doubt: Default::default(),
            #[cfg(test)]
            seal_fails: Default::default(),
            db: RwLock::new(Some(db)),
            dir: dir.to_path_buf(),
            pending_deletes: Default::default(),
            synced_files: Default::default(),
            _lock: lock,
            writer: Default::default(),
        })
    }

    /// Runs `f` on the open sled, or fails when a reopen left none.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match db.as_ref() {
            Some(db) => f(db),
            None => Err(StoreError::Unwritable(format!(
                "{} could not be reopened after a failure; retrying",
                self.dir.display()
            ))),
        }
    }

    /// Fails unless the store is healthy or a due reopen succeeds now.
    fn recover(&self, health: &mut Health) -> Result<(), StoreError> {
        let Some(failure) = &health.failed else {
            return Ok(());
        };
        if Instant::now() < failure.next_try || !self.has_room() {
            return Err(StoreError::Unwritable(format!(
                "{}; the store takes writes again once the disk has room",
                failure.why
            )));
        }
        match self.reopen(health) {
            Ok(()) => {
                health.failed = None;
                Ok(())
            }
            Err(e) => {
                fail(health, why(&e));
                Err(e)
            }
        }
    }

    fn has_room(&self) -> bool {
        files::free_bytes(&self.dir).is_none_or(|free| free >= ROOM_TO_REOPEN)
    }

    /// Drops the failed sled, opens it again and replays what it may have lost, then flushes.
    fn reopen(&self, health: &mut Health) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // sled lets go of its files when its threads end, a moment after; `open_db` waits.
        drop(slot.take());
        let db = open_db(&self.dir)?;
        for (batch, _) in &health.unsynced {
            db.apply_batch(batch.clone()).map_err(StoreError::Sled)?;
        }
        db.flush().map_err(StoreError::Sled)?;
        fsync(&self.dir.join("db"))?;
        *slot = Some(db);
        self.doubt
            .store(false, std::sync::atomic::Ordering::Release);
        self.doubtful
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        health.unsynced.clear();
        health.unsynced_bytes = 0;
        health.generation += 1;
        Ok(())
    }

    /// Records a failed sled operation of generation `generation` (unless a reopen since has
    /// made it moot) and returns it as an error.
    fn failed(&self, generation: u64, why: String) -> StoreError {
        let mut health = lock(&self.writer);
        if health.generation == generation {
            fail(&mut health, why.clone());
        }
        StoreError::Unwritable(why)
    }
}

/// What went wrong, in a sentence.
fn why(e: &StoreError) -> String {
    e.to_string()
}

/// Marks the store failed; the next reopen is tried after [`REOPEN_EVERY`].
fn fail(health: &mut Health, why: String) {
    health.failed = Some(Failure {
        why,
        next_try: Instant::now() + REOPEN_EVERY,
    });
}

/// Opens sled in `dir`, whose store lock the caller holds.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    // Holding our lock, a busy sled lock can only be a store of this same process that was
    // just dropped: sled's I/O threads let go of its file a moment later. Wait for that.
    let mut attempts = 0;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            // Group commit decides when to sync; sled's own thread also syncs (with fsync).
            .flush_every_ms(Some(1000))
            .open();
        match opened {
            Ok(db) => return Ok(db),
            // A full disk: the reserve is there to make this start possible.
            Err(sled::Error::Io(io))
                if io.kind() == std::io::ErrorKind::StorageFull && files::release_reserve(dir) => {}
            // sled wraps flock's EWOULDBLOCK in an error of its own wording.
            Err(sled::Error::Io(io))
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("could not acquire lock") =>
            {
                attempts += 1;
                if attempts > 200 {
                    return Err(super::store::in_use(dir));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(other) => return Err(StoreError::Sled(other)),
        }
    }
}

/// sled 0.34 writes a snapshot to `snap.<lsn>.generating` and renames it when complete, but
/// on start it reads the highest-named `snap.*` file, which is the unfinished one if a process
/// was killed mid-write, and then refuses to open ("corrupted data"). The snapshot is only a
/// shortcut over the log, and an unrenamed one was never published, so it is removed; the
/// caller holds the store's lock, so no live process is still writing it.
fn drop_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::Io {
        what: format!("{}", dir.display()),
        source: e,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path()).map_err(|e| StoreError::Io {
                what: format!("{}", entry.path().display()),
                source: e,
            })?;
        }
    }
    Ok(())
}

fn fsync(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Io {
            what: format!("fsync {}", path.display()),
            source: e,
        })
}

/// Chunks larger than this (compressed) are kept as files of their own.
pub const FILE_THRESHOLD: usize = 64 * 1024;
/// What sled holds for a file-backed chunk (never the start of a zstd frame).
const FILE_MARKER: &[u8] = b"tamga-chunk-file";

/// A batch as sled takes it.
struct Prepared {
    writes: sled::Batch,
    /// The keys it writes or removes.
    keys: Vec<Vec<u8>>,
    /// Its approximate size.
    bytes: usize,
    /// The chunk files its disposals delete once durable.
    deletes: Vec<(Vec<u8>, PathBuf)>,
}

impl SledStore {
    /// Marks the keys of a batch whose apply failed as unknown until the next reopen.
    fn distrust(&self, keys: Vec<Vec<u8>>) {
        self.doubtful
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(keys);
        self.doubt.store(true, std::sync::atomic::Ordering::Release);
    }

    fn doubted(&self, full_key: &[u8]) -> bool {
        self.doubtful
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(full_key)
    }

    #[cfg(test)]
    fn test_seal_failure(&self) -> Result<(), StoreError> {
        if self
            .seal_fails
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unwritable(
                "sealing the batch failed (simulated)".into(),
            ));
        }
        Ok(())
    }

    /// The sled batch for `batch`, checked against the kept values.
    fn prepare(&self, db: &sled::Db, batch: &Batch) -> Result<Prepared, StoreError> {
        let mut keys = Vec::new();
        let mut writes = sled::Batch::default();
        let mut bytes = 0;
        let mut deletes = Vec::new();
        let get = |key: &[u8]| db.get(key).map_err(StoreError::Sled);
        for (space, k, v) in &batch.puts {
            let full = space.key(k);
            let v: &[u8] = if *space == Space::Chunks && v.len() > FILE_THRESHOLD {
                FILE_MARKER
            } else {
                v
            };
            let existing = if space.append_only() {
                get(&full)?
            } else {
                None
            };
            if let Some(old) = existing {
                if old.as_ref() != v {
                    return Err(StoreError::Overwrite {
                        space: *space,
                        key: crate::verify::certificate::hex(k),
                    });
                }
                continue; // the same bytes again: nothing to write
            }
            bytes += full.len() + v.len();
            keys.push(full.clone());
            writes.insert(full, v);
        }
        for (space, k) in &batch.disposals {
            if !matches!(space, Space::Chunks | Space::Blobs) {
                return Err(StoreError::NotDisposable { space: *space });
            }
            let full = space.key(k);
            if get(&full)?.is_some_and(|old| old.as_ref() == FILE_MARKER) {
                deletes.push((k.clone(), files::chunk_path(&self.dir, k)));
            }
            bytes += full.len();
            keys.push(full.clone());
            writes.remove(full);
        }
        Ok(Prepared {
            writes,
            keys,
            bytes,
            deletes,
        })
    }

    /// Fsyncs what sled writes beside its log: snapshots, config, and large values as files
    /// under `blobs/`, which sled itself never syncs. Each is written once and never changed,
    /// so each is fsynced once, when first seen, and then its directory, so that its name is
    /// durable too.
    fn sync_side_files(&self) -> Result<(), StoreError> {
        let mut done = lock(&self.synced_files);
        for dir in [self.dir.clone(), self.dir.join("blobs")] {
            if !dir.is_dir() {
                continue;
            }
            let mut fresh = !done.contains(&dir);
            let listing = |source| StoreError::Io {
                what: format!("listing {}", dir.display()),
                source,
            };
            for entry in std::fs::read_dir(&dir).map_err(listing)? {
                let path = entry.map_err(listing)?.path();
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
}

impl Store for SledStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        for (space, k, v) in &batch.puts {
            if *space == Space::Chunks && v.len() > FILE_THRESHOLD {
                files::write(&self.dir, k, v)?;
            }
        }
        // Checks and the batch happen under one lock, so no other writer comes between them;
        // sled applies the batch atomically. (A sled transaction would do the same with much
        // more bookkeeping per key.)
        let mut health = lock(&self.writer);
        self.recover(&mut health)?;
        let applied = self.with_db(|db| {
            let p = self.prepare(db, batch)?;
            let applied = db.apply_batch(p.writes.clone()).map_err(StoreError::Sled);
            #[cfg(test)]
            let applied = applied.and_then(|()| self.test_seal_failure());
            if let Err(e) = applied {
                self.distrust(p.keys);
                return Err(e);
            }
            health.unsynced.push((p.writes, p.bytes));
            health.unsynced_bytes += p.bytes;
            Ok(p.deletes)
        });
        let deletes = match applied {
            Ok(d) => d,
            Err(e @ (StoreError::Overwrite { .. } | StoreError::NotDisposable { .. })) => {
                return Err(e);
            }
            Err(e) => {
                // Any sled error may be the one it keeps; only a reopen clears it.
                fail(&mut health, why(&e));
                return Err(e);
            }
        };
        if health.unsynced_bytes > REPLAY_LIMIT {
            match self.with_db(|db| db.flush().map_err(StoreError::Sled)) {
                Ok(_) => {
                    health.unsynced.clear();
                    health.unsynced_bytes = 0;
                }
                Err(e) => fail(&mut health, why(&e)),
            }
        }
        drop(health);
        lock(&self.pending_deletes).extend(deletes);
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let (generation, covered, covered_deletes) = {
            let mut health = lock(&self.writer);
            self.recover(&mut health)?;
            let deletes = lock(&self.pending_deletes).len();
            (health.generation, health.unsynced.len(), deletes)
        };
        // sled appends to its log `db`; its flush ends in sync_file_range, so fsync it too.
        self.with_db(|db| db.flush().map_err(StoreError::Sled))
            .and_then(|_| fsync(&self.dir.join("db")))
            .map_err(|e| self.failed(generation, why(&e)))?;
        {
            // The batches applied before the flush began are durable: no replay needs them.
            let mut health = lock(&self.writer);
            if health.generation == generation {
                let durable: usize = health.unsynced.drain(..covered).map(|(_, n)| n).sum();
                health.unsynced_bytes -= durable;
            }
        }
        // Removals applied before the flush began are durable now: their files may go — unless
        // the same content was filed again since (content-addressed: the same key), in which
        // case the file is the new document's. Checked and removed under the writer lock, so
        // no filing comes between the check and the removal.
        let writer = lock(&self.writer);
        let gone: Vec<(Vec<u8>, PathBuf)> = {
            let mut pending = lock(&self.pending_deletes);
            let n = covered_deletes.min(pending.len());
            pending.drain(..n).collect()
        };
        for (key, path) in gone {
            let filed_again = self
                .with_db(|db| db.get(Space::Chunks.key(&key)).map_err(StoreError::Sled))?
                .is_some();
            if filed_again {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Io {
                        what: format!("removing {}", path.display()),
                        source: e,
                    });
                }
            }
        }
        drop(writer);
        if !self.reserve.load(std::sync::atomic::Ordering::Relaxed) {
            self.reserve.store(
                files::keep_reserve(&self.dir),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        self.sync_side_files()
    }

    fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if self.doubt.load(std::sync::atomic::Ordering::Acquire) && self.doubted(&space.key(k)) {
            return Err(StoreError::Unwritable(format!(
                "{}: a write here failed, and what it left reads as unknown until the store \
                 reopens",
                self.dir.display()
            )));
        }
        let v = self.with_db(|db| db.get(space.key(k)).map_err(StoreError::Sled))?;
        match v {
            Some(iv) if space == Space::Chunks && iv.as_ref() == FILE_MARKER => {
                let path = files::chunk_path(&self.dir, k);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    // A missing file reads as a missing chunk; the audit names it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(StoreError::Io {
                        what: format!("{}", path.display()),
                        source: e,
                    }),
                }
            }
            other => Ok(other.map(|iv| iv.to_vec())),
        }
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let doubt = self.doubt.load(std::sync::atomic::Ordering::Acquire);
        self.with_db(|db| {
            db.scan_prefix([space.prefix()])
                .keys()
                .filter(|k| !(doubt && k.as_ref().is_ok_and(|k| self.doubted(k))))
                .map(|k| {
                    k.map(|k| k.get(1..).unwrap_or_default().to_vec())
                        .map_err(StoreError::Sled)
                })
                .collect()
        })
    }

    fn strays(&self) -> Vec<String> {
        files::strays(&self.dir, &|key| {
            self.with_db(|db| {
                db.get(Space::Chunks.key(key))
                    .map(|v| v.is_some_and(|v| v.as_ref() == FILE_MARKER))
                    .map_err(StoreError::Sled)
            })
        })
    }
}

#[cfg(test)]
mod tests;
