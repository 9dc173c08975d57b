//! The store's side of the index: a batch checked against it and entered into the memtable,
//! the memtable flushed into a run, and the index rebuilt from the journal when a run no
//! longer verifies (the journal is the truth; the index is never repaired, only rebuilt).
//!
//! Locks are taken in one order: the flusher's manifest, then the writer, then the index.

use super::index::{self, Manifest};
use super::record::{self, Op};
use super::recover::{self, Extent};
use super::run::RunError;
use super::{JournalStore, lock};
use crate::archive::store::{Batch, Space, StoreError};
use std::sync::Arc;

/// Why a batch or a read failed: the store's own error, or an index block that did not verify
/// (which a rebuild cures).
pub(super) enum Failed {
    Store(StoreError),
    Index(RunError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

impl From<RunError> for Failed {
    /// Damage cures by a rebuild; an I/O error (EIO, EMFILE …) is the system's, not the
    /// index's: it is returned, or every read would rebuild the index under the writer lock.
    fn from(e: RunError) -> Self {
        if super::index::is_damage(&e) {
            Failed::Index(e)
        } else {
            Failed::Store(super::index_error(e))
        }
    }
}

impl Failed {
    pub(super) fn into_store(self) -> StoreError {
        match self {
            Failed::Store(e) => e,
            Failed::Index(e) => super::index_error(e),
        }
    }
}

/// A batch's puts: the full key, its hash, the value, and whether the value may change.
type Puts<'b> = Vec<(Vec<u8>, u128, &'b [u8], bool)>;
/// Its removals: the full key, its hash, and where its value lies.
type Removes = Vec<(Vec<u8>, u128, Extent)>;

impl JournalStore {
    /// Applies a batch: one record written, then its keys entered into the memtable.
    pub(super) fn try_apply(&self, batch: &Batch) -> Result<(), Failed> {
        let mut w = lock(&self.writer);
        if let Some(why) = &w.failed {
            return Err(StoreError::Unwritable(why.clone()).into());
        }
        let (puts, removes) = self.checked(batch)?;
        if puts.is_empty() && removes.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<'_>> = puts
            .iter()
            .map(|(key, _, value, _)| Op::Put { key, value })
            .chain(removes.iter().map(|(key, _, _)| Op::Remove { key }))
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
            return Err(StoreError::Unwritable(why).into());
        }
        w.wrote(&rec, start);
        let end = w.end;
        let mut index = self.write_index();
        let mut off = start + values_at as u64;
        let mut keep = Vec::with_capacity(puts.len());
        for (_, h, value, rewritable) in puts {
            let len = value.len() as u32; // encode bounds every value by u32
            let extent = Extent { off, len };
            index.mem.insert(h, Some(extent));
            // The next filing reads its counters back: from memory, not the file. Values
            // written once (entries, receipts, manifests) are kept only once read.
            if rewritable {
                keep.push((extent, value));
            }
            off += u64::from(len);
        }
        self.values.keep_all(keep);
        for (_, h, extent) in removes {
            // A tombstone: older runs may still hold the key.
            index.mem.insert(h, None);
            w.punches.push((end, extent));
        }
        w.unmarked = true;
        Ok(())
    }

