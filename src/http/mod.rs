//! The HTTP service (axum): the ingest gateway submits, auditors and archivists read. Every
//! request passes through one middleware ([`gate`]) that identifies and authorises the caller
//! before anything of the request is read, enforces the limits and writes the access log;
//! handlers refine the access check and call the same [`Ingest`] the CLI uses. Connections are
//! accepted, timed out and bounded in [`conn`].

mod auth;
pub mod backup;
pub mod body;
pub mod conn;
pub mod console;
mod documents;
mod error;
mod extract;
pub mod gate;
pub mod jobs;
pub mod meta;
mod metrics;
mod proofs;
mod retention;
pub mod submissions;
pub mod tls;
pub mod trust;

pub use auth::{Caller, PeerCert};
pub use error::ApiError;
pub use meta::OPENAPI;

use crate::ingest::Ingest;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// Limits the service enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Requests handled at once for each principal (and an eighth of it for the public
    /// routes); beyond it, 503 with Retry-After.
    pub max_concurrency: usize,
    /// Limits on request bodies: time, and bytes held by all requests together.
    pub body: body::BodyLimits,
    /// Limits on connections.
    pub conn: conn::ConnLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: crate::ingest::MAX_SUBMISSION + 64 * 1024,
            max_concurrency: 256,
            body: body::BodyLimits::default(),
            conn: conn::ConnLimits::default(),
        }
    }
}

/// What handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The pipeline (and through it the policy and the archive).
    pub ingest: Ingest,
    /// Limits.
    pub limits: Limits,
    metrics: metrics::Metrics,
    slots: gate::Slots,
    inflight: body::InFlight,
    /// The web console's sessions and jobs.
    pub console: console::Console,
    /// The backups started over HTTP (`POST /v1/backup`), polled by number.
    pub backups: backup::Jobs,
}

impl AppState {
    /// State over a ready pipeline.
    pub fn new(ingest: Ingest, limits: Limits) -> Arc<AppState> {
        Arc::new(AppState {
            slots: gate::Slots::new(
                ingest.policy.principals.iter().map(|p| p.name.as_str()),
                limits.max_concurrency,
            ),
            inflight: body::InFlight::new(limits.body.max_inflight),
            metrics: metrics::Metrics::default(),
            console: console::Console::default(),
            backups: backup::Jobs::default(),
            ingest,
            limits,
        })
    }
}

/// Serves `state` on `listener` (TLS when `tls` is given) until `shutdown` completes: writes
/// chained access records once a second meanwhile, lets in-flight requests finish, and then
/// writes and syncs the last access records. `tamga serve`, the tests and the load bench all run
/// the service through here.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    tls_config: Option<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let flusher = tokio::spawn(flush_access_log(Arc::downgrade(&state)));
    let served = conn::serve(
        listener,
        router(state.clone()),
        tls_config,
        state.limits.conn,
        shutdown,
    )
    .await;
    flusher.abort();
    let synced = tokio::task::spawn_blocking(move || state.ingest.archive.sync_now())
        .await
        .map_err(std::io::Error::other)?;
    served?;
    synced.map_err(|e| std::io::Error::other(format!("writing the access log at shutdown: {e}")))
}

/// Writes chained access records once a second while requests come without submissions (whose
/// commit groups write them anyway). Ends when the state is gone.
async fn flush_access_log(state: std::sync::Weak<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(st) = state.upgrade() else { return };
        // A failure stays pending and is retried; the gate answers 503 if it persists.
        let _ = tokio::task::spawn_blocking(move || st.ingest.archive.flush_access()).await;
    }
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/submissions", post(submissions::submit))
        .route("/v1/receipts/{id}", get(documents::receipt))
        .route("/v1/documents/{regno}", get(documents::metadata))
        .route("/v1/documents/{regno}/signature", get(documents::signature))
        .route("/v1/documents/{regno}/content", get(documents::content))
        .route("/v1/cases", get(documents::cases))
        .route(
            "/v1/cases/{index}/documents",
            get(documents::case_documents),
        )
        .route("/v1/checkpoint", get(proofs::checkpoint))
        .route("/v1/proofs/inclusion", get(proofs::inclusion))
        .route("/v1/proofs/consistency", get(proofs::consistency))
        .route("/v1/audit", post(proofs::audit))
        .route("/v1/access-log", get(proofs::access_log))
        .route("/checkpoint", get(proofs::tlog_checkpoint))
        .route("/tile/{*path}", get(proofs::tile))
        .route("/v1/retention/plan", get(retention::plan))
        .route("/v1/retention/acts", post(retention::new_act))
        .route("/v1/retention/acts/{act}", get(retention::show_act))
        .route("/v1/retention/acts/{act}/approve", post(retention::approve))
        .route("/v1/retention/acts/{act}/execute", post(retention::execute))
        .route("/v1/retention/holds", post(retention::hold))
        .route("/v1/retention/holds/{id}/release", post(retention::release))
        .route("/v1/retention/reviews", post(retention::review))
        .route("/v1/backup", post(backup::backup))
        .route("/v1/backup/jobs/{id}", get(backup::job))
        .route("/v1/reasons", get(meta::reasons))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/v1/trust", get(trust::trust))
        .route("/openapi.json", get(meta::openapi))
        .merge(console::routes())
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            console::session::layer,
        ))
        .with_state(state)
}
