//! Re-checking the archive: the chain, the Merkle tree, the signed checkpoint, every receipt
//! (signature and link), and with `full` every document's bytes — through the one replay the
//! export's check uses too ([`super::replay`]) — then the log head and the access log. The
//! first failure is named precisely.

use super::log::{Entry, Event, FileRef};
use super::replay::{self, Replay, Source, SourceError};
use super::{Archive, blobs};
use std::fmt;

/// What an intact audit covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// Documents re-hashed (full audits).
    pub documents: u64,
    /// Bytes re-hashed (full audits).
    pub bytes: u64,
    /// Accepted documents whose verdict was re-checked from their kept evidence (exported
    /// packages, [`super::recheck`]).
    pub rechecked: u64,
    /// Size of the checkpoint that was matched.
    pub checkpoint_size: Option<u64>,
    /// Files in the store's directory that hold nothing kept (left by failed writes), each in
    /// a sentence: not a failure of the audit, but space the operator may want back.
    pub strays: Vec<String>,
    /// Entries whose stated time is marked backfilled.
    pub backfilled: u64,
    /// What the entries' times show that is not damage but an auditor should see: time
    /// running backwards in entries written before filing times were recorded, entries dated
    /// after they were filed. The first [`MAX_NOTES`]; `notes_total` counts them all.
    pub notes: Vec<String>,
    /// How many notes there were.
    pub notes_total: u64,
}

/// Notes kept in a report (the rest are counted).
pub const MAX_NOTES: usize = 10;

impl AuditReport {
    /// Adds a note (kept if fewer than [`MAX_NOTES`] are, counted always).
    pub fn note(&mut self, what: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(what);
        }
        self.notes_total += 1;
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFailure {
    /// Entry index, when one is concerned.
    pub index: Option<u64>,
    /// Case index of that entry.
    pub case: Option<String>,
    /// Registration number of that entry.
    pub registration: Option<String>,
    /// What differs.
    pub what: String,
}

impl std::error::Error for AuditFailure {}

impl fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.index {
            write!(f, "entry {i}")?;
            if let Some(c) = &self.case {
                write!(f, ", case {c}")?;
            }
            if let Some(r) = &self.registration {
                write!(f, ", registration {r}")?;
            }
            write!(f, ": ")?;
        }
        f.write_str(&self.what)
    }
}

/// A failure at entry `index` (naming its case and registration when it has them).
pub fn fail(index: Option<u64>, entry: Option<&Entry>, what: impl Into<String>) -> AuditFailure {
    let (case, registration) = match entry.map(|e| &e.event) {
        Some(Event::Accepted {
            case, registration, ..
        }) => (Some(case.clone()), Some(registration.clone())),
        Some(Event::Rejected { case, .. }) => (Some(case.clone()), None),
        Some(Event::Disposed {
            case, registration, ..
        }) => (Some(case.clone()), Some(registration.clone())),
        _ => (None, None),
    };
    AuditFailure {
        index,
        case,
        registration,
        what: what.into(),
    }
}

/// The archive's store as a replay source (with the receipts' dictionaries read so far).
struct Stored<'a>(&'a Archive, super::receipts::Dictionaries);

impl Source for Stored<'_> {
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(self.0.entry_bytes(index)?)
    }

    fn receipt(&self, id: &str) -> Result<Vec<u8>, SourceError> {
        self.0
            .receipt_with(id, &self.1)?
            .ok_or_else(|| SourceError::ReceiptMissing(id.to_owned()))
    }

    fn document(&self, _index: u64, file: &FileRef) -> Result<u64, SourceError> {
        let name = super::checkpoint::unhex32(&file.sha256).ok_or(SourceError::HashNotHex)?;
        blobs::check(self.0.store(), &name).map_err(|source| SourceError::Blob {
            role: file.role.clone(),
            source,
        })
    }
}

