//! What readers are shown of the log: only what a completed sync covers.
//!
//! A filing's batch — its entries, its tiles and the checkpoint signed for it — is applied
//! before the sync that makes it durable (`commit.rs`). Between the two the store's reads
//! already answer it, and a crash would take it back: after the restart other entries can
//! fill the same positions and another checkpoint of the same size be signed. Two signed
//! checkpoints of one size with different roots are exactly what a forked log looks like,
//! and a tile served as immutable would change under its path. So the checkpoint, the tiles
//! and the proofs a reader gets stop at a size a sync has covered: this process's own
//! (`Commit::durable`), or the stored one once a sync — the reader's own if need be, shared
//! with any filing's (group commit) — covers it. With several PostgreSQL frontends that is
//! how another frontend's newer checkpoint is served: what it committed, this process's sync
//! finds committed too.

use super::store::Space;
use super::tilepath::TileRef;
use super::tiles;
use super::{Archive, ArchiveError, Upto, lock};

impl Archive {
    /// Whether the log up to tree size `size` may be shown: durable already, or made so now
    /// (a sync shared with whoever is syncing). `false` when the sync fails or a turn was
    /// lost meanwhile; the reader is then shown less, never more. Callers check first that
    /// the store holds `size` entries, so that no sync is paid for a size that does not exist.
    pub(super) fn durable_for_reader(&self, size: u64) -> bool {
        if self.durable_through(size) {
            return true;
        }
        if let Err(e) = self.make_durable(Upto::size(size)) {
            tracing::warn!(error = %e, size, "a size asked for by a reader could not be made durable; showing the durable one");
            return false;
        }
        self.durable_through(size)
    }

    /// How much of the log up to tree size `size` a reader may be shown: all of it when it is
    /// durable already or made so now (see [`Archive::durable_for_reader`]), else what this
    /// process made durable — less, never more. For a listing of entries read from the store
    /// (a principal's own submissions), `size` one past the newest it names. May sync: call it
    /// off the async runtime unless [`Archive::durable_through`] `size`.
    pub fn shown_size(&self, size: u64) -> u64 {
        if self.durable_for_reader(size) {
            return size;
        }
        lock(&self.commit).durable.min(size)
    }

    /// Counts the latest checkpoint the store holds as durable: for a reader of a snapshot
    /// or a copy opened read-only (`tamga audit`, `export`), which no process will sync any
    /// more and which holds all there is — else nothing could be shown or proved from it, as
    /// its sync is refused. Never for a store a service writes.
    pub fn count_stored_as_durable(&self) -> Result<(), ArchiveError> {
        let size = self.checkpoint_size()?.unwrap_or(0).min(self.size());
        let mut commit = lock(&self.commit);
        commit.durable = commit.durable.max(size);
        Ok(())
    }

    /// The size of the checkpoint a reader is shown: the latest signed one when a completed
    /// sync covers it (made so now if it can be), else the one this process last made durable
    /// (a checkpoint is signed for every size a sync makes durable). `None` before any.
    pub fn served_checkpoint_size(&self) -> Result<Option<u64>, ArchiveError> {
        let Some(latest) = self.checkpoint_size()? else {
            return Ok(None);
        };
        if self.durable_for_reader(latest) {
            return Ok(Some(latest));
        }
        let durable = lock(&self.commit).durable.min(latest);
        Ok((durable > 0).then_some(durable))
    }

    /// The checkpoint a reader is shown (see [`Archive::served_checkpoint_size`]) as its
    /// note's text, if anything durable has been filed. May sync: call it off the async
    /// runtime.
    pub fn checkpoint_note(&self) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(size) = self.served_checkpoint_size()? else {
            return Ok(None);
        };
        self.store
            .get(Space::Checkpoints, &size.to_be_bytes())?
            .map(Some)
            .ok_or_else(|| {
                ArchiveError::Damaged(format!("the checkpoint of size {size} is missing"))
            })
    }

    /// The bytes at a tile path (see [`tiles::read`]), once every entry the tile covers is
    /// durable: a tile's path is served as immutable, so it must never name hashes a crash
    /// could take back. `None` when the tree has no such tile (yet), or not durably.
    pub fn tile(&self, at: TileRef) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(end) = tile_end(at) else {
            return Ok(None);
        };
        let mut t = self.tiles_for(end)?;
        if t.size() < end || !self.durable_for_reader(end) {
            return Ok(None);
        }
        tiles::read(&mut t, at)
    }
}

/// The tree size a tile's last hash needs: its level-`L` nodes each cover 256^L entries.
fn tile_end(at: TileRef) -> Option<u64> {
    let width = at.partial.unwrap_or(1 << tiles::HEIGHT);
    let nodes = at.n.checked_mul(1 << tiles::HEIGHT)?.checked_add(width)?;
    let shift = at.level.unwrap_or(0).checked_mul(tiles::HEIGHT)?;
    let end = nodes.checked_shl(shift)?;
    (end >> shift == nodes).then_some(end)
}
