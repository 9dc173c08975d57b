//! The closed list of reasons, health, metrics, the OpenAPI document.

use super::{ApiError, AppState, Caller};
use crate::policy::Role;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The OpenAPI description of this service.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /v1/reasons` (public: senders need it to read refusals).
pub async fn reasons() -> Json<serde_json::Value> {
    Json(serde_json::Value::Array(
        crate::Reason::ALL
            .iter()
            .map(|r| serde_json::json!({"code": r.code(), "message": r.texts()}))
            .collect(),
    ))
}

/// `GET /healthz`: answers while the archive can be read.
pub async fn healthz(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.ingest.archive.readable()?;
    Ok(Json(
        serde_json::json!({"status": "ok", "entries": state.ingest.archive.size()}),
    ))
}

/// `GET /metrics` (auditor or admin).
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Auditor, Role::Admin])?;
    let a = &state.ingest.archive;
    let checkpoint = a.checkpoint_size()?;
    let skipped = state.ingest.verifier.load().trust().skipped().len();
    let mut text = state
        .metrics
        .render(a.size(), checkpoint, a.syncs(), skipped);
    text += &super::trust::metrics(&state);
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(res)
}

/// `GET /openapi.json`
pub async fn openapi() -> Response {
    let mut res = OPENAPI.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A known route with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Anything else.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("No such endpoint; see /openapi.json.".into())
}
