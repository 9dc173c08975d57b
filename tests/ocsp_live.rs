//! OCSP for real, on loopback: `openssl ocsp -port` as the responder the leaves' AIA names
//! (or a canned server answering one fixed body), tamga's pipeline asking it about signers
//! whose status the trust store (no CRL here) does not establish, under `require`:
//! good → accepted; revoked, on hold → certificate-revoked, final; unknown, responder down,
//! signed by a wrong key, stale, a nonce mismatch, garbage → not decided ("try later",
//! nothing filed), the responder's URL named; once the responder answers, the retry is decided.

mod common;
use common::ocsp::{OcspPki, Responder, free_port};
use common::pki::now;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use tamga::ingest::{Ingest, IngestError, Submission};
use tamga::reasons::Reason;
use tamga::verify::{Policy, RevocationPolicy, Status};

/// A PKI whose leaves name a live `openssl ocsp` responder signing with `signer`.
fn live(signer: &str, extra: &[&str]) -> (OcspPki, Responder) {
    for _ in 0..5 {
        let port = free_port();
        let pki = OcspPki::new(Some(&format!("http://127.0.0.1:{port}/")));
        if let Some(r) = Responder::start(&pki, port, signer, extra) {
            return (pki, r);
        }
    }
    panic!("no free port for openssl ocsp after 5 tries");
}

/// The pipeline over a fresh archive in `dir`, trusting the PKI's CA (no CRL), revocation
/// required, with `[revocation]` set to OCSP on plus `extra`.
fn ingest(pki: &OcspPki, dir: &Path, extra: &str) -> Ingest {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("{demo}\n[revocation]\nocsp = true\n{extra}\n"),
    )
    .unwrap();
    let paths = tamga::setup::Paths {
        data: dir.join("data"),
        policy,
        trust: vec![pki.trust()],
        installed_keys: dir.join("no-installed-keys"),
        store: None,
        database: None,
    };
    let verify = Policy {
        revocation: RevocationPolicy::Require,
        ..Policy::default()
    };
    tamga::setup::open(&paths, verify).unwrap()
}

const HOSTS: &str = "ocsp-hosts = [\"127.0.0.1\"]";

fn submit(
    ing: &Ingest,
    sig: &[u8],
    sender_ref: &str,
    at: i64,
) -> Result<tamga::ingest::Outcome, IngestError> {
    ing.submit(&Submission {
        case: "01-05",
        signature: sig,
        content: None,
        sender_ref: Some(sender_ref),
        received_at: at,
        submitter: None,
    })
}

/// The "try later" sentences, or a panic naming what came instead.
fn not_decided(r: Result<tamga::ingest::Outcome, IngestError>) -> Vec<String> {
    match r {
        Err(IngestError::Indeterminate(missing)) => missing,
        Err(e) => panic!("expected not decided, got {e}"),
        Ok(o) => panic!("expected not decided, got {:?} {:?}", o.status, o.reasons),
    }
}

