//! What the store's callers and its writer thread share: the batches handed over but not yet
//! committed, the read cache, and whether writes are held up (retried) or stopped (until the
//! archive is opened again).
//!
//! [`Store::apply`](crate::archive::store::Store::apply) hands a batch to the writer thread
//! and returns before the server has it, so that the round trip is not spent under the
//! archive's writer lock; the writer commits everything handed over meanwhile in one
//! transaction. Until then the batch is answered from here: reads see it at once, as the
//! store contract demands, and a later batch is checked against it for overwrites.

use super::cache::ReadCache;
use super::filter::KeyFilter;
use super::schema;
use crate::archive::store::{Batch, Space};
use std::collections::HashMap;

/// A key's value in a batch handed over: the batch's number, and the value (`None`: disposed
/// of).
type Handed = (u64, Option<Vec<u8>>);

/// Shared between [`super::PgStore`] and its writer thread, behind one mutex.
#[derive(Debug, Default)]
pub struct Shared {
    /// What the store has read or written (committed or not).
    pub cache: ReadCache,
    /// (space, key) → (the number of the last batch handed over that writes it, its value
    /// there or `None` for a disposal), until that batch is committed.
    overlay: HashMap<(Space, Vec<u8>), Handed>,
    /// The number the next batch handed over takes.
    next: u64,
    /// Bytes handed over since the store opened, and how many of them a sync covered: the
    /// difference is what a replay would have to write again.
    handed_bytes: u64,
    synced_bytes: u64,
    /// The greatest key of each append-only space (`None`: the space is empty), as the table
    /// and the batches handed over since stand, for the spaces read at open: any key beyond
    /// it is absent. Log entries, access records and checkpoints are numbered upwards in
    /// big-endian, so a new one needs no look-up to be known new.
    greatest: HashMap<Space, Option<Vec<u8>>>,
    /// Every key the table holds, as a filter that tells the absent ones (once read at open).
    filter: Option<KeyFilter>,
    /// Batches handed over could not be committed yet (the server down, a connection lost):
    /// the next write tries again first, and is refused while that fails.
    pub stalled: bool,
    /// Why writes are refused until the archive is opened again.
    pub failed: Option<String>,
    /// Whether what is remembered (the filter, the greatest keys, the cache's answers) is
    /// what is stored: always for the one writer; for one of several, only while it holds
    /// the turn (no other can write then), and everything another writer could have changed
    /// is forgotten when a turn finds that one did (`turn.rs`).
    pub current: bool,
    /// Every batch numbered below this one is settled: committed, or failed with its turn.
    pub settled: u64,
    /// Why batches of a turn failed (its lease lost, its commit unanswered and not found):
    /// every sync fails until a turn reports another writer's writes to the archive above,
    /// which then reads what is stored again.
    pub turn_failed: Option<String>,
    /// How many turns failed with batches of this store's (see
    /// [`Store::losses`](crate::archive::store::Store::losses)): unlike
    /// [`Shared::turn_failed`], no later turn clears it.
    pub losses: u64,
}

impl Shared {
    /// The value of (space, key) as the store stands, handed-over batches included: `None`
    /// when only the server can tell.
    pub fn get(&self, space: Space, key: &[u8]) -> Option<Option<Vec<u8>>> {
        match self.overlay.get(&(space, key.to_vec())) {
            Some((_, value)) => Some(value.clone()),
            None if self.current && self.absent(space, key) => Some(None),
            None => self.cache.get(space, key, self.current),
        }
    }

    /// Whether writing `value` under an append-only (space, key) would overwrite another
    /// value: `None` when only the server can tell.
    pub fn clashes(&self, space: Space, key: &[u8], value: &[u8]) -> Option<bool> {
        match self.overlay.get(&(space, key.to_vec())) {
            Some((_, Some(v))) => Some(v.as_slice() != value),
            Some((_, None)) => Some(false),
            None if self.current && (self.beyond(space, key) || self.absent(space, key)) => {
                Some(false)
            }
            None => self.cache.clashes(space, key, value, self.current),
        }
    }

    /// Whether `key` lies beyond the greatest key known in `space`, so is absent.
    fn beyond(&self, space: Space, key: &[u8]) -> bool {
        self.greatest
            .get(&space)
            .is_some_and(|g| g.as_deref().is_none_or(|g| key > g))
    }

