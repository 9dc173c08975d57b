//! `cargo bench --bench console [N]`: the web console's page server times at N documents
//! (default 10^5) in one case, in-process through the whole router (gate, access log, the
//! API handlers the pages call), and the bytes of the first page a browser loads (the sign-in
//! page with its stylesheet and script). Issue 17's budget: ≤ 50 ms a page, ≤ 200 KB first.
//!
//! The entries are written directly (as `archive -- proofs` does), with their registration
//! numbers indexed as the pipeline indexes them; no document bytes are stored.

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

fn accepted(i: u64) -> Event {
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
        files: vec![FileRef {
            role: "signature".into(),
            sha256: hex(i ^ 0x5555),
            size: 4096,
        }],
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
    let mut i = 0;
    while i < n {
        let k = 1000.min(n - i);
        ingest
            .archive
            .append(|txn| {
                for _ in 0..k {
                    let num = txn.next_registration("01-05")?;
                    txn.register(&format!("01-05/{num}"));
                    txn.push(accepted(num), AT);
                }
                Ok(())
            })
            .unwrap();
        i += k;
    }
    ingest.archive.make_durable(n).unwrap();
    let state = tamga::http::AppState::new(ingest, tamga::http::Limits::default());
    let app = tamga::http::router(state);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |path: &str, token: Option<&str>| {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Body::empty()).unwrap();
        let app = app.clone();
        rt.block_on(async move {
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes.len())
        })
    };
    let mid = n / 2;
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
        (
            &*Box::leak(format!("/document?regno=01-05%2F{mid}").into_boxed_str()),
            "demo-archivist-token",
        ),
        ("/retention", "demo-archivist-token"),
        ("/audit", "demo-auditor-token"),
        (
            &*Box::leak(format!("/audit/proof?index={mid}").into_boxed_str()),
            "demo-auditor-token",
        ),
        ("/audit/access", "demo-auditor-token"),
        ("/audit/trust", "demo-auditor-token"),
    ];
    println!("console pages at {n} documents (in-process; ms over 20 requests)");
    println!(
        "{:<48} {:>6} {:>8} {:>8} {:>9}",
        "page", "status", "p50", "max", "bytes"
    );
    for (path, token) in pages {
        let token = (!token.is_empty()).then_some(*token);
        let mut t = Vec::new();
        let mut last = (axum::http::StatusCode::OK, 0);
        for _ in 0..20 {
            let start = Instant::now();
            last = get(path, token);
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
    let first: usize = ["/signin", "/assets/console.css", "/assets/console.js"]
        .iter()
        .map(|p| get(p, None).1)
        .sum();
    println!("first page (sign-in + stylesheet + script, uncompressed): {first} bytes");
}
