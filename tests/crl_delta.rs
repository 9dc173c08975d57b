//! Delta CRLs kept current while `tamga serve` runs (issue 14 item 6): a loopback HTTP server
//! publishes a CA's complete CRL, whose freshestCRL names a delta CRL, and the delta. A
//! revocation published only in a new delta is enforced within one refresh, without a restart.

mod common;

use common::crl_live::*;
use std::path::Path;
use time::OffsetDateTime;

/// A CA made with the OpenSSL command line, which (unlike rcgen) writes delta CRLs: its
/// certificate and its signers' name the base CRL (cRLDistributionPoints) and the delta
/// (freshestCRL, RFC 5280 §4.2.1.15), and so does each base CRL (§5.2.6).
struct DeltaCa<'a> {
    dir: &'a Path,
}

impl<'a> DeltaCa<'a> {
    /// The CA, written to `dir/trust/ca.pem`, its CRLs at `base` and `delta`.
    fn new(dir: &'a Path, base: &str, delta: &str) -> DeltaCa<'a> {
        let points = format!("crlDistributionPoints = URI:{base}\nfreshestCRL = URI:{delta}\n");
        let cnf = format!(
            "[req]\ndistinguished_name = dn\n[dn]\n\
             [ca_ext]\nbasicConstraints = critical,CA:TRUE\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n{points}\
             [leaf]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature,nonRepudiation\n\
             authorityKeyIdentifier = keyid\n{points}\
             [ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
             default_md = sha256\n\
             [base]\nauthorityKeyIdentifier = keyid\nfreshestCRL = URI:{delta}\n"
        );
        std::fs::write(dir.join("delta.cnf"), cnf).unwrap();
        std::fs::create_dir_all(dir.join("trust")).unwrap();
        let ossl = |args: &[&str]| common::pki::openssl(dir, args);
        common::ocsp::ec_key(dir, "ca");
        ossl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=Delta CRL Test CA",
            "-days",
            "3",
            "-config",
            "delta.cnf",
            "-extensions",
            "ca_ext",
            "-out",
            "trust/ca.pem",
        ]);
        DeltaCa { dir }
    }

    /// A signer `name` with `serial` (hex): `dir/name.pem` and `dir/name.key`.
    fn signer(&self, name: &str, serial: &str) {
        let (key, cert, csr) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("{name}.csr"),
        );
        let ossl = |args: &[&str]| common::pki::openssl(self.dir, args);
        common::ocsp::ec_key(self.dir, name);
        let subj = format!("/CN={name}");
        ossl(&[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &subj,
            "-config",
            "delta.cnf",
            "-out",
            &csr,
        ]);
        let serial = format!("0x{serial}");
        ossl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "trust/ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "3",
            "-extfile",
            "delta.cnf",
            "-extensions",
            "leaf",
            "-out",
            &cert,
        ]);
    }

    /// CRL `number` (DER), current for a day: complete (naming the delta in freshestCRL), or
    /// with `base` a delta on that complete CRL's number; revoking `serials` (hex) as of a day
    /// ago.
    fn crl(&self, number: u8, base: Option<u8>, serials: &[&str]) -> Vec<u8> {
        let ago = OffsetDateTime::now_utc() - time::Duration::days(1);
        let when = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            ago.year() % 100,
            u8::from(ago.month()),
            ago.day(),
            ago.hour(),
            ago.minute(),
            ago.second()
        );
        let index: String = serials
            .iter()
            .map(|s| format!("R\t300101000000Z\t{when}\t{s}\tunknown\t/CN=x\n"))
            .collect();
        std::fs::write(self.dir.join("index.txt"), index).unwrap();
        std::fs::write(self.dir.join("crlnumber"), format!("{number:02X}\n")).unwrap();
        let mut cnf = std::fs::read_to_string(self.dir.join("delta.cnf")).unwrap();
        if let Some(b) = base {
            // The Delta CRL Indicator (2.5.29.27, critical) holds the BaseCRLNumber; OpenSSL
            // has no name for it.
            cnf.push_str(&format!(
                "[delta]\nauthorityKeyIdentifier = keyid\n2.5.29.27 = critical,DER:02:01:{b:02X}\n"
            ));
        }
        std::fs::write(self.dir.join("crl.cnf"), cnf).unwrap();
        let exts = if base.is_some() { "delta" } else { "base" };
        common::pki::openssl(
            self.dir,
            &[
                "ca",
                "-batch",
                "-config",
                "crl.cnf",
                "-gencrl",
                "-cert",
                "trust/ca.pem",
                "-keyfile",
                "ca.key",
                "-crldays",
                "1",
                "-crlexts",
                exts,
                "-out",
                "crl.pem",
            ],
        );
        common::pki::openssl(
            self.dir,
            &[
                "crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der",
            ],
        );
        std::fs::read(self.dir.join("crl.der")).unwrap()
    }
}

#[test]
fn a_revocation_published_only_in_a_delta_crl_is_enforced_within_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = DeltaCa::new(
        d,
        &publisher.url_of("/base.crl"),
        &publisher.url_of("/delta.crl"),
    );
    ca.signer("dana", "1001");
    publisher.publish_at("/base.crl", ca.crl(1, None, &[]));
    publisher.publish_at("/delta.crl", ca.crl(2, Some(1), &[]));
    let s = serve(d);
    wait_for(
        || {
            crl_row_at(&s, "/base.crl")["number"] == "1"
                && crl_row_at(&s, "/delta.crl")["number"] == "2"
        },
        "the base CRL and its delta",
    );
    let r = submit(&s, "№ 1", sign(d, "dana", "first"));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());

    // Revoked in a new delta only; the complete CRL stays as it was.
    publisher.publish_at("/delta.crl", ca.crl(3, Some(1), &["1001"]));
    wait_for(
        || crl_row_at(&s, "/delta.crl")["number"] == "3",
        "delta CRL 3",
    );
    let r = submit(&s, "№ 2", sign(d, "dana", "second"));
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body.to_string().contains("certificate-revoked"), "{body}");
    assert_eq!(crl_row_at(&s, "/base.crl")["number"], "1");

    // The accepted document's evidence (issue 14 item 5) holds the complete CRL and the delta
    // that decided it, and re-checks offline from them.
    drop(s);
    let tamga = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
            .arg("--data")
            .arg(d.join("data"))
            .arg("--policy")
            .arg(d.join("policy.toml"))
            .arg("--keys")
            .arg(d.join("no-keys"))
            .args(args)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        said
    };
    let out = d.join("export");
    tamga(&["export", "--out", out.to_str().unwrap()]);
    let crls = std::fs::read_dir(out.join("evidence"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "crl")
        .count();
    assert_eq!(crls, 2, "the complete CRL and its delta");
    let said = tamga(&["audit", "verify", "--export", out.to_str().unwrap()]);
    assert!(said.contains("1 accepted documents re-checked"), "{said}");
}
