//! RSA: PKCS#1 v1.5 through ring, and the key checks PSS ([`super::pss`]) shares.

use super::{AlgError, HashAlg};
use crate::verify::asn1::tag;
use crate::verify::certificate::PublicKey;
use ring::signature as rs;

/// Smallest modulus accepted, by policy.
pub const MIN_BITS: usize = 2048;
const RSA_KEY: &str = "1.2.840.113549.1.1.1";
const RSA_PSS_KEY: &str = "1.2.840.113549.1.1.10";

/// The RSAPublicKey DER of an RSA subject key, after the policy size check.
pub(super) fn rsa_key(key: &PublicKey, pss: bool) -> Result<&[u8], AlgError> {
    let oid: &str = &key.algorithm.oid;
    if oid != RSA_KEY && !(pss && oid == RSA_PSS_KEY) {
        return Err(AlgError::Invalid);
    }
    let bits = modulus_bits(&key.bits).ok_or(AlgError::Invalid)?;
    if bits < MIN_BITS {
        return Err(AlgError::Unsupported(format!(
            "RSA key of {bits} bits (minimum {MIN_BITS})"
        )));
    }
    Ok(&key.bits)
}

/// Bit length of the modulus in an RSAPublicKey. Read with two DER headers and no allocation:
/// it runs before every RSA verification, so it must cost nothing beside it.
pub fn modulus_bits(der: &[u8]) -> Option<usize> {
    let (seq, _) = der_element(der, tag::SEQUENCE)?;
    let (n, _) = der_element(seq, tag::INTEGER)?;
    let start = n.iter().position(|&b| b != 0)?;
    let n = n.get(start..)?;
    let top = n.first()?;
    Some((n.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
}

/// The content of the DER element with tag `expected` at the start of `der`, and what follows
/// it; `None` if the tag differs or the length is not a definite one that fits.
fn der_element(der: &[u8], expected: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if t != expected {
        return None;
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (
            bytes.iter().fold(0usize, |a, &b| a << 8 | usize::from(b)),
            rest,
        )
    };
    rest.split_at_checked(len)
}

/// RSASSA-PKCS1-v1_5.
pub fn verify_pkcs1(h: HashAlg, key: &PublicKey, msg: &[u8], sig: &[u8]) -> Result<(), AlgError> {
    let alg: &'static rs::RsaParameters = match h {
        HashAlg::Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        HashAlg::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        HashAlg::Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        other => return Err(not_with_rsa(other)),
    };
    rs::UnparsedPublicKey::new(alg, rsa_key(key, false)?)
        .verify(msg, sig)
        .map_err(|_| AlgError::Invalid)
}

/// GOST hashes belong to GOST signatures; no profile pairs them with RSA.
pub(super) fn not_with_rsa(h: HashAlg) -> AlgError {
    AlgError::Unsupported(format!("RSA with {}", h.name()))
}