    /// A batch's writes as the journal is to record them, each key hashed: the puts (with
    /// whether the value may be rewritten), less those of an append-only key that repeat its
    /// bytes; and the removals of keys present. An append-only key written with other bytes is
    /// refused ([`StoreError::Overwrite`]), as is a removal outside the disposable spaces.
    fn checked<'b>(&self, batch: &'b Batch) -> Result<(Puts<'b>, Removes), Failed> {
        let mut puts: Puts<'b> = Vec::with_capacity(batch.puts.len());
        let mut removes = Vec::new();
        let index = self.read_index();
        for (space, k, v) in &batch.puts {
            let key = space.key(k);
            let h = self.keyer.hash(&key);
            if space.append_only()
                && let Some(extent) = index.lookup(h).map_err(Failed::from)?
            {
                if self.value(extent)? != *v {
                    return Err(StoreError::Overwrite {
                        space: *space,
                        key: crate::verify::certificate::hex(k),
                    }
                    .into());
                }
                continue; // the same bytes again: nothing to write
            }
            puts.push((key, h, v.as_slice(), !space.append_only()));
        }
        for (space, k) in &batch.disposals {
            if !matches!(space, Space::Chunks | Space::Blobs) {
                return Err(StoreError::NotDisposable { space: *space }.into());
            }
            let key = space.key(k);
            let h = self.keyer.hash(&key);
            if let Some(extent) = index.lookup(h).map_err(Failed::from)? {
                removes.push((key, h, extent));
            }
        }
        Ok((puts, removes))
    }

    /// Writes the memtable into a run once it holds `flush_at` keys (any, with `force`), with
    /// the journal synced first so that the manifest covers only durable records; then installs
    /// a merge that finished and starts the next one due. Does nothing for a read-only store or
    /// while another flush runs. A failure leaves the keys in memory (merged back under newer
    /// writes) and a note, and is tried again at the next sync: the journal holds everything
    /// either way.
    pub(super) fn flush(&self, force: bool) {
        if self.read_only {
            return;
        }
        let Ok(mut m) = self.flusher.try_lock() else {
            return;
        };
        self.settle_merge(&mut m, false);
        if self.read_index().runs().len() >= index::MAX_RUNS / 2 {
            // Merging fell far behind: wait for it rather than name ever more runs (before the
            // memtable is taken, so readers never wait on a merge with it frozen).
            self.settle_merge(&mut m, true);
        }
        let (frozen, mut next) = {
            let w = lock(&self.writer);
            let mut t = self.write_index();
            // Forced: anything in memory, or runs no manifest names yet (a rebuild's).
            let unnamed = t.runs().iter().any(|r| !m.runs.contains(&r.id));
            let due = t.mem.len() >= self.flush_at || (force && (!t.mem.is_empty() || unnamed));
            let (Some(first), Some(last)) = (w.first, w.last) else {
                return;
            };
            if !due || w.failed.is_some() {
                return;
            }
            let next_table = index::Memtable::with_capacity(self.flush_at);
            let frozen = Arc::new(std::mem::replace(&mut t.mem, next_table));
            t.frozen = frozen.clone();
            // The manifest in memory moves only once the run and the manifest naming it are
            // on disk: a merge installed after a failed flush stores it again, and must not
            // claim to cover records whose keys are in no run.
            let mut next = (*m).clone();
            next.first = first;
            next.last = last;
            next.covered = w.end;
            (frozen, next)
        };
        let runs = self.read_index().runs().clone();
        // A failed fdatasync stops the writes (see `fdatasync`), not only this flush.
        let done = self.fdatasync().map_err(|e| e.to_string()).and_then(|()| {
            index::flush(&self.dir, &frozen, &runs, &mut next).map_err(|e| e.to_string())
        });
        // Run ids are never used twice, not even a failed flush's.
        m.next_id = m.next_id.max(next.next_id);
        let mut t = self.write_index();
        t.frozen = Arc::default();
        match done {
            Ok(list) => {
                *m = next;
                t.set_runs(list);
                drop(t);
                self.start_merge(&mut m);
            }
            Err(e) => {
                for (h, f) in frozen.iter() {
                    t.mem.insert_if_absent(h, f);
                }
                lock(&self.notes).push(format!(
                    "{}: the index could not be written ({e}); it is kept in memory and \
                     written again at the next sync",
                    self.path.display()
                ));
            }
        }
    }

    /// Starts merging the newest runs on a thread of its own, when due and none runs.
    fn start_merge(&self, m: &mut Manifest) {
        let mut merging = lock(&self.merging);
        if merging.is_some() {
            return;
        }
        let runs = self.read_index().runs().clone();
        let k = index::merge_due(&runs);
        let Some(inputs) = runs.get(..k).filter(|_| k >= 2) else {
            return;
        };
        let id = m.next_id;
        m.next_id += 1;
        *merging = Some(index::Merge::start(
            &self.dir,
            inputs.to_vec(),
            id,
            k == runs.len(),
        ));
    }

    /// Installs a merge that has finished (waiting for it, with `wait`): the manifest names the
    /// merged run instead of its inputs, then their files go. A merge that failed only leaves
    /// the runs as they were (its partial file is deleted).
    pub(super) fn settle_merge(&self, m: &mut Manifest, wait: bool) {
        let job = {
            let mut merging = lock(&self.merging);
            match merging.take() {
                Some(job) if wait || job.thread.is_finished() => job,
                other => {
                    *merging = other;
                    return;
                }
            }
        };
        let index::Merge { inputs, id, thread } = job;
        let merged = match thread.join() {
            Ok(Ok(run)) => Arc::new(run),
            _ => {
                let _ = std::fs::remove_file(super::run::path(&self.dir, id));
                return;
            }
        };
        let runs = self.read_index().runs().clone();
        let Some(list) = index::Merge::replace(&inputs, &runs, merged) else {
            let _ = std::fs::remove_file(super::run::path(&self.dir, id));
            return;
        };
        // As in a flush: the manifest in memory moves once the new one is on disk.
        let mut next = m.clone();
        match index::commit(&self.dir, &mut next, &list, &inputs) {
            Ok(()) => {
                *m = next;
                self.write_index().set_runs(list);
            }
            Err(_) => {
                let _ = std::fs::remove_file(super::run::path(&self.dir, id));
            }
        }
    }

    /// Rebuilds the index from the whole journal after `why` (a run that no longer verifies):
    /// the runs are dropped, every record read again, and the result flushed.
    pub(super) fn rebuild(&self, why: &RunError) -> Result<(), StoreError> {
        {
            let mut m = lock(&self.flusher);
            // A merge of the runs about to be dropped is of no use: finished, then discarded.
            if let Some(job) = lock(&self.merging).take() {
                let _ = job.thread.join();
            }
            let w = lock(&self.writer);
            let mut t = self.write_index();
            // The journal is read again whole, its index spilled into new runs as it goes.
            // A read-only store writes nothing in its directory: its runs go to a temporary one
            // (unlinked once read, see `JournalStore::read`).
            let tmp = match self.read_only {
                true => Some(tempfile::tempdir().map_err(|e| StoreError::Io {
                    what: "a temporary directory".into(),
                    source: e,
                })?),
                false => None,
            };
            let spill_dir = tmp.as_ref().map_or(self.dir.as_path(), |t| t.path());
            let spiller = index::Spiller::new(spill_dir, self.flush_at, m.next_id);
            let base = |h| spiller.lookup(h).map_err(super::index_error);
            let from = recover::From {
                at: 0,
                base: Some(&base),
                keyer: &self.keyer,
                spill: Some(&spiller),
            };
            // Read-only: the journal itself is sound up to `end`; nothing is cut or moved.
            let rec = match recover::recover(&self.file, &self.path, true, &from) {
                Ok(rec) if rec.end == w.end => rec,
                read => {
                    // The journal no longer reads whole up to where it was written (a cut):
                    // an index of less than it holds would lose keys. The old tables stay.
                    recover::Spill::restart(&spiller);
                    return Err(read.err().unwrap_or_else(|| {
                        StoreError::Damaged(format!(
                            "{}: the index no longer verified ({why}), and the journal no \
                             longer reads whole up to byte {}: not rebuilt",
                            self.path.display(),
                            w.end
                        ))
                    }));
                }
            };
            let (runs, next_id) = spiller.into_runs();
            t.mem = rec.index;
            t.frozen = Arc::default();
            t.set_runs(runs);
            *m = Manifest::new(self.keyer.clone());
            m.next_id = next_id;
            drop(w);
            lock(&self.notes).push(format!(
                "{}: the index no longer verified ({why}); it was rebuilt from the whole journal",
                self.path.display()
            ));
        }
        // The rebuilt index is named, and the stale runs, no longer named, go.
        self.flush(true);
        self.remove_strays();
        Ok(())
    }

    /// Deletes run files nothing needs: kept are those the manifest names, those in force (a
    /// rebuild's spilled runs stay unnamed while a flush fails, and are read meanwhile), and
    /// the output of a merge under way, which its thread may be writing, or has written and
    /// not yet installed (the flusher's lock is held, so no merge starts meanwhile).
    pub(super) fn remove_strays(&self) {
        if self.read_only {
            return;
        }
        let m = lock(&self.flusher);
        let mut keep = m.runs.clone();
        keep.extend(lock(&self.merging).as_ref().map(|job| job.id));
        keep.extend(self.read_index().runs().iter().map(|r| r.id));
        index::remove_strays(&self.dir, &keep);
    }

    /// Waits for merging to finish and installs it, merging on while more is due.
    pub(super) fn settle_merges(&self) {
        let mut m = lock(&self.flusher);
        loop {
            self.settle_merge(&mut m, true);
            self.start_merge(&mut m);
            if lock(&self.merging).is_none() {
                return;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn tables(&self) -> std::sync::RwLockReadGuard<'_, index::Tables> {
        self.read_index()
    }
}
