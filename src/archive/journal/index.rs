//! The journal's index on disk: derived from the journal, checkpointed, never trusted blindly.
//!
//! The journal is the write-ahead log and the one source of truth; the index only says where
//! each key's latest value lies in it. Keys are hashed (SHA-256 under a random salt of the
//! store's own, cut to 128 bits: two of 10^9 keys collide with odds below 10^-20, and nobody
//! without the salt can aim at a collision) so entries are fixed-size. Three layers, newest
//! first, each overriding the older:
//!
//! - the memtable: what was written since the last flush, in memory (bounded: a flush every
//!   [`FLUSH_AT`] keys);
//! - the frozen memtable, while a flush writes it out;
//! - sorted runs on disk (`run.rs`), merged as they pile up on a thread of their own (a binary
//!   counter: about log2(n / FLUSH_AT) runs, each entry rewritten as often), so a look-up costs
//!   at most one block read per run and no writer waits for a merge.
//!
//! A flush syncs the journal first, writes and syncs the new run, then replaces the manifest
//! (`tamga.index`: salt, journal identity, covered offset, the runs) by an atomic rename. A
//! crash anywhere in between leaves the old manifest, over which replaying the journal from its
//! covered offset gives the same answer (re-inserting a key's slot is idempotent), and at worst
//! a run file no manifest names, deleted at the next open. A manifest that does not verify,
//! names another journal, covers more than the journal holds, or names a run whose footer does
//! not verify is not repaired: the index is rebuilt from the whole journal, and a note says so.

use super::memo::Memo;
pub use super::memtable::Memtable;
use super::record::Reader;
use super::recover::{Extent, Found};
use super::run::{self, Run, RunError};
use super::stats;
use crate::archive::store::StoreError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// The manifest's file name inside the store directory (runs are `tamga.index.<n>`).
pub const FILE: &str = "tamga.index";
/// Keys in the memtable at which a sync flushes it into a run: about 23,000 filings' worth,
/// 8 MiB on disk, a few tens of MiB of memory at most.
pub const FLUSH_AT: usize = 1 << 18;
const MAGIC: [u8; 4] = *b"TIX1";
/// Runs a manifest may name: far more than the ≈ log2(n / FLUSH_AT) merging keeps; writers
/// wait for a merge before more pile up.
pub const MAX_RUNS: usize = 256;

/// Hashes full keys (space prefix included) under the store's salt.
#[derive(Debug, Clone)]
pub struct Keyer {
    salt: [u8; 16],
}

impl Keyer {
    /// A new salt from the system's random source; without one no store is opened: a
    /// guessable salt would let senders aim key hashes at one slot of the memtable.
    pub fn random() -> Result<Keyer, StoreError> {
        use ring::rand::SecureRandom;
        let mut salt = [0; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| StoreError::Io {
                what: "drawing the journal index's salt".into(),
                source: std::io::Error::other("the system's random source failed"),
            })?;
        Ok(Keyer { salt })
    }

    /// A key's hash.
    pub fn hash(&self, key: &[u8]) -> u128 {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(key);
        let full: [u8; 32] = h.finalize().into();
        let (head, _) = full.split_first_chunk::<16>().unwrap_or((&[0; 16], &[]));
        u128::from_be_bytes(*head)
    }
}

/// The index's header: what it covers of which journal, and its runs.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The key hasher's salt.
    pub keyer: Keyer,
    /// The journal's first record's checksum: which journal this index was built from.
    pub first: [u8; 32],
    /// The journal offset up to which every record is in the runs.
    pub covered: u64,
    /// The last covered record's offset and checksum (it must end at `covered`).
    pub last: (u64, [u8; 32]),
    /// Run ids, newest first.
    pub runs: Vec<u64>,
    /// The next run id to use.
    pub next_id: u64,
}

