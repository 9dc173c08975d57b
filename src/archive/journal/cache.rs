//! A bounded cache of index blocks already read and checked, shared by every run of the process.
//!
//! Why: the keys a filing or a proof reads again and again once they have left the memtable —
//! the shared evidence (trust anchors, CRLs), the receipts' dictionary, the upper tiles of the
//! Merkle tree, a case's counters and tallies right after a flush — each cost a `pread` of a
//! 4 KiB block and its CRC every time. Keeping the blocks they lie in spares that; the keys of
//! new filings are spread uniformly over the runs' blocks and would not stay, but they do not
//! read blocks at all: every run's Bloom filter answers for them (`bloom.rs`).
//!
//! A block is cached once its checksum verified; run files never change after they are written,
//! so a cached block stays true for as long as its run exists. Blocks are keyed by the run's
//! serial, a number given to each [`super::run::Run`] as it is opened and never reused in the
//! process (a run's id or inode may be: a rebuilt index reuses no id, but a deleted file's
//! inode comes back), so a block of a run that is gone is never served for another — it only
//! waits to be evicted.
//!
//! Eviction is CLOCK (second chance): a hit only sets a bit, so readers under a shard's lock do
//! no list surgery. The budget is fixed ([`BUDGET`], 8 MiB of blocks plus a few hundred KiB of
//! bookkeeping), whatever the archive's size: it counts against issue #15's 256 MiB at 10^7.

use super::run::BLOCK;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Bytes of blocks the process-wide cache keeps.
pub const BUDGET: usize = 8 << 20;
/// Shards, each with its own lock, so that concurrent readers seldom wait on one another.
const SHARDS: usize = 8;

/// Which block: the run's serial and the block's number in it.
pub type Key = (u64, u64);

struct Slot {
    key: Key,
    count: usize,
    block: Box<[u8; BLOCK]>,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Key, usize>,
    slots: Vec<Slot>,
    hand: usize,
}

/// A CLOCK cache of checked blocks with a fixed number of slots.
pub struct BlockCache {
    shards: [Mutex<Shard>; SHARDS],
    per_shard: usize,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("slots", &(self.per_shard * SHARDS))
            .finish()
    }
}

impl BlockCache {
    /// A cache of at most `budget` bytes of blocks (at least one block per shard).
    pub fn new(budget: usize) -> BlockCache {
        BlockCache {
            shards: std::array::from_fn(|_| Mutex::default()),
            per_shard: (budget / BLOCK / SHARDS).max(1),
        }
    }

    fn shard(&self, key: Key) -> MutexGuard<'_, Shard> {
        // The block number's low bits spread one run's blocks; the serial spreads the runs.
        let i = (key.1 ^ key.0.rotate_left(17)) as usize % SHARDS;
        // `i` is below SHARDS, so the fallback is never taken.
        let [first, ..] = &self.shards;
        let m = self.shards.get(i).unwrap_or(first);
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies block `key` into `buf` and returns its entry count, when cached.
    pub fn get(&self, key: Key, buf: &mut [u8; BLOCK]) -> Option<usize> {
        let mut s = self.shard(key);
        let i = *s.map.get(&key)?;
        let slot = s.slots.get_mut(i)?;
        slot.referenced = true;
        buf.copy_from_slice(&slot.block[..]);
        Some(slot.count)
    }

    /// Keeps a checked block, evicting one not used since the hand last passed it when full.
    pub fn insert(&self, key: Key, block: &[u8; BLOCK], count: usize) {
        let per_shard = self.per_shard;
        let mut s = self.shard(key);
        if s.map.contains_key(&key) {
            return;
        }
        if s.slots.len() < per_shard {
            let at = s.slots.len();
            s.slots.push(Slot {
                key,
                count,
                block: Box::new(*block),
                referenced: false,
            });
            s.map.insert(key, at);
            return;
        }
        // Second chance: at most one full turn clears every bit, so this ends.
        let victim = loop {
            let at = s.hand % s.slots.len();
            s.hand = at + 1;
            match s.slots.get_mut(at) {
                Some(slot) if slot.referenced => slot.referenced = false,
                Some(_) => break at,
                None => return,
            }
        };
        let Some(slot) = s.slots.get_mut(victim) else {
            return;
        };
        let old = std::mem::replace(&mut slot.key, key);
        slot.count = count;
        slot.block.copy_from_slice(block);
        slot.referenced = false;
        s.map.remove(&old);
        s.map.insert(key, victim);
    }

