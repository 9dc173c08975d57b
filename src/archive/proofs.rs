//! Inclusion and consistency proofs over the stored log, for the CLI and the service alike.

use super::merkle::{self, Hash};
use super::tiles::Tiles;
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

fn hexes(p: &[Hash]) -> Vec<String> {
    p.iter().map(|h| hex(h)).collect()
}

/// The audit path of leaf `m` in the tree of leaves `[lo, hi)` (PATH, RFC 9162 §2.1.3.1),
/// each sibling read from the tiles: O(log n) hashes, not the whole tree.
fn path(
    t: &mut Tiles<'_>,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(t, m, lo, lo + k, out)?;
        out.push(t.mth(lo + k, hi)?);
    } else {
        path(t, m - k, lo + k, hi, out)?;
        out.push(t.mth(lo, lo + k)?);
    }
    Ok(())
}

/// SUBPROOF(m, D[lo:hi], complete) of RFC 9162 §2.1.4.1, from the tiles.
fn subproof(
    t: &mut Tiles<'_>,
    m: u64,
    (lo, hi): (u64, u64),
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(t.mth(lo, hi)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(t, m, (lo, lo + k), complete, out)?;
        out.push(t.mth(lo + k, hi)?);
    } else {
        subproof(t, m - k, (lo + k, hi), false, out)?;
        out.push(t.mth(lo, lo + k)?);
    }
    Ok(())
}

/// (leaf hash, root, audit path) of entry `index` in the tree of `size` (index < size, both
/// within the reader's tree).
fn prove_inclusion(
    t: &mut Tiles<'_>,
    index: u64,
    size: u64,
) -> Result<(Hash, Hash, Vec<Hash>), ProofError> {
    let mut proof = Vec::new();
    path(t, index, 0, size, &mut proof)?;
    Ok((t.mth(index, index + 1)?, t.mth(0, size)?, proof))
}

/// (root at `from`, root at `to`, proof) for 0 < from ≤ to within the reader's tree.
fn prove_consistency(
    t: &mut Tiles<'_>,
    from: u64,
    to: u64,
) -> Result<(Hash, Hash, Vec<Hash>), ProofError> {
    let mut proof = Vec::new();
    subproof(t, from, (0, to), true, &mut proof)?;
    Ok((t.mth(0, from)?, t.mth(0, to)?, proof))
}

/// The largest size a proof is given for now: the served checkpoint's (0 before any).
fn served(archive: &Archive) -> Result<u64, ArchiveError> {
    Ok(archive.served_checkpoint_size()?.unwrap_or(0))
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Proof that entry `index` is in the tree of `size` entries (default: the served
/// checkpoint's). Only a durable size is proved (see `shown.rs`): a root a crash could take
/// back must not reach a client.
pub fn inclusion(
    archive: &Archive,
    index: u64,
    size: Option<u64>,
) -> Result<Inclusion, ProofError> {
    let size = match size {
        Some(size) => size,
        None => served(archive)?,
    };
    let mut t = archive.tiles_for(size.max(index.saturating_add(1)))?;
    if size > t.size() || index >= size || !archive.durable_for_reader(size) {
        return Err(ProofError::OutOfRange(format!(
            "need index < size ≤ {}",
            served(archive)?
        )));
    }
    let (leaf, root, proof) = prove_inclusion(&mut t, index, size)?;
    debug_assert!(merkle::verify_inclusion(index, size, &leaf, &proof, &root));
    Ok(Inclusion {
        index,
        size,
        leaf_hash: hex(&leaf),
        root: hex(&root),
        proof: hexes(&proof),
    })
}

/// Proof that the tree of `from` entries is a prefix of the tree of `to` (default: the served
/// checkpoint's); only up to a durable size, as [`inclusion`].
pub fn consistency(
    archive: &Archive,
    from: u64,
    to: Option<u64>,
) -> Result<Consistency, ProofError> {
    let to = match to {
        Some(to) => to,
        None => served(archive)?,
    };
    let mut t = archive.tiles_for(to.max(from))?;
    if from == 0 || from > to || to > t.size() || !archive.durable_for_reader(to) {
        return Err(ProofError::OutOfRange(format!(
            "need 0 < from ≤ to ≤ {}",
            served(archive)?
        )));
    }
    let (old, new, proof) = prove_consistency(&mut t, from, to)?;
    Ok(Consistency {
        from,
        to,
        from_root: hex(&old),
        to_root: hex(&new),
        proof: hexes(&proof),
    })
}

#[cfg(test)]
#[path = "proofs_tests.rs"]
mod tests;
