//! The service against a real server on loopback: every fixture over HTTP, the full role ×
//! endpoint × case matrix with the access log, bad input and overload (`http/bad_input.rs`).

#[path = "http/bad_input.rs"]
mod bad_input;
mod common;
use common::server::{Server, client, raw_submit, start};
use common::*;
use reqwest::StatusCode;
use reqwest::blocking::multipart;
use tamga::http::Limits;
use tamga::verify::{Policy, Status};

const GATEWAY: &str = "demo-gateway-token";
const AUDITOR: &str = "demo-auditor-token";
const ARCHIVIST: &str = "demo-archivist-token";
const ADMIN: &str = "demo-admin-token";
const GATEWAY2: &str = "second-gateway-token";

fn extra_principals() -> String {
    use sha2::Digest;
    let h = tamga::verify::certificate::hex(&sha2::Sha256::digest(GATEWAY2.as_bytes()));
    format!("[[principal]]\nname = \"gateway-2\"\nrole = \"chancellery\"\ntoken_sha256 = \"{h}\"\n")
}

/// Submits a fixture as a multipart form (with its content, when detached), asking for the
/// signed DER receipt.
fn multipart_submit(
    s: &Server,
    name: &str,
    sig: &[u8],
    content: Option<&[u8]>,
) -> reqwest::blocking::Response {
    let mut form = multipart::Form::new()
        .text("case", "01-05")
        .text("sender_ref", name.to_owned())
        .part(
            "signature",
            multipart::Part::bytes(sig.to_vec()).file_name(name.to_owned()),
        );
    if let Some(c) = content {
        form = form.part("content", multipart::Part::bytes(c.to_vec()));
    }
    client()
        .post(format!("{}/v1/submissions", s.base))
        .bearer_auth(GATEWAY)
        .header("Accept", "application/pkcs7-mime")
        .multipart(form)
        .send()
        .unwrap()
}

