//! The fast embedded backend: one append-only journal file of batches, with the index in
//! memory (rebuilt from the journal at open).
//!
//! Why it exists: sled 0.34 costs 10–25 µs of CPU per key written on the reference machine, and
//! a filing writes about nine, which alone spends the CPU that 5,000 filings/s leave. Here a
//! batch is one positioned write of one record, a sync is one `fdatasync`, and a read is one
//! `pread` (or none, for the small look-up tables kept in memory).
//!
//! Disposal writes a removal record and, once that record is durable, punches a hole where the
//! document's bytes were (`fallocate(PUNCH_HOLE)`, or zeros where the file system cannot), so
//! the space goes back and the bytes are really gone. The records themselves stay: each value
//! has a digest of its own outside the record's checksum, so a punched record still reads as
//! intact, and recovery can tell "destroyed by an act" (a later removal) from "damaged".
//!
//! The trade-off: every live key sits in memory (about 120 bytes each, 5–7 per document),
//! and opening reads the whole journal once.

mod record;
mod recover;

use super::store::{Batch, Space, Store, StoreError};
use record::Op;
use recover::{Extent, Slot};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

/// The journal file's name inside the store directory.
pub const FILE: &str = "tamga.journal";

/// The journal behind the [`Store`] interface.
#[derive(Debug)]
pub struct JournalStore {
    path: PathBuf,
    dir: PathBuf,
    file: File,
    index: RwLock<BTreeMap<Vec<u8>, Slot>>,
    writer: Mutex<Writer>,
    notes: Vec<String>,
    damaged: Vec<String>,
    /// Held for the store's lifetime (none for a read-only open of a directory no writer has
    /// locked).
    _lock: Option<File>,
    /// Tests: the file length past which writes fail (a full disk), after writing what fits.
    #[cfg(test)]
    room: Mutex<Option<u64>>,
}

