//! The HTTP service (axum): the ingest gateway submits, auditors and archivists read. Every
//! request passes through one middleware that identifies the caller, enforces the concurrency
//! limit and writes the access log; handlers check roles and call the same [`Ingest`] the CLI
//! uses.

mod auth;
mod documents;
mod error;
pub mod meta;
mod metrics;
mod proofs;
mod retention;
pub mod submissions;
pub mod tls;

pub use auth::{Caller, PeerCert};
pub use error::ApiError;
pub use meta::OPENAPI;

use crate::archive::access::Access;
use crate::ingest::Ingest;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Limits the service enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Requests handled at once; beyond it, 503 with Retry-After.
    pub max_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: crate::ingest::MAX_SUBMISSION + 64 * 1024,
            max_concurrency: 256,
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
    permits: Semaphore,
}

impl AppState {
    /// State over a ready pipeline.
    pub fn new(ingest: Ingest, limits: Limits) -> Arc<AppState> {
        Arc::new(AppState {
            ingest,
            limits,
            metrics: metrics::Metrics::default(),
            permits: Semaphore::new(limits.max_concurrency),
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
    let served = tls::serve(listener, router(state.clone()), tls_config, shutdown).await;
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
        .route("/v1/retention/plan", get(retention::plan))
        .route("/v1/retention/acts", post(retention::new_act))
        .route("/v1/retention/acts/{act}", get(retention::show_act))
        .route("/v1/retention/acts/{act}/approve", post(retention::approve))
        .route("/v1/retention/acts/{act}/execute", post(retention::execute))
        .route("/v1/retention/holds", post(retention::hold))
        .route("/v1/retention/holds/{id}/release", post(retention::release))
        .route("/v1/retention/reviews", post(retention::review))
        .route("/v1/reasons", get(meta::reasons))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .fallback(meta::not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// Identifies the caller, applies the concurrency limit, and logs the access.
async fn gate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let caller = Caller::identify(
        &state.ingest.policy,
        req.headers(),
        req.extensions().get::<PeerCert>(),
    );
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("(unrouted)", |p| p.as_str())
    );
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let health = req.uri().path() == "/healthz";
    let response = match state.permits.try_acquire() {
        Ok(_permit) => {
            req.extensions_mut().insert(caller.clone());
            next.run(req).await
        }
        Err(_) => ApiError::Unavailable(format!(
            "More than {} requests at once; retry shortly.",
            state.limits.max_concurrency
        ))
        .into_response(),
    };
    let status = response.status().as_u16();
    if !action.starts_with("POST /v1/submissions") {
        state
            .metrics
            .request_latency
            .observe(started.elapsed().as_secs_f64());
    }
    // Health probes come every few seconds and reveal nothing; everything else is logged.
    if !health {
        let decision = match status {
            401 => "unauthenticated",
            403 => "denied",
            _ => "allowed",
        };
        let record = Access {
            principal: caller.name().map(str::to_owned),
            action,
            target,
            decision,
            status,
        };
        // Chaining is in memory; only every MAX_PENDING-th record writes, briefly.
        let logged = state
            .ingest
            .archive
            .record_access(record, crate::clock::now());
        if logged.is_err() {
            // A request we cannot log is a request we must not have answered.
            return ApiError::Unavailable("The access log cannot be written; retry later.".into())
                .into_response();
        }
    }
    response
}
