//! Serving: plain HTTP (loopback, or behind a reverse proxy) or TLS with rustls, optionally
//! requiring nothing more than that a presented client certificate chain to the client CA; the
//! certificate's SHA-256 then identifies the principal (mTLS). Serving itself, for TLS and plain
//! HTTP alike, is in [`super::conn`].

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// TLS material.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    /// Server certificate chain (PEM).
    pub cert: &'a Path,
    /// Server private key (PEM, PKCS#8).
    pub key: &'a Path,
    /// CA whose client certificates are accepted (PEM), for mTLS.
    pub client_ca: Option<&'a Path>,
}

fn pem_ders(path: &Path, label: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::trustdir::pem_or_der(&bytes, label).map_err(|e| format!("{}: {e}", path.display()))
}

/// A rustls server configuration from files.
pub fn server_config(files: &TlsFiles<'_>) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = pem_ders(files.cert, "CERTIFICATE")?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = pem_ders(files.key, "PRIVATE KEY")?
        .into_iter()
        .next()
        .map(|k| PrivateKeyDer::Pkcs8(k.into()))
        .ok_or_else(|| format!("{}: no PRIVATE KEY", files.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for der in pem_ders(ca, "CERTIFICATE")? {
                roots
                    .add(CertificateDer::from(der))
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            // Callers without a certificate may still use a bearer token.
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
