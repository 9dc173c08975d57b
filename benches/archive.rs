//! `cargo bench --bench archive`: imports per second through the library pipeline (4 KiB
//! RSA-2048 attached documents, durable, group commit) at several concurrencies over both
//! embedded stores, and the throughput of a full audit against `sha256sum` over the same
//! bytes, in the same run.
//!
//! Documents are signed beforehand with the OpenSSL command line and the fixture PKI.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;
use support::{noise, paths, sign_all};
use tamga::ingest::Submission;
use tamga::verify::Policy;

const AT: i64 = 1_780_272_000;

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(600);
    let tmp = tempfile::tempdir().unwrap();
    let docs_dir = tmp.path().join("docs");
    eprintln!("signing {n} documents with openssl…");
    let sigs: Arc<Vec<Vec<u8>>> = Arc::new(support::signed_documents(&docs_dir, n));

    println!("imports (4 KiB RSA-2048 attached, durable)");
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>12}",
        "store", "concurrency", "docs/s", "syncs", "docs/sync"
    );
    for (store, conc) in ["sled", "journal"]
        .into_iter()
        .flat_map(|s| [1usize, 16, 64].map(|c| (s, c)))
    {
        let data = tmp.path().join(format!("archive-{store}-{conc}"));
        let mut p = paths(&data);
        p.store = Some(store.parse().unwrap());
        let ingest = Arc::new(tamga::setup::open(&p, Policy::default()).unwrap());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let threads: Vec<_> = (0..conc)
            .map(|_| {
                let (ingest, sigs, next) = (ingest.clone(), sigs.clone(), next.clone());
                std::thread::spawn(move || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(sig) = sigs.get(i) else { return };
                        let out = ingest
                            .submit(&Submission {
                                case: "01-05",
                                signature: sig,
                                content: None,
                                sender_ref: None,
                                received_at: AT,
                                submitter: None,
                            })
                            .unwrap();
                        assert_eq!(out.status, tamga::verify::Status::Accepted);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let syncs = ingest.archive.syncs();
        assert_eq!(ingest.archive.size(), n as u64, "every document filed");
        println!(
            "{store:>8} {conc:>12} {:>10.0} {syncs:>10} {:>12.1}",
            n as f64 / secs,
            n as f64 / syncs as f64
        );
    }

    // Full audit against sha256sum over the same bytes.
    let big_n = 24;
    let mut jobs = Vec::new();
    for i in 0..big_n {
        let doc = docs_dir.join(format!("big{i}.bin"));
        std::fs::write(&doc, noise(1000 + i as u64, 4 << 20, i % 2 == 0)).unwrap();
        jobs.push((doc, docs_dir.join(format!("big{i}.p7s")), false));
    }
    sign_all(jobs);
    let files: Vec<_> = (0..big_n)
        .flat_map(|i| {
            [
                docs_dir.join(format!("big{i}.bin")),
                docs_dir.join(format!("big{i}.p7s")),
            ]
        })
        .collect();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "\nfull audit over {mb:.0} MB ({big_n} documents of 4 MiB, half text, half random, plus signatures)"
    );
    let mut audits: Vec<(&str, f64)> = Vec::new();
    for store in ["sled", "journal"] {
        let mut p = paths(&tmp.path().join(format!("archive-audit-{store}")));
        p.store = Some(store.parse().unwrap());
        let ingest = tamga::setup::open(&p, Policy::default()).unwrap();
        for pair in files.chunks(2) {
            let (d, s) = (
                std::fs::read(&pair[0]).unwrap(),
                std::fs::read(&pair[1]).unwrap(),
            );
            ingest
                .submit(&Submission {
                    case: "01-05",
                    signature: &s,
                    content: Some(tamga::ingest::Payload::Bytes(&d)),
                    sender_ref: None,
                    received_at: AT,
                    submitter: None,
                })
                .unwrap();
        }
        let start = Instant::now();
        let report = tamga::archive::audit::verify(&ingest.archive, true, &mut |_, _| {}).unwrap();
        let audit = start.elapsed().as_secs_f64();
        assert_eq!(report.bytes, bytes);
        audits.push((store, audit));
    }
    let start = Instant::now();
    let st = std::process::Command::new("sha256sum")
        .args(&files)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let sum = start.elapsed().as_secs_f64();
    for (store, audit) in audits {
        println!(
            "{:>24} {:>10.0} MB/s   ratio to sha256sum {:.2}",
            format!("tamga audit ({store})"),
            mb / audit,
            sum / audit
        );
    }
    println!("{:>24} {:>10.0} MB/s", "sha256sum", mb / sum);
}
