//! ECDSA with DER-encoded (r, s) on P-256, P-384 and P-521, with SHA-256, SHA-384 or SHA-512.
//!
//! RFC 5758 §3.2 pairs any of the three SHA-2 hashes with any curve, and CMS signers name the
//! pairing as the digest algorithm plus id-ecPublicKey (RFC 5753 §7.1.3), so every one of the
//! nine pairs can reach us. ring verifies the four it has functions for (the common ones, and
//! the fastest); the rest go through RustCrypto's curve crates, verifying the digest we compute
//! (`PrehashVerifier`), which FIPS 186-5 §6.4.2 defines for any hash length: the leftmost bits
//! of the digest up to the order's length. A valid signature is never refused for its pairing.

use super::{AlgError, HashAlg};
use crate::verify::asn1::{Reader, read_oid};
use crate::verify::certificate::PublicKey;
use ring::signature as rs;

const EC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const P521: &str = "1.3.132.0.35";

/// The curves we verify on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

/// ECDSA verification; the curve comes from the key's parameters.
pub fn verify(h: HashAlg, key: &PublicKey, msg: &[u8], sig: &[u8]) -> Result<(), AlgError> {
    if key.algorithm.oid != EC_KEY {
        return Err(AlgError::Invalid);
    }
    let curve = curve_of(key)?;
    if !matches!(h, HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512) {
        // GOST hashes belong to GOST signatures; no profile pairs them with ECDSA.
        return Err(AlgError::Unsupported(format!("ECDSA with {}", h.name())));
    }
    if let Some(alg) = ring_alg(curve, h) {
        return rs::UnparsedPublicKey::new(alg, &key.bits)
            .verify(msg, sig)
            .map_err(|_| AlgError::Invalid);
    }
    verify_prehash(curve, &key.bits, &h.digest(msg), sig)
}

/// The named curve of an EC subject key (RFC 5480 §2.1.1: namedCurve is the only form allowed).
fn curve_of(key: &PublicKey) -> Result<Curve, AlgError> {
    let oid = key
        .algorithm
        .params
        .as_deref()
        .and_then(|p| read_oid(&mut Reader::new(p), "namedCurve").ok())
        .ok_or_else(|| AlgError::Unsupported("EC key without a named curve".into()))?;
    match oid.as_str() {
        P256 => Ok(Curve::P256),
        P384 => Ok(Curve::P384),
        P521 => Ok(Curve::P521),
        other => Err(AlgError::Unsupported(format!("ECDSA on curve {other}"))),
    }
}

/// ring's function for a pairing, where it has one.
fn ring_alg(curve: Curve, h: HashAlg) -> Option<&'static rs::EcdsaVerificationAlgorithm> {
    match (curve, h) {
        (Curve::P256, HashAlg::Sha256) => Some(&rs::ECDSA_P256_SHA256_ASN1),
        (Curve::P256, HashAlg::Sha384) => Some(&rs::ECDSA_P256_SHA384_ASN1),
        (Curve::P384, HashAlg::Sha256) => Some(&rs::ECDSA_P384_SHA256_ASN1),
        (Curve::P384, HashAlg::Sha384) => Some(&rs::ECDSA_P384_SHA384_ASN1),
        _ => None,
    }
}

/// Verifies a DER signature over `digest` with an SEC1 point, through the curve's crate.
fn verify_prehash(curve: Curve, point: &[u8], digest: &[u8], sig: &[u8]) -> Result<(), AlgError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    // A key that is not a point of the curve, or a signature that is not DER (r, s) in range,
    // cannot verify: Invalid, as ring answers for the same input.
    let ok = match curve {
        Curve::P256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point);
            let sig = p256::ecdsa::Signature::from_der(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify_prehash(digest, &s).is_ok())
        }
        Curve::P384 => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point);
            let sig = p384::ecdsa::Signature::from_der(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify_prehash(digest, &s).is_ok())
        }
        Curve::P521 => {
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(point);
            let sig = p521::ecdsa::Signature::from_der(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify_prehash(digest, &s).is_ok())
        }
    };
    if ok { Ok(()) } else { Err(AlgError::Invalid) }
}
