//! The service against hostile or broken callers: authorisation before any body is read, slow
//! and truncated bodies, idle and slowloris connections, existence oracles, paging overflow,
//! one error shape, and access records that never rewrite an answer.

mod common;

use common::fixtures;
use common::server::{Server, client, raw_submit, start};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tamga::http::Limits;

const GATEWAY: &str = "demo-gateway-token";
const AUDITOR: &str = "demo-auditor-token";
const ARCHIVIST: &str = "demo-archivist-token";

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Sends `head` (and nothing more) on a fresh connection.
fn connect_and_send(s: &Server, head: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr(s)).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c
}

/// Reads an HTTP/1.1 answer's status line and JSON body (the connection is closed by us after).
fn read_answer(c: &mut TcpStream, within: Duration) -> (u16, String) {
    c.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match c.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (status, body)
}

fn limits_fast() -> Limits {
    let mut l = Limits::default();
    l.body.idle = Duration::from_millis(800);
    l.conn.header_timeout = Duration::from_millis(800);
    l
}

fn healthz_within(s: &Server, limit: Duration) {
    let started = Instant::now();
    let r = client()
        .get(format!("{}/healthz", s.base))
        .timeout(Duration::from_secs(5))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        started.elapsed() < limit,
        "healthz took {:?}",
        started.elapsed()
    );
}

#[test]
fn anonymous_header_only_requests_are_refused_before_their_body_and_hold_nothing() {
    let s = start("", Limits::default(), None);
    let head = "POST /v1/retention/acts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n";
    let mut held: Vec<TcpStream> = (0..300).map(|_| connect_and_send(&s, head)).collect();
    // Each is answered 401 at once, without waiting for the ten bytes never sent.
    for c in held.iter_mut().take(20) {
        let (status, body) = read_answer(c, Duration::from_secs(2));
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    healthz_within(&s, Duration::from_secs(1));
    let r = client()
        .get(format!("{}/v1/cases", s.base))
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Nor does a query get parsed for an anonymous caller.
    let r = client()
        .get(format!("{}/v1/proofs/inclusion?index=abc", s.base))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().unwrap().contains("\"error\""));
}

#[test]
fn a_slow_body_is_cut_off_with_408_and_a_short_one_is_400() {
    let s = start("", limits_fast(), None);
    let head = format!(
        "POST /v1/retention/acts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ARCHIVIST}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"cases\""
    );
    let mut c = connect_and_send(&s, &head);
    let started = Instant::now();
    let (status, body) = read_answer(&mut c, Duration::from_secs(5));
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("did not arrive in time"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4));

    // 100 bytes of a declared 5,000, then the sender stops sending: 400, not 413.
    let head = format!(
        "POST /v1/submissions?case=01-05&sender_ref=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {GATEWAY}\r\nContent-Type: application/pkcs7-mime\r\nContent-Length: 5000\r\n\r\n{}",
        "0".repeat(100)
    );
    let mut c = connect_and_send(&s, &head);
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let (status, body) = read_answer(&mut c, Duration::from_secs(5));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ended early"), "{body}");
}

