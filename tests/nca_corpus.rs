//! The real Kalkan-made signatures of the Kazakh national PKI's test environment
//! (tests/corpus/nca-kz-test, copied from the shared corpus), with the test intermediate CAs as trust anchors.

mod common;
use common::*;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, SignerStatus, Status};

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

/// Both CA and CRL directories, revocation required, one valid signer enough: the GOST signer
/// can only pass if its signature, its path to the GOST 2022 CA and that CA's GOST-signed CRL
/// all verify.
fn gost_policy() -> Policy {
    Policy {
        revocation: RevocationPolicy::Require,
        signers: SignerRule::AtLeastOne,
        ..Policy::default()
    }
}

fn gost_verifier(with_crls: bool) -> tamga::verify::Verifier {
    let mut dirs = vec![corpus().join("ca")];
    if with_crls {
        dirs.push(corpus().join("crl"));
    }
    tamga::verify::Verifier::new(tamga::trustdir::load(&dirs).unwrap(), gost_policy())
}

const GOST_IIN: &str = "123456789012";

#[test]
fn two_signer_files_rsa_expired_and_gost_2015_valid() {
    let v = gost_verifier(true);
    for (file, content) in [
        ("cms-attached-rsa-gost2015.p7s", None),
        ("cms-detached-gost2015-rsa.p7s", Some("content.txt")),
    ] {
        let sig = std::fs::read(corpus().join(file)).unwrap();
        let content = content.map(|c| std::fs::read(corpus().join(c)).unwrap());
        let r = v.verify(&sig, content.as_deref(), at("2022-09-28T00:00:00Z"));
        assert_eq!(r.status, Status::Accepted, "{file}: {r:#?}");
        assert_eq!(r.signers.len(), 2, "{file}");
        let rsa = r
            .signers
            .iter()
            .find(|s| s.algorithm.as_deref() == Some("rsa-pkcs1-sha256"))
            .unwrap();
        assert_eq!(rsa.status, SignerStatus::Invalid);
        assert_eq!(
            rsa.reasons.iter().map(|c| c.code()).collect::<Vec<_>>(),
            // The RSA CA's CRL ended on 2022-09-25, and revocation is required here.
            ["certificate-expired", "revocation-unavailable"],
            "{file}"
        );
        assert_eq!(rsa.iin.as_deref(), Some("123456789011"));
        let gost = r
            .signers
            .iter()
            .find(|s| s.iin.as_deref() == Some(GOST_IIN))
            .unwrap();
        assert_eq!(gost.status, SignerStatus::Valid, "{file}: {gost:#?}");
        assert!(gost.reasons.is_empty());
        assert_eq!(gost.algorithm.as_deref(), Some("gost-kz-streebog512"));
        assert_eq!(gost.digest.as_deref(), Some("streebog512"));
        let top = gost.path.last().unwrap();
        assert!(
            top.contains("(GOST) TEST 2022"),
            "{file}: path {:?}",
            gost.path
        );
    }
}

#[test]
fn gost_signer_without_its_crl_is_not_valid_when_revocation_is_required() {
    let sig = std::fs::read(corpus().join("cms-attached-rsa-gost2015.p7s")).unwrap();
    let r = gost_verifier(false).verify(&sig, None, at("2022-09-28T00:00:00Z"));
    assert_eq!(r.status, Status::Rejected, "{r:#?}");
    let gost = r
        .signers
        .iter()
        .find(|s| s.iin.as_deref() == Some(GOST_IIN))
        .unwrap();
    assert_eq!(gost.status, SignerStatus::Invalid);
}

/// Where `part` (a slice of `whole`) starts in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

#[test]
fn one_flipped_byte_in_gost_signature_content_or_signed_attributes_rejects() {
    let v = gost_verifier(true);
    let when = at("2022-09-28T00:00:00Z");
    let file = std::fs::read(corpus().join("cms-attached-rsa-gost2015.p7s")).unwrap();
    assert_eq!(v.verify(&file, None, when).status, Status::Accepted);

    let sd = tamga::verify::cms::parse(&file).unwrap();
    let gost = sd
        .signers
        .iter()
        .find(|s| s.signature_algorithm.oid == "1.2.398.3.10.1.1.2.3.2")
        .unwrap();
    let std::borrow::Cow::Borrowed(sig) = &gost.signature else {
        panic!("DER signature value is a slice of the input");
    };
    let attrs = gost.signed_attrs.as_ref().unwrap().raw;
    let content = sd.content.as_deref().unwrap();
    assert_eq!(content, b"test123");
    let mut positions: Vec<usize> = Vec::new();
    for part in [&sig[..], attrs, content] {
        let start = offset_in(&file, part);
        positions.extend(start..start + part.len());
    }
    assert!(positions.len() > 128 + 7 + 100, "{}", positions.len());
    for pos in positions {
        for mask in [0x01u8, 0x80] {
            let mut bad = file.clone();
            bad[pos] ^= mask;
            let r = v.verify(&bad, None, when);
            assert_ne!(
                r.status,
                Status::Accepted,
                "byte {pos} ^ {mask:#x} accepted"
            );
        }
    }

    // The detached file: every byte of the content matters.
    let det = std::fs::read(corpus().join("cms-detached-gost2015-rsa.p7s")).unwrap();
    let text = std::fs::read(corpus().join("content.txt")).unwrap();
    assert_eq!(v.verify(&det, Some(&text), when).status, Status::Accepted);
    for i in 0..text.len() {
        let mut bad = text.clone();
        bad[i] ^= 0x01;
        assert_ne!(v.verify(&det, Some(&bad), when).status, Status::Accepted);
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
