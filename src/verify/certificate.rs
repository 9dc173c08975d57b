//! An X.509 certificate reduced to what path validation and the report need.
//!
//! `x509-parser` reads the fields; the outer split (TBS bytes, algorithm, signature) is done by
//! our own reader so the bytes we verify are the bytes that were signed. The result is owned, so
//! trust anchors and the cache can keep it without borrowing the input.

use super::asn1::{self, Reader, Tlv, tag};
use super::cms::AlgorithmId;
use super::revocation::scope::CertScope;
use sha2::{Digest, Sha256};
use std::ops::Range;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

/// The largest certificate or CRL we parse. National CAs' CRLs run to megabytes; 64 MiB leaves
/// room and still bounds memory.
pub const MAX_OBJECT: usize = 64 * 1024 * 1024;

/// Most extensions read from one certificate (real ones carry about ten).
const MAX_EXTENSIONS: usize = 64;

/// Why a certificate (or CRL) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CertError(pub String);

/// The key usage bits path validation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUsage {
    /// digitalSignature
    pub digital_signature: bool,
    /// nonRepudiation (contentCommitment)
    pub non_repudiation: bool,
    /// keyCertSign
    pub key_cert_sign: bool,
    /// cRLSign
    pub crl_sign: bool,
}

/// A subject public key: its algorithm and the BIT STRING's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The SubjectPublicKeyInfo algorithm.
    pub algorithm: AlgorithmId,
    /// The subjectPublicKey bits (whole bytes; unused-bit count removed).
    pub bits: Vec<u8>,
}

/// A signed object split into the signed part, the algorithm and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Where the to-be-signed bytes lie in the object's DER.
    pub tbs: Range<usize>,
    /// The outer signatureAlgorithm.
    pub algorithm: AlgorithmId,
    /// The signature value.
    pub signature: Vec<u8>,
}

impl Signed {
    /// Splits `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }`.
    pub fn split(der: &[u8]) -> Result<Signed, CertError> {
        let err = |e: asn1::Asn1Error| CertError(format!("outer structure: {e}"));
        let outer = asn1::parse_single(der)
            .map_err(err)?
            .must_be(tag::SEQUENCE, "a SEQUENCE")
            .map_err(err)?;
        let mut r = outer.children(0).map_err(err)?;
        let tbs = r.read_tag(tag::SEQUENCE, "TBS").map_err(err)?;
        let algorithm = AlgorithmId::read(&mut r, "signatureAlgorithm").map_err(err)?;
        let sig = r.read_tag(tag::BIT_STRING, "signature").map_err(err)?;
        r.finish("end of signed object").map_err(err)?;
        Ok(Signed::from_parts(der, &tbs, algorithm, &sig))
    }

    /// The signed parts of an object read from `der`: `tbs` (a sub-slice of `der`), the
    /// algorithm and the signature BIT STRING, for structures with more fields after them
    /// (a BasicOCSPResponse's certificates).
    pub fn from_parts(der: &[u8], tbs: &Tlv<'_>, algorithm: AlgorithmId, sig: &Tlv<'_>) -> Signed {
        // Every signature scheme signs whole bytes, so a BIT STRING with unused bits holds no
        // signature that could verify. The object is still read, as an empty signature, so that
        // it fails where its signature is checked, for what it is: a certificate whose signature
        // does not verify, or one in an algorithm we refuse (PKITS 4.1.6, 4.4.4).
        let signature = bit_string_bytes(sig.value).unwrap_or_default();
        // `tbs.raw` is a sub-slice of `der`; its offset is the distance between the two starts.
        let start = (tbs.raw.as_ptr() as usize).saturating_sub(der.as_ptr() as usize);
        Signed {
            tbs: start..start + tbs.raw.len(),
            algorithm,
            signature: signature.to_vec(),
        }
    }
}

