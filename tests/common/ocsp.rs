//! An OCSP PKI made with the OpenSSL command line at test time: a CA, leaves whose status an
//! `openssl ocsp` index states (good, revoked keyCompromise, on hold, one the index does not
//! know), a delegated responder (id-pkix-ocsp-nocheck), a stranger key to sign with, CMS
//! signatures by each leaf, and `openssl ocsp` either answering one request offline or
//! running as a live responder on loopback (killed when dropped).

use super::pki::openssl;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
const RESPONDER_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\nnoCheck=ignored\n";
const RESPONDER_CHECKED_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n";

/// The leaves the index knows, with their state, and one it does not.
pub const LEAVES: [&str; 4] = ["good", "revoked", "hold", "stranger"];

/// The PKI's directory; `trust/` holds the CA alone.
pub struct OcspPki {
    /// The working directory.
    pub dir: tempfile::TempDir,
    /// The OCSP URL the leaves' AIA names, if any.
    pub aia: Option<String>,
}

/// A P-256 key into `dir/<name>.key`.
pub fn ec_key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{name}.key"),
        ],
    );
}

/// `name`.pem for a fresh key, issued by `issuer` (self-signed when `None`) with `ext`.
fn cert(dir: &Path, name: &str, issuer: Option<&str>, ext: &str, serial: u32) {
    ec_key(dir, name);
    let csr = format!("{name}.csr");
    let subj = format!("/CN=tamga OCSP {name}");
    let key = format!("{name}.key");
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", &subj, "-out", &csr],
    );
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    let serial = serial.to_string();
    let pem = format!("{name}.pem");
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-days",
        "30",
        "-sha256",
        "-extfile",
        &extfile,
        "-out",
        &pem,
        "-set_serial",
        &serial,
    ];
    let (ca_pem, ca_key);
    match issuer {
        Some(i) => {
            ca_pem = format!("{i}.pem");
            ca_key = format!("{i}.key");
            args.extend(["-CA", &ca_pem, "-CAkey", &ca_key]);
        }
        None => args.extend(["-key", &key]),
    }
    openssl(dir, &args);
}

