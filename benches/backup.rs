//! `cargo bench --bench backup [N]`: backups of a sled archive of N documents (default 200,
//! 256 KiB each, half text, half incompressible; signed beforehand with OpenSSL):
//! full backup and restore throughput beside `cp -r` of the data directory, an incremental
//! backup after 1 % new documents against the full one, and filing throughput (8 threads,
//! durable) while online backups (as `POST /v1/backup` takes them: nice 10, the default rate
//! cap; `BACKUP_MAX_RATE=MB/s` to try another, 0 for none) run back to back against without.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{noise, paths, sign_all};
use tamga::archive::backup::{self, check, restore};
use tamga::ingest::{Payload, Submission};
use tamga::verify::Policy;

const AT: i64 = 1_780_272_000;
const SIZE: usize = 256 << 10;

fn du(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Signs `n` documents starting at `from` (detached); returns (content, signature) pairs.
fn documents(dir: &Path, from: usize, n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut jobs = Vec::new();
    for i in from..from + n {
        let doc = dir.join(format!("{i}.bin"));
        std::fs::write(&doc, noise(i as u64 + 1, SIZE, i % 2 == 0)).unwrap();
        jobs.push((doc, dir.join(format!("{i}.p7s")), false));
    }
    sign_all(jobs);
    (from..from + n)
        .map(|i| {
            (
                std::fs::read(dir.join(format!("{i}.bin"))).unwrap(),
                std::fs::read(dir.join(format!("{i}.p7s"))).unwrap(),
            )
        })
        .collect()
}

fn file(ingest: &tamga::ingest::Ingest, docs: &[(Vec<u8>, Vec<u8>)], tag: &str) {
    for (i, (content, sig)) in docs.iter().enumerate() {
        let r = format!("{tag}-{i}");
        ingest
            .submit(&Submission {
                case: "01-05",
                signature: sig,
                content: Some(Payload::Bytes(content)),
                sender_ref: Some(&r),
                received_at: AT,
                submitter: None,
            })
            .unwrap();
    }
}

fn mbs(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    eprintln!("signing {n} documents with openssl…");
    let docs = documents(&tmp.path().join("docs"), 0, n);
    let more = documents(&tmp.path().join("docs"), n, n.div_ceil(100));
    let data = tmp.path().join("data");
    let ingest = Arc::new(tamga::setup::open(&paths(&data), Policy::default()).unwrap());
    file(&ingest, &docs, "d");
    let bytes = du(&data);
    println!(
        "archive: {n} documents, data directory {:.1} MB",
        bytes as f64 / 1e6
    );

    let cp = cp_r(&data, &tmp.path().join("cp"));

    let bk = tmp.path().join("bk");
    let t = Instant::now();
    let full = backup::write(&ingest.archive, &bk).unwrap();
    let full_time = t.elapsed();

    let t = Instant::now();
    check::verify(&bk, None).unwrap();
    let verify_time = t.elapsed();

    let restore_time = restore(&bk, &tmp.path().join("restored"));

    file(&ingest, &more, "m");
    let t = Instant::now();
    let inc = backup::write(&ingest.archive, &bk).unwrap();
    let inc_time = t.elapsed();

    println!(
        "cp -r + sync:      {:>8.1} ms  {:>7.1} MB/s",
        cp.as_secs_f64() * 1e3,
        mbs(bytes, cp)
    );
    println!(
        "full backup:       {:>8.1} ms  {:>7.1} MB/s  ({:.2}× cp; {} bytes written; filing \
         paused {} µs)",
        full_time.as_secs_f64() * 1e3,
        mbs(bytes, full_time),
        cp.as_secs_f64() / full_time.as_secs_f64(),
        full.bytes,
        full.paused_us
    );
    println!(
        "backup verify:     {:>8.1} ms  {:>7.1} MB/s",
        verify_time.as_secs_f64() * 1e3,
        mbs(bytes, verify_time)
    );
    println!(
        "restore (+verify): {:>8.1} ms  {:>7.1} MB/s  ({:.2}× cp)",
        restore_time.as_secs_f64() * 1e3,
        mbs(bytes, restore_time),
        cp.as_secs_f64() / restore_time.as_secs_f64()
    );
    println!(
        "incremental (+{} docs): {:.1} ms = {:.1} % of the full backup ({} bytes written)",
        more.len(),
        inc_time.as_secs_f64() * 1e3,
        100.0 * inc_time.as_secs_f64() / full_time.as_secs_f64(),
        inc.bytes
    );
    filing_during_backups(&ingest, tmp.path());
}

/// How long `cp -r` of `from` and a `sync` take.
fn cp_r(from: &Path, to: &Path) -> Duration {
    let t = Instant::now();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
    let sync = std::process::Command::new("sync").status();
    let cp = t.elapsed();
    drop(sync);
    cp
}

/// How long a restore of the backup in `bk` into a new archive in `new` takes, with the
/// verification it starts with.
fn restore(bk: &Path, new: &Path) -> Duration {
    let t = Instant::now();
    let m = check::manifest(bk, None).unwrap();
    check::verify(bk, Some(m.generation)).unwrap();
    let loaded = check::load(bk, &m).unwrap();
    let store = tamga::setup::open_store(&paths(new)).unwrap();
    restore::load(bk, &m, &loaded, store.as_ref()).unwrap();
    drop(store);
    t.elapsed()
}

/// Online backups, as the service takes them (in a thread of its own, at a lower priority,
/// capped), back to back into directories under `tmp` until `stop`; answers how many were
/// taken and how long filing paused for them in all (µs).
fn backups_until(
    ingest: &Arc<tamga::ingest::Ingest>,
    tmp: &Path,
    round: u64,
    stop: &Arc<AtomicBool>,
    online: backup::Options,
) -> std::thread::JoinHandle<(u64, u64)> {
    let (ingest, stop, tmp) = (ingest.clone(), stop.clone(), tmp.to_path_buf());
    std::thread::spawn(move || {
        backup::lower_priority();
        let (mut taken, mut paused) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let dir = tmp.join(format!("load-bk-{round}-{taken}"));
            paused += backup::write_with(&ingest.archive, &dir, &online, &mut |_| {})
                .unwrap()
                .paused_us;
            std::fs::remove_dir_all(&dir).unwrap();
            taken += 1;
        }
        (taken, paused)
    })
}

