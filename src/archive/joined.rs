//! Consecutive filings' batches applied to the store as one batch.
//!
//! Why: every filing rewrites the same dozen index keys — the head, its case's counter and
//! tally, the reference counts of the shared evidence (trust anchors, CRLs, settings), the
//! submitter's look-up lists — besides the dozen keys of its own. Applied one by one, each
//! batch writes all of them again; an embedded store pays per key (sled a few µs each, the
//! journal a memtable entry and record bytes). When several filings are ready at the front of
//! the pipeline's queue, they go as one batch in which a rewritten index key appears once,
//! with its last value: the store ends up exactly as if they had been applied in order.
//!
//! Nothing else changes when the store takes the batch. When it refuses it, every batch joined
//! in it fails (and, as before, every batch queued after them): a filing that would have been
//! applied alone ahead of the one at fault fails too, its sender retries, and nothing of any of
//! them is kept. What stays apart:
//! - a batch that disposes of anything (only disposal acts do, never a filing);
//! - a batch that writes a key of an append-only space the joined batch already writes with
//!   other bytes: applied on its own, the store refuses it ([`StoreError::Overwrite`]), as it
//!   would have; with the same bytes (two filings naming one new evidence blob), the key is
//!   written once;
//! - beyond [`MAX_BYTES`] of keys and values or [`MAX_BATCHES`] batches: one record, one sled
//!   batch stays small, and a large document goes alone.
//!
//! [`StoreError::Overwrite`]: super::store::StoreError::Overwrite

use super::merkle::Hash;
use super::store::{Batch, Space};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// Batches joined at most.
pub const MAX_BATCHES: usize = 64;
/// Bytes of keys and values a joined batch takes at most (its first batch, whatever its size).
/// Keys count too: a journal record's keys are bounded apart from its values.
pub const MAX_BYTES: usize = 4 << 20;

/// Batches being joined, borrowed until [`Joined::into_batch`].
#[derive(Debug, Default)]
pub struct Joined<'a> {
    puts: Vec<(Space, &'a [u8], &'a [u8])>,
    /// Where each key's put is in `puts`.
    at: HashMap<(Space, &'a [u8]), usize>,
    disposals: Vec<(Space, Vec<u8>)>,
    bytes: usize,
    batches: usize,
}

impl<'a> Joined<'a> {
    /// Whether `batch` joins the batches so far (see the module), and adds it if it does.
    pub fn add(&mut self, batch: &'a Batch) -> bool {
        if self.batches > 0 && !self.joins(batch) {
            return false;
        }
        for (space, key, value) in &batch.puts {
            match self.at.entry((*space, key.as_slice())) {
                Entry::Occupied(e) => {
                    // Index keys: the later value wins. Append-only ones: the same bytes
                    // (`joins` refused others), written once.
                    if let Some(put) = self.puts.get_mut(*e.get()) {
                        put.2 = value;
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(self.puts.len());
                    self.puts.push((*space, key, value));
                }
            }
            self.bytes = self.bytes.saturating_add(key.len() + value.len());
        }
        self.disposals.extend(batch.disposals.iter().cloned());
        self.batches += 1;
        true
    }

    /// Whether `batch` may join a non-empty joined batch.
    fn joins(&self, batch: &Batch) -> bool {
        let bytes = batch
            .puts
            .iter()
            .fold(0usize, |n, (_, k, v)| n.saturating_add(k.len() + v.len()));
        self.batches < MAX_BATCHES
            && self.disposals.is_empty()
            && batch.disposals.is_empty()
            && self.bytes.saturating_add(bytes) <= MAX_BYTES
            && batch.puts.iter().all(|(space, key, value)| {
                space
                    .append_only()
                    .then(|| self.at.get(&(*space, key.as_slice())))
                    .flatten()
                    .and_then(|&i| self.puts.get(i))
                    .is_none_or(|(_, _, held)| *held == value.as_slice())
            })
    }

    /// The joined batch.
    pub fn into_batch(self) -> Batch {
        Batch {
            puts: self
                .puts
                .into_iter()
                .map(|(s, k, v)| (s, k.to_vec(), v.to_vec()))
                .collect(),
            disposals: self.disposals,
        }
    }
}

/// A slot's batch with its receipt placed, as the applier hands it to the store.
pub(super) struct Placed {
    /// The batch.
    pub batch: Arc<Batch>,
    /// The tree size before its entries.
    pub base: u64,
    /// Their leaf hashes.
    pub leaves: Vec<Hash>,
}

/// The front batches joined as far as they join (`joined.rs`), and how many that is: a batch
/// alone is handed over as it is, not copied.
pub(super) fn join(front: &[Placed]) -> (Arc<Batch>, usize) {
    let mut joined = Joined::default();
    let count = front.iter().take_while(|p| joined.add(&p.batch)).count();
    match front {
        [first, ..] if count <= 1 => (Arc::clone(&first.batch), 1),
        _ => (Arc::new(joined.into_batch()), count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(n: u8, evidence: &[u8]) -> Batch {
        let mut b = Batch::default();
        b.put(Space::Log, [n], format!("entry {n}"));
        b.put(Space::Blobs, evidence, b"evidence".to_vec());
        b.put(Space::Index, b"head".to_vec(), [n]);
        b.put(Space::Index, format!("regno/{n}"), [n]);
        b
    }

    #[test]
    fn a_rewritten_index_key_is_written_once_with_its_last_value() {
        let (a, b, c) = (filing(1, b"e"), filing(2, b"e"), filing(3, b"f"));
        let mut j = Joined::default();
        assert!(j.add(&a) && j.add(&b) && j.add(&c));
        let joined = j.into_batch();
        assert_eq!(joined.pending(Space::Index, b"head"), Some(&[3][..]));
        let heads = joined.puts.iter().filter(|(_, k, _)| k == b"head").count();
        assert_eq!(heads, 1);
        let evidence = joined.puts.iter().filter(|(s, _, _)| *s == Space::Blobs);
        assert_eq!(evidence.count(), 2, "one put per evidence blob");
        // Every other put of every batch is there, in order.
        assert_eq!(joined.puts.len(), 3 + 2 + 1 + 3);
        assert_eq!(joined.puts.first().map(|p| p.1.clone()), Some(vec![1]));
    }

    #[test]
    fn what_the_store_must_judge_or_must_stay_small_goes_alone() {
        let a = filing(1, b"e");
        // An append-only key with other bytes: the store refuses it on its own.
        let mut other = filing(2, b"x");
        other.put(Space::Log, [1], b"another entry 1".to_vec());
        let mut disposal = Batch::default();
        disposal.dispose(Space::Chunks, b"c".to_vec());
        let mut big = filing(3, b"y");
        big.put(Space::Chunks, b"big".to_vec(), vec![0; MAX_BYTES]);
        // Keys count too: values that fit, under a key that does not.
        let mut long_key = filing(4, b"z");
        long_key.put(Space::Index, vec![b'k'; MAX_BYTES], b"v".to_vec());
        let mut j = Joined::default();
        assert!(j.add(&a));
        assert!(!j.add(&other) && !j.add(&disposal) && !j.add(&big) && !j.add(&long_key));
        assert_eq!(j.into_batch().puts, a.puts, "only the first");
        // First in a joined batch, each is taken whole.
        for alone in [&other, &disposal, &big] {
            let mut j = Joined::default();
            assert!(j.add(alone));
            assert!(!j.add(&a), "nothing joins a disposal or a full batch");
            let joined = j.into_batch();
            assert_eq!(joined.puts.len(), alone.puts.len());
            assert_eq!(joined.disposals, alone.disposals);
        }
    }
}