/// The body of a signed DER receipt, which OpenSSL must accept with the service certificate
/// `cert` and print.
fn receipt_openssl_accepts(
    s: &Server,
    cert: &std::path::Path,
    name: &str,
    der: &[u8],
) -> serde_json::Value {
    let out = openssl_verified(&s.dir.path().join("r.p7s"), der, cert, &[], name);
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn every_fixture_over_http_multipart_and_raw() {
    let s = start("", Limits::default(), None);
    let verifier = verifier(&fixtures().join("trust"), Policy::default());
    let sig_dir = fixtures().join("sig");
    let mut names: Vec<String> = std::fs::read_dir(&sig_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let cert = s.dir.path().join("data/keys/receipt.pem");
    for (i, name) in names
        .iter()
        .filter(|n| n.ends_with(".der") || n.ends_with(".pem"))
        .enumerate()
    {
        let sig = std::fs::read(sig_dir.join(name)).unwrap();
        let content =
            (name == "rsa-detached.der").then(|| std::fs::read(sig_dir.join("doc.txt")).unwrap());
        let expected = verifier.verify(&sig, content.as_deref(), tamga::clock::now());
        let multipart_form = i % 2 == 0 || content.is_some();
        let res = if multipart_form {
            multipart_submit(&s, name, &sig, content.as_deref())
        } else {
            raw_submit(&s, Some(GATEWAY), "01-05", name, sig.clone())
        };
        let want = if expected.status == Status::Accepted {
            StatusCode::CREATED
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(res.status(), want, "{name}");
        let bytes = res.bytes().unwrap().to_vec();
        let body: serde_json::Value = if multipart_form {
            receipt_openssl_accepts(&s, &cert, name, &bytes)
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        let got: std::collections::BTreeSet<String> = body["reasons"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {body}"))
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, codes(&expected).into_iter().collect(), "{name}");
        if expected.status == Status::Accepted {
            let regno = body["registration"]["number"]
                .as_str()
                .unwrap()
                .replace('/', "%2F");
            let back = client()
                .get(format!("{}/v1/documents/{regno}/signature", s.base))
                .bearer_auth(GATEWAY)
                .send()
                .unwrap();
            assert_eq!(back.status(), StatusCode::OK);
            assert_eq!(back.bytes().unwrap().to_vec(), sig, "{name}");
        }
    }
}

fn call(s: &Server, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let c = client();
    let mut r = match method {
        "POST" => c.post(format!("{}{path}", s.base)),
        _ => c.get(format!("{}{path}", s.base)),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().unwrap().status()
}

/// The seven callers of the matrix: who, and the token they present.
const CALLERS: [(&str, Option<&str>); 7] = [
    ("anonymous", None),
    ("unknown", Some("no-such-token")),
    ("gateway", Some(GATEWAY)),
    ("gateway-2", Some(GATEWAY2)),
    ("archivist", Some(ARCHIVIST)),
    ("auditor", Some(AUDITOR)),
    ("admin", Some(ADMIN)),
];

/// Every route but submitting, with the status each caller of [`CALLERS`] must get, in order.
fn matrix(receipt_path: &str) -> Vec<(&str, &str, [StatusCode; 7])> {
    // Expected status per caller, in the order of CALLERS.
    let u = StatusCode::UNAUTHORIZED;
    let f = StatusCode::FORBIDDEN;
    let k = StatusCode::OK;
    vec![
        ("GET", receipt_path, [u, u, k, f, k, k, f]),
        ("GET", "/v1/documents/01-05%2F1", [u, u, k, f, k, k, f]),
        (
            "GET",
            "/v1/documents/01-05%2F1/signature",
            [u, u, k, f, k, k, f],
        ),
        ("GET", "/v1/documents/03-07%2F1", [u, u, k, f, k, k, f]),
        // The confidential case lists only archivists for content.
        (
            "GET",
            "/v1/documents/03-07%2F1/signature",
            [u, u, f, f, k, f, f],
        ),
        ("GET", "/v1/cases", [u, u, k, k, k, k, k]),
        ("GET", "/v1/cases/01-05/documents", [u, u, f, f, k, k, f]),
        ("GET", "/v1/checkpoint", [u, u, f, f, f, k, f]),
        ("GET", "/v1/proofs/inclusion?index=0", [u, u, f, f, f, k, f]),
        (
            "GET",
            "/v1/proofs/consistency?from=1",
            [u, u, f, f, f, k, f],
        ),
        ("GET", "/v1/access-log", [u, u, f, f, f, k, f]),
        ("GET", "/checkpoint", [u, u, f, f, f, k, f]),
        ("GET", "/tile/0/000.p/2", [u, u, f, f, f, k, f]),
        ("GET", "/tile/entries/000.p/2", [u, u, f, f, f, k, f]),
        ("POST", "/v1/audit?full=true", [u, u, f, f, f, k, f]),
        ("GET", "/metrics", [u, u, f, f, f, k, k]),
        ("GET", "/v1/reasons", [k, k, k, k, k, k, k]),
        ("GET", "/openapi.json", [k, k, k, k, k, k, k]),
    ]
}

/// Every request is in the access log, with its decision, and the chain verifies.
fn assert_every_request_logged(s: &Server, requests: usize) {
    let log: serde_json::Value = client()
        .get(format!("{}/v1/access-log?limit=1000", s.base))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let records = log["records"].as_array().unwrap();
    assert_eq!(records.len(), requests, "one record per request");
    for r in records {
        let want = match r["status"].as_u64().unwrap() {
            401 => "unauthenticated",
            403 => "denied",
            _ => "allowed",
        };
        assert_eq!(r["decision"], want, "{r}");
        if r["decision"] == "denied" {
            assert!(r["principal"].is_string(), "{r}");
        }
    }
    let audit: serde_json::Value = client()
        .post(format!("{}/v1/audit", s.base))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["status"], "intact", "{audit}");
}

#[test]
fn role_endpoint_case_matrix_and_the_access_log() {
    let s = start(&extra_principals(), Limits::default(), None);
    let p256 = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let r = raw_submit(&s, Some(GATEWAY), "01-05", "open", p256.clone());
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<serde_json::Value>().unwrap()["receipt_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        raw_submit(&s, Some(GATEWAY), "03-07", "confidential", p256.clone()).status(),
        StatusCode::CREATED
    );
    let mut requests = 2;
    let receipt_path = format!("/v1/receipts/{id}");
    let matrix = matrix(&receipt_path);
    let mut failures = Vec::new();
    for (method, path, want) in &matrix {
        for ((who, token), want) in CALLERS.iter().zip(want) {
            let got = call(&s, method, path, *token);
            requests += 1;
            if got != *want {
                failures.push(format!("{who} {method} {path}: {got}, want {want}"));
            }
        }
    }
    // Submitting is the chancellery's alone.
    let (u, f) = (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN);
    for ((who, token), want) in
        CALLERS
            .iter()
            .zip([u, u, StatusCode::CREATED, StatusCode::CREATED, f, f, f])
    {
        let got = raw_submit(&s, *token, "02-03", who, p256.clone()).status();
        requests += 1;
        if got != want {
            failures.push(format!("{who} POST /v1/submissions: {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert_every_request_logged(&s, requests);
}

#[test]
fn etag_and_range_requests() {
    let s = start("", Limits::default(), None);
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    assert_eq!(
        raw_submit(&s, Some(GATEWAY), "01-05", "r", sig.clone()).status(),
        StatusCode::CREATED
    );
    let url = format!("{}/v1/documents/01-05%2F1/signature", s.base);
    let full = client().get(&url).bearer_auth(GATEWAY).send().unwrap();
    let etag = full
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    use sha2::Digest;
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            tamga::verify::certificate::hex(&sha2::Sha256::digest(&sig))
        )
    );
    let r = client()
        .get(&url)
        .bearer_auth(GATEWAY)
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = client()
        .get(&url)
        .bearer_auth(GATEWAY)
        .header("Range", "bytes=10-19")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers().get("content-range").unwrap().to_str().unwrap(),
        format!("bytes 10-19/{}", sig.len())
    );
    assert_eq!(r.bytes().unwrap().to_vec(), sig[10..20].to_vec());
    let r = client()
        .get(&url)
        .bearer_auth(GATEWAY)
        .header("Range", "bytes=-5")
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap().to_vec(), sig[sig.len() - 5..].to_vec());
    let r = client()
        .get(&url)
        .bearer_auth(GATEWAY)
        .header("Range", format!("bytes={}-", sig.len() + 10))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[test]
fn openapi_documents_every_route() {
    let doc: serde_json::Value = serde_json::from_str(tamga::http::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let src = include_str!("../src/http/mod.rs");
    let routes: Vec<&str> = src
        .split(".route(")
        .skip(1)
        .filter_map(|piece| piece.split('"').nth(1))
        .collect();
    assert_eq!(routes.len(), 29, "{routes:?}");
    for r in routes {
        assert!(paths.contains_key(r), "{r} is not in openapi.json");
    }
}

#[test]
fn document_metadata_speaks_the_receipts_vocabulary_and_says_when_it_was_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = tamga_cmd(&data).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let sig = fixtures().join("sig/rsa-attached.der");
    let sig = sig.to_str().unwrap();
    run(&[
        "import",
        sig,
        "--case",
        "99-01",
        "--at",
        "2024-06-03T09:00:00Z",
    ]);
    run(&[
        "import",
        sig,
        "--case",
        "01-05",
        "--sender-ref",
        "b",
        "--at",
        "2026-06-03T09:00:00Z",
    ]);
    let t = "2028-02-01T00:00:00Z";
    run(&[
        "retention",
        "act",
        "new",
        "--case",
        "99-01",
        "--by",
        "A",
        "--at",
        t,
    ]);
    run(&["retention", "act", "approve", "1", "--by", "B", "--at", t]);
    run(&["retention", "act", "approve", "1", "--by", "C", "--at", t]);
    run(&["retention", "act", "execute", "1", "--at", t]);
    let demo = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
    )
    .unwrap();
    let s = common::server::start_with(dir, &demo, Limits::default(), None);
    let get = |path: &str| -> serde_json::Value {
        let r = client()
            .get(format!("{}{path}", s.base))
            .bearer_auth(AUDITOR)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().unwrap()
    };
    let kept = get("/v1/documents/01-05%2F1");
    assert_eq!(kept["registration"]["number"], "01-05/1");
    assert_eq!(kept["registration"]["date"], "2026-06-03");
    assert_eq!(kept["case"]["index"], "01-05");
    assert_eq!(kept["case"]["title"], "Приказы по основной деятельности");
    assert_eq!(kept["status"], "kept");
    assert!(kept["disposal"].is_null());
    let gone = get("/v1/documents/99-01%2F1");
    assert_eq!(gone["status"], "destroyed");
    assert_eq!(gone["disposal"]["act"], "1");
    assert_eq!(gone["disposal"]["date"], "2028-02-01");
    let listing = get("/v1/cases/99-01/documents");
    assert_eq!(listing["documents"][0]["status"], "destroyed");
    assert_eq!(listing["documents"][0]["registration"]["number"], "99-01/1");
}

/// RFC 9162 §2.1.1, written here again so that the check below owes nothing to tamga's own.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            // The largest power of two below the length.
            let k = 1 << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

#[test]
fn tiles_and_entry_bundles_served_at_the_tlog_tiles_paths_check_against_the_checkpoint() {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let s = start("", Limits::default(), None);
    let p256 = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    for i in 0..3 {
        let r = raw_submit(&s, Some(GATEWAY), "01-05", &format!("t{i}"), p256.clone());
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let get = |path: &str| {
        client()
            .get(format!("{}{path}", s.base))
            .bearer_auth(AUDITOR)
            .send()
            .unwrap()
    };
    let cp = get("/checkpoint");
    assert_eq!(cp.status(), StatusCode::OK);
    assert!(
        cp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=2")
    );
    let note = cp.text().unwrap();
    let lines: Vec<&str> = note.lines().collect();
    let size: usize = lines[1].parse().unwrap();
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines[2])
        .unwrap();
    assert_eq!(size, 3);
    let bundle = get(&format!("/tile/entries/000.p/{size}"));
    assert_eq!(bundle.status(), StatusCode::OK);
    assert_eq!(bundle.headers()["content-type"], "application/octet-stream");
    let bundle = bundle.bytes().unwrap();
    let mut leaves = Vec::new();
    let mut rest = &bundle[..];
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let entry = &rest[2..2 + len];
        // Each entry is the log's JSON, as hashed into the tree.
        serde_json::from_slice::<serde_json::Value>(entry).unwrap();
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(entry);
        leaves.push(<[u8; 32]>::from(h.finalize()));
        rest = &rest[2 + len..];
    }
    assert_eq!(leaves.len(), size);
    assert_eq!(
        mth(&leaves).to_vec(),
        root,
        "the entries give the signed root"
    );
    let tile = get(&format!("/tile/0/000.p/{size}")).bytes().unwrap();
    assert_eq!(
        tile.to_vec(),
        leaves.concat(),
        "the level-0 tile holds their leaf hashes"
    );
    // A narrower width of the same tile is its prefix; what the tree does not have yet, or
    // a path not spelled as the spec says, is 404.
    assert_eq!(
        get("/tile/0/000.p/1").bytes().unwrap().to_vec(),
        leaves[0].to_vec()
    );
    for path in [
        "/tile/0/000.p/4",
        "/tile/0/000",
        "/tile/1/000.p/1",
        "/tile/0/0",
        "/tile/x",
    ] {
        assert_eq!(get(path).status(), StatusCode::NOT_FOUND, "{path}");
    }
}