fn bit_string_bytes(v: &[u8]) -> Option<&[u8]> {
    match v.split_first() {
        Some((0, rest)) => Some(rest),
        _ => None,
    }
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate's DER.
    pub der: Vec<u8>,
    /// SHA-256 of `der`.
    pub fingerprint: [u8; 32],
    /// TBS range, outer algorithm and signature.
    pub signed: Signed,
    /// Raw encoding of the subject Name.
    pub subject_raw: Vec<u8>,
    /// Raw encoding of the issuer Name.
    pub issuer_raw: Vec<u8>,
    /// Serial number content bytes (as in the INTEGER).
    pub serial: Vec<u8>,
    /// notBefore, seconds since the epoch.
    pub not_before: i64,
    /// notAfter, seconds since the epoch.
    pub not_after: i64,
    /// basicConstraints: (cA, pathLenConstraint), when present.
    pub basic_constraints: Option<(bool, Option<u32>)>,
    /// keyUsage, when present.
    pub key_usage: Option<KeyUsage>,
    /// subjectKeyIdentifier, when present.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier's keyIdentifier, when present.
    pub authority_key_id: Option<Vec<u8>>,
    /// The subject public key.
    pub public_key: PublicKey,
    /// The SubjectPublicKeyInfo as encoded.
    pub spki: Vec<u8>,
    /// The OID of the first critical extension we do not process, if any.
    pub unknown_critical: Option<String>,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Issuer in RFC 4514 form.
    pub issuer: String,
    /// Kazakh individual identification number (`serialNumber=IIN…`).
    pub iin: Option<String>,
    /// Kazakh business identification number (`OU=BIN…`).
    pub bin: Option<String>,
    /// What name comparison and name constraints need (see [`super::names`]).
    pub names: super::names::CertNames,
    /// Where its revocation status is published (cRLDistributionPoints, freshestCRL).
    pub revocation: CertScope,
    /// The certificate-policy extensions (RFC 5280 §6.1); `None` when it carries none of them.
    pub policy: Option<Box<super::policy::CertPolicies>>,
}

/// Extensions whose semantics path validation applies (or that carry no constraint on it), so
/// a critical flag on them is no reason to refuse.
const UNDERSTOOD: &[&str] = &[
    "2.5.29.15", // keyUsage
    "2.5.29.19", // basicConstraints
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.37", // extendedKeyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.30", // nameConstraints (applied by names::check_constraints)
];

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        if der.len() > MAX_OBJECT {
            return Err(CertError("certificate too large".into()));
        }
        let signed = Signed::split(der)?;
        let (rest, cert) =
            parse_x509_certificate(der).map_err(|e| CertError(format!("certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(CertError("trailing bytes after certificate".into()));
        }
        let ext = Extensions::read(cert.extensions())?;
        let public_key = read_spki(cert.public_key().raw)?;
        let (iin, bin) = kz_identifiers(cert.subject());
        Ok(Certificate {
            fingerprint: Sha256::digest(der).into(),
            signed,
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            serial: cert.raw_serial().to_vec(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            basic_constraints: ext.basic_constraints,
            key_usage: ext.key_usage,
            subject_key_id: ext.subject_key_id,
            authority_key_id: ext.authority_key_id,
            public_key,
            spki: cert.public_key().raw.to_vec(),
            unknown_critical: ext.unknown_critical,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            iin,
            bin,
            names: ext.names,
            revocation: CertScope::from_extensions(cert.extensions()),
            policy: ext.policy,
            der: der.to_vec(),
        })
    }

    /// The bytes the issuer signed.
    pub fn tbs(&self) -> &[u8] {
        self.der.get(self.signed.tbs.clone()).unwrap_or_default()
    }

    /// Whether subject and issuer are the same name (a self-issued certificate).
    pub fn self_issued(&self) -> bool {
        super::names::self_issued(self)
    }

    /// The serial number in hex, for reports.
    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }
}

/// IIN from `serialNumber=IIN…`, BIN from `OU=BIN…`: how the Kazakh national PKI names people
/// and organisations.
fn kz_identifiers(name: &X509Name<'_>) -> (Option<String>, Option<String>) {
    let mut iin = None;
    let mut bin = None;
    for attr in name.iter_attributes() {
        let Ok(value) = attr.as_str() else { continue };
        let oid = attr.attr_type().to_id_string();
        let digits = |prefix: &str| {
            value
                .strip_prefix(prefix)
                .filter(|d| d.len() == 12 && d.bytes().all(|c| c.is_ascii_digit()))
                .map(str::to_owned)
        };
        match oid.as_str() {
            "2.5.4.5" => iin = iin.or_else(|| digits("IIN")),
            "2.5.4.11" => bin = bin.or_else(|| digits("BIN")),
            _ => {}
        }
    }
    (iin, bin)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    // Byte by byte into a buffer rather than through `write!` or `char` pushes: it runs for
    // every signer of every document, and the formatting machinery cost more than the rest
    // of the report.
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' - 10 + n };
    let mut out = vec![0; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [high, low] = pair {
            *high = digit(b >> 4);
            *low = digit(b & 0x0f);
        }
    }
    // Only ASCII digits were written, so this never falls back.
    String::from_utf8(out).unwrap_or_default()
}

