//! A PKI for time-stamp tests, made with the OpenSSL command line: a CA with a CRL whose
//! entries carry chosen revocation dates and reasons (`openssl ca -gencrl` over a written
//! index), TSAs (`openssl ts -reply`) trusted, revoked, without revocation data and untrusted,
//! one-day signer certificates (`openssl cms -sign`), and the splice that puts tokens into a
//! SignerInfo as id-aa-signatureTimeStampToken.

use super::der::{self, Node};
use super::pki::{now, openssl};
use std::path::{Path, PathBuf};
use tamga::verify::{Policy, RevocationPolicy, TrustStore, Verifier};

/// A day in seconds.
pub const DAY: i64 = 86_400;

const CA_CNF: &str = "\
[ ca ]
default_ca = ca1
[ ca1 ]
database = index.txt
crlnumber = crlnumber
certificate = ca.pem
private_key = ca.key
default_md = sha256
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
";

const TS_CNF: &str = "\
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = ./tsaserial
signer_digest = sha256
default_policy = 1.2.398.3.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
";

const SIGNER_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
keyUsage=critical,digitalSignature,nonRepudiation\n";
const TSA_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
keyUsage=critical,digitalSignature,nonRepudiation\n\
extendedKeyUsage=critical,timeStamping\n";

/// A signer of the test PKI: its serial, and what the CRL says of it.
#[derive(Clone, Copy)]
pub struct Signer {
    /// The file and subject name.
    pub name: &'static str,
    /// The serial number.
    pub serial: u32,
    /// Revocation, as (seconds from now, OpenSSL reason name).
    pub revoked: Option<(i64, &'static str)>,
}

/// A signer never revoked, whose one-day certificate has expired when the tests validate:
/// only a time-stamp from before the expiry keeps its signature.
pub const EXPIRES: Signer = Signer {
    name: "expires",
    serial: 0x10,
    revoked: None,
};
/// A signer revoked for key compromise an hour before the signing: rejected, time-stamp or not.
pub const COMPROMISED: Signer = Signer {
    name: "compromised",
    serial: 0x11,
    revoked: Some((-3600, "keyCompromise")),
};
/// A signer revoked as superseded half an hour after the signing: a time-stamp from before the
/// revocation keeps its signature.
pub const SUPERSEDED: Signer = Signer {
    name: "superseded",
    serial: 0x12,
    revoked: Some((1800, "superseded")),
};
/// A signer revoked for key compromise half an hour after the signing: the key may have been
/// out before, so no time-stamp keeps its signature.
pub const COMPROMISED_LATER: Signer = Signer {
    name: "compromised-later",
    serial: 0x13,
    revoked: Some((1800, "keyCompromise")),
};
/// A TSA of the trusted CA whose certificate is revoked.
pub const REVOKED_TSA: Signer = Signer {
    name: "revoked-tsa",
    serial: 0x08,
    revoked: Some((-3600, "keyCompromise")),
};

/// A CA (trusted: `trust/` holds it and its CRL), a good TSA (`tsa`), a revoked one, another
/// CA outside the trust store with a TSA of its own (`rogue-tsa`), and the signers above.
pub struct Pki {
    /// The working directory.
    pub dir: tempfile::TempDir,
    /// When it was made.
    pub now: i64,
}

/// `YYYYMMDDHHMMSSZ` of a Unix time.
pub fn generalized(t: i64) -> String {
    tamga::verify::fmt_time(t).replace(['-', 'T', ':'], "")
}

impl Pki {
    /// Makes the whole PKI in a fresh temporary directory.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            now: now(),
        };
        let d = pki.path();
        std::fs::create_dir(d.join("trust")).unwrap();
        std::fs::write(d.join("signer.ext"), SIGNER_EXT).unwrap();
        std::fs::write(d.join("tsa.ext"), TSA_EXT).unwrap();
        std::fs::write(d.join("ts.cnf"), TS_CNF).unwrap();
        std::fs::write(d.join("tsaserial"), "01\n").unwrap();
        std::fs::write(d.join("doc.txt"), "A document for the chancellery.\n").unwrap();
        pki.ca("ca", "/CN=tamga TS test CA");
        pki.ca("rogue", "/CN=tamga rogue CA");
        pki.ca("tsaca", "/CN=tamga TSA CA without CRL");
        pki.issue("tsa", "ca", 7, 30, "tsa.ext");
        pki.issue("rogue-tsa", "rogue", 7, 30, "tsa.ext");
        pki.issue("lonely-tsa", "tsaca", 9, 30, "tsa.ext");
        for s in [EXPIRES, COMPROMISED, SUPERSEDED, COMPROMISED_LATER] {
            pki.issue(s.name, "ca", s.serial, 1, "signer.ext");
        }
        pki.issue(REVOKED_TSA.name, "ca", REVOKED_TSA.serial, 30, "tsa.ext");
        pki.crl(&[COMPROMISED, SUPERSEDED, COMPROMISED_LATER, REVOKED_TSA]);
        std::fs::copy(d.join("ca.pem"), d.join("trust/ca.pem")).unwrap();
        std::fs::copy(d.join("tsaca.pem"), d.join("trust/tsaca.pem")).unwrap();
        pki
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file of the PKI.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// A P-256 key in `<name>.key`.
    pub fn key(&self, name: &str) {
        let out = format!("{name}.key");
        openssl(
            self.path(),
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &out,
            ],
        );
    }

    /// A self-signed CA `<name>.pem`, valid 30 days.
    pub fn ca(&self, name: &str, subject: &str) {
        self.key(name);
        let (key, out) = (format!("{name}.key"), format!("{name}.pem"));
        openssl(
            self.path(),
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key,
                "-subj",
                subject,
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                &out,
            ],
        );
    }

    /// `<name>.pem` issued by `ca` for `days`, with the extensions of `ext`.
    pub fn issue(&self, name: &str, ca: &str, serial: u32, days: u32, ext: &str) {
        self.key(name);
        let (key, csr, out) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subject = format!("/CN=tamga {name}");
        openssl(
            self.path(),
            &["req", "-new", "-key", &key, "-subj", &subject, "-out", &csr],
        );
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        let (serial, days) = (serial.to_string(), days.to_string());
        openssl(
            self.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-set_serial",
                &serial,
                "-days",
                &days,
                "-sha256",
                "-extfile",
                ext,
                "-out",
                &out,
            ],
        );
    }

    /// The CA's CRL, into `trust/ca.crl`: `revoked` listed with their dates and reasons,
    /// issued an hour from now (after every revocation date) and current for 30 days.
    pub fn crl(&self, revoked: &[Signer]) {
        let mut index = String::new();
        for s in revoked {
            let (offset, reason) = s.revoked.unwrap();
            let expiry = generalized(self.now + 30 * DAY);
            let date = generalized(self.now + offset);
            // index.txt keeps UTCTime: two-digit years.
            index.push_str(&format!(
                "R\t{}\t{},{reason}\t{:02X}\tunknown\t/CN=tamga {}\n",
                &expiry[2..],
                &date[2..],
                s.serial,
                s.name
            ));
        }
        let d = self.path();
        std::fs::write(d.join("index.txt"), index).unwrap();
        std::fs::write(d.join("index.txt.attr"), "unique_subject = no\n").unwrap();
        std::fs::write(d.join("crlnumber"), "01\n").unwrap();
        std::fs::write(d.join("ca.cnf"), CA_CNF).unwrap();
        let (last, next) = (
            generalized(self.now + 3600),
            generalized(self.now + 30 * DAY),
        );
        openssl(
            d,
            &[
                "ca",
                "-config",
                "ca.cnf",
                "-gencrl",
                "-crl_lastupdate",
                &last,
                "-crl_nextupdate",
                &next,
                "-out",
                "trust/ca.crl",
            ],
        );
    }

    /// A CMS SignedData (DER, content attached) over `doc.txt` by `signer`.
    pub fn sign(&self, signer: &str) -> Vec<u8> {
        let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        openssl(
            self.path(),
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-in",
                "doc.txt",
                "-signer",
                &cert,
                "-inkey",
                &key,
                "-md",
                "sha256",
                "-outform",
                "DER",
                "-out",
                "sig.der",
            ],
        );
        std::fs::read(self.file("sig.der")).unwrap()
    }

    /// A time-stamp token from `tsa` over `data`.
    pub fn token(&self, tsa: &str, data: &[u8]) -> Vec<u8> {
        std::fs::write(self.file("imprinted.bin"), data).unwrap();
        openssl(
            self.path(),
            &[
                "ts",
                "-query",
                "-data",
                "imprinted.bin",
                "-sha256",
                "-cert",
                "-out",
                "req.tsq",
            ],
        );
        let (cert, key) = (format!("{tsa}.pem"), format!("{tsa}.key"));
        openssl(
            self.path(),
            &[
                "ts",
                "-reply",
                "-config",
                "ts.cnf",
                "-queryfile",
                "req.tsq",
                "-signer",
                &cert,
                "-inkey",
                &key,
                "-token_out",
                "-out",
                "token.der",
            ],
        );
        std::fs::read(self.file("token.der")).unwrap()
    }

    /// A verifier trusting `trust/` (the CA and its CRL, the TSA CA without one), revocation
    /// required.
    pub fn verifier(&self) -> Verifier {
        self.verifier_with(RevocationPolicy::Require)
    }

    /// A verifier trusting `trust/` with this revocation policy.
    pub fn verifier_with(&self, revocation: RevocationPolicy) -> Verifier {
        let trust: TrustStore = tamga::trustdir::load(&[self.file("trust")]).unwrap();
        Verifier::new(
            trust,
            Policy {
                revocation,
                ..Policy::default()
            },
        )
    }

    /// Two hours from now: the CRL is current, no certificate has expired.
    pub fn soon(&self) -> i64 {
        self.now + 7200
    }

    /// Two days from now: every signer certificate has expired.
    pub fn later(&self) -> i64 {
        self.now + 2 * DAY
    }
}

