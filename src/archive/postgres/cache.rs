//! What the store has read or written, answered without a round trip to the server.
//!
//! Sound while every change to a key passes through here: this store's own batches
//! ([`ReadCache::applied`]) for the one writer and a reader of one snapshot; for one of
//! several writers while it holds the turn (`turn.rs`), also the rows the others wrote,
//! read when its turn begins ([`ReadCache::learn`], `learn.rs`; after another's disposal,
//! which leaves no row, it keeps only what no disposal deletes). Outside its turns such a
//! writer trusts only values of append-only spaces that no disposal deletes, which no writer
//! can change. Absent keys are remembered too — the idempotency check of
//! every filing asks for a receipt that is not there yet, twice. Only small values are kept
//! (records, counters, receipts), never documents' chunks, and the whole map is bounded; of
//! a larger value written, its SHA-256 is kept, enough to tell an overwrite at hand-over.

use crate::archive::store::{Batch, Space};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The largest value remembered.
pub const MAX_VALUE: usize = 4096;
/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// What is known of a key's value.
#[derive(Debug, Clone)]
enum Value {
    /// Absent.
    Absent,
    /// This value.
    Small(Vec<u8>),
    /// A value beyond [`MAX_VALUE`], by its SHA-256.
    Large([u8; 32]),
}

/// (space, key) → what is known of its value.
#[derive(Debug, Default)]
pub struct ReadCache {
    map: HashMap<(Space, Vec<u8>), Value>,
    /// Counts the batches taken in: an answer read before one of them may be stale.
    epoch: u64,
}

impl ReadCache {
    /// The remembered answer for (space, key): `None` when not remembered. Unless `current`
    /// (no other writer can have written since it was learnt), only a value that no writer
    /// can change ([`settled`]).
    pub fn get(&self, space: Space, key: &[u8], current: bool) -> Option<Option<Vec<u8>>> {
        match self.map.get(&(space, key.to_vec()))? {
            _ if !current && !settled(space) => None,
            Value::Absent if !current => None,
            Value::Absent => Some(None),
            Value::Small(v) => Some(Some(v.clone())),
            Value::Large(_) => None,
        }
    }

    /// Whether writing `value` under an append-only (space, key) would overwrite another
    /// value: `None` when nothing is known of the key (or, unless `current`, nothing that
    /// another writer cannot have changed).
    pub fn clashes(&self, space: Space, key: &[u8], value: &[u8], current: bool) -> Option<bool> {
        match self.map.get(&(space, key.to_vec()))? {
            _ if !current && !settled(space) => None,
            Value::Absent if !current => None,
            Value::Absent => Some(false),
            Value::Small(v) => Some(v != value),
            Value::Large(d) => Some(value.len() <= MAX_VALUE || *d != digest(value)),
        }
    }

    /// Where the cache stands: pass it to [`ReadCache::read`] with the answer asked for now.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Remembers what the server answered to a question asked at `epoch`, unless a batch was
    /// taken in since (it may have changed the answer after the server gave it).
    pub fn read(&mut self, epoch: u64, space: Space, key: &[u8], value: &Option<Vec<u8>>) {
        if epoch == self.epoch {
            self.insert(space, key.to_vec(), Value::of(value.as_deref()));
        }
    }

    /// Takes in a batch the server applied.
    pub fn applied(&mut self, batch: &Batch) {
        self.epoch += 1;
        for (space, key, value) in &batch.puts {
            self.insert(*space, key.clone(), Value::of(Some(value)));
        }
        for (space, key) in &batch.disposals {
            self.insert(*space, key.clone(), Value::Absent);
        }
    }

    /// Takes in a row another writer wrote: its value (`None`: too large to have been read,
    /// so only forgotten). Call [`ReadCache::learnt`] once after the rows.
    pub fn learn(&mut self, space: Space, key: &[u8], value: Option<&[u8]>) {
        match value {
            Some(v) => self.insert(space, key.to_vec(), Value::of(Some(v))),
            None => {
                self.map.remove(&(space, key.to_vec()));
            }
        }
    }

