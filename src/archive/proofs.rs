//! Inclusion and consistency proofs over the stored log, for the CLI and the service alike.

use super::Archive;
use super::merkle::{self, Hash};
use crate::verify::certificate::hex;
use serde::Serialize;

/// An inclusion proof, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Inclusion {
    /// Entry index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// The entry's leaf hash, hex.
    pub leaf_hash: String,
    /// Root of the tree of `size`, hex.
    pub root: String,
    /// The audit path, hex.
    pub proof: Vec<String>,
}

/// A consistency proof, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Consistency {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Root at `from`, hex.
    pub from_root: String,
    /// Root at `to`, hex.
    pub to_root: String,
    /// The proof, hex.
    pub proof: Vec<String>,
}

fn leaves(archive: &Archive, size: u64) -> Result<Vec<Hash>, String> {
    (0..size)
        .map(|i| {
            archive
                .entry_bytes(i)
                .map_err(|e| e.to_string())?
                .map(|b| merkle::leaf_hash(&b))
                .ok_or_else(|| format!("entry {i} is missing: the archive needs an audit"))
        })
        .collect()
}

fn hexes(p: &[Hash]) -> Vec<String> {
    p.iter().map(|h| hex(h)).collect()
}

/// Proof that entry `index` is in the tree of `size` entries (default: current).
pub fn inclusion(archive: &Archive, index: u64, size: Option<u64>) -> Result<Inclusion, String> {
    let current = archive.size();
    let size = size.unwrap_or(current);
    if size > current || index >= size {
        return Err(format!("need index < size ≤ {current}"));
    }
    let l = leaves(archive, size)?;
    let i = usize::try_from(index).map_err(|_| "index too large".to_owned())?;
    let proof = merkle::inclusion_proof(i, &l).ok_or("no such entry")?;
    let leaf = l.get(i).copied().unwrap_or_default();
    let root = merkle::root(&l);
    debug_assert!(merkle::verify_inclusion(index, size, &leaf, &proof, &root));
    Ok(Inclusion {
        index,
        size,
        leaf_hash: hex(&leaf),
        root: hex(&root),
        proof: hexes(&proof),
    })
}

/// Proof that the tree of `from` entries is a prefix of the tree of `to` (default: current).
pub fn consistency(archive: &Archive, from: u64, to: Option<u64>) -> Result<Consistency, String> {
    let current = archive.size();
    let to = to.unwrap_or(current);
    if from == 0 || from > to || to > current {
        return Err(format!("need 0 < from ≤ to ≤ {current}"));
    }
    let l = leaves(archive, to)?;
    let m = usize::try_from(from).map_err(|_| "size too large".to_owned())?;
    let proof = merkle::consistency_proof(m, &l).ok_or("bad sizes")?;
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
