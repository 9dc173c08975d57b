//! Every fixture made by tests/fixtures/make.sh, with its exact status and reason codes.

mod common;
use common::*;
use tamga::verify::policy::PathSettings;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, SignerStatus, Status};

const PREFER: Policy = Policy {
    revocation: RevocationPolicy::Prefer,
    signers: SignerRule::All,
    path: PathSettings::DEFAULT,
};
const REQUIRE: Policy = Policy {
    revocation: RevocationPolicy::Require,
    signers: SignerRule::All,
    path: PathSettings::DEFAULT,
};

/// (signature file, content file, policy, accepted?, reason codes)
type Case = (
    &'static str,
    Option<&'static str>,
    Policy,
    bool,
    &'static [&'static str],
);

const CASES: &[Case] = &[
    ("rsa-attached.der", None, REQUIRE, true, &[]),
    ("rsa-detached.der", Some("doc.txt"), REQUIRE, true, &[]),
    (
        "rsa-detached.der",
        None,
        REQUIRE,
        false,
        &["content-missing"],
    ),
    (
        "rsa-detached.der",
        Some("other.txt"),
        REQUIRE,
        false,
        &["content-mismatch"],
    ),
    (
        "rsa-attached.der",
        Some("other.txt"),
        REQUIRE,
        false,
        &["content-mismatch"],
    ),
    ("rsa-sha512.der", None, REQUIRE, true, &[]),
    ("rsa-pss.der", None, REQUIRE, true, &[]),
    ("rsa-pss-digest.der", None, REQUIRE, true, &[]),
    ("rsa-pss-saltmax.der", None, REQUIRE, true, &[]),
    ("p256.der", None, REQUIRE, true, &[]),
    ("p384.der", None, REQUIRE, true, &[]),
    ("ed25519.der", None, REQUIRE, true, &[]),
    ("ber-stream.der", None, REQUIRE, true, &[]),
    ("noattr.der", None, REQUIRE, true, &[]),
    ("keyid.der", None, REQUIRE, true, &[]),
    ("cms.pem", None, REQUIRE, true, &[]),
    ("pkcs7.pem", None, REQUIRE, true, &[]),
    ("two-signers.der", None, REQUIRE, true, &[]),
    (
        "two-signers-one-expired.der",
        None,
        REQUIRE,
        false,
        &["certificate-expired"],
    ),
    (
        "nocerts.der",
        None,
        REQUIRE,
        false,
        &["certificate-missing"],
    ),
    ("nocrl.der", None, PREFER, true, &[]),
    (
        "nocrl.der",
        None,
        REQUIRE,
        false,
        &["revocation-unavailable"],
    ),
    (
        "expired.der",
        None,
        REQUIRE,
        false,
        &["certificate-expired"],
    ),
    (
        "notyet.der",
        None,
        REQUIRE,
        false,
        &["certificate-not-yet-valid"],
    ),
    (
        "revoked.der",
        None,
        REQUIRE,
        false,
        &["certificate-revoked"],
    ),
    ("enconly.der", None, REQUIRE, false, &["certificate-usage"]),
    ("notca.der", None, PREFER, false, &["certificate-usage"]),
    ("pathlen.der", None, PREFER, false, &["certificate-usage"]),
    (
        "stranger.der",
        None,
        REQUIRE,
        false,
        &["certificate-untrusted"],
    ),
    (
        "small-rsa.der",
        None,
        REQUIRE,
        false,
        &["algorithm-unsupported"],
    ),
    ("sha1.der", None, REQUIRE, false, &["algorithm-unsupported"]),
    ("no-signers.der", None, REQUIRE, false, &["no-signers"]),
    (
        "tampered-content.der",
        None,
        REQUIRE,
        false,
        &["content-mismatch"],
    ),
    (
        "tampered-signature.der",
        None,
        REQUIRE,
        false,
        &["signature-invalid"],
    ),
    (
        "tampered-attrs.der",
        None,
        REQUIRE,
        false,
        &["signature-invalid"],
    ),
    (
        "tampered-noattr.der",
        None,
        REQUIRE,
        false,
        &["signature-invalid"],
    ),
    ("truncated.der", None, REQUIRE, false, &["malformed"]),
    ("empty.der", None, REQUIRE, false, &["malformed"]),
    ("garbage.der", None, REQUIRE, false, &["malformed"]),
    ("absurd-length.der", None, REQUIRE, false, &["malformed"]),
    ("deep-nesting.der", None, REQUIRE, false, &["malformed"]),
];