#[derive(Debug)]
struct Writer {
    /// Where the next record goes.
    end: u64,
    /// How far the file is known to be on stable storage.
    durable: u64,
    /// Set when a failed write could not be taken back: no further writes until reopened.
    failed: Option<String>,
    /// Disposed values to destroy once the removal that disposed of them (ending at `.0`) is
    /// durable.
    punches: Vec<(u64, Extent)>,
    /// Whether the directory entry of a new journal still needs a sync.
    new_file: bool,
    /// Whether records were written since the last one whose mark covers them all.
    unmarked: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Writer state is only changed after the step it records has succeeded.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl JournalStore {
    /// Opens (creating) the store in `dir`, recovering from a crash if there was one; what the
    /// recovery did is in [`JournalStore::notes`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock_file = super::store::lock_dir(dir)?;
        let path = dir.join(FILE);
        let new_file = !path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Io {
                what: format!("{}", path.display()),
                source: e,
            })?;
        let mut recovered = recover::recover(&file, &path, false)?;
        // What a killed process wrote may still be in the page cache only; the marks of new
        // records will say all of it is durable, so make that true first.
        file.sync_all().map_err(|e| StoreError::Io {
            what: format!("fsync {}", path.display()),
            source: e,
        })?;
        let repunch = std::mem::take(&mut recovered.repunch);
        let writer = Writer {
            end: recovered.end,
            durable: recovered.end,
            failed: None,
            punches: Vec::new(),
            new_file,
            // What recovery kept has no mark after it yet when the last run crashed.
            unmarked: recovered.end > 0,
        };
        let store = Self::assemble(dir, file, path, recovered, writer, Some(lock_file));
        for extent in repunch {
            store.destroy(extent)?;
        }
        Ok(store)
    }

    /// Opens the store in `dir` for reading only, writing nothing at all (for auditing a
    /// snapshot or a copy on read-only media): the journal is read as recovery would, but a
    /// torn tail is left in place and ignored, nothing is synced or punched, and every write
    /// is refused. A writer holding the store makes this fail with "in use".
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let lock = super::store::lock_dir_shared(dir)?;
        let path = dir.join(FILE);
        let file = File::open(&path).map_err(|e| StoreError::Io {
            what: format!("{}", path.display()),
            source: e,
        })?;
        let recovered = recover::recover(&file, &path, true)?;
        let writer = Writer {
            end: recovered.end,
            durable: recovered.end,
            failed: Some(format!("{} was opened read-only", path.display())),
            punches: Vec::new(),
            new_file: false,
            unmarked: false,
        };
        Ok(Self::assemble(dir, file, path, recovered, writer, lock))
    }

    /// The store over an opened file and what recovery found in it.
    fn assemble(
        dir: &Path,
        file: File,
        path: PathBuf,
        recovered: recover::Recovered,
        writer: Writer,
        lock: Option<File>,
    ) -> JournalStore {
        JournalStore {
            dir: dir.to_path_buf(),
            file,
            index: RwLock::new(recovered.index),
            writer: Mutex::new(writer),
            notes: recovered.notes,
            damaged: recovered.damaged,
            path,
            _lock: lock,
            #[cfg(test)]
            room: Mutex::new(None),
        }
    }

    /// What opening did (a torn tail moved aside), for the operator. Damaged values are in
    /// [`Store::damage`].
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Destroys a disposed value's bytes: a hole where the file system can punch one (the space
    /// goes back), zeros otherwise.
    fn destroy(&self, extent: Extent) -> Result<(), StoreError> {
        use rustix::fs::{FallocateFlags, fallocate};
        let len = u64::from(extent.len);
        if len == 0 {
            return Ok(());
        }
        let punched = fallocate(
            &self.file,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            extent.off,
            len,
        );
        let fail = |e: std::io::Error| StoreError::Io {
            what: format!("{}", self.path.display()),
            source: e,
        };
        if punched.is_err() {
            self.file
                .write_all_at(&vec![0; extent.len as usize], extent.off)
                .map_err(fail)?;
        }
        self.file.sync_data().map_err(fail)
    }

    fn read(&self, slot: &Slot) -> Result<Vec<u8>, StoreError> {
        match slot {
            Slot::Inline(v) => Ok(v.clone()),
            Slot::At(e) => {
                let mut v = vec![0; e.len as usize];
                self.file
                    .read_exact_at(&mut v, e.off)
                    .map_err(|err| StoreError::Io {
                        what: format!("{}", self.path.display()),
                        source: err,
                    })?;
                Ok(v)
            }
        }
    }

    /// Writes a record at `at`. A failure may leave part of it written.
    fn write_record(&self, rec: &[u8], at: u64) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(room) = *lock(&self.room)
            && at + rec.len() as u64 > room
        {
            let fits = rec
                .get(..room.saturating_sub(at) as usize)
                .unwrap_or_default();
            self.file.write_all_at(fits, at)?;
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        self.file.write_all_at(rec, at)
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Slot>> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for JournalStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut w = lock(&self.writer);
        if let Some(why) = &w.failed {
            return Err(StoreError::Unwritable(why.clone()));
        }
        let mut puts: Vec<(Vec<u8>, &[u8])> = Vec::with_capacity(batch.puts.len());
        let mut removes = Vec::new();
        {
            let index = self.read_index();
            for (space, k, v) in &batch.puts {
                let key = space.key(k);
                if space.append_only()
                    && let Some(slot) = index.get(&key)
                {
                    if self.read(slot)? != *v {
                        return Err(StoreError::Overwrite {
                            space: *space,
                            key: crate::verify::certificate::hex(k),
                        });
                    }
                    continue; // the same bytes again: nothing to write
                }
                puts.push((key, v.as_slice()));
            }
            for (space, k) in &batch.disposals {
                if !matches!(space, Space::Chunks | Space::Blobs) {
                    return Err(StoreError::NotDisposable { space: *space });
                }
                let key = space.key(k);
                if index.contains_key(&key) {
                    removes.push(key);
                }
            }
        }
        if puts.is_empty() && removes.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<'_>> = puts
            .iter()
            .map(|(key, value)| Op::Put { key, value })
            .chain(removes.iter().map(|key| Op::Remove { key }))
            .collect();
        let (rec, values_at) = record::encode(w.durable, &ops).ok_or_else(|| {
            StoreError::Refused("a batch beyond the journal's record limits was refused".into())
        })?;
        let start = w.end;
        if let Err(e) = self.write_record(&rec, start) {
            // Take back whatever part landed, so the next record does not follow a torn one.
            let why = format!("{}: {e}", self.path.display());
            if let Err(cut) = self.file.set_len(start) {
                w.failed = Some(format!(
                    "{why}; then could not cut the partial record off ({cut}): reopen the store"
                ));
            }
            return Err(StoreError::Unwritable(why));
        }
        let end = start + rec.len() as u64;
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let mut off = start + values_at as u64;
        for (key, value) in puts {
            let len = value.len() as u32; // encode bounds every value by u32
            let slot = recover::slot(&key, value, Extent { off, len });
            off += u64::from(len);
            index.insert(key, slot);
        }
        for key in removes {
            if let Some(Slot::At(extent)) = index.remove(&key) {
                w.punches.push((end, extent));
            }
        }
        w.end = end;
        w.unmarked = true;
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let (end, new_file) = {
            let w = lock(&self.writer);
            if let Some(why) = &w.failed {
                return Err(StoreError::Unwritable(why.clone()));
            }
            (w.end, w.new_file)
        };
        // Records written meanwhile by other threads may or may not be covered; `end` is.
        if let Err(e) = self.file.sync_data() {
            // After a failed fdatasync Linux may have dropped the dirty pages and marked them
            // clean, so a retry could "succeed" over lost writes. Only a reopen, whose recovery
            // reads what actually reached the disk, can tell; until then nothing is written.
            let why = format!(
                "fdatasync {}: {e}; the store takes no more writes until it is reopened",
                self.path.display()
            );
            lock(&self.writer).failed = Some(why.clone());
            return Err(StoreError::Unwritable(why));
        }
        if new_file {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::Io {
                    what: format!("fsync {}", self.dir.display()),
                    source: e,
                })?;
        }
        let due: Vec<Extent> = {
            let mut w = lock(&self.writer);
            w.durable = w.durable.max(end);
            w.new_file &= !new_file;
            if w.end == end && w.unmarked {
                self.mark(&mut w);
            }
            let (due, later) = w.punches.drain(..).partition(|(at, _)| *at <= end);
            w.punches = later;
            due.into_iter().map(|(_, e)| e).collect()
        };
        // The removals are durable: the bytes may go. Readers cannot be reading them, since
        // their keys left the index under its write lock. A failure leaves the bytes for the
        // next open to destroy (the removal is on disk), so it does not fail the sync.
        for extent in due {
            if self.destroy(extent).is_err() {
                lock(&self.writer).punches.push((0, extent));
            }
        }
        Ok(())
    }

    fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // The read lock is held through the read, so disposal cannot punch the bytes under it.
        let index = self.read_index();
        index.get(&space.key(k)).map(|s| self.read(s)).transpose()
    }

    fn damage(&self) -> Vec<String> {
        self.damaged.clone()
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let prefix = [space.prefix()];
        Ok(self
            .read_index()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.get(1..).unwrap_or_default().to_vec())
            .collect())
    }
}

