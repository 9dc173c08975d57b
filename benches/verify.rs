//! `cargo bench --bench verify`: tamga's full verification of 4 KiB attached documents
//! (RSA-2048 and P-256, path to the fixture root with CRLs) against ring's raw verification of
//! the very same signatures over the same signed attributes, in the same run.
//!
//! Reports verifications per second and the ratio tamga / raw (goal ≥ 0.8). A last row
//! verifies signed XML (4 KiB, RSA-2048) beside `xmlsec1 --verify` per document.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use tamga::verify::cms;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, Status, Verifier};

const AT: i64 = 1_780_272_000; // 2026-06-01, the fixtures' validation time

/// The bench's command line: seconds per row (a number), `parts`, `ours`, and row names.
struct Args {
    /// How long each row runs.
    min: Duration,
    /// Time the stages of one verification instead of the rows.
    parts: bool,
    /// tamga's side alone (no raw ring, no ratio), so that a profile shows only it.
    ours_only: bool,
    /// Rows picked by name (`RSA`, `P-256`, `XML`), for profiling one at a time; empty: all.
    only: Vec<String>,
}

impl Args {
    fn parse() -> Args {
        let secs = std::env::args()
            .filter_map(|a| a.parse::<f64>().ok())
            .next()
            .unwrap_or(6.0);
        Args {
            min: Duration::from_secs_f64(secs),
            parts: std::env::args().any(|a| a == "parts"),
            ours_only: std::env::args().any(|a| a == "ours"),
            only: std::env::args()
                .skip(1)
                .filter(|a| a.parse::<f64>().is_err() && !a.starts_with('-') && a != "ours")
                .collect(),
        }
    }

    /// Whether the row called `name` runs.
    fn picks(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| name.contains(o.as_str()))
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let trust = tamga::trustdir::load(&[dir.join("trust")]).expect("fixture trust store");
    let policy = Policy {
        revocation: RevocationPolicy::Require,
        signers: SignerRule::All,
        ..Policy::default()
    };
    let verifier = Verifier::new(trust, policy);
    let args = Args::parse();
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
        if !args.picks(name) {
            continue;
        }
        let bytes = std::fs::read(dir.join("sig").join(file)).expect("fixture");
        assert_eq!(verifier.verify(&bytes, None, AT).status, Status::Accepted);
        let (msg, sig, key) = baseline(&bytes, alg);
        if args.parts {
            parts(&verifier, &bytes, &msg, &sig, &key);
        } else if args.ours_only {
            let rate = ours_rate(&verifier, &bytes, args.min);
            println!("{name:<10} {rate:>14.0}");
        } else {
            let (ours, raw) = support::rates(
                || {
                    black_box(verifier.verify(black_box(&bytes), None, AT));
                },
                || {
                    black_box(key.verify(black_box(&msg), black_box(&sig))).ok();
                },
                args.min,
            );
            println!("{name:<10} {ours:>14.0} {raw:>14.0} {:>7.2}", ours / raw);
        }
    }
    if args.picks("XML") {
        xml_row(&verifier, args.min);
    }
}

/// The raw baseline: ring over the same signed attributes with the same key (the signed
/// bytes, the signature value, the signer's key), checked to verify.
fn baseline(
    bytes: &[u8],
    alg: &'static dyn ring::signature::VerificationAlgorithm,
) -> (
    Vec<u8>,
    Vec<u8>,
    ring::signature::UnparsedPublicKey<Vec<u8>>,
) {
    let sd = cms::parse(bytes).expect("parse");
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
    (msg, sig, key)
}

/// tamga's verifications per second alone, in batches of 100 for at least `min`.
fn ours_rate(verifier: &Verifier, bytes: &[u8], min: Duration) -> f64 {
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < min {
        for _ in 0..100 {
            black_box(verifier.verify(black_box(bytes), None, AT));
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Each stage of a verification timed alone, in µs per call: what the README's breakdown
/// of a verification's time is measured with.
fn parts(
    verifier: &Verifier,
    bytes: &[u8],
    msg: &[u8],
    sig: &[u8],
    key: &ring::signature::UnparsedPublicKey<Vec<u8>>,
) {
    // Each stage alternates with raw ring (as the rows do), so that a busy machine shifts
    // both alike: the stage's cost is printed in µs and as a share of one raw verification.
    let raw = || {
        black_box(key.verify(black_box(msg), black_box(sig))).ok();
    };
    let time = |what: &str, f: &mut dyn FnMut()| {
        let (rate, raw_rate) = support::rates(f, raw, Duration::from_millis(1500));
        println!(
            "  {what:<28} {:>8.3} µs  {:>6.3} × raw ({:.3} µs)",
            1e6 / rate,
            raw_rate / rate,
            1e6 / raw_rate
        );
    };
    let sd = cms::parse_lazy(bytes).expect("parse");
    let content = sd
        .econtent
        .as_ref()
        .expect("attached")
        .join()
        .expect("content");
    time("whole verification", &mut || {
        black_box(verifier.verify(black_box(bytes), None, AT));
    });
    time("content SHA-256", &mut || {
        black_box(tamga::verify::algorithms::HashAlg::Sha256.digest(black_box(&content)));
    });
    time("raw ring + content SHA-256", &mut || {
        black_box(tamga::verify::algorithms::HashAlg::Sha256.digest(black_box(&content)));
        black_box(key.verify(black_box(msg), black_box(sig))).ok();
    });
    time("raw ring + CMS parse", &mut || {
        black_box(cms::parse_lazy(black_box(bytes))).ok();
        black_box(key.verify(black_box(msg), black_box(sig))).ok();
    });
    time("CMS parse (lazy)", &mut || {
        black_box(cms::parse_lazy(black_box(bytes))).ok();
    });
    let report = verifier.verify(bytes, None, AT);
    time("report clone + drop", &mut || {
        black_box(black_box(&report).clone());
    });
}

/// Signed XML, 4 KiB of content, RSA-2048 (tests/xml/bench-4k-rsa.xml): tamga's whole
/// verification beside `xmlsec1 --verify` per document (a process per document, as a
/// chancellery scripting xmlsec1 would run it; its start-up is most of its time).
fn xml_row(verifier: &Verifier, min: Duration) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xml/bench-4k-rsa.xml");
    let bytes = std::fs::read(&file).expect("bench XML");
    assert_eq!(verifier.verify(&bytes, None, AT).status, Status::Accepted);
    let xml_dir = file.parent().expect("tests/xml");
    let xmlsec = || {
        std::process::Command::new("xmlsec1")
            .arg("--verify")
            .arg("--trusted-pem")
            .arg(xml_dir.join("root.pem"))
            .arg("--untrusted-pem")
            .arg(xml_dir.join("int.pem"))
            .args(["--enabled-reference-uris", "empty"])
            .args(["--verification-time", "2026-06-01 00:00:00"])
            .arg(&file)
            .output()
            .map(|o| o.status.success())
    };
    if !matches!(xmlsec(), Ok(true)) {
        println!("XML RSA-2048: xmlsec1 missing or refusing; its column left out");
    }
    let (ours, theirs) = support::rates(
        || {
            black_box(verifier.verify(black_box(&bytes), None, AT));
        },
        || {
            black_box(xmlsec()).ok();
        },
        min,
    );
    println!(
        "{:<10} {ours:>14.0} {theirs:>14.0} {:>7.2}   (XML: second column is xmlsec1 --verify per document)",
        "XML RSA",
        ours / theirs
    );
}
