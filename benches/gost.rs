//! `cargo bench --bench gost [SECONDS]`: GOST verifications per second on one core, tamga
//! against OpenSSL with Debian's GOST engine, on the same fresh signatures in the same run.
//!
//! Needs what the tests need (openssl, libengine-gost-openssl) plus a C compiler and
//! libssl-dev for the reference program `benches/gost/openssl_verify.c`. Both sides verify the
//! CMS signer's signature over its signed attributes (hash included); tamga's number is the
//! algorithm alone, not the whole CMS report. Goal: ≥ 2,000/s per core for 256-bit.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tamga::verify::algorithms::{HashAlg, Scheme};
use tamga::verify::certificate::Certificate;
use tamga::verify::cms;

/// Signers made by tests/gost/make.sh, and the engine's name for their digest.
const CASES: &[(&str, &str)] = &[
    ("2012-256-tc26a", "md_gost12_256"),
    ("2012-256-cpb", "md_gost12_256"),
    ("2012-512-a", "md_gost12_512"),
    ("2012-512-c", "md_gost12_512"),
    ("2001-cpa", "md_gost94"),
];

/// Makes the GOST fixtures in `work` and compiles the OpenSSL reference; its path.
fn prepare(work: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let made = Command::new("bash")
        .arg(root.join("tests/gost/make.sh"))
        .arg(work)
        .status()
        .expect("bash");
    assert!(made.success(), "tests/gost/make.sh failed");
    let reference = work.join("openssl_verify");
    let cc = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&reference)
        .arg(root.join("benches/gost/openssl_verify.c"))
        .arg("-lcrypto")
        .status()
        .expect("cc");
    assert!(
        cc.success(),
        "compiling the reference needs cc and libssl-dev"
    );
    reference
}

/// Verifications per second by OpenSSL with the GOST engine, over `secs` seconds, of the
/// message and signature written in `work` for signer `name` (digest `md`).
fn reference_rate(reference: &Path, work: &Path, name: &str, md: &str, secs: f64) -> f64 {
    let out = Command::new(reference)
        .env("OPENSSL_CONF", work.join("engine.cnf"))
        .arg(work.join(format!("{name}.pem")))
        .arg(work.join("msg.der"))
        .arg(work.join("sig.bin"))
        .arg(md)
        .arg(format!("{secs}"))
        .output()
        .expect("reference runs");
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .expect("a rate")
}

fn main() {
    let secs = std::env::args()
        .filter_map(|a| a.parse::<f64>().ok())
        .next()
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path();
    let reference = prepare(work);
    println!(
        "{:<16} {:>14} {:>16} {:>7}",
        "signer", "tamga /s", "openssl+gost /s", "ratio"
    );
    for &(name, md) in CASES {
        let file = std::fs::read(work.join(format!("{name}.attached.p7s"))).expect("signature");
        let sd = cms::parse(&file).expect("CMS");
        let si = sd.signers.first().expect("one signer");
        let cert = Certificate::from_der(sd.certificates.first().expect("certificate"))
            .expect("certificate parses");
        let digest = HashAlg::from_oid(&si.digest_algorithm.oid).expect("digest");
        let scheme = Scheme::for_signer(&si.signature_algorithm, digest).expect("scheme");
        let message = si
            .signed_attrs
            .as_ref()
            .expect("signed attributes")
            .signed_bytes();
        let signature = si.signature.to_vec();
        scheme
            .verify(&cert.public_key, &message, &signature)
            .expect("tamga verifies the engine's signature");
        std::fs::write(work.join("msg.der"), &message).expect("write");
        std::fs::write(work.join("sig.bin"), &signature).expect("write");

        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_secs_f64(secs / 3.0) {
                for _ in 0..10 {
                    let ok = scheme
                        .verify(&cert.public_key, &message, &signature)
                        .is_ok();
                    n += u64::from(std::hint::black_box(ok));
                }
            }
            ours.push(n as f64 / start.elapsed().as_secs_f64());
            theirs.push(reference_rate(&reference, work, name, md, secs / 3.0));
        }
        let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let (a, b) = (best(&ours), best(&theirs));
        println!("{name:<16} {a:>14.0} {b:>16.0} {:>7.2}", a / b);
    }
}