#[test]
fn idle_and_slowloris_connections_cannot_keep_a_caller_out() {
    let mut limits = limits_fast();
    limits.conn.max_connections = 64;
    limits.conn.header_timeout = Duration::from_secs(30);
    let s = start("", limits, None);
    let idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| connect_and_send(&s, "GET /healthz HTTP/1.1\r\n"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for c in &mut slow {
        let _ = c.write_all(b"X-a: b\r\n");
    }
    // Far more connections than the cap are open, none has sent a whole request head, and
    // still a real caller is answered at once: the oldest idle ones made room.
    healthz_within(&s, Duration::from_secs(1));
    drop((idle, slow));
}

#[test]
fn an_idle_connection_is_closed_after_the_header_timeout() {
    let s = start("", limits_fast(), None);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut b = [0u8; 16];
    let n = c.read(&mut b).unwrap_or(0);
    assert_eq!(n, 0, "the server closes, it does not answer");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_clerk_learns_nothing_of_documents_it_did_not_submit() {
    let extra = "[[principal]]\nname = \"other-clerk\"\nrole = \"chancellery\"\ntoken_sha256 = \"0b8d0ff8e0f5d4c0e8e5c2e8c2b8f3b6b1a8c1b5c4a4e7e0d0c9a6f3b2e1d0c9\"\n";
    let token_hash = tamga::verify::certificate::hex(&sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(b"other-clerk-token"),
    ));
    let extra = extra.replace(
        "0b8d0ff8e0f5d4c0e8e5c2e8c2b8f3b6b1a8c1b5c4a4e7e0d0c9a6f3b2e1d0c9",
        &token_hash,
    );
    let s = start(&extra, Limits::default(), None);
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let r = raw_submit(&s, Some(GATEWAY), "01-05", "r", sig);
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: serde_json::Value = r.json().unwrap();
    let id = receipt["receipt_id"].as_str().unwrap().to_owned();
    let get = |path: &str| {
        let r = client()
            .get(format!("{}{path}", s.base))
            .bearer_auth("other-clerk-token")
            .send()
            .unwrap();
        (r.status(), r.text().unwrap())
    };
    // The same answer whether the thing exists or not.
    let (a, ta) = get("/v1/documents/01-05%2F1");
    let (b, tb) = get("/v1/documents/01-05%2F999");
    assert_eq!((a, b), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_eq!(ta, tb);
    let (a, ta) = get(&format!("/v1/receipts/{id}"));
    let (b, tb) = get("/v1/receipts/R-doesnotexist");
    assert_eq!((a, b), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_eq!(ta, tb);
    let (a, _) = get("/v1/documents/01-05%2F1/signature");
    let (b, _) = get("/v1/documents/01-05%2F999/signature");
    assert_eq!((a, b), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
}

fn json_error(r: reqwest::blocking::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{status}: {ct}");
    let v: serde_json::Value = r.json().unwrap();
    let e = v["error"].as_str().unwrap().to_owned();
    assert!(e.ends_with('.'), "one sentence: {e}");
    e
}

#[test]
fn every_error_is_one_json_sentence() {
    let s = start("", Limits::default(), None);
    let c = client();
    let url = |p: &str| format!("{}{p}", s.base);
    let get = |p: &str| c.get(url(p)).bearer_auth(AUDITOR).send().unwrap();
    // Paging that would overflow.
    let e = json_error(
        get(&format!("/v1/cases/01-05/documents?page={}", u64::MAX)),
        StatusCode::BAD_REQUEST,
    );
    assert!(e.contains("page"), "{e}");
    json_error(
        get("/v1/cases/01-05/documents?per_page=0"),
        StatusCode::BAD_REQUEST,
    );
    // A malformed query.
    json_error(
        get("/v1/proofs/inclusion?index=abc"),
        StatusCode::BAD_REQUEST,
    );
    json_error(get("/v1/proofs/inclusion"), StatusCode::BAD_REQUEST);
    // A method the route does not take.
    json_error(
        c.delete(url("/v1/cases"))
            .bearer_auth(AUDITOR)
            .send()
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    );
    // JSON bodies: wrong type, malformed, wrong shape.
    let post = |ct: &str, body: &str| {
        c.post(url("/v1/retention/acts"))
            .bearer_auth(ARCHIVIST)
            .header("Content-Type", ct)
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    json_error(post("text/plain", "{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    json_error(
        post("application/json", "{\"cases\": ["),
        StatusCode::BAD_REQUEST,
    );
    json_error(
        post("application/json", "{\"cases\": 5}"),
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    // A path that is not UTF-8 once decoded.
    json_error(get("/v1/documents/%FF%FE"), StatusCode::BAD_REQUEST);
    // A form field given twice.
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let form = reqwest::blocking::multipart::Form::new()
        .text("case", "01-05")
        .text("case", "02-03")
        .part("signature", reqwest::blocking::multipart::Part::bytes(sig));
    let e = json_error(
        c.post(url("/v1/submissions"))
            .bearer_auth(GATEWAY)
            .multipart(form)
            .send()
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert!(e.contains("more than once"), "{e}");
}

#[test]
fn an_access_record_that_cannot_be_written_yet_never_rewrites_an_answer() {
    let faults = common::failing::Faults::default();
    common::failing::set(&faults.access_only, true);
    let s = common::failing::serve_failing("sled", &faults);
    // Past the point where the records must be written (4,096 waiting), every answer stands.
    let c = client();
    let n = tamga::archive::access::MAX_PENDING + 50;
    for i in 0..n {
        let r = c.get(format!("{}/v1/reasons", s.base)).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
    }
    assert!(s.state.ingest.archive.access_pending() >= n);
    // Once the store takes writes again, nothing was lost.
    common::failing::set(&faults.access_only, false);
    s.state.ingest.archive.flush_access().unwrap();
    assert_eq!(s.state.ingest.archive.access_pending(), 0);
    assert!(s.state.ingest.archive.access_head().0 >= n as u64);
}

#[test]
fn the_openapi_document_gives_every_error_its_one_shape_and_answers_their_schemas() {
    let d: serde_json::Value = serde_json::from_str(tamga::http::OPENAPI).unwrap();
    let schemas = d["components"]["schemas"].as_object().unwrap();
    for name in [
        "Error",
        "Receipt",
        "Document",
        "Case",
        "Inclusion",
        "Consistency",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    for (path, ops) in d["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (code, r) in op["responses"].as_object().unwrap() {
                let schema = &r["content"]["application/json"]["schema"]["$ref"];
                let receipt = path == "/v1/submissions" && code == "422";
                if code.starts_with('4') || code.starts_with('5') {
                    let want = if receipt { "Receipt" } else { "Error" };
                    assert_eq!(
                        schema.as_str(),
                        Some(format!("#/components/schemas/{want}").as_str()),
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
}

/// A server over `dir/data` whose trust directory is `trust`, with revocation required.
fn start_requiring_crls(dir: tempfile::TempDir, trust: &std::path::Path) -> Server {
    let demo = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
    )
    .unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, demo).unwrap();
    let paths = tamga::setup::Paths {
        data: dir.path().join("data"),
        policy,
        trust: vec![trust.to_path_buf()],
        installed_keys: dir.path().join("none"),
        store: None,
        database: None,
    };
    let require = tamga::verify::Policy {
        revocation: tamga::verify::RevocationPolicy::Require,
        ..tamga::verify::Policy::default()
    };
    let ingest = tamga::setup::open(&paths, require).unwrap();
    common::server::serve(dir, ingest, Limits::default(), None)
}

#[test]
fn without_revocation_information_the_answer_is_try_later_and_the_retry_gets_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // The anchor alone, without its CRLs: a signer's status cannot be established now.
    let bare = dir.path().join("bare-trust");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(fixtures().join("trust/root.pem"), bare.join("root.pem")).unwrap();
    let mut s = start_requiring_crls(dir, &bare);
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let r = raw_submit(&s, Some(GATEWAY), "01-05", "later", sig.clone());
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_some());
    let e: serde_json::Value = r.json().unwrap();
    let e = e["error"].as_str().unwrap().to_owned();
    assert!(e.contains("Not decided") && e.contains("revocation"), "{e}");
    assert_eq!(s.state.ingest.archive.size(), 0, "nothing filed");
    // The CRLs arrive; the sender's retry gets a real verdict, not a stored rejection.
    s.stop();
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);
    let s = start_requiring_crls(dir, &fixtures().join("trust"));
    let r = raw_submit(&s, Some(GATEWAY), "01-05", "later", sig);
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[test]
fn every_route_and_method_refuses_an_anonymous_caller_before_reading_anything() {
    let s = start("", Limits::default(), None);
    let d: serde_json::Value = serde_json::from_str(tamga::http::OPENAPI).unwrap();
    let public = ["/healthz", "/v1/reasons", "/openapi.json"];
    let c = client();
    for (path, ops) in d["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            let mut methods = vec![method.to_uppercase()];
            if method == "get" {
                methods.push("HEAD".into());
            }
            for m in methods {
                let url = format!("{}{concrete}?index=abc&page=0", s.base);
                let r = c
                    .request(m.parse().unwrap(), &url)
                    .header("Content-Type", "application/json")
                    .body("{")
                    .send()
                    .unwrap();
                if public.contains(&path.as_str()) {
                    assert!(r.status().is_success(), "{m} {path}: {}", r.status());
                } else {
                    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{m} {path}");
                }
            }
        }
    }
}

#[test]
fn a_very_long_target_is_kept_short_in_the_access_log() {
    let s = start("", Limits::default(), None);
    let long = "a".repeat(20_000);
    let r = client()
        .get(format!("{}/v1/nowhere/{long}", s.base))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let records = s.state.ingest.archive.access_records(0, 10).unwrap();
    let last = records.last().unwrap();
    assert!(last.target.len() < 700, "{}", last.target.len());
    assert!(last.target.contains("sha256"), "{}", last.target);
}