#[test]
fn good_is_accepted_and_the_answer_is_cached_until_next_update() {
    let (pki, responder) = live("responder", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let sig = pki.sign("good");
    let out = submit(&ing, &sig, "a", now()).unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    assert_eq!(ing.ocsp.as_ref().unwrap().cached(), 1);
    // With the responder gone, the cached answer still decides (until its nextUpdate).
    drop(responder);
    let out = submit(&ing, &sig, "b", now()).unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    assert!(!out.replay);
}

#[test]
fn revoked_and_on_hold_are_final_rejections() {
    let (pki, _responder) = live("ca", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    for leaf in ["revoked", "hold"] {
        let out = submit(&ing, &pki.sign(leaf), leaf, now()).unwrap();
        assert_eq!(out.status, Status::Rejected, "{leaf}");
        assert_eq!(out.reasons, vec![Reason::CertificateRevoked], "{leaf}");
    }
}

#[test]
fn unknown_is_not_decided() {
    // RFC 6960 §2.2: "unknown" says the responder does not know the certificate: no status,
    // neither good nor revoked, so not a final verdict either.
    let (pki, _responder) = live("responder", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let missing = not_decided(submit(&ing, &pki.sign("stranger"), "s", now()));
    assert!(missing.iter().any(|m| m.contains("unknown")), "{missing:?}");
}

#[test]
fn a_responder_down_is_try_later_naming_it_then_the_retry_is_decided() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let pki = OcspPki::new(Some(&url));
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let sig = pki.sign("good");
    let missing = not_decided(submit(&ing, &sig, "r", now()));
    assert!(missing.iter().any(|m| m.contains(&url)), "{missing:?}");
    // Nothing was filed: the same submission, once the responder is up, gets its verdict.
    let Some(_responder) = Responder::start(&pki, port, "responder", &["-ndays", "1"]) else {
        eprintln!("port {port} taken meanwhile; the retry half is skipped");
        return;
    };
    let out = submit(&ing, &sig, "r", now()).unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    assert!(!out.replay);
}

#[test]
fn a_host_not_allowed_is_not_asked() {
    let (pki, _responder) = live("responder", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    // No ocsp-hosts: the AIA's host is the sender's word, not the operator's.
    let ing = ingest(&pki, tmp.path(), "");
    let missing = not_decided(submit(&ing, &pki.sign("good"), "h", now()));
    assert!(
        missing.iter().any(|m| m.contains("not allowed")),
        "{missing:?}"
    );
}

#[test]
fn a_response_signed_by_a_wrong_key_is_not_used() {
    let (pki, responder) = live("wrong", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let missing = not_decided(submit(&ing, &pki.sign("good"), "w", now()));
    assert!(
        missing
            .iter()
            .any(|m| m.contains(&responder.url) && m.contains("did not authorise")),
        "{missing:?}"
    );
    assert_eq!(ing.ocsp.as_ref().unwrap().cached(), 0);
}

#[test]
fn a_stale_response_is_not_used() {
    // Good for one day; the document is judged two days on (its certificate is still valid).
    let (pki, responder) = live("responder", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let later = now() + 2 * 86_400;
    let missing = not_decided(submit(&ing, &pki.sign("good"), "st", later));
    assert!(
        missing
            .iter()
            .any(|m| m.contains(&responder.url) && m.contains("stale")),
        "{missing:?}"
    );
}

/// A server on `listener` answering every request with `body`.
fn canned(listener: std::net::TcpListener, body: Vec<u8>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { return };
            // Read the head, then as much body as Content-Length says.
            let mut r = std::io::BufReader::new(c.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0u8; len];
            let _ = r.read_exact(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
    });
}

/// A PKI whose leaves name a canned server, and that server's URL; `make` builds the body.
fn with_canned(make: impl FnOnce(&OcspPki) -> Vec<u8>) -> (OcspPki, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let pki = OcspPki::new(Some(&url));
    let body = make(&pki);
    canned(listener, body);
    (pki, url)
}

#[test]
fn a_nonce_mismatch_is_not_used() {
    // An answer to another request, with that request's nonce: a replay.
    let (pki, url) = with_canned(|pki| pki.respond_with_nonce("good", "responder"));
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let missing = not_decided(submit(&ing, &pki.sign("good"), "n", now()));
    assert!(
        missing
            .iter()
            .any(|m| m.contains(&url) && m.contains("nonce")),
        "{missing:?}"
    );
    // Without nonces (a responder that ignores them), the same answer is used.
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), &format!("{HOSTS}\nocsp-nonce = \"off\""));
    let out = submit(&ing, &pki.sign("good"), "n", now()).unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
}

#[test]
fn garbage_is_not_used() {
    let (pki, url) = with_canned(|_| b"<html>maintenance</html>".to_vec());
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let missing = not_decided(submit(&ing, &pki.sign("good"), "g", now()));
    assert!(missing.iter().any(|m| m.contains(&url)), "{missing:?}");
}

#[test]
fn a_configured_responder_and_sha256_cert_ids_are_used() {
    // The leaves name no responder; the policy names one for their CA, by its key id.
    let mut found = None;
    for _ in 0..5 {
        let port = free_port();
        let pki = OcspPki::new(None);
        if let Some(r) = Responder::start(&pki, port, "responder", &["-ndays", "1"]) {
            found = Some((pki, r));
            break;
        }
    }
    let (pki, responder) = found.expect("a free port");
    let ca = tamga::verify::certificate::Certificate::from_der(&pki.der("ca")).unwrap();
    let key_id = tamga::verify::certificate::hex(ca.subject_key_id.as_deref().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let extra = format!(
        "ocsp-hash = \"sha256\"\n[revocation.responders]\n\"{key_id}\" = \"{}\"\n",
        responder.url
    );
    let ing = ingest(&pki, tmp.path(), &extra);
    let out = submit(&ing, &pki.sign("good"), "c", now()).unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    let out = submit(&ing, &pki.sign("revoked"), "c", now()).unwrap();
    assert_eq!(out.reasons, vec![Reason::CertificateRevoked]);
}

#[test]
fn through_the_service_a_responder_down_is_503_naming_it() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let pki = OcspPki::new(Some(&url));
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let server = common::server::serve(tmp, ing, tamga::http::Limits::default(), None);
    let token = "demo-gateway-token";
    let r = common::server::raw_submit(&server, Some(token), "01-05", "x", pki.sign("good"));
    assert_eq!(r.status().as_u16(), 503, "{:?}", r.text());
    assert!(r.headers().get("retry-after").is_some());
    let text = r.text().unwrap();
    assert!(text.contains(&url), "{text}");
}

#[test]
fn the_fetched_answer_is_kept_as_evidence_and_rechecks_the_verdict_offline() {
    let (pki, responder) = live("responder", &["-ndays", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let ing = ingest(&pki, tmp.path(), HOSTS);
    let sig = pki.sign("good");
    for r in ["a", "b"] {
        let out = submit(&ing, &sig, r, now()).unwrap();
        assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    }
    drop(responder);
    // Issue 14 item 5: the CA (the anchor) and the answer, the second time from the cache,
    // one blob for both documents.
    let evidence = |i: u64| match ing.archive.entry(i).unwrap().unwrap().event {
        tamga::archive::log::Event::Accepted { evidence, .. } => evidence,
        other => panic!("{other:?}"),
    };
    let roles: Vec<String> = evidence(0).iter().map(|f| f.role.clone()).collect();
    assert_eq!(roles, ["certificate", "ocsp", "settings"]);
    assert_eq!(evidence(0), evidence(1));
    let out = tmp.path().join("export");
    tamga::archive::export::write(&ing.archive, &out).unwrap();
    let ocsp = &evidence(0)[1];
    let der = std::fs::read(out.join(format!("evidence/{}.ocsp", ocsp.sha256))).unwrap();
    assert!(tamga::verify::ocsp::Response::from_der(&der).is_ok());
    // Offline, responder gone: the verdicts hold on the kept answer alone.
    let report = tamga::archive::export::verify(&out).unwrap();
    assert_eq!(report.rechecked, 2);
}
