//! Signed XML through the same pipeline as CMS: `tamga verify FILE.xml`, `tamga import`, and
//! `POST /v1/submissions` with `Content-Type: application/xml` or an XML `signature` part —
//! decided, filed byte-exact and receipted, the receipt naming the format.

mod common;
use common::server::{client, start};
use common::*;
use reqwest::StatusCode;
use reqwest::blocking::multipart;
use tamga::http::Limits;

const GATEWAY: &str = "demo-gateway-token";
const SIGNED: &str = "tests/xml/enveloped-rsa-exc.xml";

fn signed() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGNED)).unwrap()
}
use std::path::Path;

#[test]
fn cli_verify_takes_an_xml_file() {
    let run = |file: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("verify")
            .arg(file)
            .args([
                "--trust",
                "tests/fixtures/trust",
                "--at",
                "2026-06-01T00:00:00Z",
            ])
            .arg("--json")
            .output()
            .unwrap()
    };
    let out = run(Path::new(SIGNED));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signers"][0]["algorithm"], "rsa-pkcs1-sha256");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    let text = String::from_utf8(signed()).unwrap();
    std::fs::write(&bad, text.replacen("first", "FIRST", 1)).unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reasons"][0]["code"], "content-mismatch");
}

#[test]
fn import_files_an_xml_document() {
    let dir = tempfile::tempdir().unwrap();
    let o = tamga_cmd(dir.path())
        .args([
            "import",
            "--case",
            "01-05",
            SIGNED,
            "--at",
            "2026-06-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    succeeded(&o);
    succeeded(
        &tamga_cmd(dir.path())
            .args(["audit", "verify"])
            .output()
            .unwrap(),
    );
}

fn succeeded(o: &std::process::Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A raw-body submission.
fn post(
    s: &common::server::Server,
    query: &str,
    ct: &str,
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    client()
        .post(format!("{}/v1/submissions?{query}", s.base))
        .bearer_auth(GATEWAY)
        .header("Content-Type", ct)
        .body(body)
        .send()
        .unwrap()
}

#[test]
fn http_takes_xml_raw_and_multipart_files_it_byte_exact_and_names_the_format() {
    let s = start("", Limits::default(), None);
    let raw = post(&s, "case=01-05&sender_ref=x1", "application/xml", signed());
    assert_eq!(raw.status(), StatusCode::CREATED);
    let body: serde_json::Value = raw.json().unwrap();
    assert_eq!(body["format"], "xmldsig", "{body}");
    assert_eq!(body["status"], "accepted");
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
    // Typed as XML, so the console names the download .xml, not .p7s.
    assert_eq!(back.headers()["content-type"], "application/xml");
    assert_eq!(back.bytes().unwrap().to_vec(), signed(), "filed byte-exact");

    let form = multipart::Form::new().text("case", "01-05").part(
        "signature",
        multipart::Part::bytes(signed()).file_name("doc.xml"),
    );
    let res = client()
        .post(format!("{}/v1/submissions", s.base))
        .bearer_auth(GATEWAY)
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let text = String::from_utf8(signed()).unwrap();
    let bad = post(
        &s,
        "case=01-05",
        "application/xml",
        text.replacen("first", "FIRST", 1).into_bytes(),
    );
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A CMS receipt has no format field: its bytes are what they were.
    let cms = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let res = post(&s, "case=01-05", "application/pkcs7-mime", cms);
    let body: serde_json::Value = res.json().unwrap();
    assert!(body.get("format").is_none(), "{body}");
}