/// The signature value of the first SignerInfo.
pub fn signature_value(cms: &[u8]) -> Vec<u8> {
    let mut ci = der::parse(cms);
    match der::signer_info(&mut ci, 0).child(5) {
        Node::Prim(0x04, v) => v.clone(),
        other => panic!("no signature value: {other:?}"),
    }
}

/// `cms` with `tokens` added to its first SignerInfo as id-aa-signatureTimeStampToken
/// values (one attribute, several values; RFC 3161 Appendix A).
pub fn with_tokens(cms: &[u8], tokens: &[Vec<u8>]) -> Vec<u8> {
    // 1.2.840.113549.1.9.16.2.14
    let oid = Node::Prim(
        0x06,
        vec![
            0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E,
        ],
    );
    let values = Node::Cons(0x31, tokens.iter().map(|t| der::parse(t)).collect());
    let attr = Node::Cons(0x30, vec![oid, values]);
    let mut ci = der::parse(cms);
    der::signer_info(&mut ci, 0)
        .children()
        .push(Node::Cons(0xA1, vec![attr]));
    der::encode(&ci)
}

/// A signature by `signer` stamped by `tsa` (None: no token).
pub fn stamped(pki: &Pki, signer: Signer, tsa: Option<&str>) -> Vec<u8> {
    let cms = pki.sign(signer.name);
    match tsa {
        Some(tsa) => with_tokens(&cms, &[pki.token(tsa, &signature_value(&cms))]),
        None => cms,
    }
}
