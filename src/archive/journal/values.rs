//! Small values the journal wrote (those a later write may change) or read lately, by where
//! they lie in it.
//!
//! Why: every filing reads about a dozen small counters under the archive's writer lock —
//! its case's registration number and tally, the reference counts of the blobs it names
//! (the same trust anchor, CRLs and settings for every filing), the lengths of the look-up
//! lists it joins — and writes them back one larger. Each read was a `pread` of a few bytes
//! from the journal file; kept here, it is a hash look-up.
//!
//! A value is kept by its extent (offset and length), never by its key: the index says
//! which extent holds a key's current value, and bytes once written at an offset never
//! change (the journal only appends; disposal punches the extents of removed keys, which
//! the index no longer names; a torn write is cut off before any extent in it is named). So
//! a kept value is always the value of the extent the index points at, and nothing here
//! needs invalidating when a key is written again: its new value lies elsewhere.
//!
//! Bounded and O(1) whatever the offsets: a direct-mapped set of [`SLOTS`] values of at most
//! [`MAX_VALUE`] bytes each, a value's slot chosen by its offset. A value displaces whichever
//! one its slot held (the hot counters come back on their next read); a slot reused for a
//! value of the same length is overwritten in place, so the counters rewritten by every
//! filing usually allocate nothing. (A hash map cleared when full cost a hash, an allocation and a
//! rehash per value, and a sweep of sixteen thousand frees every thousand filings.) It relies
//! on one rule of the journal: nothing in a running process cuts the file below an extent the
//! index names (a failed write is cut back to where it began, before any of its extents is
//! named; a torn tail is cut at open, when this set is empty). Damage on disk to a value kept
//! here is seen by the audit, which reads the journal itself, not by a read served from here.

use super::recover::Extent;
use std::sync::{Mutex, PoisonError};

/// The largest value kept (counters, tallies and list slots are far smaller; entries,
/// receipts and chunks are larger and seldom read twice by filing).
pub const MAX_VALUE: usize = 256;

/// Slots (a power of two): at most 1 MiB of values (of 256 B), 32 KiB for counters (8 B),
/// plus 96 KiB of slots. A filing rewrites a dozen or two of them (it keeps only the values
/// that may change, and those read), so hundreds of filings' hot values fit, and the slots stay
/// in the CPU's cache.
pub const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 12;

/// One kept value and where it lies.
#[derive(Debug)]
struct Kept {
    off: u64,
    value: Box<[u8]>,
}

/// The kept values, in their slots (empty until the first is kept).
#[derive(Debug, Default)]
pub struct Values(Mutex<Vec<Option<Kept>>>);

/// The slot of the value at `off`: Fibonacci hashing, so that offsets a record apart spread.
fn slot(off: u64) -> usize {
    (off.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize
}

impl Values {
    /// The value at `e`, if kept.
    pub fn get(&self, e: Extent) -> Option<Vec<u8>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(slot(e.off))?
            .as_ref()
            .filter(|k| k.off == e.off && k.value.len() == e.len as usize)
            .map(|k| k.value.to_vec())
    }

    /// Keeps `value`, which lies at `e`, if it is small enough.
    pub fn keep(&self, e: Extent, value: &[u8]) {
        self.keep_all([(e, value)]);
    }

    /// Keeps each value small enough, which lies at its extent, under one lock: a batch's
    /// values are kept together, so the writer takes the lock the readers share once a batch.
    pub fn keep_all<'v>(&self, values: impl IntoIterator<Item = (Extent, &'v [u8])>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (e, value) in values {
            keep_one(&mut kept, e, value);
        }
    }
}

/// Puts `value`, which lies at `e`, in its slot, if it is small enough.
fn keep_one(kept: &mut Vec<Option<Kept>>, e: Extent, value: &[u8]) {
    if value.len() > MAX_VALUE || value.len() != e.len as usize {
        return;
    }
    if kept.is_empty() {
        kept.resize_with(SLOTS, || None);
    }
    let Some(place) = kept.get_mut(slot(e.off)) else {
        return;
    };
    match place {
        Some(k) if k.value.len() == value.len() => {
            k.off = e.off;
            k.value.copy_from_slice(value);
        }
        _ => {
            *place = Some(Kept {
                off: e.off,
                value: value.into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_only_at_its_own_extent_and_the_set_stays_bounded() {
        let v = Values::default();
        let at = |off, len| Extent { off, len };
        v.keep(at(10, 3), b"abc");
        assert_eq!(v.get(at(10, 3)).as_deref(), Some(&b"abc"[..]));
        assert_eq!(v.get(at(10, 2)), None, "another length is another extent");
        assert_eq!(v.get(at(13, 3)), None);
        v.keep(at(20, MAX_VALUE as u32 + 1), &vec![0; MAX_VALUE + 1]);
        assert_eq!(
            v.get(at(20, MAX_VALUE as u32 + 1)),
            None,
            "too large to keep"
        );
        for off in 0..SLOTS as u64 * 3 {
            v.keep(at(1000 + off * 7, 1), b"x");
        }
        assert_eq!(v.0.lock().unwrap().len(), SLOTS);
    }

    #[test]
    fn a_displaced_value_is_not_answered_for_the_one_that_took_its_slot() {
        let v = Values::default();
        let at = |off, len| Extent { off, len };
        // Two offsets that share a slot, and a value of each length.
        let a = 4096;
        let b = (a + 1..).find(|&o| slot(o) == slot(a)).unwrap();
        v.keep(at(a, 8), &1u64.to_be_bytes());
        v.keep(at(b, 8), &2u64.to_be_bytes());
        assert_eq!(v.get(at(a, 8)), None, "displaced, not misread");
        assert_eq!(v.get(at(b, 8)).as_deref(), Some(&2u64.to_be_bytes()[..]));
        v.keep(at(a, 3), b"abc");
        assert_eq!(v.get(at(b, 8)), None);
        assert_eq!(v.get(at(a, 3)).as_deref(), Some(&b"abc"[..]));
        assert_eq!(v.get(at(a, 8)), None, "same offset, another length");
    }
}