impl OcspPki {
    /// Makes the PKI; the leaves name `aia` as their OCSP responder when given.
    pub fn new(aia: Option<&str>) -> OcspPki {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir(dir.join("trust")).unwrap();
        std::fs::write(dir.join("doc.txt"), b"A document for the chancellery.\n").unwrap();
        cert(dir, "ca", None, CA_EXT, 1);
        std::fs::copy(dir.join("ca.pem"), dir.join("trust/ca.pem")).unwrap();
        let mut leaf_ext = String::from(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
        );
        if let Some(url) = aia {
            leaf_ext.push_str(&format!("authorityInfoAccess=OCSP;URI:{url}\n"));
        }
        for (i, leaf) in LEAVES.iter().enumerate() {
            cert(dir, leaf, Some("ca"), &leaf_ext, 0x100 + i as u32);
        }
        cert(dir, "responder", Some("ca"), RESPONDER_EXT, 0x200);
        cert(dir, "checked", Some("ca"), RESPONDER_CHECKED_EXT, 0x201);
        // A key the CA never certified, in a certificate it did not issue.
        cert(dir, "wrong", None, RESPONDER_EXT, 0x300);
        let index: String = [
            ("V", "", 0x100),
            ("R", "240101000000Z,keyCompromise", 0x101),
            ("R", "240101000000Z,certificateHold", 0x102),
            ("V", "", 0x200),
            ("V", "", 0x201),
        ]
        .iter()
        .map(|(s, r, serial)| format!("{s}\t301231000000Z\t{r}\t{serial:X}\tunknown\t/CN=x\n"))
        .collect();
        std::fs::write(dir.join("index.txt"), index).unwrap();
        std::fs::write(dir.join("index.txt.attr"), "unique_subject = no\n").unwrap();
        OcspPki {
            dir: tmp,
            aia: aia.map(str::to_owned),
        }
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The trust directory (the CA alone, no CRL).
    pub fn trust(&self) -> PathBuf {
        self.path().join("trust")
    }

    /// A CMS SignedData (DER, attached) over `doc.txt` by `leaf`.
    pub fn sign(&self, leaf: &str) -> Vec<u8> {
        let out = format!("{leaf}.p7s");
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
                &format!("{leaf}.pem"),
                "-inkey",
                &format!("{leaf}.key"),
                "-md",
                "sha256",
                "-outform",
                "DER",
                "-out",
                &out,
            ],
        );
        std::fs::read(self.path().join(out)).unwrap()
    }

    /// The DER of certificate `name`.
    pub fn der(&self, name: &str) -> Vec<u8> {
        let pem = std::fs::read(self.path().join(format!("{name}.pem"))).unwrap();
        tamga::trustdir::pem_or_der(&pem, "CERTIFICATE")
            .unwrap()
            .remove(0)
    }

    /// A CRL by the CA (into `trust/ca.crl`), listing `revoked` (names of certificates).
    pub fn crl(&self, revoked: &[&str]) {
        let dir = self.path();
        let cnf = "[ca]\ndefault_ca = d\n[d]\ndatabase = crl-index.txt\ncrlnumber = crlnumber\n\
                   default_md = sha256\ndefault_crl_days = 1\n";
        std::fs::write(dir.join("crl.cnf"), cnf).unwrap();
        std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
        let index: String = revoked
            .iter()
            .map(|name| {
                let c = tamga::verify::certificate::Certificate::from_der(&self.der(name)).unwrap();
                let serial = tamga::verify::certificate::hex(&c.serial).to_uppercase();
                format!("R\t301231000000Z\t240101000000Z\t{serial}\tunknown\t/CN={name}\n")
            })
            .collect();
        std::fs::write(dir.join("crl-index.txt"), index).unwrap();
        openssl(
            dir,
            &[
                "ca",
                "-gencrl",
                "-config",
                "crl.cnf",
                "-keyfile",
                "ca.key",
                "-cert",
                "ca.pem",
                "-out",
                "trust/ca.crl",
            ],
        );
    }

    /// `openssl ocsp` answering, offline, a request for `leaf`, signed by `signer` (`ca`,
    /// `responder`, `checked`, `wrong`), valid for `ndays` days (`-ndays`): the DER.
    pub fn respond(&self, leaf: &str, signer: &str, ndays: u32) -> Vec<u8> {
        let dir = self.path();
        let req = format!("{leaf}.req");
        let resp = format!("{leaf}-{signer}-{ndays}.resp");
        openssl(
            dir,
            &[
                "ocsp",
                "-issuer",
                "ca.pem",
                "-cert",
                &format!("{leaf}.pem"),
                "-no_nonce",
                "-reqout",
                &req,
            ],
        );
        let ndays = ndays.to_string();
        openssl(
            dir,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-CA",
                "ca.pem",
                "-rsigner",
                &format!("{signer}.pem"),
                "-rkey",
                &format!("{signer}.key"),
                "-reqin",
                &req,
                "-respout",
                &resp,
                "-ndays",
                &ndays,
            ],
        );
        std::fs::read(dir.join(resp)).unwrap()
    }

    /// As [`OcspPki::respond`] (one day), for a request that carried a nonce of its own: the
    /// answer echoes that nonce, so it answers no other request.
    pub fn respond_with_nonce(&self, leaf: &str, signer: &str) -> Vec<u8> {
        let dir = self.path();
        let (req, resp) = ("nonce.req", "nonce.resp");
        openssl(
            dir,
            &[
                "ocsp",
                "-issuer",
                "ca.pem",
                "-cert",
                &format!("{leaf}.pem"),
                "-reqout",
                req,
            ],
        );
        openssl(
            dir,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-CA",
                "ca.pem",
                "-rsigner",
                &format!("{signer}.pem"),
                "-rkey",
                &format!("{signer}.key"),
                "-reqin",
                req,
                "-respout",
                resp,
                "-ndays",
                "1",
            ],
        );
        std::fs::read(dir.join(resp)).unwrap()
    }
}

/// A free loopback port, as far as can be known: bound to port 0, read, released.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A live `openssl ocsp` responder; killed and reaped when dropped.
pub struct Responder {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Responder {
    /// Starts `openssl ocsp -port` on `port` for `pki`, signing with `signer` and any `extra`
    /// options (`-nmin`, `-ndays`); `None` when it did not come up listening (the port was
    /// taken meanwhile): the caller picks another.
    pub fn start(pki: &OcspPki, port: u16, signer: &str, extra: &[&str]) -> Option<Responder> {
        let port_s = port.to_string();
        let rsigner = format!("{signer}.pem");
        let rkey = format!("{signer}.key");
        let mut args = vec![
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            &rsigner,
            "-rkey",
            &rkey,
            "-port",
            &port_s,
        ];
        args.extend(extra);
        let mut child = Command::new("openssl")
            .current_dir(pki.path())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl");
        // Ready once it says it listens ("ACCEPT …" / "waiting for OCSP client connections"):
        // a probe connection would itself be taken as a client and stall the one-connection-
        // at-a-time server. The pipes are drained until it exits, so it never blocks on them.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out = child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>);
        for pipe in [out, err].into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("ACCEPT") || line.contains("waiting for OCSP") => {
                    return Some(Responder {
                        child,
                        url: format!("http://127.0.0.1:{port}/"),
                    });
                }
                Ok(_) => {}
                // Both pipes closed: it exited (the port was taken).
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}
