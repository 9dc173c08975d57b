//! A document's signers' certificate paths, for its page: rebuilt from what the archive kept
//! — the signature file carries the signer's certificate and usually its CAs (CMS
//! `certificates`, RFC 5652 §5.1; XML-DSig `X509Data`, §4.5.4) — and the trust store's
//! anchors. Each CA is found by the issuer's name (RFC 5280 §4.1.2.4) and, where both carry
//! them, its key identifier (§4.2.1.1), and is taken only when its key verifies the
//! signature on the certificate below it (§6.1.3 (a)(1)): a sender can carry a look-alike CA
//! of the same names, and a page must not show it chained to a trust anchor. Revocation and
//! the rest of path validation are not done again: the verdict is the one given at filing
//! (the signer's status). Each certificate's status is whether it is a trust anchor, whether
//! it is chained to one, and whether the time of receipt was within its validity period.

use crate::verify::algorithms::Scheme;
use crate::verify::certificate::{Certificate, hex};
use std::sync::Arc;

/// Certificates in a path at most (the verifier's own path limit is shorter).
const MAX_DEPTH: usize = 10;
/// Certificates read from a signature file at most.
const MAX_CARRIED: usize = 64;
/// Signatures checked per path at most (a file of many look-alike CAs costs no more).
const MAX_CHECKS: usize = 32;

/// One certificate of a path, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// notBefore and notAfter, RFC 3339.
    pub validity: (String, String),
    /// Its status (see [`Status`]).
    pub status: Status,
}

/// A certificate's status on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A trust anchor of the store.
    Anchor,
    /// Within its validity period when the document was received.
    Valid,
    /// Outside its validity period then.
    Expired,
    /// The top of a path that does not reach a trust anchor: no issuer by its names whose
    /// key verifies its signature (a look-alike CA ends here).
    NotChained,
}

/// The certificates a signature file carries, parsed (CMS or signed XML; none when it is
/// neither, or when a certificate does not parse).
fn carried(signature: &[u8]) -> Vec<Certificate> {
    let ders: Vec<Vec<u8>> = if crate::verify::xml::is_xml(signature) {
        crate::verify::xml::carried_certificates(signature)
    } else {
        crate::verify::cms::parse_lazy(signature)
            .map(|sd| sd.certificates.iter().map(|c| c.to_vec()).collect())
            .unwrap_or_default()
    };
    ders.iter()
        .take(MAX_CARRIED)
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect()
}

/// Whether `ca` is the issuer `c` names.
fn issued(ca: &Certificate, c: &Certificate) -> bool {
    ca.subject_raw == c.issuer_raw
        && match (&c.authority_key_id, &ca.subject_key_id) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        }
}

/// Whether `ca`'s key verifies the signature on `c` (RFC 5280 §6.1.3 (a)(1)).
fn signed(ca: &Certificate, c: &Certificate) -> bool {
    Scheme::for_object(&c.signed.algorithm)
        .and_then(|s| s.verify(&ca.public_key, c.tbs(), &c.signed.signature))
        .is_ok()
}

/// The path of the signer whose certificate has SHA-256 `fingerprint` (hex), from the
/// signature file's certificates and `anchors`, signer first; empty when the file does not
/// carry that certificate.
pub fn path_of(
    signature: &[u8],
    fingerprint: &str,
    anchors: &[Arc<Certificate>],
    at: i64,
) -> Vec<Link> {
    let pool = carried(signature);
    match pool.iter().find(|c| hex(&c.fingerprint) == fingerprint) {
        Some(c) => path_from(c, &pool, anchors, at),
        None => Vec::new(),
    }
}

