//! RFC 3161 tokens made by an independent implementation, `openssl ts -reply`, for a TSA made
//! here: a token for this signature verifies and shows its time, policy, serial and TSA; one
//! for other data, a changed one, and one from a TSA outside the trust store do not.

mod common;
use common::pki::{now, openssl};
use std::path::Path;
use tamga::verify::certificate::Certificate;
use tamga::verify::timestamp::TimeStampError;
use tamga::verify::{Policy, RevocationPolicy, TrustStore, Verifier};

const TS_CNF: &str = "\
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = ./serial
signer_digest = sha256
default_policy = 1.2.398.3.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
ess_cert_id_alg = sha256
";

/// A root CA and a TSA under it (critical id-kp-timeStamping), in `dir`.
fn tsa(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-subj",
            "/CN=tamga TSA test root",
            "-days",
            "30",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-subj",
            "/CN=tamga TSA test",
            "-out",
            "tsa.csr",
        ],
    );
    std::fs::write(
        dir.join("tsa.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "tsa.ext",
            "-set_serial",
            "7",
            "-out",
            "tsa.pem",
        ],
    );
    std::fs::write(dir.join("ts.cnf"), TS_CNF).unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
}

/// A token over `data` from the TSA in `dir`.
fn token(dir: &Path, data: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("data.bin"), data).unwrap();
    openssl(
        dir,
        &[
            "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "ts.cnf",
            "-queryfile",
            "req.tsq",
            "-signer",
            "tsa.pem",
            "-inkey",
            "tsa.key",
            "-token_out",
            "-out",
            "token.der",
        ],
    );
    std::fs::read(dir.join("token.der")).unwrap()
}

fn verifier(dir: &Path, trusted: bool) -> Verifier {
    let mut anchors = Vec::new();
    if trusted {
        let pem = std::fs::read(dir.join("ca.pem")).unwrap();
        let der = tamga::trustdir::pem_or_der(&pem, "CERTIFICATE").unwrap();
        anchors.push(Certificate::from_der(&der[0]).unwrap());
    }
    let policy = Policy {
        revocation: RevocationPolicy::Off,
        ..Policy::default()
    };
    Verifier::new(TrustStore::new(anchors, Vec::new()), policy)
}

#[test]
fn an_openssl_token_proves_when_this_signature_existed() {
    let tmp = tempfile::tempdir().unwrap();
    tsa(tmp.path());
    let signature = b"the signature value of a signer".to_vec();
    let before = now();
    let tok = token(tmp.path(), &signature);
    let ts = verifier(tmp.path(), true)
        .verify_timestamp(&tok, &signature, now())
        .unwrap();
    assert!(ts.gen_time >= before - 1 && ts.gen_time <= now(), "{ts:?}");
    assert_eq!(ts.policy, "1.2.398.3.3.4.1");
    assert_eq!(ts.serial, "02"); // openssl ts takes the serial file's next number
    assert_eq!(ts.tsa, "CN=tamga TSA test");
    assert_eq!(ts.accuracy_ms, Some(1500));
}

#[test]
fn a_token_for_other_data_a_changed_token_or_an_untrusted_tsa_proves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    tsa(tmp.path());
    let signature = b"the signature value of a signer".to_vec();
    let tok = token(tmp.path(), &signature);
    let v = verifier(tmp.path(), true);
    assert_eq!(
        v.verify_timestamp(&tok, b"another signature", now()),
        Err(TimeStampError::Imprint)
    );
    // The policy OID's last arc, inside the signed TSTInfo: 1.2.398.3.3.4.1 -> .2.
    let policy = [0x06, 0x07, 0x2A, 0x83, 0x0E, 0x03, 0x03, 0x04, 0x01];
    let mut changed = tok.clone();
    let at = changed
        .windows(policy.len())
        .position(|w| w == policy)
        .unwrap();
    changed[at + policy.len() - 1] = 0x02;
    assert_eq!(
        v.verify_timestamp(&changed, &signature, now()),
        Err(TimeStampError::Invalid("content-mismatch".into()))
    );
    assert_eq!(
        verifier(tmp.path(), false).verify_timestamp(&tok, &signature, now()),
        Err(TimeStampError::Untrusted("certificate-untrusted".into()))
    );
    assert!(matches!(
        v.verify_timestamp(&tok[..tok.len() - 1], &signature, now()),
        Err(TimeStampError::Malformed(_))
    ));
}
