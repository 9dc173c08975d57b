//! Group commit's leadership: of the writers waiting for durability, one at a time leads —
//! syncs the store and signs a checkpoint for all of them — while the others wait on a
//! condition variable. A backup takes the same leadership to pause filing at a checkpoint
//! (`at_checkpoint` in `backup/generation.rs`), so the two never sync or sign at once.

use super::{Archive, lock};
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
