//! Synthetic filings for the archive benches: realistic accepted entries (one small document,
//! one signer) appended through the archive's own transaction, without signatures to verify,
//! so that 10^6 of them fill in minutes; and the latency and plan helpers the benches share.
#![allow(dead_code)]

use std::time::Instant;

/// The reception time of every synthetic filing (2026-06-01).
pub const AT: i64 = 1_780_272_000;

/// Files synthetic documents `from..to` (each its own small blob) in batches of 64.
pub fn fill(a: &tamga::archive::Archive, from: u64, to: u64) {
    let mut i = from;
    while i < to {
        let k = 64.min(to - i);
        a.append(|txn| {
            for j in i..i + k {
                let blob = tamga::archive::blobs::prepare(&content(j)).unwrap();
                txn.put_blob(blob)?;
                // Registered as the pipeline does (numbers 1, 2, … in order: `accepted`'s).
                let n = txn.next_registration("01-05")?;
                txn.register(&format!("01-05/{n}"));
                txn.push(accepted(j), AT);
            }
            Ok(())
        })
        .unwrap();
        i += k;
    }
}

/// The bytes of synthetic document `i`.
pub fn content(i: u64) -> Vec<u8> {
    format!("document {i}").into_bytes()
}

/// A realistic accepted entry's event (one file, one signer): about 700 bytes encoded.
pub fn accepted(i: u64) -> tamga::archive::log::Event {
    use sha2::Digest;
    use tamga::archive::log::{Event, FileRef, SignerSummary};
    let hex = |x: u64| format!("{x:016x}").repeat(4);
    let sha = tamga::verify::certificate::hex(&sha2::Sha256::digest(content(i)));
    Event::Accepted {
        receipt_id: hex(i),
        case: "01-05".into(),
        registration: format!("01-05/{}", i + 1),
        registration_date: "2026-06-01".into(),
        files: vec![FileRef {
            role: "signature".into(),
            sha256: sha,
            size: content(i).len() as u64,
        }],
        signers: vec![SignerSummary {
            status: "valid".into(),
            subject: Some("CN=ТЕСТОВ ТЕСТ,SURNAME=ТЕСТОВ,SERIALNUMBER=IIN123456789011,C=KZ".into()),
            iin: Some("123456789011".into()),
            bin: None,
            certificate_sha256: Some(hex(7)),
            algorithm: Some("rsa-pkcs1-sha256".into()),
        }],
        sender_ref: Some(format!("ref-{i}")),
        evidence: Vec::new(),
    }
}

/// (p50, p99) in milliseconds of `runs` calls of `f(k)`.
pub fn percentiles(runs: u64, mut f: impl FnMut(u64)) -> (f64, f64) {
    let mut t: Vec<f64> = (0..runs)
        .map(|k| {
            let start = Instant::now();
            f(k);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

/// One retention plan at `at`, checked to find the filled case.
pub fn retention_plan(a: &tamga::archive::Archive, policy: &tamga::policy::ArchivePolicy, at: i64) {
    let plan = tamga::retention::plan(a, policy, at).unwrap();
    assert!(plan.iter().any(|c| c.documents > 0));
}

/// Submits every signature of `batch` (attached, accepted) to `case` through the whole
/// pipeline from `threads` threads; returns accepted documents per second.
pub fn submit_all(
    ingest: &tamga::ingest::Ingest,
    batch: &[Vec<u8>],
    case: &str,
    threads: usize,
) -> f64 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(sig) = batch.get(i) else { return };
                    let out = ingest
                        .submit(&tamga::ingest::Submission {
                            case,
                            signature: sig,
                            content: None,
                            sender_ref: None,
                            received_at: AT,
                            submitter: None,
                        })
                        .unwrap();
                    assert_eq!(
                        out.status,
                        tamga::verify::Status::Accepted,
                        "reasons {:?}, replay {}",
                        out.reasons,
                        out.replay
                    );
                }
            });
        }
    });
    batch.len() as f64 / start.elapsed().as_secs_f64()
}
