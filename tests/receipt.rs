//! Receipts are CMS that OpenSSL and tamga's own verifier both accept, and nothing else.

mod common;
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

    // OpenSSL, with the service certificate as the only anchor.
    let ca = dir.path().join("receipt.pem");
    let printed = common::openssl_verified(&path, &der, &ca, &["-attime", &AT.to_string()], "r1");
    assert_eq!(printed, body);

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

#[test]
fn a_receipt_says_when_revocation_went_unchecked_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let prefer = Policy {
        revocation: tamga::verify::RevocationPolicy::Prefer,
        ..Policy::default()
    };
    let ingest =
        tamga::setup::open(&common::archive_paths(&dir.path().join("data")), prefer).unwrap();
    let submit = |name: &str| {
        let sig = std::fs::read(common::fixtures().join("sig").join(name)).unwrap();
        let out = ingest
            .submit(&tamga::ingest::Submission {
                case: "01-05",
                signature: &sig,
                content: None,
                sender_ref: None,
                received_at: AT,
                submitter: None,
            })
            .unwrap();
        assert_eq!(out.status, Status::Accepted);
        serde_json::from_slice::<serde_json::Value>(&out.body()).unwrap()
    };
    // The issuer of this signer publishes no CRL: accepted under `prefer`, and the receipt
    // the sender keeps says the status was not checked.
    let unchecked = submit("nocrl.der");
    let warnings = unchecked["warnings"]
        .as_array()
        .expect("warnings in the receipt");
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "revocation-unchecked" && w["signer"] == 0),
        "{unchecked}"
    );
    // Checked against a current CRL: no warnings field at all (receipts as before).
    let checked = submit("rsa-attached.der");
    assert!(checked.get("warnings").is_none(), "{checked}");
}
