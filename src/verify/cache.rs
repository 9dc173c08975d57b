//! Memoised work that only depends on bytes: parsed certificates and verified issuer links.
//!
//! A chancellery sees the same few dozen certificates all day; parsing and checking their
//! signatures again for every document would dominate the cost of a verification. Keys are
//! SHA-256 fingerprints, so a hit can only return the result for the very same bytes. Time is
//! never cached: validity and revocation are judged anew for each validation time.

use super::algorithms::{AlgError, Scheme};
use super::certificate::{CertError, Certificate, PublicKey, Signed};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

mod fingerprint_hash;
pub(crate) use fingerprint_hash::FingerprintState;

/// Entries kept before the cache starts over; bounds memory whatever the input stream.
const CAPACITY: usize = 4096;
/// How many trailing DER bytes key the certificate table.
const TAIL: usize = 32;
/// Certificates kept under one key.
const BUCKET: usize = 4;

type Fingerprint = [u8; 32];
/// Issuer-link results by (subject, issuer) fingerprints.
type Links = HashMap<(Fingerprint, Fingerprint), Result<(), AlgError>, FingerprintState>;

/// The verifier's memo tables. Cheap to share between threads.
#[derive(Debug, Default)]
pub struct Cache {
    /// Keyed by the last bytes of the DER (the tail of the issuer's signature, unique per
    /// certificate in practice); a hit is confirmed by comparing the whole DER, which is far
    /// cheaper than hashing it. Forged look-alike tails only make a bucket longer, and buckets
    /// are capped.
    certs: Mutex<HashMap<[u8; TAIL], Vec<Arc<Certificate>>>>,
    links: Mutex<Links>,
}

impl Cache {
    /// The parsed certificate for `der`, parsing it only once.
    pub fn certificate(&self, der: &[u8]) -> Result<Arc<Certificate>, CertError> {
        let mut key = [0u8; TAIL];
        let tail = der
            .get(der.len().saturating_sub(TAIL)..)
            .unwrap_or_default();
        key.get_mut(..tail.len())
            .unwrap_or_default()
            .copy_from_slice(tail);
        let hit = lock(&self.certs)
            .get(&key)
            .and_then(|bucket| bucket.iter().find(|c| c.der == der).cloned());
        if let Some(c) = hit {
            return Ok(c);
        }
        let cert = Arc::new(Certificate::from_der(der)?);
        let mut map = lock(&self.certs);
        if map.len() >= CAPACITY {
            map.clear();
        }
        let bucket = map.entry(key).or_default();
        if bucket.len() >= BUCKET {
            bucket.clear();
        }
        bucket.push(Arc::clone(&cert));
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
