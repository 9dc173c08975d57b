//! Which keys the table certainly does not hold: a Bloom filter of every (space, key) it
//! holds, filled from one scan at open and then from the store's own batches.
//!
//! Filing a document asks for several keys that are not there yet — its receipt, its blob and
//! chunk (content addressing), its sender's reference — and each such question was a round
//! trip to the server, on a thread of its own: most of tamga's CPU over PostgreSQL went to
//! those hand-offs. Sound for the reason the read cache is (`cache.rs`): every key written
//! passes through [`KeyFilter::insert`] — this store's own batches as they are handed over,
//! and, for one of several frontends writing in turns, the other frontends' rows, read at
//! the start of each turn that finds them (`learn.rs`). A disposal leaves its
//! keys in the filter, which then only costs a look-up. The filter grows by adding a filter
//! of twice the size once the last one is full, so the share of false "maybe"s stays near
//! 1 % (Bloom, 1970; the growing series after Almeida et al., "Scalable Bloom filters", 2007).

use crate::archive::store::Space;
use std::hash::{BuildHasher, Hash, Hasher};

/// Bits per key a filter is sized for (with [`HASHES`] hashes: about 1 % false "maybe"s).
const BITS_PER_KEY: usize = 10;
/// Hashes per key.
const HASHES: u64 = 7;
/// Keys the first filter is sized for.
const FIRST: usize = 1 << 16;

/// One fixed-size Bloom filter.
#[derive(Debug)]
struct Bloom {
    bits: Vec<u64>,
    /// Keys it is sized for, and keys in it.
    capacity: usize,
    len: usize,
}

impl Bloom {
    fn new(capacity: usize) -> Bloom {
        let words = (capacity * BITS_PER_KEY).div_ceil(64).max(1);
        Bloom {
            bits: vec![0; words],
            capacity,
            len: 0,
        }
    }

    /// The bit positions of hash `h` (double hashing: Kirsch and Mitzenmacher, 2006).
    fn positions(&self, h: u64) -> impl Iterator<Item = usize> + use<> {
        let n = (self.bits.len() * 64) as u64;
        let (a, b) = (h, (h >> 32) | 1);
        (0..HASHES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) % n) as usize)
    }

    fn insert(&mut self, h: u64) {
        for p in self.positions(h) {
            if let Some(word) = self.bits.get_mut(p / 64) {
                *word |= 1 << (p % 64);
            }
        }
        self.len += 1;
    }

    fn may_hold(&self, h: u64) -> bool {
        self.positions(h).all(|p| {
            self.bits
                .get(p / 64)
                .is_some_and(|word| word & (1 << (p % 64)) != 0)
        })
    }
}

/// The keys the table may hold.
#[derive(Debug)]
pub struct KeyFilter {
    filters: Vec<Bloom>,
    hasher: std::hash::RandomState,
}

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter {
            filters: vec![Bloom::new(FIRST)],
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl KeyFilter {
    fn hash(&self, space: Space, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        space.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    }

    /// Takes in a key the table holds (or is about to).
    pub fn insert(&mut self, space: Space, key: &[u8]) {
        let h = self.hash(space, key);
        let full = self.filters.last().is_none_or(|f| f.len >= f.capacity);
        if full {
            let next = self.filters.last().map_or(FIRST, |f| f.capacity * 2);
            self.filters.push(Bloom::new(next));
        }
        if let Some(f) = self.filters.last_mut() {
            f.insert(h);
        }
    }

    /// Whether the table may hold (space, key); `false` is certain.
    pub fn may_hold(&self, space: Space, key: &[u8]) -> bool {
        let h = self.hash(space, key);
        self.filters.iter().any(|f| f.may_hold(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_taken_in_may_be_held_and_few_others_seem_to() {
        let mut f = KeyFilter::default();
        let n = 3 * FIRST as u64;
        for i in 0..n {
            f.insert(Space::Log, &i.to_be_bytes());
        }
        assert!(f.filters.len() >= 2, "it grew");
        assert!((0..n).all(|i| f.may_hold(Space::Log, &i.to_be_bytes())));
        let false_maybes = (n..2 * n)
            .filter(|i| f.may_hold(Space::Log, &i.to_be_bytes()))
            .count();
        assert!(
            false_maybes < (n / 20) as usize,
            "{false_maybes} of {n} absent keys seemed held"
        );
    }
}
