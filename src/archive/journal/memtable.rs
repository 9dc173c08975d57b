//! The index's newest layer, in memory: the key hashes written since the last flush, and where
//! their values lie in the journal (or that they were removed).
//!
//! A hash table, not a tree. Key hashes are random, so a tree's look-up missed the CPU's cache
//! at every level: a tenth of a filing's time went there. The order a run needs is made once,
//! when it is written ([`Memtable::sorted`]). Entries are packed to 32 bytes (a tree took about
//! 45), so the table at its largest — twice [`super::index::FLUSH_AT`] keys, when writers wait
//! for a flush — stays near what the tree took.

use super::recover::{Extent, Found};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A key hash, as two words: a `u128` would align the table's entries to 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u64; 2]);

impl Key {
    fn of(h: u128) -> Key {
        Key([(h >> 64) as u64, h as u64])
    }

    fn hash128(self) -> u128 {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Key hashes are SHA-256 under the store's secret salt: as uniform as a table wants and
        // beyond anyone's aim, so hashing them again (SipHash) would only cost time.
        state.write_u64(self.0[0] ^ self.0[1]);
    }
}

/// Passes a [`Key`]'s folded word through.
#[derive(Debug, Default, Clone, Copy)]
struct Folded(u64);

impl Hasher for Folded {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is ever called (by `Key`); any other input is still hashed.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 ^= word;
    }
}

/// Where a value lies, or that its key was removed (`live` false), in 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Packed {
    off: u64,
    len: u32,
    live: bool,
}

impl Packed {
    fn of(found: Found) -> Packed {
        match found {
            Some(e) => Packed {
                off: e.off,
                len: e.len,
                live: true,
            },
            None => Packed {
                off: 0,
                len: 0,
                live: false,
            },
        }
    }

    fn found(self) -> Found {
        self.live.then_some(Extent {
            off: self.off,
            len: self.len,
        })
    }
}

/// Key hashes and what the index holds for each.
#[derive(Debug, Default, Clone)]
pub struct Memtable(HashMap<Key, Packed, BuildHasherDefault<Folded>>);

impl Memtable {
    /// An empty table with room for `n` keys: made at a flush for the next flush's worth, so
    /// that no write waits, index locked, while the table doubles.
    pub fn with_capacity(n: usize) -> Memtable {
        Memtable(HashMap::with_capacity_and_hasher(n, Default::default()))
    }

    /// What the table holds for `h`: `None` if nothing, `Some(None)` if it was removed.
    pub fn get(&self, h: u128) -> Option<Found> {
        self.0.get(&Key::of(h)).map(|p| p.found())
    }

    /// Sets what the index holds for `h`.
    pub fn insert(&mut self, h: u128, found: Found) {
        self.0.insert(Key::of(h), Packed::of(found));
    }

    /// Sets it unless the table holds something for `h` already (a newer write).
    pub fn insert_if_absent(&mut self, h: u128, found: Found) {
        self.0.entry(Key::of(h)).or_insert(Packed::of(found));
    }

    /// Takes out what the table holds for `h`.
    pub fn remove(&mut self, h: u128) -> Option<Found> {
        self.0.remove(&Key::of(h)).map(|p| p.found())
    }

    /// The key hashes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forgets every one (keeping the table's memory).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Every entry, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (u128, Found)> + '_ {
        self.0.iter().map(|(k, p)| (k.hash128(), p.found()))
    }

    /// Every entry in hash order, as a run is written.
    pub fn sorted(&self) -> Vec<(u128, Found)> {
        let mut entries: Vec<(u128, Found)> = self.iter().collect();
        entries.sort_unstable_by_key(|(h, _)| *h);
        entries
    }
}

impl FromIterator<(u128, Found)> for Memtable {
    fn from_iter<I: IntoIterator<Item = (u128, Found)>>(entries: I) -> Memtable {
        let mut table = Memtable::default();
        for (h, found) in entries {
            table.insert(h, found);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_packed_small_and_read_back_as_written_and_in_order() {
        assert_eq!(std::mem::size_of::<(Key, Packed)>(), 32);
        let at = |off, len| Some(Extent { off, len });
        let hashes = [u128::MAX, 0, 1 << 64, (1 << 64) - 1, 7 << 100, 12345];
        let mut t: Memtable = hashes.iter().map(|&h| (h, at(h as u64, 9))).collect();
        t.insert(12345, None);
        t.insert_if_absent(0, at(1, 1));
        for h in hashes {
            let want = if h == 12345 { None } else { at(h as u64, 9) };
            assert_eq!(t.get(h), Some(want), "{h:#x}");
        }
        assert_eq!(t.get(99), None);
        let sorted: Vec<u128> = t.sorted().into_iter().map(|(h, _)| h).collect();
        let mut want = hashes.to_vec();
        want.sort_unstable();
        assert_eq!(sorted, want);
        assert_eq!(t.remove(12345), Some(None));
        assert!(t.get(12345).is_none() && t.len() == hashes.len() - 1);
    }
}
