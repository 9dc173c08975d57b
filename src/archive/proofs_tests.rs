use super::*;
use crate::archive::log::Event;
use crate::archive::store::{Space, Store};
use crate::archive::tiles::tests::{Mem, grow};
use std::sync::Arc;

/// The implementation before tiles: every leaf re-read and hashed per proof. Kept as the
/// oracle the tiled proofs must match byte for byte.
mod old {
    use super::*;

    fn leaves(archive: &Archive, size: u64) -> Result<Vec<Hash>, ProofError> {
        (0..size)
            .map(|i| {
                archive
                    .entry_bytes(i)?
                    .map(|b| merkle::leaf_hash(&b))
                    .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} is missing")).into())
            })
            .collect()
    }

    /// The inclusion proof of `index` in the tree of `size` (default: the archive's size).
    pub fn inclusion(
        archive: &Archive,
        index: u64,
        size: Option<u64>,
    ) -> Result<Inclusion, ProofError> {
        let current = archive.size();
        let size = size.unwrap_or(current);
        let range = || ProofError::OutOfRange(format!("need index < size ≤ {current}"));
        if size > current || index >= size {
            return Err(range());
        }
        let l = leaves(archive, size)?;
        let i = usize::try_from(index).map_err(|_| range())?;
        let proof = merkle::inclusion_proof(i, &l).ok_or_else(range)?;
        let leaf = l.get(i).copied().unwrap_or_default();
        let root = merkle::root(&l);
        Ok(Inclusion {
            index,
            size,
            leaf_hash: hex(&leaf),
            root: hex(&root),
            proof: hexes(&proof),
        })
    }

    /// The consistency proof from the tree of `from` to that of `to`.
    pub fn consistency(
        archive: &Archive,
        from: u64,
        to: Option<u64>,
    ) -> Result<Consistency, ProofError> {
        let current = archive.size();
        let to = to.unwrap_or(current);
        let range = || ProofError::OutOfRange(format!("need 0 < from ≤ to ≤ {current}"));
        if from == 0 || from > to || to > current {
            return Err(range());
        }
        let l = leaves(archive, to)?;
        let m = usize::try_from(from).map_err(|_| range())?;
        let proof = merkle::consistency_proof(m, &l).ok_or_else(range)?;
        let old = merkle::root(l.get(..m).unwrap_or_default());
        let new = merkle::root(&l);
        Ok(Consistency {
            from,
            to,
            from_root: hex(&old),
            to_root: hex(&new),
            proof: hexes(&proof),
        })
    }
}

/// A store the test keeps a handle on while the archive owns it.
#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mem>);

impl Store for Shared {
    fn apply(
        &self,
        b: &crate::archive::store::Batch,
    ) -> Result<(), crate::archive::store::StoreError> {
        self.0.apply(b)
    }
    fn sync(&self) -> Result<(), crate::archive::store::StoreError> {
        self.0.sync()
    }
    fn get(
        &self,
        s: Space,
        k: &[u8],
    ) -> Result<Option<Vec<u8>>, crate::archive::store::StoreError> {
        self.0.get(s, k)
    }
    fn keys(&self, s: Space) -> Result<Vec<Vec<u8>>, crate::archive::store::StoreError> {
        self.0.keys(s)
    }
}

/// An archive of `n` hold entries, appended in batches of 1 to 9 (a commit group holds
/// several), checkpointed.
fn archive(n: u64) -> (Archive, Shared, Arc<crate::receipt::ReceiptSigner>) {
    let store = Shared::default();
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let a = Archive::open(
        Box::new(store.clone()),
        "tamga.test/tiles".into(),
        signer.clone(),
    )
    .unwrap();
    let mut i = 0;
    while i < n {
        let k = (i % 9 + 1).min(n - i);
        a.append(|txn| {
            for j in i..i + k {
                let hold = Event::Hold {
                    hold_id: format!("H{j}"),
                    case: Some("01-05".into()),
                    registration: None,
                    reason: "test".into(),
                    by: "t".into(),
                };
                txn.push(hold, 1_780_272_000);
            }
            Ok(())
        })
        .unwrap();
        i += k;
    }
    a.make_durable(crate::archive::Upto::size(n)).unwrap();
    (a, store, signer)
}

