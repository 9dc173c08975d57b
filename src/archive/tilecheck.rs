//! The audit's check of the stored tiles. `audit verify` recomputes the tree from the entries
//! and trusts no stored hash; this compares what it recomputes with every tile the archive
//! keeps and serves, so a forged tile (one that would give an auditor a wrong proof) is named.
//!
//! The check rides on the replay's one pass over the entries ([`Watch`] is the replay's
//! source, and sees each entry as it is read), holding one growing tile per level: memory
//! O(256 · levels), whatever the archive's size.

use super::audit::{AuditFailure, fail};
use super::log::FileRef;
use super::merkle::{self, Hash};
use super::replay::{Source, SourceError};
use super::store::{Space, Store};
use super::{keys, tilepath, tiles};
use std::cell::RefCell;

/// Whether `store` keeps any tile of `height`. The first full level-0 tile answers with one
/// look-up for any archive that keeps tiles; only without it (an archive from before tiles,
/// or one whose first tile is gone) is the space listed, which reads the whole journal.
fn any_tile(store: &dyn Store, height: u32) -> bool {
    let first = store.get(Space::Tiles, &keys::tile(0, 0, 1 << height));
    if matches!(first, Ok(Some(_))) {
        return true;
    }
    store.keys(Space::Tiles).map_or(true, |k| !k.is_empty())
}

/// A replay source that also recomputes the tiles from the entries it passes on.
pub struct Watch<'a> {
    inner: &'a dyn Source,
    store: &'a dyn Store,
    check: RefCell<Check>,
}

/// The tiles being recomputed.
struct Check {
    height: u32,
    /// The next entry to hash (entries read again, or out of order, are not hashed twice).
    next: u64,
    /// Per level: the tile being filled, and its hashes so far.
    growing: Vec<(u64, Vec<Hash>)>,
    /// Whether the store keeps tiles at all (an archive from before them, opened read-only).
    kept: bool,
    /// The first stored tile found wrong.
    wrong: Option<String>,
}

impl<'a> Watch<'a> {
    /// Watches `inner`, comparing with the tiles (of `height`) in `store`.
    pub fn new(inner: &'a dyn Source, store: &'a dyn Store, height: u32) -> Watch<'a> {
        // Only an archive with no tile at all is taken for one from before tiles: with none
        // there is nothing to forge (a missing tile is recomputed from below), and with any,
        // every tile must be there.
        let kept = any_tile(store, height);
        Watch {
            inner,
            store,
            check: RefCell::new(Check {
                height,
                next: 0,
                growing: Vec::new(),
                kept,
                wrong: None,
            }),
        }
    }

    /// After the replay of `size` entries: the first stored tile that differs from the entries,
    /// the partial tiles of the last size included. `Ok(Some(note))` when the archive keeps no
    /// tiles yet (they are built when it is next opened for writing).
    pub fn finish(&self, size: u64) -> Result<Option<String>, AuditFailure> {
        let mut c = self.check.borrow_mut();
        if size >= 1 << c.height && !c.kept {
            return Ok(Some(
                "the archive keeps no tiles yet: they are built when it is next opened for \
                 writing"
                    .into(),
            ));
        }
        if c.next != size {
            return Err(fail(None, None, "the tiles were not recomputed to the end"));
        }
        let partials: Vec<(u32, u64, Vec<u8>)> = c
            .growing
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, (_, t))| !t.is_empty())
            .map(|(l, (n, t))| (u32::try_from(l).unwrap_or(u32::MAX), *n, tiles::join(t)))
            .collect();
        for (level, n, bytes) in partials {
            c.compare(self.store, level, n, &bytes);
        }
        match c.wrong.take() {
            Some(what) => Err(fail(None, None, what)),
            None => Ok(None),
        }
    }
}

impl Check {
    /// Adds the next leaf, comparing every tile it fills.
    fn push(&mut self, store: &dyn Store, leaf: Hash) {
        self.next += 1;
        let full = 1usize << self.height;
        let (mut level, mut hash) = (0usize, leaf);
        loop {
            if self.growing.len() <= level {
                self.growing.push((0, Vec::new()));
            }
            let Some((n, t)) = self.growing.get_mut(level) else {
                return;
            };
            t.push(hash);
            if t.len() < full {
                return;
            }
            let (n, filled) = (*n, std::mem::take(t));
            if let Some(slot) = self.growing.get_mut(level) {
                *slot = (n + 1, Vec::new());
            }
            let l = u32::try_from(level).unwrap_or(u32::MAX);
            self.compare(store, l, n, &tiles::join(&filled));
            hash = merkle::root(&filled);
            level += 1;
        }
    }

    /// Compares the stored tile `n` of `level` at the width of `bytes` with `bytes`.
    fn compare(&mut self, store: &dyn Store, level: u32, n: u64, bytes: &[u8]) {
        if !self.kept || self.wrong.is_some() {
            return;
        }
        let width = u64::try_from(bytes.len() / 32).unwrap_or(u64::MAX);
        let partial = (width < 1 << self.height).then_some(width);
        let name = tilepath::path(Some(level), n, partial);
        self.wrong = match store.get(Space::Tiles, &keys::tile(level, n, width)) {
            Ok(Some(stored)) if stored == bytes => None,
            Ok(Some(_)) => Some(format!("stored tile {name} differs from the entries")),
            Ok(None) => Some(format!("stored tile {name} is missing")),
            Err(e) => Some(format!("stored tile {name} unreadable: {e}")),
        };
    }
}

impl Source for Watch<'_> {
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, SourceError> {
        let got = self.inner.entry(index)?;
        let mut c = self.check.borrow_mut();
        if let Some(bytes) = got.as_ref().filter(|_| index == c.next) {
            c.push(self.store, merkle::leaf_hash(bytes));
        }
        Ok(got)
    }

    fn receipt(&self, id: &str) -> Result<Vec<u8>, SourceError> {
        self.inner.receipt(id)
    }

    fn document(&self, index: u64, file: &FileRef) -> Result<u64, SourceError> {
        self.inner.document(index, file)
    }
}
