//! What the benchmarks share: the fixture PKI, archive paths, documents signed with OpenSSL.
#![allow(dead_code)]

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tests' fixture directory: the benchmarks sign and verify with the same PKI.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Paths for an archive in `data` with the fixture trust store and the demo policy, on the
/// default store.
pub fn paths(data: &Path) -> tamga::setup::Paths {
    tamga::setup::Paths {
        data: data.to_path_buf(),
        policy: Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
        trust: vec![fixtures().join("trust")],
        installed_keys: data.join("none"),
        store: None,
        database: None,
    }
}

/// `len` bytes of a xorshift64 stream from `seed`, as printable text or raw bytes: distinct
/// documents, the same again for the same seed, so runs compare.
pub fn noise(seed: u64, len: usize, text: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if text {
                b"abcdefgh ijklmnop\n"[(x % 18) as usize]
            } else {
                x as u8
            }
        })
        .collect()
}

/// Signs files with OpenSSL on both cores.
pub fn sign_all(jobs: Vec<(PathBuf, PathBuf, bool)>) {
    let pki = fixtures().join("pki");
    let jobs = Arc::new(std::sync::Mutex::new(jobs));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (jobs, pki) = (jobs.clone(), pki.clone());
            std::thread::spawn(move || {
                loop {
                    let Some((input, out, attached)) = jobs.lock().unwrap().pop() else {
                        return;
                    };
                    let mut c = std::process::Command::new("openssl");
                    c.args([
                        "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-in",
                    ])
                    .arg(&input)
                    .arg("-signer")
                    .arg(pki.join("rsa.pem"))
                    .arg("-inkey")
                    .arg(pki.join("rsa.key"))
                    .arg("-certfile")
                    .arg(pki.join("chain.pem"))
                    .arg("-out")
                    .arg(&out);
                    if attached {
                        c.arg("-nodetach");
                    }
                    assert!(c.status().unwrap().success(), "openssl cms -sign");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// `n` distinct 4 KiB text documents signed (attached) with the fixture RSA-2048 key.
///
/// With `TAMGA_BENCH_DOCS` set to a directory, they are signed once into it and read from it
/// by later runs (of this build or another: builds compared in alternation then spend their
/// time measuring, not signing).
pub fn signed_documents(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    // Created either way: callers write beside the documents.
    std::fs::create_dir_all(dir).unwrap();
    let kept = std::env::var_os("TAMGA_BENCH_DOCS").map(|d| {
        // Named by the signer's certificate too: documents of another fixture PKI are not reused.
        let cert = std::fs::read(fixtures().join("pki/rsa.pem")).unwrap();
        let tag = tamga::verify::certificate::hex(&sha2::Sha256::digest(&cert)[..4]);
        Path::new(&d).join(format!("n{n}-{tag}"))
    });
    let dir = kept.as_deref().unwrap_or(dir);
    if !dir.join("done").exists() {
        std::fs::create_dir_all(dir).unwrap();
        let mut jobs = Vec::new();
        for i in 0..n {
            let doc = dir.join(format!("{i}.txt"));
            std::fs::write(&doc, noise(i as u64 + 1, 4096, true)).unwrap();
            jobs.push((doc, dir.join(format!("{i}.p7s")), true));
        }
        sign_all(jobs);
        if kept.is_some() {
            std::fs::write(dir.join("done"), b"").unwrap();
        }
    }
    (0..n)
        .map(|i| std::fs::read(dir.join(format!("{i}.p7s"))).unwrap())
        .collect()
}

/// A field of `/proc/self/status` in bytes (`VmRSS:`, `VmHWM:`), 0 where it cannot be read.
pub fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Rates (per second) of `a` and `b`, measured in alternating slices so that frequency drift
/// and a busy neighbour core weigh on both alike.
pub fn rates(mut a: impl FnMut(), mut b: impl FnMut(), total: Duration) -> (f64, f64) {
    let slice = Duration::from_millis(100);
    let (mut na, mut nb, mut ta, mut tb) = (0u64, 0u64, Duration::ZERO, Duration::ZERO);
    for _ in 0..50 {
        a();
        b();
    }
    let run = |f: &mut dyn FnMut(), n: &mut u64, t: &mut Duration| {
        let start = Instant::now();
        while start.elapsed() < slice {
            for _ in 0..20 {
                f();
            }
            *n += 20;
        }
        *t += start.elapsed();
    };
    let begin = Instant::now();
    while begin.elapsed() < total {
        run(&mut a, &mut na, &mut ta);
        run(&mut b, &mut nb, &mut tb);
    }
    (na as f64 / ta.as_secs_f64(), nb as f64 / tb.as_secs_f64())
}
