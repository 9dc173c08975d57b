//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod crl_live;
pub mod der;
pub mod failing;
pub mod frontends;
pub mod hooked;
pub mod ocsp;
pub mod pg;
pub mod pki;
pub mod pkits;
pub mod server;
pub mod tmpfs;
pub mod tsa;

use std::path::{Path, PathBuf};
use tamga::verify::{Policy, Report, Verifier};

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The corpus of real Kalkan-made signatures by the Kazakh national PKI's public test keys,
/// copied from the project's shared corpus into `tests/corpus/` so that a fresh clone tests alone.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/nca-kz-test")
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

/// Paths for an archive in `data` with the fixture trust store and the demo policy.
pub fn archive_paths(data: &Path) -> tamga::setup::Paths {
    tamga::setup::Paths {
        data: data.to_path_buf(),
        policy: Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
        trust: vec![fixtures().join("trust")],
        installed_keys: data.join("no-installed-keys"),
        store: None,
        database: None,
    }
}

/// The pipeline over a fresh archive in `data`.
pub fn ingest(data: &Path) -> tamga::ingest::Ingest {
    tamga::setup::open(&archive_paths(data), Policy::default()).unwrap()
}

/// The pipeline over a fresh archive of the named store (`sled` or `journal`) in `data`; later
/// opens find the store by themselves.
pub fn ingest_on(data: &Path, store: &str) -> tamga::ingest::Ingest {
    let mut paths = archive_paths(data);
    paths.store = Some(store.parse().unwrap());
    tamga::setup::open(&paths, Policy::default()).unwrap()
}

/// The `tamga` binary with the fixture trust store, the demo policy and `data`.
pub fn tamga_cmd(data: &Path) -> std::process::Command {
    tamga_with_keys(data, &data.join("no-installed-keys"))
}

/// [`tamga_cmd`] with the receipt key installed in `keys`.
pub fn tamga_with_keys(data: &Path, keys: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--data")
        .arg(data)
        .arg("--trust")
        .arg(fixtures().join("trust"))
        .arg("--keys")
        .arg(keys);
    c
}

/// A random number from the OS-seeded hasher (tests need variety, not cryptography).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

/// The next `len` bytes of the xorshift64 stream whose state is `x` (odd, so never stuck at
/// zero): incompressible, distinct per seed, and the same again for the same seed.
pub fn xorshift_bytes(x: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x as u8
        })
        .collect()
}

/// What `openssl cms -verify` prints of the DER CMS `der` (written to `path`), with the CA
/// certificate `ca` as the only anchor and `extra` arguments (such as `-attime`): a check of
/// what tamga signed that owes nothing to tamga. It must verify; `what` names the case if not.
pub fn openssl_verified(path: &Path, der: &[u8], ca: &Path, extra: &[&str], what: &str) -> Vec<u8> {
    std::fs::write(path, der).unwrap();
    let o = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-in"])
        .arg(path)
        .arg("-CAfile")
        .arg(ca)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Signs `content` (detached) with the fixture RSA signer using the OpenSSL command line.
pub fn openssl_sign_detached(content: &Path, out: &Path) {
    openssl_sign_detached_with(content, out, &[]);
}

/// As [`openssl_sign_detached`], with more `openssl cms -sign` options (e.g. `-noattr`).
pub fn openssl_sign_detached_with(content: &Path, out: &Path, options: &[&str]) {
    let pki = fixtures().join("pki");
    let st = std::process::Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        ])
        .args(options)
        .arg("-in")
        .arg(content)
        .arg("-signer")
        .arg(pki.join("rsa.pem"))
        .arg("-inkey")
        .arg(pki.join("rsa.key"))
        .arg("-certfile")
        .arg(pki.join("chain.pem"))
        .arg("-out")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Runs `audit verify --full` through `tamga` (a command with its global options set) and
/// fails the test, naming `round`, unless the audit passes.
pub fn assert_full_audit_passes(mut tamga: std::process::Command, round: usize) {
    let audit = tamga.args(["audit", "verify", "--full"]).output().unwrap();
    assert_eq!(
        audit.status.code(),
        Some(0),
        "round {round}: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
}

/// Space the files under `p` take on disk (allocated blocks: a punched hole takes none).
pub fn dir_size(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.blocks() * 512
            }
        })
        .sum()
}

/// Whether any file under `p` contains `needle`.
pub fn on_disk(p: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(p).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.is_dir() {
            on_disk(&path, needle)
        } else {
            std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
        }
    })
}

/// The ids of the receipts a console registry page links to, in order.
pub fn registry_receipts(html: &str) -> Vec<String> {
    html.split("href=\"/registry/receipts/")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .map(str::to_owned)
        .collect()
}
