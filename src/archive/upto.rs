//! What an append hands to [`Archive::make_durable`]: the tree size to wait for, and enough to
//! tell, after the sync, that the entries it waits for are the ones this batch appended.
//!
//! With several processes writing one store (see `turn.rs`), a turn can be lost after its
//! batch was applied in this process's view but before the store kept it (PostgreSQL: the
//! lease ran out, another frontend took the writer lock and wrote the same positions). The
//! store then reports another writer, the archive reads its head again (`reload`, which bumps
//! the epoch), and a later sync covers the other writer's entries at those positions: waiting
//! for the size alone would let a receipt leave for a document that is not stored, its number
//! attached to another's entry. So when a reload happened since the batch was built, the
//! entry at `size - 1` is read once and must be the one appended.
//!
//! A receipt *read* rather than written (a sender's retry) has no entry of this call's to
//! compare, and may have been read from such a batch too: the PostgreSQL store answers reads
//! from the batches it was handed until their turn commits or is found lost. So once the
//! size it waits for is durable, the receipt is read again and must still be there
//! ([`Archive::make_read_receipt_durable`]).
//!
//! The reload alone does not tell in time: the loss can be found by another of this
//! process's threads, whose new turn reports the other writer (and lets every sync succeed
//! again) before its reload bumps the epoch, while a thread waiting in a sync for the lost
//! batch is told `Ok`. So the store's count of losses ([`Store::losses`]) is compared too:
//! it moves before any sync can return for a lost batch. A sync during which it moved made
//! durable what is stored, not necessarily the head it was asked for: it does not advance
//! `commit.durable`, and a bare size waited for by it fails (see [`Archive::make_durable`]).
//!
//! [`Store::losses`]: super::store::Store::losses

use super::merkle::{self, Hash};
use super::store::{Space, StoreError};
use super::{Archive, ArchiveError};
use std::sync::atomic::Ordering;

/// The tree size to pass to [`Archive::make_durable`], as [`Archive::append`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upto {
    /// The tree size the batch left (its last entry's index + 1).
    pub size: u64,
    /// What to check; none at all for [`Upto::size`].
    check: Option<Check>,
}

/// What a batch's [`Upto`] compares after the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Check {
    /// The reload epoch the batch was built in.
    epoch: u64,
    /// The store's count of losses when its turn began.
    losses: u64,
    /// The leaf hash of its last entry (`None`: it appended none).
    last: Option<Hash>,
}

impl Upto {
    /// A bare tree size, with no batch of this archive's to check: whatever the store holds
    /// up to `size` (a retry answered from another process's filing, a tool, a bench).
    pub fn size(size: u64) -> Upto {
        Upto { size, check: None }
    }

    /// A batch built in reload epoch `epoch`, in a turn that began with the store's count of
    /// losses at `losses`, that left the tree at `size`, its last entry's leaf hash `last`
    /// (`None` when it wrote but appended no entry; a batch that wrote nothing has nothing to
    /// lose, and is a bare [`Upto::size`]).
    pub(super) fn appended(size: u64, epoch: u64, losses: u64, last: Option<Hash>) -> Upto {
        let check = Check {
            epoch,
            losses,
            last,
        };
        Upto {
            size,
            check: Some(check),
        }
    }
}

impl Archive {
    /// Makes a receipt that was read, not written — a retry of a submission filed before —
    /// durable: waits until `upto` is durable, then fails unless the store still holds
    /// `receipt` under `id`. The first read may have come from a batch whose turn was then
    /// lost (its positions since taken by other filings, which make `upto` durable); by the
    /// time `upto` is durable, every batch handed over before that read is settled, so the
    /// second read answers what is stored.
    pub fn make_read_receipt_durable(
        &self,
        upto: Upto,
        id: &str,
        receipt: &[u8],
    ) -> Result<(), ArchiveError> {
        self.make_durable(upto)?;
        if self.receipt(id)?.as_deref() == Some(receipt) {
            return Ok(());
        }
        // 503 "try later": the sender's retry finds what is stored, and files it anew if
        // nothing is.
        Err(ArchiveError::Store(StoreError::Unwritable(format!(
            "receipt {id} was read from a filing that was lost with this process's turn \
             before it was stored; retry"
        ))))
    }