impl Manifest {
    /// An empty manifest for a new index under `keyer`.
    pub fn new(keyer: Keyer) -> Manifest {
        Manifest {
            keyer,
            first: [0; 32],
            covered: 0,
            last: (0, [0; 32]),
            runs: Vec::new(),
            next_id: 0,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + 8 * self.runs.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.keyer.salt);
        out.extend_from_slice(&self.first);
        out.extend_from_slice(&self.covered.to_be_bytes());
        out.extend_from_slice(&self.last.0.to_be_bytes());
        out.extend_from_slice(&self.last.1);
        out.extend_from_slice(&self.next_id.to_be_bytes());
        out.extend_from_slice(&(self.runs.len() as u32).to_be_bytes());
        for id in &self.runs {
            out.extend_from_slice(&id.to_be_bytes());
        }
        let sum: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&sum);
        out
    }

    fn decode(raw: &[u8]) -> Option<Manifest> {
        let (body, sum) = raw.split_at_checked(raw.len().checked_sub(32)?)?;
        if Sha256::digest(body).as_slice() != sum {
            return None;
        }
        let mut r = Reader(body);
        if r.take::<4>()? != MAGIC {
            return None;
        }
        let salt = r.take::<16>()?;
        let first = r.take::<32>()?;
        let covered = u64::from_be_bytes(r.take()?);
        let last = (u64::from_be_bytes(r.take()?), r.take::<32>()?);
        let next_id = u64::from_be_bytes(r.take()?);
        let count = u32::from_be_bytes(r.take()?) as usize;
        if count > MAX_RUNS {
            return None;
        }
        let runs = (0..count)
            .map(|_| r.take().map(u64::from_be_bytes))
            .collect::<Option<Vec<_>>>()?;
        r.0.is_empty().then_some(Manifest {
            keyer: Keyer { salt },
            first,
            covered,
            last,
            runs,
            next_id,
        })
    }

    /// Replaces the manifest in `dir`: a temporary file synced, renamed over, the directory
    /// synced — so a crash leaves either the old manifest or the new one, whole.
    fn store(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(&self.encode())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(FILE))?;
        File::open(dir)?.sync_all()
    }
}

/// The index as loaded at open.
pub enum Loaded {
    /// No manifest: a new store, or one whose index was never flushed.
    Missing,
    /// A manifest and runs that verify against the journal.
    Valid(Manifest, Vec<Arc<Run>>),
    /// Something did not verify: why, in a sentence (the index is then rebuilt).
    Invalid(String),
}

/// Whether an error reading a run says the index is damaged (a rebuild cures it): a block or
/// footer that does not verify, a file shorter than it says, or a named run that is gone.
/// Other I/O errors are the system's and are returned as they are.
pub fn is_damage(e: &RunError) -> bool {
    match e {
        RunError::Damaged { .. } => true,
        RunError::Io { source, .. } => is_damage_io(source),
    }
}

/// See [`is_damage`].
pub fn is_damage_io(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::NotFound
    )
}

/// Loads the manifest in `dir` and its runs and checks them against `journal` (of length
/// `len`): the same first record, and the last covered record where the manifest says. An I/O
/// error other than damage (see [`is_damage`]) fails the open instead of a rebuild.
pub fn load(dir: &Path, journal: &File, len: u64) -> Result<Loaded, StoreError> {
    let path = dir.join(FILE);
    let raw = match std::fs::read(&path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => {
            return Err(StoreError::Io {
                what: format!("{}", path.display()),
                source: e,
            });
        }
    };
    check(dir, journal, len, &raw)
}

