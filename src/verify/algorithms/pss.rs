//! RSASSA-PSS (RFC 8017 §8.1) with its parameters as written in RSASSA-PSS-params (RFC 4055
//! §3.1): message hash, MGF1 hash, salt length, trailer field.
//!
//! Three routes, fastest first: ring for the standard combination (salt = hash length, MGF1
//! with the message hash), the `rsa` crate for another salt length with MGF1 over the message
//! hash (OpenSSL's default is the longest salt the key allows), and RFC 8017 §9.1.2 here, over
//! the `rsa` crate's RSAVP1, when MGF1 uses a different hash — RFC 4055 only *recommends* the
//! same one, so a signer may choose otherwise. Parameters no signer can have used correctly (a
//! salt longer than the key leaves room for, a mask function other than MGF1) are refused as
//! unsupported with a sentence saying which.

use super::rsa::{modulus_bits, not_with_rsa, rsa_key};
use super::{AlgError, HashAlg, Scheme};
use crate::verify::asn1::{self, Reader, tag};
use crate::verify::certificate::PublicKey;
use crate::verify::cms::AlgorithmId;
use ring::signature as rs;

const ID_MGF1: &str = "1.2.840.113549.1.1.8";
/// id-RSASSA-PSS, as a key's algorithm (RFC 4055 §1.2).
const ID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Reads RSASSA-PSS-params (RFC 4055 §3.1) into a [`Scheme::RsaPss`].
pub fn params(params: Option<&[u8]>) -> Result<Scheme, AlgError> {
    let bad = |what: &str| AlgError::Unsupported(format!("RSA-PSS parameters: {what}"));
    let raw = params.ok_or_else(|| bad("absent"))?;
    let seq = asn1::parse_single(raw)
        .and_then(|t| t.must_be(tag::SEQUENCE, "RSASSA-PSS-params"))
        .map_err(|_| bad("not a SEQUENCE"))?;
    let mut r = seq.children(0).map_err(|_| bad("not a SEQUENCE"))?;
    // The DEFAULTs are SHA-1 and MGF1-SHA-1, which policy refuses anyway.
    let hash_tlv = r
        .optional(0xA0)
        .ok()
        .flatten()
        .ok_or_else(|| bad("hashAlgorithm absent, so SHA-1, which policy refuses"))?;
    let mut hr = hash_tlv.children(0).map_err(|_| bad("hashAlgorithm"))?;
    let hash = hash_alg(&mut hr, "hashAlgorithm")?;
    let mgf_tlv =
        r.optional(0xA1).ok().flatten().ok_or_else(|| {
            bad("maskGenAlgorithm absent, so MGF1 with SHA-1, which policy refuses")
        })?;
    let mut mr = mgf_tlv.children(0).map_err(|_| bad("maskGenAlgorithm"))?;
    let mgf =
        AlgorithmId::read(&mut mr, "maskGenAlgorithm").map_err(|_| bad("maskGenAlgorithm"))?;
    if mgf.oid != ID_MGF1 {
        return Err(bad(&format!(
            "mask generation function {} is not MGF1, the only one defined (RFC 8017 §B.2)",
            mgf.oid
        )));
    }
    let mut pr = Reader::new(mgf.params.as_deref().unwrap_or_default());
    let mgf_hash = hash_alg(&mut pr, "MGF1 hash")?;
    pr.finish("MGF1 parameters")
        .map_err(|_| bad("MGF1 parameters"))?;
    let salt = match r.optional(0xA2).map_err(|_| bad("saltLength"))? {
        Some(t) => {
            let int = t
                .children(0)
                .and_then(|mut c| c.read_tag(tag::INTEGER, "saltLength"));
            small_uint(int.map_err(|_| bad("saltLength"))?.value)
                .ok_or_else(|| bad("saltLength is not a small non-negative integer"))?
        }
        None => 20,
    };
    if let Some(t) = r.optional(0xA3).map_err(|_| bad("trailerField"))? {
        let int = t
            .children(0)
            .and_then(|mut c| c.read_tag(tag::INTEGER, "trailerField"));
        if small_uint(int.map_err(|_| bad("trailerField"))?.value) != Some(1) {
            return Err(bad("trailerField is not 1 (RFC 4055 §3.1 allows only 1)"));
        }
    }
    r.finish("end").map_err(|_| bad("trailing fields"))?;
    Ok(Scheme::RsaPss {
        hash,
        mgf: mgf_hash,
        salt,
    })
}

