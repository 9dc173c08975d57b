//! The service on PostgreSQL (a throwaway cluster per test): filing, reading back, an audit
//! beside the running service, tampering behind tamga's back, and a server crash under load.

mod common;
use common::frontends::{pg_paths, tamga_at};
use common::pg::Cluster;
use common::server::{Server, client, serve};
use common::*;
use reqwest::blocking::multipart;
use tamga::http::Limits;
use tamga::verify::Policy;

const GATEWAY: &str = "demo-gateway-token";

fn cluster() -> Cluster {
    Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL for the test: {why}"))
}

fn start_on_postgres(c: &Cluster) -> Server {
    start_on(&c.url())
}

fn start_on(url: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let ingest = tamga::setup::open(
        &pg_paths(url, &dir.path().join("data"), None),
        Policy::default(),
    )
    .unwrap();
    serve(dir, ingest, Limits::default(), None)
}

/// Submits `content` signed by the fixture signer as a detached signature: (status, JSON).
fn submit(s: &Server, sender_ref: &str, content: &[u8]) -> (u16, serde_json::Value) {
    let path = s.dir.path().join(format!("{sender_ref}.txt"));
    std::fs::write(&path, content).unwrap();
    let sig_path = s.dir.path().join(format!("{sender_ref}.p7s"));
    // A retry sends the very same signature (signing again would make a new document).
    if !sig_path.exists() {
        openssl_sign_detached(&path, &sig_path);
    }
    let form = multipart::Form::new()
        .text("case", "01-05")
        .text("sender_ref", sender_ref.to_owned())
        .part(
            "signature",
            multipart::Part::bytes(std::fs::read(&sig_path).unwrap()),
        )
        .part("content", multipart::Part::bytes(content.to_vec()));
    let r = client()
        .post(format!("{}/v1/submissions", s.base))
        .bearer_auth(GATEWAY)
        .multipart(form)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or_default())
}

/// `tamga` with the data directory and the cluster named.
fn tamga_pg(c: &Cluster, data: &std::path::Path) -> std::process::Command {
    tamga_at(&c.url(), data)
}

#[test]
fn the_service_files_into_postgres_and_an_audit_runs_beside_it() {
    let c = cluster();
    let s = start_on_postgres(&c);
    let (mut numbers, mut receipts) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let (status, body) = submit(&s, &format!("pg-{i}"), format!("document {i}\n").as_bytes());
        assert_eq!(status, 201, "{body}");
        numbers.push(body["registration"]["number"].as_str().unwrap().to_owned());
        receipts.push(body["receipt_id"].clone());
    }
    assert_eq!(
        numbers,
        (1..=5).map(|n| format!("01-05/{n}")).collect::<Vec<_>>()
    );
    // A retry returns the same receipt and files nothing.
    let (status, again) = submit(&s, "pg-0", b"document 0\n");
    assert_eq!(
        (status, &again["receipt_id"]),
        (201, &receipts[0]),
        "{again}"
    );
    assert_eq!(s.state.ingest.archive.size(), 5);
    let back = client()
        .get(format!("{}/v1/documents/01-05%2F3/content", s.base))
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(back.bytes().unwrap().as_ref(), b"document 2\n");
    // The audit reads one snapshot of the database while the service holds the archive.
    assert_full_audit_passes(tamga_pg(&c, &s.dir.path().join("data")), 0);
    // Without the server's address, the data directory says where its archive is.
    let lost = tamga_cmd(&s.dir.path().join("data"))
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&lost.stderr);
    assert_ne!(lost.status.code(), Some(0));
    assert!(said.contains("is in PostgreSQL"), "{said}");
}