/// [`load`] past reading the manifest's bytes.
fn check(dir: &Path, journal: &File, len: u64, raw: &[u8]) -> Result<Loaded, StoreError> {
    let Some(m) = Manifest::decode(raw) else {
        return Ok(Loaded::Invalid("it does not match its checksum".into()));
    };
    if m.covered > len {
        return Ok(Loaded::Invalid(format!(
            "it covers {} bytes of a journal of {len}",
            m.covered
        )));
    }
    let header_at = |at: u64| {
        let mut raw = [0; super::record::HEADER];
        journal.read_exact_at(&mut raw, at).ok()?;
        super::record::Header::parse(raw)
    };
    let first = header_at(0).map(|h| h.sum());
    let last = header_at(m.last.0).filter(|h| m.last.0 + h.record_len() == m.covered);
    if first != Some(m.first) || last.map(|h| h.sum()) != Some(m.last.1) {
        return Ok(Loaded::Invalid(
            "it was built from another journal than this one".into(),
        ));
    }
    let mut runs = Vec::with_capacity(m.runs.len());
    for id in &m.runs {
        match Run::open(dir, *id) {
            Ok(r) => runs.push(Arc::new(r)),
            Err(e) if is_damage(&e) => return Ok(Loaded::Invalid(e.to_string())),
            Err(e) => return Err(super::index_error(e)),
        }
    }
    Ok(Loaded::Valid(m, runs))
}

/// The lowest run id above every run file in `dir` (0 when there is none): a new index
/// numbers its runs from here, so that no run of an older one — named by a manifest whose
/// removal a crash undid — is ever overwritten by a run hashed under another salt.
pub fn first_free_id(dir: &Path) -> std::io::Result<u64> {
    let prefix = format!("{FILE}.");
    let mut free = 0;
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u64>().ok())
        {
            free = free.max(id.saturating_add(1));
        }
    }
    Ok(free)
}