/// A hash AlgorithmIdentifier inside the parameters: SHA-2 only, parameters absent or NULL
/// (RFC 4055 §2.1 allows both).
fn hash_alg(r: &mut Reader<'_>, what: &'static str) -> Result<HashAlg, AlgError> {
    let bad = |why: String| AlgError::Unsupported(format!("RSA-PSS parameters: {what}: {why}"));
    let alg = AlgorithmId::read(r, what).map_err(|e| bad(e.to_string()))?;
    let hash = HashAlg::from_oid(&alg.oid).map_err(|e| bad(e.to_string()))?;
    if !matches!(hash, HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512) {
        return Err(not_with_rsa(hash));
    }
    if !alg.params_absent_or_null() {
        return Err(bad("unexpected hash parameters".into()));
    }
    Ok(hash)
}

/// A small non-negative INTEGER's value.
fn small_uint(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 4 || v.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    Some(v.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)))
}

/// An id-RSASSA-PSS key with parameters may only make signatures with its hash and mask
/// function and at least its salt length (RFC 4055 §1.2, §3.3); one that does not is not a
/// signature of that key. Keys without parameters (or `rsaEncryption` keys) restrict nothing.
fn key_restrictions(
    key: &PublicKey,
    h: HashAlg,
    mgf: HashAlg,
    salt: usize,
) -> Result<(), AlgError> {
    if key.algorithm.oid != ID_RSASSA_PSS {
        return Ok(());
    }
    let Some(p) = key
        .algorithm
        .params
        .as_deref()
        .filter(|p| *p != [0x05, 0x00])
    else {
        return Ok(());
    };
    match params(Some(p))? {
        Scheme::RsaPss {
            hash,
            mgf: key_mgf,
            salt: key_salt,
        } if hash == h && key_mgf == mgf && salt >= key_salt => Ok(()),
        _ => Err(AlgError::Invalid),
    }
}

/// Verifies RSASSA-PSS with message hash `h`, MGF1 over `mgf` and a salt of `salt` bytes.
pub fn verify(
    h: HashAlg,
    mgf: HashAlg,
    salt: usize,
    key: &PublicKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), AlgError> {
    let der = rsa_key(key, true)?;
    key_restrictions(key, h, mgf, salt)?;
    let bits = modulus_bits(der).ok_or(AlgError::Invalid)?;
    // RFC 8017 §9.1.1 step 3: emLen ≥ hLen + sLen + 2, emLen = ⌈(modBits − 1) / 8⌉.
    let em_len = (bits - 1).div_ceil(8);
    let room = em_len.saturating_sub(h.output_len() + 2);
    if salt > room {
        return Err(AlgError::Unsupported(format!(
            "RSA-PSS salt of {salt} bytes is longer than the {room} a {bits}-bit key leaves \
             with {} (RFC 8017 §9.1.1)",
            h.name()
        )));
    }
    if mgf == h && salt == h.output_len() {
        let alg: &'static rs::RsaParameters = match h {
            HashAlg::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
            HashAlg::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
            HashAlg::Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
            other => return Err(not_with_rsa(other)),
        };
        return rs::UnparsedPublicKey::new(alg, der)
            .verify(msg, sig)
            .map_err(|_| AlgError::Invalid);
    }
    use ::rsa::pkcs1::DecodeRsaPublicKey;
    let pk = ::rsa::PublicKey::from_pkcs1_der(der).map_err(|_| AlgError::Invalid)?;
    let hashed = h.digest(msg);
    if mgf != h {
        return emsa_pss_verify(&pk, h, mgf, salt, &hashed, sig);
    }
    let result = match h {
        HashAlg::Sha256 => pk.verify(
            ::rsa::Pss::<sha2::Sha256>::new_with_salt(salt),
            &hashed,
            sig,
        ),
        HashAlg::Sha384 => pk.verify(
            ::rsa::Pss::<sha2::Sha384>::new_with_salt(salt),
            &hashed,
            sig,
        ),
        HashAlg::Sha512 => pk.verify(
            ::rsa::Pss::<sha2::Sha512>::new_with_salt(salt),
            &hashed,
            sig,
        ),
        other => return Err(not_with_rsa(other)),
    };
    result.map_err(|_| AlgError::Invalid)
}

/// RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) with EMSA-PSS-VERIFY (§9.1.2) written out, for an MGF1
/// hash other than the message hash, which the `rsa` crate does not take. Only public values
/// are handled, so nothing here needs to be constant-time.
fn emsa_pss_verify(
    pk: &::rsa::PublicKey,
    h: HashAlg,
    mgf: HashAlg,
    salt: usize,
    m_hash: &[u8],
    sig: &[u8],
) -> Result<(), AlgError> {
    use ::rsa::traits::PublicKeyParts;
    let invalid = |_| AlgError::Invalid;
    // §8.1.2 step 1 and 2: S is k octets; s < n; m = s^e mod n.
    if sig.len() != pk.size() {
        return Err(AlgError::Invalid);
    }
    let s = ::rsa::BoxedUint::from_be_slice(sig, pk.n_bits_precision())
        .map_err(|_| AlgError::Invalid)?;
    if s >= *pk.n().as_ref() {
        return Err(AlgError::Invalid);
    }
    let m = ::rsa::hazmat::rsa_encrypt(pk, &s).map_err(invalid)?;
    let em_bits = pk.n().bit_width() as usize - 1;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen): the bytes above emLen must be zero.
    let full = m.to_be_bytes();
    let cut = full.len().checked_sub(em_len).ok_or(AlgError::Invalid)?;
    let (high, em) = full.split_at_checked(cut).ok_or(AlgError::Invalid)?;
    if high.iter().any(|&b| b != 0) {
        return Err(AlgError::Invalid);
    }
    // §9.1.2 steps 3–6.
    let h_len = h.output_len();
    let db_len = em_len
        .checked_sub(h_len + 1)
        .filter(|&l| l > salt)
        .ok_or(AlgError::Invalid)?;
    let (masked_db, rest) = em.split_at_checked(db_len).ok_or(AlgError::Invalid)?;
    let (hh, trailer) = rest.split_at_checked(h_len).ok_or(AlgError::Invalid)?;
    let top_mask = 0xFFu8 >> (8 * em_len - em_bits);
    if trailer != [0xBC] || masked_db.first().is_some_and(|b| b & !top_mask != 0) {
        return Err(AlgError::Invalid);
    }
    // Steps 7–9: DB = maskedDB ⊕ MGF1(H), leftmost bits cleared.
    let mut db = mgf1(mgf, hh, db_len);
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    if let Some(b) = db.first_mut() {
        *b &= top_mask;
    }
    // Step 10: PS of zeros, then 0x01, then the salt.
    let (ps, tail) = db
        .split_at_checked(db_len - salt - 1)
        .ok_or(AlgError::Invalid)?;
    let (one, salt_bytes) = tail.split_at_checked(1).ok_or(AlgError::Invalid)?;
    if ps.iter().any(|&b| b != 0) || one != [0x01] {
        return Err(AlgError::Invalid);
    }
    // Steps 12–14: H' = Hash(0x00 × 8 ‖ mHash ‖ salt).
    let mut m_prime = vec![0u8; 8];
    m_prime.extend_from_slice(m_hash);
    m_prime.extend_from_slice(salt_bytes);
    if h.digest(&m_prime) == hh {
        Ok(())
    } else {
        Err(AlgError::Invalid)
    }
}

