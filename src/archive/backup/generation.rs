//! Writing one generation: the snapshot taken with filing paused, the append-only records and
//! chunks copied afterwards without any lock, and the rename that makes it count, done with
//! the writer lock held so that no disposal lands between its last check and the rename.

use super::files::{self, FileSum, Manifest};
use super::fresh::{self, Fresh};
use super::throttle::Throttle;
use super::{BackupError, Moment, Options, Summary};
use crate::archive::store::{Space, Store, StoreError};
use crate::archive::{Archive, ArchiveError};
use crate::verify::certificate::hex;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The record files every generation adds to (the append-only spaces), in restore order.
pub const APPENDED: [&str; 5] = [
    "log.kv",
    "receipts.kv",
    "access.kv",
    "checkpoints.kv",
    "blobs.kv",
];
const LOG: usize = 0;
const RECEIPTS: usize = 1;
const ACCESS: usize = 2;
const CHECKPOINTS: usize = 3;
const BLOBS: usize = 4;

/// What is read with filing paused: the overwritable index and the acts, at `size`.
struct Snapshot {
    size: u64,
    index: files::Records,
    acts: files::Records,
}

impl Archive {
    /// For a backup: with filing paused — this caller the group-commit leader, holding the
    /// writer lock and the store's turn — signs a checkpoint at the head unless one exists,
    /// runs `read` over the store at that size (with when the writer lock was taken), and
    /// syncs. Filing waits only for this.
    fn at_checkpoint<T>(
        &self,
        read: impl FnOnce(&dyn Store, u64, std::time::Instant) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let mut leader = self.lead(None);
        let mut state = self.settled()?;
        let held = std::time::Instant::now();
        let losses = self.store.losses();
        let out = {
            // The store's turn too, for as long as the reads: no other process writing the
            // store files meanwhile either, and the head is the stored one.
            let _turn = self.turn(&mut state)?;
            self.checkpoint_head(&state)?;
            read(self.store.as_ref(), state.size, held)
        };
        // The sync waits outside the turn (a store with turns commits the turn first); what
        // was read counts only once it is durable.
        self.store.sync()?;
        // A turn lost meanwhile (found by a thread staging chunks) may have been the one read
        // from: the sync answers for what is stored, not for what was read (`upto.rs`).
        if self.store.losses() != losses {
            return Err(ArchiveError::Store(StoreError::Unwritable(
                "a turn of this process was lost while the backup's snapshot was taken; \
                 back up again"
                    .into(),
            )));
        }
        if let Some(l) = leader.as_mut() {
            l.synced = Some(state.size);
        }
        drop(state);
        drop(leader);
        out
    }

    /// Makes a written generation count (`complete`: its rename into place) with the writer
    /// lock held, unless an entry from `from` on destroyed a document it keeps. A disposal is
    /// applied under the same lock, so it lands either before this check (the attempt starts
    /// over) or after the generation counts (the next generation records it): never between.
    fn complete_generation(
        &self,
        from: u64,
        live: &HashSet<&str>,
        complete: impl FnOnce() -> Result<(), BackupError>,
    ) -> Result<(), BackupError> {
        let mut state = self.settled()?;
        // In the store's turn, on the stored head: a disposal by another process counts too.
        let turn = self.turn(&mut state)?;
        if disposed_in(self, from, state.size, live)? {
            return Err(BackupError::Raced);
        }
        complete()?;
        drop(turn);
        drop(state);
        Ok(())
    }
}

