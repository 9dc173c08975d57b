//! The access log: every request to the service — who, when, what, on what, and the decision —
//! as a hash chain of its own, whose head every signed checkpoint covers. A record is kept in
//! memory before the response leaves, and written to the store with the next commit group (in
//! the same batch as the checkpoint that covers it), by the service's once-a-second flush, or
//! when [`MAX_PENDING`] are waiting; so reading leaves a trace that cannot be edited later
//! without the checkpoint showing, and logging costs a request no write of its own.
//!
//! A record is chained when it is written, not when it is recorded. Several `tamga serve`
//! processes may write one archive (PostgreSQL), and the access log is one chain across them:
//! the next index and the previous record's hash are only known in the store's turn (see
//! [`super::store::Store::begin_turn`]), read again from the stored head whenever another
//! process wrote since. So a pending record is kept unchained — principal, action, target,
//! decision, status, time — and gets its index and `prev` in the batch that writes it.

use super::store::{Batch, Space, Store};
use super::{Archive, ArchiveError, lock};
use crate::verify::certificate::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

/// The index key of the access chain's head: its size and hash, written with the records.
pub(super) const HEAD_KEY: &[u8] = b"access-head";

/// Records waiting to be written beyond which a request waits for them to be written.
pub const MAX_PENDING: usize = 4096;

/// The access log's stored head, as this archive last wrote or read it, and the records not yet
/// in the store.
#[derive(Debug)]
pub(super) struct AccessLog {
    /// Records in the store.
    pub size: u64,
    /// Hash of the last stored record's encoding.
    pub head: [u8; 32],
    /// Records not yet written, unchained, oldest first, each with its time.
    pub pending: Vec<(Access, i64)>,
    /// Records this archive wrote whose batch is not yet known durable, oldest first, each
    /// with the number of the write that wrote it. With several processes writing one store
    /// (`turn.rs`) a batch the store applied can still be lost with its turn: its records are
    /// then written again ([`AccessLog::reload`]) rather than lost with it.
    unsure: VecDeque<(u64, Access, i64)>,
    /// For each write in `unsure`, oldest first: its number and the (index, hash) of its last
    /// record, to tell on a reload which writes the store kept.
    heads: VecDeque<(u64, u64, [u8; 32])>,
    /// Writes of records so far.
    writes: u64,
}

impl AccessLog {
    /// The log whose stored chain ends at (size, head), with nothing waiting.
    pub(super) fn new((size, head): (u64, [u8; 32])) -> Self {
        AccessLog {
            size,
            head,
            pending: Vec::new(),
            unsure: VecDeque::new(),
            heads: VecDeque::new(),
            writes: 0,
        }
    }

    /// Reads the stored head again (in a turn, after another process wrote). Turns commit
    /// whole and in order, so the newest write whose last record is stored as written was
    /// kept with every write before it, and the writes after it were lost with their turn:
    /// their records are pending again, ahead of the others, to be chained anew. Usually the
    /// newest write is stored: one read. (Records of a kept write are never written twice:
    /// they would stand twice in the trail.)
    pub(super) fn reload(&mut self, store: &dyn Store) -> Result<(), ArchiveError> {
        (self.size, self.head) = stored_head(store)?;
        let newest = self.heads.back().map(|h| h.0);
        let mut kept = 0;
        for &(n, index, hash) in self.heads.iter().rev() {
            let stored = store.get(Space::Access, &index.to_be_bytes())?;
            if stored.is_some_and(|raw| <[u8; 32]>::from(Sha256::digest(&raw)) == hash) {
                kept = n;
                break;
            }
        }
        if newest.is_none_or(|n| n == kept) {
            return Ok(());
        }
        // The kept writes stay until a sync covers them; the lost ones are pending again.
        let at = self.unsure.partition_point(|(n, _, _)| *n <= kept);
        let lost = self
            .unsure
            .split_off(at)
            .into_iter()
            .map(|(_, a, at)| (a, at));
        self.pending = lost.chain(self.pending.drain(..)).collect();
        self.heads.retain(|(n, _, _)| *n <= kept);
        Ok(())
    }

