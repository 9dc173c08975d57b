//! CRLs kept current while `tamga serve` runs (issue 14 items 3 and 6): a loopback HTTP server
//! publishes a CA's CRL, replaced mid-test. A revocation published while the service runs is
//! enforced within one refresh, without a restart; with only a stale CRL the answer is 503
//! try later and nothing is filed; once a fresh CRL is published the same submission is
//! accepted with its receipt. (Delta CRLs: `crl_delta.rs`.)

mod common;

use common::crl_live::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};
use std::path::Path;
use std::process::Command;
use time::OffsetDateTime;

/// The CA and two signers (serials 0x1001 and 0x1002), their certificates pointing at `url`.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
}

fn params(name: &str, url: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![url.to_owned()],
    }];
    p.not_before = OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + time::Duration::days(30);
    p
}

impl Ca {
    /// The CA, written to `dir/trust/ca.pem`.
    fn new(dir: &Path, url: &str) -> Ca {
        Ca::with(dir, Some(url))
    }

    /// The CA; with `url` its own certificate names its CRL, without it (as the Kazakh NCA's
    /// do) only the certificates it issues do.
    fn with(dir: &Path, url: Option<&str>) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = params("CRL Refresh Test CA", url.unwrap_or_default());
        if url.is_none() {
            p.crl_distribution_points.clear();
        }
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).unwrap();
        std::fs::create_dir_all(dir.join("trust")).unwrap();
        std::fs::write(dir.join("trust/ca.pem"), cert.pem()).unwrap();
        Ca { params: p, key }
    }

    /// A signer `name` with `serial`: `dir/name.pem` and `dir/name.key`.
    fn signer(&self, dir: &Path, name: &str, serial: u64, url: &str) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = params(name, url);
        p.is_ca = IsCa::ExplicitNoCa;
        p.serial_number = Some(SerialNumber::from(serial));
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }

    /// A CRL numbered `number`, issued `age` s ago, next update `life` s after, revoking
    /// `serials` as of its issue.
    fn crl(&self, number: u64, age: i64, life: i64, serials: &[u64]) -> Vec<u8> {
        let this = OffsetDateTime::now_utc() - time::Duration::seconds(age);
        let params = CertificateRevocationListParams {
            this_update: this,
            next_update: this + time::Duration::seconds(life),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: this,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        params.signed_by(&issuer).unwrap().der().to_vec()
    }
}

/// The CRL table's line for the test CA's URL.
fn crl_row(s: &Serve) -> serde_json::Value {
    crl_row_at(s, "/test-ca.crl")
}

fn wait_for_number(s: &Serve, number: &str) {
    wait_for(
        || crl_row(s)["number"] == number,
        &format!("CRL number {number}"),
    );
}

#[test]
fn crls_are_refreshed_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::new(d, &publisher.url);
    ca.signer(d, "alice", 0x1001, &publisher.url);
    ca.signer(d, "bob", 0x1002, &publisher.url);
    publisher.publish(ca.crl(1, 5, 86_400, &[]));
    let s = serve(d);

    // Fetched at start: Alice's first document is accepted.
    wait_for_number(&s, "1");
    // The table is the auditor's and the admin's.
    for (token, want) in [
        (GATEWAY, 403),
        ("demo-archivist-token", 403),
        ("demo-admin-token", 200),
    ] {
        let r = common::server::client()
            .get(format!("{}/v1/trust", s.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(r.status(), want, "{token}");
    }
    let trust: serde_json::Value = get(&s, "/v1/trust").json().unwrap();
    assert_eq!(
        trust["anchors"][0]["subject"], "CN=CRL Refresh Test CA",
        "{trust}"
    );
    let r = submit(&s, "№ 1", sign(d, "alice", "first"));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());

    // Alice's certificate is revoked while the service runs: enforced within one refresh.
    publisher.publish(ca.crl(2, 4, 86_400, &[0x1001]));
    wait_for_number(&s, "2");
    let r = submit(&s, "№ 2", sign(d, "alice", "second"));
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body.to_string().contains("certificate-revoked"), "{body}");

    // Only a CRL past its nextUpdate: not decided, nothing filed, no receipt.
    publisher.publish(ca.crl(3, 3, 5, &[0x1001]));
    wait_for_number(&s, "3");
    wait_for(|| crl_row(&s)["current"] == false, "the CRL to go stale");
    let before = entries(&s);
    let bob = sign(d, "bob", "third");
    let r = submit(&s, "№ 3", bob.clone());
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().unwrap();
    assert!(text.contains("revocation"), "{text}");
    assert_eq!(entries(&s), before, "nothing filed");
    let row = crl_row(&s);
    assert!(
        row["last_fetch"].is_string() && row["next_update"].is_string(),
        "{row}"
    );

    // A fresh CRL: the same submission is accepted, with its receipt.
    publisher.publish(ca.crl(4, 0, 86_400, &[0x1001]));
    wait_for_number(&s, "4");
    let r = submit(&s, "№ 3", bob);
    assert_eq!(r.status(), 201);
    let receipt: serde_json::Value = r.json().unwrap();
    assert_eq!(receipt["status"], "accepted", "{receipt}");
    assert!(receipt["receipt_id"].is_string());

    // The CRL's age is in /metrics.
    let metrics = get(&s, "/metrics").text().unwrap();
    assert!(
        metrics.contains("tamga_crl_age_seconds{issuer=\"CN=CRL Refresh Test CA\""),
        "{metrics}"
    );
    assert!(metrics.contains("tamga_crl_next_update_seconds{"));
}

/// `tamga trust refresh` on `dir`; its exit code and standard output.
fn trust_refresh(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--policy")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
        .arg("--trust")
        .arg(dir.join("trust"))
        .args(["trust", "refresh"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn trust_refresh_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::new(d, &publisher.url);
    publisher.publish(ca.crl(10, 5, 86_400, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("number 10") && out.contains("current"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(d.join("data/crls")).unwrap().count(),
        1,
        "kept"
    );
    // A lower number is refused; the CRL kept stays, and the exit code says so.
    publisher.publish(ca.crl(9, 1, 86_400, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("number 10") && out.contains("lower"), "{out}");
    // A stale one is taken (it is newer) but is not current: exit 1.
    publisher.publish(ca.crl(11, 4, 1, &[]));
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("number 11") && out.contains("NOT CURRENT"),
        "{out}"
    );
    // The distribution point is down: the error is shown, exit 1.
    drop(publisher);
    let (code, out) = trust_refresh(d);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last error"), "{out}");
}

#[test]
fn a_cas_crl_named_only_in_the_certificates_it_issues_is_learned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = Publisher::start();
    let ca = Ca::with(d, None);
    ca.signer(d, "carol", 0x2001, &publisher.url);
    publisher.publish(ca.crl(1, 5, 86_400, &[]));
    let s = serve_with(d, "crl-hosts = [\"127.0.0.1\"]\n");
    assert!(crl_row(&s).is_null(), "no URL known yet");
    let signature = sign(d, "carol", "learned");
    let r = submit(&s, "№ 1", signature.clone());
    assert_eq!(r.status(), 503, "not decided before the CRL is known");
    wait_for_number(&s, "1");
    let r = submit(&s, "№ 1", signature);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}
