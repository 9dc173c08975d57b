//! The access log: every request to the service — who, when, what, on what, and the decision —
//! as a hash chain of its own, whose head every signed checkpoint covers. Records are written
//! with the request and made durable with the next commit group (or sled's flusher within a
//! second), so reading leaves a trace that cannot be edited later without the checkpoint showing.

use super::store::{Batch, Space};
use super::{Archive, ArchiveError, lock};
use crate::verify::certificate::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(super) const HEAD_KEY: &[u8] = b"access-head";

/// One access-log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// Position, from 0.
    pub index: u64,
    /// Hash of the previous record's encoding, hex.
    pub prev: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The principal's name, when known.
    pub principal: Option<String>,
    /// Method and route, e.g. `GET /v1/documents/{regno}/content`.
    pub action: String,
    /// The concrete target (path and query).
    pub target: String,
    /// `allowed`, `denied` or `unauthenticated`.
    pub decision: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// What a caller records; index, chain and time are filled in.
#[derive(Debug, Clone)]
pub struct Access {
    /// Principal name.
    pub principal: Option<String>,
    /// Method and route.
    pub action: String,
    /// Path and query.
    pub target: String,
    /// Decision.
    pub decision: &'static str,
    /// HTTP status.
    pub status: u16,
}

pub(super) fn decode_head(raw: &[u8]) -> Option<(u64, [u8; 32])> {
    let (n, h) = raw.split_at_checked(8)?;
    Some((u64::from_be_bytes(n.try_into().ok()?), h.try_into().ok()?))
}

impl Archive {
    /// Appends an access record at time `at`.
    pub fn record_access(&self, a: Access, at: i64) -> Result<(), ArchiveError> {
        let mut head = lock(&self.access);
        let rec = AccessRecord {
            index: head.0,
            prev: hex(&head.1),
            at: crate::verify::fmt_time(at),
            principal: a.principal,
            action: a.action,
            target: a.target,
            decision: a.decision.to_owned(),
            status: a.status,
        };
        let bytes = serde_json::to_vec(&rec).unwrap_or_default();
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let next = (head.0 + 1, hash);
        let mut b = Batch::default();
        b.put(Space::Access, rec.index.to_be_bytes(), bytes);
        let mut h = next.0.to_be_bytes().to_vec();
        h.extend_from_slice(&hash);
        b.put(Space::Index, HEAD_KEY, h);
        self.store.apply(&b)?;
        *head = next;
        Ok(())
    }

    /// Access records `from..from+limit`.
    pub fn access_records(&self, from: u64, limit: u64) -> Result<Vec<AccessRecord>, ArchiveError> {
        let size = lock(&self.access).0;
        (from..size.min(from.saturating_add(limit)))
            .map(|i| {
                let raw = self
                    .store
                    .get(Space::Access, &i.to_be_bytes())?
                    .ok_or_else(|| ArchiveError::Damaged(format!("access record {i} missing")))?;
                serde_json::from_slice(&raw)
                    .map_err(|e| ArchiveError::Damaged(format!("access record {i}: {e}")))
            })
            .collect()
    }

    /// Access-log size and head.
    pub fn access_head(&self) -> (u64, [u8; 32]) {
        *lock(&self.access)
    }
}

/// Recomputes the access chain up to `size`; returns its head, or the first broken index.
pub fn chain_head(archive: &Archive, size: u64) -> Result<[u8; 32], (u64, String)> {
    let mut head = [0u8; 32];
    for i in 0..size {
        let raw = archive
            .store
            .get(Space::Access, &i.to_be_bytes())
            .map_err(|e| (i, e.to_string()))?
            .ok_or((i, "access record missing".to_owned()))?;
        let rec: AccessRecord =
            serde_json::from_slice(&raw).map_err(|e| (i, format!("access record: {e}")))?;
        if rec.index != i || rec.prev != hex(&head) {
            return Err((i, "access record does not chain".into()));
        }
        head = Sha256::digest(&raw).into();
    }
    Ok(head)
}
