//! `cargo bench --bench verify`: tamga's full verification of 4 KiB attached documents
//! (RSA-2048 and P-256, path to the fixture root with CRLs) against ring's raw verification of
//! the very same signatures over the same signed attributes, in the same run.
//!
//! Reports verifications per second and the ratio tamga / raw (goal ≥ 0.8).

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use tamga::verify::cms;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, Status, Verifier};

const AT: i64 = 1_780_272_000; // 2026-06-01, the fixtures' validation time

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let trust = tamga::trustdir::load(&[dir.join("trust")]).expect("fixture trust store");
    let policy = Policy {
        revocation: RevocationPolicy::Require,
        signers: SignerRule::All,
        ..Policy::default()
    };
    let verifier = Verifier::new(trust, policy);
    let secs = std::env::args()
        .filter_map(|a| a.parse::<f64>().ok())
        .next()
        .unwrap_or(6.0);
    let min = Duration::from_secs_f64(secs);
    // Other arguments pick rows by name (`RSA`, `P-256`), for profiling one at a time.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<f64>().is_err() && !a.starts_with('-'))
        .collect();
    println!(
        "{:<10} {:>14} {:>14} {:>7}",
        "signature", "tamga /s", "raw ring /s", "ratio"
    );
    for (name, file, alg) in [
        (
            "RSA-2048",
            "rsa-attached.der",
            &ring::signature::RSA_PKCS1_2048_8192_SHA256
                as &dyn ring::signature::VerificationAlgorithm,
        ),
        (
            "P-256",
            "p256.der",
            &ring::signature::ECDSA_P256_SHA256_ASN1,
        ),
    ] {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let bytes = std::fs::read(dir.join("sig").join(file)).expect("fixture");
        assert_eq!(verifier.verify(&bytes, None, AT).status, Status::Accepted);
        // The raw baseline: ring over the same signed attributes with the same key.
        let sd = cms::parse(&bytes).expect("parse");
        let si = &sd.signers[0];
        let msg = si
            .signed_attrs
            .as_ref()
            .expect("signed attributes")
            .signed_bytes()
            .into_owned();
        let sig = si.signature.to_vec();
        let leaf = sd
            .certificates
            .iter()
            .map(|c| tamga::verify::certificate::Certificate::from_der(c).expect("cert"))
            .find(|c| c.subject.contains("ТЕСТОВ") || c.subject.contains("P-256"))
            .expect("signer certificate");
        let key = ring::signature::UnparsedPublicKey::new(alg, leaf.public_key.bits.clone());
        assert!(key.verify(&msg, &sig).is_ok());

        let (ours, raw) = support::rates(
            || {
                black_box(verifier.verify(black_box(&bytes), None, AT));
            },
            || {
                black_box(key.verify(black_box(&msg), black_box(&sig))).ok();
            },
            min,
        );
        println!("{name:<10} {ours:>14.0} {raw:>14.0} {:>7.2}", ours / raw);
    }
}