#[test]
fn a_row_changed_behind_tamgas_back_is_reported_by_the_audit() {
    let c = cluster();
    let mut s = start_on_postgres(&c);
    for i in 0..3 {
        assert_eq!(submit(&s, &format!("t-{i}"), b"kept as sent\n").0, 201);
    }
    let data = s.dir.path().join("data");
    s.stop();
    assert_full_audit_passes(tamga_pg(&c, &data), 0);
    let mut db = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    // One byte of the second log entry, as an administrator with SQL access could change it.
    let changed = db
        .execute(
            "UPDATE tamga.tamga_kv SET value = overlay(value placing '\\x00'::bytea from 20)
             WHERE space = ascii('L') AND key = '\\x0000000000000001'::bytea",
            &[],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let audit = tamga_pg(&c, &data)
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    assert_ne!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

#[test]
fn a_database_crash_under_load_loses_no_acknowledged_filing() {
    let c = cluster();
    let mut s = start_on_postgres(&c);
    let mut acknowledged = Vec::new();
    let mut unanswered = Vec::new();
    for i in 0..30 {
        if i == 10 {
            c.crash();
        }
        if i == 20 {
            c.restart();
        }
        let (status, body) = submit(&s, &format!("load-{i}"), format!("filing {i}\n").as_bytes());
        match status {
            201 => acknowledged.push((i, body["registration"]["number"].clone())),
            503 => unanswered.push(i),
            other => panic!("filing {i}: {other} {body}"),
        }
    }
    assert!(
        unanswered.len() >= 10,
        "the database was down for ten filings: {unanswered:?}"
    );
    assert!(acknowledged.len() >= 10, "{acknowledged:?}");
    // The senders without a receipt send again, as the regulation says: each gets one now,
    // with the same number if its first try was filed after all.
    for i in unanswered {
        let (status, body) = submit(&s, &format!("load-{i}"), format!("filing {i}\n").as_bytes());
        assert_eq!(status, 201, "retry of {i}: {body}");
        acknowledged.push((i, body["registration"]["number"].clone()));
    }
    // Every filing kept once, numbers 1..=30 without a gap, every acknowledged one readable.
    let mut numbers: Vec<u64> = acknowledged
        .iter()
        .map(|(_, n)| n.as_str().unwrap()[6..].parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=30).collect::<Vec<u64>>(), "{acknowledged:?}");
    assert_eq!(s.state.ingest.archive.size(), 30);
    let data = s.dir.path().join("data");
    s.stop();
    assert_full_audit_passes(tamga_pg(&c, &data), 0);
}

/// The README's high-availability recipe, run: a primary with a synchronous streaming
/// standby, the service given both hosts with `target_session_attrs=read-write`; the primary
/// dies, the standby is promoted, and the service finds it. While no primary is up, senders
/// get 503 and send again; no acknowledged filing is lost and the audit passes on the new
/// primary.
#[test]
fn a_promoted_standby_takes_over_and_no_acknowledged_filing_is_lost() {
    let primary = cluster();
    let standby = primary
        .standby(true)
        .unwrap_or_else(|why| panic!("no standby: {why}"));
    let url = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=tamga dbname=postgres \
         target_session_attrs=read-write connect_timeout=5",
        primary.port, standby.port
    );
    let mut s = start_on(&url);
    let mut filed = Vec::new();
    for i in 0..8 {
        let (status, body) = submit(&s, &format!("ha-{i}"), format!("before {i}\n").as_bytes());
        assert_eq!(status, 201, "{body}");
        filed.push(body["registration"]["number"].clone());
    }
    primary.crash();
    // No primary: the standby is read-only, so nothing can be filed and nothing is receipted.
    for i in 8..11 {
        let (status, body) = submit(&s, &format!("ha-{i}"), format!("during {i}\n").as_bytes());
        assert_eq!(status, 503, "filing {i} without a primary: {body}");
    }
    standby.promote().unwrap();
    // The senders without a receipt send again; the service reconnects to the new primary.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for i in 8..14 {
        let content = format!("during {i}\n");
        let body = loop {
            let (status, body) = submit(&s, &format!("ha-{i}"), content.as_bytes());
            if status == 201 {
                break body;
            }
            assert_eq!(status, 503, "{body}");
            assert!(std::time::Instant::now() < deadline, "no takeover: {body}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        filed.push(body["registration"]["number"].clone());
    }
    let numbers: Vec<String> = filed
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        numbers,
        (1..=14).map(|n| format!("01-05/{n}")).collect::<Vec<_>>()
    );
    let back = client()
        .get(format!("{}/v1/documents/01-05%2F8/content", s.base))
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(back.bytes().unwrap().as_ref(), b"before 7\n");
    let data = s.dir.path().join("data");
    s.stop();
    assert_full_audit_passes(tamga_at(&standby.url(), &data), 0);
}
