//! The console over TLS, end to end against `tamga serve --tls-cert --tls-key --client-ca`:
//! a client certificate's principal is recognised on a page by itself and gets a session
//! cookie; a token sign-in over TLS gets one too; both cookies are `Secure`, `HttpOnly` and
//! `SameSite=Strict` (RFC 6265 §4.1.2). Certificates are made by rcgen here.

use super::{policy, spawn};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::PrivateKeyDer;
use sha2::Digest;
use std::sync::Arc;

/// A certificate and its key; `ca` signs it when given, else it signs itself as a CA.
fn cert(
    name: &str,
    ca: Option<&rcgen::Issuer<'static, KeyPair>>,
    usage: Option<ExtendedKeyUsagePurpose>,
) -> (rcgen::Certificate, rcgen::Issuer<'static, KeyPair>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let sans = if ca.is_some() && usage == Some(ExtendedKeyUsagePurpose::ServerAuth) {
        vec!["127.0.0.1".to_owned()]
    } else {
        vec![]
    };
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = usage.into_iter().collect();
    let c = match ca {
        Some(issuer) => p.signed_by(&key, issuer).unwrap(),
        None => {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.self_signed(&key).unwrap()
        }
    };
    let own = KeyPair::from_pem(&key.serialize_pem()).unwrap();
    (c, rcgen::Issuer::new(p, own), key)
}

/// A client trusting `ca`, presenting `identity` when given; it follows no redirects, so
/// that each answer's cookies can be read.
fn client(
    ca: &rcgen::Certificate,
    identity: Option<(&rcgen::Certificate, &KeyPair)>,
) -> reqwest::blocking::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((c, k)) => b
            .with_client_auth_cert(
                vec![c.der().clone()],
                PrivateKeyDer::Pkcs8(k.serialize_der().into()),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Set-Cookie` value for `name` in an answer.
fn set_cookie(r: &reqwest::blocking::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie: {:?}", r.headers()))
        .to_owned()
}

fn strict_and_secure(cookie: &str) {
    for attr in ["; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
}

#[test]
fn client_certificates_and_secure_cookies_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = cert("server CA", None, None);
    let client_ca = cert("clerks' CA", None, None);
    let server = cert(
        "tamga",
        Some(&server_ca.1),
        Some(ExtendedKeyUsagePurpose::ServerAuth),
    );
    let clerk = cert(
        "clerk",
        Some(&client_ca.1),
        Some(ExtendedKeyUsagePurpose::ClientAuth),
    );
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let files = [
        write("server.pem", server.0.pem()),
        write("server.key", server.2.serialize_pem()),
        write("clients.pem", client_ca.0.pem()),
    ];
    let fp = tamga::verify::certificate::hex(&sha2::Sha256::digest(clerk.0.der()));
    let text = format!(
        "{}\n[[principal]]\nname = \"mtls-clerk\"\nrole = \"chancellery\"\nclient_cert_sha256 = \"{fp}\"\n",
        policy(false)
    );
    let plain = client(&server_ca.0, None);
    let flags = ["--tls-cert", "--tls-key", "--client-ca"];
    let args: Vec<&std::ffi::OsStr> = flags
        .iter()
        .zip(&files)
        .flat_map(|(f, p)| [std::ffi::OsStr::new(f), p.as_os_str()])
        .collect();
    let s = spawn(dir.path(), &text, &args, "https", &plain);

    // The certificate's principal, on a page, by itself: recognised, and given a session.
    let mtls = client(&server_ca.0, Some((&clerk.0, &clerk.2)));
    let r = mtls.get(format!("{}/registry", s.base)).send().unwrap();
    assert_eq!(r.status(), 200);
    strict_and_secure(&set_cookie(&r, "tamga_session"));
    assert!(
        r.text().unwrap().contains("mtls-clerk"),
        "the principal named"
    );

    // A token's sign-in over TLS: the form's double-submit cookie, then the session's.
    token_sign_in(&plain, &s.base);
}

/// A token's sign-in at `base` over TLS: the form's double-submit cookie, then the session's,
/// both strict and secure; the session names its principal.
fn token_sign_in(plain: &reqwest::blocking::Client, base: &str) {
    let r = plain.get(format!("{base}/signin")).send().unwrap();
    let pre = set_cookie(&r, "tamga_pre");
    strict_and_secure(&pre);
    let pre = pre.split(';').next().unwrap().to_owned();
    let html = r.text().unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_owned();
    let r = plain
        .post(format!("{base}/signin"))
        .header("Cookie", &pre)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&token=demo-archivist-token"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "signed in");
    let session = set_cookie(&r, "tamga_session");
    strict_and_secure(&session);
    let r = plain
        .get(format!("{base}/"))
        .header("Cookie", session.split(';').next().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text().unwrap().contains("demo-archivist"),
        "the session's principal"
    );
}
