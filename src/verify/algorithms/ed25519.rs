//! Ed25519 (RFC 8410 keys, RFC 8419 in CMS), through ring.

use super::AlgError;
use crate::verify::certificate::PublicKey;
use ring::signature as rs;

const ED25519_KEY: &str = "1.3.101.112";

/// Pure Ed25519 over `msg`.
pub fn verify(key: &PublicKey, msg: &[u8], sig: &[u8]) -> Result<(), AlgError> {
    if key.algorithm.oid != ED25519_KEY || key.bits.len() != 32 {
        return Err(AlgError::Invalid);
    }
    rs::UnparsedPublicKey::new(&rs::ED25519, &key.bits)
        .verify(msg, sig)
        .map_err(|_| AlgError::Invalid)
}
