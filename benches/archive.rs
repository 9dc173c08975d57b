//! `cargo bench --bench archive`: imports per second through the library pipeline (4 KiB
//! RSA-2048 attached documents, durable, group commit) at several concurrencies over both
//! embedded stores, and the throughput of a full audit against `sha256sum` over the same
//! bytes, in the same run.
//!
//! Documents are signed beforehand with the OpenSSL command line and the fixture PKI.
//!
//! `cargo bench --bench archive -- proofs [N…]`: instead, inclusion and consistency proof
//! latency (in-process, from the stored tiles) at 10^4 and 10^5 entries (or the sizes given),
//! beside one full recompute from the entries as proofs were made before tiles.
//!
//! `cargo bench --bench archive -- checkpoints [N]`: instead, how an export or a backup finds
//! the signed checkpoints of a journal archive of N entries (default 10^5, a checkpoint every
//! 64): the space listed (every record's metadata read, as before) against each tree size asked
//! for, for all of them (an export) and for the last 1 % (an incremental backup).
//!
//! `cargo bench --bench archive -- plan [N]`: instead, the retention plan over N documents
//! (default 10^5, journal store) from the per-case index, beside the count the old way (every
//! entry of the case read), and filings' p50/p99 (durable, one at a time) alone, while plans
//! run in another thread (one a millisecond), and alone again.

#[path = "support/mod.rs"]
mod support;

#[path = "support/fill.rs"]
mod fill;

use fill::{AT, fill, percentiles, retention_plan, submit_all};
use std::sync::Arc;
use std::time::Instant;
use support::{noise, paths, sign_all};
use tamga::ingest::Submission;
use tamga::verify::Policy;

fn main() {
    if std::env::args().any(|a| a == "proofs") {
        return proof_latency();
    }
    if std::env::args().any(|a| a == "plan") {
        return plan_beside_filings();
    }
    if std::env::args().any(|a| a == "checkpoints") {
        return checkpoint_listing();
    }
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(600);
    let tmp = tempfile::tempdir().unwrap();
    let docs_dir = tmp.path().join("docs");
    eprintln!("signing {n} documents with openssl…");
    let sigs: Arc<Vec<Vec<u8>>> = Arc::new(support::signed_documents(&docs_dir, n));
    imports(tmp.path(), &sigs);
    audit_beside_sha256sum(tmp.path(), &docs_dir);
}

/// Imports per second at each concurrency over both embedded stores.
fn imports(tmp: &std::path::Path, sigs: &Arc<Vec<Vec<u8>>>) {
    let n = sigs.len();
    println!("imports (4 KiB RSA-2048 attached, durable)");
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>12}",
        "store", "concurrency", "docs/s", "syncs", "docs/sync"
    );
    for (store, conc) in ["sled", "journal"]
        .into_iter()
        .flat_map(|s| [1usize, 16, 64].map(|c| (s, c)))
    {
        let data = tmp.join(format!("archive-{store}-{conc}"));
        let mut p = paths(&data);
        p.store = Some(store.parse().unwrap());
        let ingest = Arc::new(tamga::setup::open(&p, Policy::default()).unwrap());
        let rate = submit_all(&ingest, sigs, "01-05", conc);
        let syncs = ingest.archive.syncs();
        assert_eq!(ingest.archive.size(), n as u64, "every document filed");
        println!(
            "{store:>8} {conc:>12} {:>10.0} {syncs:>10} {:>12.1}",
            rate,
            n as f64 / syncs as f64
        );
    }
}

