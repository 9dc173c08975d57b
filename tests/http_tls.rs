//! TLS and mTLS with certificates made by rcgen in the test: the gateway identified by its
//! client certificate alone; a token still works over TLS; a certificate from another CA is
//! refused at the handshake.

mod common;
use common::server::start;
use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use reqwest::StatusCode;
use rustls::pki_types::PrivateKeyDer;
use sha2::Digest;
use std::sync::Arc;
use tamga::http::{Limits, tls};

struct Ca {
    cert: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).unwrap();
    Ca {
        cert,
        issuer: Issuer::new(p, key),
    }
}

fn leaf(ca: &Ca, sans: Vec<String>, client: bool) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, if client { "gateway" } else { "tamga" });
    p.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    (p.signed_by(&key, &ca.issuer).unwrap(), key)
}

fn client(
    server_ca: &rcgen::Certificate,
    identity: Option<(&rcgen::Certificate, &KeyPair)>,
) -> reqwest::blocking::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

/// The server's TLS configuration: a certificate from `server_ca` for 127.0.0.1 and
/// localhost, clients' certificates checked against `client_ca` (files written in `dir`).
fn server_tls(dir: &std::path::Path, server_ca: &Ca, client_ca: &Ca) -> rustls::ServerConfig {
    let (server_cert, server_key) = leaf(
        server_ca,
        vec!["127.0.0.1".into(), "localhost".into()],
        false,
    );
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cert_file = write("server.pem", server_cert.pem());
    let key_file = write("server.key", server_key.serialize_pem());
    let ca_file = write("clients.pem", client_ca.cert.pem());
    tls::server_config(&tls::TlsFiles {
        cert: &cert_file,
        key: &key_file,
        client_ca: Some(&ca_file),
    })
    .unwrap()
}

/// A connection to `base` that never starts its handshake is closed within 3 s.
fn a_silent_connection_is_closed(base: &str) {
    let mut silent = std::net::TcpStream::connect(base.trim_start_matches("https://")).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let waited = std::time::Instant::now();
    let mut byte = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut silent, &mut byte).unwrap_or(0), 0);
    assert!(waited.elapsed() < std::time::Duration::from_secs(3));
}

#[test]
fn tls_and_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = ca("server CA");
    let client_ca = ca("gateway CA");
    let stranger_ca = ca("someone else");
    let (gw_cert, gw_key) = leaf(&client_ca, vec![], true);
    let (bad_cert, bad_key) = leaf(&stranger_ca, vec![], true);
    let config = server_tls(dir.path(), &server_ca, &client_ca);

    let fp = tamga::verify::certificate::hex(&sha2::Sha256::digest(gw_cert.der()));
    let extra = format!(
        "[[principal]]\nname = \"mtls-gateway\"\nrole = \"chancellery\"\nclient_cert_sha256 = \"{fp}\"\n"
    );
    let mut limits = Limits::default();
    limits.conn.handshake_timeout = std::time::Duration::from_millis(500);
    let s = start(&extra, limits, Some(config));
    assert!(s.base.starts_with("https://"));
    // A connection that never starts its handshake is closed when the handshake time is up.
    a_silent_connection_is_closed(&s.base);
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let submit = |c: &reqwest::blocking::Client, token: Option<&str>, r: &str| {
        let mut req = c
            .post(format!(
                "{}/v1/submissions?case=01-05&sender_ref={r}",
                s.base
            ))
            .header("Content-Type", "application/pkcs7-mime")
            .body(sig.clone());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    // The gateway by its certificate alone.
    let gw = client(&server_ca.cert, Some((&gw_cert, &gw_key)));
    assert_eq!(
        submit(&gw, None, "mtls").unwrap().status(),
        StatusCode::CREATED
    );
    // Over TLS without a client certificate: a token works, nothing else does.
    let plain = client(&server_ca.cert, None);
    assert_eq!(
        submit(&plain, Some("demo-gateway-token"), "token")
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        submit(&plain, None, "none").unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // A certificate from a CA the server does not trust fails the handshake.
    let stranger = client(&server_ca.cert, Some((&bad_cert, &bad_key)));
    assert!(submit(&stranger, None, "stranger").is_err());
    // The access log names the certificate's principal.
    let log: serde_json::Value = plain
        .get(format!("{}/v1/access-log", s.base))
        .bearer_auth("demo-auditor-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(log["records"][0]["principal"], "mtls-gateway");
}