    /// The receipt stored under `id`, shown to a reader only once it is durable: up to the
    /// stored head (another frontend may have filed it and not synced yet), and still stored
    /// then (see [`Archive::make_read_receipt_durable`]). Otherwise a reader could be handed a
    /// signed receipt for a filing a crash or a lost turn then takes away.
    pub fn durable_receipt(&self, id: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(receipt) = self.receipt(id)? else {
            return Ok(None);
        };
        self.make_stored_receipt_durable(id, &receipt)?;
        Ok(Some(receipt))
    }

    /// [`Archive::make_read_receipt_durable`] up to the stored head, not this archive's own:
    /// another frontend may have filed the receipt, and died before its sync.
    pub fn make_stored_receipt_durable(
        &self,
        id: &str,
        receipt: &[u8],
    ) -> Result<(), ArchiveError> {
        let (size, _, _) = self.stored_head()?;
        self.make_read_receipt_durable(Upto::size(size), id, receipt)
    }

    /// Whether this process has made the log durable up to tree size `size` already: then
    /// [`Archive::make_durable`] of that size returns at once, without a sync to wait for.
    pub fn durable_through(&self, size: u64) -> bool {
        super::lock(&self.commit).durable >= size
    }

    /// Makes the filing of `regno` that a reader found at log position `index` as `bytes`
    /// durable before it is shown: waits until the tree up to it is durable, then fails unless
    /// the store still files `regno` there with those bytes. A read may have come from a batch
    /// applied but not yet synced (a crash would take it back) or from one whose turn was then
    /// lost (another frontend's filing now holds its position and perhaps its number); once
    /// the position is durable, every batch handed over before the read is settled, so the
    /// second read answers what is stored (as [`Archive::make_read_receipt_durable`] does for
    /// a receipt). A document long durable costs two reads and no sync.
    pub fn make_filing_durable(
        &self,
        regno: &str,
        index: u64,
        bytes: &[u8],
    ) -> Result<(), ArchiveError> {
        self.make_durable(Upto::size(index.saturating_add(1)))?;
        let stored = match self.regno_entry(regno)? {
            Some(i) if i == index => self.entry_bytes(index)?,
            _ => None,
        };
        if stored.as_deref() == Some(bytes) {
            return Ok(());
        }
        // 503 "try later": the reader's retry finds what is stored.
        Err(ArchiveError::Store(StoreError::Unwritable(format!(
            "{regno} was read from a filing at entry {index} that was not stored; retry"
        ))))
    }

    /// Fails unless the entries `upto` waited for are still this archive's own: when no
    /// reload happened and no turn was lost since its batch was built, and the sync that
    /// covered it (`sure`) saw none lost either, nothing else can have written its positions
    /// (cost: none); else the stored entry at `size - 1` must have the leaf hash appended
    /// (cost: one read). A batch without entries has nothing to compare, so it fails then
    /// too; and so does a bare size that a sync during a loss covered (`!sure`), since what
    /// it waited for may have been lost with the turn.
    pub(super) fn check_own(&self, upto: Upto, sure: bool) -> Result<(), ArchiveError> {
        let Some(Check {
            epoch,
            losses,
            last,
        }) = upto.check
        else {
            return if sure { Ok(()) } else { Err(unsure(upto.size)) };
        };
        if sure && self.epoch.load(Ordering::Acquire) == epoch && self.store.losses() == losses {
            return Ok(());
        }
        let stored = match (last, upto.size.checked_sub(1)) {
            (Some(_), Some(index)) => self.store.get(Space::Log, &index.to_be_bytes())?,
            _ => None,
        };
        let stored = stored.map(|bytes| merkle::leaf_hash(&bytes));
        if last.is_some() && stored == last {
            return Ok(());
        }
        Err(lost(upto.size))
    }
}

/// 503 "try later": the sender's retry finds nothing filed and files it anew.
fn lost(size: u64) -> ArchiveError {
    ArchiveError::Store(StoreError::Unwritable(format!(
        "this process's turn was lost before its batch up to entry {size} was stored: another \
         process wrote the log meanwhile; nothing of it is filed, retry"
    )))
}

/// 503 "try later" for a bare size that a sync covered while a turn was lost: the store may
/// hold less than it, or others' entries there; the retry reads what is stored.
fn unsure(size: u64) -> ArchiveError {
    ArchiveError::Store(StoreError::Unwritable(format!(
        "a turn of this process was lost while the archive was made durable up to entry \
         {size}: what it held up to there may not be stored; retry"
    )))
}
