//! `cargo bench --bench ocsp`: verification with a cached OCSP answer handed in (no CRL)
//! against CRL-only verification (an empty CRL by the same CA) of the same P-256 signature,
//! in alternating slices (goal: within 10 %); then a cold OCSP look-up against a live
//! `openssl ocsp -port` on loopback, and a cached one, per certificate.
//!
//! The PKI is made with the OpenSSL command line in a temporary directory.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamga::fetch::ocsp::{Fetcher, Nonce, Settings};
use tamga::verify::certificate::Certificate;
use tamga::verify::ocsp::{Response, Unresolved, Window};
use tamga::verify::{Evidence, Policy, RevocationPolicy, Status, Verifier};

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl {}", args.join(" "));
}

fn cert(dir: &Path, name: &str, issuer: Option<&str>, ext: &str, serial: &str) {
    let key = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    );
    let csr = format!("{name}.csr");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN=bench {name}"),
            "-out",
            &csr,
        ],
    );
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    let pem = format!("{name}.pem");
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-days",
        "30",
        "-sha256",
        "-extfile",
        &extfile,
        "-out",
        &pem,
        "-set_serial",
        serial,
    ];
    let (ca, cakey) = issuer.map_or((String::new(), String::new()), |i| {
        (format!("{i}.pem"), format!("{i}.key"))
    });
    match issuer {
        Some(_) => args.extend(["-CA", &ca, "-CAkey", &cakey]),
        None => args.extend(["-key", &key]),
    }
    openssl(dir, &args);
}

fn der(dir: &Path, name: &str) -> Arc<Certificate> {
    let pem = std::fs::read(dir.join(format!("{name}.pem"))).unwrap();
    let d = tamga::trustdir::pem_or_der(&pem, "CERTIFICATE")
        .unwrap()
        .remove(0);
    Arc::new(Certificate::from_der(&d).unwrap())
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for d in ["crl-trust", "ocsp-trust"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    cert(
        dir,
        "ca",
        None,
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        "1",
    );
    cert(
        dir,
        "leaf",
        Some("ca"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        "256",
    );
    cert(
        dir,
        "responder",
        Some("ca"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\nnoCheck=ignored\n",
        "512",
    );
    std::fs::write(dir.join("doc.txt"), vec![b'x'; 4096]).unwrap();
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "doc.txt",
            "-signer",
            "leaf.pem",
            "-inkey",
            "leaf.key",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            "sig.der",
        ],
    );
    std::fs::write(
        dir.join("index.txt"),
        "V\t301231000000Z\t\t0100\tunknown\t/CN=leaf\n",
    )
    .unwrap();
    std::fs::write(dir.join("crl-index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(dir.join("crl.cnf"), "[ca]\ndefault_ca = d\n[d]\ndatabase = crl-index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n").unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-gencrl",
            "-config",
            "crl.cnf",
            "-keyfile",
            "ca.key",
            "-cert",
            "ca.pem",
            "-out",
            "crl-trust/ca.crl",
        ],
    );
    for d in ["crl-trust", "ocsp-trust"] {
        std::fs::copy(dir.join("ca.pem"), dir.join(d).join("ca.pem")).unwrap();
    }
    openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-reqout",
            "r.req",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "responder.pem",
            "-rkey",
            "responder.key",
            "-reqin",
            "r.req",
            "-respout",
            "r.resp",
            "-ndays",
            "1",
        ],
    );

    let sig = std::fs::read(dir.join("sig.der")).unwrap();
    let policy = Policy {
        revocation: RevocationPolicy::Require,
        ..Policy::default()
    };
    let crl_only = Verifier::new(
        tamga::trustdir::load(&[dir.join("crl-trust")]).unwrap(),
        policy.clone(),
    );
    let with_ocsp = Verifier::new(
        tamga::trustdir::load(&[dir.join("ocsp-trust")]).unwrap(),
        policy,
    );
    let resp = vec![Arc::new(
        Response::from_der(&std::fs::read(dir.join("r.resp")).unwrap()).unwrap(),
    )];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let evidence = Evidence {
        ocsp: &resp,
        ocsp_window: Window::default(),
    };
    assert_eq!(crl_only.verify(&sig, None, now).status, Status::Accepted);
    assert_eq!(
        with_ocsp.verify_with(&sig, None, now, evidence).status,
        Status::Accepted
    );
    assert_eq!(with_ocsp.verify(&sig, None, now).status, Status::Rejected);
    let secs = std::env::args()
        .filter_map(|a| a.parse::<f64>().ok())
        .next()
        .unwrap_or(6.0);
    let (c, o) = support::rates(
        || {
            assert!(
                crl_only
                    .verify(std::hint::black_box(&sig), None, now)
                    .status
                    == Status::Accepted
            )
        },
        || {
            assert!(
                with_ocsp
                    .verify_with(std::hint::black_box(&sig), None, now, evidence)
                    .status
                    == Status::Accepted
            )
        },
        Duration::from_secs_f64(secs),
    );
    println!(
        "P-256, 4 KiB: CRL-only {c:.0}/s, cached OCSP answer {o:.0}/s, ratio {:.3}",
        o / c
    );

    // A cold look-up against a live responder, then the cache.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("openssl")
        .current_dir(dir)
        .args([
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "responder.pem",
            "-rkey",
            "responder.key",
            "-ndays",
            "1",
            "-port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let unresolved = Unresolved {
        certificate: der(dir, "leaf"),
        issuer: der(dir, "ca"),
    };
    let settings = |cache| Settings {
        responders: vec![(unresolved.issuer.subject.clone(), url.clone())],
        nonce: Nonce::Send,
        cache_entries: cache,
        ..Settings::default()
    };
    let trust = tamga::trustdir::load(&[dir.join("ocsp-trust")]).unwrap();
    // Wait until it answers (a connection probe would stall its one-at-a-time loop).
    let cold = Fetcher::new(settings(0), &trust);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cold.fetch(&unresolved, now).is_err() {
        assert!(Instant::now() < deadline, "openssl ocsp did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        cold.fetch(&unresolved, now).unwrap();
    }
    let per_cold = start.elapsed() / n;
    let warm = Fetcher::new(settings(100), &trust);
    warm.fetch(&unresolved, now).unwrap();
    let start = Instant::now();
    for _ in 0..10_000 {
        warm.fetch(&unresolved, now).unwrap();
    }
    let per_warm = start.elapsed() / 10_000;
    println!(
        "look-up per certificate: cold (request, loopback round trip, verify) {per_cold:?}, cached {per_warm:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
