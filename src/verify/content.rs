//! The content a signature covers: its bytes, or — for content too large to hold in memory,
//! read from disk by the caller — its digests computed beforehand.
//!
//! Verification stays pure either way: whoever holds the bytes on disk computes the digests
//! (one pass, every algorithm the signers name, see [`digest_algorithms`]) and hands them in.
//! What digests cannot do is stand in for the content itself, so a signer without signed
//! attributes (a signature directly over the content) cannot be verified over digests and is
//! refused with a listed reason rather than read into memory.

use super::algorithms::HashAlg;
use super::cms;

/// Content as the verifier sees it.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// The bytes themselves.
    Bytes(&'a [u8]),
    /// Digests of content kept elsewhere.
    Digests(&'a ContentDigests),
}

/// Digests of content the caller keeps outside memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentDigests {
    /// Length in bytes.
    pub len: u64,
    /// (algorithm, digest), one per algorithm; SHA-256 always among them.
    pub digests: Vec<(HashAlg, Vec<u8>)>,
}

impl ContentDigests {
    /// The digest under `alg`, if it was computed.
    pub fn get(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, d)| d.as_slice())
    }
}

impl Content<'_> {
    /// The content's digest under `alg`; `None` when it was not computed beforehand.
    pub fn digest(&self, alg: HashAlg) -> Option<Vec<u8>> {
        match self {
            Content::Bytes(b) => Some(alg.digest(b)),
            Content::Digests(d) => d.get(alg).map(<[u8]>::to_vec),
        }
    }

    /// Whether this is the same content as `bytes` (by SHA-256 when only digests are known).
    pub fn is(&self, bytes: &[u8]) -> bool {
        self.same_as(&Content::Bytes(bytes))
    }

    /// Whether two contents are the same: byte for byte when both are bytes, otherwise by
    /// length and SHA-256 (which every [`ContentDigests`] holds).
    pub fn same_as(&self, other: &Content<'_>) -> bool {
        match (self, other) {
            (Content::Bytes(a), Content::Bytes(b)) => a == b,
            _ => {
                self.len() == other.len()
                    && self.digest(HashAlg::Sha256) == other.digest(HashAlg::Sha256)
            }
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Digests(d) => d.len,
        }
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The digest algorithms whose digests of the content verifying `signature` needs: SHA-256
/// (for identity) and those its signers name that tamga knows. Empty input or unreadable CMS
/// gives just SHA-256; verification then reports what is wrong with it.
pub fn digest_algorithms(signature: &[u8]) -> Vec<HashAlg> {
    let Ok(der) = cms::decode_input(signature) else {
        return vec![HashAlg::Sha256];
    };
    match cms::parse_lazy(&der) {
        Ok(sd) => signers_algorithms(&sd),
        Err(_) => vec![HashAlg::Sha256],
    }
}

/// SHA-256 and the digest algorithms the signers of `sd` name that tamga knows.
pub fn signers_algorithms(sd: &cms::SignedData<'_>) -> Vec<HashAlg> {
    let mut algs = vec![HashAlg::Sha256];
    for si in &sd.signers {
        if let Ok(alg) = HashAlg::from_oid(&si.digest_algorithm.oid)
            && !algs.contains(&alg)
        {
            algs.push(alg);
        }
    }
    algs
}
