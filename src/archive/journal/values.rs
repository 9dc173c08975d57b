//! Small values the journal wrote or read lately, by where they lie in it.
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
//! Bounded: values of at most [`MAX_VALUE`] bytes, at most [`MAX_KEPT`] of them; when full
//! it starts again empty (the hot counters come back on their next read). It relies on one
//! rule of the journal: nothing in a running process cuts the file below an extent the index
//! names (a failed write is cut back to where it began, before any of its extents is named;
//! a torn tail is cut at open, when this set is empty). Damage on disk to a value kept here is
//! seen by the audit, which reads the journal itself, not by a read served from here.

use super::recover::Extent;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The largest value kept (counters, tallies and list slots are far smaller; entries,
/// receipts and chunks are larger and seldom read twice by filing).
pub const MAX_VALUE: usize = 256;

/// Values kept at most: with their bookkeeping, at most about 5 MiB (values of 256 B), about
/// 1 MiB for the counters of a filing (8 B). Superseded values stay until the set starts
/// again, about every thousand filings.
pub const MAX_KEPT: usize = 16_384;

/// The kept values, by offset.
#[derive(Debug, Default)]
pub struct Values(Mutex<HashMap<u64, Box<[u8]>>>);

impl Values {
    /// The value at `e`, if kept.
    pub fn get(&self, e: Extent) -> Option<Vec<u8>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(&e.off)
            .filter(|v| v.len() == e.len as usize)
            .map(|v| v.to_vec())
    }

    /// Keeps `value`, which lies at `e`, if it is small enough.
    pub fn keep(&self, e: Extent, value: &[u8]) {
        if value.len() > MAX_VALUE || value.len() != e.len as usize {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        kept.insert(e.off, value.into());
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
        for off in 0..MAX_KEPT as u64 + 5 {
            v.keep(at(1000 + off, 1), b"x");
        }
        assert!(v.0.lock().unwrap().len() <= MAX_KEPT);
    }
}
