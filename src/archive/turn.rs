//! Writing in turns, for a store several processes write at once (several `tamga serve` on one
//! PostgreSQL archive; see [`Store::begin_turn`]).
//!
//! The archive keeps in memory what the next batch is built on: the log's head (size, chain,
//! Merkle frontier, last filing time), the access log's stored head, the last partial tile's
//! hashes for proofs. Another process writing the same store makes all of it stale. So every
//! write the archive makes happens inside a turn, taken with the writer lock held: the store
//! says whether another process wrote since this one's last turn, and if so what is kept in
//! memory is read again from the store before anything is built. No other process writes
//! until the turn ends, so the batch is built on what the store holds — one chain, one
//! numbering, one access log. Reads stay outside turns: each batch is applied whole, so a read
//! sees a consistent store, only perhaps not the newest.
//!
//! Lock order, kept by every writer: the writer lock (`state`), then the store's turn, then
//! `edge` and `access`. A thread holding `access` takes neither of the others; one that kept
//! the turn but let the writer lock go (a checkpoint, a flush of access records) takes only
//! `access`.

use super::merkle::Hash;
use super::store::{Batch, Store, StoreError};
use super::{Archive, ArchiveError, State, lock, tiles};
use std::sync::atomic::Ordering;

/// The store's turn, ended when dropped: on success, and on every error path after it began.
pub(super) struct Turn<'a> {
    store: &'a dyn Store,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.store.end_turn();
    }
}

/// Takes `store`'s turn; returns it and whether another process wrote since this store's last
/// turn.
pub(super) fn begin(store: &dyn Store) -> Result<(Turn<'_>, bool), ArchiveError> {
    let stale = store.begin_turn()?;
    Ok((Turn { store }, stale))
}

