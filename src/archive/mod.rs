//! The durable part: an append-only, hash-chained log whose entries are the leaves of an
//! RFC 9162 Merkle tree, with documents kept as content-addressed chunks beside it.
//!
//! Writers take one lock to number their entries (so registration numbers and log positions
//! have no gaps and no duplicates) and apply one atomic batch — a filing's batch after the
//! lock is let go, once its receipt is signed, in the order the batches were built
//! (`pipeline.rs`); then they wait for durability,
//! which one of them — the leader — provides for all who are waiting with a single fsync and a
//! fresh signed checkpoint (group commit). Nothing here changes or removes a kept value:
//! the store refuses overwrites in append-only spaces, and only retention's disposal removes.

pub mod access;
pub mod audit;
pub mod backup;
pub mod blobs;
pub mod checkpoint;
mod commit;
#[cfg(test)]
mod contract;
pub mod evidence;
pub mod export;
mod head;
mod joined;
pub mod journal;
pub mod keys;
#[cfg(test)]
mod listing_tests;
pub mod lists;
pub mod log;
pub mod merkle;
mod overlaid;
mod pipeline;
#[cfg(test)]
mod pipeline_tests;
pub mod postgres;
pub mod proofs;
pub mod readonly;
mod rebuild;
pub mod receipts;
pub mod recheck;
pub mod replay;
pub mod settings;
mod shown;
pub mod sled;
pub mod store;
pub mod tally;
pub mod tilecheck;
pub mod tilepath;
pub mod tiles;
mod turn;
#[cfg(test)]
mod turn_tests;
mod upto;
mod warm;

pub use pipeline::Built;
pub use upto::Upto;

use crate::receipt::ReceiptSigner;
use checkpoint::Checkpoint;
use commit::Commit;
use head::{HEAD_KEY, State, decode_head, encode_head, last_filed, stored_head};
use log::{Entry, Event};
use merkle::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use store::{Batch, Space, Store, StoreError};

const LATEST_CHECKPOINT: &[u8] = b"checkpoint";

/// Why the archive refused or failed. Nothing half-written remains after any of these.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed (disk full, read-only, locked by another process).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Kept data does not read back as written.
    #[error("archive damaged: {0}")]
    Damaged(String),
    /// Signing a checkpoint failed.
    #[error("checkpoint signing failed")]
    Signing,
    /// A rule refused the operation inside its transaction; nothing was applied.
    #[error("{0}")]
    Refused(String),
    /// The same submission is being filed right now (its receipt is being signed): nothing
    /// was applied; its receipt can be read once that filing is (see `pipeline.rs`).
    #[error("this submission is being filed right now")]
    InFlight,
}

/// Where an entry landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Entry index.
    pub index: u64,
    /// SHA-256 of the entry's encoding.
    pub entry_hash: Hash,
    /// Tree size including this entry.
    pub tree_size: u64,
}

/// The archive.
#[derive(Debug)]
pub struct Archive {
    store: Box<dyn Store>,
    origin: String,
    signer: Arc<ReceiptSigner>,
    state: Mutex<State>,
    commit: Mutex<Commit>,
    committed: std::sync::Condvar,
    syncs: std::sync::atomic::AtomicU64,
    access: Mutex<access::AccessLog>,
    /// Whether the stored tiles cover the log (see [`tiles::ensure`]); appends keep them so.
    tiles_ready: std::sync::atomic::AtomicBool,
    /// The store's count of lost turns ([`Store::losses`]) when `tiles_ready` was last
    /// checked: tiles built in a turn that was lost are built again (`turn.rs`).
    tiles_losses: std::sync::atomic::AtomicU64,
    /// The last, partial level-0 tile's hashes, for proofs (see [`tiles::Edge`]).
    edge: Mutex<tiles::Edge>,
    /// Whether the per-case and reference indexes cover the log (see [`tally::ensure`]).
    tally_ready: std::sync::atomic::AtomicBool,
    /// Whether the console's look-up lists cover the log (see [`lists::ensure`]).
    lists_ready: std::sync::atomic::AtomicBool,
    /// The receipts' dictionaries this store is known to hold (see [`receipts::Stored`]).
    receipt_dictionaries: receipts::Stored,
    /// Whether a turn taken without the writer lock found another process's writes: the next
    /// turn with it reads what is stored again (see `turn.rs`).
    missed: std::sync::atomic::AtomicBool,
    /// How many times the head was read again after another process wrote (`reload`): a
    /// batch built in an earlier epoch is checked before its receipt leaves (see `upto.rs`).
    epoch: std::sync::atomic::AtomicU64,
    /// Moves whenever blobs may have left the store: a disposal applied, or another process's
    /// writes read (see `evidence::Staged`). Written under the writer lock.
    blobs_moved: std::sync::atomic::AtomicU64,
    /// Filings built but not yet applied, waiting for their receipts (see `pipeline.rs`).
    pipeline: pipeline::Pipeline,
}

