//! Receipts: a JSON body in a CMS SignedData signed by the service's receipt key.
//!
//! The key is ECDSA P-256. On first start, if the organisation has not installed its own
//! (`receipt.key` + `receipt.pem` in the key directory), one is made with rcgen and kept.
//! Anyone holding the service certificate can check a receipt with
//! `openssl cms -verify -inform DER -CAfile receipt.pem`, with no tamga at hand.

pub mod body;
pub mod der;
pub mod template;

use der::{oid, seq, set_of, tlv, uint};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const ID_DATA: &str = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const ID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

/// Why the receipt key could not be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key or certificate is not usable.
    #[error("receipt key: {0}")]
    Key(String),
    /// A receipt was to be dated outside the service certificate's validity: it would not
    /// verify at its own time, so it is not signed (and nothing is filed).
    #[error(
        "a receipt cannot be dated {at}: the service certificate is valid from {from} to {until}"
    )]
    OutsideValidity {
        /// The date asked for.
        at: String,
        /// The certificate's notBefore.
        from: String,
        /// The certificate's notAfter.
        until: String,
    },
}

/// The service's receipt signer.
pub struct ReceiptSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der: Vec<u8>,
    /// Issuer Name (raw DER) and serial INTEGER (encoded) of the certificate, for the SignerInfo.
    issuer_and_serial: Vec<u8>,
    cert_sha256: [u8; 32],
    spki: Vec<u8>,
    /// The certificate's notBefore and notAfter (Unix seconds).
    validity: (i64, i64),
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field(
                "cert_sha256",
                &crate::verify::certificate::hex(&self.cert_sha256),
            )
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// Loads `receipt.key` (PKCS#8 PEM) and `receipt.pem` from `dir`, making both on first use.
    pub fn load_or_create(dir: &Path, organization: &str) -> Result<Self, ReceiptError> {
        let key_path = dir.join("receipt.key");
        let cert_path = dir.join("receipt.pem");
        if !key_path.exists() && !cert_path.exists() {
            create_pair(dir, organization)?;
        }
        let key_pem = std::fs::read(&key_path).map_err(io(&key_path))?;
        let cert_pem = std::fs::read(&cert_path).map_err(io(&cert_path))?;
        let pkcs8 = first_pem(&key_pem, "PRIVATE KEY")?;
        let cert_der = first_pem(&cert_pem, "CERTIFICATE")?;
        Self::from_der(&pkcs8, cert_der)
    }

    /// A key pair made in memory and never kept: for reading, without writing anything, an
    /// archive that has no entries and so no key yet (a first start killed before it made one).
    pub fn ephemeral(organization: &str) -> Result<Self, ReceiptError> {
        let (key_pem, cert_pem) = generate(organization)?;
        let pkcs8 = first_pem(key_pem.as_bytes(), "PRIVATE KEY")?;
        Self::from_der(&pkcs8, first_pem(cert_pem.as_bytes(), "CERTIFICATE")?)
    }

    /// A signer from a PKCS#8 ECDSA P-256 key and its certificate.
    pub fn from_der(pkcs8: &[u8], cert_der: Vec<u8>) -> Result<Self, ReceiptError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(|e| ReceiptError::Key(format!("not an ECDSA P-256 PKCS#8 key ({e})")))?;
        let cert = crate::verify::certificate::Certificate::from_der(&cert_der)
            .map_err(|e| ReceiptError::Key(format!("certificate: {e}")))?;
        if cert.public_key.bits != ring::signature::KeyPair::public_key(&key).as_ref() {
            return Err(ReceiptError::Key(
                "the certificate is not for this key".into(),
            ));
        }
        let issuer_and_serial = seq(&[&cert.issuer_raw, &tlv(0x02, &cert.serial)]);
        Ok(ReceiptSigner {
            key,
            rng,
            cert_sha256: cert.fingerprint,
            spki: cert.spki.clone(),
            validity: (cert.not_before, cert.not_after),
            cert_der,
            issuer_and_serial,
        })
    }

    /// The service certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.cert_der
    }

    /// SHA-256 of the service certificate; receipts name it.
    pub fn certificate_sha256(&self) -> [u8; 32] {
        self.cert_sha256
    }

    /// The SubjectPublicKeyInfo (DER) of the receipt key.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// A bare ECDSA P-256 / SHA-256 signature (ASN.1 DER) over `message`, for signed notes.
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| ReceiptError::Key("signing failed".into()))
    }

    /// Fails unless the certificate is valid at `at`, so that a receipt can be signed then:
    /// asked before a filing is built, so that its signing cannot fail on that.
    pub fn covers(&self, at: i64) -> Result<(), ReceiptError> {
        let (from, until) = self.validity;
        if (from..=until).contains(&at) {
            return Ok(());
        }
        Err(ReceiptError::OutsideValidity {
            at: crate::verify::fmt_time(at),
            from: crate::verify::fmt_time(from),
            until: crate::verify::fmt_time(until),
        })
    }

    /// Signs `body` (attached) with signingTime `at`: a DER ContentInfo. Refused when `at` lies
    /// outside the certificate's validity: a receipt is judged at its own time.
    pub fn sign(&self, body: &[u8], at: i64) -> Result<Vec<u8>, ReceiptError> {
        self.covers(at)?;
        let signed_attrs = signed_attributes(body, at);
        let signature = self
            .key
            .sign(&self.rng, &signed_attrs)
            .map_err(|_| ReceiptError::Key("signing failed".into()))?;
        Ok(envelope(
            &self.cert_der,
            &self.issuer_and_serial,
            body,
            signed_attrs,
            signature.as_ref(),
        ))
    }
}

