use super::*;
use crate::archive::store::StoreError;
use crate::archive::tilepath::parse;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// (space prefix, key) → value.
type Map = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

/// A store in memory that keeps the append-only rule (a tile is never rewritten) and can be
/// told to refuse every write (a read-only open).
#[derive(Debug, Default)]
pub struct Mem {
    map: Mutex<Map>,
    pub read_only: std::sync::atomic::AtomicBool,
}

impl Store for Mem {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        if self.read_only.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Unwritable("read-only".into()));
        }
        let mut map = self.map.lock().unwrap();
        for (space, k, v) in &batch.puts {
            let key = (space.prefix(), k.clone());
            if space.append_only() && map.get(&key).is_some_and(|old| old != v) {
                return Err(StoreError::Overwrite {
                    space: *space,
                    key: crate::verify::certificate::hex(k),
                });
            }
        }
        for (space, k, v) in &batch.puts {
            map.insert((space.prefix(), k.clone()), v.clone());
        }
        for (space, k) in &batch.disposals {
            map.remove(&(space.prefix(), k.clone()));
        }
        Ok(())
    }
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let map = self.map.lock().unwrap();
        Ok(map.get(&(space.prefix(), key.to_vec())).cloned())
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let map = self.map.lock().unwrap();
        Ok(map
            .keys()
            .filter(|(s, _)| *s == space.prefix())
            .map(|(_, k)| k.clone())
            .collect())
    }
}