fn whole_space(store: &dyn Store, space: Space) -> Result<files::Records, ArchiveError> {
    let mut out = Vec::new();
    for k in store.keys(space)? {
        if let Some(v) = store.get(space, &k)? {
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Whether an entry in `from..to` destroyed a document in `live`. A disposal's entry is
/// filed in the batch that destroys the bytes, so the log names every disposal since the
/// snapshot's checkpoint.
fn disposed_in(
    archive: &Archive,
    from: u64,
    to: u64,
    live: &HashSet<&str>,
) -> Result<bool, BackupError> {
    for i in from..to {
        if let Some(crate::archive::log::Entry {
            event: crate::archive::log::Event::Disposed { registration, .. },
            ..
        }) = archive.entry(i)?
            && live.contains(registration.as_str())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A record file being written, hashed on the way.
struct KvFile {
    rel: String,
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    sha: Sha256,
    len: u64,
}

impl KvFile {
    fn create(root: &Path, rel: String) -> Result<KvFile, BackupError> {
        let path = root.join(&rel);
        let f = std::fs::File::create_new(&path).map_err(files::io(&path))?;
        Ok(KvFile {
            rel,
            out: std::io::BufWriter::with_capacity(1 << 20, f),
            path,
            sha: Sha256::new(),
            len: 0,
        })
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
        let mut rec = Vec::with_capacity(8 + key.len() + value.len());
        files::put_record(&mut rec, key, value);
        self.sha.update(&rec);
        self.len += rec.len() as u64;
        self.out.write_all(&rec).map_err(files::io(&self.path))
    }

    fn finish(mut self) -> Result<FileSum, BackupError> {
        self.out.flush().map_err(files::io(&self.path))?;
        Ok(FileSum {
            path: self.rel,
            len: self.len,
            sha256: self.sha.finalize().into(),
        })
    }
}

/// The chunks a generation needs, and what copying them wrote.
struct Chunks {
    /// Every chunk the generation's documents need.
    names: Vec<[u8; 32]>,
    /// Chunk files written.
    written: u64,
    /// Their bytes.
    bytes: u64,
}

/// One attempt at a generation: where it is written and the bandwidth it may take.
struct Attempt<'a> {
    archive: &'a Archive,
    dir: &'a Path,
    prev: Option<&'a Manifest>,
    /// `gen-NNNNNN`.
    name: String,
    /// The temporary directory it is written into.
    tmp: PathBuf,
    /// The chunk files it created, to take back if it does not complete.
    fresh: Fresh,
    throttle: Throttle,
}

/// Writes the next generation after `prev` into `dir`, or fails leaving only a temporary
/// directory (which the next backup removes).
pub(super) fn write_generation(
    archive: &Archive,
    dir: &Path,
    prev: Option<&Manifest>,
    options: &Options,
    moment: &mut dyn FnMut(Moment),
) -> Result<Summary, BackupError> {
    let mut paused = std::time::Duration::ZERO;
    let snap = archive.at_checkpoint(|store, size, held| {
        let snap = Ok(Snapshot {
            size,
            index: whole_space(store, Space::Index)?,
            acts: whole_space(store, Space::Acts)?,
        });
        paused = held.elapsed();
        snap
    })?;
    let generation = prev.map_or(1, |p| p.generation + 1);
    let name = files::generation_dir(generation);
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(files::io(&tmp))?;
    let fresh = Fresh::create(dir, &name)?;
    let mut at = Attempt {
        archive,
        dir,
        prev,
        name,
        tmp,
        fresh,
        throttle: Throttle::new(options.max_rate),
    };
    let mut m = at.copy_appended(&snap)?;
    let chunks = at.copy_chunks(&m)?;
    m.chunks = chunks.names;
    moment(Moment::ChunksCopied);
    at.write_own(&snap, &mut m)?;
    let prefix = format!("{}/", at.name);
    let own = m.files.iter().filter(|f| f.path.starts_with(&prefix));
    let bytes = own.map(|f| f.len).sum::<u64>() + chunks.bytes;
    files::write_new(&at.tmp, "MANIFEST", m.text().as_bytes())?;
    // Everything, chunks included, is on disk before the name that makes it count appears:
    // one sync of the destination's file system, not an fsync per file (each of which would
    // force a journal commit of its own, in step with the store's).
    files::sync_fs(&at.tmp)?;
    at.complete(&snap, &m, moment)?;
    at.fresh.completed();
    Ok(Summary {
        generation,
        previous: prev.map(|p| p.generation),
        size: snap.size,
        entries: snap.size - prev.map_or(0, |p| p.size),
        chunks: chunks.written,
        bytes,
        disposed: m.disposed.len() as u64,
        paused_us: u64::try_from(paused.as_micros()).unwrap_or(u64::MAX),
    })
}

impl Attempt<'_> {
    fn rel(&self, file: &str) -> String {
        format!("{}/{file}", self.name)
    }

    /// Writes `key`/`value` into record file `i`, spending its bytes.
    fn put(
        &mut self,
        kv: &mut [KvFile],
        i: usize,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), BackupError> {
        self.throttle.spend((key.len() + value.len()) as u64);
        match kv.get_mut(i) {
            Some(f) => f.put(key, value),
            None => Ok(()),
        }
    }

    /// The generation's own files: the checkpoint covered, the service certificate, the index
    /// and the executed acts as of the snapshot.
    fn write_own(&mut self, snap: &Snapshot, m: &mut Manifest) -> Result<(), BackupError> {
        let note = self
            .archive
            .store()
            .get(Space::Checkpoints, &snap.size.to_be_bytes())
            .map_err(ArchiveError::from)?
            .ok_or_else(|| ArchiveError::Damaged("the checkpoint just signed is missing".into()))?;
        let cert = self.archive.signer().certificate().to_vec();
        for (name, bytes) in [("checkpoint.note", note), ("service.der", cert)] {
            let mut s = files::write_new(&self.tmp, name, &bytes)?;
            s.path = self.rel(name);
            m.files.push(s);
        }
        for (name, kvs) in [("index.kv", &snap.index), ("acts.kv", &snap.acts)] {
            let mut f = KvFile::create(&self.tmp, name.to_owned())?;
            for (k, v) in kvs {
                self.throttle.spend((k.len() + v.len()) as u64);
                f.put(k, v)?;
            }
            let mut s = f.finish()?;
            s.path = self.rel(name);
            m.files.push(s);
        }
        Ok(())
    }

    /// Renames the generation into place, last, unless a document it keeps was destroyed
    /// since its checkpoint (then [`BackupError::Raced`]: the attempt starts over). Most of
    /// the log since is scanned without the lock; only what was filed meanwhile, with it.
    fn complete(
        &self,
        snap: &Snapshot,
        m: &Manifest,
        moment: &mut dyn FnMut(Moment),
    ) -> Result<(), BackupError> {
        let live: HashSet<&str> = m.live.iter().map(|(r, _)| r.as_str()).collect();
        let scanned = self.archive.size();
        if disposed_in(self.archive, snap.size, scanned, &live)? {
            return Err(BackupError::Raced);
        }
        let done = self.dir.join(&self.name);
        self.archive.complete_generation(scanned, &live, || {
            moment(Moment::Completing);
            std::fs::rename(&self.tmp, &done).map_err(files::io(&done))
        })?;
        moment(Moment::Completed);
        // The generation counts from its rename on, whatever follows: an error now would tell
        // the caller it was not written (and a retry would write the next one). Syncing before
        // the rename would not make the rename itself durable, so a failed sync is a warning;
        // at worst a power cut loses this generation, and the next backup writes it again.
        if let Err(e) = files::sync_path(self.dir) {
            tracing::warn!(generation = %done.display(), error = %e,
                "the backup directory could not be synced after the generation was completed");
        }
        Ok(())
    }

    /// Copies the append-only spaces' new records (entries, their receipts, access records,
    /// checkpoints, new blob manifests) and works out the documents kept; returns the
    /// manifest so far, its files those of earlier generations and these.
    fn copy_appended(&mut self, snap: &Snapshot) -> Result<Manifest, BackupError> {
        let prev = self.prev;
        let index: BTreeMap<&[u8], &[u8]> = snap
            .index
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let access = index
            .get(crate::archive::access::HEAD_KEY)
            .and_then(|raw| crate::archive::access::decode_head(raw))
            .map_or(0, |(n, _)| n);
        let mut kv: Vec<KvFile> = APPENDED
            .iter()
            .map(|f| KvFile::create(&self.tmp, (*f).to_owned()))
            .collect::<Result<_, _>>()?;
        let mut live: BTreeMap<String, Vec<[u8; 32]>> = prev
            .map(|p| p.live.iter().cloned().collect())
            .unwrap_or_default();
        self.copy_entries(&mut kv, prev.map_or(0, |p| p.size), snap.size, &mut live)?;
        self.copy_access(&mut kv, prev.map_or(0, |p| p.access), access)?;
        self.copy_checkpoints(&mut kv, snap.size)?;
        // Destroyed as of the checkpoint: the snapshot's disposal records, not the store's now.
        let disposed: Vec<String> = live
            .keys()
            .filter(|r| index.contains_key(crate::archive::keys::disposed(r).as_slice()))
            .cloned()
            .collect();
        for r in &disposed {
            live.remove(r);
        }
        self.copy_blobs(&mut kv, &live)?;
        let mut files: Vec<FileSum> = prev
            .map(|p| {
                p.files
                    .iter()
                    .filter(|f| APPENDED.iter().any(|a| f.path.ends_with(&format!("/{a}"))))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for f in kv {
            let mut s = f.finish()?;
            s.path = self.rel(&s.path);
            files.push(s);
        }
        Ok(Manifest {
            generation: prev.map_or(1, |p| p.generation + 1),
            previous: prev.map(|p| p.generation),
            size: snap.size,
            access,
            files,
            chunks: Vec::new(),
            live: live.into_iter().collect(),
            disposed,
        })
    }

    /// Entries `from..to` and their receipts; the documents they accept join `live`.
    fn copy_entries(
        &mut self,
        kv: &mut [KvFile],
        from: u64,
        to: u64,
        live: &mut BTreeMap<String, Vec<[u8; 32]>>,
    ) -> Result<(), BackupError> {
        let archive = self.archive;
        // One reader of the dictionaries for the generation's receipts: each read once.
        let dictionaries = crate::archive::receipts::Dictionaries::default();
        for i in from..to {
            let bytes = archive
                .entry_bytes(i)?
                .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} missing")))?;
            let entry = crate::archive::log::Entry::decode(&bytes)
                .map_err(|e| ArchiveError::Damaged(format!("entry {i}: {e}")))?;
            self.put(kv, LOG, &i.to_be_bytes(), &bytes)?;
            if let Some(id) = entry.event.receipt_id() {
                let r = archive
                    .receipt_with(id, &dictionaries)?
                    .ok_or_else(|| ArchiveError::Damaged(format!("receipt {id} missing")))?;
                self.put(kv, RECEIPTS, id.as_bytes(), &r)?;
            }
            if let crate::archive::log::Event::Accepted { registration, .. } = &entry.event {
                // The document's files and the evidence kept with it, all destroyed with it.
                let names = entry
                    .event
                    .kept_blobs()
                    .filter_map(|f| crate::archive::checkpoint::unhex32(&f.sha256))
                    .collect();
                live.insert(registration.clone(), names);
            }
        }
        Ok(())
    }

    /// Access records `from..to`.
    fn copy_access(&mut self, kv: &mut [KvFile], from: u64, to: u64) -> Result<(), BackupError> {
        let store = self.archive.store();
        for i in from..to {
            let r = store
                .get(Space::Access, &i.to_be_bytes())
                .map_err(ArchiveError::from)?
                .ok_or_else(|| ArchiveError::Damaged(format!("access record {i} missing")))?;
            self.put(kv, ACCESS, &i.to_be_bytes(), &r)?;
        }
        Ok(())
    }

    /// Checkpoints after the previous generation's, up to `size`.
    fn copy_checkpoints(&mut self, kv: &mut [KvFile], size: u64) -> Result<(), BackupError> {
        let from = self.prev.map_or(0, |p| p.size.saturating_add(1));
        let archive = self.archive;
        archive.for_each_checkpoint(from..=size, &mut |n, note| {
            self.put(kv, CHECKPOINTS, &n.to_be_bytes(), &note)
        })
    }

    /// The blob manifests of the documents kept that the previous generation did not keep.
    fn copy_blobs(
        &mut self,
        kv: &mut [KvFile],
        live: &BTreeMap<String, Vec<[u8; 32]>>,
    ) -> Result<(), BackupError> {
        let had: HashSet<[u8; 32]> = self
            .prev
            .map(|p| p.live.iter().flat_map(|(_, b)| b.iter().copied()).collect())
            .unwrap_or_default();
        let blobs: BTreeSet<[u8; 32]> = live.values().flatten().copied().collect();
        for b in blobs.iter().filter(|b| !had.contains(*b)) {
            let raw = self
                .archive
                .store()
                .get(Space::Blobs, b)
                .map_err(ArchiveError::from)?
                .ok_or(BackupError::Raced)?;
            self.put(kv, BLOBS, b, &raw)?;
        }
        Ok(())
    }

    /// Copies the chunks of the documents kept that the previous generation did not have,
    /// checking each against its name. Without disposals since the previous generation, its
    /// chunks all remain and only the new documents' are looked up.
    fn copy_chunks(&mut self, m: &Manifest) -> Result<Chunks, BackupError> {
        let store = self.archive.store();
        let prev = self.prev;
        let had: HashSet<[u8; 32]> = prev
            .map(|p| p.chunks.iter().copied().collect())
            .unwrap_or_default();
        let mut need = BTreeSet::new();
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        if let Some(p) = prev.filter(|_| m.disposed.is_empty()) {
            need.extend(p.chunks.iter().copied());
            seen.extend(p.live.iter().flat_map(|(_, b)| b.iter().copied()));
        }
        for blob in m.live.iter().flat_map(|(_, b)| b) {
            if !seen.insert(*blob) {
                continue;
            }
            let (_, chunks) =
                crate::archive::blobs::manifest(store, blob).map_err(|e| match e {
                    crate::archive::blobs::BlobError::Missing(_) => BackupError::Raced,
                    other => ArchiveError::Damaged(other.to_string()).into(),
                })?;
            need.extend(chunks);
        }
        let (mut written, mut bytes) = (0, 0);
        // Recorded in the attempt's list, made durable, and only then renamed in: a batch at a
        // time, so that one fdatasync of the list covers many chunks.
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        let mut todo = need.iter().filter(|c| !had.contains(*c)).peekable();
        while let Some(c) = todo.next() {
            let packed = store
                .get(Space::Chunks, c)
                .map_err(ArchiveError::from)?
                .ok_or(BackupError::Raced)?;
            self.throttle.spend(packed.len() as u64);
            check_chunk(c, &packed)?;
            self.fresh.record(self.dir, c)?;
            written += 1;
            bytes += packed.len() as u64;
            batch_bytes += packed.len();
            batch.push((*c, packed));
            if batch.len() >= fresh::BATCH
                || batch_bytes >= fresh::BATCH_BYTES
                || todo.peek().is_none()
            {
                self.fresh.admit(self.dir, &self.tmp, &batch)?;
                batch.clear();
                batch_bytes = 0;
            }
        }
        Ok(Chunks {
            names: need.into_iter().collect(),
            written,
            bytes,
        })
    }
}

/// A chunk read from the store matches its name (a damaged one is not copied as good).
fn check_chunk(name: &[u8; 32], packed: &[u8]) -> Result<(), BackupError> {
    let raw = zstd::bulk::decompress(packed, crate::archive::blobs::CHUNK).map_err(|e| {
        ArchiveError::Damaged(format!("chunk {}: does not decompress: {e}", hex(name)))
    })?;
    if <[u8; 32]>::from(Sha256::digest(&raw)) != *name {
        return Err(ArchiveError::Damaged(format!(
            "chunk {} does not match its name: run tamga audit verify --full",
            hex(name)
        ))
        .into());
    }
    Ok(())
}
