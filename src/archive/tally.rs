//! Per-case and per-chunk indexes, so that no retention question reads the whole archive:
//! each case's tally (documents filed, kept, their bytes and dates) and each blob's and
//! chunk's reference count ("is this chunk still referenced?").
//!
//! They are a function of the log's events and nothing else: [`Txn::push`] notes every
//! accepted and disposed document, and [`settle`] folds those notes into the index in the same
//! batch as the entries, so the index and the log never disagree in a store that applies
//! batches atomically. An archive from before these indexes gets them built once ([`ensure`]),
//! and `audit verify` recomputes them from the entries ([`check`]), so an edited index is named.
//!
//! Counting units: a blob is referenced once per file reference of every kept document (a
//! document's signature and its content each count); a chunk once per kept blob whose
//! manifest names it, however often that manifest repeats it.

use super::audit::{AuditFailure, fail};
use super::log::{Entry, Event};
use super::store::{Space, Store};
use super::{ArchiveError, Txn, index_u64, keys};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The indexes' layout version; an archive whose stored version differs gets them rebuilt.
const VERSION: u64 = 1;

/// One case's documents, as the retention plan needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTally {
    /// Documents ever registered in the case (its last registration number).
    pub filed: u64,
    /// Of them, those not destroyed.
    pub kept: u64,
    /// The kept documents' bytes.
    pub bytes: u64,
    /// The kept documents' earliest registration date, `YYYY-MM-DD`.
    pub first: Option<String>,
    /// Their latest.
    pub last: Option<String>,
}

impl CaseTally {
    /// Counts one more kept document of `date` and `bytes`.
    fn add(&mut self, date: &str, bytes: u64) {
        self.kept += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.first.as_deref().is_none_or(|f| date < f) {
            self.first = Some(date.to_owned());
        }
        if self.last.as_deref().is_none_or(|l| date > l) {
            self.last = Some(date.to_owned());
        }
    }
}

/// A document accepted in the batch being built.
#[derive(Debug, Clone)]
struct Filed {
    case: String,
    date: String,
    /// (SHA-256 hex, size) of each kept file.
    files: Vec<(String, u64)>,
    /// SHA-256 hex of each evidence blob: referenced like the files, but shared evidence is
    /// not the case's bytes.
    evidence: Vec<String>,
}

/// What the batch being built changes in the indexes, noted as its entries are pushed.
#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    filed: Vec<Filed>,
    /// (registration number, case) of each document destroyed.
    disposed: Vec<(String, String)>,
}

impl Pending {
    /// Notes an entry's event (only accepted and disposed documents change the indexes).
    pub(super) fn note(&mut self, event: &Event) {
        match event {
            Event::Accepted {
                case,
                registration_date,
                files,
                evidence,
                ..
            } => self.filed.push(Filed {
                case: case.clone(),
                date: registration_date.clone(),
                files: files.iter().map(|f| (f.sha256.clone(), f.size)).collect(),
                evidence: evidence.iter().map(|f| f.sha256.clone()).collect(),
            }),
            Event::Disposed {
                registration, case, ..
            } => self.disposed.push((registration.clone(), case.clone())),
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.filed.is_empty() && self.disposed.is_empty()
    }
}

/// Blobs and chunks that a settled batch left unreferenced: a disposal destroys exactly these.
#[derive(Debug, Default)]
pub struct Released {
    /// Blob names (manifests) no kept document names any more.
    pub blobs: Vec<[u8; 32]>,
    /// Chunks no kept blob names any more.
    pub chunks: Vec<[u8; 32]>,
}

impl Released {
    /// Whether nothing was released.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty() && self.chunks.is_empty()
    }
}

fn damaged(what: String) -> ArchiveError {
    ArchiveError::Damaged(format!("reference index: {what}"))
}

/// A file's blob name from its hex SHA-256.
fn blob_name(sha256: &str) -> Result<[u8; 32], ArchiveError> {
    super::checkpoint::unhex32(sha256)
        .ok_or_else(|| damaged(format!("file hash {sha256:?} is not a SHA-256")))
}

