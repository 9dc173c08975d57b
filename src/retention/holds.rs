//! Holds: a case or a document that no disposal act may touch until the hold is released.

use super::RetentionError;
use crate::archive::log::Event;
use crate::archive::{Archive, ArchiveError, Txn};
use crate::policy::ArchivePolicy;
use serde::{Deserialize, Serialize};

/// An active hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Id, e.g. `H3`.
    pub hold_id: String,
    /// Held case.
    pub case: Option<String>,
    /// Held document.
    pub registration: Option<String>,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub by: String,
}

/// The active holds, from the index. Fail-closed: an index that does not decode, or that is
/// missing although holds were placed, is damage, never "no holds" — a hold that silently
/// vanished would let an act destroy what a court ordered kept.
pub fn active(txn: &Txn<'_>) -> Result<Vec<Hold>, ArchiveError> {
    match txn.holds_record()? {
        Some(v) => serde_json::from_slice(&v)
            .map_err(|e| ArchiveError::Damaged(format!("the holds index does not decode ({e})"))),
        None if txn.holds_placed()? > 0 => Err(ArchiveError::Damaged(
            "the holds index is missing although holds were placed".into(),
        )),
        None => Ok(Vec::new()),
    }
}

/// Folds one log entry into `holds`: a hold adds itself, its release removes it. Replaying the
/// chained log this way gives the holds that no index edit can hide.
pub fn apply(holds: &mut Vec<Hold>, event: &Event) {
    match event {
        Event::Hold {
            hold_id,
            case,
            registration,
            reason,
            by,
        } => holds.push(Hold {
            hold_id: hold_id.clone(),
            case: case.clone(),
            registration: registration.clone(),
            reason: reason.clone(),
            by: by.clone(),
        }),
        Event::Release { hold_id, .. } => holds.retain(|h| &h.hold_id != hold_id),
        _ => {}
    }
}

/// Whether two lists hold the same holds, in whatever order.
pub fn same(a: &[Hold], b: &[Hold]) -> bool {
    let ids = |l: &[Hold]| {
        let mut v: Vec<String> = l.iter().map(|h| h.hold_id.clone()).collect();
        v.sort();
        v
    };
    a.len() == b.len() && ids(a) == ids(b) && a.iter().all(|h| b.contains(h))
}

fn save(txn: &mut Txn<'_>, holds: &[Hold]) {
    txn.put_holds_record(serde_json::to_vec(holds).unwrap_or_default());
}

/// Places a hold on a case or on one document; returns its id.
pub fn hold(
    archive: &Archive,
    policy: &ArchivePolicy,
    case: Option<&str>,
    registration: Option<&str>,
    reason: &str,
    by: &str,
    at: i64,
) -> Result<String, RetentionError> {
    match (case, registration) {
        (Some(c), None) if policy.case(c).is_none() => {
            return Err(RetentionError::Refused(format!(
                "no case {c} in the nomenclature"
            )));
        }
        (Some(_), None) | (None, Some(_)) => {}
        _ => {
            return Err(RetentionError::Refused(
                "hold either a case or a document".into(),
            ));
        }
    }
    if reason.trim().is_empty() || by.trim().is_empty() {
        return Err(RetentionError::Refused(
            "a hold needs a reason and who places it".into(),
        ));
    }
    let (id, upto) = archive
        .append(|txn| {
            let unknown = match registration {
                Some(r) => txn.regno_entry(r)?.is_none(),
                None => false,
            };
            if unknown {
                return Err(ArchiveError::Refused(format!(
                    "no document {}",
                    registration.unwrap_or_default()
                )));
            }
            let mut all = active(txn)?;
            let n = txn.next_hold_number()?;
            let h = Hold {
                hold_id: format!("H{n}"),
                case: case.map(str::to_owned),
                registration: registration.map(str::to_owned),
                reason: reason.into(),
                by: by.into(),
            };
            all.push(h.clone());
            save(txn, &all);
            txn.push(
                Event::Hold {
                    hold_id: h.hold_id.clone(),
                    case: h.case,
                    registration: h.registration,
                    reason: h.reason,
                    by: h.by,
                },
                at,
            );
            Ok(h.hold_id)
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(id)
}

/// Releases a hold.
pub fn release(archive: &Archive, hold_id: &str, by: &str, at: i64) -> Result<(), RetentionError> {
    let ((), upto) = archive
        .append(|txn| {
            let mut all = active(txn)?;
            let before = all.len();
            all.retain(|h| h.hold_id != hold_id);
            if all.len() == before {
                return Err(ArchiveError::Refused(format!("no active hold {hold_id}")));
            }
            save(txn, &all);
            txn.push(
                Event::Release {
                    hold_id: hold_id.into(),
                    by: by.into(),
                },
                at,
            );
            Ok(())
        })
        .map_err(refused)?;
    archive.make_durable(upto)?;
    Ok(())
}

/// A refusal decided inside a transaction (nothing was applied) stays a refusal.
pub(super) fn refused(e: ArchiveError) -> RetentionError {
    match e {
        ArchiveError::Refused(m) => RetentionError::Refused(m),
        other => RetentionError::Archive(other),
    }
}
