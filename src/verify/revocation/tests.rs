//! Scope matching and status with certificates and CRLs made by rcgen (P-256), and delta
//! merging and CRL parsing with the CRLs of NIST PKITS (tests/pkits/crls).

use super::crl::{CERTIFICATE_HOLD, Crl};
use super::scope::{self, DpName};
use super::{Budget, Context, Status, delta, status};
use crate::verify::cache::Cache;
use crate::verify::certificate::Certificate;
use crate::verify::trust::TrustStore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, CrlScope, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use std::sync::Arc;
use time::macros::datetime;

/// 2024-01-01: inside every validity below.
const AT: i64 = 1_704_067_200;

struct Ca {
    cert: Arc<Certificate>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Scope Test CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = datetime!(2020-01-01 0:00 UTC);
    params.not_after = datetime!(2030-01-01 0:00 UTC);
    let der = params.self_signed(&key).expect("CA").der().to_vec();
    Ca {
        cert: Arc::new(Certificate::from_der(&der).expect("CA parses")),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate from `ca` with serial `serial`, a CA itself when `is_ca`, and these DP URIs.
fn issue(ca: &Ca, serial: u64, is_ca: bool, dps: &[&str]) -> Certificate {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Subject {serial}"));
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = datetime!(2020-01-01 0:00 UTC);
    params.not_after = datetime!(2030-01-01 0:00 UTC);
    if is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    if !dps.is_empty() {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: dps.iter().map(|u| u.to_string()).collect(),
        }];
    }
    let der = params
        .signed_by(&key, &ca.issuer)
        .expect("cert")
        .der()
        .to_vec();
    Certificate::from_der(&der).expect("cert parses")
}

/// A CRL from `ca` revoking `revoked` (serial, reason), with an IDP when `idp` names a URI.
fn crl(ca: &Ca, revoked: &[(u64, RevocationReason)], idp: Option<(&str, Option<CrlScope>)>) -> Crl {
    crl_of(ca, revoked, idp, datetime!(2023-01-01 0:00 UTC))
}

