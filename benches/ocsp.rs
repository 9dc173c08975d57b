//! `cargo bench --bench ocsp`: verification with a cached OCSP answer handed in (no CRL)
//! against CRL-only verification (an empty CRL by the same CA) of the same P-256 signature,
//! in alternating slices (goal: within 10 %); then a cold OCSP look-up against a live
//! `openssl ocsp -port` on loopback, and a cached one, per certificate.
//!
//! The PKI is the OCSP tests' own (`tests/common/ocsp.rs`, made with the OpenSSL command line
//! in a temporary directory), so the bench measures what the tests check.

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../tests/common/pki.rs"]
mod pki;

#[allow(dead_code)]
#[path = "../tests/common/ocsp.rs"]
mod ocsp;

use ocsp::{OcspPki, Responder, free_port};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamga::fetch::ocsp::{Fetcher, Nonce, Settings};
use tamga::verify::certificate::Certificate;
use tamga::verify::ocsp::{Response, Unresolved, Window};
use tamga::verify::{Evidence, Policy, RevocationPolicy, Status, Verifier};

fn main() {
    let pki = OcspPki::new(None);
    let dir = pki.path();
    // The same 4 KiB document as the verify bench; the leaf the index says is good.
    std::fs::write(dir.join("doc.txt"), vec![b'x'; 4096]).unwrap();
    let sig = pki.sign("good");
    let ocsp_trust = dir.join("ocsp-trust");
    std::fs::create_dir(&ocsp_trust).unwrap();
    std::fs::copy(pki.trust().join("ca.pem"), ocsp_trust.join("ca.pem")).unwrap();
    pki.crl(&[]);
    let answer = pki.respond("good", "responder", 1);
    let policy = Policy {
        revocation: RevocationPolicy::Require,
        ..Policy::default()
    };
    let crl_only = Verifier::new(
        tamga::trustdir::load(&[pki.trust()]).unwrap(),
        policy.clone(),
    );
    let with_ocsp = Verifier::new(
        tamga::trustdir::load(std::slice::from_ref(&ocsp_trust)).unwrap(),
        policy,
    );
    let resp = vec![Arc::new(Response::from_der(&answer).unwrap())];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let evidence = Evidence {
        ocsp: &resp,
        ocsp_window: Window::default(),
    };
    assert_eq!(crl_only.verify(&sig, None, now).status, Status::Accepted);
    assert_eq!(
        with_ocsp.verify_with(&sig, None, now, evidence).status,
        Status::Accepted
    );
    assert_eq!(with_ocsp.verify(&sig, None, now).status, Status::Rejected);
    let secs = std::env::args()
        .filter_map(|a| a.parse::<f64>().ok())
        .next()
        .unwrap_or(6.0);
    let (c, o) = support::rates(
        || {
            assert!(
                crl_only
                    .verify(std::hint::black_box(&sig), None, now)
                    .status
                    == Status::Accepted
            )
        },
        || {
            assert!(
                with_ocsp
                    .verify_with(std::hint::black_box(&sig), None, now, evidence)
                    .status
                    == Status::Accepted
            )
        },
        Duration::from_secs_f64(secs),
    );
    println!(
        "P-256, 4 KiB: CRL-only {c:.0}/s, cached OCSP answer {o:.0}/s, ratio {:.3}",
        o / c
    );

    lookups(&pki, &ocsp_trust, now);
}

/// A cold look-up against a live `openssl ocsp` on loopback, then one from the cache.
fn lookups(pki: &OcspPki, ocsp_trust: &std::path::Path, now: i64) {
    let responder = (0..20)
        .find_map(|_| Responder::start(pki, free_port(), "responder", &["-ndays", "1"]))
        .expect("openssl ocsp did not start listening");
    let url = responder.url.clone();
    let unresolved = Unresolved {
        certificate: Arc::new(Certificate::from_der(&pki.der("good")).unwrap()),
        issuer: Arc::new(Certificate::from_der(&pki.der("ca")).unwrap()),
    };
    let settings = |cache| Settings {
        responders: vec![(unresolved.issuer.subject.clone(), url.clone())],
        nonce: Nonce::Send,
        cache_entries: cache,
        ..Settings::default()
    };
    let trust = tamga::trustdir::load(&[ocsp_trust.to_path_buf()]).unwrap();
    // Wait until it answers (a connection probe would stall its one-at-a-time loop).
    let cold = Fetcher::new(settings(0), &trust);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cold.fetch(&unresolved, now).is_err() {
        assert!(Instant::now() < deadline, "openssl ocsp did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        cold.fetch(&unresolved, now).unwrap();
    }
    let per_cold = start.elapsed() / n;
    let warm = Fetcher::new(settings(100), &trust);
    warm.fetch(&unresolved, now).unwrap();
    let start = Instant::now();
    for _ in 0..10_000 {
        warm.fetch(&unresolved, now).unwrap();
    }
    let per_warm = start.elapsed() / 10_000;
    println!(
        "look-up per certificate: cold (request, loopback round trip, verify) {per_cold:?}, cached {per_warm:?}"
    );
    drop(responder);
}
