//! The signer's certificate bound by its signature (CAdES-BES; ESS, RFC 2634 §5.4 and RFC 5035).
//!
//! A SignerInfo names its certificate by issuer and serial or by key identifier, and neither is
//! signed: anyone can put a different certificate beside the signature — one with the same
//! issuer and serial (a CA's mistake, or a forged look-alike that a lax path would accept), or
//! another certificate for the same key with other attributes (another name, other usages).
//! The signing-certificate attributes close that gap: a hash of the certificate meant, inside
//! the signed attributes. When present, the certificate used must be that one.

use super::algorithms::HashAlg;
use super::asn1::{Asn1Error, Tlv, tag};
use super::certificate::Certificate;
use super::cms::AlgorithmId;
use super::names;

/// ESS signing-certificate (SHA-1 certHash only), RFC 2634 §5.4.
pub const ID_SIGNING_CERTIFICATE: &str = "1.2.840.113549.1.9.16.2.12";
/// ESS signing-certificate-v2 (any hash, default SHA-256), RFC 5035 §3.
pub const ID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const ID_SHA1: &str = "1.3.14.3.2.26";
/// GeneralName's directoryName, `[4] EXPLICIT Name` (Name is a CHOICE, so the tag is explicit).
const DIRECTORY_NAME: u8 = 0xA4;
/// The most GeneralNames read from an IssuerSerial; RFC 5035 wants exactly one.
const MAX_ISSUER_NAMES: usize = 8;

/// Which of the two attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EssVersion {
    /// signing-certificate (RFC 2634).
    V1,
    /// signing-certificate-v2 (RFC 5035).
    V2,
}

impl EssVersion {
    /// The name the report gives it.
    pub fn name(self) -> &'static str {
        match self {
            EssVersion::V1 => "v1",
            EssVersion::V2 => "v2",
        }
    }
}

/// The hash an ESSCertID(v2) uses, by OID: SHA-1 is kept here (and only here), since the
/// hash only identifies a certificate the signature already covers, and v1 admits nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EssHash {
    /// SHA-1.
    Sha1,
    /// A digest the verifier knows.
    Known(HashAlg),
    /// Any other OID: the binding cannot be checked.
    Unknown(String),
}

/// IssuerSerial (RFC 5035 §4): the issuer's Name(s) as directoryNames and the serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSerial<'a> {
    /// The directoryName Names, raw DER.
    pub issuers: Vec<&'a [u8]>,
    /// The serial INTEGER's content bytes.
    pub serial: &'a [u8],
}

/// The first ESSCertID(v2) of a signing-certificate attribute: the signer's certificate (RFC
/// 5035 §3: the first identifies it; the others, if any, its path, which we do not require).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate<'a> {
    /// Which attribute it came from.
    pub version: EssVersion,
    /// The hash over the certificate's whole DER.
    pub hash: EssHash,
    /// The hash value.
    pub cert_hash: &'a [u8],
    /// issuerSerial, when present.
    pub issuer_serial: Option<IssuerSerial<'a>>,
}

/// Why the certificate used is not the one the attribute names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadesError {
    /// The attribute's hash is one we cannot compute.
    #[error("signing-certificate-v2 uses hash {0}, which this verifier does not compute")]
    UnknownHash(String),
    /// The certificate is not the one bound.
    #[error("{0}")]
    Mismatch(String),
}