fn json<T: serde::Serialize>(r: Result<T, ProofError>) -> String {
    match r {
        Ok(v) => serde_json::to_string(&v).unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn tiled_proofs_are_byte_identical_to_the_full_recompute_for_every_index_and_size() {
    let n = 300;
    let (a, _, _) = archive(n);
    for size in 1..=n {
        for index in 0..size {
            assert_eq!(
                json(inclusion(&a, index, Some(size))),
                json(old::inclusion(&a, index, Some(size))),
                "inclusion {index} in {size}"
            );
        }
    }
    for to in 1..=n {
        for from in 1..=to {
            assert_eq!(
                json(consistency(&a, from, Some(to))),
                json(old::consistency(&a, from, Some(to))),
                "consistency {from} to {to}"
            );
        }
    }
    // Defaults and refusals alike.
    for (i, s) in [
        (0, None),
        (n - 1, None),
        (n, None),
        (0, Some(n + 1)),
        (5, Some(5)),
    ] {
        assert_eq!(json(inclusion(&a, i, s)), json(old::inclusion(&a, i, s)));
    }
    for (f, t) in [
        (1, None),
        (0, None),
        (n, None),
        (n + 1, None),
        (7, Some(6)),
        (1, Some(n + 1)),
    ] {
        assert_eq!(
            json(consistency(&a, f, t)),
            json(old::consistency(&a, f, t))
        );
    }
}

#[test]
fn tiled_proofs_match_the_rfc_at_every_level_of_small_tiles() {
    // Tiles of 2 and 4 hashes reach levels 6 and 3 with few leaves: every path through the
    // tile arithmetic that 256-hash tiles take only at 16 million entries.
    for height in [1, 2, 3] {
        let n = 130;
        let store = Mem::default();
        grow(&store, height, 0, n, &[1, 2, 5]);
        let l: Vec<Hash> = (0..n)
            .map(|i| merkle::leaf_hash(&crate::archive::tiles::tests::entry_bytes(i)))
            .collect();
        for size in 1..=n {
            let s = size as usize;
            for index in 0..size {
                let mut t = Tiles::new(&store, height, n);
                let (leaf, root, proof) = prove_inclusion(&mut t, index, size).unwrap();
                assert_eq!(leaf, l[index as usize]);
                assert_eq!(root, merkle::root(&l[..s]));
                assert_eq!(
                    proof,
                    merkle::inclusion_proof(index as usize, &l[..s]).unwrap()
                );
            }
            for from in 1..=size {
                let mut t = Tiles::new(&store, height, n);
                let (_, _, proof) = prove_consistency(&mut t, from, size).unwrap();
                let want = merkle::consistency_proof(from as usize, &l[..s]).unwrap();
                assert_eq!(proof, want, "height {height}: {from} to {size}");
            }
        }
    }
}

#[test]
fn a_forged_tile_fails_the_audit_which_names_it() {
    let (a, store, _) = archive(600);
    crate::archive::audit::verify(&a, false, &mut |_, _| {}).unwrap();
    for (level, n, width, name) in [(0, 1, 256, "tile/0/001"), (1, 0, 2, "tile/1/000.p/2")] {
        let key = crate::archive::keys::tile(level, n, width);
        let good = store.0.get(Space::Tiles, &key).unwrap().unwrap();
        let mut bad = good.clone();
        bad[37] ^= 1;
        store.0.force(Space::Tiles, key.clone(), bad);
        // The forged hash is what a proof would be given.
        let forged = json(inclusion(&a, 300, None));
        assert_ne!(forged, json(old::inclusion(&a, 300, None)));
        let e = crate::archive::audit::verify(&a, false, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            e.what,
            format!("stored tile {name} differs from the entries")
        );
        store.0.force(Space::Tiles, key, good);
        crate::archive::audit::verify(&a, false, &mut |_, _| {}).unwrap();
    }
    // A missing tile is named too.
    let key = crate::archive::keys::tile(0, 0, 256);
    let good = store.0.get(Space::Tiles, &key).unwrap().unwrap();
    store.0.remove(Space::Tiles, &key);
    let e = crate::archive::audit::verify(&a, false, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.what, "stored tile tile/0/000 is missing");
    store.0.force(Space::Tiles, key, good);
}

#[test]
fn proofs_after_reopening_match_with_the_edge_read_back_from_the_entries() {
    let (a, store, signer) = archive(300);
    let before = json(inclusion(&a, 299, None));
    drop(a);
    let a = Archive::open(Box::new(store), "tamga.test/tiles".into(), signer).unwrap();
    assert_eq!(json(inclusion(&a, 299, None)), before);
    for (i, s) in [(0, 300), (260, 270), (299, 300)] {
        assert_eq!(
            json(inclusion(&a, i, Some(s))),
            json(old::inclusion(&a, i, Some(s)))
        );
        assert_eq!(
            json(consistency(&a, i + 1, Some(s))),
            json(old::consistency(&a, i + 1, Some(s)))
        );
    }
}

#[test]
fn an_archive_from_before_tiles_gets_them_when_opened_and_audits_intact() {
    let (a, store, signer) = archive(600);
    drop(a);
    let kept = store.0.space(Space::Tiles);
    assert!(kept.len() >= 3, "{}", kept.len());
    for (k, _) in &kept {
        store.0.remove(Space::Tiles, k);
    }
    let a = Archive::open(Box::new(store.clone()), "tamga.test/tiles".into(), signer).unwrap();
    // Built once, as appends built them (one batch skips the widths appends passed through).
    let built = store.0.space(Space::Tiles);
    assert!(built.iter().all(|t| kept.contains(t)));
    let names: Vec<Vec<u8>> = built.into_iter().map(|(k, _)| k).collect();
    let tile = crate::archive::keys::tile;
    assert_eq!(names, vec![tile(0, 0, 256), tile(0, 1, 256), tile(1, 0, 2)]);
    crate::archive::audit::verify(&a, false, &mut |_, _| {}).unwrap();
    assert_eq!(
        json(inclusion(&a, 7, Some(500))),
        json(old::inclusion(&a, 7, Some(500)))
    );
}
