//! A real tamga server on loopback, in a thread of the test process.

use super::fixtures;
use std::path::Path;
use tamga::http::{AppState, Limits};
use tamga::verify::Policy;

/// A running server; stops (gracefully) when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT` or `https://…`
    pub base: String,
    /// The temporary directory with data and policy.
    pub dir: tempfile::TempDir,
    /// The service's state, shared with the server thread.
    pub state: std::sync::Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Shuts the server down gracefully and waits for it; the directory stays.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a server whose policy is the demo policy plus `extra_policy`.
pub fn start(
    extra_policy: &str,
    limits: Limits,
    tls_config: Option<rustls::ServerConfig>,
) -> Server {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    start_with(
        tempfile::tempdir().unwrap(),
        &format!("{demo}\n{extra_policy}"),
        limits,
        tls_config,
    )
}

/// Starts a server with the demo policy over a fresh archive of the named store.
pub fn start_on(store: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = super::archive_paths(&dir.path().join("data"));
    paths.store = Some(store.parse().unwrap());
    let ingest = tamga::setup::open(&paths, Policy::default()).unwrap();
    serve(dir, ingest, Limits::default(), None)
}

/// Starts a server on `dir/data` (which may hold an archive already) with this policy text.
pub fn start_with(
    dir: tempfile::TempDir,
    policy_text: &str,
    limits: Limits,
    tls_config: Option<rustls::ServerConfig>,
) -> Server {
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, policy_text).unwrap();
    let paths = tamga::setup::Paths {
        data: dir.path().join("data"),
        policy,
        trust: vec![fixtures().join("trust")],
        installed_keys: dir.path().join("none"),
        store: None,
        database: None,
    };
    let ingest = tamga::setup::open(&paths, Policy::default()).unwrap();
    serve(dir, ingest, limits, tls_config)
}

/// Starts a server over a pipeline the caller assembled (its data under `dir`).
pub fn serve(
    dir: tempfile::TempDir,
    ingest: tamga::ingest::Ingest,
    limits: Limits,
    tls_config: Option<rustls::ServerConfig>,
) -> Server {
    let state = AppState::new(ingest, limits);
    let server_state = state.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls_config.is_some() {
        "https"
    } else {
        "http"
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            tamga::http::run(l, server_state, tls_config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    Server {
        base: format!("{scheme}://{addr}"),
        dir,
        state,
        stop: Some(tx),
        thread: Some(thread),
    }
}

/// A blocking HTTP client (with rustls' ring provider installed for it).
pub fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().build().unwrap()
}

/// Posts a raw `application/pkcs7-mime` submission, with a bearer token when given.
pub fn raw_submit(
    s: &Server,
    token: Option<&str>,
    case: &str,
    sender_ref: &str,
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    let mut r = client()
        .post(format!("{}/v1/submissions", s.base))
        .query(&[("case", case), ("sender_ref", sender_ref)])
        .header("Content-Type", "application/pkcs7-mime")
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().unwrap()
}