    /// Chains the pending records after the stored head and adds them and the new head to
    /// `batch`; returns the new (size, head), which become this log's by [`AccessLog::written`]
    /// once the caller has applied the batch (if applying fails, the records stay pending, for
    /// the next attempt, and are chained again then). Called in the store's turn only.
    pub(super) fn put_into(&self, batch: &mut Batch) -> (u64, [u8; 32]) {
        let (mut size, mut head) = (self.size, self.head);
        for (a, at) in &self.pending {
            let rec = AccessRecord {
                index: size,
                prev: hex(&head),
                at: crate::verify::fmt_time(*at),
                principal: a.principal.clone(),
                action: a.action.clone(),
                target: a.target.clone(),
                decision: a.decision.to_owned(),
                status: a.status,
            };
            let bytes = serde_json::to_vec(&rec).unwrap_or_default();
            head = Sha256::digest(&bytes).into();
            batch.put(Space::Access, size.to_be_bytes(), bytes);
            size += 1;
        }
        let mut h = size.to_be_bytes().to_vec();
        h.extend_from_slice(&head);
        batch.put(Space::Index, HEAD_KEY, h);
        (size, head)
    }

    /// The batch [`AccessLog::put_into`] filled was applied: its records are stored, and kept
    /// until a sync covers them ([`AccessLog::durable`]).
    pub(super) fn written(&mut self, (size, head): (u64, [u8; 32])) {
        if !self.pending.is_empty() {
            self.writes += 1;
            let n = self.writes;
            let records = self.pending.drain(..).map(|(a, at)| (n, a, at));
            self.unsure.extend(records);
            self.heads.push_back((n, size - 1, head));
        }
        self.size = size;
        self.head = head;
    }

    /// The writes numbered up to `writes` are durable: their records are forgotten.
    pub(super) fn durable(&mut self, writes: u64) {
        while self.unsure.front().is_some_and(|(n, _, _)| *n <= writes) {
            self.unsure.pop_front();
        }
        while self.heads.front().is_some_and(|(n, _, _)| *n <= writes) {
            self.heads.pop_front();
        }
    }

    /// The number of the last write so far (see [`AccessLog::durable`]).
    pub(super) fn writes(&self) -> u64 {
        self.writes
    }

    /// How many written records wait for a sync.
    pub(super) fn unsure(&self) -> usize {
        self.unsure.len()
    }
}