    /// Whether the table certainly does not hold (space, key).
    fn absent(&self, space: Space, key: &[u8]) -> bool {
        self.filter
            .as_ref()
            .is_some_and(|f| !f.may_hold(space, key))
    }

    /// The keys the table holds, read at open while no batch was handed over yet.
    pub fn keys_are(&mut self, filter: KeyFilter) {
        self.filter = Some(filter);
    }

    /// The greatest key `space` holds (`None`: none), read from the table while no batch was
    /// handed over yet (at open).
    pub fn greatest_is(&mut self, space: Space, key: Option<Vec<u8>>) {
        self.greatest.insert(space, key);
    }

    /// Takes in a batch handed to the writer thread; returns its number.
    pub fn hand_over(&mut self, batch: &Batch) -> u64 {
        let n = self.next;
        self.next += 1;
        for (space, key, value) in &batch.puts {
            self.overlay
                .insert((*space, key.clone()), (n, Some(value.clone())));
            if self.beyond(*space, key) {
                self.greatest.insert(*space, Some(key.clone()));
            }
            if let Some(filter) = &mut self.filter {
                filter.insert(*space, key);
            }
        }
        for (space, key) in &batch.disposals {
            self.overlay.insert((*space, key.clone()), (n, None));
        }
        self.handed_bytes += bytes(batch) as u64;
        self.cache.applied(batch);
        n
    }

    /// The batches numbered up to `upto`, written together as `group`, are committed: the
    /// server answers for their keys now (unless a later batch wrote them again).
    pub fn committed(&mut self, upto: u64, group: &Batch) {
        let keys = group.puts.iter().map(|(s, k, _)| (s, k));
        for (space, key) in keys.chain(group.disposals.iter().map(|(s, k)| (s, k))) {
            let id = (*space, key.clone());
            if self.overlay.get(&id).is_some_and(|(n, _)| *n <= upto) {
                self.overlay.remove(&id);
            }
        }
    }

    /// Stops writes until the archive is opened again. What was handed over and not
    /// committed is forgotten with what was read, so that reads answer what is stored.
    pub fn fail(&mut self, why: &str) {
        if self.failed.is_none() {
            self.failed = Some(why.to_owned());
        }
        self.overlay.clear();
        self.cache.clear();
    }

    /// Another writer wrote since this store's last turn: the failure of an earlier turn is
    /// reported now (see [`Shared::turn_failed`]).
    pub fn foreign(&mut self) {
        self.turn_failed = None;
    }

    /// Takes in the rows other writers wrote since what the store remembers was complete
    /// (`learn.rs`): their keys into the filter and the greatest keys, their values into the
    /// cache. `disposed`: one of them disposed of rows too, which leaves no row to read, so
    /// the cache keeps only what no disposal deletes.
    pub fn learn(&mut self, rows: &[schema::Written], disposed: bool) {
        if disposed {
            self.cache.keep_settled();
        }
        for (space, key, value) in rows {
            if self.beyond(*space, key) {
                self.greatest.insert(*space, Some(key.clone()));
            }
            if let Some(filter) = &mut self.filter {
                filter.insert(*space, key);
            }
            self.cache.learn(*space, key, value.as_deref());
        }
        self.cache.learnt();
    }

    /// Another writer wrote, and what it wrote cannot be learnt (`learn.rs`): what it could
    /// have changed is forgotten — the read cache but for values of append-only spaces that a
    /// disposal cannot delete, the greatest keys, and the filter of keys for good (reads of
    /// keys not there yet go to the server from now on).
    pub fn forget(&mut self) {
        self.filter = None;
        self.greatest.clear();
        self.cache.keep_settled();
    }

    /// The batches numbered up to `upto` are committed and durable.
    pub fn settled_upto(&mut self, upto: u64) {
        self.settled = self.settled.max(upto + 1);
    }

    /// The batches numbered up to `upto` failed with their turn: nothing of them is stored,
    /// so what was taken in of them is forgotten, and syncs fail until reported.
    pub fn turn_failed(&mut self, upto: u64, why: &str) {
        self.overlay.retain(|_, (n, _)| *n > upto);
        self.cache.clear();
        self.turn_failed = Some(why.to_owned());
        // Counted before `settled` moves, under the same lock: a sync that finds its batches
        // settled finds the count moved too if they failed.
        self.losses += 1;
        self.settled_upto(upto);
    }

