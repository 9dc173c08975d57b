//! Re-checking the archive: the chain, the Merkle tree, the signed checkpoint, every receipt,
//! and with `full` every document's bytes. The first failure is named precisely.

use super::log::{Entry, Event, entry_hash};
use super::merkle::{Frontier, leaf_hash};
use super::store::Space;
use super::{Archive, blobs};
use crate::verify::certificate::hex;
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
    /// Size of the checkpoint that was matched.
    pub checkpoint_size: Option<u64>,
    /// Files in the store's directory that hold nothing kept (left by failed writes), each in
    /// a sentence: not a failure of the audit, but space the operator may want back.
    pub strays: Vec<String>,
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

fn fail(index: Option<u64>, entry: Option<&Entry>, what: impl Into<String>) -> AuditFailure {
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

/// Audits the archive; `progress(done, total)` is called as entries are checked.
pub fn verify(
    archive: &Archive,
    full: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport, AuditFailure> {
    if let Some(first) = archive.store().damage().into_iter().next() {
        return Err(fail(None, None, format!("the store found damage: {first}")));
    }
    let (size, head_root, head_chain) = archive.head();
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
    // Documents destroyed under an executed act, from the chained log itself (never from an
    // index, which an intruder could edit to hide a damaged document).
    let disposed = if full {
        disposed_registrations(archive, size)?
    } else {
        Default::default()
    };
    let mut report = AuditReport::default();
    let mut frontier = Frontier::default();
    let mut chain = super::log::GENESIS;
    let store = archive.store();
    for i in 0..size {
        let bytes = archive
            .entry_bytes(i)
            .map_err(|e| fail(Some(i), None, e.to_string()))?
            .ok_or_else(|| fail(Some(i), None, "entry missing"))?;
        let entry = Entry::decode(&bytes)
            .map_err(|e| fail(Some(i), None, format!("entry does not decode: {e}")))?;
        if entry.index != i {
            return Err(fail(
                Some(i),
                Some(&entry),
                format!("entry claims index {}", entry.index),
            ));
        }
        if entry.prev != hex(&chain) {
            return Err(fail(
                Some(i),
                Some(&entry),
                "prev does not match the hash of the entry before",
            ));
        }
        chain = entry_hash(&bytes);
        frontier.push(leaf_hash(&bytes));
        if let Some(cp) = checkpoint.as_ref().filter(|c| c.size == frontier.size()) {
            if cp.root != frontier.root() || cp.chain != chain {
                return Err(fail(
                    Some(i),
                    Some(&entry),
                    format!("the log differs from signed checkpoint {}", cp.size),
                ));
            }
            report.checkpoint_size = Some(cp.size);
        }
        check_receipt(archive, &entry, &chain).map_err(|w| fail(Some(i), Some(&entry), w))?;
        let kept = |reg: &String| !disposed.contains(reg);
        if let (
            true,
            Event::Accepted {
                files,
                registration,
                ..
            },
        ) = (full, &entry.event)
            && kept(registration)
        {
            for file in files {
                let name = super::checkpoint::unhex32(&file.sha256)
                    .ok_or_else(|| fail(Some(i), Some(&entry), "file hash is not hex"))?;
                let n = blobs::check(store, &name)
                    .map_err(|e| fail(Some(i), Some(&entry), format!("{} file: {e}", file.role)))?;
                if n != file.size {
                    return Err(fail(
                        Some(i),
                        Some(&entry),
                        format!(
                            "{} file is {n} bytes, the entry says {}",
                            file.role, file.size
                        ),
                    ));
                }
                report.documents += 1;
                report.bytes += n;
            }
        }
        report.entries += 1;
        progress(i + 1, size);
    }
    if frontier.root() != head_root || chain != head_chain {
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
    // The access log: its chain, its stored head, and the head the checkpoint signed.
    // Records this process chained but has not written yet are written first, so that the
    // audit reads exactly what it checks.
    archive
        .flush_access()
        .map_err(|e| fail(None, None, format!("writing pending access records: {e}")))?;
    let (access_size, access_head) = archive.access_head();
    let access_fail =
        |(i, what): (u64, String)| fail(None, None, format!("access record {i}: {what}"));
    if super::access::chain_head(archive, access_size).map_err(access_fail)? != access_head {
        return Err(fail(
            None,
            None,
            "the access-log head does not match its records",
        ));
    }
    if let Some(cp) = &checkpoint {
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
    report.strays = archive.store().strays();
    Ok(report)
}

/// Every entry's receipt is kept, and names this entry.
fn check_receipt(archive: &Archive, entry: &Entry, hash: &[u8; 32]) -> Result<(), String> {
    let Some(id) = entry.event.receipt_id() else {
        return Ok(());
    };
    let der = archive
        .store()
        .get(Space::Receipts, id.as_bytes())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("receipt {id} missing"))?;
    let sd = crate::verify::cms::parse(&der).map_err(|e| format!("receipt {id}: {e}"))?;
    let body = sd
        .content
        .ok_or_else(|| format!("receipt {id} has no body"))?;
    let needle = format!("\"entry_hash\":\"{}\"", hex(hash));
    if !body.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        return Err(format!("receipt {id} does not name this entry"));
    }
    Ok(())
}

/// Registration numbers whose documents an executed act destroyed, read from the log.
pub fn disposed_registrations(
    archive: &Archive,
    size: u64,
) -> Result<std::collections::HashSet<String>, AuditFailure> {
    let mut out = std::collections::HashSet::new();
    for i in 0..size {
        let bytes = archive
            .entry_bytes(i)
            .map_err(|e| fail(Some(i), None, e.to_string()))?
            .ok_or_else(|| fail(Some(i), None, "entry missing"))?;
        if let Ok(Entry {
            event: Event::Disposed { registration, .. },
            ..
        }) = Entry::decode(&bytes)
        {
            out.insert(registration);
        }
    }
    Ok(out)
}
