//! `cargo bench --bench console [N]`: the web console's page server times at N documents
//! (default 10^5) in one case, in-process through the whole router (gate, access log, the
//! API handlers the pages call), and the bytes of the first page a browser loads (the sign-in
//! page with its stylesheet and script). Issue 17's budget: ≤ 50 ms a page, ≤ 200 KB first.
//!
//! The entries are written directly (as `archive -- proofs` does), with their registration
//! numbers, submitter and a small signature file kept as the pipeline keeps them, and as many
//! access records.

#[path = "support/mod.rs"]
mod support;

use axum::body::Body;
use axum::http::{Request, header};
use std::time::Instant;
use support::paths;
use tamga::archive::log::{Event, FileRef, SignerSummary};
use tamga::verify::Policy;
use tower::ServiceExt;

const AT: i64 = 1_780_272_000;

fn accepted(i: u64, signature: FileRef) -> Event {
    let hex = |x: u64| format!("{x:016x}").repeat(4);
    Event::Accepted {
        receipt_id: hex(i),
        case: "01-05".into(),
        registration: format!("01-05/{i}"),
        // A new day every 1000 documents: date ranges have something to find.
        registration_date: format!(
            "2026-{:02}-{:02}",
            1 + (i / 1000 / 28) % 12,
            1 + (i / 1000) % 28
        ),
        files: vec![signature],
        signers: vec![SignerSummary {
            status: "valid".into(),
            subject: Some(format!("CN=ТЕСТОВ ТЕСТ {i},SURNAME=ТЕСТОВ,C=KZ")),
            iin: Some(format!("{:012}", 100_000_000_000 + i)),
            bin: None,
            certificate_sha256: Some(hex(7)),
            algorithm: Some("rsa-pkcs1-sha256".into()),
        }],
        sender_ref: Some(format!("ref-{i}")),
        evidence: Vec::new(),
    }
}

fn main() {
    let n: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paths(&tmp.path().join("data"));
    p.store = Some("journal".parse().unwrap());
    let ingest = tamga::setup::open(&p, Policy::default()).unwrap();
    eprintln!("writing {n} entries…");
    fill_entries(&ingest, n);
    fill_access(&ingest, n);
    let state = tamga::http::AppState::new(ingest, tamga::http::Limits::default());
    let client = Client {
        app: tamga::http::router(state),
        rt: tokio::runtime::Runtime::new().unwrap(),
    };
    println!("console pages at {n} documents (in-process; ms over 20 requests)");
    println!(
        "{:<48} {:>6} {:>8} {:>8} {:>9}",
        "page", "status", "p50", "max", "bytes"
    );
    for (path, token) in pages(n / 2) {
        time_page(&client, &path, (!token.is_empty()).then_some(token));
    }
    let first: usize = ["/signin", "/assets/console.css", "/assets/console.js"]
        .iter()
        .map(|p| client.get(p, None).1)
        .sum();
    println!("first page (sign-in + stylesheet + script, uncompressed): {first} bytes");
}

/// `n` accepted documents in case 01-05, in batches of 1000 appends, each with its
/// registration number, submitter and a small signature file kept as the pipeline keeps it.
fn fill_entries(ingest: &tamga::ingest::Ingest, n: u64) {
    let mut i = 0;
    while i < n {
        let k = 1000.min(n - i);
        ingest
            .archive
            .append(|txn| {
                for _ in 0..k {
                    let num = txn.next_registration("01-05")?;
                    txn.register(&format!("01-05/{num}"));
                    // A small signature file of its own, kept as the pipeline keeps it (the
                    // reference counts need the blob).
                    let bytes = format!("signature of document {num}").into_bytes();
                    let blob = tamga::archive::blobs::prepare(&bytes)?;
                    let sha = txn.put_blob(blob)?;
                    let file = FileRef {
                        role: "signature".into(),
                        sha256: tamga::verify::certificate::hex(&sha),
                        size: bytes.len() as u64,
                    };
                    let event = accepted(num, file);
                    if let Some(id) = event.receipt_id() {
                        // The clerk's own submissions: every document, for the registry page.
                        txn.set_submitter(id, "demo-gateway");
                    }
                    txn.push(event, AT);
                }
                Ok(())
            })
            .unwrap();
        i += k;
    }
    ingest
        .archive
        .make_durable(tamga::archive::Upto::size(n))
        .unwrap();
}

