//! The fast embedded backend: one append-only journal file of batches, the write-ahead log and
//! the one source of truth, with an index derived from it and checkpointed on disk.
//!
//! Why it exists: sled 0.34 costs 10–25 µs of CPU per key written on the reference machine, and
//! a filing writes about nine, which alone spends the CPU that 5,000 filings/s leave. Here a
//! batch is one positioned write of one record, a sync is one `fdatasync`, and a read is one
//! `pread` of the value (after at most one block read per index run, usually from the block
//! cache, `cache.rs`, or the page cache; none for a key a run's Bloom filter rules out).
//!
//! Disposal writes a removal record and, once that record is durable, punches a hole where the
//! document's bytes were (`fallocate(PUNCH_HOLE)`, or zeros where the file system cannot), so
//! the space goes back and the bytes are really gone. The records themselves stay: each value
//! has a digest of its own outside the record's checksum, so a punched record still reads as
//! intact, and recovery can tell "destroyed by an act" (a later removal) from "damaged".
//!
//! The index (`index.rs`, `run.rs`): keys written since the last flush sit in memory; every
//! [`index::FLUSH_AT`] keys a sync writes them, hashed and sorted, as a run file beside the
//! journal and records in a manifest how far the journal is covered. Opening reads the manifest
//! and the runs' fences (16 bytes per 127 keys), checks that they were built from this journal,
//! and replays only the records after the covered offset, with every recovery rule (torn tails
//! moved aside, damage in synced records refused). Memory and open time so no longer grow with
//! the archive, only with what was written since the last flush. An index that does not verify
//! is never trusted: it is rebuilt from the whole journal (the full scan recovery always did,
//! its keys written out in runs as it goes, so memory stays bounded) and a note says so. What the open no longer reads — older values' digests — [`Store::damage`] reads on
//! demand for the audit; reads are checked by the archive above as before.
//!
//! Small stores (below one flush) never write an index: they open, as before, by reading the
//! whole journal.

mod bloom;
mod cache;
mod file;
mod index;
mod memo;
mod memtable;
mod record;
mod recover;
mod run;
mod stats;
mod tables;
mod values;

#[cfg(test)]
pub(crate) use recover::KEY_SCANS;
pub use stats::IndexStats;

use super::store::{Batch, Space, Store, StoreError};
use index::{Keyer, Loaded, Manifest, Tables};
use recover::Extent;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use tables::Failed;

/// The journal file's name inside the store directory.
pub const FILE: &str = "tamga.journal";

/// The journal behind the [`Store`] interface.
#[derive(Debug)]
pub struct JournalStore {
    path: PathBuf,
    dir: PathBuf,
    file: File,
    keyer: Keyer,
    index: RwLock<Tables>,
    /// The flusher's manifest; held while a flush (or a rebuild) runs, so only one does.
    flusher: Mutex<Manifest>,
    /// A merge of runs under way on its own thread.
    merging: Mutex<Option<index::Merge>>,
    /// Memtable size at which a sync flushes ([`index::FLUSH_AT`]; tests make it tiny).
    flush_at: usize,
    writer: Mutex<Writer>,
    /// Small values written or read lately (see `values.rs`).
    values: values::Values,
    notes: Mutex<Vec<String>>,
    /// What the open's read of the journal found damaged: every value when it read the whole
    /// journal (`Some`), only the tail after the index otherwise (then the audit reads all).
    damaged: (Vec<String>, bool),
    /// Where the open's replay began and how many records it read.
    replayed: (u64, u64),
    read_only: bool,
    /// Held for the store's lifetime (none for a read-only open of a directory no writer has
    /// locked).
    _lock: Option<File>,
    /// Tests: the file length past which writes fail (a full disk), after writing what fits.
    #[cfg(test)]
    room: Mutex<Option<u64>>,
    /// Tests: every `fdatasync` fails while set (a disk that reports a write-back error).
    #[cfg(test)]
    fail_sync: Mutex<bool>,
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
    /// The first record's checksum (the journal's identity, for the index's manifest).
    first: Option<[u8; 32]>,
    /// The last record's offset and checksum (where the index's coverage ends).
    last: Option<(u64, [u8; 32])>,
}

