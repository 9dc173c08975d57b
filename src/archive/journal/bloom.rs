//! A Bloom filter per index run, in memory: a look-up of a key a run does not hold — every new
//! key a batch writes is one, checked for an overwrite — is then answered without reading the
//! run, so misses cost no I/O however many runs there are. Ten bits per key, seven probes
//! (about 1 % false positives, which only cost the block read the filter would have spared).
//! The probes come from the key's hash itself (double hashing over its two halves), which is
//! already uniform. Every run has one, the oldest too (1.25 bytes per key in memory): without
//! it each new key a filing writes read one block of the oldest run, about twenty block reads
//! per real filing at 10^5 and beyond and none at 10^3 (measured by `cargo bench --bench
//! scale`). Runs written before then have none for the oldest: an empty filter answers
//! "maybe", and they are read as before until their next merge.

/// Bits per key.
const BITS_PER_KEY: u64 = 10;
/// Probes per key.
const PROBES: u64 = 7;

/// A Bloom filter over 128-bit key hashes; an empty one holds everything possible.
#[derive(Debug, Default, Clone)]
pub struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    /// A filter sized for `keys` keys (none for 0).
    pub fn with_capacity(keys: u64) -> Bloom {
        let words = if keys == 0 {
            0
        } else {
            keys.saturating_mul(BITS_PER_KEY) / 64 + 1
        };
        Bloom {
            words: vec![0; usize::try_from(words).unwrap_or(0)],
        }
    }

    fn probes(&self, h: u128) -> impl Iterator<Item = (usize, u64)> + use<> {
        let m = (self.words.len() as u64).saturating_mul(64).max(1);
        let h1 = h as u64;
        let h2 = ((h >> 64) as u64) | 1;
        (0..PROBES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % m;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    /// Adds a hash.
    pub fn insert(&mut self, h: u128) {
        for (w, b) in self.probes(h) {
            if let Some(x) = self.words.get_mut(w) {
                *x |= b;
            }
        }
    }

    /// Whether `h` may be in the set (always, for an empty filter).
    pub fn may_contain(&self, h: u128) -> bool {
        self.words.is_empty()
            || self
                .probes(h)
                .all(|(w, b)| self.words.get(w).is_some_and(|x| x & b != 0))
    }

    /// Its words, as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// The filter stored as `raw` (a multiple of 8 bytes).
    pub fn from_bytes(raw: &[u8]) -> Bloom {
        Bloom {
            words: raw
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        }
    }

    /// Its length in 64-bit words.
    pub fn words(&self) -> u64 {
        self.words.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_was_inserted_and_rejects_most_of_the_rest() {
        let mut b = Bloom::with_capacity(10_000);
        let hash = |i: u128| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        for i in 0..10_000 {
            b.insert(hash(i));
        }
        assert!((0..10_000).all(|i| b.may_contain(hash(i))));
        let false_positives = (10_000..110_000)
            .filter(|&i| b.may_contain(hash(i)))
            .count();
        assert!(false_positives < 2_000, "{false_positives} of 100,000");
        let again = Bloom::from_bytes(&b.to_bytes());
        assert!((0..10_000).all(|i| again.may_contain(hash(i))));
        assert!(Bloom::default().may_contain(hash(5)));
    }
}
