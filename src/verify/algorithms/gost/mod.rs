//! GOST R 34.10-2001/2012 (GOST 34.10-2015) and Kazakh GOST 34.310-2004 signature
//! verification, in pure Rust.
//!
//! Two families name the same mathematics with different encodings:
//! - Russian / TC26 (RFC 4491, RFC 9215): signature value `s ‖ r`, each big-endian.
//! - Kazakh (1.2.398.3.10.1.…, KalkanCrypt): signature value `r ‖ s`, each little-endian
//!   (the whole value reversed is the Russian encoding).
//!
//! Both put the public key in an OCTET STRING as `X ‖ Y`, each little-endian, and read the
//! digest as a little-endian integer.

mod curve;
mod field;
mod params;

use super::{AlgError, HashAlg};
use crate::verify::asn1::{self, read_oid, tag};
use crate::verify::certificate::PublicKey;
pub use params::{AnyCurve, curve_for};

/// Which encoding of `(r, s)` a signature algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// RFC 4491 / RFC 9215: `s ‖ r`, big-endian.
    Tc26,
    /// Kazakh national PKI: `r ‖ s`, little-endian.
    Kz,
}

/// The public key algorithms whose keys are GOST points.
const KEY_OIDS: [&str; 5] = [
    "1.2.643.2.2.19",       // GOST R 34.10-2001
    "1.2.643.7.1.1.1.1",    // GOST R 34.10-2012 256
    "1.2.643.7.1.1.1.2",    // GOST R 34.10-2012 512
    "1.2.398.3.10.1.1.1.1", // GOST 34.310-2004 (KZ)
    "1.2.398.3.10.1.1.2.2", // GOST 34.10-2015 512 (KZ)
];

/// Whether `oid` is a GOST public key algorithm (which a SignerInfo may use as its
/// signatureAlgorithm, the digest then coming from digestAlgorithm).
pub fn is_key_oid(oid: &str) -> bool {
    KEY_OIDS.contains(&oid)
}

/// A decoded GOST public key: its curve and the point's little-endian coordinate bytes.
#[derive(Debug)]
pub struct GostKey<'a> {
    /// The curve named by the key's publicKeyParamSet.
    pub curve: AnyCurve,
    /// `X ‖ Y`, each little-endian, `2 × coordinate_len` bytes.
    pub point: &'a [u8],
}

/// Reads the key's parameter set and point; every way it can be wrong is an error here, so
/// the arithmetic only ever sees well-sized values.
pub fn decode_key(key: &PublicKey) -> Result<GostKey<'_>, AlgError> {
    if !is_key_oid(&key.algorithm.oid) {
        return Err(AlgError::Invalid);
    }
    let unsupported = |what: String| AlgError::Unsupported(format!("GOST key: {what}"));
    let params = key
        .algorithm
        .params
        .as_deref()
        .ok_or_else(|| unsupported("no parameters".into()))?;
    let set = asn1::parse_single(params)
        .and_then(|t| t.must_be(tag::SEQUENCE, "GOST key parameters"))
        .and_then(|t| t.children(0))
        .and_then(|mut r| read_oid(&mut r, "publicKeyParamSet"))
        .map_err(|e| unsupported(e.to_string()))?;
    let curve =
        curve_for(&set).ok_or_else(|| unsupported(format!("unknown parameter set {set}")))?;
    let point = asn1::parse_single(&key.bits)
        .and_then(|t| t.must_be(tag::OCTET_STRING, "GOST public key"))
        .map_err(|_| AlgError::Invalid)?
        .value;
    if point.len() != 2 * curve.coordinate_len() {
        return Err(AlgError::Invalid);
    }
    Ok(GostKey { curve, point })
}

/// Verifies `signature` over `message` hashed with `hash`, in the encoding of `family`.
pub fn verify(
    hash: HashAlg,
    family: Family,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AlgError> {
    let key = decode_key(key)?;
    let len = key.curve.coordinate_len();
    if hash.output_len() != len {
        return Err(AlgError::Unsupported(format!(
            "{} with a {}-bit GOST key",
            hash.name(),
            8 * len
        )));
    }
    let digest = hash.digest(message);
    if verify_digest(&key, &digest, signature, family) {
        Ok(())
    } else {
        Err(AlgError::Invalid)
    }
}

/// The signature check on a digest already computed: for tests against published vectors.
pub fn verify_digest(key: &GostKey<'_>, digest: &[u8], signature: &[u8], family: Family) -> bool {
    let len = key.curve.coordinate_len();
    if signature.len() != 2 * len || digest.len() != len {
        return false;
    }
    let (first, second) = signature.split_at(len);
    let (qx, qy) = key.point.split_at(len);
    match key.curve {
        AnyCurve::C256(c) => check(c, qx, qy, digest, first, second, family),
        AnyCurve::C512(c) => check(c, qx, qy, digest, first, second, family),
    }
}

fn check<const N: usize>(
    curve: &curve::Curve<N>,
    qx: &[u8],
    qy: &[u8],
    digest: &[u8],
    first: &[u8],
    second: &[u8],
    family: Family,
) -> bool {
    let le = field::from_le_bytes::<N>;
    let be = field::from_be_bytes::<N>;
    let (r, s) = match family {
        Family::Tc26 => (be(second), be(first)),
        Family::Kz => (le(first), le(second)),
    };
    match (le(qx), le(qy), le(digest), r, s) {
        (Some(qx), Some(qy), Some(e), Some(r), Some(s)) => curve.verify(&qx, &qy, &e, &r, &s),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