impl JournalStore {
    /// Appends a record with no writes whose mark says the file is durable up to it, without
    /// syncing it. Under load the next batch's record carries that mark anyway; when none
    /// follows, this one does, once the kernel writes it back. Without a later mark, damage to
    /// the last synced records would read as a torn tail after a crash and be cut (moved aside).
    /// A mark that fails to land is only a torn tail itself, so a failure is taken back and
    /// does not fail the sync that has already succeeded.
    fn mark(&self, w: &mut Writer) {
        let Some((rec, _)) = record::encode(w.durable, &[]) else {
            return;
        };
        if self.write_record(&rec, w.end).is_ok() {
            w.end += rec.len() as u64;
            w.unmarked = false;
        } else if let Err(cut) = self.file.set_len(w.end) {
            w.failed = Some(format!(
                "{}: could not cut a partial mark off ({cut}): reopen the store",
                self.path.display()
            ));
        }
    }

    /// Syncs, which leaves a mark after the last records (nothing else writes now), and syncs
    /// that mark too: damage to the last records then reads as damage to synced data (refused
    /// at open) instead of as a torn tail (cut), with no write-back delay left open.
    fn close(&self) -> Result<(), StoreError> {
        self.sync()?;
        self.file.sync_data().map_err(|e| StoreError::Io {
            what: format!("fdatasync {}", self.path.display()),
            source: e,
        })
    }
}

impl Drop for JournalStore {
    fn drop(&mut self) {
        // Nothing depends on this (every acknowledged write was synced already); it tightens
        // what the next open can tell apart, and destroys disposed bytes not yet destroyed.
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests;