impl Writer {
    /// Notes a record written at `at`.
    fn wrote(&mut self, rec: &[u8], at: u64) {
        let sum: [u8; 32] = rec
            .get(16..record::HEADER)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 32]);
        if at == 0 {
            self.first = Some(sum);
        }
        self.last = Some((at, sum));
        self.end = at + rec.len() as u64;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Writer state is only changed after the step it records has succeeded.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io {
        what: format!("{what}{}", path.display()),
        source: e,
    }
}

fn index_error(e: run::RunError) -> StoreError {
    match e {
        run::RunError::Io { path, source } if !index::is_damage_io(&source) => {
            io(&path, "the journal's index: ", source)
        }
        e => StoreError::Damaged(format!("the journal's index: {e}")),
    }
}

/// What the open read: the journal as recovered from where the index left off, and the index.
struct Opened {
    recovered: recover::Recovered,
    manifest: Manifest,
    runs: Vec<std::sync::Arc<run::Run>>,
    /// Whether the whole journal was read.
    whole: bool,
    from: u64,
}

impl JournalStore {
    /// Opens (creating) the store in `dir`, recovering from a crash if there was one; what the
    /// recovery did is in [`JournalStore::notes`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_tuned(dir, index::FLUSH_AT)
    }

    /// [`JournalStore::open`] with the memtable flushed every `flush_at` keys (tests and
    /// benches use small ones).
    #[doc(hidden)]
    pub fn open_tuned(dir: &Path, flush_at: usize) -> Result<Self, StoreError> {
        let lock_file = super::store::lock_dir(dir)?;
        let path = dir.join(FILE);
        let new_file = !path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, "", e))?;
        let mut opened = Self::read(dir, &file, &path, flush_at, false)?;
        // What a killed process wrote may still be in the page cache only; the marks of new
        // records will say all of it is durable, so make that true first.
        file.sync_all().map_err(|e| io(&path, "fsync ", e))?;
        let repunch = std::mem::take(&mut opened.recovered.repunch);
        let r = &opened.recovered;
        let writer = Writer {
            end: r.end,
            durable: r.end,
            failed: None,
            punches: Vec::new(),
            new_file,
            // What recovery kept has no mark after it yet when the last run crashed.
            unmarked: r.end > 0,
            first: r
                .first
                .or((opened.from > 0).then_some(opened.manifest.first)),
            last: r.last.or((opened.from > 0).then_some(opened.manifest.last)),
        };
        let spilled = opened.from == 0 && !opened.runs.is_empty();
        let store = Self::assemble(dir, file, path, opened, writer, Some(lock_file), flush_at);
        // An index rebuilt from a large journal is named now (runs spilled while reading it,
        // and what was left in memory), so the next open is quick.
        store.flush(spilled);
        store.remove_strays();
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
        Self::open_read_only_tuned(dir, index::FLUSH_AT)
    }

    /// [`JournalStore::open_read_only`] with an index read from the whole journal spilled every
    /// `flush_at` keys (tests use small ones).
    #[doc(hidden)]
    pub fn open_read_only_tuned(dir: &Path, flush_at: usize) -> Result<Self, StoreError> {
        let lock = super::store::lock_dir_shared(dir)?;
        let path = dir.join(FILE);
        let file = File::open(&path).map_err(|e| io(&path, "", e))?;
        let opened = Self::read(dir, &file, &path, flush_at, true)?;
        let writer = Writer {
            end: opened.recovered.end,
            durable: opened.recovered.end,
            failed: Some(format!("{} was opened read-only", path.display())),
            punches: Vec::new(),
            new_file: false,
            unmarked: false,
            first: None,
            last: None,
        };
        let mut store = Self::assemble(dir, file, path, opened, writer, lock, flush_at);
        store.read_only = true;
        Ok(store)
    }

    /// Loads the index and replays the journal after it; or, with no index to trust, reads
    /// the whole journal (saying why when an index was there), spilling its index into runs
    /// every `flush_at` keys — `read_only`, into a temporary directory whose files are unlinked
    /// once opened (the runs are read through their open descriptors), so that neither the
    /// store's directory nor memory holds them.
    fn read(
        dir: &Path,
        file: &File,
        path: &Path,
        flush_at: usize,
        read_only: bool,
    ) -> Result<Opened, StoreError> {
        let len = file.metadata().map_err(|e| io(path, "", e))?.len();
        let (mut manifest, mut runs, why) = match index::load(dir, file, len)? {
            Loaded::Valid(m, runs) => (m, runs, None),
            Loaded::Missing => (Manifest::new(Keyer::random()?), Vec::new(), None),
            Loaded::Invalid(why) => (Manifest::new(Keyer::random()?), Vec::new(), Some(why)),
        };
        if why.is_some() && !read_only {
            // Never trusted again: the rebuilt index replaces it, or none stands in for it. A
            // manifest that stays would name, at the next open, runs this one overwrites.
            index::discard(dir).map_err(|e| io(&dir.join(index::FILE), "removing ", e))?;
        }
        // Ids are never used twice, not even those of runs no manifest names any more.
        let free = index::first_free_id(dir).map_err(|e| io(dir, "listing ", e))?;
        manifest.next_id = manifest.next_id.max(free);
        let keyer = manifest.keyer.clone();
        let from = manifest.covered;
        let tmp = match read_only && from == 0 {
            true => Some(tempfile::tempdir().map_err(|e| io(Path::new("a temporary dir"), "", e))?),
            false => None,
        };
        let spill_dir = tmp.as_ref().map_or(dir, |t| t.path());
        let spiller = index::Spiller::new(spill_dir, flush_at, manifest.next_id);
        let spill = (from == 0).then_some(&spiller);
        let base = |h| match spill {
            Some(s) => s.lookup(h).map_err(index_error),
            None => Tables::in_runs(&runs, h).map_err(index_error),
        };
        let start = recover::From {
            at: from,
            base: (from > 0 || spill.is_some()).then_some(&base as &dyn Fn(u128) -> _),
            keyer: &keyer,
            spill: spill.map(|s| s as &dyn recover::Spill),
        };
        let mut recovered = recover::recover(file, path, read_only, &start)?;
        if let Some(why) = why {
            recovered.notes.push(format!(
                "{}: the index in {} was not used ({why}); it was rebuilt from the whole journal",
                path.display(),
                dir.join(index::FILE).display()
            ));
        }
        if spill.is_some() {
            (runs, manifest.next_id) = spiller.into_runs();
        }
        Ok(Opened {
            recovered,
            manifest,
            runs,
            whole: from == 0,
            from,
        })
    }

    /// The store over an opened file and what the open read.
    fn assemble(
        dir: &Path,
        file: File,
        path: PathBuf,
        opened: Opened,
        writer: Writer,
        lock: Option<File>,
        flush_at: usize,
    ) -> JournalStore {
        let Opened {
            recovered,
            manifest,
            runs,
            whole,
            from,
        } = opened;
        JournalStore {
            dir: dir.to_path_buf(),
            file,
            keyer: manifest.keyer.clone(),
            index: RwLock::new(Tables::new(recovered.index, runs)),
            flusher: Mutex::new(manifest),
            merging: Mutex::new(None),
            flush_at,
            writer: Mutex::new(writer),
            values: values::Values::default(),
            notes: Mutex::new(recovered.notes),
            damaged: (recovered.damaged, whole),
            replayed: (from, recovered.records),
            read_only: false,
            path,
            _lock: lock,
            #[cfg(test)]
            room: Mutex::new(None),
            #[cfg(test)]
            fail_sync: Mutex::new(false),
        }
    }

    /// What opening did (a torn tail moved aside, an index rebuilt), and what reads found since
    /// (an index rebuilt), for the operator. Damaged values are in [`Store::damage`].
    pub fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }

    /// Damaged values the open found, without the audit's full read (for the operator at
    /// start; [`Store::damage`] reads the whole journal when the open did not).
    pub fn found_damage(&self) -> Vec<String> {
        self.damaged.0.clone()
    }

    /// Where the open's replay of the journal began (0: the whole journal) and how many records
    /// it read.
    pub fn replayed(&self) -> (u64, u64) {
        self.replayed
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for JournalStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        match self.try_apply(batch) {
            // An index block that does not verify: rebuilt from the journal, then once more.
            Err(Failed::Index(e)) => {
                self.rebuild(&e)?;
                self.try_apply(batch).map_err(Failed::into_store)
            }
            other => other.map_err(Failed::into_store),
        }?;
        // Bulk writes that seldom sync (an import) still keep the memtable bounded: the flush
        // syncs the journal itself before its manifest covers it.
        if self.read_index().mem.len() >= self.flush_at.saturating_mul(2) {
            self.flush(false);
        }
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
        if self.fdatasync().is_err() {
            // `fdatasync` has stopped the writes and said why.
            let why = lock(&self.writer).failed.clone().unwrap_or_default();
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
        // The index is derived: a flush that fails leaves it in memory, to be tried again.
        self.flush(false);
        Ok(())
    }

    fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let h = self.keyer.hash(&space.key(k));
        let once = || {
            // The read lock is held through the read, so disposal cannot punch the bytes under
            // it.
            let index = self.read_index();
            match index.lookup(h) {
                Ok(found) => Ok(found.map(|e| self.value(e)).transpose()?),
                Err(e) => Err(Failed::from(e)),
            }
        };
        match once() {
            Err(Failed::Index(e)) => {
                self.rebuild(&e)?;
                once().map_err(Failed::into_store)
            }
            other => other.map_err(Failed::into_store),
        }
    }

    fn damage(&self) -> Vec<String> {
        let (found, whole) = &self.damaged;
        if *whole {
            return found.clone();
        }
        let end = lock(&self.writer).end;
        self.damage_upto(end)
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let end = lock(&self.writer).end;
        recover::keys(&self.file, &self.path, end, space.prefix())
    }

    fn lists_cheaply(&self) -> bool {
        false
    }

    fn settle(&self) {
        self.settle_merges();
    }
}

