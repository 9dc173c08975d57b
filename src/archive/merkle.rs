//! The RFC 9162 (Certificate Transparency v2) Merkle tree over the log's entries.
//!
//! Leaves are `SHA-256(0x00 ‖ entry)`, nodes `SHA-256(0x01 ‖ left ‖ right)`, and a tree of n
//! leaves splits at the largest power of two below n. Inclusion proofs show an entry is in the
//! tree of size n; consistency proofs show the tree of size m is a prefix of the tree of size
//! n — which is how an auditor holding an old checkpoint proves the archive only grew.

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// The leaf hash of an entry's encoding.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the tree over `leaves` (MTH in RFC 9162 §2.1.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            let (l, r) = leaves.split_at(split(leaves.len()));
            node_hash(&root(l), &root(r))
        }
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The audit path of leaf `m` in the tree over `leaves` (PATH, §2.1.3.1); `None` if out of range.
pub fn inclusion_proof(m: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if m >= leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    path(m, leaves, &mut out);
    Some(out)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (l, r) = leaves.split_at(k);
    if m < k {
        path(m, l, out);
        out.push(root(r));
    } else {
        path(m - k, r, out);
        out.push(root(l));
    }
}

/// The consistency proof between the first `m` leaves and all of `leaves` (PROOF, §2.1.4.1);
/// `None` unless 0 < m ≤ n.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if m == 0 || m > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    subproof(m, leaves, true, &mut out);
    Some(out)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    let (l, r) = leaves.split_at(k);
    if m <= k {
        subproof(m, l, complete, out);
        out.push(root(r));
    } else {
        subproof(m - k, r, false, out);
        out.push(root(l));
    }
}

/// Checks an inclusion proof (§2.1.3.2): leaf `index` with hash `leaf` in a tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks a consistency proof (§2.1.4.2) between `(m, old_root)` and `(n, new_root)`.
pub fn verify_consistency(
    m: u64,
    n: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if m == 0 || m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if m.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *old_root && sr == *new_root
}

/// The right edge of an append-only tree: the roots of its perfect subtrees, largest first.
/// Appending and computing the root cost O(log n), so each commit can checkpoint the whole
/// archive without rereading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (height, root) of each perfect subtree, left to right.
    peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees as (height, root), left to right.
    pub fn peaks(&self) -> &[(u32, Hash)] {
        &self.peaks
    }

    /// Rebuilds a frontier from stored peaks; `None` unless they describe exactly `size` leaves.
    pub fn from_peaks(size: u64, peaks: Vec<(u32, Hash)>) -> Option<Frontier> {
        let mut total = 0u64;
        let mut last = u32::MAX;
        for &(h, _) in &peaks {
            if h >= last || h >= 64 {
                return None;
            }
            last = h;
            total += 1u64 << h;
        }
        (total == size).then_some(Frontier { size, peaks })
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.peaks.last() {
            if h != node.0 {
                break;
            }
            self.peaks.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The root of the tree so far (equal to [`root`] over the same leaves).
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return Sha256::digest([]).into();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The test vectors of RFC 6962's reference implementation (same hashing as RFC 9162).
    #[test]
    fn known_roots() {
        let inputs = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let leaves: Vec<Hash> = inputs.iter().map(|i| leaf_hash(&hx(i))).collect();
        assert_eq!(
            root(&leaves[..1]).to_vec(),
            hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
        assert_eq!(
            root(&leaves).to_vec(),
            hx("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        );
        assert_eq!(
            root(&[]).to_vec(),
            hx("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn every_proof_verifies_and_none_verifies_wrongly() {
        let leaves: Vec<Hash> = (0u32..33).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::default();
        for n in 1..=leaves.len() {
            frontier.push(leaves[n - 1]);
            let tree = &leaves[..n];
            let r = root(tree);
            assert_eq!(frontier.root(), r, "frontier at {n}");
            for m in 0..n {
                let p = inclusion_proof(m, tree).unwrap();
                assert!(
                    verify_inclusion(m as u64, n as u64, &leaves[m], &p, &r),
                    "incl {m} in {n}"
                );
                let other = leaves[(m + 1) % n];
                assert!(n == 1 || !verify_inclusion(m as u64, n as u64, &other, &p, &r));
            }
            for m in 1..=n {
                let p = consistency_proof(m, tree).unwrap();
                let old = root(&leaves[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &r, &p),
                    "cons {m}->{n}"
                );
                if m < n {
                    let forged = leaf_hash(b"forged");
                    assert!(!verify_consistency(m as u64, n as u64, &forged, &r, &p));
                    assert!(!verify_consistency(m as u64, n as u64, &old, &forged, &p));
                }
            }
        }
        assert!(inclusion_proof(5, &leaves[..5]).is_none());
        assert!(consistency_proof(0, &leaves).is_none());
    }
}