/// Full audit over both stores against `sha256sum` over the same bytes.
fn audit_beside_sha256sum(tmp: &std::path::Path, docs_dir: &std::path::Path) {
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
    let audits: Vec<(&str, f64)> = ["sled", "journal"]
        .into_iter()
        .map(|store| (store, timed_audit(tmp, store, &files, bytes)))
        .collect();
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

/// Files `files` (content, signature pairs) into a fresh archive on `store`; the seconds a
/// full audit of it takes.
fn timed_audit(
    tmp: &std::path::Path,
    store: &str,
    files: &[std::path::PathBuf],
    bytes: u64,
) -> f64 {
    let mut p = paths(&tmp.join(format!("archive-audit-{store}")));
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
    audit
}

fn proof_latency() {
    use tamga::archive::proofs;
    let sizes: Vec<u64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let tmp = tempfile::tempdir().unwrap();
    println!("proof latency, journal store, in-process (ms; 200 proofs each, random positions)");
    println!(
        "{:>8} {:>14} {:>14} {:>14} {:>14} {:>12} {:>12} {:>10}",
        "entries",
        "incl p50",
        "incl p99",
        "cons p50",
        "cons p99",
        "old incl",
        "old cons",
        "tiles B/e"
    );
    for n in sizes {
        let mut p = paths(&tmp.path().join(format!("proofs-{n}")));
        p.store = Some("journal".parse().unwrap());
        let ingest = tamga::setup::open(&p, Policy::default()).unwrap();
        let a = &ingest.archive;
        fill(a, 0, n);
        a.make_durable(tamga::archive::Upto::size(n)).unwrap();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let (i50, i99) = percentiles(200, |k| {
            // Half at the current size (the right edge's partial tile), half at random sizes.
            let size = if k % 2 == 0 { n } else { 1 + rnd(n) };
            proofs::inclusion(a, rnd(size), Some(size)).unwrap();
        });
        let (c50, c99) = percentiles(200, |k| {
            let to = if k % 2 == 0 { n } else { 1 + rnd(n) };
            proofs::consistency(a, 1 + rnd(to), Some(to)).unwrap();
        });
        let (old_incl, old_cons) = proofs_before_tiles(a, n);
        let store = a.raw_store();
        let tiles: usize = store
            .keys(tamga::archive::store::Space::Tiles)
            .unwrap()
            .iter()
            .map(|k| {
                store
                    .get(tamga::archive::store::Space::Tiles, k)
                    .unwrap()
                    .unwrap()
                    .len()
                    + k.len()
            })
            .sum();
        println!(
            "{n:>8} {i50:>14.3} {i99:>14.3} {c50:>14.3} {c99:>14.3} {:>12.1} {:>12.1} {:>10.1}",
            old_incl * 1e3,
            old_cons * 1e3,
            tiles as f64 / n as f64
        );
    }
}

/// Seconds for one inclusion and one consistency proof as they were made before tiles: every
/// entry read and hashed per proof.
fn proofs_before_tiles(a: &tamga::archive::Archive, n: u64) -> (f64, f64) {
    use tamga::archive::merkle;
    let start = Instant::now();
    let leaves: Vec<merkle::Hash> = (0..n)
        .map(|i| merkle::leaf_hash(&a.entry_bytes(i).unwrap().unwrap()))
        .collect();
    let read = start.elapsed().as_secs_f64();
    let start = Instant::now();
    merkle::inclusion_proof(5, &leaves).unwrap();
    merkle::root(&leaves);
    let old_incl = read + start.elapsed().as_secs_f64();
    let start = Instant::now();
    merkle::consistency_proof(1000.min(n as usize), &leaves).unwrap();
    merkle::root(&leaves[..1000.min(n as usize)]);
    merkle::root(&leaves);
    (old_incl, read + start.elapsed().as_secs_f64())
}

/// Retention plans beside filings (see the module's documentation).
fn plan_beside_filings() {
    let n: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paths(&tmp.path().join("plan"));
    p.store = Some("journal".parse().unwrap());
    let ingest = tamga::setup::open(&p, Policy::default()).unwrap();
    let (a, policy) = (&ingest.archive, &ingest.policy);
    let start = Instant::now();
    fill(a, 0, n);
    a.make_durable(tamga::archive::Upto::size(n)).unwrap();
    eprintln!(
        "filled {n} documents in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let at = AT + 400 * 86_400 * 365;
    let (plan50, plan99) = percentiles(50, |_| {
        retention_plan(a, policy, at);
    });
    let start = Instant::now();
    let old = a
        .read(|txn| tamga::retention::documents(txn, a, "01-05"))
        .unwrap();
    let old_plan = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(old.len() as u64, n);
    let runs = 2000;
    let next = std::sync::atomic::AtomicU64::new(n);
    let file_one = |_| {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        fill(a, i, i + 1);
        a.make_durable(tamga::archive::Upto::size(i + 1)).unwrap();
    };
    let (alone50, alone99) = percentiles(runs, file_one);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (plans, (beside50, beside99)) = std::thread::scope(|s| {
        let planner = s.spawn(|| {
            let mut plans = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                retention_plan(a, policy, at);
                plans += 1;
                // A thousand plans a second, far more than archivists ask for; without the
                // pause the loop measures two cores shared with a spinning thread.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            plans
        });
        let r = percentiles(runs, file_one);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (planner.join().unwrap(), r)
    });
    // Alone once more: the machine's own noise, for comparison.
    let (again50, again99) = percentiles(runs, file_one);
    println!("retention plan over {n} documents, journal store (ms)");
    println!("  plan from the per-case index: p50 {plan50:.3}, p99 {plan99:.3}");
    println!("  the case counted the old way (every entry read): {old_plan:.0}");
    println!("  filings alone ({runs}, durable): p50 {alone50:.3}, p99 {alone99:.3}");
    println!(
        "  filings while plans run ({plans} plans meanwhile): p50 {beside50:.3}, p99 {beside99:.3}"
    );
    println!("  filings alone again: p50 {again50:.3}, p99 {again99:.3}");
}

/// The checkpoints of a journal archive found by listing the space, and by tree size.
fn checkpoint_listing() {
    use tamga::archive::store::Space;
    let n: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paths(&tmp.path().join("checkpoints"));
    p.store = Some("journal".parse().unwrap());
    let ingest = tamga::setup::open(&p, Policy::default()).unwrap();
    let a = &ingest.archive;
    let mut i = 0;
    while i < n {
        let to = n.min(i + 64);
        fill(a, i, to);
        a.make_durable(tamga::archive::Upto::size(to)).unwrap();
        i = to;
    }
    let store = a.raw_store();
    let listed = |from: u64| {
        let start = Instant::now();
        let mut bytes = 0;
        for k in store.keys(Space::Checkpoints).unwrap() {
            let size = u64::from_be_bytes(k.as_slice().try_into().unwrap());
            if size >= from {
                bytes += store.get(Space::Checkpoints, &k).unwrap().unwrap().len();
            }
        }
        (start.elapsed().as_secs_f64() * 1e3, bytes)
    };
    let named = |from: u64| {
        let start = Instant::now();
        let mut bytes = 0;
        a.for_each_checkpoint::<tamga::archive::ArchiveError>(from..=n, &mut |_, note| {
            bytes += note.len();
            Ok(())
        })
        .unwrap();
        (start.elapsed().as_secs_f64() * 1e3, bytes)
    };
    println!("checkpoints of a journal archive of {n} entries (ms, warm page cache)");
    for (what, from) in [("all (export)", 0), ("last 1 % (backup)", n - n / 100)] {
        let (old, b1) = listed(from);
        let (new, b2) = named(from);
        assert_eq!(b1, b2, "the same checkpoints");
        println!("{what:>18}: listed {old:>9.1}  by size {new:>9.1}  ({b2} B of notes)");
    }
}