#[cfg(test)]
thread_local! {
    /// Tests: the next [`discard`] on this thread fails.
    pub static FAIL_DISCARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Removes the manifest in `dir` for good (it did not verify), the directory synced: a
/// manifest that came back after a crash would name runs a new index may have replaced.
pub fn discard(dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    if FAIL_DISCARD.with(|f| f.replace(false)) {
        return Err(std::io::Error::other(
            "injected failure to remove the manifest",
        ));
    }
    match std::fs::remove_file(dir.join(FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    File::open(dir)?.sync_all()
}

/// Deletes run files in `dir` whose ids are not in `keep` (left by a flush a crash interrupted,
/// or by an index that was rebuilt). Failures only leave files behind.
pub fn remove_strays(dir: &Path, keep: &[u64]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{FILE}.");
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let named = rest.parse::<u64>().is_ok_and(|id| keep.contains(&id));
        if !named {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The index's layers, newest first.
#[derive(Debug, Default)]
pub struct Tables {
    /// Written since the last flush.
    pub mem: Memtable,
    /// Being flushed (empty otherwise).
    pub frozen: Arc<Memtable>,
    /// On disk, newest first (replaced only through [`Tables::set_runs`]).
    runs: Arc<Vec<Arc<Run>>>,
    /// What the runs said of recently asked hashes (`memo.rs`), cleared when they change.
    memo: Memo,
    /// Tests: look-ups fail with this I/O error kind (a disk that reports EIO, no descriptors).
    #[cfg(test)]
    pub fail_io: Option<std::io::ErrorKind>,
}

impl Tables {
    /// The layers of an opened index: `mem` over `runs` (newest first).
    pub fn new(mem: Memtable, runs: Vec<Arc<Run>>) -> Tables {
        Tables {
            mem,
            runs: Arc::new(runs),
            ..Tables::default()
        }
    }

    /// The runs in force, newest first.
    pub fn runs(&self) -> &Arc<Vec<Arc<Run>>> {
        &self.runs
    }

    /// Puts `runs` in force (a flush, a merge or a rebuild), forgetting what the old ones said.
    pub fn set_runs(&mut self, runs: Vec<Arc<Run>>) {
        self.runs = Arc::new(runs);
        self.memo.clear();
    }

    /// Where hash `h`'s live value lies; `None` when absent or removed.
    pub fn lookup(&self, h: u128) -> Result<Option<Extent>, RunError> {
        #[cfg(test)]
        if let Some(kind) = self.fail_io {
            return Err(RunError::Io {
                path: FILE.into(),
                source: kind.into(),
            });
        }
        stats::bump(&stats::LOOKUPS);
        if let Some(found) = self.mem.get(h).or_else(|| self.frozen.get(h)) {
            stats::bump(&stats::IN_MEMORY);
            return Ok(found);
        }
        if let Some(found) = self.memo.get(h) {
            stats::bump(&stats::MEMO_HITS);
            return Ok(found);
        }
        // Only the runs' answers are timed: reading the clock twice would cost more than a
        // memtable's answer.
        let start = std::time::Instant::now();
        let found = Self::in_runs(&self.runs, h);
        stats::add(&stats::LOOKUP_NANOS, start.elapsed().as_nanos() as u64);
        // Kept under the read lock this look-up holds (`&self`): no flush comes between.
        if let Ok(found) = found {
            self.memo.put(h, found);
        }
        found
    }

    /// What the runs alone say of `h`.
    pub fn in_runs(runs: &[Arc<Run>], h: u128) -> Result<Option<Extent>, RunError> {
        for run in runs {
            if let Some(found) = run.get(h)? {
                return Ok(found);
            }
        }
        stats::bump(&stats::ABSENT);
        Ok(None)
    }
}

/// Writes `frozen` as run `m.next_id` ahead of `runs` and stores `m` naming the result (its
/// `covered`, `first` and `last` set by the caller, with the journal synced that far). Returns
/// the runs now in force.
pub fn flush(
    dir: &Path,
    frozen: &Memtable,
    runs: &[Arc<Run>],
    m: &mut Manifest,
) -> Result<Vec<Arc<Run>>, RunError> {
    let id = m.next_id;
    let mut list = Vec::with_capacity(runs.len() + 1);
    if !frozen.is_empty() {
        m.next_id += 1;
        let entries = frozen.sorted().into_iter().map(Ok);
        let filter = frozen.len() as u64;
        list.push(Arc::new(run::write(dir, id, entries, filter)?));
    }
    list.extend(runs.iter().cloned());
    m.runs = list.iter().map(|r| r.id).collect();
    if let Err(e) = m.store(dir) {
        let _ = std::fs::remove_file(run::path(dir, id));
        return Err(RunError::Io {
            path: dir.join(FILE),
            source: e,
        });
    }
    Ok(list)
}

/// How many of the newest runs to merge into one (0: none yet). A binary counter: the newest
/// runs merge while the next older one is not much bigger than they are together, so runs grow
/// geometrically, a look-up reads about log2(n / FLUSH_AT) of them, and each entry is
/// rewritten about as often.
pub fn merge_due(runs: &[Arc<Run>]) -> usize {
    let mut sum = 0u64;
    let mut k = 0;
    for (i, r) in runs.iter().enumerate() {
        if i > 0 && r.entries > sum.saturating_mul(3) / 2 {
            break;
        }
        sum = sum.saturating_add(r.entries);
        k = i + 1;
    }
    if k >= 2 { k } else { 0 }
}

/// The keys a merge's filter is sized for: at most what its inputs hold. The oldest run has
/// one too: a new key is absent from every run, and without it cost a block read of the
/// oldest (the biggest) on every write (`bloom.rs`).
fn filter_for(inputs: &[Arc<Run>]) -> u64 {
    inputs.iter().map(|r| r.entries).sum()
}

/// A merge of the newest runs into one, done apart from the writers.
#[derive(Debug)]
pub struct Merge {
    /// The runs merged (contiguous and newest-first in the list when the merge began).
    pub inputs: Vec<Arc<Run>>,
    /// The merged run's id.
    pub id: u64,
    /// The merging thread.
    pub thread: std::thread::JoinHandle<Result<Run, RunError>>,
}

impl Merge {
    /// Starts merging `inputs` into run `id` on a thread of its own; `bottom` when nothing
    /// older remains (tombstones are then dropped).
    pub fn start(dir: &Path, inputs: Vec<Arc<Run>>, id: u64, bottom: bool) -> Merge {
        let dir = dir.to_path_buf();
        let those = inputs.clone();
        let filter = filter_for(&inputs);
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let run = run::write(&dir, id, run::merge(&those, bottom), filter);
            if let Ok(r) = &run {
                stats::bump(&stats::MERGES);
                stats::add(&stats::MERGED_ENTRIES, r.entries);
                stats::add(&stats::MERGE_MICROS, start.elapsed().as_micros() as u64);
            }
            run
        });
        Merge { inputs, id, thread }
    }

    /// The list with the merged run in place of its inputs; `None` when they are no longer
    /// all there (a rebuild replaced them).
    pub fn replace(
        inputs: &[Arc<Run>],
        runs: &[Arc<Run>],
        merged: Arc<Run>,
    ) -> Option<Vec<Arc<Run>>> {
        let ids: Vec<u64> = inputs.iter().map(|r| r.id).collect();
        let at = runs.iter().position(|r| Some(&r.id) == ids.first())?;
        let window = runs.get(at..at + ids.len())?;
        if window.iter().map(|r| r.id).ne(ids.iter().copied()) {
            return None;
        }
        let mut list = runs.to_vec();
        list.splice(at..at + ids.len(), [merged]);
        Some(list)
    }
}

/// Stores `m` naming `list` (after a merge); deletes the files of `gone` once it no longer
/// names them.
pub fn commit(
    dir: &Path,
    m: &mut Manifest,
    list: &[Arc<Run>],
    gone: &[Arc<Run>],
) -> std::io::Result<()> {
    m.runs = list.iter().map(|r| r.id).collect();
    m.store(dir)?;
    for r in gone {
        if !m.runs.contains(&r.id) {
            let _ = std::fs::remove_file(run::path(dir, r.id));
        }
    }
    Ok(())
}

/// The runs a rebuild writes as it reads the journal ([`super::recover::Spill`]): every
/// `at` keys one run, merged as flushes merge (here, at once), named by no manifest until the
/// open's first flush.
#[derive(Debug)]
pub struct Spiller<'a> {
    dir: &'a Path,
    at: usize,
    /// Runs written so far (newest first) and the next run id.
    state: std::sync::Mutex<(Vec<Arc<Run>>, u64)>,
}

impl<'a> Spiller<'a> {
    /// Spills every `at` keys into runs in `dir`, numbered from `next_id`.
    pub fn new(dir: &'a Path, at: usize, next_id: u64) -> Spiller<'a> {
        Spiller {
            dir,
            at: at.max(1),
            state: std::sync::Mutex::new((Vec::new(), next_id)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (Vec<Arc<Run>>, u64)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the spilled runs say of `h`.
    pub fn lookup(&self, h: u128) -> Result<Found, RunError> {
        Tables::in_runs(&self.state().0, h)
    }

    /// The runs written (newest first) and the next run id.
    pub fn into_runs(self) -> (Vec<Arc<Run>>, u64) {
        self.state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl super::recover::Spill for Spiller<'_> {
    fn spill(&self, index: &mut Memtable) -> Result<(), crate::archive::store::StoreError> {
        if index.len() < self.at {
            return Ok(());
        }
        let mut state = self.state();
        let (runs, next_id) = &mut *state;
        let id = *next_id;
        *next_id += 1;
        let filter = index.len() as u64;
        let run = run::write(self.dir, id, index.sorted().into_iter().map(Ok), filter)
            .map_err(super::index_error)?;
        index.clear();
        runs.insert(0, Arc::new(run));
        loop {
            let k = merge_due(runs);
            if k < 2 {
                return Ok(());
            }
            let id = *next_id;
            *next_id += 1;
            let inputs: Vec<Arc<Run>> = runs.drain(..k).collect();
            let bottom = runs.is_empty();
            let filter = filter_for(&inputs);
            let merged = run::write(self.dir, id, run::merge(&inputs, bottom), filter)
                .map_err(super::index_error)?;
            for r in inputs {
                let _ = std::fs::remove_file(run::path(self.dir, r.id));
            }
            runs.insert(0, Arc::new(merged));
        }
    }

    fn restart(&self) {
        let mut state = self.state();
        for r in state.0.drain(..) {
            let _ = std::fs::remove_file(run::path(self.dir, r.id));
        }
    }
}
