//! Signature algorithms: which scheme an AlgorithmIdentifier and a key name, and its check.
//!
//! Policy lives here too, so it is applied the same way to signers, certificates and CRLs:
//! SHA-1, MD5 and RSA keys under 2048 bits are refused as unsupported rather than verified.

mod ecdsa;
mod ed25519;
pub mod gost;
mod pss;
mod rsa;

use super::certificate::PublicKey;
use super::cms::AlgorithmId;
use sha2::Digest;

/// Why a signature was not verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgError {
    /// An algorithm, parameter set or key size we do not accept.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The signature does not verify (or names an algorithm the key cannot have made).
    #[error("signature does not verify")]
    Invalid,
}

/// A digest algorithm we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
    /// GOST R 34.11-2012 (Streebog) with a 256-bit output.
    Streebog256,
    /// GOST R 34.11-2012 (Streebog) with a 512-bit output.
    Streebog512,
    /// GOST R 34.11-94 with the CryptoPro S-box (RFC 4357).
    Gost94CryptoPro,
    /// GOST 34.311-95 (Kazakh GOST R 34.11-94) with the "test" S-box of GOST 28147-89: what
    /// the national PKI's GOST 34.310-2004 keys use (checked on its certificates).
    Gost94Test,
}

impl HashAlg {
    /// The digest algorithm named by `oid`.
    pub fn from_oid(oid: &str) -> Result<HashAlg, AlgError> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Ok(HashAlg::Sha256),
            "2.16.840.1.101.3.4.2.2" => Ok(HashAlg::Sha384),
            "2.16.840.1.101.3.4.2.3" => Ok(HashAlg::Sha512),
            "1.2.643.7.1.1.2.2" => Ok(HashAlg::Streebog256),
            // The Kazakh OID for GOST 34.11-2015 512 (checked on the NCA corpus).
            "1.2.643.7.1.1.2.3" | "1.2.398.3.10.1.3.3" => Ok(HashAlg::Streebog512),
            "1.2.643.2.2.9" => Ok(HashAlg::Gost94CryptoPro),
            "1.2.398.3.10.1.3.1" => Ok(HashAlg::Gost94Test),
            other => Err(AlgError::Unsupported(format!("digest {}", describe(other)))),
        }
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
            HashAlg::Streebog256 => "streebog256",
            HashAlg::Streebog512 => "streebog512",
            HashAlg::Gost94CryptoPro => "gost94-cryptopro",
            HashAlg::Gost94Test => "gost34311-95",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256
            | HashAlg::Streebog256
            | HashAlg::Gost94CryptoPro
            | HashAlg::Gost94Test => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 | HashAlg::Streebog512 => 64,
        }
    }

    /// An incremental hasher, for content read in pieces.
    pub fn hasher(self) -> Box<dyn sha2::digest::DynDigest + Send> {
        match self {
            HashAlg::Sha256 => Box::new(sha2::Sha256::default()),
            HashAlg::Sha384 => Box::new(sha2::Sha384::default()),
            HashAlg::Sha512 => Box::new(sha2::Sha512::default()),
            HashAlg::Streebog256 => Box::new(streebog::Streebog256::default()),
            HashAlg::Streebog512 => Box::new(streebog::Streebog512::default()),
            HashAlg::Gost94CryptoPro => Box::new(gost94::Gost94CryptoPro::default()),
            HashAlg::Gost94Test => Box::new(gost94::Gost94Test::default()),
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
            HashAlg::Streebog256 => streebog::Streebog256::digest(data).to_vec(),
            HashAlg::Streebog512 => streebog::Streebog512::digest(data).to_vec(),
            HashAlg::Gost94CryptoPro => gost94::Gost94CryptoPro::digest(data).to_vec(),
            HashAlg::Gost94Test => gost94::Gost94Test::digest(data).to_vec(),
        }
    }
}

/// A fully determined signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1(HashAlg),
    /// RSASSA-PSS with MGF1.
    RsaPss {
        /// Message hash.
        hash: HashAlg,
        /// MGF1's hash (RFC 4055 recommends, but does not require, the message hash).
        mgf: HashAlg,
        /// Salt length in bytes.
        salt: usize,
    },
    /// ECDSA with DER (r, s) signatures on P-256, P-384 or P-521.
    Ecdsa(HashAlg),
    /// Ed25519 (pure).
    Ed25519,
    /// GOST R 34.10-2001/2012 or GOST 34.310-2004; the curve comes from the key.
    Gost {
        /// The hash the signature is computed over.
        hash: HashAlg,
        /// How `(r, s)` is encoded.
        family: gost::Family,
    },
}

impl Scheme {
    /// A name for reports, e.g. `rsa-pkcs1-sha256`.
    pub fn name(self) -> String {
        match self {
            // Concatenated rather than formatted: this names every signer of every document.
            Scheme::RsaPkcs1(h) => ["rsa-pkcs1-", h.name()].concat(),
            Scheme::RsaPss { hash, mgf, salt } if mgf == hash => {
                format!("rsa-pss-{}-salt{salt}", hash.name())
            }
            Scheme::RsaPss { hash, mgf, salt } => {
                format!("rsa-pss-{}-mgf1-{}-salt{salt}", hash.name(), mgf.name())
            }
            Scheme::Ecdsa(h) => ["ecdsa-", h.name()].concat(),
            Scheme::Ed25519 => "ed25519".into(),
            Scheme::Gost { hash, family } => match family {
                gost::Family::Tc26 => format!("gost3410-{}", hash.name()),
                gost::Family::Kz => format!("gost-kz-{}", hash.name()),
            },
        }
    }

