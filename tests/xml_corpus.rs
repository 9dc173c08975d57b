//! The real Kalkan-made XML-DSig files of the Kazakh national PKI's test environment
//! (tests/corpus/nca-kz-test/xml), with the test intermediate CAs as trust anchors.

mod common;
use common::*;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, SignerStatus, Status};

fn xml(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join("xml").join(name)).unwrap()
}

#[test]
fn rsa_xml_is_accepted_while_its_certificate_was_valid() {
    let v = verifier(&corpus().join("ca"), Policy::default());
    let r = v.verify_xml(&xml("signed-rsa.xml"), at("2021-06-01T00:00:00Z"));
    assert_eq!(r.status, Status::Accepted, "{r:#?}");
    assert_eq!(r.signers[0].iin.as_deref(), Some("123456789011"));
    assert_eq!(r.signers[0].algorithm.as_deref(), Some("rsa-pkcs1-sha256"));
    let late = v.verify_xml(&xml("signed-rsa.xml"), at("2022-09-28T00:00:00Z"));
    assert_eq!(codes(&late), ["certificate-expired"]);
}

#[test]
fn two_signer_xml_rsa_expired_and_gost_2015_valid() {
    let policy = Policy {
        revocation: RevocationPolicy::Require,
        signers: SignerRule::AtLeastOne,
        ..Policy::default()
    };
    let dirs = [corpus().join("ca"), corpus().join("crl")];
    let v = tamga::verify::Verifier::new(tamga::trustdir::load(&dirs).unwrap(), policy);
    let r = v.verify_xml(
        &xml("signed-two-signers-rsa-gost2015.xml"),
        at("2022-09-28T00:00:00Z"),
    );
    assert_eq!(r.status, Status::Accepted, "{r:#?}");
    assert_eq!(r.signers.len(), 2);
    let rsa = &r.signers[0];
    assert_eq!(
        rsa.reasons.iter().map(|c| c.code()).collect::<Vec<_>>(),
        // As in the CMS counterpart: expired, and the RSA CA's CRL ended on 2022-09-25.
        ["certificate-expired", "revocation-unavailable"],
        "{r:#?}"
    );
    // Its digest is over the document before the GOST signature was added: said.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "signed-before-later-signatures" && w.signer == Some(0))
    );
    let gost = &r.signers[1];
    assert_eq!(gost.status, SignerStatus::Valid, "{r:#?}");
    assert_eq!(gost.algorithm.as_deref(), Some("gost-kz-streebog512"));
    assert_eq!(gost.iin.as_deref(), Some("123456789012"));
}

/// The corpus's GOST signature, its SignatureValue replaced by `f(value)`.
fn gost_with_value(f: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8(xml("signed-two-signers-rsa-gost2015.xml")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let start = text.rfind("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let end = text.rfind("</ds:SignatureValue>").unwrap();
    let compact: String = text[start..end]
        .replace("&#13;", "")
        .split_ascii_whitespace()
        .collect();
    let value = b64.decode(compact).unwrap();
    format!(
        "{}{}{}",
        &text[..start],
        b64.encode(f(&value)),
        &text[end..]
    )
    .into_bytes()
}

fn gost_signer_codes(doc: &[u8]) -> Vec<&'static str> {
    let v = verifier(&corpus().join("ca"), Policy::default());
    let r = v.verify_xml(doc, at("2022-09-28T00:00:00Z"));
    r.signers[1].reasons.iter().map(|c| c.code()).collect()
}

/// The byte order of the GOST 2015 SignatureValue, established on the corpus file: as
/// found (the Kazakh CMS layout, r ‖ s each little-endian) it verifies; the other plausible
/// layouts of the same (r, s) — TC26's s ‖ r big-endian (the whole value reversed), and
/// r ‖ s big-endian (each half reversed) — do not.
#[test]
fn gost_2015_byte_order_is_the_kazakh_cms_one() {
    assert_eq!(
        gost_signer_codes(&gost_with_value(<[u8]>::to_vec)),
        Vec::<&str>::new()
    );
    let reversed = gost_with_value(|v| v.iter().rev().copied().collect());
    assert_eq!(gost_signer_codes(&reversed), ["signature-invalid"]);
    let halves = gost_with_value(|v| {
        let (r, s) = v.split_at(v.len() / 2);
        r.iter().rev().chain(s.iter().rev()).copied().collect()
    });
    assert_eq!(gost_signer_codes(&halves), ["signature-invalid"]);
}

/// Every byte of the signed content, the DigestValue, the SignatureValue and SignedInfo of
/// the RSA file, changed one at a time where a change keeps the document well-formed:
/// never accepted, and always for a closed-list reason.
#[test]
fn flipping_signed_bytes_is_rejected() {
    let v = verifier(&corpus().join("ca"), Policy::default());
    let doc = xml("signed-rsa.xml");
    let when = at("2021-06-01T00:00:00Z");
    assert_eq!(v.verify_xml(&doc, when).status, Status::Accepted);
    let text = String::from_utf8(doc.clone()).unwrap();
    let span = |open: &str, close: &str| {
        let s = text.find(open).unwrap();
        s..text[s..].find(close).unwrap() + s + close.len()
    };
    let mut tried = 0;
    for range in [
        span("<a>", "<ds:Signature"),
        span("<ds:SignedInfo>", "</ds:SignedInfo>"),
        span("<ds:SignatureValue>", "</ds:SignatureValue>"),
    ] {
        for i in range {
            let mut bad = doc.clone();
            // A letter or digit changed to another keeps the XML well-formed (mostly);
            // markup bytes changed give malformed documents, also rejections.
            bad[i] = match bad[i] {
                b'a'..=b'y' | b'A'..=b'Y' | b'0'..=b'8' => bad[i] + 1,
                b'z' | b'Z' | b'9' => bad[i] - 1,
                _ => continue,
            };
            let r = v.verify_xml(&bad, when);
            assert_eq!(r.status, Status::Rejected, "byte {i} changed: accepted");
            tried += 1;
        }
    }
    assert!(tried > 400, "{tried}");
}
