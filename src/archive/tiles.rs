//! The Merkle tree's interior hashes, kept as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>)
//! so that a proof reads O(log n) stored hashes instead of every entry.
//!
//! A tile at level `L` holds up to 256 consecutive hashes of the nodes at height `8·L`: level 0
//! the entries' leaf hashes, level 1 the roots of full level-0 tiles, and so on. Tiles are
//! written in the same batch as the entries that complete or grow them, and nothing is ever
//! rewritten ([`Space::Tiles`] is append-only):
//! - a full tile is one key, written when it fills;
//! - a level-0 tile that is not full yet is not stored: its hashes are those of the (at most
//!   255) entries after the last full tile, read when needed. Storing it would rewrite up to
//!   8 KiB on every filing, and the journal keeps every value it was ever given;
//! - a partial tile above level 0 grows once per 256^L filings, and is stored at each width it
//!   reaches under its own key (about 16 bytes per filing in all).
//!
//! An archive written before tiles existed gets them once, on the first writable open
//! ([`ensure`]); until then (a read-only open) a missing tile is recomputed from the level
//! below, so proofs stay right, only slow. `audit verify` recomputes every tile from the
//! entries and compares ([`super::tilecheck`]). Tile paths are named and parsed in
//! [`super::tilepath`].

use super::merkle::{self, Hash};
use super::store::{Batch, Space, Store};
use super::tilepath::TileRef;
use super::{ArchiveError, keys};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The archive's tile height: 2^8 = 256 hashes to a tile (C2SP tlog-tiles). Tests use smaller
/// heights to reach many levels with few entries; the layout is the same.
pub const HEIGHT: u32 = 8;

/// Entries read per batch when tiles are built for an archive that has none.
const BUILD_CHUNK: u64 = 64 << HEIGHT;

/// The store's entry `i`, or damage if it is missing.
pub(super) fn entry(store: &dyn Store, i: u64) -> Result<Vec<u8>, ArchiveError> {
    store
        .get(Space::Log, &i.to_be_bytes())?
        .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} is missing")))
}

/// The leaf hashes of the store's entries `range`, or damage if one is missing.
fn leaf_hashes(store: &dyn Store, range: std::ops::Range<u64>) -> Result<Vec<Hash>, ArchiveError> {
    range
        .map(|i| Ok(merkle::leaf_hash(&entry(store, i)?)))
        .collect()
}

/// Hashes concatenated, as a tile is served and stored.
pub fn join(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// A tile's bytes as hashes; `None` unless exactly `width` of them.
fn split(raw: &[u8], width: u64) -> Option<Vec<Hash>> {
    if u64::try_from(raw.len()).ok()? != width.checked_mul(32)? {
        return None;
    }
    raw.chunks_exact(32)
        .map(|c| <Hash>::try_from(c).ok())
        .collect()
}

/// Reads tree hashes from the stored tiles of a tree of `size` leaves (the size the tiles are
/// known to cover: the archive's size when the reader was made). Tiles read are cached for the
/// reader's life, so a proof reads each at most once.
pub struct Tiles<'a> {
    store: &'a dyn Store,
    height: u32,
    size: u64,
    cache: HashMap<(u32, u64), Vec<Hash>>,
    upper: Option<Arc<Upper>>,
}

/// Full tiles above level 0 with every interior node computed (the tile's 256 hashes, then
/// the 128 above them, … up to its root), shared by every reader of one archive. A proof
/// walks one tile per level and needs, in each, the roots of sibling subtrees of 1, 2, … 128
/// hashes — 255 hashes to compute per tile without this; so without it a proof's cost grew
/// by that much with every level the tree gained (measured: p99 at 10^6 2.2–2.4× that at
/// 10^3). Full tiles never change, so an entry stays true. Level 0 is not kept: a random
/// proof's leaf tile is one of n/256, seldom asked twice. At most [`UPPER_TILES`] tiles
/// (16 KiB each): every upper tile up to about 3·10^7 entries.
#[derive(Debug, Default)]
pub struct Upper(Mutex<HashMap<(u32, u64), TileTree>>);