    /// The scheme of a certificate's or CRL's outer signatureAlgorithm.
    pub fn for_object(alg: &AlgorithmId) -> Result<Scheme, AlgError> {
        Self::resolve(alg, None)
    }

    /// The scheme of a SignerInfo: CMS lets `signatureAlgorithm` be the bare key algorithm
    /// (rsaEncryption, id-ecPublicKey), in which case the digest algorithm supplies the hash.
    pub fn for_signer(alg: &AlgorithmId, digest: HashAlg) -> Result<Scheme, AlgError> {
        Self::resolve(alg, Some(digest))
    }

    fn resolve(alg: &AlgorithmId, digest: Option<HashAlg>) -> Result<Scheme, AlgError> {
        let bare = |d: Option<HashAlg>| {
            d.ok_or_else(|| AlgError::Unsupported(format!("{} without a hash", describe(&alg.oid))))
        };
        let scheme = match &*alg.oid {
            "1.2.840.113549.1.1.1" => Scheme::RsaPkcs1(bare(digest)?),
            "1.2.840.113549.1.1.11" => Scheme::RsaPkcs1(HashAlg::Sha256),
            "1.2.840.113549.1.1.12" => Scheme::RsaPkcs1(HashAlg::Sha384),
            "1.2.840.113549.1.1.13" => Scheme::RsaPkcs1(HashAlg::Sha512),
            "1.2.840.113549.1.1.10" => return pss::params(alg.params.as_deref()),
            "1.2.840.10045.2.1" => Scheme::Ecdsa(bare(digest)?),
            "1.2.840.10045.4.3.2" => Scheme::Ecdsa(HashAlg::Sha256),
            "1.2.840.10045.4.3.3" => Scheme::Ecdsa(HashAlg::Sha384),
            "1.2.840.10045.4.3.4" => Scheme::Ecdsa(HashAlg::Sha512),
            "1.3.101.112" => return Ok(Scheme::Ed25519),
            "1.2.643.2.2.3" => gost(HashAlg::Gost94CryptoPro, gost::Family::Tc26),
            "1.2.643.7.1.1.3.2" => gost(HashAlg::Streebog256, gost::Family::Tc26),
            "1.2.643.7.1.1.3.3" => gost(HashAlg::Streebog512, gost::Family::Tc26),
            "1.2.398.3.10.1.1.2.3.2" => gost(HashAlg::Streebog512, gost::Family::Kz),
            "1.2.398.3.10.1.1.1.2" => gost(HashAlg::Gost94Test, gost::Family::Kz),
            oid if gost::is_key_oid(oid) => {
                let family = if oid.starts_with("1.2.398.") {
                    gost::Family::Kz
                } else {
                    gost::Family::Tc26
                };
                gost(bare(digest)?, family)
            }
            other => return Err(AlgError::Unsupported(describe(other))),
        };
        let params_ok = match scheme {
            Scheme::RsaPkcs1(_) | Scheme::Gost { .. } => alg.params_absent_or_null(),
            _ => alg.params.is_none(),
        };
        if params_ok {
            Ok(scheme)
        } else {
            Err(AlgError::Unsupported(format!(
                "unexpected parameters for {}",
                scheme.name()
            )))
        }
    }

    /// The digest a CMS signer must use for the content under this scheme (RFC 8419 for Ed25519).
    pub fn check_digest(self, digest: HashAlg) -> Result<(), AlgError> {
        match self {
            Scheme::Ed25519 if digest != HashAlg::Sha512 => Err(AlgError::Unsupported(
                "Ed25519 with a digest other than SHA-512".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Verifies `signature` over `message` with `key`.
    pub fn verify(self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), AlgError> {
        match self {
            Scheme::RsaPkcs1(h) => rsa::verify_pkcs1(h, key, message, signature),
            Scheme::RsaPss { hash, mgf, salt } => {
                pss::verify(hash, mgf, salt, key, message, signature)
            }
            Scheme::Ecdsa(h) => ecdsa::verify(h, key, message, signature),
            Scheme::Ed25519 => ed25519::verify(key, message, signature),
            Scheme::Gost { hash, family } => gost::verify(hash, family, key, message, signature),
        }
    }
}

fn gost(hash: HashAlg, family: gost::Family) -> Scheme {
    Scheme::Gost { hash, family }
}

/// A readable name for an algorithm OID we refuse, so the report says *why*.
pub fn describe(oid: &str) -> String {
    let name = match oid {
        "1.3.14.3.2.26" => "SHA-1",
        "1.2.840.113549.2.5" => "MD5",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "2.16.840.1.101.3.4.2.4" => "SHA-224",
        _ if is_gost(oid) => "GOST",
        _ => "",
    };
    if name.is_empty() {
        oid.to_owned()
    } else {
        format!("{name} ({oid})")
    }
}

/// Whether an OID belongs to the Russian (TC26, CryptoPro) or Kazakh GOST families.
pub fn is_gost(oid: &str) -> bool {
    oid.starts_with("1.2.643.") || oid.starts_with("1.2.398.3.10.")
}
