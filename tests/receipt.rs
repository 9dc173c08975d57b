//! Receipts are CMS that OpenSSL and tamga's own verifier both accept, and nothing else.

mod common;
use std::process::Command;
use tamga::receipt::ReceiptSigner;
use tamga::verify::{Policy, Status};

const AT: i64 = common::AT;

#[test]
fn receipts_verify_with_openssl_and_tamga_and_tampering_shows() {
    let dir = tempfile::tempdir().unwrap();
    let signer = ReceiptSigner::load_or_create(dir.path(), "ТОО «Демо»").unwrap();
    let body = br#"{"receipt_id":"r1","status":"accepted"}"#;
    let der = signer.sign(body, AT).unwrap();
    let path = dir.path().join("r.p7s");
    std::fs::write(&path, &der).unwrap();

    // OpenSSL, with the service certificate as the only anchor.
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-in"])
        .arg(&path)
        .arg("-CAfile")
        .arg(dir.path().join("receipt.pem"))
        .args(["-attime", &AT.to_string()])
        .output()
        .expect("openssl command line");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, body);

    // tamga, with the same anchor.
    let v = common::verifier(dir.path(), Policy::default());
    let r = v.verify(&der, None, AT);
    assert_eq!(r.status, Status::Accepted, "{r:#?}");
    assert_eq!(r.signers[0].algorithm.as_deref(), Some("ecdsa-sha256"));
    assert_eq!(
        r.signers[0].signing_time.as_deref(),
        Some("2026-06-01T00:00:00Z")
    );

    // Any change to the body is caught.
    let mut t = der.clone();
    let i = t.windows(body.len()).position(|w| w == body).unwrap();
    t[i + 3] ^= 1;
    assert_eq!(v.verify(&t, None, AT).status, Status::Rejected);

    // The key is kept: a second start signs with the same certificate.
    let again = ReceiptSigner::load_or_create(dir.path(), "ignored").unwrap();
    assert_eq!(again.certificate(), signer.certificate());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("receipt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "receipt.key readable by others");
    }
}

#[test]
fn a_certificate_for_another_key_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ReceiptSigner::load_or_create(a.path(), "A").unwrap();
    ReceiptSigner::load_or_create(b.path(), "B").unwrap();
    std::fs::copy(b.path().join("receipt.pem"), a.path().join("receipt.pem")).unwrap();
    let err = ReceiptSigner::load_or_create(a.path(), "A").unwrap_err();
    assert!(err.to_string().contains("not for this key"), "{err}");
}