/// The signed attributes (RFC 5652 §5.3) of a receipt with `body` signed at `at`, in the SET OF
/// form the signature covers.
fn signed_attributes(body: &[u8], at: i64) -> Vec<u8> {
    let attrs = vec![
        seq(&[&oid(ID_CONTENT_TYPE), &set_of(vec![oid(ID_DATA)])]),
        seq(&[&oid(ID_SIGNING_TIME), &set_of(vec![der::signing_time(at)])]),
        seq(&[
            &oid(ID_MESSAGE_DIGEST),
            &set_of(vec![tlv(0x04, &Sha256::digest(body))]),
        ]),
    ];
    set_of(attrs)
}

/// The ContentInfo around a signed receipt (RFC 5652 §5.1): `body` attached, the service
/// certificate `cert_der`, one SignerInfo naming it by `issuer_and_serial`.
fn envelope(
    cert_der: &[u8],
    issuer_and_serial: &[u8],
    body: &[u8],
    signed_attrs: Vec<u8>,
    signature: &[u8],
) -> Vec<u8> {
    let sha256 = seq(&[&oid(ID_SHA256)]);
    let mut implicit_attrs = signed_attrs;
    if let Some(t) = implicit_attrs.first_mut() {
        *t = 0xA0; // [0] IMPLICIT in the SignerInfo; the signature covers the SET OF form
    }
    let signer_info = seq(&[
        &uint(1),
        issuer_and_serial,
        &sha256,
        &implicit_attrs,
        &seq(&[&oid(ID_ECDSA_SHA256)]),
        &tlv(0x04, signature),
    ]);
    let signed_data = seq(&[
        &uint(1),
        &tlv(0x31, &sha256),
        &seq(&[&oid(ID_DATA), &tlv(0xA0, &tlv(0x04, body))]),
        &tlv(0xA0, cert_der),
        &tlv(0x31, &signer_info),
    ]);
    seq(&[&oid(ID_SIGNED_DATA), &tlv(0xA0, &signed_data)])
}

/// A fresh P-256 key and a self-signed certificate for it (PEM, PEM).
fn generate(organization: &str) -> Result<(String, String), ReceiptError> {
    let err = |e: rcgen::Error| ReceiptError::Key(e.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        format!("tamga receipts — {organization}"),
    );
    dn.push(rcgen::DnType::OrganizationName, organization);
    params.distinguished_name = dn;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::ContentCommitment,
    ];
    // From 2000: documents received long before the service existed may be imported with
    // their time of receipt, and each receipt must lie inside its certificate's validity.
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2075, 1, 1);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((key.serialize_pem(), cert.pem()))
}

fn first_pem(bytes: &[u8], label: &str) -> Result<Vec<u8>, ReceiptError> {
    crate::trustdir::pem_or_der(bytes, label)
        .map_err(|e| ReceiptError::Key(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| ReceiptError::Key(format!("no {label}")))
}

/// The error for an I/O failure at `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReceiptError {
    let path = path.to_path_buf();
    move |source| ReceiptError::Io { path, source }
}

/// Makes the key pair in a private staging directory and renames it into place, so a process
/// killed half-way never leaves a key without its certificate, and two first starts racing
/// each other end with one pair that both use.
fn create_pair(dir: &Path, organization: &str) -> Result<(), ReceiptError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("keys");
    let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
    // A stale staging directory can only be left by a killed process with our pid.
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(io(&staging))?;
    let (key_pem, cert_pem) = generate(organization)?;
    let key_path = staging.join("receipt.key");
    let cert_path = staging.join("receipt.pem");
    write_private(&key_path, key_pem.as_bytes()).map_err(io(&key_path))?;
    write_private(&cert_path, cert_pem.as_bytes()).map_err(io(&cert_path))?;
    match std::fs::rename(&staging, dir) {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(parent) {
                d.sync_all().map_err(io(parent))?;
            }
            Ok(())
        }
        // Another process made the pair first (rename refuses a non-empty target): use theirs.
        Err(_) if dir.join("receipt.pem").exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(io(dir)(e))
        }
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
