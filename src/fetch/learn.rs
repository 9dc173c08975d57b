//! Distribution points met in submissions: a CA publishes the URL of its own CRL in the
//! certificates it issues (the Kazakh NCA does exactly this), so a trust store holding the
//! CA's certificate alone does not say where its CRL is. Only certificates that a CA of the
//! trust store issued — name matched and signature verified — are read, and only the first
//! few, so a hostile submission cannot make tamga follow URLs of its choosing.

use super::crls;
use crate::verify::TrustStore;
use crate::verify::cache::Cache;
use crate::verify::certificate::Certificate;

/// Most carried certificates looked at in one signature.
const MAX_CERTS: usize = 16;

/// The cRLDistributionPoints and freshestCRL points of the certificates `signature` (CMS, or
/// signed XML's KeyInfo) carries that an anchor of `trust` issued, at most
/// [`crls::MAX_URLS`].
pub fn issued_points(signature: &[u8], trust: &TrustStore) -> Vec<crls::Point> {
    let certificates = if crate::verify::xml::is_xml(signature) {
        crate::verify::xml::carried_certificates(signature)
    } else {
        match crate::verify::cms::parse(signature) {
            Ok(sd) => sd.certificates.iter().map(|c| c.to_vec()).collect(),
            Err(_) => return Vec::new(),
        }
    };
    let cache = Cache::default();
    let mut out = Vec::new();
    for der in certificates.iter().take(MAX_CERTS) {
        let Ok(cert) = Certificate::from_der(der) else {
            continue;
        };
        if !trust
            .anchors()
            .iter()
            .any(|ca| issued_by(&cert, ca, &cache))
        {
            continue;
        }
        let points = crls::points(&cert.revocation.points, &cert.issuer_raw)
            .chain(crls::points(&cert.revocation.freshest, &cert.issuer_raw));
        for point in points {
            crls::merge(&mut out, point);
        }
    }
    out
}

fn issued_by(cert: &Certificate, ca: &Certificate, cache: &Cache) -> bool {
    crate::verify::names::same_name(&cert.issuer_raw, &ca.subject_raw)
        && cache
            .signed_by(
                &cert.fingerprint,
                cert.tbs(),
                &cert.signed,
                &ca.fingerprint,
                &ca.public_key,
            )
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn corpus(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/nca-kz-test")
            .join(p)
    }

    /// A signed XML submission teaches its signer's points as a CMS one does: the NCA RSA
    /// test CA issued the signer of signed-rsa.xml, whose certificate names both.
    #[test]
    fn xml_signature_yields_its_signers_points() {
        let trust = crate::trustdir::load(&[corpus("ca")]).unwrap();
        let xml = std::fs::read(corpus("xml/signed-rsa.xml")).unwrap();
        let urls: Vec<_> = issued_points(&xml, &trust)
            .into_iter()
            .map(|p| p.url)
            .collect();
        assert_eq!(
            urls,
            [
                "http://test.pki.gov.kz/crl/nca_rsa_test.crl",
                "http://test.pki.gov.kz/crl/nca_d_rsa_test.crl"
            ]
        );
        // Not issued by an anchor: nothing learnt.
        let other = crate::trustdir::load(&[
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trust")
        ])
        .unwrap();
        assert!(issued_points(&xml, &other).is_empty());
    }
}