/// Audits the archive; `progress(done, total)` is called as entries are checked.
pub fn verify(
    archive: &Archive,
    full: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport, AuditFailure> {
    if let Some(first) = archive.store().damage().into_iter().next() {
        return Err(fail(None, None, format!("the store found damage: {first}")));
    }
    // The stored head, not this archive's memory: another process writing the store (a
    // frontend beside this one) may have filed and checkpointed past it.
    let (size, head_root, head_chain) = archive
        .stored_head()
        .map_err(|e| fail(None, None, e.to_string()))?;
    let checkpoint = archive
        .latest_checkpoint()
        .map_err(|e| fail(None, None, e.to_string()))?;
    if let Some(cp) = checkpoint.as_ref().filter(|cp| cp.size > size) {
        return Err(fail(
            None,
            None,
            format!(
                "checkpoint of size {} is beyond the log's {size} entries",
                cp.size
            ),
        ));
    }
    // The replay's pass over the entries also recomputes every stored tile.
    let stored = Stored(archive, Default::default());
    let watch = super::tilecheck::Watch::new(&stored, archive.store(), super::tiles::HEIGHT);
    let replayed = replay::run(
        &watch,
        &Replay {
            checkpoints: checkpoint.as_slice(),
            service: archive.signer().certificate(),
            documents: full,
            size: Some(size),
        },
        progress,
    )?;
    if replayed.root != head_root || replayed.chain != head_chain {
        return Err(fail(None, None, "the log head does not match the entries"));
    }
    if archive
        .entry_bytes(size)
        .map_err(|e| fail(Some(size), None, e.to_string()))?
        .is_some()
    {
        return Err(fail(Some(size), None, "an entry lies beyond the log head"));
    }
    if size > 0 && checkpoint.is_none() {
        return Err(fail(None, None, "no signed checkpoint"));
    }
    let tiles_note = watch.finish(size)?;
    // The per-case and reference indexes, recomputed from the entries (a forged count could
    // keep bytes past their act, or let an execution destroy a chunk a kept document needs).
    let tally_note = super::tally::check(archive.store(), size)?;
    // The console's look-up lists likewise, in the full audit (a whole walk and every slot).
    let lists_note = if full {
        super::lists::check(archive.store(), size)?
    } else {
        None
    };
    check_access(archive, checkpoint.as_ref())?;
    let mut report = replayed.report;
    for note in [tiles_note, tally_note, lists_note].into_iter().flatten() {
        report.note(note);
    }
    report.strays = archive.store().strays();
    Ok(report)
}

/// The access log: its chain, its stored head, and the head the checkpoint signed. Records
/// this process chained but has not written yet are written first, so that the audit reads
/// exactly what it checks.
fn check_access(
    archive: &Archive,
    checkpoint: Option<&super::checkpoint::Checkpoint>,
) -> Result<(), AuditFailure> {
    archive
        .flush_access()
        .map_err(|e| fail(None, None, format!("writing pending access records: {e}")))?;
    let (access_size, access_head) = archive
        .stored_access_head()
        .map_err(|e| fail(None, None, e.to_string()))?;
    let access_fail = |e: super::access::ChainError| fail(None, None, e.to_string());
    if super::access::chain_head(archive, access_size).map_err(access_fail)? != access_head {
        return Err(fail(
            None,
            None,
            "the access-log head does not match its records",
        ));
    }
    if let Some(cp) = checkpoint {
        let signed_ok = cp.access.0 <= access_size
            && super::access::chain_head(archive, cp.access.0).map_err(access_fail)? == cp.access.1;
        if !signed_ok {
            return Err(fail(
                None,
                None,
                format!("the access log differs from signed checkpoint {}", cp.size),
            ));
        }
    }
    Ok(())
}

/// Registration numbers whose documents an executed act destroyed, read from the log.
pub fn disposed_registrations(
    archive: &Archive,
    size: u64,
) -> Result<std::collections::HashSet<String>, AuditFailure> {
    replay::disposed(&Stored(archive, Default::default()), Some(size))
}
