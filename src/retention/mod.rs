//! Retention: what is due, holds, ЭПК reviews, disposal acts with approvals, and their execution.
//!
//! "The case determines the destiny": a case's documents are due from 1 January of the year
//! after the case closed plus its retention period. Every step is a log entry (so an auditor can
//! replay who planned, held, approved and destroyed what, and when); the index only speeds up
//! look-ups. Time always comes in as an argument.

pub mod acts;
pub mod holds;
pub mod render;
pub mod snapshot;

use crate::archive::log::{Entry, Event};
use crate::archive::{Archive, ArchiveError, Txn};
use crate::policy::{ArchivePolicy, Case, Retention};
use serde::{Deserialize, Serialize};

/// Why a retention step was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The step is not allowed; the sentence says why.
    #[error("{0}")]
    Refused(String),
}

/// Where a case stands at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Kept forever.
    Permanent,
    /// Still open for filing: never due.
    Open,
    /// Its period has not run out.
    NotDue,
    /// Due, and may go into a disposal act.
    Destroyable,
    /// Due, but the expert commission (ЭПК) has not decided to destroy.
    NeedsEpkReview,
    /// Due, but held.
    OnHold,
    /// Due, and every document it held was destroyed: nothing left to destroy.
    Disposed,
    /// Due, but nothing was ever filed in it: nothing to destroy, and nothing was destroyed
    /// (calling it "disposed" would tell an inspector that documents were destroyed).
    Empty,
}

/// One case in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct CasePlan {
    /// Index.
    pub index: String,
    /// Title.
    pub title: String,
    /// Retention term, e.g. `5y`.
    pub retention: String,
    /// ЭПК mark.
    pub epk: bool,
    /// Year closed.
    pub closed: Option<i32>,
    /// Due from (1 January), `YYYY-MM-DD`.
    pub due_from: Option<String>,
    /// Status at the plan's date.
    pub status: CaseStatus,
    /// Kept documents (not yet destroyed).
    pub documents: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Earliest registration date.
    pub first: Option<String>,
    /// Latest registration date.
    pub last: Option<String>,
    /// The ЭПК decision, if recorded.
    pub review: Option<String>,
    /// Active holds on the case or its documents.
    pub holds: Vec<String>,
}

/// A kept (not destroyed) document of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRef {
    /// Registration number.
    pub registration: String,
    /// Registration date.
    pub date: String,
    /// SHA-256 of each kept file, hex.
    pub files: Vec<String>,
    /// Total bytes.
    pub bytes: u64,
}

/// The kept documents of a case, in registration order.
pub fn documents(
    txn: &Txn<'_>,
    archive: &Archive,
    case: &str,
) -> Result<Vec<DocRef>, ArchiveError> {
    let n = txn.registered(case)?;
    let mut out = Vec::new();
    for i in 1..=n {
        let reg = format!("{case}/{i}");
        if txn.disposal(&reg)?.is_some() {
            continue;
        }
        // Every number up to the counter was given to an accepted document: one that cannot
        // be found is damage, never a document that is not there (fail-closed).
        let damaged = |what: &str| ArchiveError::Damaged(format!("{reg}: {what}"));
        let index = txn
            .regno_entry(&reg)?
            .ok_or_else(|| damaged("registered, but its index entry is missing"))?;
        let Some(Entry {
            event:
                Event::Accepted {
                    files,
                    registration_date,
                    ..
                },
            ..
        }) = archive.entry(index)?
        else {
            return Err(damaged("its index names no accepted entry"));
        };
        out.push(DocRef {
            registration: reg,
            date: registration_date,
            bytes: files.iter().map(|f| f.size).sum(),
            files: files.into_iter().map(|f| f.sha256).collect(),
        });
    }
    Ok(out)
}

/// The due date of a case, `YYYY-01-01`, and whether it has come at `at`.
pub fn due(case: &Case, at: i64) -> Option<(String, bool)> {
    let year = case.retention.due_year(case.closed)?;
    let from = crate::verify::asn1::days_from_civil(i64::from(year), 1, 1) * 86_400;
    Some((format!("{year:04}-01-01"), at >= from))
}

/// How many documents a case ever registered (destroyed ones included).
pub fn filed(txn: &Txn<'_>, case: &str) -> Result<u64, ArchiveError> {
    txn.registered(case)
}