/// As many access records, the clerk's one in ten refused: the access log's filters.
fn fill_access(ingest: &tamga::ingest::Ingest, n: u64) {
    for i in 0..n {
        let refused = i % 10 == 0;
        let access = tamga::archive::access::Access {
            principal: Some(
                if i % 2 == 0 {
                    "demo-gateway"
                } else {
                    "demo-archivist"
                }
                .into(),
            ),
            action: "GET /v1/cases".into(),
            target: "/v1/cases".into(),
            decision: if refused { "denied" } else { "allowed" },
            status: if refused { 403 } else { 200 },
        };
        ingest.archive.record_access(access, AT + i as i64).unwrap();
    }
    ingest.archive.flush_access().unwrap();
}

/// The whole router, in process.
struct Client {
    app: axum::Router,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// The status and body size of `GET path`, with a bearer token if given.
    fn get(&self, path: &str, token: Option<&str>) -> (axum::http::StatusCode, usize) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Body::empty()).unwrap();
        let app = self.app.clone();
        self.rt.block_on(async move {
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes.len())
        })
    }
}

/// The pages timed, with the token of a principal allowed to see each ("": signed out);
/// `mid` is a registration number and log index in the middle of the archive.
fn pages(mid: u64) -> Vec<(String, &'static str)> {
    let pages: &[(&str, &str)] = &[
        ("/signin", ""),
        ("/cases", "demo-archivist-token"),
        ("/cases/01-05", "demo-archivist-token"),
        ("/cases/01-05?page=1000", "demo-archivist-token"),
        (
            "/cases/01-05?from=2026-02-03&to=2026-02-05",
            "demo-archivist-token",
        ),
        ("/cases/01-05?signer=ТЕСТ%2099", "demo-archivist-token"),
        ("/cases/01-05?signer=ТЕСТОВ", "demo-archivist-token"),
        (
            "/cases/01-05?signer=ТЕСТОВ&at=50000",
            "demo-archivist-token",
        ),
        ("/cases/01-05?sender_ref=ref-99", "demo-archivist-token"),
        ("/cases/01-05?id=100000000099", "demo-archivist-token"),
        (
            "/cases/01-05?signer=ТЕСТОВ&sender_ref=ref-99&from=2026-01-01",
            "demo-archivist-token",
        ),
        ("/registry", "demo-gateway-token"),
        ("/registry?status=accepted&page=1000", "demo-gateway-token"),
        ("/registry?status=rejected", "demo-gateway-token"),
        (
            "/registry?from=2000-01-01&to=2099-12-31",
            "demo-gateway-token",
        ),
        ("/document?regno=01-05%2F{mid}", "demo-archivist-token"),
        ("/retention", "demo-archivist-token"),
        ("/audit", "demo-auditor-token"),
        ("/audit/proof?index={mid}", "demo-auditor-token"),
        ("/audit/access", "demo-auditor-token"),
        (
            "/audit/access?principal=demo-gateway&decision=denied",
            "demo-auditor-token",
        ),
        ("/audit/access?principal=nobody", "demo-auditor-token"),
        (
            "/audit/access?principal=demo-archivist&date=2026-06-01",
            "demo-auditor-token",
        ),
        ("/audit/trust", "demo-auditor-token"),
    ];
    pages
        .iter()
        .map(|(path, token)| (path.replace("{mid}", &mid.to_string()), *token))
        .collect()
}

/// One row: the page requested 20 times, its status, median and worst time, and size.
fn time_page(client: &Client, path: &str, token: Option<&str>) {
    let mut t = Vec::new();
    let mut last = (axum::http::StatusCode::OK, 0);
    for _ in 0..20 {
        let start = Instant::now();
        last = client.get(path, token);
        t.push(start.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    println!(
        "{path:<48} {:>6} {:>8.2} {:>8.2} {:>9}",
        last.0.as_u16(),
        t[t.len() / 2],
        t[t.len() - 1],
        last.1
    );
}
