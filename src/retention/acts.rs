//! Disposal acts («акт о выделении к уничтожению»): drafted for due cases, approved by people
//! other than the drafter, executed only when fully approved and nothing in them is held.

use super::holds::{self, refused};
use super::{CaseStatus, DocRef, RetentionError, documents, review, status};
use crate::archive::log::Event;
use crate::archive::store::Space;
use crate::archive::{Archive, ArchiveError, Txn, blobs};
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
    /// Number.
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

fn key(act: &str) -> Vec<u8> {
    format!("act/{act}").into_bytes()
}

/// Loads an act.
pub fn load(txn: &Txn<'_>, act: &str) -> Result<Act, ArchiveError> {
    txn.get(Space::Index, &key(act))?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .ok_or_else(|| ArchiveError::Refused(format!("no act {act}")))
}

fn save(txn: &mut Txn<'_>, a: &Act) {
    txn.put(
        Space::Index,
        key(&a.act),
        serde_json::to_vec(a).unwrap_or_default(),
    );
}

fn day(at: i64) -> String {
    crate::verify::fmt_time(at)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// Refuses unless every case is destroyable now and nothing in it is held.
fn check_cases(
    txn: &Txn<'_>,
    archive: &Archive,
    policy: &ArchivePolicy,
    cases: &[String],
    at: i64,
) -> Result<Vec<(ActCase, Vec<DocRef>)>, ArchiveError> {
    let holds = holds::active(txn)?;
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
        let st = status(case, at, docs.len(), rev.as_deref(), held.is_some());
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

/// Drafts an act over `cases`; returns it.
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
    let (act, upto) = archive
        .append(|txn| {
            let checked = check_cases(txn, archive, policy, cases, at)?;
            let n = txn.next_number(b"act-counter")?;
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

/// The act as stored (for `show`).
pub fn get(archive: &Archive, number: &str) -> Result<Act, RetentionError> {
    let (act, _) = archive.append(|txn| load(txn, number)).map_err(refused)?;
    Ok(act)
}

/// Executes a fully approved act: destroys its documents' bytes, appends a tombstone for each,
/// and files the act, signed, permanently — all in one atomic batch.
pub fn execute(
    archive: &Archive,
    policy: &ArchivePolicy,
    number: &str,
    at: i64,
) -> Result<Act, RetentionError> {
    let (act, upto) = archive
        .append(|txn| {
            let mut act = load(txn, number)?;
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
            // Everything is judged again now: a hold placed or a policy changed since drafting wins.
            let cases: Vec<String> = act.cases.iter().map(|c| c.index.clone()).collect();
            let now = check_cases(txn, archive, policy, &cases, at)?;
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
            let destroyed: HashSet<&str> = act
                .documents
                .iter()
                .map(|d| d.registration.as_str())
                .collect();
            let (keep_blobs, keep_chunks) = still_referenced(txn, archive, &destroyed)?;
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
                txn.put(
                    Space::Index,
                    format!("disposed/{}", doc.registration).into_bytes(),
                    format!("act {} of {}", act.act, act.date).into_bytes(),
                );
                for file in &doc.files {
                    let Some(name) = crate::archive::checkpoint::unhex32(file) else {
                        continue;
                    };
                    if keep_blobs.contains(&name) {
                        continue;
                    }
                    if let Ok((_, chunks)) = blobs::manifest(txn.store(), &name) {
                        for c in chunks.iter().filter(|c| !keep_chunks.contains(*c)) {
                            txn.dispose(Space::Chunks, c.to_vec());
                        }
                    }
                    txn.dispose(Space::Blobs, name.to_vec());
                }
            }
            let text = super::render::text(&act, &policy.organization.country);
            let body = serde_json::to_vec(&serde_json::json!({"act": &act, "text": text}))
                .unwrap_or_default();
            let der = archive
                .signer()
                .sign(&body, at)
                .map_err(|_| ArchiveError::Signing)?;
            txn.put(Space::Acts, act.act.clone().into_bytes(), der.clone());
            txn.push(
                Event::ActExecuted {
                    act: act.act.clone(),
                    act_sha256: hex(&Sha256::digest(&der)),
                    documents: act.documents.len() as u64,
                },
                at,
            );
            save(txn, &act);
            Ok(act)
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(act)
}

/// SHA-256 names of blobs or chunks.
type Names = HashSet<[u8; 32]>;

/// Blobs and chunks that documents outside `destroyed` still need (content is shared).
fn still_referenced(
    txn: &Txn<'_>,
    archive: &Archive,
    destroyed: &HashSet<&str>,
) -> Result<(Names, Names), ArchiveError> {
    let mut keep_blobs = HashSet::new();
    for i in 0..txn.next_index() {
        if let Some(crate::archive::log::Entry {
            event:
                Event::Accepted {
                    registration,
                    files,
                    ..
                },
            ..
        }) = archive.entry(i)?
        {
            let gone = destroyed.contains(registration.as_str())
                || txn
                    .get(Space::Index, format!("disposed/{registration}").as_bytes())?
                    .is_some();
            if !gone {
                keep_blobs.extend(
                    files
                        .iter()
                        .filter_map(|f| crate::archive::checkpoint::unhex32(&f.sha256)),
                );
            }
        }
    }
    let mut keep_chunks = HashSet::new();
    for b in &keep_blobs {
        if let Ok((_, chunks)) = blobs::manifest(txn.store(), b) {
            keep_chunks.extend(chunks);
        }
    }
    Ok((keep_blobs, keep_chunks))
}
