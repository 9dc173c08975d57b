//! `cargo bench --bench crl`: a CRL of 100,000 entries (made here with rcgen: 20-byte serials,
//! a reason code on each, as national CAs issue them), loaded as the trust store loads one and
//! asked for serials, listed and not.
//!
//! Goals (issue 14): load ≤ 200 ms, a look-up ≤ 1 µs, the loaded CRL ≤ 20 MiB. The memory is
//! measured in a child process (the bench re-runs itself with `--child FILE`): its resident
//! size with the CRL loaded and the DER read for it dropped, less before, and its peak while
//! loading (`VmHWM`, reset once the DER is read).

#[path = "support/mod.rs"]
mod support;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use std::process::Command;
use std::time::Instant;
use tamga::verify::revocation::Crl;
use time::macros::datetime;

const ENTRIES: usize = 100_000;

/// A 20-byte serial for entry `i` (positive: the first octet's high bit is clear).
fn serial(i: usize) -> Vec<u8> {
    let mut s = [0u8; 20];
    s[0] = 0x3A;
    s[12..20].copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    s.to_vec()
}

fn make_crl() -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "CRL bench CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = params.self_signed(&key).expect("CA").der().to_vec();
    let issuer = rcgen::Issuer::new(params, key);
    let crl = CertificateRevocationListParams {
        this_update: datetime!(2026-01-01 0:00 UTC),
        next_update: datetime!(2026-01-02 0:00 UTC),
        crl_number: SerialNumber::from(1234u64),
        issuing_distribution_point: None,
        revoked_certs: (0..ENTRIES)
            .map(|i| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial(i)),
                revocation_time: datetime!(2025-06-01 0:00 UTC),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    (crl.signed_by(&issuer).expect("CRL").der().to_vec(), ca)
}

/// In the child: load the CRL from `file` twice, keeping both, and print in bytes what the
/// second kept (resident growth: the first load's temporaries are free for the second's, so the
/// growth is what a loaded CRL holds) and the peak growth of the first load over the DER.
fn child(file: &str) {
    let der = std::fs::read(file).expect("CRL file");
    let before = support::status_bytes("VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let first = Crl::from_der(&der).expect("CRL parses");
    let peak = support::status_bytes("VmHWM:");
    let between = support::status_bytes("VmRSS:");
    let second = Crl::from_der(&der).expect("CRL parses");
    let after = support::status_bytes("VmRSS:");
    assert_eq!(first.len() + second.len(), 2 * ENTRIES);
    println!(
        "{} {}",
        after.saturating_sub(between),
        peak.saturating_sub(before)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&args[i + 1]);
    }
    let (der, ca) = make_crl();
    let issuer = tamga::verify::certificate::Certificate::from_der(&ca).expect("CA");
    println!(
        "CRL of {ENTRIES} entries: {:.1} MiB DER",
        der.len() as f64 / 1048576.0
    );
    let mut loads = Vec::new();
    let mut crl = None;
    for _ in 0..7 {
        let t = Instant::now();
        let c = Crl::from_der(&der).expect("CRL parses");
        loads.push(t.elapsed().as_secs_f64() * 1000.0);
        crl = Some(c);
    }
    let crl = crl.expect("loaded");
    loads.sort_by(f64::total_cmp);
    println!(
        "load: median {:.1} ms, best {:.1} ms (goal ≤ 200 ms)",
        loads[3], loads[0]
    );
    let (listed, absent): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (
        (0..1000).map(|i| serial(i * 97)).collect(),
        (0..1000).map(|i| serial(ENTRIES + i)).collect(),
    );
    for (name, serials, expect) in [("listed", &listed, true), ("absent", &absent, false)] {
        let rounds = 1000;
        let t = Instant::now();
        let mut found = 0usize;
        for _ in 0..rounds {
            for s in serials.iter() {
                found += usize::from(
                    crl.lookup(&issuer.subject_raw, std::hint::black_box(s))
                        .is_some(),
                );
            }
        }
        let per = t.elapsed().as_secs_f64() * 1e9 / (rounds * serials.len()) as f64;
        assert_eq!(found == rounds * serials.len(), expect);
        println!("look-up, {name}: {per:.0} ns (goal ≤ 1,000 ns)");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("big.crl");
    std::fs::write(&file, &der).expect("write");
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--child", &file.to_string_lossy()])
        .output()
        .expect("child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|n| n.parse::<f64>().unwrap_or(0.0) / 1048576.0);
    let (held, peak) = (it.next().unwrap_or(0.0), it.next().unwrap_or(0.0));
    println!(
        "memory: {held:.1} MiB held by a loaded CRL (goal ≤ 20 MiB), {peak:.1} MiB peak while loading"
    );
}
