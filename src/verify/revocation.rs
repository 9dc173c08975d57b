//! CRLs (RFC 5280 §5, §6.3): parsed once, then asked whether a serial was revoked at a time.

use super::cache::Cache;
use super::certificate::{CertError, Certificate, MAX_OBJECT, Signed};
use super::names;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use x509_parser::prelude::*;

/// A parsed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The CRL's DER.
    pub der: Vec<u8>,
    /// SHA-256 of `der`.
    pub fingerprint: [u8; 32],
    /// TBS range, algorithm and signature.
    pub signed: Signed,
    /// Raw encoding of the issuer Name.
    pub issuer_raw: Vec<u8>,
    /// thisUpdate, seconds since the epoch.
    pub this_update: i64,
    /// nextUpdate, when present.
    pub next_update: Option<i64>,
    /// Revoked serials (INTEGER content bytes) and their revocation dates.
    pub revoked: HashMap<Vec<u8>, i64>,
    /// A critical CRL extension we do not process (delta CRLs, partitioned scopes): such a CRL
    /// cannot be taken as complete, so it is not used.
    pub unknown_critical: Option<String>,
}

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Crl, CertError> {
        if der.len() > MAX_OBJECT {
            return Err(CertError("CRL too large".into()));
        }
        let signed = Signed::split(der)?;
        let (rest, crl) = parse_x509_crl(der).map_err(|e| CertError(format!("CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(CertError("trailing bytes after CRL".into()));
        }
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| (r.raw_serial().to_vec(), r.revocation_date.timestamp()))
            .collect();
        let unknown_critical = crl
            .extensions()
            .iter()
            .filter(|e| e.critical)
            .map(|e| e.oid.to_id_string())
            .find(|oid| oid != "2.5.29.20" && oid != "2.5.29.35");
        Ok(Crl {
            fingerprint: Sha256::digest(der).into(),
            signed,
            issuer_raw: crl.issuer().as_raw().to_vec(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked,
            unknown_critical,
            der: der.to_vec(),
        })
    }

    fn tbs(&self) -> &[u8] {
        self.der.get(self.signed.tbs.clone()).unwrap_or_default()
    }

    fn current_at(&self, at: i64) -> bool {
        self.this_update <= at && self.next_update.is_none_or(|n| at <= n)
    }
}

/// What the CRLs say of one certificate at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A current CRL from its issuer does not list it.
    Good,
    /// A current CRL from its issuer lists it, revoked at this time.
    Revoked(i64),
    /// No usable CRL: the sentence says why.
    Unknown(String),
}

/// The status of `cert`, issued by `issuer`, at `at`, from the CRLs in `crls`.
pub fn status(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[&Crl],
    at: i64,
    cache: &Cache,
) -> Status {
    let mut best: Option<&Crl> = None;
    let mut why = "no CRL from the issuer";
    for crl in crls
        .iter()
        .filter(|c| names::same_name(&c.issuer_raw, &cert.issuer_raw))
    {
        if issuer.key_usage.is_some_and(|ku| !ku.crl_sign) {
            why = "the issuer's key usage does not allow CRL signing";
            continue;
        }
        if crl.unknown_critical.is_some() {
            why = "the CRL has a critical extension that is not processed";
            continue;
        }
        if !crl.current_at(at) {
            why = "no CRL from the issuer is current at the validation time";
            continue;
        }
        let signed = cache.signed_by(
            &crl.fingerprint,
            crl.tbs(),
            &crl.signed,
            &issuer.fingerprint,
            &issuer.public_key,
        );
        if signed.is_err() {
            why = "the CRL's signature does not verify with the issuer's key";
            continue;
        }
        if best.is_none_or(|b| b.this_update < crl.this_update) {
            best = Some(crl);
        }
    }
    match best {
        Some(crl) => match crl.revoked.get(&cert.serial) {
            Some(&when) if when <= at => Status::Revoked(when),
            _ => Status::Good,
        },
        None => Status::Unknown(format!("{why} ({})", cert.issuer)),
    }
}
