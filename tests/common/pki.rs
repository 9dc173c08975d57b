//! A throw-away PKI made with the OpenSSL command line at test time: a CA, leaf certificates
//! and CMS signatures with whatever algorithm options a test names, so that each algorithm
//! pairing is checked against an independent implementation's output.

use std::path::{Path, PathBuf};
use std::process::Command;
use tamga::verify::{Policy, RevocationPolicy, Verifier};

const CNF: &str = "[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A key type for `openssl genpkey`.
#[derive(Debug, Clone, Copy)]
pub enum KeyAlg {
    /// An EC key on the named curve (`P-256`, `P-384`, `P-521`).
    Ec(&'static str),
    /// RSA-2048.
    Rsa,
}

/// A directory with the PKI's files; `trust/` holds the CA alone.
pub struct Pki {
    /// The working directory.
    pub dir: tempfile::TempDir,
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command line is needed for this test (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The current time, for certificates OpenSSL dates from now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `-opt v` pairs for a list of OpenSSL options (`-sigopt`, `-keyopt`).
fn opts<'a>(flag: &'a str, list: &[&'a str]) -> Vec<&'a str> {
    list.iter().flat_map(|o| [flag, *o]).collect()
}

impl Pki {
    /// A PKI whose CA has a key of `ca_alg` and signs its own certificate with `md`.
    pub fn new(ca_alg: KeyAlg) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cnf"), CNF).unwrap();
        std::fs::create_dir(dir.path().join("trust")).unwrap();
        std::fs::write(
            dir.path().join("doc.txt"),
            b"A document for the chancellery.\n",
        )
        .unwrap();
        let pki = Pki { dir };
        pki.key("ca.key", ca_alg);
        openssl(
            pki.path(),
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-subj",
                "/CN=Test CA",
                "-days",
                "3",
                "-sha256",
                "-config",
                "cnf",
                "-extensions",
                "ca",
                "-out",
                "trust/ca.pem",
            ],
        );
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

    /// Generates a key into `name`.
    pub fn key(&self, name: &str, alg: KeyAlg) {
        let spec = match alg {
            KeyAlg::Ec(curve) => vec![
                "-algorithm".to_owned(),
                "EC".into(),
                "-pkeyopt".into(),
                format!("ec_paramgen_curve:{curve}"),
            ],
            KeyAlg::Rsa => vec![
                "-algorithm".to_owned(),
                "RSA".into(),
                "-pkeyopt".into(),
                "rsa_keygen_bits:2048".into(),
            ],
        };
        let mut args: Vec<&str> = vec!["genpkey"];
        args.extend(spec.iter().map(String::as_str));
        args.extend(["-out", name]);
        openssl(self.path(), &args);
    }

    /// Issues `cert` (PEM) for the key in `key` with `subject` and `serial`, the CA signing
    /// with digest `md` and OpenSSL signature options `sigopts`.
    pub fn issue(
        &self,
        cert: &str,
        key: &str,
        subject: &str,
        serial: &str,
        md: &str,
        sigopts: &[&str],
    ) {
        let csr = format!("{cert}.csr");
        openssl(
            self.path(),
            &[
                "req", "-new", "-key", key, "-subj", subject, "-config", "cnf", "-out", &csr,
            ],
        );
        let md = format!("-{md}");
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "trust/ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            serial,
            "-days",
            "3",
            &md,
            "-extfile",
            "cnf",
            "-extensions",
            "leaf",
            "-out",
            cert,
        ];
        args.extend(opts("-sigopt", sigopts));
        openssl(self.path(), &args);
    }

    /// A CMS SignedData (DER, content attached) over `doc.txt` by `cert` with `key`, digest
    /// `md`, OpenSSL key options `keyopts` and any `extra` options (`-cades`).
    pub fn sign(
        &self,
        cert: &str,
        key: &str,
        md: &str,
        keyopts: &[&str],
        extra: &[&str],
    ) -> Vec<u8> {
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "doc.txt",
            "-signer",
            cert,
            "-inkey",
            key,
            "-md",
            md,
            "-outform",
            "DER",
            "-out",
            "sig.der",
        ];
        args.extend(opts("-keyopt", keyopts));
        args.extend(extra);
        openssl(self.path(), &args);
        std::fs::read(self.file("sig.der")).unwrap()
    }

    /// The DER of a PEM certificate of the PKI.
    pub fn der(&self, cert: &str) -> Vec<u8> {
        let out = format!("{cert}.der");
        openssl(
            self.path(),
            &["x509", "-in", cert, "-outform", "DER", "-out", &out],
        );
        std::fs::read(self.file(&out)).unwrap()
    }

    /// A verifier trusting the CA alone (no CRLs, so revocation is off).
    pub fn verifier(&self) -> Verifier {
        let trust = tamga::trustdir::load(&[self.file("trust")]).unwrap();
        Verifier::new(
            trust,
            Policy {
                revocation: RevocationPolicy::Off,
                ..Policy::default()
            },
        )
    }
}