impl JournalStore {
    /// The audit's read of the journal up to `end`. A value disposed of while it reads (its
    /// removal beyond `end`, its bytes punched) is not damage: what the index says once the
    /// read is over tells it apart — removed, or a punch still pending.
    fn damage_upto(&self, end: u64) -> Vec<String> {
        let kept = |key: &[u8], extent: Extent| {
            let pending = lock(&self.writer).punches.iter().any(|(_, p)| *p == extent);
            let found = self.read_index().lookup(self.keyer.hash(key));
            // A look-up that fails says nothing: the damage is reported.
            !pending && found.map_or(true, |f| f.is_some())
        };
        recover::damage_scan(&self.file, &self.path, end, &self.keyer, &kept)
    }

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
            let at = w.end;
            w.wrote(&rec, at);
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
        self.fdatasync().map_err(|e| StoreError::Io {
            what: format!("fdatasync {}", self.path.display()),
            source: e,
        })
    }
}

impl Drop for JournalStore {
    fn drop(&mut self) {
        // Nothing depends on this (every acknowledged write was synced already); it tightens
        // what the next open can tell apart, and destroys disposed bytes not yet destroyed; a
        // merge under way is waited for and named, or its file would be a stray.
        let _ = self.close();
        let mut m = lock(&self.flusher);
        self.settle_merge(&mut m, true);
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_index;
#[cfg(test)]
mod tests_review;
