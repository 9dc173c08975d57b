//! Judging on a snapshot, then confirming under the writer lock: how drafting and executing an
//! act keep their long reads (every document of a case, the holds replayed from the whole
//! chained log) out of the writer lock, so that submissions are not blocked meanwhile.
//!
//! The judgement is made without the lock ([`crate::archive::Archive::read`]); under the lock
//! only its [`Basis`] is read again — a few index values per case — and the log's tail filed
//! since is replayed. If anything it rested on changed, the judgement is made again under the
//! lock, from scratch: never on stale reads.

use super::holds::{self, Hold};
use crate::archive::log::Entry;
use crate::archive::{Archive, ArchiveError, Txn};

/// What a judgement of some cases rested on: each case's tally (documents filed and kept —
/// any filing or disposal changes it), its counter and its ЭПК review, and the active holds'
/// index. Equal bases mean equal judgements (the policy and the time are the caller's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    cases: Vec<CaseBasis>,
    holds: Option<Vec<u8>>,
    holds_placed: u64,
}

/// One case's share of a [`Basis`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct CaseBasis {
    tally: Option<Vec<u8>>,
    registered: u64,
    review: Option<Vec<u8>>,
}

/// Reads the basis of a judgement of `cases`: O(cases) index reads.
pub fn basis(txn: &Txn<'_>, cases: &[String]) -> Result<Basis, ArchiveError> {
    let cases = cases
        .iter()
        .map(|c| {
            Ok(CaseBasis {
                tally: txn.case_tally_raw(c)?,
                registered: txn.registered(c)?,
                review: txn.review(c)?,
            })
        })
        .collect::<Result<_, ArchiveError>>()?;
    Ok(Basis {
        cases,
        holds: txn.holds_record()?,
        holds_placed: txn.holds_placed()?,
    })
}

/// A judgement made on a snapshot, to be confirmed under the writer lock.
pub struct Judged<T> {
    /// What it rested on.
    pub basis: Basis,
    /// What it found (a refusal too: it stands if nothing changed).
    pub result: Result<T, ArchiveError>,
}

impl<T> Judged<T> {
    /// The judgement if its basis is unchanged as `txn` sees it; otherwise `again` judges
    /// anew under the lock.
    pub fn confirm(
        self,
        txn: &Txn<'_>,
        cases: &[String],
        again: impl FnOnce(&Txn<'_>) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        if basis(txn, cases)? == self.basis {
            self.result
        } else {
            again(txn)
        }
    }
}

/// Folds the entries `from..to` of the chained log into `holds` (see [`holds::apply`]). A
/// missing or undecodable entry is damage: a hold must never be lost to a failed read.
pub fn replay_holds(
    archive: &Archive,
    from: u64,
    to: u64,
    holds: &mut Vec<Hold>,
) -> Result<(), ArchiveError> {
    for i in from..to {
        let Entry { event, .. } = archive
            .entry(i)?
            .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} is missing")))?;
        holds::apply(holds, &event);
    }
    Ok(())
}

/// The active holds on `case` or on one of its kept documents, by id: O(holds) index reads,
/// whatever the case's size.
pub fn holds_on(txn: &Txn<'_>, holds: &[Hold], case: &str) -> Result<Vec<String>, ArchiveError> {
    let mut out = Vec::new();
    for h in holds {
        let on_case = h.case.as_deref() == Some(case);
        let on_doc = match h.registration.as_deref() {
            Some(r) if r.rsplit_once('/').is_some_and(|(c, _)| c == case) => {
                txn.regno_entry(r)?.is_some() && txn.disposal(r)?.is_none()
            }
            _ => false,
        };
        if on_case || on_doc {
            out.push(h.hold_id.clone());
        }
    }
    Ok(out)
}