/// A number as the index stores it: 8 bytes, big-endian.
pub fn index_u64(value: Option<Vec<u8>>) -> Option<u64> {
    value
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes)
}

/// The index key of a registration number (its value: the entry's position in the log).
pub fn regno_key(regno: &str) -> Vec<u8> {
    format!("regno/{regno}").into_bytes()
}

/// The index key of a case's registration counter.
pub fn counter_key(case: &str) -> Vec<u8> {
    format!("counter/{case}").into_bytes()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them half-updated: state is replaced whole
    // after the store has applied a batch.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Archive {
    fn drop(&mut self) {
        // Records chained but not yet written would otherwise be lost with the process; a
        // failure here has no one left to tell, and the next checkpoint cannot cover them.
        let _ = self.flush_access();
    }
}

impl Archive {
    /// Opens the archive in `store`; `origin` names its log in checkpoints.
    pub fn open(
        store: Box<dyn Store>,
        origin: String,
        signer: Arc<ReceiptSigner>,
    ) -> Result<Archive, ArchiveError> {
        // The derived indexes an archive from before them lacks are built in a turn, so that
        // no other process writing the store builds them at once (or files meanwhile). A store
        // that gives no turn (read-only) cannot take them anyway: then the head is read as it
        // is, and each build is retried by the first append.
        // Counted before the turn: should it be lost, the tiles built in it are built again.
        let losses = store.losses();
        let turn = turn::begin(store.as_ref()).ok();
        let mut state = stored_head(store.as_ref())?;
        state.filed = last_filed(store.as_ref(), state.size)?;
        // What is covered by a signed checkpoint counts as durable; anything after it (a crash
        // between apply and sync) is made durable and checkpointed by the next writer.
        let checkpointed = index_u64(store.get(Space::Index, LATEST_CHECKPOINT)?).unwrap_or(0);
        let size = checkpointed.min(state.size);
        let access = access::stored_head(store.as_ref())?;
        // An archive from before tiles gets them now. A read-only store cannot take them (its
        // proofs recompute what is missing); a failure here is retried by the first append.
        let built = turn.is_some();
        let tiles_ready = built && tiles::ensure(store.as_ref(), tiles::HEIGHT, state.size).is_ok();
        // A missing entry is the audit's to name; proofs then read the entries themselves.
        let edge = tiles::Edge::load(store.as_ref(), state.size);
        let tally_ready = built && tally::ensure(store.as_ref(), state.size).is_ok();
        // The console's look-up lists likewise (retried by every append until built).
        let lists_ready = built && lists::ensure(store.as_ref(), state.size).is_ok();
        drop(turn);
        // What is stored counts as durable only once synced: a process killed before its
        // sync leaves its batch in the OS's cache, where a power loss may still take it, and a
        // reader must not be shown its checkpoint before then (`shown.rs`). So one sync now,
        // outside the turn as every sync; a store that cannot (read-only) has nothing durable
        // of this process's, and a reader's or writer's first sync makes up for it.
        let size = match store.sync() {
            Ok(()) => size,
            Err(e) => {
                tracing::info!(error = %e, "the store was not synced at open");
                0
            }
        };
        // Outside the turn: only reads, so that no proof pays for the upper tiles.
        edge.warm(store.as_ref());
        Ok(Archive {
            store,
            origin,
            signer,
            state: Mutex::new(state),
            commit: Mutex::new(Commit {
                durable: size,
                leading: false,
            }),
            committed: std::sync::Condvar::new(),
            syncs: std::sync::atomic::AtomicU64::new(0),
            access: Mutex::new(access::AccessLog::new(access)),
            tiles_ready: std::sync::atomic::AtomicBool::new(tiles_ready),
            tiles_losses: std::sync::atomic::AtomicU64::new(losses),
            edge: Mutex::new(edge),
            tally_ready: std::sync::atomic::AtomicBool::new(tally_ready),
            lists_ready: std::sync::atomic::AtomicBool::new(lists_ready),
            receipt_dictionaries: receipts::Stored::default(),
            missed: std::sync::atomic::AtomicBool::new(false),
            epoch: std::sync::atomic::AtomicU64::new(0),
            blobs_moved: std::sync::atomic::AtomicU64::new(0),
            pipeline: pipeline::Pipeline::default(),
        })
    }

