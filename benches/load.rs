//! `cargo bench --bench load`: the service under load on loopback. 4 KiB RSA-2048 attached
//! documents (distinct, signed beforehand with OpenSSL), 64 concurrent clients, durable commits;
//! reports accepted documents/s and latency percentiles, and the same documents through the
//! library pipeline alone at the same concurrency for comparison.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tamga::http::{AppState, Limits, tls};
use tamga::ingest::Submission;
use tamga::verify::{Policy, Status};

const CLIENTS: usize = 64;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(2000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    eprintln!("signing {n} documents with openssl…");
    let docs = Arc::new(support::signed_documents(&tmp.path().join("docs"), n));

    // The service, in this process, on loopback.
    let ingest =
        tamga::setup::open(&support::paths(&tmp.path().join("http")), Policy::default()).unwrap();
    let state = AppState::new(ingest, Limits::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let server_state = state.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            tls::serve(
                l,
                tamga::http::router(server_state),
                None,
                std::future::pending(),
            )
            .await
            .unwrap();
        });
    });
    let url = format!("http://{addr}/v1/submissions?case=01-05");
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (docs, next, url) = (docs.clone(), next.clone(), url.clone());
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::builder().build().unwrap();
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(doc) = docs.get(i) else { return lat };
                    let t = Instant::now();
                    let r = c
                        .post(&url)
                        .bearer_auth("demo-gateway-token")
                        .header("Content-Type", "application/pkcs7-mime")
                        .body(doc.clone())
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 201);
                    let _ = r.bytes();
                    lat.push(t.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!("HTTP, {CLIENTS} clients, {n} documents:");
    println!(
        "  {:.0} accepted/s   p50 {:.1} ms   p99 {:.1} ms   syncs {}",
        n as f64 / secs,
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        state.ingest.archive.syncs()
    );

    // The library pipeline alone, same documents, same concurrency, fresh archive.
    let ingest = Arc::new(
        tamga::setup::open(&support::paths(&tmp.path().join("lib")), Policy::default()).unwrap(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (docs, next, ingest) = (docs.clone(), next.clone(), ingest.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(doc) = docs.get(i) else { return lat };
                    let t = Instant::now();
                    let out = ingest
                        .submit(&Submission {
                            case: "01-05",
                            signature: doc,
                            content: None,
                            sender_ref: None,
                            received_at: tamga::clock::now(),
                            submitter: None,
                        })
                        .unwrap();
                    assert_eq!(out.status, Status::Accepted);
                    lat.push(t.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!("library pipeline, {CLIENTS} threads, {n} documents:");
    println!(
        "  {:.0} accepted/s   p50 {:.1} ms   p99 {:.1} ms   syncs {}",
        n as f64 / secs,
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        ingest.archive.syncs()
    );
}
