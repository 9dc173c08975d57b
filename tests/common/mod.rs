//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tamga::verify::{Policy, Report, Verifier};

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shared corpus of real Kalkan-made signatures (beside the clone, as in CI).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/nca-kz-test")
}

/// The validation time every fixture is made for: 2026-06-01T00:00:00Z.
pub const AT: i64 = 1_780_272_000;

/// Unix time of an RFC 3339 string.
pub fn at(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// A verifier over a trust directory.
pub fn verifier(trust: &Path, policy: Policy) -> Verifier {
    Verifier::new(
        tamga::trustdir::load(&[trust.to_path_buf()]).unwrap(),
        policy,
    )
}

/// Verifies a fixture signature (with optional content file) under `policy`.
pub fn verify_fixture(name: &str, content: Option<&str>, policy: Policy) -> Report {
    let sig = std::fs::read(fixtures().join("sig").join(name)).unwrap();
    let content = content.map(|c| std::fs::read(fixtures().join("sig").join(c)).unwrap());
    verifier(&fixtures().join("trust"), policy).verify(&sig, content.as_deref(), AT)
}

/// Reason codes of a report, as strings.
pub fn codes(r: &Report) -> Vec<String> {
    r.codes().iter().map(|c| c.code().to_owned()).collect()
}
