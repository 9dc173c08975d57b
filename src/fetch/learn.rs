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

/// The cRLDistributionPoints and freshestCRL points of the certificates `signature` (CMS)
/// carries that an anchor of `trust` issued, at most [`crls::MAX_URLS`].
pub fn issued_points(signature: &[u8], trust: &TrustStore) -> Vec<crls::Point> {
    let Ok(sd) = crate::verify::cms::parse(signature) else {
        return Vec::new();
    };
    let cache = Cache::default();
    let mut out = Vec::new();
    for der in sd.certificates.iter().take(MAX_CERTS) {
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
