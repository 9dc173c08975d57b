//! The four real responses of the Kazakh national PKI's test responder (RSA, GOST 34.310-2004
//! and GOST 34.10-2015 signatures; good, revoked superseded, revoked on hold), each checked
//! against the CA that delegated its responder.

use super::*;
use crate::verify::asn1;

fn corpus(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/nca-kz-test")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ca(path: &str) -> Certificate {
    let ders = crate::trustdir::pem_or_der(&corpus(path), "CERTIFICATE").unwrap();
    Certificate::from_der(&ders[0]).unwrap()
}

struct Case {
    file: &'static str,
    ca: &'static str,
    status: Status,
}

const RSA_CA: &str = "ca/nca_rsa_test.crt";
const GOST_CA: &str = "ca/nca_gost_test.crt";
const GOST2015_CA: &str = "ca/nca_gost2015_test.cer";
/// 2022-07-27T10:25:30Z, 2022-01-18T06:30:55Z: the revocation times the responses state.
const HOLD_2015: i64 = 1_658_917_530;
const SUPERSEDED_2004: i64 = 1_642_487_455;

fn cases() -> [Case; 4] {
    [
        Case {
            file: "ocsp/ocsp_response_individual_sign_2004.bin",
            ca: RSA_CA,
            status: Status::Good,
        },
        Case {
            file: "ocsp/ocsp_response_ceo_sign_2004_revoked.bin",
            ca: GOST_CA,
            status: Status::Revoked {
                time: SUPERSEDED_2004,
                reason: Some(4),
            },
        },
        Case {
            file: "ocsp/ocsp_response_ceo_2015_revoked.bin",
            ca: GOST2015_CA,
            status: Status::Revoked {
                time: HOLD_2015,
                reason: Some(6),
            },
        },
        Case {
            file: "ocsp/ocsp_response_individual_2015.bin",
            ca: GOST2015_CA,
            status: Status::Revoked {
                time: 0,
                reason: Some(6),
            },
        },
    ]
}

fn answer(resp: &Response, ca: &Certificate, at: i64) -> Result<Answer, OcspError> {
    let serial = resp.singles[0].serial.clone();
    resp.answer_for(
        ca,
        &serial,
        at,
        Window::default(),
        Expect::default(),
        &Cache::default(),
    )
}

#[test]
fn the_nca_responses_verify_against_the_ca_that_delegated_their_responder() {
    for case in cases() {
        let resp = Response::from_der(&corpus(case.file)).unwrap();
        let at = resp.produced_at + 60;
        let a = answer(&resp, &ca(case.ca), at).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(a.status, case.status, "{}", case.file);
        match a.signer {
            Signer::Delegated { nocheck, .. } => assert!(nocheck, "{}", case.file),
            Signer::Issuer => panic!("{}: the NCA responder is delegated", case.file),
        }
    }
}

#[test]
fn another_ca_or_serial_is_not_covered() {
    for case in cases() {
        let resp = Response::from_der(&corpus(case.file)).unwrap();
        let at = resp.produced_at + 60;
        let other = if case.ca == RSA_CA { GOST_CA } else { RSA_CA };
        assert_eq!(answer(&resp, &ca(other), at), Err(OcspError::NotCovered));
        let r = resp.answer_for(
            &ca(case.ca),
            &[1, 2, 3],
            at,
            Window::default(),
            Expect::default(),
            &Cache::default(),
        );
        assert_eq!(r, Err(OcspError::NotCovered));
    }
}

#[test]
fn an_answer_is_used_only_inside_its_window() {
    let case = &cases()[0];
    let resp = Response::from_der(&corpus(case.file)).unwrap();
    let ca = ca(case.ca);
    let w = Window::default();
    let this = resp.singles[0].this_update;
    assert!(answer(&resp, &ca, this - w.skew).is_ok());
    assert_eq!(
        answer(&resp, &ca, this - w.skew - 1),
        Err(OcspError::NotYetValid)
    );
    assert!(answer(&resp, &ca, this + w.max_age + w.skew).is_ok());
    assert_eq!(
        answer(&resp, &ca, this + w.max_age + w.skew + 1),
        Err(OcspError::Stale)
    );
    // Years later the responder's own certificate has expired as well.
    assert_eq!(
        answer(&resp, &ca, this + 3 * 365 * 86_400),
        Err(OcspError::ResponderExpired)
    );
}

#[test]
fn a_changed_byte_breaks_the_signature() {
    for case in cases() {
        let mut der = corpus(case.file);
        let resp = Response::from_der(&der).unwrap();
        let nonce = resp.nonce.clone().unwrap();
        // Flip the last byte of the nonce: inside the signed data, nothing else changes.
        let at = der.windows(nonce.len()).position(|w| w == nonce).unwrap() + nonce.len() - 1;
        der[at] ^= 1;
        let changed = Response::from_der(&der).unwrap();
        let t = changed.produced_at + 60;
        assert_eq!(
            answer(&changed, &ca(case.ca), t),
            Err(OcspError::BadSignature),
            "{}",
            case.file
        );
    }
}

#[test]
fn the_nonce_must_match_when_one_was_sent() {
    let case = &cases()[0];
    let resp = Response::from_der(&corpus(case.file)).unwrap();
    let ca = ca(case.ca);
    let serial = resp.singles[0].serial.clone();
    let at = resp.produced_at + 60;
    let sent = resp.nonce.clone().unwrap();
    let ask = |nonce: &[u8]| {
        resp.answer_for(
            &ca,
            &serial,
            at,
            Window::default(),
            Expect {
                nonce: Some(nonce),
                nonce_required: true,
            },
            &Cache::default(),
        )
    };
    assert!(ask(&sent).is_ok());
    assert_eq!(ask(b"another nonce"), Err(OcspError::Nonce));
}

#[test]
fn truncated_or_garbled_responses_are_errors_never_panics() {
    for case in cases() {
        let der = corpus(case.file);
        for cut in 0..der.len() {
            assert!(
                Response::from_der(&der[..cut]).is_err(),
                "{} cut at {cut}",
                case.file
            );
        }
        for i in 0..der.len() {
            let mut d = der.clone();
            d[i] ^= 0x80;
            let _ = Response::from_der(&d).map(|r| answer(&r, &ca(case.ca), r.produced_at));
        }
    }
}

#[test]
fn an_error_status_is_named() {
    // OCSPResponse { responseStatus tryLater(3) }
    let der = [0x30, 0x03, 0x0A, 0x01, 0x03];
    assert_eq!(
        Response::from_der(&der),
        Err(OcspError::Unsuccessful("tryLater"))
    );
    assert!(asn1::parse_single(&der).is_ok());
}

#[test]
fn two_answers_that_disagree_are_not_believed() {
    let case = &cases()[0];
    let mut resp = Response::from_der(&corpus(case.file)).unwrap();
    let mut other = resp.singles[0].clone();
    other.status = Status::Revoked {
        time: 0,
        reason: None,
    };
    resp.singles.push(other);
    let at = resp.produced_at + 60;
    assert_eq!(answer(&resp, &ca(case.ca), at), Err(OcspError::Conflicting));
    // The same answer twice is only repetition.
    let mut resp = Response::from_der(&corpus(case.file)).unwrap();
    resp.singles.push(resp.singles[0].clone());
    assert!(answer(&resp, &ca(case.ca), at).is_ok());
}