/// The distinct chunks of a blob's manifest as `txn` sees it (its own pending writes too).
/// A manifest that cannot be read is an error, never "no chunks": a count left too high only
/// keeps bytes, but one decremented wrongly would destroy a chunk a kept document needs.
fn chunks_of(txn: &Txn<'_>, blob: &[u8; 32]) -> Result<BTreeSet<[u8; 32]>, ArchiveError> {
    let raw = txn.get(Space::Blobs, blob)?.ok_or_else(|| {
        let hexname = crate::verify::certificate::hex(blob);
        damaged(format!("blob {hexname} is counted but not kept"))
    })?;
    super::blobs::decode_manifest(blob, &raw)
        .map(|(_, chunks)| chunks.into_iter().collect())
        .map_err(|e| damaged(format!("{e}; nothing was changed")))
}

/// A stored tally of `case` as `txn` sees it (the default when none is kept).
pub(super) fn case_tally(txn: &Txn<'_>, case: &str) -> Result<CaseTally, ArchiveError> {
    match txn.get(Space::Index, &keys::case_tally(case))? {
        Some(raw) => serde_json::from_slice(&raw)
            .map_err(|e| damaged(format!("the tally of case {case} does not decode ({e})"))),
        None => Ok(CaseTally::default()),
    }
}

/// Adds `delta` to the counter under `key`, the reference count of `name`; returns (before,
/// after). A count that would go below zero is damage (the index lost a reference the log
/// has). The name is spelled out only for an error: this runs for every blob of every filing.
fn bump(
    txn: &mut Txn<'_>,
    key: Vec<u8>,
    delta: i64,
    name: &[u8; 32],
) -> Result<(u64, u64), ArchiveError> {
    let what = || crate::verify::certificate::hex(name);
    // Missing is zero; present but not eight bytes is damage, never zero: a count read as
    // zero would let a disposal release bytes that kept documents still name.
    let before = match txn.get(Space::Index, &key)? {
        None => 0,
        raw @ Some(_) => index_u64(raw)
            .ok_or_else(|| damaged(format!("{} does not decode as a count", what())))?,
    };
    let after = before
        .checked_add_signed(delta)
        .ok_or_else(|| damaged(format!("{} would count below zero", what())))?;
    txn.put(Space::Index, key, after.to_be_bytes());
    Ok((before, after))
}

/// Folds the batch's pending notes into the indexes, in the batch; returns what its disposals
/// left unreferenced. Every read happens here, before the batch is applied: one that fails
/// aborts the batch, so nothing is destroyed on a guess.
pub(super) fn settle(txn: &mut Txn<'_>) -> Result<Released, ArchiveError> {
    let pending = std::mem::take(&mut txn.tally);
    if pending.is_empty() {
        return Ok(Released::default());
    }
    let mut cases: BTreeMap<String, CaseTally> = BTreeMap::new();
    let mut redate: BTreeSet<String> = BTreeSet::new();
    let mut blobs: BTreeMap<[u8; 32], i64> = BTreeMap::new();
    for f in &pending.filed {
        if !cases.contains_key(&f.case) {
            cases.insert(f.case.clone(), case_tally(txn, &f.case)?);
        }
        let t = cases.entry(f.case.clone()).or_default();
        t.filed += 1;
        t.add(&f.date, f.files.iter().map(|(_, n)| n).sum());
        for sha in f.files.iter().map(|(sha, _)| sha).chain(&f.evidence) {
            *blobs.entry(blob_name(sha)?).or_default() += 1;
        }
    }
    for (reg, case) in &pending.disposed {
        if !cases.contains_key(case) {
            cases.insert(case.clone(), case_tally(txn, case)?);
        }
        let (_, files, evidence) = kept_document(txn, reg)?;
        let t = cases.entry(case.clone()).or_default();
        let bytes: u64 = files.iter().map(|(_, n)| n).sum();
        t.kept = t
            .kept
            .checked_sub(1)
            .ok_or_else(|| damaged(format!("case {case} counts no document to destroy")))?;
        t.bytes = t.bytes.saturating_sub(bytes);
        redate.insert(case.clone());
        for sha in files.iter().map(|(sha, _)| sha).chain(&evidence) {
            *blobs.entry(blob_name(sha)?).or_default() -= 1;
        }
    }
    let mut released = Released::default();
    let mut chunks: BTreeMap<[u8; 32], i64> = BTreeMap::new();
    for (blob, delta) in blobs {
        let (before, after) = bump(txn, keys::blob_refs(&blob), delta, &blob)?;
        let step = match (before, after) {
            (0, a) if a > 0 => 1,
            (b, 0) if b > 0 => {
                released.blobs.push(blob);
                -1
            }
            _ => continue,
        };
        for c in chunks_of(txn, &blob)? {
            *chunks.entry(c).or_default() += step;
        }
    }
    for (chunk, delta) in chunks {
        if let (b, 0) = bump(txn, keys::chunk_refs(&chunk), delta, &chunk)?
            && b > 0
        {
            released.chunks.push(chunk);
        }
    }
    for case in redate {
        if let Some(t) = cases.get_mut(&case) {
            redate_case(txn, &case, t)?;
        }
    }
    for (case, t) in cases {
        let json = serde_json::to_vec(&t).unwrap_or_default();
        txn.put(Space::Index, keys::case_tally(&case), json);
    }
    Ok(released)
}