impl Archive {
    /// Takes the store's turn; `state` is the writer lock's, held by the caller for as long as
    /// the turn. When another process wrote since this archive's last turn, what the archive
    /// keeps in memory is read again first.
    pub(super) fn turn(&self, state: &mut State) -> Result<Turn<'_>, ArchiveError> {
        let (turn, stale) = begin(self.store.as_ref())?;
        // A turn taken aside (see `apply_aside`) may have been the one to learn it.
        if stale | self.missed.swap(false, Ordering::AcqRel)
            && let Err(e) = self.reload(state)
        {
            // The store tells of another process's writes only once: until a reload succeeds,
            // every turn must try it again (and build nothing on the old head meanwhile).
            self.missed.store(true, Ordering::Release);
            return Err(e);
        }
        Ok(turn)
    }

    /// Takes the store's turn as [`Archive::turn`] does, then lets the writer lock go: for
    /// writes that build on the head but do not move it (a checkpoint, access records), so
    /// that filing in this process is not held up while they are signed and written. Returns
    /// the head as read in the turn. The turn keeps other processes out; this process's
    /// appends may go on meanwhile, so the head may be behind what is stored by the time the
    /// write lands — a checkpoint then names an earlier size, never a later one.
    pub(super) fn turn_for_head(&self) -> Result<(Turn<'_>, State), ArchiveError> {
        let mut state = self.settled()?;
        let turn = self.turn(&mut state)?;
        Ok((turn, state.clone()))
    }

    /// The log's (size, Merkle root, chain head) as stored: for readers that must agree with
    /// the latest checkpoint and the entries, which another process writing the store may have
    /// moved past this archive's memory ([`Archive::head`]).
    pub fn stored_head(&self) -> Result<(u64, Hash, Hash), ArchiveError> {
        let s = super::stored_head(self.store.as_ref())?;
        Ok((s.size, s.frontier.root(), s.chain))
    }

    /// The access log's (size, head) as stored (see [`Archive::stored_head`]).
    pub fn stored_access_head(&self) -> Result<(u64, [u8; 32]), ArchiveError> {
        super::access::stored_head(self.store.as_ref())
    }

    /// Writes this process's pending access records, then returns the access log's size as
    /// stored: every record so far, whichever process answered it.
    pub fn access_size(&self) -> Result<u64, ArchiveError> {
        self.flush_access()?;
        Ok(self.stored_access_head()?.0)
    }

    /// Applies `batch` — content-addressed chunks of a large document, staged before its
    /// filing — in a turn of its own, without the writer lock, so that filing goes on while a
    /// large document is stored. Should another process have written since this archive's
    /// last turn, the next turn with the writer lock reads what is stored again (the store
    /// tells it only once).
    pub(super) fn apply_aside(&self, batch: &Batch) -> Result<(), StoreError> {
        let stale = self.store.begin_turn()?;
        let _turn = Turn {
            store: self.store.as_ref(),
        };
        if stale {
            // Set before the turn ends, so the writer whose turn begins after it sees it.
            self.missed.store(true, Ordering::Release);
        }
        self.store.apply(batch)
    }

    /// Reads again from the store what this archive keeps in memory, after another process
    /// wrote. Of the receipts' dictionaries it remembers, those learnt from batches this
    /// process made durable stay (the space is append-only, so another writer can only have
    /// added dictionaries; a missing one is read, once); the others are forgotten, since the
    /// turn that wrote them may have been lost (see [`super::receipts::Stored`]).
    /// `commit.durable` stays: it says how far this process's own filings are durable, and a
    /// sync covers everything committed before it, whoever wrote it.
    fn reload(&self, state: &mut State) -> Result<(), ArchiveError> {
        let store = self.store.as_ref();
        let mut fresh = super::stored_head(store)?;
        fresh.filed = super::last_filed(store, fresh.size)?;
        let durable = lock(&self.commit).durable;
        self.receipt_dictionaries.reloaded(durable);
        // The stored head only grows (each writer extends what it read in its turn), but this
        // archive's memory may be ahead of it: a batch applied in a turn that was lost (the
        // lease ran out) before the store kept it. Below what this process knows durable,
        // though, the store lost or changed what it had kept.
        if fresh.size < state.size {
            if fresh.size < durable {
                return Err(ArchiveError::Damaged(format!(
                    "the stored log head went back from {} to {} entries, below the {durable} \
                     made durable",
                    state.size, fresh.size
                )));
            }
            tracing::warn!(
                memory = state.size,
                stored = fresh.size,
                "the stored log head is behind this process's: a turn was lost before its \
                 batch was kept; reading the stored head"
            );
        }
        // Batches built on the old head are checked before their receipts leave (`upto.rs`).
        self.epoch.fetch_add(1, Ordering::AcqRel);
        // Another process may have disposed of blobs this one staged as kept.
        self.blobs_moved.fetch_add(1, Ordering::AcqRel);
        lock(&self.access).reload(store)?;
        // The edge's hashes are read when a proof next needs them, not here: the turn is on
        // every frontend's filing path, and they are up to 255 entries.
        let mut edge = lock(&self.edge);
        edge.behind(fresh.size);
        edge.forget_past(durable);
        drop(edge);
        // The tallies and look-up lists may have been built in a turn that was lost (the
        // open's, its lease run out): the next append checks them again, which costs a read
        // of each one's version when they are built. So may the tiles; checking them reads a
        // full tile, so only once the store has counted a lost turn since they were checked
        // (appends keep the tiles with their entries otherwise).
        self.tally_ready.store(false, Ordering::Release);
        self.lists_ready.store(false, Ordering::Release);
        let losses = store.losses();
        if self.tiles_losses.swap(losses, Ordering::AcqRel) != losses {
            self.tiles_ready.store(false, Ordering::Release);
        }
        fresh.generation = state.generation;
        *state = fresh;
        Ok(())
    }

    /// A reader of the tree as this archive last saw it, for proofs and tiles: the size and
    /// the last partial tile's hashes come together, without waiting for a writer building
    /// its batch. Hashes not read since another process wrote are read now.
    pub fn tiles(&self) -> tiles::Tiles<'_> {
        let mut edge = lock(&self.edge);
        edge.catch_up(self.store.as_ref());
        edge.reader(self.store.as_ref())
    }

    /// A reader of a tree of at least `need` entries if the store holds one: this archive's
    /// own ([`Archive::tiles`]) when it is that large, else the stored head's, which another
    /// process writing the store may have grown (a client read a checkpoint from another
    /// frontend, and asks this one for a proof at its size). That reader reads the last
    /// partial tile's hashes from the entries; the edge stays as this archive's writes left
    /// it (it moves under the writer lock only).
    pub fn tiles_for(&self, need: u64) -> Result<tiles::Tiles<'_>, ArchiveError> {
        let t = self.tiles();
        if t.size() >= need {
            return Ok(t);
        }
        let size = super::stored_head(self.store.as_ref())?.size;
        Ok(tiles::Tiles::new(self.store.as_ref(), tiles::HEIGHT, size))
    }
}