/// The access log's stored (size, head); (0, zeros) for none.
pub(super) fn stored_head(store: &dyn Store) -> Result<(u64, [u8; 32]), ArchiveError> {
    match store.get(Space::Index, HEAD_KEY)? {
        Some(raw) => {
            decode_head(&raw).ok_or_else(|| ArchiveError::Damaged("access-log head".into()))
        }
        None => Ok((0, [0; 32])),
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

/// The (size, head hash) stored under [`HEAD_KEY`]; `None` when it does not decode.
pub(super) fn decode_head(raw: &[u8]) -> Option<(u64, [u8; 32])> {
    let (n, h) = raw.split_at_checked(8)?;
    Some((u64::from_be_bytes(n.try_into().ok()?), h.try_into().ok()?))
}

impl Archive {
    /// Keeps an access record at time `at`. It is chained and reaches the store with the next
    /// commit group or flush; only when [`MAX_PENDING`] records wait does this call write them
    /// itself.
    pub fn record_access(&self, a: Access, at: i64) -> Result<(), ArchiveError> {
        let mut log = lock(&self.access);
        log.pending.push((a, at));
        // Written here once every MAX_PENDING records: when the store refuses, the records stay
        // pending and the next attempt waits for the next MAX_PENDING (or the flusher), so a
        // store that cannot write does not make every request copy the whole backlog.
        if log.pending.len().is_multiple_of(MAX_PENDING) {
            // Not under the access lock: a write takes the writer lock and the store's turn
            // first (the order every writer keeps), then this lock.
            drop(log);
            self.flush_access()?;
        }
        Ok(())
    }

    /// Access records not yet in the store.
    pub fn access_pending(&self) -> usize {
        lock(&self.access).pending.len()
    }

    /// Writes the records not yet stored (durable with the next sync), in a turn of the store.
    pub fn flush_access(&self) -> Result<(), ArchiveError> {
        // Nothing to write takes no turn: the service flushes every second, on every frontend.
        if lock(&self.access).pending.is_empty() {
            return Ok(());
        }
        {
            let (_turn, _) = self.turn_for_head()?;
            self.write_access()?;
        }
        // Written records are kept until a sync covers them (see `AccessLog::unsure`): without
        // filings to sync them, one sync per MAX_PENDING records bounds that memory.
        if lock(&self.access).unsure() >= MAX_PENDING {
            self.commit(self.size(), true)?;
        }
        Ok(())
    }

    /// Writes the pending records, chained after the stored head. In a turn only.
    pub(super) fn write_access(&self) -> Result<(), ArchiveError> {
        let mut log = lock(&self.access);
        if log.pending.is_empty() {
            return Ok(());
        }
        let mut b = Batch::default();
        let head = log.put_into(&mut b);
        self.store.apply(&b)?;
        log.written(head);
        Ok(())
    }

    /// Access records `from..from+limit`.
    pub fn access_records(&self, from: u64, limit: u64) -> Result<Vec<AccessRecord>, ArchiveError> {
        // Up to the stored head: other processes' records count too.
        let size = self.access_size()?;
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

    /// Access-log size and head as this archive last wrote or read them in the store (the
    /// pending records are not counted: they have no place in the chain yet; another process
    /// may have written more since).
    pub fn access_head(&self) -> (u64, [u8; 32]) {
        let log = lock(&self.access);
        (log.size, log.head)
    }
}

/// Why the access chain does not verify, at which record.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The record could not be read.
    #[error("access record {index}: {source}")]
    Read {
        /// The record.
        index: u64,
        /// What the store said.
        #[source]
        source: super::store::StoreError,
    },
    /// The record is not there.
    #[error("access record {0} missing")]
    Missing(u64),
    /// The record does not decode.
    #[error("access record {index}: {source}")]
    Undecodable {
        /// The record.
        index: u64,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The record names another position or another previous record.
    #[error("access record {0} does not chain")]
    Unchained(u64),
}

impl ChainError {
    /// The record at fault.
    pub fn index(&self) -> u64 {
        match self {
            ChainError::Read { index, .. } | ChainError::Undecodable { index, .. } => *index,
            ChainError::Missing(index) | ChainError::Unchained(index) => *index,
        }
    }
}

/// Recomputes the access chain up to `size`; returns its head, or why it breaks where.
pub fn chain_head(archive: &Archive, size: u64) -> Result<[u8; 32], ChainError> {
    chain_of(size, &|i| {
        archive.store.get(Space::Access, &i.to_be_bytes())
    })
}

/// Recomputes the access chain of the records `get` reads (the store's, or a backup's) up to
/// `size`; returns its head, or why it breaks where.
pub fn chain_of(
    size: u64,
    get: &dyn Fn(u64) -> Result<Option<Vec<u8>>, super::store::StoreError>,
) -> Result<[u8; 32], ChainError> {
    let mut head = [0u8; 32];
    for i in 0..size {
        let raw = get(i)
            .map_err(|source| ChainError::Read { index: i, source })?
            .ok_or(ChainError::Missing(i))?;
        let rec: AccessRecord = serde_json::from_slice(&raw)
            .map_err(|source| ChainError::Undecodable { index: i, source })?;
        if rec.index != i || rec.prev != hex(&head) {
            return Err(ChainError::Unchained(i));
        }
        head = Sha256::digest(&raw).into();
    }
    Ok(head)
}