impl Mem {
    /// Every (key, value) of a space.
    pub fn space(&self, space: Space) -> Vec<(Vec<u8>, Vec<u8>)> {
        let map = self.map.lock().unwrap();
        map.iter()
            .filter(|((s, _), _)| *s == space.prefix())
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Removes one value, bypassing the rules (damage).
    pub fn remove(&self, space: Space, key: &[u8]) {
        self.map
            .lock()
            .unwrap()
            .remove(&(space.prefix(), key.to_vec()));
    }

    /// Writes one value, bypassing the rules (damage).
    pub fn force(&self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        self.map
            .lock()
            .unwrap()
            .insert((space.prefix(), key), value);
    }
}

/// The synthetic entry `i`.
pub fn entry_bytes(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

/// Appends entries `from..to` in batches of the sizes `steps` cycles through, with their tiles.
pub fn grow(store: &Mem, height: u32, from: u64, to: u64, steps: &[u64]) {
    let mut at = from;
    let mut step = steps.iter().cycle();
    while at < to {
        let end = to.min(at + step.next().copied().unwrap_or(1));
        let mut b = Batch::default();
        let leaves: Vec<Hash> = (at..end)
            .map(|i| {
                b.put(Space::Log, i.to_be_bytes(), entry_bytes(i));
                merkle::leaf_hash(&entry_bytes(i))
            })
            .collect();
        extend(store, height, at, &leaves, &mut b).unwrap();
        store.apply(&b).unwrap();
        at = end;
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| merkle::leaf_hash(&entry_bytes(i))).collect()
}

#[test]
fn every_subtree_read_from_tiles_is_the_one_computed_from_the_entries() {
    for (height, n) in [(1, 70), (2, 150), (3, 300), (8, 700)] {
        let store = Mem::default();
        grow(&store, height, 0, n, &[1, 3, 1, 7, 2, 64]);
        let l = leaves(n);
        for size in 1..=n {
            let mut t = Tiles::new(&store, height, n);
            assert_eq!(t.mth(0, size).unwrap(), merkle::root(&l[..size as usize]));
        }
        // Every complete subtree, at every height.
        for h in 0..=n.ilog2() {
            let len = 1u64 << h;
            for i in 0..n / len {
                let (lo, hi) = (i * len, (i + 1) * len);
                let mut t = Tiles::new(&store, height, n);
                let want = merkle::root(&l[lo as usize..hi as usize]);
                assert_eq!(t.mth(lo, hi).unwrap(), want, "height {height}: {lo}..{hi}");
            }
        }
    }
}

#[test]
fn tiles_do_not_depend_on_how_entries_were_batched_and_are_never_rewritten() {
    let one = Mem::default();
    grow(&one, 2, 0, 300, &[1]);
    for steps in [&[300][..], &[5, 1, 17], &[4], &[16, 3]] {
        let other = Mem::default();
        grow(&other, 2, 0, 300, steps);
        // Batches skip some widths of a growing tile; every tile they do write is the same.
        let all: BTreeMap<_, _> = one.space(Space::Tiles).into_iter().collect();
        for (k, v) in other.space(Space::Tiles) {
            assert_eq!(all.get(&k), Some(&v), "{steps:?}");
        }
        // And the reader at the end sees the same tree.
        for lvl in 0..5 {
            for n in 0..20 {
                let (mut a, mut b) = (Tiles::new(&one, 2, 300), Tiles::new(&other, 2, 300));
                let w = a.width(lvl, n);
                assert_eq!(a.hashes(lvl, n, w).unwrap(), b.hashes(lvl, n, w).unwrap());
            }
        }
    }
}

#[test]
fn the_stored_layout_is_c2sp_tlog_tiles() {
    let store = Mem::default();
    grow(&store, 8, 0, 70_000, &[1000]);
    let l = leaves(70_000);
    let keys: Vec<Vec<u8>> = store.keys(Space::Tiles).unwrap();
    // 273 full level-0 tiles (the partial one of width 112 is read from the entries), one
    // full level-1 tile and a level-1 tile at the widths 1000-entry batches reached, and
    // one level-2 tile of width 1 (the spec's own example of a tree of 70,000).
    assert!(keys.contains(&keys::tile(0, 272, 256)));
    assert!(!keys.iter().any(|k| k == &keys::tile(0, 273, 256)));
    assert!(keys.contains(&keys::tile(1, 0, 256)));
    assert!(keys.contains(&keys::tile(1, 1, 17)));
    assert!(keys.contains(&keys::tile(2, 0, 1)));
    let get = |l, n, w| {
        store
            .get(Space::Tiles, &keys::tile(l, n, w))
            .unwrap()
            .unwrap()
    };
    assert_eq!(get(0, 5, 256), join(&l[5 * 256..6 * 256]));
    let t1 = get(1, 1, 17);
    let want = merkle::root(&l[(256 + 16) * 256..(256 + 17) * 256]);
    assert_eq!(&t1[16 * 32..], &want[..]);
    assert_eq!(get(2, 0, 1), merkle::root(&l[..65536]).to_vec());
    // Served: a partial level-0 tile from the entries, an entry bundle, a full tile.
    let at = |s: &str| read(&mut Tiles::new(&store, 8, 70_000), parse(s).unwrap()).unwrap();
    assert_eq!(at("0/273.p/112").unwrap(), join(&l[273 * 256..]));
    assert_eq!(at("0/273.p/111").unwrap(), join(&l[273 * 256..70_000 - 1]));
    assert_eq!(at("0/273.p/113"), None);
    assert_eq!(at("0/273"), None);
    assert_eq!(at("0/005.p/3").unwrap(), join(&l[5 * 256..5 * 256 + 3]));
    assert_eq!(at("1/000").unwrap(), get(1, 0, 256));
    assert_eq!(at("1/001.p/17").unwrap(), t1);
    assert_eq!(at("2/000.p/1").unwrap(), get(2, 0, 1));
    assert_eq!(at("3/000.p/1"), None);
    let bundle = at("entries/273.p/2").unwrap();
    let mut want = Vec::new();
    for i in [273 * 256, 273 * 256 + 1] {
        let e = entry_bytes(i);
        want.extend_from_slice(&(e.len() as u16).to_be_bytes());
        want.extend_from_slice(&e);
    }
    assert_eq!(bundle, want);
}

#[test]
fn an_archive_without_tiles_reads_right_and_gets_them_once_writable() {
    let (height, n) = (2, 200);
    let want = Mem::default();
    grow(&want, height, 0, n, &[1]);
    let store = Mem::default();
    for i in 0..n {
        store.force(Space::Log, i.to_be_bytes().to_vec(), entry_bytes(i));
    }
    let l = leaves(n);
    // Read-only: nothing stored, every hash recomputed from below.
    store
        .read_only
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(ensure(&store, height, n).is_err());
    let mut t = Tiles::new(&store, height, n);
    assert_eq!(t.mth(0, n).unwrap(), merkle::root(&l));
    assert_eq!(t.mth(64, 128).unwrap(), merkle::root(&l[64..128]));
    store
        .read_only
        .store(false, std::sync::atomic::Ordering::Relaxed);
    // Built once, as appends would have built them; then nothing more to do.
    assert!(ensure(&store, height, n).unwrap());
    assert!(!ensure(&store, height, n).unwrap());
    let built: BTreeMap<_, _> = store.space(Space::Tiles).into_iter().collect();
    let mut t = Tiles::new(&store, height, n);
    for (k, v) in &built {
        assert_eq!(want.get(Space::Tiles, k).unwrap().as_ref(), Some(v));
    }
    assert_eq!(t.mth(0, n).unwrap(), merkle::root(&l));
    // A build cut short resumes where it stopped.
    let cut = Mem::default();
    grow(&cut, height, 0, 96, &[1]);
    for i in 96..n {
        cut.force(Space::Log, i.to_be_bytes().to_vec(), entry_bytes(i));
    }
    assert!(ensure(&cut, height, n).unwrap());
    let mut t = Tiles::new(&cut, height, n);
    assert_eq!(t.mth(0, n).unwrap(), merkle::root(&l));
    for lvl in 0..4 {
        for i in 0..=(n >> (height * lvl) >> height) {
            let (mut a, mut b) = (Tiles::new(&cut, height, n), Tiles::new(&want, height, n));
            let w = a.width(lvl, i);
            assert_eq!(a.hashes(lvl, i, w).unwrap(), b.hashes(lvl, i, w).unwrap());
        }
    }
}

#[test]
fn a_tile_number_whose_first_index_overflows_has_no_hashes() {
    // 2^56 tiles of 256 hashes start at 2^64: shifted, that wraps to tile 0's first hash.
    let store = Mem::default();
    grow(&store, HEIGHT, 0, 300, &[300]);
    let t = Tiles::new(&store, HEIGHT, 300);
    assert_eq!(t.width(0, 0), 256);
    assert_eq!(t.width(0, 1 << 56), 0);
    assert_eq!(t.width(0, u64::MAX), 0);
}

#[test]
fn readers_sharing_upper_tiles_read_the_same_subtrees_and_compute_each_upper_tile_once() {
    // (Tiles of height 1 have no interior nodes to keep.)
    for (height, n) in [(2, 150), (3, 300), (4, 600)] {
        let store = Mem::default();
        grow(&store, height, 0, n, &[1, 3, 1, 7, 2, 64]);
        let l = leaves(n);
        let upper = std::sync::Arc::new(Upper::default());
        let reader = || {
            let mut t = Tiles::new(&store, height, n);
            t.upper = Some(upper.clone());
            t
        };
        for size in 1..=n {
            assert_eq!(
                reader().mth(0, size).unwrap(),
                merkle::root(&l[..size as usize])
            );
        }
        for h in 0..=n.ilog2() {
            let len = 1u64 << h;
            for i in 0..n / len {
                let (lo, hi) = (i * len, (i + 1) * len);
                let want = merkle::root(&l[lo as usize..hi as usize]);
                assert_eq!(
                    reader().mth(lo, hi).unwrap(),
                    want,
                    "height {height}: {lo}..{hi}"
                );
            }
        }
        // Every full tile above level 0 is kept, with its interior nodes, and only those.
        let kept = upper.0.lock().unwrap();
        let full_above_0: usize = (1..)
            .map(|level| (n >> (height * (level + 1))) as usize)
            .take_while(|&c| c > 0)
            .sum();
        assert_eq!(kept.len(), full_above_0, "height {height}");
        let per_tile = (2usize << height) - 1;
        assert!(kept.values().all(|t| t.len() == per_tile));
    }
}

#[test]
fn warming_keeps_every_full_upper_tile_before_any_proof_asks() {
    let n = 3 * (1 << (2 * HEIGHT)) + 100;
    let store = Mem::default();
    grow(&store, HEIGHT, 0, n, &[4096]);
    let edge = Edge::load(&store, n);
    assert!(edge.upper.0.lock().unwrap().is_empty());
    edge.warm(&store);
    // Three full level-1 tiles (each 2^16 entries), none at level 2 yet.
    let kept = edge.upper.0.lock().unwrap().len();
    assert_eq!(kept, 3);
    // What a proof then reads from them is the tree computed from the entries.
    let l = leaves(n);
    let lo = 1 << (2 * HEIGHT);
    assert_eq!(
        edge.reader(&store).mth(lo, 2 * lo).unwrap(),
        merkle::root(&l[lo as usize..2 * lo as usize])
    );
    assert!(edge.filled_upper(n - 101) && !edge.filled_upper(n - 100));
}

#[test]
fn after_a_lost_turn_only_upper_tiles_of_durable_entries_are_kept() {
    let n = 3 * (1 << (2 * HEIGHT)) + 100;
    let store = Mem::default();
    grow(&store, HEIGHT, 0, n, &[4096]);
    let edge = Edge::load(&store, n);
    edge.warm(&store);
    assert_eq!(edge.upper.0.lock().unwrap().len(), 3);
    // Durable up to inside the third level-1 tile: it may hold a lost batch's entries.
    edge.forget_past(2 * (1 << (2 * HEIGHT)) + 5);
    let mut kept: Vec<_> = edge.upper.0.lock().unwrap().keys().copied().collect();
    kept.sort_unstable();
    assert_eq!(kept, [(1, 0), (1, 1)]);
    // Recomputed on demand, from what is stored.
    let l = leaves(n);
    let lo = 2 << (2 * HEIGHT);
    assert_eq!(
        edge.reader(&store)
            .mth(lo, lo + (1 << (2 * HEIGHT)))
            .unwrap(),
        merkle::root(&l[lo as usize..lo as usize + (1 << (2 * HEIGHT))])
    );
}
