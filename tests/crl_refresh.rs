//! CRLs kept current while `tamga serve` runs (issue 14 items 3 and 6): a loopback HTTP server
//! publishes a CA's CRL, replaced mid-test. A revocation published while the service runs is
//! enforced within one refresh, without a restart; with only a stale CRL the answer is 503
//! try later and nothing is filed; once a fresh CRL is published the same submission is
//! accepted with its receipt.

mod common;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const GATEWAY: &str = "demo-gateway-token";
const AUDITOR: &str = "demo-auditor-token";

/// A loopback HTTP server answering every GET with the bytes the test last published.
struct Publisher {
    url: String,
    body: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Publisher {
    fn start() -> Publisher {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (body.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let bytes = b.lock().unwrap().clone();
                let _ = conn.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len())
                        .as_bytes(),
                );
                let _ = conn.write_all(&bytes);
            }
        });
        Publisher {
            url: format!("http://127.0.0.1:{}/test-ca.crl", addr.port()),
            body,
            stop,
            addr,
        }
    }

    fn publish(&self, bytes: Vec<u8>) {
        *self.body.lock().unwrap() = bytes;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// The CA and two signers (serials 0x1001 and 0x1002), their certificates pointing at `url`.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
}

fn params(name: &str, url: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![url.to_owned()],
    }];
    p.not_before = OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + time::Duration::days(30);
    p
}

impl Ca {
    /// The CA, written to `dir/trust/ca.pem`.
    fn new(dir: &Path, url: &str) -> Ca {
        Ca::with(dir, Some(url))
    }

    /// The CA; with `url` its own certificate names its CRL, without it (as the Kazakh NCA's
    /// do) only the certificates it issues do.
    fn with(dir: &Path, url: Option<&str>) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = params("CRL Refresh Test CA", url.unwrap_or_default());
        if url.is_none() {
            p.crl_distribution_points.clear();
        }
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).unwrap();
        std::fs::create_dir_all(dir.join("trust")).unwrap();
        std::fs::write(dir.join("trust/ca.pem"), cert.pem()).unwrap();
        Ca { params: p, key }
    }

    /// A signer `name` with `serial`: `dir/name.pem` and `dir/name.key`.
    fn signer(&self, dir: &Path, name: &str, serial: u64, url: &str) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = params(name, url);
        p.is_ca = IsCa::ExplicitNoCa;
        p.serial_number = Some(SerialNumber::from(serial));
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }

    /// A CRL numbered `number`, issued `age` s ago, next update `life` s after, revoking
    /// `serials` as of its issue.
    fn crl(&self, number: u64, age: i64, life: i64, serials: &[u64]) -> Vec<u8> {
        let this = OffsetDateTime::now_utc() - time::Duration::seconds(age);
        let params = CertificateRevocationListParams {
            this_update: this,
            next_update: this + time::Duration::seconds(life),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: this,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        params.signed_by(&issuer).unwrap().der().to_vec()
    }
}

/// An attached CMS signature by `signer` over `text`.
fn sign(dir: &Path, signer: &str, text: &str) -> Vec<u8> {
    let doc = dir.join("doc.txt");
    std::fs::write(&doc, text).unwrap();
    let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
    common::pki::openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "doc.txt",
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            "sig.der",
        ],
    );
    std::fs::read(dir.join("sig.der")).unwrap()
}

/// `tamga serve` as a child process, killed when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &Path) -> Serve {
    serve_with(dir, "")
}