/// The bytes hex digits spell (either case), if `s` is an even number of them: the inverse
/// of [`hex`]. Digit by digit, not through `from_str_radix` (which also takes a sign): it
/// reads blob names back for every file of every filing.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    // Sized up front: collecting `Option`s knows no length, and grew the vector three times.
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks_exact(2) {
        let [high, low] = pair else { return None };
        out.push(digit(*high)? << 4 | digit(*low)?);
    }
    Some(out)
}

/// The extensions path validation reads, each once (RFC 5280 §4.2).
struct Extensions {
    basic_constraints: Option<(bool, Option<u32>)>,
    key_usage: Option<KeyUsage>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    unknown_critical: Option<String>,
    names: super::names::CertNames,
    policy: Option<Box<super::policy::CertPolicies>>,
}

impl Extensions {
    /// Reads `exts`, refusing a repeated extension and an unreadable critical one.
    fn read(exts: &[X509Extension<'_>]) -> Result<Extensions, CertError> {
        let mut basic_constraints = None;
        let mut key_usage = None;
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        let mut unknown_critical = None;
        let mut names = super::names::CertNames::default();
        let mut policy = None;
        // RFC 5280 §4.2: no extension twice. Reading only one of two (as every consumer of a
        // single value would) lets the other one escape its checks: a second subjectAltName
        // past name constraints, a second keyUsage past usage.
        if exts.len() > MAX_EXTENSIONS {
            return Err(CertError(format!("more than {MAX_EXTENSIONS} extensions")));
        }
        for (i, ext) in exts.iter().enumerate() {
            if exts.iter().take(i).any(|e| e.oid == ext.oid) {
                return Err(CertError(format!(
                    "extension {} appears more than once",
                    ext.oid.to_id_string()
                )));
            }
        }
        for ext in exts {
            let oid = ext.oid.to_id_string();
            names.note_extension(&oid, ext.value);
            super::policy::read_extension(&mut policy, &oid, ext);
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    basic_constraints = Some((bc.ca, bc.path_len_constraint))
                }
                ParsedExtension::KeyUsage(ku) => {
                    key_usage = Some(KeyUsage {
                        digital_signature: ku.digital_signature(),
                        non_repudiation: ku.non_repudiation(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                    })
                }
                ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                ParsedExtension::ParseError { error } if ext.critical => {
                    return Err(CertError(format!("critical extension {oid}: {error}")));
                }
                _ => {}
            }
            let understood = UNDERSTOOD.contains(&oid.as_str())
                || super::policy::PROCESSED.contains(&oid.as_str());
            if ext.critical && !understood && unknown_critical.is_none() {
                unknown_critical = Some(oid);
            }
        }
        Ok(Extensions {
            basic_constraints,
            key_usage,
            subject_key_id,
            authority_key_id,
            unknown_critical,
            names,
            policy,
        })
    }
}

/// The subject public key of a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
fn read_spki(raw: &[u8]) -> Result<PublicKey, CertError> {
    let mut spki = Reader::new(raw);
    let key_err = |e: asn1::Asn1Error| CertError(format!("subjectPublicKeyInfo: {e}"));
    let spki_seq = spki.read_tag(tag::SEQUENCE, "SPKI").map_err(key_err)?;
    let mut kr = spki_seq.children(0).map_err(key_err)?;
    let algorithm = AlgorithmId::read(&mut kr, "SPKI algorithm").map_err(key_err)?;
    let bits = kr
        .read_tag(tag::BIT_STRING, "subjectPublicKey")
        .map_err(key_err)?;
    let bits = bit_string_bytes(bits.value)
        .ok_or(CertError("subjectPublicKey has unused bits".into()))?
        .to_vec();
    Ok(PublicKey { algorithm, bits })
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[]), "");
        assert_eq!(
            super::hex(&[0x00, 0x09, 0x0a, 0x7f, 0x80, 0xff]),
            "00090a7f80ff"
        );
        let all: Vec<u8> = (0..=255).collect();
        let slow: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&all), slow);
    }
}