/// The path up from `c` through `pool` to one of `anchors`; its last certificate is marked
/// [`Status::NotChained`] when it is not an anchor.
fn path_from<'a>(
    mut c: &'a Certificate,
    pool: &'a [Certificate],
    anchors: &[Arc<Certificate>],
    at: i64,
) -> Vec<Link> {
    let mut out = Vec::new();
    let mut checks = 0usize;
    while out.len() < MAX_DEPTH {
        let anchor = anchors.iter().any(|a| a.fingerprint == c.fingerprint);
        out.push(link(c, anchor, at));
        if anchor || c.subject_raw == c.issuer_raw {
            break;
        }
        // The issuer whose key verifies the signature: an anchor ends the path; a CA of
        // the file's own carries on.
        let mut verified = |ca: &Certificate| {
            issued(ca, c) && checks < MAX_CHECKS && {
                checks += 1;
                signed(ca, c)
            }
        };
        if let Some(a) = anchors.iter().find(|a| verified(a)) {
            out.push(link(a, true, at));
            break;
        }
        match pool
            .iter()
            .find(|p| p.fingerprint != c.fingerprint && verified(p))
        {
            Some(next) => c = next,
            None => break,
        }
    }
    if let Some(top) = out.last_mut().filter(|l| l.status != Status::Anchor) {
        top.status = Status::NotChained;
    }
    out
}

fn link(c: &Certificate, anchor: bool, at: i64) -> Link {
    let status = if anchor {
        Status::Anchor
    } else if c.not_before <= at && at <= c.not_after {
        Status::Valid
    } else {
        Status::Expired
    };
    Link {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        serial: hex(&c.serial),
        validity: (
            crate::verify::fmt_time(c.not_before),
            crate::verify::fmt_time(c.not_after),
        ),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        std::fs::read(p.join(name)).unwrap_or_default()
    }

    fn anchors() -> Vec<Arc<Certificate>> {
        let pem = fixture("trust/root.pem");
        let text = String::from_utf8_lossy(&pem);
        text.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .filter_map(|b| b.split("-----END CERTIFICATE-----").next())
            .filter_map(|b| {
                use base64::Engine;
                let clean: String = b.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(clean).ok()
            })
            .filter_map(|d| Certificate::from_der(&d).ok())
            .map(Arc::new)
            .collect()
    }

    #[test]
    fn a_signers_path_runs_from_its_certificate_to_the_anchor() {
        let sig = fixture("sig/p256.der");
        let pool = carried(&sig);
        let signer = pool
            .iter()
            .find(|c| c.subject.contains("P-256 signer"))
            .expect("the signer's certificate is carried");
        let at = signer.not_before + 1;
        let path = path_of(&sig, &hex(&signer.fingerprint), &anchors(), at);
        let subjects: Vec<_> = path.iter().map(|l| l.subject.as_str()).collect();
        assert_eq!(path.len(), 3, "{subjects:?}");
        assert!(subjects[0].contains("P-256 signer"));
        assert!(subjects[1].contains("Intermediate"));
        assert!(subjects[2].contains("Root"));
        assert_eq!(path[0].status, Status::Valid);
        assert_eq!(path[2].status, Status::Anchor);
        assert_eq!(path[0].issuer, path[1].subject);
        assert!(!path[0].serial.is_empty());
        let later = path_of(
            &sig,
            &hex(&signer.fingerprint),
            &anchors(),
            signer.not_after + 1,
        );
        assert_eq!(later[0].status, Status::Expired);
        assert!(path_of(&sig, "00", &anchors(), at).is_empty());
    }

    #[test]
    fn a_look_alike_ca_is_not_shown_chained_to_the_anchor() {
        let sig = fixture("sig/p256.der");
        let pool = carried(&sig);
        let signer = pool.iter().find(|c| c.subject.contains("P-256 signer"));
        let ca = pool.iter().find(|c| c.subject.contains("Intermediate"));
        let (Some(signer), Some(ca)) = (signer, ca) else {
            panic!("the fixture carries its signer and CA");
        };
        // The same names, key and key identifiers, but a signature the root never made.
        let mut der = ca.der.clone();
        let last = der.len() - 1;
        der[last] ^= 1;
        let fake = Certificate::from_der(&der).expect("still parses");
        let pool = vec![signer.clone(), fake];
        let path = path_from(signer, &pool, &anchors(), signer.not_before + 1);
        let status: Vec<_> = path.iter().map(|l| l.status).collect();
        assert_eq!(status, [Status::Valid, Status::NotChained], "{path:?}");
    }
}
