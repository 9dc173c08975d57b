//! XML-DSig algorithm URIs mapped onto tamga's own schemes (the same code CMS signatures and
//! certificates go through), and the XML encodings of signature values.
//!
//! URIs: RFC 6931 (xmldsig-more: RSA and ECDSA with SHA-2, the legacy GOST pair), XML
//! Encryption (`xmlenc#sha256`, `#sha512`), and the Kazakh national PKI's
//! `urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:` names for GOST 34.10-2015.

use crate::verify::algorithms::{HashAlg, Scheme, gost::Family};

const MORE: &str = "http://www.w3.org/2001/04/xmldsig-more#";
const ENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const KZ: &str = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:";

/// Why an algorithm URI is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported XML-DSig algorithm {0}")]
pub struct UnknownAlgorithm(pub String);

/// The digest a `DigestMethod` names. SHA-1 (`xmldsig#sha1`) is refused like SHA-1 in CMS.
pub fn digest(uri: &str) -> Result<HashAlg, UnknownAlgorithm> {
    let alg = if let Some(name) = uri.strip_prefix(ENC) {
        match name {
            "sha256" => HashAlg::Sha256,
            "sha512" => HashAlg::Sha512,
            _ => return Err(UnknownAlgorithm(uri.into())),
        }
    } else if let Some(name) = uri.strip_prefix(MORE) {
        match name {
            "sha384" => HashAlg::Sha384,
            "gost34311" => HashAlg::Gost94Test,
            _ => return Err(UnknownAlgorithm(uri.into())),
        }
    } else if let Some(name) = uri.strip_prefix(KZ) {
        match name {
            "gostr34112015-512" => HashAlg::Streebog512,
            "gostr34112015-256" => HashAlg::Streebog256,
            _ => return Err(UnknownAlgorithm(uri.into())),
        }
    } else {
        return Err(UnknownAlgorithm(uri.into()));
    };
    Ok(alg)
}

/// How the `SignatureValue` bytes are laid out for a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueEncoding {
    /// As the scheme takes them (RSA: the integer; GOST: as the family's CMS encoding).
    Native,
    /// XML-DSig ECDSA (RFC 4050 §3.3, RFC 6931 §2.3.6): `r ‖ s`, each big-endian and padded to
    /// the same length, which is re-encoded as the DER `Ecdsa-Sig-Value` the scheme takes.
    EcdsaRaw,
}

/// The scheme a `SignatureMethod` names.
pub fn signature(uri: &str) -> Result<(Scheme, ValueEncoding), UnknownAlgorithm> {
    use ValueEncoding::*;
    let unknown = || UnknownAlgorithm(uri.into());
    if let Some(name) = uri.strip_prefix(MORE) {
        return Ok(match name {
            "rsa-sha256" => (Scheme::RsaPkcs1(HashAlg::Sha256), Native),
            "rsa-sha384" => (Scheme::RsaPkcs1(HashAlg::Sha384), Native),
            "rsa-sha512" => (Scheme::RsaPkcs1(HashAlg::Sha512), Native),
            "ecdsa-sha256" => (Scheme::Ecdsa(HashAlg::Sha256), EcdsaRaw),
            "ecdsa-sha384" => (Scheme::Ecdsa(HashAlg::Sha384), EcdsaRaw),
            "ecdsa-sha512" => (Scheme::Ecdsa(HashAlg::Sha512), EcdsaRaw),
            // GOST 34.310-2004 with GOST 34.311-95, as KalkanCrypt signs XML: the same value
            // layout as its CMS signatures (r ‖ s little-endian).
            "gost34310-gost34311" => (gost(HashAlg::Gost94Test), Native),
            _ => return Err(unknown()),
        });
    }
    match uri.strip_prefix(KZ) {
        // The byte order was established on the corpus file
        // tests/corpus/nca-kz-test/xml/signed-two-signers-rsa-gost2015.xml: its GOST 2015
        // signature verifies with the Kazakh CMS layout (r ‖ s, each little-endian, digest read
        // little-endian), and not with the TC26 one (s ‖ r big-endian); see the test
        // `gost_2015_byte_order_is_the_kazakh_cms_one` in tests/xml_corpus.rs, which tries both.
        Some("gostr34102015-gostr34112015-512") => Ok((gost(HashAlg::Streebog512), Native)),
        Some("gostr34102015-gostr34112015-256") => Ok((gost(HashAlg::Streebog256), Native)),
        _ => Err(unknown()),
    }
}

fn gost(hash: HashAlg) -> Scheme {
    Scheme::Gost {
        hash,
        family: Family::Kz,
    }
}

/// Converts an XML-DSig ECDSA value `r ‖ s` into DER `SEQUENCE { INTEGER r, INTEGER s }`.
/// `None` when the value cannot be one (odd or empty, or too long for any curve we verify).
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 2 * 66 {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 8);
    for half in [r, s] {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len());
        let digits = half.get(start..).unwrap_or_default();
        let pad = digits.first().is_none_or(|&b| b & 0x80 != 0);
        let len = digits.len() + usize::from(pad);
        body.push(0x02);
        push_len(&mut body, len);
        if pad {
            body.push(0);
        }
        body.extend_from_slice(digits);
    }
    let mut der = vec![0x30];
    push_len(&mut der, body.len());
    der.extend_from_slice(&body);
    Some(der)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    // At most 2 × 67 + 6 bytes: one or two length octets suffice.
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x81);
        out.push((len & 0xff) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_to_schemes() {
        assert_eq!(digest(&format!("{ENC}sha256")), Ok(HashAlg::Sha256));
        assert_eq!(
            digest(&format!("{KZ}gostr34112015-512")),
            Ok(HashAlg::Streebog512)
        );
        assert!(digest("http://www.w3.org/2000/09/xmldsig#sha1").is_err());
        assert_eq!(
            signature(&format!("{MORE}ecdsa-sha384")),
            Ok((Scheme::Ecdsa(HashAlg::Sha384), ValueEncoding::EcdsaRaw))
        );
        assert!(signature("http://www.w3.org/2000/09/xmldsig#rsa-sha1").is_err());
        assert!(signature("http://www.w3.org/2000/09/xmldsig#dsa-sha1").is_err());
    }

    #[test]
    fn ecdsa_raw_becomes_der() {
        let mut raw = vec![0u8; 64];
        raw[31] = 1; // r = 1
        raw[32] = 0x80; // s has its high bit set: needs a zero octet
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 2 + 3 + 3 + 32);
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
        assert!(ecdsa_raw_to_der(&[]).is_none());
    }
}
