//! Checkpoint, proofs, audit and the access log: the auditor's endpoints.

use super::extract::Query;
use super::{ApiError, AppState, Caller};
use crate::policy::Role;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// `GET /v1/checkpoint`: the latest signed note a completed sync covers, as text (see
/// `archive/shown.rs`: never one a crash could take back).
pub async fn checkpoint(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Auditor])?;
    // Off the runtime: the checkpoint is shown once durable, which may take a sync.
    let st = state.clone();
    let note = tokio::task::spawn_blocking(move || st.ingest.archive.checkpoint_note())
        .await
        .map_err(|_| ApiError::Unavailable("The checkpoint could not be read; retry.".into()))??
        .ok_or_else(|| ApiError::NotFound("No checkpoint yet: nothing has been filed.".into()))?;
    let mut res = note.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

/// `GET /checkpoint`: the same signed note at the path C2SP tlog-tiles clients look for it,
/// cacheable for a few seconds only (it changes with every commit group).
pub async fn tlog_checkpoint(
    state: State<Arc<AppState>>,
    caller: Extension<Caller>,
) -> Result<Response, ApiError> {
    let mut res = checkpoint(state, caller).await?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=2"),
    );
    Ok(res)
}

/// `GET /tile/<L>/<N>[.p/<W>]` and `GET /tile/entries/<N>[.p/<W>]` (C2SP tlog-tiles): the
/// tree's hashes and the entries, for standard transparency-log tools. Auditors only, like
/// the proofs they replace: the entries name signers (IIN, BIN, subject) and cases.
pub async fn tile(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Auditor])?;
    let at = crate::archive::tilepath::parse(&path)
        .ok_or_else(|| ApiError::NotFound("No such tile path (see c2sp.org/tlog-tiles).".into()))?;
    let st = state.clone();
    let bytes = tokio::task::spawn_blocking(move || st.ingest.archive.tile(at))
        .await
        .map_err(|_| ApiError::Unavailable("The tile could not be read; retry.".into()))??
        .ok_or_else(|| ApiError::NotFound("The tree has no such tile (yet).".into()))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // A tile's bytes at a path never change (a partial tile's path names its width).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(res)
}

/// Query of an inclusion proof.
#[derive(Debug, Deserialize)]
pub struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// `GET /v1/proofs/inclusion?index=&size=`
pub async fn inclusion(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<crate::archive::proofs::Inclusion>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        crate::archive::proofs::inclusion(&st.ingest.archive, q.index, q.size)
    })
    .await
    .map_err(|_| ApiError::Unavailable("The proof could not be computed; retry.".into()))?
    .map(Json)
    .map_err(ApiError::from)
}

/// Query of a consistency proof.
#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// `GET /v1/proofs/consistency?from=&to=`
pub async fn consistency(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<crate::archive::proofs::Consistency>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        crate::archive::proofs::consistency(&st.ingest.archive, q.from, q.to)
    })
    .await
    .map_err(|_| ApiError::Unavailable("The proof could not be computed; retry.".into()))?
    .map(Json)
    .map_err(ApiError::from)
}

/// Query of an audit.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    full: Option<bool>,
}

/// `POST /v1/audit?full=true`: runs `audit verify` and answers with the result.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let st = state.clone();
    let full = q.full.unwrap_or(false);
    let result = tokio::task::spawn_blocking(move || {
        crate::archive::audit::verify(&st.ingest.archive, full, &mut |_, _| {})
    })
    .await
    .map_err(|_| ApiError::Unavailable("The audit could not run; retry.".into()))?;
    Ok(Json(audit_answer(full, result)))
}

/// An audit's result as `POST /v1/audit` answers it (the console shows the same).
pub(super) fn audit_answer(
    full: bool,
    result: Result<crate::archive::audit::AuditReport, crate::archive::audit::AuditFailure>,
) -> serde_json::Value {
    match result {
        Ok(r) => {
            serde_json::json!({"status": "intact", "full": full, "entries": r.entries, "documents": r.documents,
            "bytes": r.bytes, "checkpoint_size": r.checkpoint_size, "strays": r.strays})
        }
        Err(f) => {
            serde_json::json!({"status": "altered", "full": full, "index": f.index, "case": f.case,
            "registration": f.registration, "what": f.what})
        }
    }
}

/// Paging of the access log.
#[derive(Debug, Deserialize)]
pub struct AccessQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

/// `GET /v1/access-log?from=&limit=`
pub async fn access_log(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<AccessQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let from = q.from.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let records = state.ingest.archive.access_records(from, limit)?;
    // The stored head: other frontends' records count too.
    let (size, head) = state.ingest.archive.stored_access_head()?;
    Ok(Json(
        serde_json::json!({"from": from, "size": size, "head": crate::verify::certificate::hex(&head), "records": records}),
    ))
}
