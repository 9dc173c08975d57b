//! Hostile CMS: deep BER nesting, floods of carried objects, a detached signature alone.
//! What these prove in correctness, `cargo bench --bench hostile` measures in time and memory.

mod common;
#[path = "../benches/support/hostile_cms.rs"]
mod hostile_cms;

use common::*;
use hostile_cms::{assemble, certificate_flood, header, nested_octets};
use tamga::verify::cms::{self, CmsError, MAX_CARRIED_BYTES};
use tamga::verify::{Policy, SignerStatus, Status};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("sig").join(name)).unwrap()
}

#[test]
fn detached_signature_alone_leaves_its_signer_indeterminate() {
    let r = verify_fixture("rsa-detached.der", None, Policy::default());
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(codes(&r), ["content-missing"]);
    // Its digest was never compared: it is not valid, and nothing showed it invalid.
    assert_eq!(r.signers[0].status, SignerStatus::Indeterminate);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["signers"][0]["status"], "indeterminate");
    assert_eq!(json["signers"][0]["reasons"][0], "content-missing");
    // With its content the same signer is valid.
    let ok = verify_fixture("rsa-detached.der", Some("doc.txt"), Policy::default());
    assert_eq!(ok.signers[0].status, SignerStatus::Valid);
}

#[test]
fn deeply_nested_ber_content_is_read_within_the_budget() {
    // The detached fixture's own content, attached as one-byte segments inside 42 levels of
    // indefinite-length constructed OCTET STRINGs: a rescan at every level would cost ~45
    // element reads per segment, far beyond the reader's budget of two per byte.
    let doc = fixture("doc.txt");
    let sig = fixture("rsa-detached.der");
    for depth in [1, 42] {
        let body = assemble(&sig, Some(&nested_octets(&doc, 1, depth)), None);
        let sd = cms::parse(&body).unwrap_or_else(|e| panic!("depth {depth}: {e}"));
        assert_eq!(sd.content.as_deref(), Some(&doc[..]));
        let r = verifier(&fixtures().join("trust"), Policy::default()).verify(&body, None, AT);
        assert_eq!(r.status, Status::Accepted, "depth {depth}: {:?}", r.reasons);
    }
}

#[test]
fn carried_objects_are_bounded_in_bytes() {
    // 130 "certificates" of 64 KiB: within the count, beyond the bytes.
    let mut set = vec![0xA0, 0x80];
    let blob = vec![0u8; 64 * 1024];
    for _ in 0..130 {
        header(&mut set, 0x30, blob.len());
        set.extend_from_slice(&blob);
    }
    set.extend_from_slice(&[0, 0]);
    assert!(set.len() > MAX_CARRIED_BYTES);
    let body = assemble(&fixture("rsa-detached.der"), None, Some(&set));
    assert_eq!(
        cms::parse(&body).unwrap_err(),
        CmsError::Structure("carried certificates and CRLs larger than the limit")
    );
    let r = verifier(&fixtures().join("trust"), Policy::default()).verify(&body, None, AT);
    assert_eq!(codes(&r), ["malformed"]);
}

/// Peak resident memory of this process so far, in bytes (`VmHWM`), after resetting it when
/// the kernel allows (`clear_refs` 5), so the next reading covers only what follows.
fn peak_rss(reset: bool) -> u64 {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn a_certificate_flood_is_refused_before_it_is_collected() {
    // 48 MiB of two-byte "certificates": collecting a slice of each before counting them
    // took 16 bytes per two of input (hundreds of MB); counting while collecting stops at
    // the 257th.
    let flood = certificate_flood(24 << 20);
    let body = assemble(&fixture("rsa-detached.der"), None, Some(&flood));
    drop(flood);
    let before = peak_rss(true);
    let err = cms::parse(&body).unwrap_err();
    let grew = peak_rss(false).saturating_sub(before);
    assert_eq!(err, CmsError::Structure("too many certificates or CRLs"));
    assert!(
        grew < 32 << 20,
        "parsing the flood raised the peak by {grew} bytes"
    );
}

#[test]
fn a_lazy_parse_refuses_what_a_joining_parse_refuses() {
    // Found by the cms_limits fuzz target: a constructed OCTET STRING holding a SET.
    let body = assemble(
        &fixture("rsa-detached.der"),
        Some(&[0x24, 0x80, 0x31, 0x00, 0, 0]),
        None,
    );
    assert!(cms::parse(&body).is_err());
    assert!(cms::parse_lazy(&body).is_err());
}

#[test]
fn pem_over_its_limit_is_refused_before_it_is_decoded() {
    let mut pem = b"-----BEGIN CMS-----\n".to_vec();
    let line = [b'A'; 64];
    while pem.len() <= tamga::verify::cms::MAX_PEM {
        pem.extend_from_slice(&line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END CMS-----\n");
    let err = tamga::verify::cms::decode_input(&pem)
        .unwrap_err()
        .to_string();
    assert!(err.contains("32 MiB"), "{err}");
}