    /// The store, for the archive's own modules. Everything else asks typed questions
    /// (`keys.rs`): the archive owns its key schema.
    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The raw store, for tests, benches and fuzz targets that inspect or damage its bytes on
    /// purpose. tamga's own code never uses it (a test greps for that).
    #[doc(hidden)]
    pub fn raw_store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The receipt signer (also the checkpoint key).
    pub fn signer(&self) -> &ReceiptSigner {
        &self.signer
    }

    /// The log's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Current tree size (of what the store holds: filings still being signed wait).
    pub fn size(&self) -> u64 {
        self.settled_or_held().size
    }

    /// Current (tree size, Merkle root, chain head).
    pub fn head(&self) -> (u64, Hash, Hash) {
        let s = self.settled_or_held();
        (s.size, s.frontier.root(), s.chain)
    }

    /// Builds and applies one atomic batch. `build` sees the store as of now plus its own
    /// pending writes, and appends entries through the [`Txn`]. Returns what `build` returned
    /// and what to pass to [`Archive::make_durable`].
    pub fn append<T>(
        &self,
        build: impl FnOnce(&mut Txn<'_>) -> Result<T, ArchiveError>,
    ) -> Result<(T, Upto), ArchiveError> {
        let mut state = self.settled()?;
        // Every batch is built and applied in the store's turn, on the head read in it.
        let _turn = self.turn(&mut state)?;
        // Read after the turn's reload, under the writer lock: the epoch the batch is built in,
        // and the losses counted before it is handed over (`upto.rs`).
        let epoch = self.epoch.load(std::sync::atomic::Ordering::Acquire);
        let losses = self.store.losses();
        self.ensure_tiles(state.size)?;
        let mut txn = self.txn(self.store.as_ref(), &state, None);
        let out = build(&mut txn)?;
        self.settle_indexes(&mut txn)?;
        if txn.batch.puts.is_empty() && txn.batch.disposals.is_empty() {
            // Nothing written, nothing to lose: what `build` read is what the store holds.
            return Ok((out, Upto::size(state.size)));
        }
        txn.seal(state.size)?;
        let applied = self.store.apply(&txn.batch);
        // After the apply, failed or not (a failure may still have destroyed them): a blob
        // staged as kept before this point is looked up again (`evidence::file`).
        if !txn.batch.disposals.is_empty() {
            self.blobs_moved
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        applied?;
        // Trusted across a lost turn once a size past the head it was built on is durable.
        self.receipt_dictionaries
            .applied(&txn.batch, state.size + 1);
        let generation = state.generation;
        *state = txn.state;
        state.generation = generation;
        // Under the writer lock still, so the edge moves with the size, batch by batch.
        self.advance_edge(&txn.leaves);
        let last = txn.leaves.last().copied();
        Ok((out, Upto::appended(state.size, epoch, losses, last)))
    }

    /// Runs `read` over the store as it is now, without the writer lock (nor the state lock a
    /// writer holds while it builds its batch): whole-archive reads (a retention plan, showing
    /// an act) must not stall filing. Each batch is applied atomically, so `read` sees every
    /// batch whole or not at all; batches applied while it runs may or may not be seen. Its
    /// head is the one stored with the last applied batch. The [`Txn`] it gets is shared, so it
    /// cannot write.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Txn<'_>) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let state = stored_head(self.store.as_ref())?;
        read(&self.txn(self.store.as_ref(), &state, None))
    }

    /// A batch to build over `store` (the store, or the view of it the filing queue gives),
    /// on `state`.
    fn txn<'a>(
        &'a self,
        store: &'a dyn Store,
        state: &State,
        pipeline: Option<&'a pipeline::Pipeline>,
    ) -> Txn<'a> {
        Txn {
            store,
            batch: Batch::default(),
            state: state.clone(),
            leaves: Vec::new(),
            tally: tally::Pending::default(),
            pushed: Vec::new(),
            blobs_moved: self.blobs_moved.load(std::sync::atomic::Ordering::Acquire),
            receipt_dictionaries: &self.receipt_dictionaries,
            pipeline,
        }
    }

    /// Moves the per-case, reference and look-up indexes with the entries, in their batch (a
    /// disposal settles them itself).
    fn settle_indexes(&self, txn: &mut Txn<'_>) -> Result<(), ArchiveError> {
        if !tally::settle(txn)?.is_empty() {
            return Err(ArchiveError::Refused(
                "a disposal must destroy what it leaves unreferenced".into(),
            ));
        }
        lists::settle(txn)
    }

    /// The head for a reader that cannot fail: settled (see [`Archive::settled`]), or, should
    /// reading the stored head after a failed filing fail too, as held.
    fn settled_or_held(&self) -> MutexGuard<'_, State> {
        match self.settled() {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(error = %e, "the stored head could not be read");
                lock(&self.state)
            }
        }
    }

    /// Moves the tiles' edge over the leaves of a batch just applied (batches in the order
    /// they were applied).
    fn advance_edge(&self, leaves: &[Hash]) {
        let mut edge = lock(&self.edge);
        let before = edge.size();
        edge.advance(leaves);
        if edge.filled_upper(before) {
            edge.warm(self.store.as_ref());
        }
    }

    /// Whether the tiles and the derived indexes cover the log (see `ensure_tiles`).
    fn indexes_ready(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.tiles_ready.load(Ordering::Acquire)
            && self.tally_ready.load(Ordering::Acquire)
            && self.lists_ready.load(Ordering::Acquire)
    }

    /// Builds the tiles and indexes the open could not, and checks again those whose build a
    /// read of the head again put in doubt (`turn.rs`): under the writer lock and in the
    /// store's turn, so before any append.
    fn ensure_tiles(&self, size: u64) -> Result<(), ArchiveError> {
        use std::sync::atomic::Ordering;
        if !self.tiles_ready.load(Ordering::Acquire) {
            tiles::ensure(self.store.as_ref(), tiles::HEIGHT, size)?;
            self.tiles_ready.store(true, Ordering::Release);
        }
        if !self.tally_ready.load(Ordering::Acquire) {
            tally::ensure(self.store.as_ref(), size)?;
            self.tally_ready.store(true, Ordering::Release);
        }
        if !self.lists_ready.load(Ordering::Acquire) {
            lists::ensure(self.store.as_ref(), size)?;
            self.lists_ready.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// How many times this process has synced the store (each sync covers a commit group).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The newest signed checkpoint, verified with the service key.
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, ArchiveError> {
        let Some(key) = self.store.get(Space::Index, LATEST_CHECKPOINT)? else {
            return Ok(None);
        };
        let note = self
            .store
            .get(Space::Checkpoints, &key)?
            .ok_or_else(|| ArchiveError::Damaged("latest checkpoint missing".into()))?;
        let text = String::from_utf8(note)
            .map_err(|_| ArchiveError::Damaged("checkpoint is not text".into()))?;
        Checkpoint::verify(&text, self.signer.spki())
            .map(Some)
            .map_err(|e| ArchiveError::Damaged(e.to_string()))
    }

    /// The encoded entry at `index`.
    pub fn entry_bytes(&self, index: u64) -> Result<Option<Vec<u8>>, ArchiveError> {
        Ok(self.store.get(Space::Log, &index.to_be_bytes())?)
    }

    /// A number kept in the index under `key` (0 when absent).
    pub fn index_number(&self, key: &[u8]) -> Result<u64, ArchiveError> {
        Ok(index_u64(self.store.get(Space::Index, key)?).unwrap_or(0))
    }

    /// The log position of a registered document.
    pub fn regno_entry(&self, regno: &str) -> Result<Option<u64>, ArchiveError> {
        Ok(index_u64(self.store.get(Space::Index, &regno_key(regno))?))
    }

    /// The size of the latest signed checkpoint, if any.
    pub fn checkpoint_size(&self) -> Result<Option<u64>, ArchiveError> {
        Ok(index_u64(self.store.get(Space::Index, LATEST_CHECKPOINT)?))
    }

    /// The decoded entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Option<Entry>, ArchiveError> {
        match self.entry_bytes(index)? {
            Some(b) => Entry::decode(&b)
                .map(Some)
                .map_err(|e| ArchiveError::Damaged(format!("entry {index}: {e}"))),
            None => Ok(None),
        }
    }
}