/// A kept document's registration date, (SHA-256 hex, size) of its files, and SHA-256 hex of
/// its evidence blobs.
type KeptDocument = (String, Vec<(String, u64)>, Vec<String>);

/// The registration date, files and evidence blobs of a kept document, from its entry.
fn kept_document(txn: &Txn<'_>, reg: &str) -> Result<KeptDocument, ArchiveError> {
    let index = txn
        .regno_entry(reg)?
        .ok_or_else(|| damaged(format!("{reg} is not registered")))?;
    let raw = txn
        .get(Space::Log, &index.to_be_bytes())?
        .ok_or_else(|| damaged(format!("the entry of {reg} is missing")))?;
    match Entry::decode(&raw).map(|e| e.event) {
        Ok(Event::Accepted {
            registration_date,
            files,
            evidence,
            ..
        }) => Ok((
            registration_date,
            files.into_iter().map(|f| (f.sha256, f.size)).collect(),
            evidence.into_iter().map(|f| f.sha256).collect(),
        )),
        _ => Err(damaged(format!(
            "the entry of {reg} is no accepted document"
        ))),
    }
}

/// Recomputes a case's first and last dates after disposals (in this batch, marked already):
/// from the case's remaining documents, which a disposal reads anyway.
fn redate_case(txn: &Txn<'_>, case: &str, t: &mut CaseTally) -> Result<(), ArchiveError> {
    t.first = None;
    t.last = None;
    if t.kept == 0 {
        return Ok(());
    }
    let (kept, bytes) = (t.kept, t.bytes);
    t.kept = 0;
    for n in 1..=t.filed {
        let reg = format!("{case}/{n}");
        if txn.disposal(&reg)?.is_none() {
            let (date, _, _) = kept_document(txn, &reg)?;
            t.add(&date, 0);
        }
    }
    if t.kept != kept {
        return Err(damaged(format!(
            "case {case} counts {kept} kept documents, its marks {}",
            t.kept
        )));
    }
    t.bytes = bytes;
    Ok(())
}

/// The indexes recomputed from the log alone.
#[derive(Debug, Default)]
struct Truth {
    cases: BTreeMap<String, CaseTally>,
    blobs: HashMap<[u8; 32], u64>,
    chunks: HashMap<[u8; 32], u64>,
}

/// Recomputes the indexes from the first `size` entries and the kept manifests: two passes
/// (the documents destroyed, then the documents kept), memory O(kept blobs and chunks).
fn recompute(store: &dyn Store, size: u64) -> Result<Truth, (u64, String)> {
    let entry = |i: u64| -> Result<Entry, (u64, String)> {
        let raw = store
            .get(Space::Log, &i.to_be_bytes())
            .map_err(|e| (i, e.to_string()))?
            .ok_or((i, "entry missing".to_owned()))?;
        Entry::decode(&raw).map_err(|e| (i, format!("entry does not decode: {e}")))
    };
    let mut disposed = HashSet::new();
    for i in 0..size {
        if let Event::Disposed { registration, .. } = entry(i)?.event {
            disposed.insert(registration);
        }
    }
    let mut truth = Truth::default();
    for i in 0..size {
        let Event::Accepted {
            case,
            registration,
            registration_date,
            files,
            evidence,
            ..
        } = entry(i)?.event
        else {
            continue;
        };
        let t = truth.cases.entry(case).or_default();
        t.filed += 1;
        if disposed.contains(&registration) {
            continue;
        }
        t.add(&registration_date, files.iter().map(|f| f.size).sum());
        for f in files.iter().chain(&evidence) {
            let name = super::checkpoint::unhex32(&f.sha256)
                .ok_or((i, format!("file hash {:?} is not a SHA-256", f.sha256)))?;
            *truth.blobs.entry(name).or_default() += 1;
        }
    }
    for blob in truth.blobs.keys() {
        let hexname = crate::verify::certificate::hex(blob);
        let (_, chunks) = super::blobs::manifest(store, blob)
            .map_err(|e| (size, format!("blob {hexname}: {e}")))?;
        for c in chunks.into_iter().collect::<BTreeSet<_>>() {
            *truth.chunks.entry(c).or_default() += 1;
        }
    }
    Ok(truth)
}

