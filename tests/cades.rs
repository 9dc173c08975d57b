//! The signer's certificate bound by the ESS signing-certificate attributes (CAdES-BES, RFC
//! 5035): a certificate substituted beside a valid signature — same issuer and serial, or same
//! key — is refused as `signature-invalid`; the genuine one is accepted and reported.

mod common;
use common::der::{self, Node};
use common::pki::{KeyAlg, Pki, now, openssl};
use sha2::Digest;
use tamga::reasons::Reason;
use tamga::verify::certificate::Certificate;
use tamga::verify::{Report, Status};

const OID_V1: [u8; 11] = [
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0C,
];
const OID_V2: [u8; 11] = [
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F,
];

/// An RSA CA with three certificates for one signer key: `a.pem` (serial 5), `b.pem` (serial
/// 5 again, another subject) and `c.pem` (serial 6).
fn pki() -> Pki {
    let pki = Pki::new(KeyAlg::Rsa);
    pki.key("leaf.key", KeyAlg::Rsa);
    pki.issue("a.pem", "leaf.key", "/CN=Signer A", "5", "sha256", &[]);
    pki.issue("b.pem", "leaf.key", "/CN=Signer B", "5", "sha256", &[]);
    pki.issue("c.pem", "leaf.key", "/CN=Signer A", "6", "sha256", &[]);
    pki
}

/// The CMS with its (single) carried certificate replaced by `cert`'s.
fn substitute(pki: &Pki, cms: &[u8], cert: &str) -> Vec<u8> {
    let mut tree = der::parse(cms);
    let certs = tree.child(1).child(0).child(3);
    assert_eq!(certs.children().len(), 1);
    *certs.child(0) = der::parse(&pki.der(cert));
    der::encode(&tree)
}

fn verify(pki: &Pki, cms: &[u8]) -> Report {
    pki.verifier().verify(cms, None, now())
}

fn refused(r: &Report, reason: Reason) {
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(r.signers[0].reasons, vec![reason], "{:?}", r.reasons);
}

#[test]
fn openssl_cades_signature_binds_its_certificate() {
    let pki = pki();
    let cms = pki.sign("a.pem", "leaf.key", "sha256", &[], &["-cades"]);
    let r = verify(&pki, &cms);
    assert_eq!(r.status, Status::Accepted, "{:?}", r.reasons);
    assert_eq!(r.signers[0].signing_certificate, Some("v2"));
}

#[test]
fn same_issuer_and_serial_in_another_certificate_is_refused() {
    let pki = pki();
    // Without the attribute nothing binds the certificate: the substitute passes.
    let plain = pki.sign("a.pem", "leaf.key", "sha256", &[], &[]);
    let r = verify(&pki, &substitute(&pki, &plain, "b.pem"));
    assert_eq!(r.status, Status::Accepted, "{:?}", r.reasons);
    assert_eq!(r.signers[0].subject.as_deref(), Some("CN=Signer B"));

    let cms = pki.sign("a.pem", "leaf.key", "sha256", &[], &["-cades"]);
    let r = verify(&pki, &substitute(&pki, &cms, "b.pem"));
    refused(&r, Reason::SignatureInvalid);
    assert!(
        r.reasons[0].detail.contains("another certificate"),
        "{:?}",
        r.reasons
    );
}

#[test]
fn same_key_in_another_certificate_is_refused() {
    let pki = pki();
    // Named by key identifier, which the other certificate for the same key shares.
    let cms = pki.sign("a.pem", "leaf.key", "sha256", &[], &["-cades", "-keyid"]);
    assert_eq!(verify(&pki, &cms).status, Status::Accepted);
    refused(
        &verify(&pki, &substitute(&pki, &cms, "c.pem")),
        Reason::SignatureInvalid,
    );
}

#[test]
fn a_look_alike_carried_first_does_not_displace_the_bound_certificate() {
    let pki = pki();
    let cms = pki.sign("a.pem", "leaf.key", "sha256", &[], &["-cades", "-keyid"]);
    // c.pem has the same key identifier as a.pem and comes first among the certificates:
    // the one the attribute binds is still the one used.
    let mut tree = der::parse(&cms);
    let certs = tree.child(1).child(0).child(3);
    certs.children().insert(0, der::parse(&pki.der("c.pem")));
    let r = verify(&pki, &der::encode(&tree));
    assert_eq!(r.status, Status::Accepted, "{:?}", r.reasons);
    assert_eq!(r.signers[0].serial.as_deref(), Some("05"));
}

fn attribute(oid: &[u8], value: Node) -> Node {
    Node::Cons(
        0x30,
        vec![
            Node::Prim(0x06, oid.to_vec()),
            Node::Cons(0x31, vec![value]),
        ],
    )
}

