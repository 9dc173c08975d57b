//! Disposal acts («акт о выделении к уничтожению»): drafted for due cases, approved by people
//! other than the drafter, executed only when fully approved and nothing in them is held.

use super::holds::{self, refused};
use super::{CaseStatus, DocRef, RetentionError, documents, review, snapshot, status};
use crate::archive::log::Event;
use crate::archive::store::Space;
use crate::archive::{Archive, ArchiveError, Txn};
use crate::policy::ArchivePolicy;
use crate::verify::certificate::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// One case in an act: the columns of the usual form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActCase {
    /// Case index.
    pub index: String,
    /// Case title.
    pub title: String,
    /// First document date.
    pub first: Option<String>,
    /// Last document date.
    pub last: Option<String>,
    /// Number of documents.
    pub documents: u64,
    /// Retention term, e.g. `5y`.
    pub retention: String,
    /// Note: the ЭПК decision for marked cases.
    pub note: Option<String>,
}

/// A disposal act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    /// Number. Written `number`, the word a registration and a disposal use (acts recorded
    /// before this read with their old `act`).
    #[serde(rename = "number", alias = "act")]
    pub act: String,
    /// Date drafted, `YYYY-MM-DD`.
    pub date: String,
    /// The organisation.
    pub organization: String,
    /// Who drafted it.
    pub drafted_by: String,
    /// Its cases.
    pub cases: Vec<ActCase>,
    /// The documents it destroys.
    pub documents: Vec<DocRef>,
    /// Who approved it, in order.
    pub approvals: Vec<String>,
    /// Approvals it needs.
    pub approvals_required: usize,
    /// When executed, `YYYY-MM-DD`.
    pub executed: Option<String>,
}

/// Loads an act. One that is stored but does not decode is damage, not "no act".
pub fn load(txn: &Txn<'_>, act: &str) -> Result<Act, ArchiveError> {
    let raw = txn
        .act_record(act)?
        .ok_or_else(|| ArchiveError::Refused(format!("no act {act}")))?;
    serde_json::from_slice(&raw)
        .map_err(|e| ArchiveError::Damaged(format!("act {act} does not decode ({e})")))
}

fn save(txn: &mut Txn<'_>, a: &Act) {
    txn.put_act_record(&a.act, serde_json::to_vec(a).unwrap_or_default());
}

