//! Group commit's leadership: of the writers waiting for durability, one at a time leads —
//! syncs the store and signs a checkpoint for all of them — while the others wait on a
//! condition variable. A backup takes the same leadership to pause filing at a checkpoint
//! (`at_checkpoint` in `backup/generation.rs`), so the two never sync or sign at once.

use super::checkpoint::Checkpoint;
use super::store::{Batch, Space};
use super::upto::Upto;
use super::{Archive, ArchiveError, LATEST_CHECKPOINT, State, lock};
use std::sync::PoisonError;

/// Group commit: how far the log is durable, and whether a caller is syncing right now.
#[derive(Debug)]
pub(super) struct Commit {
    /// Tree size on stable storage and covered by a signed checkpoint.
    pub(super) durable: u64,
    /// Whether a leader's term is running.
    pub(super) leading: bool,
}

/// The group-commit leader's term: ends when dropped, even by a panic, so that waiters are
/// never left behind a leader that is gone.
pub(super) struct Leader<'a> {
    archive: &'a Archive,
    /// The tree size the term made durable, once it has.
    pub(super) synced: Option<u64>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut commit = lock(&self.archive.commit);
        commit.leading = false;
        if let Some(size) = self.synced {
            commit.durable = commit.durable.max(size);
        }
        drop(commit);
        // Waiters the sync did not cover (or all of them, after a failure) elect a new leader.
        self.archive.committed.notify_all();
    }
}

impl Archive {
    /// Waits until no one leads and takes the term; `None` instead once tree size `upto` is
    /// durable (a leader covered it meanwhile). Without `upto` it always leads.
    pub(super) fn lead(&self, upto: Option<u64>) -> Option<Leader<'_>> {
        let mut commit = lock(&self.commit);
        loop {
            if upto.is_some_and(|n| commit.durable >= n) {
                return None;
            }
            if !commit.leading {
                break;
            }
            commit = self
                .committed
                .wait(commit)
                .unwrap_or_else(PoisonError::into_inner);
        }
        commit.leading = true;
        Some(Leader {
            archive: self,
            synced: None,
        })
    }
}

/// Durability: making filings durable and checkpointed, for one caller or a group.
impl Archive {
    /// Returns once everything up to tree size `upto` is on stable storage and covered by a
    /// signed checkpoint. Concurrent callers share one sync (group commit): one caller leads
    /// while the others wait on a condition variable, so a finished sync releases every waiter
    /// it covered at once instead of handing a mutex from one to the next. Fails when the
    /// entries `upto` stands for are not the ones its batch appended (a lost turn: `upto.rs`).
    pub fn make_durable(&self, upto: Upto) -> Result<(), ArchiveError> {
        let sure = self.commit(upto.size, false)?;
        self.check_own(upto, sure)
    }

    /// Writes the pending access records and syncs the store even when the log has not grown
    /// (at shutdown, so the last requests' records are on disk). Fails when a turn was lost
    /// while it synced: what this process wrote may not all be stored.
    pub fn sync_now(&self) -> Result<(), ArchiveError> {
        self.flush_access()?;
        let size = self.size();
        let sure = self.commit(size, true)?;
        self.check_own(Upto::size(size), sure)
    }

    /// Makes tree size `upto` durable (or, `force`d, syncs regardless); returns whether the
    /// sync is sure to cover it: `false` when a turn was lost while it ran (`upto.rs`).
    pub(super) fn commit(&self, upto: u64, force: bool) -> Result<bool, ArchiveError> {
        let Some(mut leader) = self.lead((!force).then_some(upto)) else {
            return Ok(true);
        };
        let synced = self.sync_and_checkpoint();
        leader.synced = synced.as_ref().ok().copied().flatten();
        drop(leader);
        synced.map(|size| size.is_some())
    }

    /// Signs a checkpoint for the current head (unless one exists) and syncs the store;
    /// returns the tree size now durable. The checkpoint is signed in the store's turn, for the
    /// head read in it, so the latest checkpoint never moves back whoever signs it; the sync
    /// waits outside the turn. `None` when a turn was lost meanwhile: the sync answers for
    /// what is stored, which may lack that head (`upto.rs`).
    fn sync_and_checkpoint(&self) -> Result<Option<u64>, ArchiveError> {
        let losses = self.store.losses();
        let (size, access_writes) = {
            let (_turn, head) = self.turn_for_head()?;
            self.checkpoint_head(&head)?;
            (head.size, lock(&self.access).writes())
        };
        self.store.sync()?;
        self.syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.store.losses() != losses {
            return Ok(None);
        }
        // The access records written before the sync's turn are durable now (unless a turn
        // was lost meanwhile: then they stay, to be written again if they were in it).
        lock(&self.access).durable(access_writes);
        Ok(Some(size))
    }

    /// Signs a checkpoint for `state` with the access head, unless one exists for its size
    /// (then only the pending access records are written). In the store's turn only.
    pub(super) fn checkpoint_head(&self, state: &State) -> Result<(), ArchiveError> {
        let key = state.size.to_be_bytes();
        if self.store.get(Space::Checkpoints, &key)?.is_some() {
            return self.write_access();
        }
        // The access records the checkpoint covers go into the same batch, so the store never
        // holds a checkpoint naming an access head it does not have.
        let mut access = lock(&self.access);
        let mut b = Batch::default();
        let access_head = access.put_into(&mut b);
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: state.size,
            root: state.frontier.root(),
            chain: state.chain,
            access: access_head,
            time: crate::verify::fmt_time(crate::clock::now()),
        };
        let note = cp
            .sign(self.signer.spki(), |m| self.signer.sign_raw(m).ok())
            .ok_or(ArchiveError::Signing)?;
        b.put(Space::Checkpoints, key, note);
        b.put(Space::Index, LATEST_CHECKPOINT, key);
        self.store.apply(&b)?;
        access.written(access_head);
        Ok(())
    }
}