fn serve_with(dir: &Path, extra: &str) -> Serve {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("{demo}\n[revocation]\ncrl-refresh = \"1s\"\n{extra}"),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--policy")
        .arg(&policy)
        .arg("--trust")
        .arg(dir.join("trust"))
        .arg("--keys")
        .arg(dir.join("no-keys"))
        .args(["serve", "--revocation", "require", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Serve {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_for(
        || {
            common::server::client()
                .get(format!("{}/healthz", s.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
        },
        "the service to answer",
    );
    s
}

/// Polls `ok` until it holds, for at most 30 s.
fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(s: &Serve, path: &str) -> reqwest::blocking::Response {
    common::server::client()
        .get(format!("{}{path}", s.base))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
}

/// The CRL table's line for the test CA's URL.
fn crl_row(s: &Serve) -> serde_json::Value {
    let trust: serde_json::Value = get(s, "/v1/trust").json().unwrap();
    trust["crls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["source"]
                .as_str()
                .is_some_and(|u| u.ends_with("/test-ca.crl"))
        })
        .cloned()
        .unwrap_or_default()
}

fn wait_for_number(s: &Serve, number: &str) {
    wait_for(
        || crl_row(s)["number"] == number,
        &format!("CRL number {number}"),
    );
}

fn submit(s: &Serve, sender_ref: &str, body: Vec<u8>) -> reqwest::blocking::Response {
    common::server::client()
        .post(format!("{}/v1/submissions", s.base))
        .query(&[("case", "01-05"), ("sender_ref", sender_ref)])
        .header("Content-Type", "application/pkcs7-mime")
        .bearer_auth(GATEWAY)
        .body(body)
        .send()
        .unwrap()
}

fn entries(s: &Serve) -> u64 {
    let h: serde_json::Value = common::server::client()
        .get(format!("{}/healthz", s.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    h["entries"].as_u64().unwrap()
}

#[test]
fn crls_are_refreshed_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::new(d, &publisher.url);
    ca.signer(d, "alice", 0x1001, &publisher.url);
    ca.signer(d, "bob", 0x1002, &publisher.url);
    publisher.publish(ca.crl(1, 5, 86_400, &[]));
    let s = serve(d);

    // Fetched at start: Alice's first document is accepted.
    wait_for_number(&s, "1");
    // The table is the auditor's and the admin's.
    for (token, want) in [
        (GATEWAY, 403),
        ("demo-archivist-token", 403),
        ("demo-admin-token", 200),
    ] {
        let r = common::server::client()
            .get(format!("{}/v1/trust", s.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(r.status(), want, "{token}");
    }
    let trust: serde_json::Value = get(&s, "/v1/trust").json().unwrap();
    assert_eq!(
        trust["anchors"][0]["subject"], "CN=CRL Refresh Test CA",
        "{trust}"
    );
    let r = submit(&s, "№ 1", sign(d, "alice", "first"));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());

    // Alice's certificate is revoked while the service runs: enforced within one refresh.
    publisher.publish(ca.crl(2, 4, 86_400, &[0x1001]));
    wait_for_number(&s, "2");
    let r = submit(&s, "№ 2", sign(d, "alice", "second"));
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body.to_string().contains("certificate-revoked"), "{body}");

    // Only a CRL past its nextUpdate: not decided, nothing filed, no receipt.
    publisher.publish(ca.crl(3, 3, 5, &[0x1001]));
    wait_for_number(&s, "3");
    wait_for(|| crl_row(&s)["current"] == false, "the CRL to go stale");
    let before = entries(&s);
    let bob = sign(d, "bob", "third");
    let r = submit(&s, "№ 3", bob.clone());
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().unwrap();
    assert!(text.contains("revocation"), "{text}");
    assert_eq!(entries(&s), before, "nothing filed");
    let row = crl_row(&s);
    assert!(
        row["last_fetch"].is_string() && row["next_update"].is_string(),
        "{row}"
    );

    // A fresh CRL: the same submission is accepted, with its receipt.
    publisher.publish(ca.crl(4, 0, 86_400, &[0x1001]));
    wait_for_number(&s, "4");
    let r = submit(&s, "№ 3", bob);
    assert_eq!(r.status(), 201);
    let receipt: serde_json::Value = r.json().unwrap();
    assert_eq!(receipt["status"], "accepted", "{receipt}");
    assert!(receipt["receipt_id"].is_string());

    // The CRL's age is in /metrics.
    let metrics = get(&s, "/metrics").text().unwrap();
    assert!(
        metrics.contains("tamga_crl_age_seconds{issuer=\"CN=CRL Refresh Test CA\""),
        "{metrics}"
    );
    assert!(metrics.contains("tamga_crl_next_update_seconds{"));
}

/// `tamga trust refresh` on `dir`; its exit code and standard output.
fn trust_refresh(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--policy")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
        .arg("--trust")
        .arg(dir.join("trust"))
        .args(["trust", "refresh"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn trust_refresh_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::new(d, &publisher.url);
    publisher.publish(ca.crl(10, 5, 86_400, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("number 10") && out.contains("current"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(d.join("data/crls")).unwrap().count(),
        1,
        "kept"
    );
    // A lower number is refused; the CRL kept stays, and the exit code says so.
    publisher.publish(ca.crl(9, 1, 86_400, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("number 10") && out.contains("lower"), "{out}");
    // A stale one is taken (it is newer) but is not current: exit 1.
    publisher.publish(ca.crl(11, 4, 1, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("number 11") && out.contains("NOT CURRENT"),
        "{out}"
    );
    // The distribution point is down: the error is shown, exit 1.
    drop(publisher);
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last error"), "{out}");
}

#[test]
fn a_cas_crl_named_only_in_the_certificates_it_issues_is_learned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::with(d, None);
    ca.signer(d, "carol", 0x2001, &publisher.url);
    publisher.publish(ca.crl(1, 5, 86_400, &[]));
    let s = serve_with(d, "crl-hosts = [\"127.0.0.1\"]\n");
    assert!(crl_row(&s).is_null(), "no URL known yet");
    let signature = sign(d, "carol", "learned");
    let r = submit(&s, "№ 1", signature.clone());
    assert_eq!(r.status(), 503, "not decided before the CRL is known");
    wait_for_number(&s, "1");
    let r = submit(&s, "№ 1", signature);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}
