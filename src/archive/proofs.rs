//! Inclusion and consistency proofs over the stored log, for the CLI and the service alike.

use super::merkle::{self, Hash};
use super::{Archive, ArchiveError};
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

/// Why a proof cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The sizes asked for do not fit the log (the caller's mistake).
    #[error("{0}")]
    OutOfRange(String),
    /// The archive could not be read, or an entry is missing (an audit's business).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

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

fn hexes(p: &[Hash]) -> Vec<String> {
    p.iter().map(|h| hex(h)).collect()
}

/// Proof that entry `index` is in the tree of `size` entries (default: current).
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
