//! Serving: plain HTTP (loopback, or behind a reverse proxy) or TLS with rustls, optionally
//! requiring nothing more than that a presented client certificate chain to the client CA; the
//! certificate's SHA-256 then identifies the principal (mTLS). Shutdown on SIGINT/SIGTERM stops
//! accepting and lets in-flight requests — and their commits — finish.

use super::PeerCert;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

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

/// Serves `app` on `listener` until `shutdown` resolves; plain HTTP when `tls` is `None`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(config) = tls else {
        return axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let fingerprint = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| {
                    crate::verify::certificate::hex(&sha2::Digest::finalize(
                        <sha2::Sha256 as sha2::Digest>::new_with_prefix(c.as_ref()),
                    ))
                });
            let app = app.layer(axum::Extension(PeerCert(fingerprint)));
            let service = TowerToHyperService::new(app);
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
    // In-flight requests (and their commits) finish; no new ones are accepted. Idle
    // keep-alive connections would wait forever, so the wait is bounded.
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
    Ok(())
}