/// A full tile's hashes followed by each row of interior nodes above them, up to its root.
type TileTree = Arc<Vec<Hash>>;

/// Upper tiles [`Upper`] keeps at most (8 MiB).
pub const UPPER_TILES: usize = 512;

/// The leaf hashes of the tree's last, partial level-0 tile, which is not stored: kept in
/// memory beside the log so that a proof at the current size does not re-read up to 255
/// entries.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    size: u64,
    /// `None` when they could not be read at open (an entry missing: the audit's business).
    hashes: Option<Vec<Hash>>,
    /// Whether another process wrote the store since they were read: read again when next
    /// needed ([`Edge::catch_up`]).
    stale: bool,
    /// The upper tiles' interior nodes, shared by this archive's readers.
    upper: Arc<Upper>,
}

impl Edge {
    /// The edge of the stored tree of `size` entries, read from its last entries.
    pub fn load(store: &dyn Store, size: u64) -> Edge {
        let first = size >> HEIGHT << HEIGHT;
        let hashes = leaf_hashes(store, first..size).ok();
        Edge {
            size,
            hashes,
            stale: false,
            upper: Arc::default(),
        }
    }

    /// Another process wrote: the stored tree has `size` entries, whose last hashes this edge
    /// does not have. Its own appends still move the size; the hashes are read by
    /// [`Edge::catch_up`]. The upper tiles' nodes stay: full tiles never change (but see
    /// [`Edge::forget_past`] for those this process computed from a lost batch).
    pub fn behind(&mut self, size: u64) {
        self.size = size;
        self.hashes = None;
        self.stale = true;
    }

    /// Forgets the upper tiles that reach past the first `durable` entries. With several
    /// processes writing one store, a batch applied in a turn that was then lost may have
    /// filled an upper tile, and the tile's nodes been computed from what the store answered
    /// then (the lost batch, still in its memory): read the head again after such a loss, the
    /// archive keeps only tiles made of entries it made durable, which no later writer changes.
    pub fn forget_past(&self, durable: u64) {
        let mut map = self.upper.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|(level, n), _| {
            // Entries per tile at its level, and the end of its entries (none: past any size).
            let per_tile = level
                .checked_add(1)
                .and_then(|l| HEIGHT.checked_mul(l))
                .and_then(|shift| 1u64.checked_shl(shift));
            let end = per_tile.and_then(|p| n.checked_add(1)?.checked_mul(p));
            end.is_some_and(|e| e <= durable)
        });
    }

    /// Reads the hashes of a stale edge (see [`Edge::behind`]).
    pub fn catch_up(&mut self, store: &dyn Store) {
        if self.stale {
            let first = self.size >> HEIGHT << HEIGHT;
            self.hashes = leaf_hashes(store, first..self.size).ok();
            self.stale = false;
        }
    }

    /// The tree grew by `leaves`.
    pub fn advance(&mut self, leaves: &[Hash]) {
        self.size += u64::try_from(leaves.len()).unwrap_or(0);
        if let Some(hashes) = self.hashes.as_mut() {
            hashes.extend_from_slice(leaves);
            let keep = usize::try_from(self.size & ((1 << HEIGHT) - 1)).unwrap_or(0);
            let drop = hashes.len().saturating_sub(keep);
            hashes.drain(..drop);
        }
    }

    /// Computes the interior nodes of every full tile above level 0 not yet kept (as many as
    /// [`Upper`] has room for), so that no proof pays for them: at open, and each time the
    /// tree fills another such tile (once every 2^16 entries). At 10^7 entries that is 152
    /// tiles of 255 hashes each. A tile that cannot be read is left for a proof to meet.
    pub fn warm(&self, store: &dyn Store) {
        let mut t = self.reader(store);
        let full = 1u64 << HEIGHT;
        for level in 1.. {
            let tiles = self.size >> (HEIGHT * (level + 1)).min(63);
            if tiles == 0 {
                break;
            }
            for n in 0..tiles {
                if t.width(level, n) == full && !matches!(t.upper_tile(level, n), Ok(Some(_))) {
                    return;
                }
            }
        }
    }

    /// The tree size this edge is at.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether growing from `before` entries to this edge's size filled a tile above level 0.
    pub fn filled_upper(&self, before: u64) -> bool {
        before >> (2 * HEIGHT) != self.size >> (2 * HEIGHT)
    }

    /// A reader of the tree of this edge's size, with the edge's hashes already in hand.
    pub fn reader<'a>(&self, store: &'a dyn Store) -> Tiles<'a> {
        let mut t = Tiles::new(store, HEIGHT, self.size);
        t.upper = Some(self.upper.clone());
        if let Some(h) = self.hashes.as_ref().filter(|h| !h.is_empty()) {
            t.cache.insert((0, self.size >> HEIGHT), h.clone());
        }
        t
    }
}

