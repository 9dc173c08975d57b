//! The access log: every request to the service — who, when, what, on what, and the decision —
//! as a hash chain of its own, whose head every signed checkpoint covers. A record is chained in
//! memory before the response leaves, and written to the store with the next commit group (in
//! the same batch as the checkpoint that covers it), by the service's once-a-second flush, or
//! when [`MAX_PENDING`] are waiting; so reading leaves a trace that cannot be edited later
//! without the checkpoint showing, and logging costs a request no write of its own.

use super::store::{Batch, Space};
use super::{Archive, ArchiveError, lock};
use crate::verify::certificate::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(super) const HEAD_KEY: &[u8] = b"access-head";

/// Records chained but not yet written beyond which a request waits for them to be written.
pub const MAX_PENDING: usize = 4096;

/// The access log's in-memory head and the records not yet in the store.
#[derive(Debug)]
pub(super) struct AccessLog {
    /// Records chained so far, written or not.
    pub size: u64,
    /// Hash of the last record's encoding.
    pub head: [u8; 32],
    /// Encoded records `size - pending.len() .. size`, oldest first.
    pub pending: Vec<Vec<u8>>,
}

impl AccessLog {
    pub(super) fn new((size, head): (u64, [u8; 32])) -> Self {
        AccessLog {
            size,
            head,
            pending: Vec::new(),
        }
    }

    /// Adds the pending records and the head to `batch`; once the caller has applied it, they
    /// are no longer pending (and stay so if applying fails, for the next attempt).
    pub(super) fn put_into(&self, batch: &mut Batch) {
        let first = self.size - self.pending.len() as u64;
        for (i, bytes) in (first..).zip(&self.pending) {
            batch.put(Space::Access, i.to_be_bytes(), bytes.clone());
        }
        let mut h = self.size.to_be_bytes().to_vec();
        h.extend_from_slice(&self.head);
        batch.put(Space::Index, HEAD_KEY, h);
    }
}

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
    /// Chains an access record at time `at`. It reaches the store with the next commit group or
    /// flush; only when [`MAX_PENDING`] records wait does this call write them itself.
    pub fn record_access(&self, a: Access, at: i64) -> Result<(), ArchiveError> {
        let mut log = lock(&self.access);
        let rec = AccessRecord {
            index: log.size,
            prev: hex(&log.head),
            at: crate::verify::fmt_time(at),
            principal: a.principal,
            action: a.action,
            target: a.target,
            decision: a.decision.to_owned(),
            status: a.status,
        };
        let bytes = serde_json::to_vec(&rec).unwrap_or_default();
        log.head = Sha256::digest(&bytes).into();
        log.size += 1;
        log.pending.push(bytes);
        // Written here once every MAX_PENDING records: when the store refuses, the records stay
        // pending and the next attempt waits for the next MAX_PENDING (or the flusher), so a
        // store that cannot write does not make every request copy the whole backlog.
        if log.pending.len().is_multiple_of(MAX_PENDING) {
            self.write_access(&mut log)?;
        }
        Ok(())
    }

    /// Access records chained but not yet in the store.
    pub fn access_pending(&self) -> usize {
        lock(&self.access).pending.len()
    }

    /// Writes the records chained but not yet stored (durable with the next sync).
    pub fn flush_access(&self) -> Result<(), ArchiveError> {
        self.write_access(&mut lock(&self.access))
    }

    fn write_access(&self, log: &mut AccessLog) -> Result<(), ArchiveError> {
        if log.pending.is_empty() {
            return Ok(());
        }
        let mut b = Batch::default();
        log.put_into(&mut b);
        self.store.apply(&b)?;
        log.pending.clear();
        Ok(())
    }

    /// Access records `from..from+limit`.
    pub fn access_records(&self, from: u64, limit: u64) -> Result<Vec<AccessRecord>, ArchiveError> {
        self.flush_access()?;
        let size = lock(&self.access).size;
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

    /// Access-log size and head (records chained so far, written or not).
    pub fn access_head(&self) -> (u64, [u8; 32]) {
        let log = lock(&self.access);
        (log.size, log.head)
    }
}

/// Recomputes the access chain up to `size`; returns its head, or the first broken index.
pub fn chain_head(archive: &Archive, size: u64) -> Result<[u8; 32], (u64, String)> {
    chain_of(size, &|i| {
        archive
            .store
            .get(Space::Access, &i.to_be_bytes())
            .map_err(|e| e.to_string())
    })
}

/// Recomputes the access chain of the records `get` reads (the store's, or a backup's) up to
/// `size`; returns its head, or the first broken index.
pub fn chain_of(
    size: u64,
    get: &dyn Fn(u64) -> Result<Option<Vec<u8>>, String>,
) -> Result<[u8; 32], (u64, String)> {
    let mut head = [0u8; 32];
    for i in 0..size {
        let raw = get(i)
            .map_err(|e| (i, e))?
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