/// MGF1 (RFC 8017 §B.2.1): `len` octets of Hash(seed ‖ counter) for counter = 0, 1, ….
fn mgf1(h: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + h.output_len());
    let mut block = seed.to_vec();
    let mut counter: u32 = 0;
    while out.len() < len {
        block.truncate(seed.len());
        block.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&h.digest(&block));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if v.len() < 0x80 {
            out.push(v.len() as u8);
        } else {
            out.extend([0x82, (v.len() >> 8) as u8, v.len() as u8]);
        }
        out.extend_from_slice(v);
        out
    }

    const SHA256: [u8; 11] = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    const MGF1: [u8; 11] = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08,
    ];

    /// RSASSA-PSS-params with SHA-256, MGF1 named by `mgf_oid` over SHA-256, and the given
    /// salt and trailer INTEGER contents.
    fn params(mgf_oid: &[u8], salt: &[u8], trailer: &[u8]) -> Vec<u8> {
        let hash = tlv(0x30, &SHA256);
        let mut mgf = mgf_oid.to_vec();
        mgf.extend(&hash);
        let mut body = tlv(0xA0, &hash);
        body.extend(tlv(0xA1, &tlv(0x30, &mgf)));
        body.extend(tlv(0xA2, &tlv(0x02, salt)));
        body.extend(tlv(0xA3, &tlv(0x02, trailer)));
        tlv(0x30, &body)
    }

    fn rsa_2048() -> PublicKey {
        let mut n = vec![0x00, 0xC0];
        n.resize(257, 0x5A);
        let mut body = tlv(0x02, &n);
        body.extend(tlv(0x02, &[0x01, 0x00, 0x01]));
        PublicKey {
            algorithm: AlgorithmId {
                oid: "1.2.840.113549.1.1.1".into(),
                params: Some(vec![0x05, 0x00].into()),
            },
            bits: tlv(0x30, &body),
        }
    }

    fn unsupported(r: Result<impl std::fmt::Debug, AlgError>, needle: &str) {
        match r {
            Err(AlgError::Unsupported(why)) => assert!(why.contains(needle), "{why}"),
            other => panic!("expected unsupported ({needle}), got {other:?}"),
        }
    }

    #[test]
    fn a_pss_key_with_parameters_signs_only_as_they_say() {
        let mut key = rsa_2048();
        key.algorithm = AlgorithmId {
            oid: ID_RSASSA_PSS.into(),
            params: Some(params(&MGF1, &[32], &[1]).into()),
        };
        let (h, s) = (HashAlg::Sha256, 32);
        assert_eq!(key_restrictions(&key, h, h, s), Ok(()));
        assert_eq!(key_restrictions(&key, h, h, 48), Ok(()));
        let other = HashAlg::Sha384;
        assert_eq!(key_restrictions(&key, other, h, s), Err(AlgError::Invalid));
        assert_eq!(key_restrictions(&key, h, other, s), Err(AlgError::Invalid));
        assert_eq!(key_restrictions(&key, h, h, 20), Err(AlgError::Invalid));
        // The same signature through verify: refused before any arithmetic.
        assert_eq!(
            verify(h, h, 20, &key, b"m", &[0u8; 256]),
            Err(AlgError::Invalid)
        );
        // An rsaEncryption key restricts nothing.
        assert_eq!(key_restrictions(&rsa_2048(), other, h, 20), Ok(()));
    }

    #[test]
    fn written_parameters_are_read() {
        let s = params(&MGF1, &[32], &[1]);
        assert_eq!(
            super::params(Some(&s)),
            Ok(Scheme::RsaPss {
                hash: HashAlg::Sha256,
                mgf: HashAlg::Sha256,
                salt: 32
            })
        );
    }

    #[test]
    fn absurd_parameters_are_refused_with_a_sentence() {
        let other_mgf = [
            0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x09,
        ];
        unsupported(
            super::params(Some(&params(&other_mgf, &[32], &[1]))),
            "not MGF1",
        );
        unsupported(
            super::params(Some(&params(&MGF1, &[32], &[2]))),
            "trailerField",
        );
        unsupported(
            super::params(Some(&params(&MGF1, &[0xFF], &[1]))),
            "saltLength",
        );
        unsupported(super::params(Some(&[0x30, 0x00])), "SHA-1");
        unsupported(super::params(None), "absent");
        // 2048 bits leave 256 − 32 − 2 = 222 bytes of salt with SHA-256.
        let key = rsa_2048();
        let sig = [0u8; 256];
        unsupported(
            verify(HashAlg::Sha256, HashAlg::Sha256, 223, &key, b"m", &sig),
            "longer than the 222",
        );
        assert_eq!(
            verify(HashAlg::Sha256, HashAlg::Sha512, 222, &key, b"m", &sig),
            Err(AlgError::Invalid)
        );
    }

    #[test]
    fn mgf1_matches_its_definition() {
        // MGF1-SHA-256 of "seed", 40 bytes: H(seed‖0) then the start of H(seed‖1).
        let mut first = b"seed".to_vec();
        first.extend([0, 0, 0, 0]);
        let mut second = b"seed".to_vec();
        second.extend([0, 0, 0, 1]);
        let mut want = HashAlg::Sha256.digest(&first);
        want.extend(&HashAlg::Sha256.digest(&second)[..8]);
        assert_eq!(mgf1(HashAlg::Sha256, b"seed", 40), want);
    }
}
