//! What the index's runs last said of recently asked key hashes, kept until the runs change.
//!
//! Why: a filing asks the runs about the same keys twice or more. A new document's blob,
//! chunk and receipt are each looked up ("filed already?") and then, as they are written,
//! looked up again by the overwrite check of an append-only key — each time through every
//! run's Bloom filter, several cache misses per run in filters of tens of MiB at 10^6
//! filings. And every filing reads keys that left the memtable long ago — the shared
//! evidence's blobs, the receipts' dictionary — each time a binary search, a block-cache
//! look-up and a 4 KiB copy. Once the runs have answered for a hash, that answer holds until
//! the runs themselves change, which only a flush, a merge or a rebuild does, under the
//! index's write lock; [`Memo::clear`] is then called under the same lock.
//!
//! The rule that makes it exact: the memo answers only for what the runs say, and a look-up
//! asks the memtable (and the one being flushed) first. A key written after the runs were
//! memoised as not holding it is in the memtable, which answers; it reaches the runs only by
//! a flush, which clears the memo. An answer is put while the index's read lock is held, so
//! no flush can come between the runs' answer and its memo.
//!
//! Bounded and O(1): a direct-mapped set of [`SLOTS`] answers (32 bytes each, 128 KiB),
//! a hash's slot chosen by its low bits (the hashes are salted SHA-256, so nobody can aim
//! many keys at one slot), in shards each behind its own lock. A later answer displaces
//! whichever one its slot held; full 128-bit hashes are compared, so a displaced answer is
//! never given for another key.

use super::recover::Extent;
use super::run::Found;
use std::sync::{Mutex, PoisonError};

/// Answers kept (a power of two).
pub const SLOTS: usize = 1 << 12;
/// Locks over them, so that concurrent readers seldom wait on one another.
const SHARDS: usize = 16;
const PER_SHARD: usize = SLOTS / SHARDS;

/// One kept answer: a hash and what the runs said of it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    h: u128,
    off: u64,
    len: u32,
    state: State,
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Nothing.
    #[default]
    Empty,
    /// The runs hold no live value for the hash (none at all, or a tombstone).
    Absent,
    /// The runs' value for the hash lies at `off`, `len`.
    Live,
}

/// The runs' recent answers, by key hash.
#[derive(Debug)]
pub struct Memo {
    shards: Vec<Mutex<Vec<Slot>>>,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(vec![Slot::default(); PER_SHARD]))
                .collect(),
        }
    }
}

impl Memo {
    /// Runs `f` on the slot for `h` under its shard's lock.
    fn with_slot<T>(&self, h: u128, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        let slot = (h as usize) % SLOTS;
        let shard = self.shards.get(slot / PER_SHARD)?;
        let mut slots = shard.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get_mut(slot % PER_SHARD).map(f)
    }

    /// What the runs said of `h`, when kept: `Some(None)` for "nothing live".
    pub fn get(&self, h: u128) -> Option<Found> {
        self.with_slot(h, |s| match s.state {
            State::Live if s.h == h => Some(Some(Extent {
                off: s.off,
                len: s.len,
            })),
            State::Absent if s.h == h => Some(None),
            _ => None,
        })
        .flatten()
    }

    /// Keeps what the runs said of `h` (with the index's read lock held, see the module).
    pub fn put(&self, h: u128, found: Found) {
        let slot = match found {
            Some(e) => Slot {
                h,
                off: e.off,
                len: e.len,
                state: State::Live,
            },
            None => Slot {
                h,
                state: State::Absent,
                ..Slot::default()
            },
        };
        self.with_slot(h, |s| *s = slot);
    }

    /// Forgets every answer (the runs changed; called under the index's write lock).
    pub fn clear(&self) {
        for shard in &self.shards {
            let mut slots = shard.lock().unwrap_or_else(PoisonError::into_inner);
            slots.fill(Slot::default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_for_the_hash_it_kept_until_cleared() {
        let memo = Memo::default();
        let e = Extent { off: 77, len: 5 };
        memo.put(1, Some(e));
        memo.put(2, None);
        assert_eq!(memo.get(1), Some(Some(e)));
        assert_eq!(memo.get(2), Some(None));
        assert_eq!(memo.get(3), None, "never asked");
        // Same slot, another hash: displaced, and never answered for the other.
        let same_slot = 1 + SLOTS as u128;
        memo.put(same_slot, None);
        assert_eq!(memo.get(1), None);
        assert_eq!(memo.get(same_slot), Some(None));
        memo.clear();
        assert_eq!(memo.get(same_slot), None);
        assert_eq!(memo.get(2), None);
    }
}
