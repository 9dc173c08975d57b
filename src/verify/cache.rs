//! Memoised work that only depends on bytes: parsed certificates and verified issuer links.
//!
//! A chancellery sees the same few dozen certificates all day; parsing and checking their
//! signatures again for every document would dominate the cost of a verification. Keys are
//! SHA-256 fingerprints, so a hit can only return the result for the very same bytes. Time is
//! never cached: validity and revocation are judged anew for each validation time.

use super::algorithms::{AlgError, Scheme};
use super::certificate::{CertError, Certificate, PublicKey, Signed};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Entries kept before the cache starts over; bounds memory whatever the input stream.
const CAPACITY: usize = 4096;

type Fingerprint = [u8; 32];

/// The verifier's memo tables. Cheap to share between threads.
#[derive(Debug, Default)]
pub struct Cache {
    certs: Mutex<HashMap<Fingerprint, Arc<Certificate>>>,
    links: Mutex<HashMap<(Fingerprint, Fingerprint), Result<(), AlgError>>>,
}

impl Cache {
    /// The parsed certificate for `der`, parsing it only once.
    pub fn certificate(&self, der: &[u8]) -> Result<Arc<Certificate>, CertError> {
        let fp: Fingerprint = Sha256::digest(der).into();
        if let Some(c) = lock(&self.certs).get(&fp) {
            return Ok(Arc::clone(c));
        }
        let cert = Arc::new(Certificate::from_der(der)?);
        let mut map = lock(&self.certs);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(fp, Arc::clone(&cert));
        Ok(cert)
    }

    /// Whether the object with fingerprint `subject` (a certificate or CRL whose signed part is
    /// `tbs`) was signed by `issuer_key`, checking the signature only once per pair.
    pub fn signed_by(
        &self,
        subject: &Fingerprint,
        tbs: &[u8],
        signed: &Signed,
        issuer: &Fingerprint,
        issuer_key: &PublicKey,
    ) -> Result<(), AlgError> {
        let key = (*subject, *issuer);
        if let Some(r) = lock(&self.links).get(&key) {
            return r.clone();
        }
        let result = Scheme::for_object(&signed.algorithm)
            .and_then(|s| s.verify(issuer_key, tbs, &signed.signature));
        let mut map = lock(&self.links);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, result.clone());
        result
    }
}

/// A poisoned lock only means another thread panicked mid-insert of a complete value; the
/// maps hold no invariant that could be half-updated, so carry on with them.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
