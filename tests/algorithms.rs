//! Every legitimate algorithm pairing (RFC 5758 ECDSA on P-256/P-384/P-521 with SHA-256/384/
//! 512; RSASSA-PSS with its parameters as written, RFC 4055), each made by the OpenSSL command
//! line at test time both as the certificate's signature (CA → signer) and as the CMS signer's,
//! and verified by tamga. Where the route is not ring's, a tampered signature is refused too.

mod common;
use common::der;
use common::pki::{KeyAlg, Pki, now};
use tamga::reasons::Reason;
use tamga::verify::{Report, Status};

/// A CA and signer on `alg`; the CA signs the signer's certificate and the signer the CMS,
/// both with digest `md` and the OpenSSL options `opts` (`-sigopt` / `-keyopt` alike).
fn pairing(alg: KeyAlg, md: &str, opts: &[&str]) -> (Pki, Vec<u8>) {
    let pki = Pki::new(alg);
    pki.key("leaf.key", alg);
    pki.issue("leaf.pem", "leaf.key", "/CN=Signer", "2", md, opts);
    let cms = pki.sign("leaf.pem", "leaf.key", md, opts, &[]);
    (pki, cms)
}

fn accepted(pki: &Pki, cms: &[u8], scheme: &str) {
    let r = pki.verifier().verify(cms, None, now());
    assert_eq!(r.status, Status::Accepted, "{scheme}: {:?}", r.reasons);
    assert_eq!(r.signers[0].algorithm.as_deref(), Some(scheme));
}

fn rejected(r: &Report, reason: Reason) {
    assert_eq!(r.status, Status::Rejected);
    assert!(r.codes().contains(&reason), "{:?}", r.reasons);
}

/// The CMS with the last byte of its signer's signature changed (OpenSSL writes no unsigned
/// attributes, so the signature value ends the encoding).
fn tamper_cms(cms: &[u8]) -> Vec<u8> {
    let mut t = cms.to_vec();
    *t.last_mut().unwrap() ^= 0x01;
    t
}

/// The CMS with a byte of the signer certificate's signature changed.
fn tamper_cert(pki: &Pki, cms: &[u8]) -> Vec<u8> {
    let leaf = pki.der("leaf.pem");
    let at = cms
        .windows(leaf.len())
        .position(|w| w == leaf)
        .expect("the signer's certificate is carried");
    let mut t = cms.to_vec();
    t[at + leaf.len() - 2] ^= 0x01;
    t
}

/// Both signatures of a pairing verified, and (for routes that are not ring's) each refused
/// once tampered.
fn check_pairing(alg: KeyAlg, md: &str, opts: &[&str], scheme: &str, tamper: bool) {
    let (pki, cms) = pairing(alg, md, opts);
    accepted(&pki, &cms, scheme);
    if tamper {
        let v = pki.verifier();
        rejected(
            &v.verify(&tamper_cms(&cms), None, now()),
            Reason::SignatureInvalid,
        );
        rejected(
            &v.verify(&tamper_cert(&pki, &cms), None, now()),
            Reason::CertificateUntrusted,
        );
    }
}

#[test]
fn ecdsa_p256_with_each_sha2() {
    check_pairing(KeyAlg::Ec("P-256"), "sha256", &[], "ecdsa-sha256", false);
    check_pairing(KeyAlg::Ec("P-256"), "sha384", &[], "ecdsa-sha384", false);
    // Not in ring: RustCrypto's p256 over the digest (the combination the issue reported).
    check_pairing(KeyAlg::Ec("P-256"), "sha512", &[], "ecdsa-sha512", true);
}

#[test]
fn ecdsa_p384_with_each_sha2() {
    check_pairing(KeyAlg::Ec("P-384"), "sha256", &[], "ecdsa-sha256", false);
    check_pairing(KeyAlg::Ec("P-384"), "sha384", &[], "ecdsa-sha384", false);
    check_pairing(KeyAlg::Ec("P-384"), "sha512", &[], "ecdsa-sha512", true);
}

#[test]
fn ecdsa_p521_with_each_sha2() {
    check_pairing(KeyAlg::Ec("P-521"), "sha256", &[], "ecdsa-sha256", true);
    check_pairing(KeyAlg::Ec("P-521"), "sha384", &[], "ecdsa-sha384", false);
    check_pairing(KeyAlg::Ec("P-521"), "sha512", &[], "ecdsa-sha512", true);
}

/// CMS signers may name the key algorithm alone (id-ecPublicKey) and let the digest algorithm
/// supply the hash (RFC 5753 §7.1.3); the signatureAlgorithm is not signed, so it is rewritten.
#[test]
fn ecdsa_signer_named_by_key_algorithm_and_digest() {
    for (curve, md) in [
        ("P-256", "sha512"),
        ("P-384", "sha384"),
        ("P-521", "sha256"),
    ] {
        let (pki, cms) = pairing(KeyAlg::Ec(curve), md, &[]);
        let mut tree = der::parse(&cms);
        *der::signer_info(&mut tree, 0).child(4) = der::Node::Cons(
            0x30,
            vec![der::Node::Prim(
                0x06,
                vec![0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01],
            )],
        );
        let rewritten = der::encode(&tree);
        assert_ne!(rewritten, cms);
        accepted(&pki, &rewritten, &format!("ecdsa-{md}"));
    }
}

const PSS: &str = "rsa_padding_mode:pss";

#[test]
fn rsa_pss_standard_parameters_through_ring() {
    for (md, salt) in [("sha256", "32"), ("sha384", "48"), ("sha512", "64")] {
        let opts = [
            PSS,
            &format!("rsa_pss_saltlen:{salt}"),
            &format!("rsa_mgf1_md:{md}"),
        ];
        check_pairing(
            KeyAlg::Rsa,
            md,
            &opts,
            &format!("rsa-pss-{md}-salt{salt}"),
            false,
        );
    }
}

/// OpenSSL's default salt is the longest the key allows (222 bytes for RSA-2048 with SHA-256).
#[test]
fn rsa_pss_other_salt_lengths() {
    check_pairing(
        KeyAlg::Rsa,
        "sha256",
        &[PSS, "rsa_pss_saltlen:max"],
        "rsa-pss-sha256-salt222",
        true,
    );
    check_pairing(
        KeyAlg::Rsa,
        "sha512",
        &[PSS, "rsa_pss_saltlen:0"],
        "rsa-pss-sha512-salt0",
        true,
    );
}

/// RFC 4055 recommends, but does not require, MGF1 over the message hash.
#[test]
fn rsa_pss_mgf1_hash_other_than_the_message_hash() {
    check_pairing(
        KeyAlg::Rsa,
        "sha256",
        &[PSS, "rsa_pss_saltlen:32", "rsa_mgf1_md:sha512"],
        "rsa-pss-sha256-mgf1-sha512-salt32",
        true,
    );
    check_pairing(
        KeyAlg::Rsa,
        "sha512",
        &[PSS, "rsa_pss_saltlen:20", "rsa_mgf1_md:sha384"],
        "rsa-pss-sha512-mgf1-sha384-salt20",
        true,
    );
}
