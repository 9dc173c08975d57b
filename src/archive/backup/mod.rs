//! Backups that restore: a copy of everything a working archive needs, as of one signed
//! checkpoint, taken while the archive keeps filing; incremental from the previous copy.
//!
//! ```text
//! DIR/chunks/xx/<sha256>         documents' chunks as the store keeps them (zstd), named by
//!                                the SHA-256 of their raw bytes; shared by all generations
//! DIR/gen-000001/MANIFEST        the checkpoint's size, every file with its SHA-256, the
//!                                chunks and documents kept, what was destroyed since before
//!               checkpoint.note  the signed checkpoint covered
//!               service.der      the certificate that signs receipts and checkpoints
//!               log.kv …         entries, receipts, access records, checkpoints, blob
//!                                manifests (new since the previous generation); the index
//!                                and the executed acts (whole)
//! ```
//! How it stays consistent while `serve` files: the archive pauses filing just long enough to
//! sign a checkpoint at its head and read the overwritable index and the acts
//! ([`Archive::at_checkpoint`]); everything else is append-only up to that size and is read
//! afterwards without any lock. A document destroyed meanwhile (its chunks gone) makes the
//! attempt start over at a newer checkpoint.
//!
//! How it stays whole: a generation is written under a temporary name and renamed into place
//! only once every byte is synced; a chunk file appears under its name only complete. So a
//! backup killed at any moment leaves the previous generation as it was, and the next one
//! never counts the unfinished one (whose leftovers it removes). Older generations are the
//! operator's to expire: a generation names files of those before it, so remove a directory
//! only whole, after a full backup into a new one.

pub mod check;
pub mod files;
pub mod restore;
pub mod target;

use super::store::{Space, Store};
use super::{Archive, ArchiveError, lock};
use crate::verify::certificate::hex;
use files::{FileSum, Manifest};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a backup, its check or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the backup does not verify: the first one found.
    #[error("{}: {what}", file.display())]
    Bad {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The operation is refused as asked (a non-empty target, another archive's backup).
    #[error("{0}")]
    Refused(String),
    /// A document was destroyed while the backup read it: retried at a newer checkpoint.
    #[error("a document was destroyed while it was being copied")]
    Raced,
}

/// What a backup wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The generation's number.
    pub generation: u64,
    /// The generation it extends, if incremental.
    pub previous: Option<u64>,
    /// The checkpoint's tree size.
    pub size: u64,
    /// Entries copied in this generation.
    pub entries: u64,
    /// Chunk files written in this generation.
    pub chunks: u64,
    /// Bytes written in this generation.
    pub bytes: u64,
    /// Documents destroyed since the previous generation, left out of this one.
    pub disposed: u64,
    /// How long filing waited for the backup (signing and syncing the checkpoint, reading the
    /// index), in microseconds.
    pub paused_us: u64,
}

/// What is read with filing paused: the overwritable index and the acts, at `size`.
struct Snapshot {
    size: u64,
    index: files::Records,
    acts: files::Records,
}

impl Archive {
    /// For a backup: with filing paused — this caller the group-commit leader and holding the
    /// writer lock — signs and syncs a checkpoint at the head unless one exists, then runs
    /// `read` over the store at that size (with when the writer lock was taken). Filing waits
    /// only for this.
    fn at_checkpoint<T>(
        &self,
        read: impl FnOnce(&dyn Store, u64, std::time::Instant) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let mut leader = self.lead(None);
        let state = lock(&self.state);
        let held = std::time::Instant::now();
        self.checkpoint_head(state.size, state.frontier.root(), state.chain)?;
        self.store.sync()?;
        if let Some(l) = leader.as_mut() {
            l.synced = Some(state.size);
        }
        let out = read(self.store.as_ref(), state.size, held);
        drop(state);
        drop(leader);
        out
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

/// The newest complete generation in `dir` and its manifest, if any. Directories that are not
/// `gen-NNNNNN` (an unfinished one's temporary name) never count.
pub fn newest(dir: &Path) -> Result<Option<(u64, Manifest)>, BackupError> {
    let mut best = None;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(files::io(dir)(e)),
    };
    for e in rd {
        let name = e.map_err(files::io(dir))?.file_name();
        let n = name
            .to_str()
            .and_then(|s| s.strip_prefix("gen-"))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(n) = n.filter(|n| best.is_none_or(|b| *n > b)) {
            best = Some(n);
        }
    }
    match best {
        None => Ok(None),
        Some(n) => {
            let m = files::read_manifest(&dir.join(files::generation_dir(n)))?;
            Ok(Some((n, m)))
        }
    }
}

/// Takes a backup of `archive` into `dir` (created if needed): a full one into an empty
/// directory, an incremental one after the newest complete generation there. A directory
/// holding anything but tamga backups is refused (see [`target::claim`]).
pub fn write(archive: &Archive, dir: &Path) -> Result<Summary, BackupError> {
    write_with(archive, dir, &mut |_| {})
}

/// A moment in the writing of a generation, for tests to act at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The documents' chunks of an attempt are copied.
    ChunksCopied,
    /// The generation is about to be renamed into place (the writer lock held).
    Completing,
}