    /// Blocks held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner).slots.len())
            .sum()
    }
}

/// The process's cache: one budget for every journal store opened in it.
pub fn shared() -> &'static BlockCache {
    static CACHE: std::sync::LazyLock<BlockCache> =
        std::sync::LazyLock::new(|| BlockCache::new(BUDGET));
    &CACHE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(tag: u8) -> [u8; BLOCK] {
        [tag; BLOCK]
    }

    #[test]
    fn keeps_what_fits_and_evicts_what_was_not_used_since() {
        // One slot per shard: keys in one shard compete for it.
        let c = BlockCache::new(BLOCK * SHARDS);
        let mut buf = [0; BLOCK];
        c.insert((1, 0), &block(1), 5);
        assert_eq!(c.get((1, 0), &mut buf), Some(5));
        assert_eq!(buf, block(1));
        assert_eq!(c.get((2, 0), &mut buf), None);
        // Same shard as (1, 0) (the shard index is a function of the key): find one.
        let other = (2..)
            .map(|s| (s, 0))
            .find(|k| c.shard(*k).slots.len() == 1)
            .unwrap_or((9, 0));
        c.insert(other, &block(2), 7);
        // (1, 0) was referenced: it got a second chance, then lost its slot.
        assert_eq!(c.get(other, &mut buf), Some(7));
        assert_eq!(buf, block(2));
        assert_eq!(c.get((1, 0), &mut buf), None);
        assert!(c.len() <= SHARDS);
    }

    #[test]
    fn never_holds_more_than_its_budget() {
        let c = BlockCache::new(64 * BLOCK);
        for n in 0..10_000 {
            c.insert((n % 7, n), &block(n as u8), 1);
        }
        assert_eq!(c.len(), 64);
        let mut buf = [0; BLOCK];
        // The last block inserted is there, with its bytes.
        assert_eq!(c.get((9_999 % 7, 9_999), &mut buf), Some(1));
        assert_eq!(buf, block(9_999u64 as u8));
    }

    #[test]
    fn a_used_block_survives_a_sweep_of_unused_ones() {
        let c = BlockCache::new(16 * BLOCK * SHARDS);
        let hot = (0, 0);
        let mut buf = [0; BLOCK];
        c.insert(hot, &block(1), 1);
        for n in 1..10_000u64 {
            assert!(c.get(hot, &mut buf).is_some(), "evicted after {n}");
            c.insert((0, n), &block(2), 1);
        }
    }
}

#[cfg(test)]
mod through_runs {
    use super::super::run::{self, Run};

    #[test]
    fn a_block_read_once_is_served_again_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let entries = (1..=300u128).map(|h| {
            let extent = super::super::recover::Extent {
                off: h as u64,
                len: 1,
            };
            Ok((h << 64, Some(extent)))
        });
        let r = run::write(dir.path(), 7, entries, 300).unwrap();
        let first = r.get(5 << 64).unwrap();
        assert!(first.is_some());
        // The file changes under the run (it never does in use): the block verified once is
        // what the run answers from now on, without reading it again.
        let path = run::path(dir.path(), 7);
        let mut raw = std::fs::read(&path).unwrap();
        raw[40] ^= 1;
        std::fs::write(&path, raw).unwrap();
        assert_eq!(r.get(5 << 64).unwrap(), first);
        // Another open of the file is another run to the cache: it reads, and finds the damage.
        let again = Run::open(dir.path(), 7).unwrap();
        assert!(again.get(5 << 64).is_err());
    }
}
