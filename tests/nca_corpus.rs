//! The real Kalkan-made signatures of the Kazakh national PKI's test environment
//! (../shared/corpus/nca-kz-test), with the test intermediate CAs as trust anchors.

mod common;
use common::*;
use tamga::verify::{Policy, SignerStatus, Status};

fn verify_corpus(name: &str, content: Option<&str>, when: &str) -> tamga::verify::Report {
    let sig = std::fs::read(corpus().join(name)).unwrap();
    let content = content.map(|c| std::fs::read(corpus().join(c)).unwrap());
    verifier(&corpus().join("ca"), Policy::default()).verify(&sig, content.as_deref(), at(when))
}

#[test]
fn rsa_signature_is_accepted_while_its_certificate_was_valid() {
    let r = verify_corpus("cms-attached-rsa.p7s", None, "2021-06-01T00:00:00Z");
    assert_eq!(r.status, Status::Accepted, "{r:#?}");
    assert_eq!(r.signers[0].iin.as_deref(), Some("123456789011"));
    assert_eq!(
        r.signers[0].signing_time.as_deref(),
        Some("2022-09-28T14:40:30Z")
    );
    // No CRL of the RSA CA is current in June 2021: said, not silently passed.
    assert!(r.warnings.iter().any(|w| w.code == "revocation-unchecked"));
}

#[test]
fn rsa_signature_is_expired_at_its_signing_time() {
    let r = verify_corpus("cms-attached-rsa.p7s", None, "2022-09-28T00:00:00Z");
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(codes(&r), ["certificate-expired"]);
}

#[test]
fn two_signer_files_rsa_expired_and_gost_reported() {
    for (file, content) in [
        ("cms-attached-rsa-gost2015.p7s", None),
        ("cms-detached-gost2015-rsa.p7s", Some("content.txt")),
    ] {
        let r = verify_corpus(file, content, "2022-09-28T00:00:00Z");
        assert_eq!(r.status, Status::Rejected, "{file}");
        assert_eq!(r.signers.len(), 2, "{file}");
        let rsa = r
            .signers
            .iter()
            .find(|s| s.algorithm.as_deref() == Some("rsa-pkcs1-sha256"))
            .unwrap();
        assert_eq!(rsa.status, SignerStatus::Invalid);
        assert_eq!(
            rsa.reasons.iter().map(|c| c.code()).collect::<Vec<_>>(),
            ["certificate-expired"],
            "{file}"
        );
        assert_eq!(rsa.iin.as_deref(), Some("123456789011"));
        let gost = r
            .signers
            .iter()
            .find(|s| s.iin.as_deref() == Some("123456789012"))
            .unwrap();
        assert_eq!(
            gost.reasons.iter().map(|c| c.code()).collect::<Vec<_>>(),
            ["algorithm-unsupported"],
            "{file}"
        );
    }
}

#[test]
fn detached_corpus_signature_without_content_is_content_missing() {
    let r = verify_corpus(
        "cms-detached-gost2015-rsa.p7s",
        None,
        "2022-09-28T00:00:00Z",
    );
    assert!(codes(&r).contains(&"content-missing".to_owned()));
}