/// `SigningCertificate(V2) { certs { ESSCertID(v2) { [hashAlgorithm] certHash [issuerSerial] } } }`.
fn signing_certificate(
    hash_alg: Option<&[u8]>,
    hash: Vec<u8>,
    issuer_serial: Option<Node>,
) -> Node {
    let mut id = Vec::new();
    if let Some(oid) = hash_alg {
        id.push(Node::Cons(0x30, vec![Node::Prim(0x06, oid.to_vec())]));
    }
    id.push(Node::Prim(0x04, hash));
    id.extend(issuer_serial);
    Node::Cons(0x30, vec![Node::Cons(0x30, vec![Node::Cons(0x30, id)])])
}

/// IssuerSerial { GeneralNames { directoryName issuer }, serial }.
fn issuer_serial(cert: &Certificate, serial: &[u8]) -> Node {
    let name = der::parse(&cert.issuer_raw);
    Node::Cons(
        0x30,
        vec![
            Node::Cons(0x30, vec![Node::Cons(0xA4, vec![name])]),
            Node::Prim(0x02, serial.to_vec()),
        ],
    )
}

/// A CMS by `a.pem` whose signed attributes also carry `attr`, signed again with the key.
fn with_attribute(pki: &Pki, attr: Node) -> Vec<u8> {
    let cms = pki.sign("a.pem", "leaf.key", "sha256", &[], &[]);
    let mut tree = der::parse(&cms);
    let si = der::signer_info(&mut tree, 0);
    si.child(3).children().push(attr);
    let Node::Cons(_, attrs) = si.child(3).clone() else {
        panic!("signed attributes")
    };
    std::fs::write(pki.file("attrs.der"), der::encode(&Node::Cons(0x31, attrs))).unwrap();
    openssl(
        pki.path(),
        &[
            "dgst",
            "-sha256",
            "-sign",
            "leaf.key",
            "-out",
            "attrs.sig",
            "attrs.der",
        ],
    );
    *si.child(5) = Node::Prim(0x04, std::fs::read(pki.file("attrs.sig")).unwrap());
    der::encode(&tree)
}

#[test]
fn signing_certificate_v1_with_issuer_serial() {
    let pki = pki();
    let a = Certificate::from_der(&pki.der("a.pem")).unwrap();
    let sha1 = |d: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, d)
            .as_ref()
            .to_vec()
    };
    let good = signing_certificate(None, sha1(&a.der), Some(issuer_serial(&a, &a.serial)));
    let r = verify(&pki, &with_attribute(&pki, attribute(&OID_V1, good)));
    assert_eq!(r.status, Status::Accepted, "{:?}", r.reasons);
    assert_eq!(r.signers[0].signing_certificate, Some("v1"));

    // The right hash, but an issuerSerial naming serial 6: not this certificate.
    let wrong = signing_certificate(None, sha1(&a.der), Some(issuer_serial(&a, &[6])));
    let r = verify(&pki, &with_attribute(&pki, attribute(&OID_V1, wrong)));
    refused(&r, Reason::SignatureInvalid);
    assert!(
        r.reasons[0].detail.contains("issuer and serial"),
        "{:?}",
        r.reasons
    );
}

#[test]
fn signing_certificate_v2_hashes() {
    let pki = pki();
    let a = Certificate::from_der(&pki.der("a.pem")).unwrap();
    let sha512_oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    let v2 = signing_certificate(
        Some(&sha512_oid),
        sha2::Sha512::digest(&a.der).to_vec(),
        None,
    );
    let r = verify(&pki, &with_attribute(&pki, attribute(&OID_V2, v2)));
    assert_eq!(r.status, Status::Accepted, "{:?}", r.reasons);

    // The default hash (SHA-256) over another certificate.
    let c = Certificate::from_der(&pki.der("c.pem")).unwrap();
    let v2 = signing_certificate(None, sha2::Sha256::digest(&c.der).to_vec(), None);
    refused(
        &verify(&pki, &with_attribute(&pki, attribute(&OID_V2, v2))),
        Reason::SignatureInvalid,
    );

    // SHA-224: a hash this verifier does not compute, so the binding is unchecked.
    let sha224_oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];
    let v2 = signing_certificate(Some(&sha224_oid), vec![0; 28], None);
    refused(
        &verify(&pki, &with_attribute(&pki, attribute(&OID_V2, v2))),
        Reason::AlgorithmUnsupported,
    );
}

#[test]
fn malformed_signing_certificate_is_refused_as_malformed() {
    let pki = pki();
    let bad = Node::Cons(0x30, vec![Node::Prim(0x04, vec![1, 2, 3])]);
    let r = verify(&pki, &with_attribute(&pki, attribute(&OID_V2, bad)));
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(r.codes(), vec![Reason::Malformed], "{:?}", r.reasons);
}