/// One batch being built under the writer lock.
pub struct Txn<'a> {
    store: &'a dyn Store,
    batch: Batch,
    state: State,
    /// The leaf hashes of the entries this batch appends, for the tiles.
    leaves: Vec<Hash>,
    /// What the entries pushed so far change in the per-case and reference indexes.
    tally: tally::Pending,
    /// The entries pushed so far, for the look-up lists ([`lists::settle`]).
    pushed: Vec<Entry>,
    /// The archive's `blobs_moved` when the batch was begun.
    blobs_moved: u64,
    /// The archive's memory of the receipts' dictionaries its store holds.
    receipt_dictionaries: &'a receipts::Stored,
    /// The filing queue, whose receipts in flight a filing's build must not file again.
    pipeline: Option<&'a pipeline::Pipeline>,
}

impl Txn<'_> {
    /// Reads through this batch's pending writes to the store.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, ArchiveError> {
        if let Some(v) = self.batch.pending(space, key) {
            return Ok(Some(v.to_vec()));
        }
        Ok(self.store.get(space, key)?)
    }

    /// Adds a write to the batch.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.batch.put(space, key, value);
    }

    /// Destroys a document's stored bytes (chunk or manifest) in this batch. Only retention's
    /// execution of an approved act calls this.
    pub fn dispose(&mut self, space: Space, key: impl Into<Vec<u8>>) {
        self.batch.dispose(space, key);
    }

    /// Files a document's prepared bytes (once, however often submitted); returns its SHA-256.
    pub fn put_blob(&mut self, blob: blobs::Prepared) -> Result<Hash, ArchiveError> {
        Ok(blobs::put(&mut self.batch, self.store, blob)?)
    }

    /// The store under this batch (reads do not see the batch's own writes).
    pub(crate) fn store(&self) -> &dyn Store {
        self.store
    }

    /// A number kept in the index under `key`, as this batch sees it (0 when absent).
    pub fn index_number(&self, key: &[u8]) -> Result<u64, ArchiveError> {
        Ok(index_u64(self.get(Space::Index, key)?).unwrap_or(0))
    }

    /// Increments the counter under `key` in this batch and returns its new value (1 first).
    pub fn next_number(&mut self, key: &[u8]) -> Result<u64, ArchiveError> {
        let n = self.index_number(key)? + 1;
        self.put(Space::Index, key.to_vec(), n.to_be_bytes());
        Ok(n)
    }

    /// Closes the batch of entries appended to a log of `base` entries: the tiles they fill
    /// or grow (C2SP tlog-tiles) and the new head land in it.
    fn seal(&mut self, base: u64) -> Result<(), ArchiveError> {
        tiles::extend(
            self.store,
            tiles::HEIGHT,
            base,
            &self.leaves,
            &mut self.batch,
        )?;
        self.batch
            .put(Space::Index, HEAD_KEY, encode_head(&self.state));
        Ok(())
    }

    /// The position the next entry will take.
    pub fn next_index(&self) -> u64 {
        self.state.size
    }

    /// Appends an entry stating time `at` (Unix seconds). It is filed at the clock's time, or
    /// at the last entry's if the clock is behind it, so filing times never run backwards;
    /// `at` is marked backfilled when it lies behind them (see [`log::is_backfilled`]).
    pub fn push(&mut self, event: Event, at: i64) -> Position {
        let before = self.state.filed;
        let filed = crate::clock::now().max(before);
        self.state.filed = filed;
        let entry = Entry {
            index: self.state.size,
            prev: crate::verify::certificate::hex(&self.state.chain),
            at: crate::verify::fmt_time(at),
            filed: Some(crate::verify::fmt_time(filed)),
            backfilled: log::is_backfilled(at, filed, before),
            event,
        };
        self.tally.note(&entry.event);
        let bytes = entry.encode();
        let entry_hash = log::entry_hash(&bytes);
        let leaf = merkle::leaf_hash(&bytes);
        self.state.frontier.push(leaf);
        self.leaves.push(leaf);
        let index = entry.index;
        self.batch.put(Space::Log, index.to_be_bytes(), bytes);
        self.pushed.push(entry);
        self.state.chain = entry_hash;
        self.state.size += 1;
        Position {
            index,
            entry_hash,
            tree_size: self.state.size,
        }
    }
}