/// Filing rate (8 threads, durable) for a few seconds without, then with backups running.
fn filing_during_backups(ingest: &Arc<tamga::ingest::Ingest>, tmp: &Path) {
    let sig = std::fs::read(support::fixtures().join("sig/p256.der")).unwrap();
    let cap: Option<u64> = std::env::var("BACKUP_MAX_RATE")
        .ok()
        .and_then(|r| r.parse().ok());
    let rate = |backups: bool, round: u64| -> (f64, (u64, u64)) {
        let stop = Arc::new(AtomicBool::new(false));
        let filed = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (ingest, sig, stop, filed) =
                    (ingest.clone(), sig.clone(), stop.clone(), filed.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let r = format!("load-{round}-{t}-{i}");
                        ingest
                            .submit(&Submission {
                                case: "01-05",
                                signature: &sig,
                                content: None,
                                sender_ref: Some(&r),
                                received_at: AT,
                                submitter: None,
                            })
                            .unwrap();
                        filed.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                })
            })
            .collect();
        let started = Instant::now();
        // At the policy's default rate cap (BACKUP_MAX_RATE=MB/s to try another; 0: none).
        let online = backup::Options::online(cap);
        let backups = backups.then(|| backups_until(ingest, tmp, round, &stop, online));
        std::thread::sleep(Duration::from_secs(4));
        // The rate over the window filing ran in: not counting the wait, after it, for the
        // last backup to finish (which earlier runs of this bench wrongly did).
        let window = started.elapsed();
        let count = filed.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let taken = backups.map_or((0, 0), |b| b.join().unwrap());
        (count as f64 / window.as_secs_f64(), taken)
    };
    let cap = backup::Options::online(cap)
        .max_rate
        .map_or("no cap".into(), |r| {
            format!("capped at {} MB/s", r / 1_000_000)
        });
    let (without, _) = rate(false, 0);
    let (with, (taken, paused)) = rate(true, 1);
    let (again, _) = rate(false, 2);
    let base = (without + again) / 2.0;
    println!(
        "filing (8 threads): {base:.0}/s without backups, {with:.0}/s while {taken} online \
         backups ({cap}) ran back to back ({:+.1} %); filing paused {:.1} ms per backup",
        100.0 * (with - base) / base,
        paused as f64 / 1e3 / taken.max(1) as f64
    );
}