    /// Another writer's rows were taken in: an answer the server gave before them may be
    /// stale.
    pub fn learnt(&mut self) {
        self.epoch += 1;
    }

    /// Forgets everything (after a batch whose fate is unknown).
    pub fn clear(&mut self) {
        self.epoch += 1;
        self.map.clear();
    }

    /// Forgets what another writer could have changed: keeps only values (not absences) of
    /// [`settled`] spaces.
    pub fn keep_settled(&mut self) {
        self.epoch += 1;
        self.map
            .retain(|(space, _), v| settled(*space) && !matches!(v, Value::Absent));
    }

    fn insert(&mut self, space: Space, key: Vec<u8>, value: Value) {
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert((space, key), value);
    }
}

impl Value {
    /// What is kept of `value` (`None`: absent).
    fn of(value: Option<&[u8]>) -> Value {
        match value {
            None => Value::Absent,
            Some(v) if v.len() <= MAX_VALUE => Value::Small(v.to_vec()),
            Some(v) => Value::Large(digest(v)),
        }
    }
}

/// Whether a value of `space`, once stored, stays as it is whoever writes: append-only, and
/// not documents' bytes (which a disposal deletes).
fn settled(space: Space) -> bool {
    space.append_only() && !matches!(space, Space::Chunks | Space::Blobs)
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_before_a_batch_is_not_remembered() {
        let mut c = ReadCache::default();
        let epoch = c.epoch();
        let mut b = Batch::default();
        b.put(Space::Receipts, b"r".to_vec(), b"kept".to_vec());
        // The server said "absent", then the batch landed, then the answer came back.
        c.applied(&b);
        c.read(epoch, Space::Receipts, b"r", &None);
        assert_eq!(
            c.get(Space::Receipts, b"r", true),
            Some(Some(b"kept".to_vec()))
        );
        c.read(c.epoch(), Space::Log, b"x", &None);
        assert_eq!(c.get(Space::Log, b"x", true), Some(None));
        // Outside a turn of one of several writers, only what no writer can change is told.
        assert_eq!(
            c.get(Space::Receipts, b"r", false),
            Some(Some(b"kept".to_vec()))
        );
        assert_eq!(
            c.get(Space::Log, b"x", false),
            None,
            "an absence may be stale"
        );
        let mut d = Batch::default();
        d.dispose(Space::Chunks, b"c".to_vec());
        d.put(Space::Chunks, b"big".to_vec(), vec![0; MAX_VALUE + 1]);
        c.applied(&d);
        assert_eq!(c.get(Space::Chunks, b"c", true), Some(None));
        assert_eq!(
            c.get(Space::Chunks, b"big", true),
            None,
            "large values are not kept"
        );
        // Their digest is: enough to tell an overwrite without asking the server.
        let big = vec![0; MAX_VALUE + 1];
        assert_eq!(c.clashes(Space::Chunks, b"big", &big, true), Some(false));
        assert_eq!(
            c.clashes(Space::Chunks, b"big", &[1; 5000], true),
            Some(true)
        );
        assert_eq!(c.clashes(Space::Chunks, b"c", b"any", true), Some(false));
        assert_eq!(c.clashes(Space::Chunks, b"unseen", b"any", true), None);
        assert_eq!(c.clashes(Space::Chunks, b"c", b"any", false), None);
        // Another writer wrote: chunks (a disposal deletes them) and absences are forgotten.
        c.keep_settled();
        assert_eq!(c.get(Space::Chunks, b"c", true), None);
        assert_eq!(c.get(Space::Log, b"x", true), None);
        assert_eq!(
            c.get(Space::Receipts, b"r", true),
            Some(Some(b"kept".to_vec()))
        );
    }
}