/// [`write`], running `moment` at each [`Moment`] of an attempt: for tests, to destroy a
/// document then.
pub fn write_with(
    archive: &Archive,
    dir: &Path,
    moment: &mut dyn FnMut(Moment),
) -> Result<Summary, BackupError> {
    target::claim(dir)?;
    let lock_path = dir.join("backup.lock");
    let lock_file = std::fs::File::create(&lock_path).map_err(files::io(&lock_path))?;
    lock_file.try_lock().map_err(|_| {
        BackupError::Refused("another backup is being written into the directory".into())
    })?;
    remove_unfinished(dir)?;
    let previous = newest(dir)?;
    if let Some((_, m)) = &previous {
        let own = dir
            .join(files::generation_dir(m.generation))
            .join("service.der");
        let cert = files::read_bounded(&own, 1 << 20)?;
        if cert != archive.signer().certificate() {
            return Err(BackupError::Refused(
                "the directory holds backups of another archive (another service certificate)"
                    .into(),
            ));
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write_generation(archive, dir, previous.as_ref().map(|p| &p.1), moment) {
            Err(BackupError::Raced) if attempt < 5 => remove_unfinished(dir)?,
            other => return other,
        }
    }
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
        if let Some(super::log::Entry {
            event: super::log::Event::Disposed { registration, .. },
            ..
        }) = archive.entry(i)?
            && live.contains(registration.as_str())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Archive {
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
        let state = lock(&self.state);
        if disposed_in(self, from, state.size, live)? {
            return Err(BackupError::Raced);
        }
        complete()?;
        drop(state);
        Ok(())
    }
}

/// Removes what a killed backup left: temporary generation directories.
fn remove_unfinished(dir: &Path) -> Result<(), BackupError> {
    for e in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let path = e.map_err(files::io(dir))?.path();
        let tmp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".tmp-"));
        if tmp {
            std::fs::remove_dir_all(&path).map_err(files::io(&path))?;
        }
    }
    Ok(())
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

/// The record files every generation adds to (the append-only spaces), in restore order.
pub const APPENDED: [&str; 5] = [
    "log.kv",
    "receipts.kv",
    "access.kv",
    "checkpoints.kv",
    "blobs.kv",
];

