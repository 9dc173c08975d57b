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

/// Why the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM or DER of the expected kind.
    #[error("{path}: {why}")]
    Content {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// rustls refused the certificates or key.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The client CA could not be made into a verifier.
    #[error(transparent)]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

fn pem_ders(path: &Path, label: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    crate::trustdir::pem_or_der(&bytes, label).map_err(|e| TlsError::Content {
        path: path.to_owned(),
        why: e.to_string(),
    })
}

/// A rustls server configuration from files.
pub fn server_config(files: &TlsFiles<'_>) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = pem_ders(files.cert, "CERTIFICATE")?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = pem_ders(files.key, "PRIVATE KEY")?
        .into_iter()
        .next()
        .map(|k| PrivateKeyDer::Pkcs8(k.into()))
        .ok_or_else(|| TlsError::Content {
            path: files.key.to_owned(),
            why: "no PRIVATE KEY".into(),
        })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for der in pem_ders(ca, "CERTIFICATE")? {
                roots.add(CertificateDer::from(der))?;
            }
            // Callers without a certificate may still use a bearer token.
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
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
