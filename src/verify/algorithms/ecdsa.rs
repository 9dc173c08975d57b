//! ECDSA on P-256 and P-384 with DER-encoded (r, s), through ring.

use super::{AlgError, HashAlg};
use crate::verify::asn1::{Reader, read_oid};
use crate::verify::certificate::PublicKey;
use ring::signature as rs;

const EC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

/// ECDSA verification; the curve comes from the key's parameters.
pub fn verify(h: HashAlg, key: &PublicKey, msg: &[u8], sig: &[u8]) -> Result<(), AlgError> {
    if key.algorithm.oid != EC_KEY {
        return Err(AlgError::Invalid);
    }
    let curve = key
        .algorithm
        .params
        .as_deref()
        .and_then(|p| read_oid(&mut Reader::new(p), "namedCurve").ok())
        .ok_or_else(|| AlgError::Unsupported("EC key without a named curve".into()))?;
    let alg: &'static rs::EcdsaVerificationAlgorithm = match (curve.as_str(), h) {
        (P256, HashAlg::Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
        (P256, HashAlg::Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
        (P384, HashAlg::Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
        (P384, HashAlg::Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
        (c, h) => {
            return Err(AlgError::Unsupported(format!(
                "ECDSA on curve {c} with {}",
                h.name()
            )));
        }
    };
    rs::UnparsedPublicKey::new(alg, &key.bits)
        .verify(msg, sig)
        .map_err(|_| AlgError::Invalid)
}
