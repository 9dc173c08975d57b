//! A CA made with rcgen, its CRLs, and the rules a fetched CRL must pass.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::OffsetDateTime;

/// A test CA: its certificate in a trust store, and its key to sign CRLs.
pub(crate) struct TestCa {
    pub(crate) params: CertificateParams,
    pub(crate) key: KeyPair,
    pub(crate) der: Vec<u8>,
}

impl TestCa {
    /// A CA named `name` whose certificate points at `url` for its CRL.
    pub(crate) fn new(name: &str, url: &str) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.to_owned()],
        }];
        params.not_before = OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = OffsetDateTime::now_utc() + time::Duration::days(30);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        TestCa { params, key, der }
    }

    /// A trust store of this CA alone.
    pub(crate) fn store(&self) -> TrustStore {
        TrustStore::from_der(&[&self.der], &[] as &[Vec<u8>]).unwrap()
    }

    /// A CRL numbered `number`, issued `age` seconds ago and valid `life` seconds from then,
    /// revoking `serials`.
    pub(crate) fn crl(&self, number: u64, age: i64, life: i64, serials: &[u64]) -> Vec<u8> {
        let this = OffsetDateTime::now_utc() - time::Duration::seconds(age);
        let params = CertificateRevocationListParams {
            this_update: this,
            next_update: this + time::Duration::seconds(life),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: this,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        params.signed_by(&issuer).unwrap().der().to_vec()
    }
}

const URL: &str = "http://127.0.0.1:9/ca.crl";

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The point of `ca`'s own certificate (self-signed: its CRLs are its own).
fn point_of(ca: &TestCa) -> Point {
    let cert = crate::verify::certificate::Certificate::from_der(&ca.der).unwrap();
    let mut points = points(&cert.revocation.points, &cert.issuer_raw);
    points.next().unwrap()
}

#[test]
fn the_cas_url_is_found() {
    let ca = TestCa::new("CRL Test CA", URL);
    let found = distribution_points(&ca.store(), []);
    assert_eq!(found, [point_of(&ca)]);
    assert_eq!(found[0].url, URL);
}

#[test]
fn another_trusted_cas_crl_is_refused_at_this_url() {
    let ca = TestCa::new("CRL Test CA", URL);
    let other = TestCa::new("Other Trusted CA", "http://127.0.0.1:9/other.crl");
    let both = TrustStore::from_der(&[&ca.der, &other.der], &[] as &[Vec<u8>]).unwrap();
    let theirs = parse(URL, &other.crl(1, 10, 3600, &[])).unwrap();
    // Trusted and current, but not the issuer this URL's certificate names: an empty slot
    // taking it would then refuse the right CA's CRLs as "different".
    assert!(matches!(
        check(&point_of(&ca), &theirs, None, &both, now()),
        Err(CrlError::Unexpected { .. })
    ));
    let ours = parse(URL, &ca.crl(1, 10, 3600, &[])).unwrap();
    assert_eq!(
        check(&point_of(&ca), &ours, None, &both, now()).unwrap(),
        Fresh::Newer
    );
}

#[test]
fn newer_is_taken_same_is_same() {
    let ca = TestCa::new("CRL Test CA", URL);
    let store = ca.store();
    let old = parse(URL, &ca.crl(1, 100, 3600, &[])).unwrap();
    let new = parse(URL, &ca.crl(2, 10, 3600, &[7])).unwrap();
    assert_eq!(
        check(&point_of(&ca), &old, None, &store, now()).unwrap(),
        Fresh::Newer
    );
    assert_eq!(
        check(&point_of(&ca), &new, Some(&old), &store, now()).unwrap(),
        Fresh::Newer
    );
    assert_eq!(
        check(&point_of(&ca), &new, Some(&new), &store, now()).unwrap(),
        Fresh::Same
    );
}

#[test]
fn a_lower_number_is_refused() {
    let ca = TestCa::new("CRL Test CA", URL);
    let store = ca.store();
    let held = parse(URL, &ca.crl(5, 100, 3600, &[])).unwrap();
    // Issued later, but numbered lower: a replayed or misissued CRL.
    let lower = parse(URL, &ca.crl(4, 10, 3600, &[])).unwrap();
    assert!(matches!(
        check(&point_of(&ca), &lower, Some(&held), &store, now()),
        Err(CrlError::LowerNumber { .. })
    ));
    // An older one (thisUpdate) is refused whatever its number.
    let older = parse(URL, &ca.crl(6, 1000, 3600, &[])).unwrap();
    assert!(matches!(
        check(&point_of(&ca), &older, Some(&held), &store, now()),
        Err(CrlError::Older { .. })
    ));
}

#[test]
fn a_stranger_is_refused() {
    let ca = TestCa::new("CRL Test CA", URL);
    let other = TestCa::new("CRL Test CA", URL);
    let forged = parse(URL, &other.crl(9, 10, 3600, &[])).unwrap();
    assert!(matches!(
        check(&point_of(&ca), &forged, None, &ca.store(), now()),
        Err(CrlError::Issuer { .. })
    ));
}

#[test]
fn saved_atomically_and_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let crls = CrlDir::new(dir.path());
    assert!(crls.load(URL).is_none());
    crls.save(URL, b"one").unwrap();
    crls.save(URL, b"two").unwrap();
    assert_eq!(crls.load(URL).unwrap(), b"two");
    let names: Vec<_> = std::fs::read_dir(dir.path().join("crls"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[test]
fn numbers_read_as_people_write_them() {
    let ca = TestCa::new("CRL Test CA", URL);
    let crl = parse(URL, &ca.crl(300, 10, 3600, &[])).unwrap();
    assert_eq!(number_text(crl.number.as_ref().unwrap()), "300");
}
