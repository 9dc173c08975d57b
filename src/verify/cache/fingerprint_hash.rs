//! The hasher of the maps keyed by SHA-256 fingerprints (the issuer-link memo, the anchor set).
//!
//! std's default SipHash-1-3 took a tenth of a microsecond per document here: every lookup
//! hashed 64 bytes of (subject, issuer) fingerprints through it. A fingerprint is already the
//! output of SHA-256 over bytes an attacker would have to grind to steer it, so a keyed
//! folded multiply of its words (the construction of foldhash and ahash) spreads it as well;
//! the key, drawn from std's per-process random source, leaves nothing to precompute against.
//!
//! For digest keys only: the multiplier is public and the key only seeds the state, so a map
//! keyed by bytes a sender chooses (a certificate's own bytes, names) must keep SipHash.

use std::hash::{BuildHasher, Hasher, RandomState};

/// An odd constant with well-mixed bits (2^64 / φ), the multiplier of every step.
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Builds [`FingerprintHasher`]s under one random key.
#[derive(Debug, Clone)]
pub struct FingerprintState {
    key: u64,
}

impl Default for FingerprintState {
    fn default() -> Self {
        FingerprintState {
            key: RandomState::new().hash_one(MUL),
        }
    }
}

impl BuildHasher for FingerprintState {
    type Hasher = FingerprintHasher;

    fn build_hasher(&self) -> FingerprintHasher {
        FingerprintHasher { state: self.key }
    }
}

/// Folds every 8-byte word written into the state with a 64 × 64 → 128-bit multiply.
#[derive(Debug, Clone)]
pub struct FingerprintHasher {
    state: u64,
}

impl FingerprintHasher {
    fn mix(&mut self, word: u64) {
        let p = u128::from(self.state ^ word) * u128::from(MUL);
        self.state = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for FingerprintHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut b = [0u8; 8];
            b.get_mut(..tail.len())
                .unwrap_or_default()
                .copy_from_slice(tail);
            // The tail's length goes in too, so that trailing zero bytes still count.
            self.mix(u64::from_le_bytes(b) ^ ((tail.len() as u64) << 59));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_byte_counts_and_the_key_differs() {
        let state = FingerprintState::default();
        let fp = [7u8; 32];
        let base = state.hash_one(fp);
        for i in 0..32 {
            let mut other = fp;
            other[i] ^= 1;
            assert_ne!(state.hash_one(other), base, "byte {i}");
        }
        assert_ne!(state.hash_one([0u8; 3]), state.hash_one([0u8; 4]));
        assert_ne!(FingerprintState::default().hash_one(fp), base);
    }

    #[test]
    fn sets_keyed_by_it_behave() {
        let mut set: HashSet<([u8; 32], [u8; 32]), FingerprintState> = HashSet::default();
        for i in 0..1000u32 {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&i.to_le_bytes());
            assert!(set.insert((a, [1; 32])));
        }
        assert_eq!(set.len(), 1000);
        assert!(set.contains(&([0; 32], [1; 32])));
        assert!(!set.contains(&([0; 32], [2; 32])));
    }
}
