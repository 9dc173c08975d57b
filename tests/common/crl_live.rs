//! Live revocation sources for tests of `tamga serve`: a loopback HTTP server publishing CRLs
//! that a test replaces while the service runs, and the service itself as a child process,
//! killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo policy's gateway token.
pub const GATEWAY: &str = "demo-gateway-token";
/// The demo policy's auditor token.
pub const AUDITOR: &str = "demo-auditor-token";

/// A loopback HTTP server answering a GET of a path with the bytes the test last published
/// there (404 for a path with none).
pub struct Publisher {
    /// The default CRL's URL (`/test-ca.crl`).
    pub url: String,
    bodies: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Publisher {
    /// Starts serving on a free loopback port.
    pub fn start() -> Publisher {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bodies: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
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
                let text = String::from_utf8_lossy(&head);
                let path = text.split_whitespace().nth(1).unwrap_or("/");
                let (status, bytes) = match b.lock().unwrap().get(path) {
                    Some(bytes) => ("200 OK", bytes.clone()),
                    None => ("404 Not Found", Vec::new()),
                };
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                        bytes.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&bytes);
            }
        });
        Publisher {
            url: format!("http://127.0.0.1:{}/test-ca.crl", addr.port()),
            bodies,
            stop,
            addr,
        }
    }

    /// Publishes the CRL at the default URL (`url`).
    pub fn publish(&self, bytes: Vec<u8>) {
        self.publish_at("/test-ca.crl", bytes);
    }

    /// Publishes bytes at `path`.
    pub fn publish_at(&self, path: &str, bytes: Vec<u8>) {
        self.bodies.lock().unwrap().insert(path.to_owned(), bytes);
    }

    /// The URL of `path`.
    pub fn url_of(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// An attached CMS signature by `signer` over `text`.
pub fn sign(dir: &Path, signer: &str, text: &str) -> Vec<u8> {
    let doc = dir.join("doc.txt");
    std::fs::write(&doc, text).unwrap();
    let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
    super::pki::openssl(
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
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tamga serve` over `dir` (`trust/`, `data/`), revocation required, CRLs refreshed every
/// second.
pub fn serve(dir: &Path) -> Serve {
    serve_with(dir, "")
}

/// [`serve`] with more `[revocation]` policy lines.
pub fn serve_with(dir: &Path, extra: &str) -> Serve {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("{demo}\n[revocation]\ncrl-refresh = \"1s\"\n{extra}"),
    )
    .unwrap();
    let port = super::ocsp::free_port();
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
            super::server::client()
                .get(format!("{}/healthz", s.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
        },
        "the service to answer",
    );
    s
}

/// Polls `ok` until it holds, for at most 30 s.
pub fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GET as the auditor.
pub fn get(s: &Serve, path: &str) -> reqwest::blocking::Response {
    super::server::client()
        .get(format!("{}{path}", s.base))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
}

/// The CRL table's line for the URL ending in `suffix`.
pub fn crl_row_at(s: &Serve, suffix: &str) -> serde_json::Value {
    let trust: serde_json::Value = get(s, "/v1/trust").json().unwrap();
    trust["crls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"].as_str().is_some_and(|u| u.ends_with(suffix)))
        .cloned()
        .unwrap_or_default()
}

/// A submission into case 01-05 as the gateway.
pub fn submit(s: &Serve, sender_ref: &str, body: Vec<u8>) -> reqwest::blocking::Response {
    super::server::client()
        .post(format!("{}/v1/submissions", s.base))
        .query(&[("case", "01-05"), ("sender_ref", sender_ref)])
        .header("Content-Type", "application/pkcs7-mime")
        .bearer_auth(GATEWAY)
        .body(body)
        .send()
        .unwrap()
}

/// The log's size, from `/healthz`.
pub fn entries(s: &Serve) -> u64 {
    let h: serde_json::Value = super::server::client()
        .get(format!("{}/healthz", s.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    h["entries"].as_u64().unwrap()
}