fn write_generation(
    archive: &Archive,
    dir: &Path,
    prev: Option<&Manifest>,
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
    let store = archive.store();
    let generation = prev.map_or(1, |p| p.generation + 1);
    let gen_name = files::generation_dir(generation);
    let tmp_name = format!(".tmp-{gen_name}-{}", std::process::id());
    let tmp = dir.join(&tmp_name);
    std::fs::create_dir(&tmp).map_err(files::io(&tmp))?;
    let from = prev.map_or(0, |p| p.size);
    let rel = |f: &str| format!("{gen_name}/{f}");
    let mut m = copy_appended(archive, &snap, prev, &tmp, &rel)?;
    let (chunks, chunk_bytes) = copy_chunks(store, dir, prev, &m)?;
    m.chunks = chunks;
    moment(Moment::ChunksCopied);
    let mut own = Vec::new();
    let note = store
        .get(Space::Checkpoints, &snap.size.to_be_bytes())
        .map_err(ArchiveError::from)?
        .ok_or_else(|| ArchiveError::Damaged("the checkpoint just signed is missing".into()))?;
    for (name, bytes) in [
        ("checkpoint.note", note),
        ("service.der", archive.signer().certificate().to_vec()),
    ] {
        let mut s = files::write_new(&tmp, name, &bytes)?;
        s.path = rel(name);
        own.push(s);
    }
    for (name, kvs) in [("index.kv", &snap.index), ("acts.kv", &snap.acts)] {
        let mut f = KvFile::create(&tmp, name.to_owned())?;
        for (k, v) in kvs {
            f.put(k, v)?;
        }
        let mut s = f.finish()?;
        s.path = rel(name);
        own.push(s);
    }
    m.files.extend(own);
    let prefix = format!("{gen_name}/");
    let bytes = m
        .files
        .iter()
        .filter(|f| f.path.starts_with(&prefix))
        .map(|f| f.len)
        .sum::<u64>()
        + chunk_bytes.1;
    let text = m.text();
    files::write_new(&tmp, "MANIFEST", text.as_bytes())?;
    // Everything, chunks included, is on disk before the name that makes it count appears.
    let chunks_dir = Some(dir.join("chunks")).filter(|d| d.is_dir());
    for path in chunk_bytes.2.iter().chain(&chunks_dir) {
        files::sync_path(path)?;
    }
    for f in std::fs::read_dir(&tmp).map_err(files::io(&tmp))? {
        files::sync_path(&f.map_err(files::io(&tmp))?.path())?;
    }
    files::sync_path(&tmp)?;
    // Last, just before the generation counts: a disposal executed after the checkpoint (even
    // after the document's chunks were copied) must not survive in it. Most of the log since
    // is scanned without the lock; only what was filed meanwhile, with it.
    let live: HashSet<&str> = m.live.iter().map(|(r, _)| r.as_str()).collect();
    let scanned = archive.size();
    if disposed_in(archive, snap.size, scanned, &live)? {
        return Err(BackupError::Raced);
    }
    let done = dir.join(&gen_name);
    archive.complete_generation(scanned, &live, || {
        moment(Moment::Completing);
        std::fs::rename(&tmp, &done).map_err(files::io(&done))
    })?;
    files::sync_path(dir)?;
    Ok(Summary {
        generation,
        previous: prev.map(|p| p.generation),
        size: snap.size,
        entries: snap.size - from,
        chunks: chunk_bytes.0,
        bytes,
        disposed: m.disposed.len() as u64,
        paused_us: u64::try_from(paused.as_micros()).unwrap_or(u64::MAX),
    })
}

/// Copies the append-only spaces' new records (entries, their receipts, access records,
/// checkpoints, new blob manifests) into `tmp` and works out the documents kept; returns the
/// manifest so far, its files those of earlier generations and these.
fn copy_appended(
    archive: &Archive,
    snap: &Snapshot,
    prev: Option<&Manifest>,
    tmp: &Path,
    rel: &dyn Fn(&str) -> String,
) -> Result<Manifest, BackupError> {
    let store = archive.store();
    let from = prev.map_or(0, |p| p.size);
    let index: BTreeMap<&[u8], &[u8]> = snap
        .index
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let access = index
        .get(super::access::HEAD_KEY)
        .and_then(|raw| super::access::decode_head(raw))
        .map_or(0, |(n, _)| n);
    let mut kv: Vec<KvFile> = APPENDED
        .iter()
        .map(|f| KvFile::create(tmp, (*f).to_owned()))
        .collect::<Result<_, _>>()?;
    let mut live: BTreeMap<String, Vec<[u8; 32]>> = prev
        .map(|p| p.live.iter().cloned().collect())
        .unwrap_or_default();
    for i in from..snap.size {
        let bytes = archive
            .entry_bytes(i)?
            .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} missing")))?;
        let entry = super::log::Entry::decode(&bytes)
            .map_err(|e| ArchiveError::Damaged(format!("entry {i}: {e}")))?;
        put(&mut kv, 0, &i.to_be_bytes(), &bytes)?;
        if let Some(id) = entry.event.receipt_id() {
            let r = archive
                .receipt(id)?
                .ok_or_else(|| ArchiveError::Damaged(format!("receipt {id} missing")))?;
            put(&mut kv, 1, id.as_bytes(), &r)?;
        }
        if let super::log::Event::Accepted {
            registration,
            files,
            ..
        } = &entry.event
        {
            let names = files
                .iter()
                .filter_map(|f| super::checkpoint::unhex32(&f.sha256))
                .collect();
            live.insert(registration.clone(), names);
        }
    }
    let from_access = prev.map_or(0, |p| p.access);
    for i in from_access..access {
        let r = store
            .get(Space::Access, &i.to_be_bytes())
            .map_err(ArchiveError::from)?
            .ok_or_else(|| ArchiveError::Damaged(format!("access record {i} missing")))?;
        put(&mut kv, 2, &i.to_be_bytes(), &r)?;
    }
    for k in store.keys(Space::Checkpoints).map_err(ArchiveError::from)? {
        let n = super::index_u64(Some(k.clone())).unwrap_or(u64::MAX);
        let new = n <= snap.size && (prev.is_none() || n > from);
        if let Some(v) = store
            .get(Space::Checkpoints, &k)
            .map_err(ArchiveError::from)?
            && new
        {
            put(&mut kv, 3, &k, &v)?;
        }
    }
    // Destroyed as of the checkpoint: the snapshot's disposal records, not the store's now.
    let disposed: Vec<String> = live
        .keys()
        .filter(|r| index.contains_key(super::keys::disposed(r).as_slice()))
        .cloned()
        .collect();
    for r in &disposed {
        live.remove(r);
    }
    let had: HashSet<[u8; 32]> = prev
        .map(|p| p.live.iter().flat_map(|(_, b)| b.iter().copied()).collect())
        .unwrap_or_default();
    let blobs: BTreeSet<[u8; 32]> = live.values().flatten().copied().collect();
    for b in blobs.iter().filter(|b| !had.contains(*b)) {
        let raw = store
            .get(Space::Blobs, b)
            .map_err(ArchiveError::from)?
            .ok_or(BackupError::Raced)?;
        put(&mut kv, 4, b, &raw)?;
    }
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
        s.path = rel(&s.path);
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

