//! RFC 3161 time-stamps inside CMS (id-aa-signatureTimeStampToken), end to end with the
//! OpenSSL command line: `openssl cms -sign` signs, `openssl ts -reply` is the TSA stamping
//! the signature value, the token goes in as an unsigned attribute, and `openssl ca -gencrl`
//! writes a CRL whose entries carry the revocation dates and reasons each case needs.
//!
//! Every case validates two days from now, when the one-day signer certificates have expired:
//! only a valid token from a trusted TSA lets such a signature stand.

mod common;
use common::der::{self, Node};
use common::pki::{now, openssl};
use std::path::{Path, PathBuf};
use tamga::verify::{Policy, Report, RevocationPolicy, Status, TrustStore, Verifier};

const DAY: i64 = 86_400;

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
struct Signer {
    name: &'static str,
    serial: u32,
    /// Revocation, as (seconds from now, OpenSSL reason name).
    revoked: Option<(i64, &'static str)>,
}

const EXPIRES: Signer = Signer {
    name: "expires",
    serial: 0x10,
    revoked: None,
};
const COMPROMISED: Signer = Signer {
    name: "compromised",
    serial: 0x11,
    revoked: Some((-3600, "keyCompromise")),
};
const SUPERSEDED: Signer = Signer {
    name: "superseded",
    serial: 0x12,
    revoked: Some((1800, "superseded")),
};
const COMPROMISED_LATER: Signer = Signer {
    name: "compromised-later",
    serial: 0x13,
    revoked: Some((1800, "keyCompromise")),
};
/// A TSA of the trusted CA whose certificate is revoked.
const REVOKED_TSA: Signer = Signer {
    name: "revoked-tsa",
    serial: 0x08,
    revoked: Some((-3600, "keyCompromise")),
};

/// A CA (trusted: `trust/` holds it and its CRL), a good TSA (`tsa`), a revoked one, another
/// CA outside the trust store with a TSA of its own (`rogue-tsa`), and the signers above.
struct Pki {
    dir: tempfile::TempDir,
    now: i64,
}

/// `YYYYMMDDHHMMSSZ` of a Unix time.
fn generalized(t: i64) -> String {
    tamga::verify::fmt_time(t).replace(['-', 'T', ':'], "")
}

impl Pki {
    fn new() -> Pki {
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

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// A P-256 key in `<name>.key`.
    fn key(&self, name: &str) {
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
    fn ca(&self, name: &str, subject: &str) {
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
    fn issue(&self, name: &str, ca: &str, serial: u32, days: u32, ext: &str) {
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
    fn crl(&self, revoked: &[Signer]) {
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
    fn sign(&self, signer: &str) -> Vec<u8> {
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
    fn token(&self, tsa: &str, data: &[u8]) -> Vec<u8> {
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
    fn verifier(&self) -> Verifier {
        self.verifier_with(RevocationPolicy::Require)
    }

    fn verifier_with(&self, revocation: RevocationPolicy) -> Verifier {
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
    fn soon(&self) -> i64 {
        self.now + 7200
    }

    /// Two days from now: every signer certificate has expired.
    fn later(&self) -> i64 {
        self.now + 2 * DAY
    }
}

/// The signature value of the first SignerInfo.
fn signature_value(cms: &[u8]) -> Vec<u8> {
    let mut ci = der::parse(cms);
    match der::signer_info(&mut ci, 0).child(5) {
        Node::Prim(0x04, v) => v.clone(),
        other => panic!("no signature value: {other:?}"),
    }
}

/// `cms` with `tokens` added to its first SignerInfo as id-aa-signatureTimeStampToken
/// values (one attribute, several values; RFC 3161 Appendix A).
fn with_tokens(cms: &[u8], tokens: &[Vec<u8>]) -> Vec<u8> {
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
fn stamped(pki: &Pki, signer: Signer, tsa: Option<&str>) -> Vec<u8> {
    let cms = pki.sign(signer.name);
    match tsa {
        Some(tsa) => with_tokens(&cms, &[pki.token(tsa, &signature_value(&cms))]),
        None => cms,
    }
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.codes().iter().map(|c| c.code()).collect()
}

fn warnings(r: &Report) -> Vec<&'static str> {
    r.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn a_signer_certificate_that_expired_after_the_time_stamp_is_accepted() {
    let pki = Pki::new();
    let v = pki.verifier();
    let before = now();
    let report = v.verify(&stamped(&pki, EXPIRES, Some("tsa")), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    let ts = report.signers[0]
        .timestamp
        .as_ref()
        .expect("the token counted");
    assert_eq!(ts.tsa, "CN=tamga tsa");
    assert_eq!(ts.policy, "1.2.398.3.3.4.1");
    assert_eq!(ts.serial, "02");
    // Its CRL's silence two days on says less than it would before the expiry.
    assert_eq!(warnings(&report), ["revocation-unchecked"]);
    assert!(report.warnings[0].detail.contains("RFC 5280 §3.3"));
    let time = common::at(&ts.time);
    assert!(time >= before - 1 && time <= now(), "{}", ts.time);
    // Without the token the same signature is judged two days from now: expired.
    let report = v.verify(&stamped(&pki, EXPIRES, None), None, pki.later());
    assert_eq!(codes(&report), ["certificate-expired"]);
    assert!(report.signers[0].timestamp.is_none());
}

#[test]
fn revoked_for_key_compromise_before_the_time_stamp_is_rejected() {
    let pki = Pki::new();
    let report = pki
        .verifier()
        .verify(&stamped(&pki, COMPROMISED, Some("tsa")), None, pki.later());
    assert_eq!(codes(&report), ["certificate-revoked"], "{report:?}");
}

#[test]
fn revoked_after_the_time_stamp_counts_only_for_a_compromise() {
    let pki = Pki::new();
    let v = pki.verifier();
    // Superseded half an hour after the token: the signature stands.
    let report = v.verify(&stamped(&pki, SUPERSEDED, Some("tsa")), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // Without the token, nothing proves it was made before the revocation.
    let report = v.verify(&stamped(&pki, SUPERSEDED, None), None, pki.later());
    assert!(
        codes(&report).contains(&"certificate-revoked"),
        "{report:?}"
    );
    // keyCompromise half an hour after the token: the key may have been out before that.
    let report = v.verify(
        &stamped(&pki, COMPROMISED_LATER, Some("tsa")),
        None,
        pki.later(),
    );
    assert_eq!(codes(&report), ["certificate-revoked"], "{report:?}");
}

#[test]
fn a_tampered_token_or_one_for_other_data_is_timestamp_invalid() {
    let pki = Pki::new();
    let v = pki.verifier();
    let cms = pki.sign(EXPIRES.name);
    let token = pki.token("tsa", &signature_value(&cms));
    // The policy OID's last arc, inside the signed TSTInfo: 1.2.398.3.3.4.1 -> .2.
    let policy = [0x06, 0x07, 0x2A, 0x83, 0x0E, 0x03, 0x03, 0x04, 0x01];
    let mut changed = token.clone();
    let at = changed
        .windows(policy.len())
        .position(|w| w == policy)
        .unwrap();
    changed[at + policy.len() - 1] = 0x02;
    let report = v.verify(&with_tokens(&cms, &[changed]), None, pki.later());
    assert_eq!(report.status, Status::Rejected);
    assert!(codes(&report).contains(&"timestamp-invalid"), "{report:?}");
    assert!(report.signers[0].timestamp.is_none());
    // A token over something else than this signature value.
    let other = pki.token("tsa", b"another signature value");
    let report = v.verify(&with_tokens(&cms, &[other]), None, pki.soon());
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
    // A valid token beside a changed one does not cover for it.
    let mut garbled = token.clone();
    let last = garbled.len() - 3;
    garbled[last] ^= 1; // inside the TSA's signature value
    let report = v.verify(&with_tokens(&cms, &[token, garbled]), None, pki.soon());
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
}

#[test]
fn a_token_from_a_revoked_tsa_is_timestamp_invalid() {
    let pki = Pki::new();
    let report = pki.verifier().verify(
        &stamped(&pki, EXPIRES, Some(REVOKED_TSA.name)),
        None,
        pki.soon(),
    );
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
    assert!(
        report.reasons[0].detail.contains("certificate-revoked"),
        "{report:?}"
    );
}

#[test]
fn an_untrusted_tsa_is_ignored_with_a_warning_and_the_signer_judged_now() {
    let pki = Pki::new();
    let v = pki.verifier();
    let report = v.verify(
        &stamped(&pki, EXPIRES, Some("rogue-tsa")),
        None,
        pki.later(),
    );
    assert_eq!(codes(&report), ["certificate-expired"], "{report:?}");
    assert_eq!(warnings(&report), ["timestamp-untrusted"]);
    assert!(report.signers[0].timestamp.is_none());
    // Beside a trusted TSA's token, the trusted one counts and the other is still named.
    let cms = pki.sign(EXPIRES.name);
    let value = signature_value(&cms);
    let tokens = [pki.token("rogue-tsa", &value), pki.token("tsa", &value)];
    let report = v.verify(&with_tokens(&cms, &tokens), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    assert!(warnings(&report).contains(&"timestamp-untrusted"));
    assert_eq!(
        report.signers[0].timestamp.as_ref().map(|t| t.tsa.as_str()),
        Some("CN=tamga tsa")
    );
}

#[test]
fn tamga_verify_shows_the_time_stamp_and_exits_0() {
    let pki = Pki::new();
    std::fs::write(pki.file("stamped.der"), stamped(&pki, EXPIRES, Some("tsa"))).unwrap();
    let later = tamga::verify::fmt_time(pki.later());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("verify")
        .arg(pki.file("stamped.der"))
        .arg("--trust")
        .arg(pki.file("trust"))
        .args(["--at", &later, "--revocation", "require", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "accepted");
    let ts = &v["signers"][0]["timestamp"];
    assert_eq!(ts["tsa"], "CN=tamga tsa");
    assert_eq!(ts["policy"], "1.2.398.3.3.4.1");
    assert_eq!(ts["serial"], "02");
    assert!(
        ts["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{ts}"
    );
    // The same signature without its token: rejected, exit code 1.
    std::fs::write(pki.file("bare.der"), pki.sign(EXPIRES.name)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("verify")
        .arg(pki.file("bare.der"))
        .arg("--trust")
        .arg(pki.file("trust"))
        .args(["--at", &later, "--revocation", "require", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reasons"][0]["code"], "certificate-expired");
    assert!(v["signers"][0].get("timestamp").is_none());
}

#[test]
fn tokens_are_bounded_and_a_token_s_own_tokens_are_not_followed() {
    let pki = Pki::new();
    let v = pki.verifier();
    let cms = pki.sign(EXPIRES.name);
    let token = pki.token("tsa", &signature_value(&cms));
    // Five tokens on one signer: more than a signer has any use for, each a CMS to verify.
    let report = v.verify(
        &with_tokens(&cms, &vec![token.clone(); 5]),
        None,
        pki.soon(),
    );
    assert_eq!(codes(&report), ["malformed"], "{report:?}");
    let report = v.verify(
        &with_tokens(&cms, &vec![token.clone(); 4]),
        None,
        pki.later(),
    );
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // Across signers too: five signers with four tokens each are refused, four are read.
    let four = der::parse(&with_tokens(&cms, &vec![token.clone(); 4]));
    let signers = |n: usize| {
        let mut ci = four.clone();
        let si = der::signer_info(&mut ci, 0).clone();
        let sd = ci.child(1).child(0);
        let infos = sd.children().last_mut().unwrap().children();
        infos.extend(std::iter::repeat_n(si, n - 1));
        der::encode(&ci)
    };
    let report = v.verify(&signers(5), None, pki.later());
    assert_eq!(codes(&report), ["malformed"], "{report:?}");
    let report = v.verify(&signers(4), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // The token's own SignerInfo carrying a token (unsigned, so its signature still holds):
    // not followed, the outer token still counts.
    let nested = with_tokens(&token, std::slice::from_ref(&token));
    let report = v.verify(&with_tokens(&cms, &[nested]), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
}

#[test]
fn a_tsa_whose_revocation_is_unknown_makes_the_answer_try_later_not_a_rejection() {
    let pki = Pki::new();
    let sig = stamped(&pki, EXPIRES, Some("lonely-tsa"));
    // Under `require`: nothing final (the signer's expiry is what the token would cure), so
    // the service answers "try later"; no timestamp is shown, none counted.
    let report = pki.verifier().verify(&sig, None, pki.later());
    assert_eq!(codes(&report), ["revocation-unavailable"], "{report:?}");
    assert!(report.indeterminate());
    assert!(
        report.reasons[0]
            .detail
            .contains("time-stamp token 0's authority")
    );
    assert!(report.signers[0].timestamp.is_none());
    // A final fault stays final: revoked for keyCompromise before the token.
    let report = pki.verifier().verify(
        &stamped(&pki, COMPROMISED, Some("lonely-tsa")),
        None,
        pki.later(),
    );
    assert!(!report.indeterminate(), "{report:?}");
    assert!(codes(&report).contains(&"certificate-revoked"));
    // Under `prefer`: the token counts, with the TSA's warning.
    let report = pki
        .verifier_with(RevocationPolicy::Prefer)
        .verify(&sig, None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    assert!(report.signers[0].timestamp.is_some());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.code == "revocation-unchecked" && w.detail.contains("time-stamp token 0")),
        "{report:?}"
    );
}