/// A case's status at `at`, given how many documents it ever registered (`filed`), how many it
/// still keeps (`docs`), its review and its holds.
pub fn status(
    case: &Case,
    at: i64,
    filed: u64,
    docs: usize,
    review: Option<&str>,
    held: bool,
) -> CaseStatus {
    if case.retention == Retention::Permanent {
        return CaseStatus::Permanent;
    }
    if case.closed.is_none() {
        return CaseStatus::Open;
    }
    match due(case, at) {
        Some((_, false)) | None => CaseStatus::NotDue,
        Some(_) if filed == 0 => CaseStatus::Empty,
        Some(_) if docs == 0 => CaseStatus::Disposed,
        Some(_) if held => CaseStatus::OnHold,
        Some(_) if case.epk && review != Some("destroy") => CaseStatus::NeedsEpkReview,
        Some(_) => CaseStatus::Destroyable,
    }
}

/// The recorded ЭПК decision on a case.
pub fn review(txn: &Txn<'_>, case: &str) -> Result<Option<String>, ArchiveError> {
    Ok(txn
        .review(case)?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// The retention plan at `at`: every case of the nomenclature with its status. Read from the
/// per-case index (`archive::tally`) on a snapshot, without the writer lock: O(cases + holds)
/// reads, whatever the number of documents, and filing goes on meanwhile.
pub fn plan(
    archive: &Archive,
    policy: &ArchivePolicy,
    at: i64,
) -> Result<Vec<CasePlan>, RetentionError> {
    let plan = archive.read(|txn| {
        let holds = holds::active(txn)?;
        let mut out = Vec::new();
        for case in policy.cases() {
            let tally = match txn.case_tally(&case.index)? {
                Some(t) => t,
                // An archive from before the index, opened read-only: counted the old way.
                None => tally_of(txn, archive, &case.index)?,
            };
            let review = review(txn, &case.index)?;
            let on_case = snapshot::holds_on(txn, &holds, &case.index)?;
            out.push(CasePlan {
                index: case.index.clone(),
                title: case.title.clone(),
                retention: case.retention.to_string(),
                epk: case.epk,
                closed: case.closed,
                due_from: due(case, at).map(|d| d.0),
                status: status(
                    case,
                    at,
                    tally.filed,
                    usize::try_from(tally.kept).unwrap_or(usize::MAX),
                    review.as_deref(),
                    !on_case.is_empty(),
                ),
                documents: tally.kept,
                bytes: tally.bytes,
                first: tally.first,
                last: tally.last,
                review,
                holds: on_case,
            });
        }
        Ok(out)
    })?;
    Ok(plan)
}

/// A case's tally counted from its documents (for an archive without the per-case index).
fn tally_of(
    txn: &Txn<'_>,
    archive: &Archive,
    case: &str,
) -> Result<crate::archive::tally::CaseTally, ArchiveError> {
    let docs = documents(txn, archive, case)?;
    Ok(crate::archive::tally::CaseTally {
        filed: filed(txn, case)?,
        kept: docs.len() as u64,
        bytes: docs.iter().map(|d| d.bytes).sum(),
        first: docs.iter().map(|d| d.date.clone()).min(),
        last: docs.iter().map(|d| d.date.clone()).max(),
    })
}

/// Records the expert commission's (ЭПК) decision on a case: `destroy` or `keep`.
pub fn record_review(
    archive: &Archive,
    policy: &ArchivePolicy,
    case: &str,
    decision: &str,
    by: &str,
    at: i64,
) -> Result<u64, RetentionError> {
    let c = policy
        .case(case)
        .ok_or_else(|| RetentionError::Refused(format!("no case {case} in the nomenclature")))?;
    if !c.epk {
        return Err(RetentionError::Refused(format!(
            "case {case} has no ЭПК mark"
        )));
    }
    if !matches!(decision, "destroy" | "keep") {
        return Err(RetentionError::Refused(format!(
            "decision {decision:?} is neither destroy nor keep"
        )));
    }
    let (pos, upto) = archive.append(|txn| {
        txn.put_review(case, decision.as_bytes().to_vec());
        Ok(txn.push(
            Event::Review {
                case: case.into(),
                decision: decision.into(),
                by: by.into(),
            },
            at,
        ))
    })?;
    archive.make_durable(upto)?;
    Ok(pos.index)
}
