//! The BER work budget and the CMS collection limits, reached from small inputs: the input
//! is a recipe that repeats a unit many times inside a real detached signature (see
//! `benches/support/hostile_cms.rs`), as nested BER content or as the carried certificates,
//! so that floods, deep nesting and tens of thousands of indefinite lengths come out of a few
//! bytes. Whatever comes out must parse within the limits or be refused, and the two ways of
//! reading the content (joined, or hashed segment by segment) must agree.
#![no_main]

#[path = "../../benches/support/hostile_cms.rs"]
mod hostile_cms;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use tamga::verify::algorithms::HashAlg;
use tamga::verify::cms::{self, MAX_CARRIED_BYTES, MAX_CERTS};
use tamga::verify::{Policy, TrustStore, Verifier};

const DETACHED: &[u8] = include_bytes!("../../tests/fixtures/sig/rsa-detached.der");

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let root = include_bytes!("../../tests/fixtures/trust/root.pem");
        let ders = tamga::trustdir::pem_or_der(root, "CERTIFICATE").unwrap_or_default();
        let trust = TrustStore::from_der(&ders, &[] as &[&[u8]]).unwrap_or_default();
        Verifier::new(trust, Policy::default())
    })
}

/// `depth` × `open`, then `unit` `reps` times, then `depth` × `00 00`.
fn expand(open: &[u8], depth: usize, unit: &[u8], reps: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(depth * 4 + unit.len() * reps);
    for _ in 0..depth {
        v.extend_from_slice(open);
    }
    for _ in 0..reps {
        v.extend_from_slice(unit);
    }
    for _ in 0..depth {
        v.extend_from_slice(&[0, 0]);
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let [kind, depth, hi, lo, unit @ ..] = data else {
        return;
    };
    if unit.is_empty() || unit.len() > 96 {
        return;
    }
    // Up to 131 070 repetitions: enough to pass MAX_INDEFINITE (65 536) with a 4-byte unit,
    // MAX_CERTS with any, and MAX_CARRIED_BYTES (8 MiB) with a 64-byte one.
    let reps = usize::from(u16::from_be_bytes([*hi, *lo])) * 2;
    let depth = usize::from(*depth % 64);
    let body = match kind % 3 {
        0 => hostile_cms::assemble(
            DETACHED,
            Some(&expand(&[0x24, 0x80], depth, unit, reps)),
            None,
        ),
        1 => hostile_cms::assemble(DETACHED, None, Some(&expand(&[0xA0, 0x80], 1, unit, reps))),
        _ => {
            // Nested content inside, carried flood around: both limits in one body.
            let c = expand(&[0xA0, 0x80], 1, unit, reps / 2);
            hostile_cms::assemble(
                DETACHED,
                Some(&expand(&[0x24, 0x80], depth, unit, 1)),
                Some(&c),
            )
        }
    };
    let joined = cms::parse(&body);
    let lazy = cms::parse_lazy(&body);
    assert_eq!(joined.is_ok(), lazy.is_ok(), "the two parses disagree");
    if let (Ok(j), Ok(l)) = (&joined, &lazy) {
        assert!(j.certificates.len() <= MAX_CERTS && j.crls.len() <= MAX_CERTS);
        let carried: usize = j.certificates.iter().chain(&j.crls).map(|c| c.len()).sum();
        assert!(carried <= MAX_CARRIED_BYTES, "carried {carried} bytes");
        if let (Some(content), Some(e)) = (&j.content, &l.econtent) {
            let d = e
                .digests(&[HashAlg::Sha256])
                .expect("digests of parsed content");
            assert_eq!(d.len, content.len() as u64);
            assert_eq!(
                d.get(HashAlg::Sha256),
                Some(Sha256::digest(content).as_slice())
            );
        }
    }
    let _ = verifier().verify(&body, None, 1_780_272_000);
});