/// Reads the value of a signing-certificate (`v1`) or -v2 attribute (bounded: only the first
/// ESSCertID is decoded, and at most [`MAX_ISSUER_NAMES`] names of its IssuerSerial).
pub fn parse<'a>(
    value: &Tlv<'a>,
    version: EssVersion,
    depth: usize,
) -> Result<SigningCertificate<'a>, Asn1Error> {
    let mut sc = value
        .clone()
        .must_be(tag::SEQUENCE, "SigningCertificate")?
        .children(depth)?;
    let certs = sc.read_tag(tag::SEQUENCE, "certs")?;
    let mut cr = certs.children(sc.depth())?;
    let first = cr.read_tag(tag::SEQUENCE, "ESSCertID")?;
    let mut r = first.children(cr.depth())?;
    let hash = match version {
        EssVersion::V1 => EssHash::Sha1,
        // hashAlgorithm DEFAULT {algorithm id-sha256} (RFC 5035 §4).
        EssVersion::V2 if r.clone().optional(tag::SEQUENCE)?.is_some() => {
            let alg = AlgorithmId::read(&mut r, "hashAlgorithm")?;
            match HashAlg::from_oid(&alg.oid) {
                Ok(h) => EssHash::Known(h),
                Err(_) if alg.oid == ID_SHA1 => EssHash::Sha1,
                Err(_) => EssHash::Unknown(alg.oid.into_owned()),
            }
        }
        EssVersion::V2 => EssHash::Known(HashAlg::Sha256),
    };
    let cert_hash = r.read_tag(tag::OCTET_STRING, "certHash")?.value;
    let issuer_serial = match r.optional(tag::SEQUENCE)? {
        Some(is) => Some(issuer_serial(&is, r.depth())?),
        None => None,
    };
    r.finish("end of ESSCertID")?;
    Ok(SigningCertificate {
        version,
        hash,
        cert_hash,
        issuer_serial,
    })
}

fn issuer_serial<'a>(is: &Tlv<'a>, depth: usize) -> Result<IssuerSerial<'a>, Asn1Error> {
    let mut r = is.children(depth)?;
    let names = r.read_tag(tag::SEQUENCE, "GeneralNames")?;
    let serial = r.read_tag(tag::INTEGER, "serialNumber")?.value;
    r.finish("end of IssuerSerial")?;
    let mut nr = names.children(r.depth())?;
    let mut issuers = Vec::new();
    let mut count = 0;
    while let Some(gn) = nr.next()? {
        count += 1;
        if count > MAX_ISSUER_NAMES {
            return Err(Asn1Error::Unexpected(
                "at most 8 GeneralNames in IssuerSerial",
            ));
        }
        if gn.tag == DIRECTORY_NAME {
            let mut dr = gn.children(nr.depth())?;
            issuers.push(dr.read_tag(tag::SEQUENCE, "directoryName")?.raw);
            dr.finish("end of directoryName")?;
        }
    }
    Ok(IssuerSerial { issuers, serial })
}

/// Whether `cert` is the certificate `sc` names: the hash of its whole DER, and its issuer
/// and serial when the attribute gives them.
pub fn check(sc: &SigningCertificate<'_>, cert: &Certificate) -> Result<(), CadesError> {
    let attr = match sc.version {
        EssVersion::V1 => "signing-certificate",
        EssVersion::V2 => "signing-certificate-v2",
    };
    let (name, digest) = match &sc.hash {
        EssHash::Sha1 => (
            "sha1",
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der)
                .as_ref()
                .to_vec(),
        ),
        EssHash::Known(h) => (h.name(), h.digest(&cert.der)),
        EssHash::Unknown(oid) => return Err(CadesError::UnknownHash(oid.clone())),
    };
    if digest != sc.cert_hash {
        return Err(CadesError::Mismatch(format!(
            "the signed {attr} attribute names another certificate than the one used for the \
             signer ({name} of {} differs)",
            cert.subject
        )));
    }
    if let Some(is) = &sc.issuer_serial {
        let issuer_ok = is
            .issuers
            .iter()
            .any(|n| names::same_name(n, &cert.issuer_raw));
        if !issuer_ok || is.serial != cert.serial.as_slice() {
            return Err(CadesError::Mismatch(format!(
                "the signed {attr} attribute's issuer and serial are not those of the \
                 certificate used for the signer ({}, serial {})",
                cert.issuer,
                cert.serial_hex()
            )));
        }
    }
    Ok(())
}