/// As [`crl`], issued at `this_update`.
fn crl_of(
    ca: &Ca,
    revoked: &[(u64, RevocationReason)],
    idp: Option<(&str, Option<CrlScope>)>,
    this_update: time::OffsetDateTime,
) -> Crl {
    let params = CertificateRevocationListParams {
        this_update,
        next_update: datetime!(2025-01-01 0:00 UTC),
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: idp.map(|(uri, scope)| CrlIssuingDistributionPoint {
            distribution_point: CrlDistributionPoint {
                uris: vec![uri.to_string()],
            },
            scope,
        }),
        revoked_certs: revoked
            .iter()
            .map(|&(serial, reason)| RevokedCertParams {
                serial_number: SerialNumber::from(serial),
                revocation_time: datetime!(2022-06-01 0:00 UTC),
                reason_code: Some(reason),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let der = params.signed_by(&ca.issuer).expect("CRL").der().to_vec();
    Crl::from_der(&der).expect("CRL parses")
}

fn status_of(ca: &Ca, cert: &Certificate, crls: &[&Crl]) -> Status {
    let trust = TrustStore::new(vec![Certificate::clone(&ca.cert)], Vec::new());
    let (cache, budget) = (Cache::default(), Budget::default());
    let ctx = Context::new(&[], &trust, crls, AT, &cache, &budget);
    status(cert, &[Arc::clone(&ca.cert)], &ctx)
}

#[test]
fn a_crl_for_another_distribution_point_does_not_cover_the_certificate() {
    let ca = ca();
    let ee = issue(&ca, 5, false, &["http://crl.example/a.crl"]);
    let other = crl(&ca, &[], Some(("http://crl.example/b.crl", None)));
    let own = crl(&ca, &[], Some(("http://crl.example/a.crl", None)));
    assert!(
        matches!(status_of(&ca, &ee, &[&other]), Status::Unknown(w) if w.contains("names differ"))
    );
    assert_eq!(status_of(&ca, &ee, &[&other, &own]), Status::Good);
}

#[test]
fn a_crl_with_a_distribution_point_does_not_cover_a_certificate_without_one() {
    let ca = ca();
    let ee = issue(&ca, 5, false, &[]);
    let partial = crl(&ca, &[], Some(("http://crl.example/a.crl", None)));
    assert!(matches!(
        status_of(&ca, &ee, &[&partial]),
        Status::Unknown(_)
    ));
}

#[test]
fn only_user_and_only_ca_crls_cover_only_their_kind() {
    let ca = ca();
    let uri = "http://crl.example/a.crl";
    let (ee, sub) = (issue(&ca, 5, false, &[uri]), issue(&ca, 6, true, &[uri]));
    let users = crl(&ca, &[], Some((uri, Some(CrlScope::UserCertsOnly))));
    let cas = crl(&ca, &[], Some((uri, Some(CrlScope::CaCertsOnly))));
    assert_eq!(status_of(&ca, &ee, &[&users]), Status::Good);
    assert!(
        matches!(status_of(&ca, &sub, &[&users]), Status::Unknown(w) if w.contains("end-entity"))
    );
    assert_eq!(status_of(&ca, &sub, &[&cas]), Status::Good);
    assert!(matches!(status_of(&ca, &ee, &[&cas]), Status::Unknown(w) if w.contains("only CA")));
}

#[test]
fn a_listed_certificate_is_revoked_and_a_held_one_too() {
    let ca = ca();
    let (ee, held) = (issue(&ca, 5, false, &[]), issue(&ca, 6, false, &[]));
    let list = crl(
        &ca,
        &[
            (5, RevocationReason::KeyCompromise),
            (6, RevocationReason::CertificateHold),
        ],
        None,
    );
    assert!(matches!(status_of(&ca, &ee, &[&list]), Status::Revoked(_)));
    assert!(matches!(
        status_of(&ca, &held, &[&list]),
        Status::Revoked(_)
    ));
    let entry = list
        .lookup(&ca.cert.subject_raw, &held.serial)
        .expect("listed");
    assert_eq!(entry.reason, Some(CERTIFICATE_HOLD));
}

#[test]
fn the_newest_crl_decides_whatever_the_order() {
    let ca = ca();
    let (held, revoked) = (issue(&ca, 6, false, &[]), issue(&ca, 7, false, &[]));
    // January: 6 on hold, 7 good. June: 6 released, 7 revoked.
    let january = crl(&ca, &[(6, RevocationReason::CertificateHold)], None);
    let june = crl_of(
        &ca,
        &[(7, RevocationReason::KeyCompromise)],
        None,
        datetime!(2023-06-01 0:00 UTC),
    );
    for crls in [[&january, &june], [&june, &january]] {
        assert_eq!(status_of(&ca, &held, &crls), Status::Good);
        assert!(matches!(
            status_of(&ca, &revoked, &crls),
            Status::Revoked(_)
        ));
    }
}

#[test]
fn a_crl_signed_by_a_key_without_a_path_is_not_used() {
    let (ca, impostor) = (ca(), ca());
    let ee = issue(&ca, 5, false, &[]);
    // Same name, other key: no certificate of the CA verifies its signature.
    let forged = crl(&impostor, &[], None);
    assert!(
        matches!(status_of(&ca, &ee, &[&forged]), Status::Unknown(w) if w.contains("signature"))
    );
}

fn pkits_crl(name: &str) -> Crl {
    let path = format!("{}/tests/pkits/crls/{name}.crl", env!("CARGO_MANIFEST_DIR"));
    Crl::from_der(&std::fs::read(&path).expect("PKITS CRL")).expect("parses")
}

#[test]
fn a_delta_overrides_its_base_and_remove_from_crl_unlists() {
    // PKITS deltaCRL CA1: the base lists 02 (keyCompromise), 04 and 05 (certificateHold); the
    // delta lists 03 (keyCompromise), 04 and 06 (removeFromCRL), 05 (keyCompromise).
    let base = pkits_crl("deltaCRLCA1CRL");
    let d = pkits_crl("deltaCRLCA1deltaCRL");
    assert!(
        d.delta_base
            .as_ref()
            .is_some_and(|b| base.number.as_ref() >= Some(b))
    );
    assert!(base.delta_base.is_none() && !base.freshest.is_empty());
    let issuer = base.issuer_raw.clone();
    let at = |serial: u8, delta| delta::lookup(&base, delta, &issuer, &[serial]).map(|e| e.reason);
    assert_eq!(at(2, Some(&d)), Some(Some(1)));
    assert_eq!(at(3, Some(&d)), Some(Some(1)));
    assert_eq!(at(3, None), None);
    assert_eq!(at(4, None), Some(Some(CERTIFICATE_HOLD)));
    assert_eq!(at(4, Some(&d)), None);
    assert_eq!(at(5, Some(&d)), Some(Some(1)));
    assert_eq!(at(6, Some(&d)), None);
    assert_eq!(at(1, Some(&d)), None);
}

#[test]
fn critical_extensions_not_processed_make_a_crl_unusable() {
    assert!(pkits_crl("UnknownCRLExtensionCACRL").unusable.is_some());
    assert!(
        pkits_crl("UnknownCRLEntryExtensionCACRL")
            .unusable
            .is_some()
    );
    assert!(pkits_crl("GoodCACRL").unusable.is_none());
    assert!(
        pkits_crl("onlySomeReasonsCA1compromiseCRL")
            .unusable
            .is_none()
    );
}

#[test]
fn reason_flags_read_bit_zero_first() {
    assert_eq!(scope::reason_bits(&[0x05, 0x60]).ok(), Some(0x0006));
    assert_eq!(scope::reason_bits(&[0x07, 0x9F, 0x80]).ok(), Some(0x01F9));
}

#[test]
fn a_relative_name_is_appended_to_the_issuer() {
    let c_us = [
        0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x55, 0x53,
    ];
    let cn_crl = [
        0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x03, 0x43, 0x52, 0x4c,
    ];
    let mut full = vec![0xA4, 0x1d, 0x30, 0x1b];
    full.extend_from_slice(c_us.get(2..).unwrap_or_default());
    full.extend_from_slice(&[0x31, 0x0c]);
    full.extend_from_slice(&cn_crl);
    let resolved = scope::resolve(&DpName::Relative(cn_crl.to_vec()), &c_us);
    assert_eq!(resolved, vec![full.clone()]);
    assert!(scope::any_same(&resolved, &[full]));
}

#[test]
fn distribution_point_extensions_are_bounded() {
    let mut many = vec![0x30, 34];
    many.extend([0x30, 0x00].repeat(17));
    assert!(matches!(
        scope::parse_points(&many),
        Err(scope::ScopeError::TooMany(_))
    ));
    let mut sixteen = vec![0x30, 32];
    sixteen.extend([0x30, 0x00].repeat(16));
    assert_eq!(scope::parse_points(&sixteen).map(|p| p.len()), Ok(16));
    assert!(scope::parse_points(&[0x30, 0x05, 0x30]).is_err());
    let idp = scope::parse_idp(&[0x30, 0x03, 0x81, 0x01, 0xFF]).expect("IDP");
    assert!(idp.only_user && !idp.only_ca && !idp.indirect);
}