impl<'a> Tiles<'a> {
    /// The tree size this reader reads.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A reader over `store`'s tiles of height `height` for a tree of `size` leaves.
    pub fn new(store: &'a dyn Store, height: u32, size: u64) -> Tiles<'a> {
        Tiles {
            store,
            height,
            size,
            cache: HashMap::new(),
            upper: None,
        }
    }

    /// Hashes to a full tile.
    fn full(&self) -> u64 {
        1 << self.height
    }

    /// How many hashes tile `n` of `level` has in the tree of this reader's size.
    pub fn width(&self, level: u32, n: u64) -> u64 {
        let count = self
            .height
            .checked_mul(level)
            .and_then(|shift| self.size.checked_shr(shift))
            .unwrap_or(0);
        // A tile number so large that its first hash's index overflows has no hashes
        // (shifting would drop its high bits and name another tile).
        let first = 1u64
            .checked_shl(self.height)
            .and_then(|per_tile| n.checked_mul(per_tile))
            .unwrap_or(u64::MAX);
        count.saturating_sub(first).min(self.full())
    }

    /// The first `width` hashes of tile `n` at `level`; `width` must not exceed
    /// [`Tiles::width`].
    pub fn hashes(&mut self, level: u32, n: u64, width: u64) -> Result<Vec<Hash>, ArchiveError> {
        let avail = self.width(level, n);
        if width > avail {
            return Err(ArchiveError::Damaged(format!(
                "tile {level}/{n} asked for {width} hashes of {avail}"
            )));
        }
        if !self.cache.contains_key(&(level, n)) {
            let loaded = self.load(level, n, avail)?;
            self.cache.insert((level, n), loaded);
        }
        let all = self.cache.get(&(level, n)).map_or(&[][..], Vec::as_slice);
        Ok(all
            .get(..usize::try_from(width).unwrap_or(usize::MAX))
            .unwrap_or(all)
            .to_vec())
    }

    /// Tile `n` at `level` of width `avail`: as stored, else recomputed from below.
    fn load(&mut self, level: u32, n: u64, avail: u64) -> Result<Vec<Hash>, ArchiveError> {
        let stored = if level > 0 || avail == self.full() {
            self.store.get(Space::Tiles, &keys::tile(level, n, avail))?
        } else {
            None
        };
        if let Some(hashes) = stored.and_then(|raw| split(&raw, avail)) {
            return Ok(hashes);
        }
        let first = n << self.height;
        if level == 0 {
            return leaf_hashes(self.store, first..first + avail);
        }
        (first..first + avail)
            .map(|below| {
                let t = self.hashes(level - 1, below, self.full())?;
                Ok(merkle::root(&t))
            })
            .collect()
    }

    /// The hash of the complete subtree of `2^height` leaves number `index` at that height.
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ArchiveError> {
        let (level, k) = (height / self.height, height % self.height);
        let first = index << k;
        let n = first >> self.height;
        let off = first & (self.full() - 1);
        if level > 0
            && k > 0
            && self.width(level, n) == self.full()
            && let Some(tree) = self.upper_tile(level, n)?
        {
            // Row k of the tile's tree starts after rows 0..k: full·(2 − 2^(1−k)) hashes.
            let row_start = (2 * self.full()).saturating_sub(self.full() >> (k - 1));
            let at = usize::try_from(row_start + (off >> k)).unwrap_or(usize::MAX);
            if let Some(h) = tree.get(at) {
                return Ok(*h);
            }
        }
        let t = self.hashes(level, n, off + (1 << k))?;
        let lo = usize::try_from(off).unwrap_or(usize::MAX);
        let part = t.get(lo..).unwrap_or_default();
        Ok(merkle::root(part))
    }

    /// Full tile `n` at `level` (> 0) with its interior nodes, row by row, from this reader's
    /// shared [`Upper`], computed and kept there first if it has room; `None` without one or
    /// without room (the node is then computed alone, as cheaply as before).
    fn upper_tile(&mut self, level: u32, n: u64) -> Result<Option<Arc<Vec<Hash>>>, ArchiveError> {
        let Some(upper) = self.upper.clone() else {
            return Ok(None);
        };
        {
            let map = upper.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(tree) = map.get(&(level, n)) {
                return Ok(Some(tree.clone()));
            }
            if map.len() >= UPPER_TILES {
                return Ok(None);
            }
        }
        let mut tree = self.hashes(level, n, self.full())?;
        let mut row = 0;
        // Each row is the one below hashed in pairs (a full tile: 2^height hashes).
        while tree.len() - row > 1 {
            let below = tree.len() - row;
            let next: Vec<Hash> = tree
                .get(row..)
                .unwrap_or_default()
                .chunks_exact(2)
                .filter_map(|p| match p {
                    [l, r] => Some(merkle::node_hash(l, r)),
                    _ => None,
                })
                .collect();
            row += below;
            tree.extend(next);
        }
        let tree = Arc::new(tree);
        upper
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((level, n), tree.clone());
        Ok(Some(tree))
    }

    /// MTH(D[lo:hi]) (RFC 9162 §2.1.1) from the tiles: a complete, aligned subtree is one node;
    /// any other range splits as the tree does, at the largest power of two below its length.
    pub fn mth(&mut self, lo: u64, hi: u64) -> Result<Hash, ArchiveError> {
        let len = hi.saturating_sub(lo);
        if len == 0 {
            return Ok(merkle::root(&[]));
        }
        if len.is_power_of_two() && lo.is_multiple_of(len) {
            let h = len.trailing_zeros();
            return self.node(h, lo >> h);
        }
        let k = 1u64 << (63 - (len - 1).leading_zeros());
        let left = self.mth(lo, lo + k)?;
        let right = self.mth(lo + k, hi)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

/// Adds to `batch` the tiles that appending `leaves` to a tree of `from` leaves fills or grows
/// (tile height `height`), reading what the tree already holds from `store`.
pub fn extend(
    store: &dyn Store,
    height: u32,
    from: u64,
    leaves: &[Hash],
    batch: &mut Batch,
) -> Result<(), ArchiveError> {
    let full = 1u64 << height;
    let mut grow = Grow {
        reader: Tiles::new(store, height, from),
        growing: Vec::new(),
    };
    let (mut pos, mut rest) = (from, leaves);
    while !rest.is_empty() {
        let (n, off) = (pos >> height, pos & (full - 1));
        let take = (full - off).min(u64::try_from(rest.len()).unwrap_or(u64::MAX));
        let (now, later) = rest.split_at(usize::try_from(take).unwrap_or(rest.len()));
        if off + take == full {
            let mut t = grow.reader.hashes(0, n, off)?;
            t.extend_from_slice(now);
            batch.put(Space::Tiles, keys::tile(0, n, full), join(&t));
            grow.promote(1, n, merkle::root(&t), batch)?;
        }
        pos += take;
        rest = later;
    }
    for (below, slot) in grow.growing.into_iter().enumerate() {
        if let Some((n, t)) = slot.filter(|(_, t)| !t.is_empty()) {
            let level = u32::try_from(below + 1).unwrap_or(u32::MAX);
            let width = u64::try_from(t.len()).unwrap_or(u64::MAX);
            batch.put(Space::Tiles, keys::tile(level, n, width), join(&t));
        }
    }
    Ok(())
}

/// The tiles above level 0 that one batch grows.
struct Grow<'a> {
    /// The tree as it was before the batch.
    reader: Tiles<'a>,
    /// Per level from 1: the tile this batch grows there, and its hashes so far.
    growing: Vec<Option<(u64, Vec<Hash>)>>,
}

impl Grow<'_> {
    /// Appends `hash` as node `index` of `level` (the root of a full tile below), carrying a
    /// tile that fills up to the level above.
    fn promote(
        &mut self,
        mut level: u32,
        mut index: u64,
        mut hash: Hash,
        batch: &mut Batch,
    ) -> Result<(), ArchiveError> {
        let h = self.reader.height;
        let full = 1u64 << h;
        loop {
            let (n, off) = (index >> h, index & (full - 1));
            let at = usize::try_from(level - 1).unwrap_or(usize::MAX);
            if self.growing.len() <= at {
                self.growing.resize(at + 1, None);
            }
            let known = self.growing.get(at).and_then(|s| s.as_ref()).map(|s| s.0);
            if known != Some(n) {
                // The first growth of this tile in the batch: start from what is stored.
                let prior = self.reader.hashes(level, n, off)?;
                if let Some(slot) = self.growing.get_mut(at) {
                    *slot = Some((n, prior));
                }
            }
            let Some(Some((_, t))) = self.growing.get_mut(at) else {
                return Ok(());
            };
            t.push(hash);
            if u64::try_from(t.len()).unwrap_or(0) < full {
                return Ok(());
            }
            batch.put(Space::Tiles, keys::tile(level, n, full), join(t));
            hash = merkle::root(t);
            if let Some(slot) = self.growing.get_mut(at) {
                *slot = None;
            }
            level += 1;
            index = n;
        }
    }
}

/// Builds the tiles of an archive of `size` entries that lacks them (one written before tiles
/// existed, or whose build was cut short), in batches; returns whether it built any. Tiles
/// are always written in order, so the full level-0 tiles present are a prefix, and the first
/// missing one is found by bisection.
pub fn ensure(store: &dyn Store, height: u32, size: u64) -> Result<bool, ArchiveError> {
    let full = 1u64 << height;
    let complete = size >> height;
    let present = |n: u64| -> Result<bool, ArchiveError> {
        Ok(store.get(Space::Tiles, &keys::tile(0, n, full))?.is_some())
    };
    if complete == 0 || present(complete - 1)? {
        return Ok(false);
    }
    // The first missing full level-0 tile lies in [lo, hi]; hi is missing.
    let (mut lo, mut hi) = (0u64, complete - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if present(mid)? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut from = lo << height;
    let chunk = BUILD_CHUNK >> HEIGHT << height;
    while from < size {
        let to = size.min(from + chunk);
        let leaves = leaf_hashes(store, from..to)?;
        let mut b = Batch::default();
        extend(store, height, from, &leaves, &mut b)?;
        store.apply(&b)?;
        from = to;
    }
    Ok(true)
}

/// The bytes at a tile path in a tree of `size` entries, `None` if the tree has no such tile
/// (yet): a tile's hashes, or an entry bundle (each entry as hashed into the tree, behind its
/// length as a big-endian u16). A partial width is served while the tree has at least that
/// many hashes there, even once the tile is full: its hashes never change.
pub fn read(tiles: &mut Tiles<'_>, at: TileRef) -> Result<Option<Vec<u8>>, ArchiveError> {
    let store = tiles.store;
    let level = at.level.unwrap_or(0);
    let width = at.partial.unwrap_or(1 << HEIGHT);
    if width > tiles.width(level, at.n) {
        return Ok(None);
    }
    if at.level.is_some() {
        return Ok(Some(join(&tiles.hashes(level, at.n, width)?)));
    }
    let Some(first) = at.n.checked_mul(1 << HEIGHT) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for i in first..first + width {
        let e = entry(store, i)?;
        let len = u16::try_from(e.len()).map_err(|_| {
            ArchiveError::Refused(format!(
                "entry {i} is {} bytes, more than an entry bundle can carry (65,535)",
                e.len()
            ))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e);
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "tiles_tests.rs"]
pub(super) mod tests;