#[test]
fn every_fixture_gets_its_exact_verdict() {
    let mut failures = Vec::new();
    for (sig, content, policy, accepted, expected) in CASES {
        let (sig, content, accepted, expected) = (*sig, *content, *accepted, *expected);
        let report = verify_fixture(sig, content, policy.clone());
        let got = codes(&report);
        let want_status = if accepted {
            Status::Accepted
        } else {
            Status::Rejected
        };
        if report.status != want_status || got != expected {
            failures.push(format!(
                "{sig} {content:?} {:?}: got {:?} {got:?}, want {want_status:?} {expected:?}",
                policy.revocation, report.status
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn missing_crl_under_prefer_is_a_warning_never_silent() {
    let r = verify_fixture("nocrl.der", None, PREFER);
    assert_eq!(r.status, Status::Accepted);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "revocation-unchecked" && w.detail.contains("Issuer has no CRL"))
    );
}

#[test]
fn revocation_off_does_not_look_at_crls() {
    let off = Policy {
        revocation: RevocationPolicy::Off,
        signers: SignerRule::All,
        path: PathSettings::DEFAULT,
    };
    assert_eq!(
        verify_fixture("revoked.der", None, off).status,
        Status::Accepted
    );
}

#[test]
fn at_least_one_signer_policy() {
    let one = Policy {
        revocation: RevocationPolicy::Require,
        signers: SignerRule::AtLeastOne,
        path: PathSettings::DEFAULT,
    };
    let r = verify_fixture("two-signers-one-expired.der", None, one);
    assert_eq!(r.status, Status::Accepted);
    assert!(r.reasons.is_empty());
    assert_eq!(r.signers[0].status, SignerStatus::Valid);
    assert_eq!(r.signers[1].status, SignerStatus::Invalid);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "signer-invalid" && w.signer == Some(1))
    );
}

#[test]
fn signer_report_carries_identity() {
    let r = verify_fixture("rsa-attached.der", None, REQUIRE);
    let s = &r.signers[0];
    assert_eq!(s.iin.as_deref(), Some("123456789011"));
    assert_eq!(s.bin.as_deref(), Some("123456789021"));
    assert_eq!(s.algorithm.as_deref(), Some("rsa-pkcs1-sha256"));
    assert_eq!(s.digest.as_deref(), Some("sha256"));
    assert!(s.subject.as_deref().unwrap().contains("ТЕСТОВ ТЕСТ"));
    assert_eq!(s.path.len(), 3, "leaf, intermediate, root: {:?}", s.path);
    assert!(s.signing_time.is_some());
    let pss = verify_fixture("rsa-pss-saltmax.der", None, REQUIRE);
    assert_eq!(
        pss.signers[0].algorithm.as_deref(),
        Some("rsa-pss-sha256-salt222")
    );
    let pss = verify_fixture("rsa-pss-digest.der", None, REQUIRE);
    assert_eq!(
        pss.signers[0].algorithm.as_deref(),
        Some("rsa-pss-sha256-salt32")
    );
}

#[test]
fn validity_is_judged_at_the_given_time() {
    // The leaf is valid 2024-01-01 .. 2030-01-01; the CRLs 2026-01-01 .. 2036-01-01.
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let v = verifier(&fixtures().join("trust"), PREFER);
    assert_eq!(
        v.verify(&sig, None, at("2024-01-01T00:00:00Z")).status,
        Status::Accepted
    );
    assert_eq!(
        v.verify(&sig, None, at("2030-01-01T00:00:00Z")).status,
        Status::Accepted
    );
    let late = v.verify(&sig, None, at("2030-01-01T00:00:01Z"));
    assert_eq!(codes(&late), ["certificate-expired"]);
    let early = v.verify(&sig, None, at("2023-12-31T23:59:59Z"));
    assert_eq!(codes(&early), ["certificate-not-yet-valid"]);
}

/// One flipped bit anywhere in what a signature covers or what its path rests on is never
/// accepted; flips elsewhere (the unused carried certificate, version numbers) may be harmless.
#[test]
fn single_bit_flips_never_fool_the_verifier() {
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let sd = tamga::verify::cms::parse(&sig).unwrap();
    let offset = |s: &[u8]| {
        (s.as_ptr() as usize - sig.as_ptr() as usize)
            ..(s.as_ptr() as usize - sig.as_ptr() as usize + s.len())
    };
    // Everything that matters: the content, every carried certificate but the unused CA, and
    // the SignerInfo (the last element of the file).
    let mut guarded = vec![offset(sd.content.as_deref().unwrap())];
    for c in &sd.certificates {
        let cert = tamga::verify::certificate::Certificate::from_der(c).unwrap();
        if !cert.subject.contains("without CRL") {
            guarded.push(offset(c));
        }
    }
    // The SignerInfo from its sid on (its version number is not covered by anything).
    use tamga::verify::asn1::{Reader, parse_single};
    let ci = parse_single(&sig).unwrap();
    let mut r = ci.children(0).unwrap();
    r.read("oid").unwrap();
    let sd_tlv = r
        .read("[0]")
        .unwrap()
        .children(1)
        .unwrap()
        .read("SignedData")
        .unwrap();
    let mut parts = sd_tlv.children(2).unwrap();
    let mut last = None;
    while let Some(t) = parts.next().unwrap() {
        last = Some(t);
    }
    let si = last
        .unwrap()
        .children(3)
        .unwrap()
        .read("SignerInfo")
        .unwrap();
    let mut fields: Reader = si.children(4).unwrap();
    fields.read("version").unwrap();
    let sid = fields.read("sid").unwrap();
    guarded.push(offset(sid.raw).start..sig.len());
    let v = verifier(&fixtures().join("trust"), REQUIRE);
    let mut checked = 0;
    for i in 0..sig.len() {
        let mut t = sig.clone();
        t[i] ^= 0x04;
        let accepted = v.verify(&t, None, AT).status == Status::Accepted;
        if guarded.iter().any(|r| r.contains(&i)) {
            checked += 1;
            assert!(!accepted, "flip at byte {i} accepted");
        }
    }
    assert!(checked > 5000, "only {checked} guarded bytes");
}

#[test]
fn a_broken_file_in_the_trust_directory_is_left_out_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixtures().join("trust"), dir.path());
    // A CRL whose signature field is cut short, and a certificate file of garbage.
    std::fs::write(
        dir.path().join("broken.crl"),
        [0x30, 0x03, 0x02, 0x01, 0x00],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let store = tamga::trustdir::load(&[dir.path().to_path_buf()]).unwrap();
    let skipped = store.skipped().to_vec();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().any(|s| s.contains("broken.crl")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|s| s.contains("garbage.pem")),
        "{skipped:?}"
    );
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let report = tamga::verify::Verifier::new(store, REQUIRE).verify(&sig, None, AT);
    assert_eq!(report.status, Status::Accepted, "{:?}", codes(&report));
    // The command line says what it left out, and verifies with the rest.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .args([
            "--trust",
            dir.path().to_str().unwrap(),
            "verify",
            "--revocation",
            "require",
        ])
        .arg(fixtures().join("sig/rsa-attached.der"))
        .args(["--at", "2026-06-01T00:00:00Z"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("left out") && stderr.contains("broken.crl"),
        "{stderr}"
    );
}