fn day(at: i64) -> String {
    crate::verify::fmt_time(at)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// Refuses unless every case is destroyable now and nothing in it is under one of `holds`.
fn check_cases(
    txn: &Txn<'_>,
    archive: &Archive,
    policy: &ArchivePolicy,
    cases: &[String],
    holds: &[holds::Hold],
    at: i64,
) -> Result<Vec<(ActCase, Vec<DocRef>)>, ArchiveError> {
    let mut out = Vec::new();
    for index in cases {
        let case = policy
            .case(index)
            .ok_or_else(|| ArchiveError::Refused(format!("no case {index} in the nomenclature")))?;
        let docs = documents(txn, archive, index)?;
        let rev = review(txn, index)?;
        let held = holds.iter().find(|h| {
            h.case.as_deref() == Some(index.as_str())
                || h.registration
                    .as_deref()
                    .is_some_and(|r| docs.iter().any(|d| d.registration == r))
        });
        let filed = super::filed(txn, index)?;
        let st = status(case, at, filed, docs.len(), rev.as_deref(), held.is_some());
        let why = match st {
            CaseStatus::Destroyable => None,
            CaseStatus::Permanent => Some("is kept permanently".to_owned()),
            CaseStatus::Open => Some("is still open".to_owned()),
            CaseStatus::NotDue => Some(format!(
                "is not due until {}",
                super::due(case, at).map_or("-".into(), |d| d.0)
            )),
            CaseStatus::NeedsEpkReview => {
                Some("needs the expert commission's (ЭПК) decision to destroy".to_owned())
            }
            CaseStatus::OnHold => Some(format!(
                "is held ({})",
                held.map_or("", |h| h.hold_id.as_str())
            )),
            CaseStatus::Disposed => Some("has no documents left to destroy".to_owned()),
            CaseStatus::Empty => Some("has no documents: nothing was ever filed in it".to_owned()),
        };
        if let Some(why) = why {
            return Err(ArchiveError::Refused(format!("case {index} {why}")));
        }
        let ac = ActCase {
            index: index.clone(),
            title: case.title.clone(),
            first: docs.iter().map(|d| d.date.clone()).min(),
            last: docs.iter().map(|d| d.date.clone()).max(),
            documents: docs.len() as u64,
            retention: case.retention.to_string(),
            note: rev.map(|r| format!("ЭПК: {r}")),
        };
        out.push((ac, docs));
    }
    Ok(out)
}

/// Drafts an act over `cases`; returns it. The cases are judged (their every document read)
/// on a snapshot, without the writer lock; under it, the judgement is only confirmed.
pub fn draft(
    archive: &Archive,
    policy: &ArchivePolicy,
    cases: &[String],
    by: &str,
    at: i64,
) -> Result<Act, RetentionError> {
    if cases.is_empty() || by.trim().is_empty() {
        return Err(RetentionError::Refused(
            "an act needs at least one case and its drafter".into(),
        ));
    }
    let judge = |txn: &Txn<'_>| {
        let holds = holds::active(txn)?;
        check_cases(txn, archive, policy, cases, &holds, at)
    };
    let judged = archive
        .read(|txn| {
            Ok(snapshot::Judged {
                basis: snapshot::basis(txn, cases)?,
                result: judge(txn),
            })
        })
        .map_err(refused)?;
    let (act, upto) = archive
        .append(|txn| {
            let checked = judged.confirm(txn, cases, judge)?;
            let n = txn.next_act_number()?;
            let act = Act {
                act: n.to_string(),
                date: day(at),
                organization: policy.organization.name.clone(),
                drafted_by: by.into(),
                cases: checked.iter().map(|(c, _)| c.clone()).collect(),
                documents: checked.into_iter().flat_map(|(_, d)| d).collect(),
                approvals: Vec::new(),
                approvals_required: policy.retention.approvals,
                executed: None,
            };
            save(txn, &act);
            txn.push(
                Event::ActDrafted {
                    act: act.act.clone(),
                    by: by.into(),
                    cases: cases.to_vec(),
                    documents: act
                        .documents
                        .iter()
                        .map(|d| d.registration.clone())
                        .collect(),
                },
                at,
            );
            Ok(act)
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(act)
}

/// Records one approval. The drafter's own does not count, nor does the same person twice.
pub fn approve(archive: &Archive, number: &str, by: &str, at: i64) -> Result<Act, RetentionError> {
    let (act, upto) = archive
        .append(|txn| {
            let mut act = load(txn, number)?;
            if act.executed.is_some() {
                return Err(ArchiveError::Refused(format!(
                    "act {number} was already executed"
                )));
            }
            if by == act.drafted_by {
                return Err(ArchiveError::Refused(format!(
                    "{by} drafted act {number}; the drafter's own approval does not count"
                )));
            }
            if act.approvals.iter().any(|a| a == by) {
                return Err(ArchiveError::Refused(format!(
                    "{by} has already approved act {number}"
                )));
            }
            act.approvals.push(by.into());
            save(txn, &act);
            txn.push(
                Event::ActApproved {
                    act: number.into(),
                    by: by.into(),
                },
                at,
            );
            Ok(act)
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(act)
}

/// The act as stored (for `show`); read without the writer lock.
pub fn get(archive: &Archive, number: &str) -> Result<Act, RetentionError> {
    archive.read(|txn| load(txn, number)).map_err(refused)
}

/// What execution judged on a snapshot: the log's size then, the holds replayed from it, and
/// the act's cases judged under them.
type FirstLook = (
    u64,
    Vec<holds::Hold>,
    snapshot::Judged<Vec<(ActCase, Vec<DocRef>)>>,
);

/// Executes a fully approved act: destroys its documents' bytes, appends a tombstone for each,
/// and files the act, signed, permanently — all in one atomic batch. Fail-closed: holds are
/// replayed from the chained log (and must agree with the index), and every read that decides
/// what to destroy or keep must succeed, or nothing is destroyed.
///
/// The long reads run on a snapshot, without the writer lock: the whole log's replay for the
/// holds, and the cases' documents. Under the lock only the log's tail since is replayed, the
/// judgement confirmed (or made again if anything changed), and what no kept document still
/// needs is read from the reference counts (`archive::tally`), not from every manifest.
pub fn execute(
    archive: &Archive,
    policy: &ArchivePolicy,
    number: &str,
    at: i64,
) -> Result<Act, RetentionError> {
    let cases_of =
        |act: &Act| -> Vec<String> { act.cases.iter().map(|c| c.index.clone()).collect() };
    let first: FirstLook = archive
        .read(|txn| {
            let act = load(txn, number)?;
            ready(&act, number)?;
            let size = txn.next_index();
            let mut log_holds = Vec::new();
            snapshot::replay_holds(archive, 0, size, &mut log_holds)?;
            let cases = cases_of(&act);
            let judged = snapshot::Judged {
                basis: snapshot::basis(txn, &cases)?,
                result: check_cases(txn, archive, policy, &cases, &log_holds, at),
            };
            Ok((size, log_holds, judged))
        })
        .map_err(refused)?;
    let (act, upto) = archive
        .append(|txn| {
            let mut act = load(txn, number)?;
            ready(&act, number)?;
            let (size, mut log_holds, judged) = first;
            let seen = log_holds.clone();
            snapshot::replay_holds(archive, size, txn.next_index(), &mut log_holds)?;
            if !holds::same(&holds::active(txn)?, &log_holds) {
                return Err(ArchiveError::Damaged(
                    "the holds index disagrees with the holds in the log".into(),
                ));
            }
            // Everything is judged again now: a hold placed or a policy changed since drafting wins.
            let cases = cases_of(&act);
            let judge = |txn: &Txn<'_>| check_cases(txn, archive, policy, &cases, &log_holds, at);
            let now = if seen == log_holds {
                judged.confirm(txn, &cases, judge)?
            } else {
                judge(txn)?
            };
            destroy(txn, archive, policy, &mut act, &now, at)?;
            Ok(act)
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(act)
}

/// The batch of an execution, once its cases are judged (`now`): refuses if a document of
/// the act is no longer kept, then marks, destroys and files.
fn destroy(
    txn: &mut Txn<'_>,
    archive: &Archive,
    policy: &ArchivePolicy,
    act: &mut Act,
    now: &[(ActCase, Vec<DocRef>)],
    at: i64,
) -> Result<(), ArchiveError> {
    let still: HashSet<&str> = now
        .iter()
        .flat_map(|(_, d)| d.iter().map(|d| d.registration.as_str()))
        .collect();
    if let Some(gone) = act
        .documents
        .iter()
        .find(|d| !still.contains(d.registration.as_str()))
    {
        return Err(ArchiveError::Refused(format!(
            "{} is no longer kept in its case",
            gone.registration
        )));
    }
    act.executed = Some(day(at));
    for doc in &act.documents {
        let case = doc.registration.rsplit_once('/').map_or("", |(c, _)| c);
        txn.push(
            Event::Disposed {
                act: act.act.clone(),
                act_date: act.date.clone(),
                registration: doc.registration.clone(),
                case: case.into(),
                approvers: act.approvals.clone(),
            },
            at,
        );
        txn.mark_disposed(&doc.registration, &act.act, &act.date);
    }
    // Every read that decides what to destroy (reference counts, the released blobs'
    // manifests) happens here, before anything is destroyed; the first failure aborts.
    let released = txn.settle_tally()?;
    for chunk in released.chunks {
        txn.dispose(Space::Chunks, chunk.to_vec());
    }
    for blob in released.blobs {
        txn.dispose(Space::Blobs, blob.to_vec());
    }
    file_signed(txn, archive, policy, act, at)?;
    save(txn, act);
    Ok(())
}

/// Refuses an act already executed or not yet fully approved.
fn ready(act: &Act, number: &str) -> Result<(), ArchiveError> {
    if act.executed.is_some() {
        return Err(ArchiveError::Refused(format!(
            "act {number} was already executed"
        )));
    }
    if act.approvals.len() < act.approvals_required {
        return Err(ArchiveError::Refused(format!(
            "act {number} has {} of {} approvals",
            act.approvals.len(),
            act.approvals_required
        )));
    }
    Ok(())
}

/// Signs the executed act and files it permanently, with its log entry.
fn file_signed(
    txn: &mut Txn<'_>,
    archive: &Archive,
    policy: &ArchivePolicy,
    act: &Act,
    at: i64,
) -> Result<(), ArchiveError> {
    let text = super::render::text(act, &policy.organization.country);
    let body =
        serde_json::to_vec(&serde_json::json!({"act": act, "text": text})).unwrap_or_default();
    let der = archive
        .signer()
        .sign(&body, at)
        .map_err(|e| ArchiveError::Refused(e.to_string()))?;
    txn.put_signed_act(&act.act, der.clone());
    txn.push(
        Event::ActExecuted {
            act: act.act.clone(),
            act_sha256: hex(&Sha256::digest(&der)),
            documents: act.documents.len() as u64,
        },
        at,
    );
    Ok(())
}