    /// The number the next batch handed over takes.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Where handing over stands now: pass it to [`Shared::synced`] once a sync that started
    /// after it succeeded.
    pub fn handed(&self) -> u64 {
        self.handed_bytes
    }

    /// A sync covered everything handed over up to `mark` (from [`Shared::handed`]).
    pub fn synced(&mut self, mark: u64) {
        self.synced_bytes = self.synced_bytes.max(mark);
    }

    /// The bytes handed over that no sync has covered yet.
    pub fn unsynced(&self) -> u64 {
        self.handed_bytes.saturating_sub(self.synced_bytes)
    }
}

/// The bytes of a batch's puts.
pub fn bytes(batch: &Batch) -> usize {
    batch.puts.iter().map(|(_, k, v)| k.len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_handed_over_is_answered_until_committed_and_then_by_the_server() {
        let mut s = Shared {
            current: true,
            ..Shared::default()
        };
        let mut a = Batch::default();
        a.put(Space::Chunks, b"c".to_vec(), vec![1; 10_000]);
        a.put(Space::Index, b"head".to_vec(), b"1".to_vec());
        let first = s.hand_over(&a);
        let mut b = Batch::default();
        b.put(Space::Index, b"head".to_vec(), b"2".to_vec());
        let second = s.hand_over(&b);
        assert_eq!(s.get(Space::Chunks, b"c"), Some(Some(vec![1; 10_000])));
        assert_eq!(s.clashes(Space::Chunks, b"c", &[2; 10_000]), Some(true));
        assert_eq!(s.clashes(Space::Chunks, b"c", &[1; 10_000]), Some(false));
        assert_eq!(s.unsynced(), 10_000 + 1 + (4 + 1) * 2);
        s.committed(first, &a);
        // The chunk is the server's to answer now; the head still the later batch's.
        assert_eq!(s.get(Space::Chunks, b"c"), None);
        assert_eq!(s.clashes(Space::Chunks, b"c", &[1; 10_000]), Some(false));
        assert_eq!(s.get(Space::Index, b"head"), Some(Some(b"2".to_vec())));
        s.committed(second, &b);
        assert_eq!(s.get(Space::Index, b"head"), Some(Some(b"2".to_vec())));
        let mark = s.handed();
        s.synced(mark);
        assert_eq!(s.unsynced(), 0);
        // Beyond the greatest key of a space read at open, a key is known absent.
        assert_eq!(s.clashes(Space::Log, &[0, 5], b"x"), None);
        s.greatest_is(Space::Log, Some(vec![0, 5]));
        assert_eq!(s.clashes(Space::Log, &[0, 5], b"x"), None);
        assert_eq!(s.clashes(Space::Log, &[0, 6], b"x"), Some(false));
        let mut c = Batch::default();
        c.put(Space::Log, vec![0, 7], b"seven".to_vec());
        s.hand_over(&c);
        s.committed(2, &c);
        assert_eq!(s.clashes(Space::Log, &[0, 6], b"x"), None);
        assert_eq!(s.clashes(Space::Log, &[0, 8], b"x"), Some(false));
        s.greatest_is(Space::Access, None);
        assert_eq!(s.clashes(Space::Access, &[0], b"x"), Some(false));
        // With the table's keys known, an absent key needs no look-up; a present one does.
        let mut keys = KeyFilter::default();
        keys.insert(Space::Receipts, b"held");
        s.keys_are(keys);
        assert_eq!(s.get(Space::Receipts, b"new"), Some(None));
        assert_eq!(s.clashes(Space::Receipts, b"new", b"x"), Some(false));
        assert_eq!(s.get(Space::Receipts, b"held"), None);
        let mut d = Batch::default();
        d.put(Space::Receipts, b"new".to_vec(), b"r".to_vec());
        s.hand_over(&d);
        s.committed(3, &d);
        assert_eq!(s.get(Space::Receipts, b"new"), Some(Some(b"r".to_vec())));
        // Once writes stop, what was taken in is the server's to answer.
        s.fail("refused");
        assert_eq!(s.get(Space::Receipts, b"new"), None);
        assert!(s.failed.is_some());
    }
}
