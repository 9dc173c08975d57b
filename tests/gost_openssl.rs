//! Cross-check of the GOST verifier with an independent implementation: fresh GOST 2012-256,
//! 2012-512 and 2001 CMS signatures, certificates and a CRL made by the OpenSSL command line
//! with Debian's GOST engine (`tests/gost/make.sh`). tamga must accept every one, reject every
//! tampered copy, and see the revoked signer on the GOST-signed CRL; `openssl cms -verify`
//! agrees on a sample of both.

use std::path::{Path, PathBuf};
use std::process::Command;
use tamga::verify::{Policy, RevocationPolicy, SignerRule, SignerStatus, Status, Verifier};

/// Signers made by make.sh: name, and the scheme tamga must report.
const SIGNERS: &[(&str, &str)] = &[
    ("2012-256-tc26a", "gost3410-streebog256"),
    ("2012-256-tc26b", "gost3410-streebog256"),
    ("2012-256-cpb", "gost3410-streebog256"),
    ("2012-256-tc26d", "gost3410-streebog256"),
    ("2012-512-a", "gost3410-streebog512"),
    ("2012-512-b", "gost3410-streebog512"),
    ("2012-512-c", "gost3410-streebog512"),
    ("2001-cpa", "gost3410-gost94-cryptopro"),
    ("2001-cpc", "gost3410-gost94-cryptopro"),
    ("2001-xchb", "gost3410-gost94-cryptopro"),
];

struct Pki {
    _dir: tempfile::TempDir,
    path: PathBuf,
    verifier: Verifier,
    content: Vec<u8>,
}

impl Pki {
    fn make() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gost/make.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tests/gost/make.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let trust = tamga::trustdir::load(&[path.join("trust")]).unwrap();
        let policy = Policy {
            revocation: RevocationPolicy::Require,
            signers: SignerRule::All,
            ..Policy::default()
        };
        let content = std::fs::read(path.join("content.txt")).unwrap();
        Pki {
            _dir: dir,
            path,
            verifier: Verifier::new(trust, policy),
            content,
        }
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path.join(name)).unwrap()
    }

    fn verify(&self, sig: &[u8], content: Option<&[u8]>) -> tamga::verify::Report {
        self.verifier.verify(sig, content, tamga::clock::now())
    }

    /// `openssl cms -verify` with the engine, the root as the only anchor and the CRL checked.
    fn openssl_accepts(&self, sig: &[u8], content: Option<&[u8]>) -> bool {
        let sig_path = self.path.join("candidate.p7s");
        std::fs::write(&sig_path, sig).unwrap();
        let mut cmd = Command::new("openssl");
        cmd.env("OPENSSL_CONF", self.path.join("engine.cnf"))
            .args([
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-crl_check_all",
            ])
            .arg("-in")
            .arg(&sig_path)
            .arg("-CAfile")
            .arg(self.path.join("ca-and-crl.pem"))
            .args(["-out", "/dev/null"]);
        if let Some(c) = content {
            let content_path = self.path.join("candidate.txt");
            std::fs::write(&content_path, c).unwrap();
            cmd.arg("-content").arg(content_path);
        }
        cmd.output().unwrap().status.success()
    }
}

/// Byte ranges of the only signer's signature value and signed attributes within `file`.
fn signer_parts(file: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let sd = tamga::verify::cms::parse(file).unwrap();
    let si = sd.signers.first().unwrap();
    let at = |part: &[u8]| {
        let start = part.as_ptr() as usize - file.as_ptr() as usize;
        start..start + part.len()
    };
    let std::borrow::Cow::Borrowed(sig) = &si.signature else {
        panic!("a DER signature value is a slice of the input");
    };
    (at(sig), at(si.signed_attrs.as_ref().unwrap().raw))
}

#[test]
fn engine_made_gost_signatures_verify_and_tampered_copies_do_not() {
    let pki = Pki::make();
    let ca_and_crl = [pki.read("root.pem"), pki.read("root.crl.pem")].concat();
    std::fs::write(pki.path.join("ca-and-crl.pem"), ca_and_crl).unwrap();

    for &(name, scheme) in SIGNERS {
        let attached = pki.read(&format!("{name}.attached.p7s"));
        let detached = pki.read(&format!("{name}.detached.p7s"));
        for (file, content) in [(&attached, None), (&detached, Some(&pki.content[..]))] {
            let r = pki.verify(file, content);
            assert_eq!(r.status, Status::Accepted, "{name}: {r:#?}");
            assert_eq!(r.signers[0].algorithm.as_deref(), Some(scheme), "{name}");
            assert_eq!(r.signers[0].path.len(), 2, "{name}: leaf and GOST root");

            // Every byte of the signature value, a spread of signed-attribute bytes.
            let (sig, attrs) = signer_parts(file);
            let attr_sample = attrs.clone().step_by(7);
            for pos in sig.clone().chain(attr_sample) {
                let mut bad = file.clone();
                bad[pos] ^= 0x04;
                let r = pki.verify(&bad, content);
                assert_ne!(r.status, Status::Accepted, "{name}: byte {pos} flipped");
            }
        }
        // Every byte of the detached content.
        for i in 0..pki.content.len() {
            let mut bad = pki.content.clone();
            bad[i] ^= 0x20;
            let r = pki.verify(&detached, Some(&bad));
            assert_eq!(
                r.signers[0].status,
                SignerStatus::Invalid,
                "{name}: content {i}"
            );
        }
    }

    // OpenSSL agrees on a sample: the originals verify, a flipped signature byte does not.
    for name in ["2012-256-tc26a", "2012-512-a", "2001-cpa"] {
        let file = pki.read(&format!("{name}.attached.p7s"));
        assert!(pki.openssl_accepts(&file, None), "{name}: openssl");
        let (sig, _) = signer_parts(&file);
        let mut bad = file.clone();
        bad[sig.start + 5] ^= 0x01;
        assert!(
            !pki.openssl_accepts(&bad, None),
            "{name}: openssl, tampered"
        );
        assert_ne!(pki.verify(&bad, None).status, Status::Accepted);
    }
}

#[test]
fn gost_signed_crl_revokes_a_gost_signer() {
    let pki = Pki::make();
    let r = pki.verify(&pki.read("revoked.attached.p7s"), None);
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(
        r.signers[0]
            .reasons
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>(),
        ["certificate-revoked"]
    );
    // Without its CRL the same signature is accepted with revocation off: the CRL decided it.
    let only_root = pki.path.join("only-root");
    std::fs::create_dir(&only_root).unwrap();
    std::fs::copy(pki.path.join("root.pem"), only_root.join("root.pem")).unwrap();
    let lenient = Verifier::new(
        tamga::trustdir::load(&[only_root]).unwrap(),
        Policy {
            revocation: RevocationPolicy::Off,
            signers: SignerRule::All,
            ..Policy::default()
        },
    );
    let r = lenient.verify(&pki.read("revoked.attached.p7s"), None, tamga::clock::now());
    assert_eq!(r.status, Status::Accepted, "{r:#?}");
}
