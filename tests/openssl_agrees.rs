//! Cross-check with an independent implementation: the OpenSSL command line. Wherever both
//! should agree, tamga and `openssl cms -verify` (same anchors, same time, every CRL checked)
//! reach the same verdict; where tamga's policy is deliberately stricter, the test says so.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, Status};

/// Files on which tamga is stricter than OpenSSL's defaults, by policy.
const STRICTER: &[&str] = &[
    "small-rsa.der", // RSA-1024: refused as algorithm-unsupported
    "sha1.der",      // SHA-1: refused as algorithm-unsupported
];

/// Files OpenSSL 3.0 cannot verify at all: its CMS code asks the Ed25519 provider for a digest
/// and fails ("eddsa_digest_signverify_init: invalid digest"). This fixture was made by hand
/// with Python's `cryptography` (tests/fixtures/make.sh), which is its independent check.
const OPENSSL_CANNOT: &[&str] = &["ed25519.der"];

fn openssl_accepts(
    sig: &Path,
    content: Option<&Path>,
    cafile: &Path,
    at: i64,
    extra: &[&str],
) -> bool {
    let inform = if sig.extension().is_some_and(|e| e == "pem") {
        "PEM"
    } else {
        "DER"
    };
    let mut cmd = Command::new("openssl");
    cmd.args([
        "cms",
        "-verify",
        "-binary",
        "-inform",
        inform,
        "-out",
        "/dev/null",
        "-in",
    ])
    .arg(sig)
    .arg("-CAfile")
    .arg(cafile)
    .args(["-attime", &at.to_string()])
    .args(extra);
    if let Some(c) = content {
        cmd.arg("-content").arg(c);
    }
    let out = cmd
        .output()
        .expect("the openssl command line is needed for this test (.ci/run installs it)");
    out.status.success()
}

#[test]
fn every_fixture_agrees_with_openssl() {
    let sig_dir = fixtures().join("sig");
    let cafile = fixtures().join("openssl-cafile.pem");
    let v = verifier(
        &fixtures().join("trust"),
        Policy {
            revocation: RevocationPolicy::Require,
            signers: SignerRule::All,
            ..Policy::default()
        },
    );
    let mut names: Vec<_> = std::fs::read_dir(&sig_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.ends_with(".der") || n.ends_with(".pem"))
    {
        let path = sig_dir.join(name);
        let content = (name == "rsa-detached.der").then(|| sig_dir.join("doc.txt"));
        let bytes = std::fs::read(&path).unwrap();
        let ours = v
            .verify(
                &bytes,
                content
                    .as_ref()
                    .map(|c| std::fs::read(c).unwrap())
                    .as_deref(),
                AT,
            )
            .status
            == Status::Accepted;
        let theirs = openssl_accepts(&path, content.as_deref(), &cafile, AT, &["-crl_check_all"]);
        compared += 1;
        if OPENSSL_CANNOT.contains(&name.as_str()) {
            assert!(
                ours && !theirs,
                "{name}: has OpenSSL learnt Ed25519 CMS? compare it then"
            );
            continue;
        }
        if STRICTER.contains(&name.as_str()) {
            assert!(
                !ours && theirs,
                "{name}: expected tamga to refuse what OpenSSL accepts"
            );
        } else if ours != theirs {
            disagreements.push(format!("{name}: tamga {ours}, openssl {theirs}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(compared >= 35, "only {compared} fixtures compared");
}

#[test]
fn corpus_rsa_signature_agrees_with_openssl_partial_chain() {
    let sig = corpus().join("cms-attached-rsa.p7s");
    let ca = corpus().join("ca/nca_rsa_test.crt");
    let v = verifier(&corpus().join("ca"), Policy::default());
    let bytes = std::fs::read(&sig).unwrap();
    for when in ["2021-06-01T00:00:00Z", "2022-09-28T00:00:00Z"] {
        let ours = v.verify(&bytes, None, at(when)).status == Status::Accepted;
        let theirs = openssl_accepts(&sig, None, &ca, at(when), &["-partial_chain"]);
        assert_eq!(ours, theirs, "at {when}");
    }
}