/// An index key and its value.
type KeyValue = (Vec<u8>, Vec<u8>);

/// The index keys the truth gives a value, with it; stale keys the store keeps besides (a
/// count that should be gone) get zero.
fn writes(store: &dyn Store, truth: &Truth) -> Result<Vec<KeyValue>, ArchiveError> {
    let mut out: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for k in store.keys(Space::Index)? {
        if keys::is_case_tally(&k) {
            let none = serde_json::to_vec(&CaseTally::default()).unwrap_or_default();
            out.insert(k, none);
        } else if keys::is_tally(&k) {
            out.insert(k, 0u64.to_be_bytes().to_vec());
        }
    }
    for (case, t) in &truth.cases {
        out.insert(
            keys::case_tally(case),
            serde_json::to_vec(t).unwrap_or_default(),
        );
    }
    for (b, n) in &truth.blobs {
        out.insert(keys::blob_refs(b), n.to_be_bytes().to_vec());
    }
    for (c, n) in &truth.chunks {
        out.insert(keys::chunk_refs(c), n.to_be_bytes().to_vec());
    }
    Ok(out.into_iter().collect())
}

/// Whether the store keeps the indexes in their current layout.
pub fn ready(store: &dyn Store) -> Result<bool, ArchiveError> {
    Ok(index_u64(store.get(Space::Index, keys::TALLY_VERSION)?) == Some(VERSION))
}

/// Builds the indexes of an archive that has none (or an older layout) from its first `size`
/// entries; returns whether it built them. Called before any append (at open, or by the first
/// append under the writer lock), so no filing races the build. The version is written last:
/// a build cut short is simply done again.
pub fn ensure(store: &dyn Store, size: u64) -> Result<bool, ArchiveError> {
    if ready(store)? {
        return Ok(false);
    }
    super::rebuild::begin(store, keys::TALLY_VERSION)?;
    let truth = recompute(store, size)
        .map_err(|(i, what)| ArchiveError::Damaged(format!("entry {i}: {what}")))?;
    super::rebuild::finish(store, keys::TALLY_VERSION, VERSION, writes(store, &truth)?)?;
    Ok(true)
}

/// For `audit verify`: the stored indexes against the ones recomputed from the first `size`
/// entries. `Ok(Some(note))` when the archive keeps none yet (opened read-only since before
/// them: they are built when it is next opened for writing).
pub fn check(store: &dyn Store, size: u64) -> Result<Option<String>, AuditFailure> {
    let failed = |what: String| fail(None, None, format!("reference index: {what}"));
    if !ready(store).map_err(|e| failed(e.to_string()))? {
        return Ok(Some(
            "the archive keeps no per-case and reference indexes yet: they are built when it \
             is next opened for writing"
                .into(),
        ));
    }
    let truth = recompute(store, size).map_err(|(i, what)| fail(Some(i), None, what))?;
    let want = writes(store, &truth).map_err(|e| failed(e.to_string()))?;
    for (key, value) in want {
        let stored = store
            .get(Space::Index, &key)
            .map_err(|e| failed(e.to_string()))?;
        let same = match (&stored, keys::is_case_tally(&key)) {
            (Some(s), true) => {
                serde_json::from_slice::<CaseTally>(s).ok()
                    == serde_json::from_slice::<CaseTally>(&value).ok()
            }
            (s, _) => index_u64(s.clone()).unwrap_or(0) == index_u64(Some(value)).unwrap_or(0),
        };
        if !same {
            return Err(failed(format!(
                "{} differs from the entries",
                keys::tally_subject(&key)
            )));
        }
    }
    Ok(None)
}
