//! The trust store: anchors and CRLs, handed to the verifier as values (loading them from disk
//! is the caller's business, so verification stays free of I/O).

use super::certificate::{CertError, Certificate};
use super::revocation::Crl;
use std::collections::HashSet;
use std::sync::Arc;

/// Trust anchors and the CRLs that go with them.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Arc<Certificate>>,
    anchor_fps: HashSet<[u8; 32], super::cache::FingerprintState>,
    crls: Vec<Crl>,
    skipped: Vec<String>,
}

impl TrustStore {
    /// A store of these anchors and CRLs. Any certificate may be an anchor: national PKIs hand
    /// out their intermediate CAs for exactly that use.
    pub fn new(anchors: Vec<Certificate>, crls: Vec<Crl>) -> Self {
        let anchors: Vec<Arc<Certificate>> = anchors.into_iter().map(Arc::new).collect();
        let anchor_fps = anchors.iter().map(|a| a.fingerprint).collect();
        TrustStore {
            anchors,
            anchor_fps,
            crls,
            skipped: Vec::new(),
        }
    }

    /// The same store, noting the files its loader left out (each: file and why), so that
    /// whoever reports on the store can say what is missing from it.
    pub fn with_skipped(mut self, skipped: Vec<String>) -> Self {
        self.skipped = skipped;
        self
    }

    /// The files the loader left out, each as "file: why".
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Parses DER certificates and CRLs into a store.
    pub fn from_der<C: AsRef<[u8]>, R: AsRef<[u8]>>(
        certs: &[C],
        crls: &[R],
    ) -> Result<Self, CertError> {
        let anchors = certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()))
            .collect::<Result<_, _>>()?;
        let crls = crls
            .iter()
            .map(|c| Crl::from_der(c.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(TrustStore::new(anchors, crls))
    }

    /// The same anchors with these CRLs instead of its own: a refresh builds the next store
    /// this way, sharing the anchors (and what was left out at loading) with the current one.
    pub fn with_crls(&self, crls: Vec<Crl>) -> TrustStore {
        TrustStore {
            anchors: self.anchors.clone(),
            anchor_fps: self.anchor_fps.clone(),
            crls,
            skipped: self.skipped.clone(),
        }
    }

    /// The anchors.
    pub fn anchors(&self) -> &[Arc<Certificate>] {
        &self.anchors
    }

    /// The CRLs.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// Whether a certificate with this fingerprint is an anchor.
    pub fn is_anchor(&self, fingerprint: &[u8; 32]) -> bool {
        self.anchor_fps.contains(fingerprint)
    }
}
