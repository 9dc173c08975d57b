//! Whether a CRL that arrived from elsewhere (a distribution point, a file) is issued and
//! signed by a CA of the trust store, at a given time: the check a fetched CRL passes before it
//! may replace the one held (RFC 5280 §6.3.3 (f), (g) applied to the store's own CAs). Pure:
//! the fetching layer hands the CRL, the store and the time in.

use super::super::cache::Cache;
use super::super::certificate::Certificate;
use super::super::names;
use super::super::trust::TrustStore;
use super::crl::Crl;
use super::signer;
use super::{Budget, Context};
use std::sync::Arc;
use x509_parser::prelude::FromDer;

/// Why a CRL is not one of the trust store's CAs'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// No certificate of the store has the CRL issuer's name.
    #[error("no CA of the trust store is named {0}")]
    Unknown(String),
    /// A CA of that name is there, but none of them signed it (or may sign CRLs).
    #[error("the CRL's signature does not verify with the trust store's CA: {0}")]
    Signature(signer::SignerError),
    /// The CA that signed it is not valid at the time asked about.
    #[error("the CRL's issuer certificate is not valid at that time")]
    Expired,
    /// The CRL itself cannot be used (an unknown critical extension, …).
    #[error("the CRL cannot be used: {0}")]
    Unusable(String),
}

/// The certificate of `trust` that issued and signed `crl`, valid at `at`; or why none did.
/// Every certificate of the store is an anchor, so the signer is taken from there alone: the
/// same search revocation checking makes (`signer::find`), with the candidate as both issuer
/// and anchor.
pub fn trusted_issuer(
    crl: &Crl,
    trust: &TrustStore,
    at: i64,
) -> Result<Arc<Certificate>, IssuerError> {
    if let Some(why) = &crl.unusable {
        return Err(IssuerError::Unusable(why.clone()));
    }
    let cache = Cache::default();
    let budget = Budget::default();
    let ctx = Context::new(&[], trust, &[], at, &cache, &budget);
    let mut why = IssuerError::Unknown(crl_issuer_text(crl));
    for ca in trust
        .anchors()
        .iter()
        .filter(|a| names::crl_issuer_is_subject_of(crl, a))
    {
        match signer::find(crl, ca, ca, &ctx) {
            Ok(_) if at < ca.not_before || at > ca.not_after => why = IssuerError::Expired,
            Ok(_) => return Ok(Arc::clone(ca)),
            Err(e) => why = IssuerError::Signature(e),
        }
    }
    Err(why)
}

/// The CRL issuer's name in RFC 4514 form, for sentences and tables.
pub fn crl_issuer_text(crl: &Crl) -> String {
    x509_parser::x509::X509Name::from_der(&crl.issuer_raw)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|_| "(an unreadable name)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkits(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkits");
        std::fs::read(dir.join(name)).unwrap_or_default()
    }

    fn root() -> TrustStore {
        TrustStore::from_der(
            &[pkits("TrustAnchorRootCertificate.crt")],
            &[] as &[Vec<u8>],
        )
        .unwrap_or_default()
    }

    #[test]
    fn the_anchors_own_crl_is_accepted() {
        let crl = Crl::from_der(&pkits("crls/TrustAnchorRootCRL.crl")).unwrap();
        let store = root();
        let ca = trusted_issuer(&crl, &store, crl.this_update).unwrap();
        assert_eq!(ca.fingerprint, store.anchors()[0].fingerprint);
    }

    #[test]
    fn another_cas_crl_is_refused() {
        let crl = Crl::from_der(&pkits("crls/GoodCACRL.crl")).unwrap();
        assert!(matches!(
            trusted_issuer(&crl, &root(), crl.this_update),
            Err(IssuerError::Unknown(_))
        ));
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let mut der = pkits("crls/TrustAnchorRootCRL.crl");
        let last = der.len() - 1;
        der[last] ^= 1;
        let crl = Crl::from_der(&der).unwrap();
        assert!(matches!(
            trusted_issuer(&crl, &root(), crl.this_update),
            Err(IssuerError::Signature(_))
        ));
    }

    #[test]
    fn outside_the_cas_validity_is_refused() {
        let crl = Crl::from_der(&pkits("crls/TrustAnchorRootCRL.crl")).unwrap();
        let late = root().anchors()[0].not_after + 1;
        assert_eq!(
            trusted_issuer(&crl, &root(), late).unwrap_err(),
            IssuerError::Expired
        );
    }
}