fn put(kv: &mut [KvFile], i: usize, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
    match kv.get_mut(i) {
        Some(f) => f.put(key, value),
        None => Ok(()),
    }
}

/// Chunks a generation needs, and (chunk files written, bytes written, the files and
/// directories to sync).
type Chunks = (Vec<[u8; 32]>, (u64, u64, Vec<PathBuf>));

/// Copies the chunks of the documents kept that the previous generation did not have,
/// checking each against its name. Without disposals since the previous generation, its
/// chunks all remain and only the new documents' are looked up.
fn copy_chunks(
    store: &dyn Store,
    dir: &Path,
    prev: Option<&Manifest>,
    m: &Manifest,
) -> Result<Chunks, BackupError> {
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
        let (_, chunks) = super::blobs::manifest(store, blob).map_err(|e| match e {
            super::blobs::BlobError::Missing(_) => BackupError::Raced,
            other => ArchiveError::Damaged(other.to_string()).into(),
        })?;
        need.extend(chunks);
    }
    let (mut n, mut bytes, mut written) = (0, 0, BTreeSet::new());
    for c in need.iter().filter(|c| !had.contains(*c)) {
        let packed = store
            .get(Space::Chunks, c)
            .map_err(ArchiveError::from)?
            .ok_or(BackupError::Raced)?;
        let raw = zstd::bulk::decompress(&packed, super::blobs::CHUNK).map_err(|e| {
            ArchiveError::Damaged(format!("chunk {}: does not decompress: {e}", hex(c)))
        })?;
        if <[u8; 32]>::from(Sha256::digest(&raw)) != *c {
            return Err(ArchiveError::Damaged(format!(
                "chunk {} does not match its name: run tamga audit verify --full",
                hex(c)
            ))
            .into());
        }
        files::write_chunk(dir, c, &packed)?;
        let path = dir.join(files::chunk_path(c));
        if let Some(parent) = path.parent() {
            written.insert(parent.to_path_buf());
        }
        written.insert(path);
        n += 1;
        bytes += packed.len() as u64;
    }
    Ok((
        need.into_iter().collect(),
        (n, bytes, written.into_iter().collect()),
    ))
}

/// Lowers the calling thread's scheduling priority (nice 10), so that a backup running beside
/// the service takes the CPU filing leaves: run the backup in a thread of its own, since a
/// thread's priority cannot be raised back without privilege. Best effort.
pub fn lower_priority() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
}
