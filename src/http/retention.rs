//! Retention over HTTP, for the archivist: the same operations as `tamga retention`, with the
//! principal's name as the actor and the server's clock as the time.

use super::extract::{Json as JsonBody, Path, Query};
use super::{ApiError, AppState, Caller};
use crate::policy::Role;
use crate::retention::{self, RetentionError, acts, holds};
use axum::Json;
use axum::extract::{Extension, State};
use serde::Deserialize;
use std::sync::Arc;

type Answer = Result<Json<serde_json::Value>, ApiError>;

fn actor(caller: &Caller) -> Result<String, ApiError> {
    caller.require(&[Role::Archivist])?;
    Ok(caller.name().unwrap_or_default().to_owned())
}

fn map(e: RetentionError) -> ApiError {
    match e {
        RetentionError::Refused(why) => ApiError::Unprocessable(format!("Refused: {why}.")),
        RetentionError::Archive(e) => e.into(),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RetentionError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            ApiError::Unavailable("The operation could not run; nothing was changed.".into())
        })?
        .map_err(map)
}

/// Query of the plan.
#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    /// RFC 3339 date to plan at (default: now). Planning only reads.
    at: Option<String>,
}

/// `GET /v1/retention/plan?at=`
pub async fn plan(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PlanQuery>,
) -> Answer {
    actor(&caller)?;
    let at = match q.at {
        Some(s) => time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .map_err(|_| ApiError::BadRequest(format!("at={s:?} is not an RFC 3339 time.")))?,
        None => crate::clock::now(),
    };
    let st = state.clone();
    let plan = blocking(move || retention::plan(&st.ingest.archive, &st.ingest.policy, at)).await?;
    Ok(Json(serde_json::json!({ "cases": plan })))
}

/// Body of a new act.
#[derive(Debug, Deserialize)]
pub struct NewAct {
    cases: Vec<String>,
}

/// `POST /v1/retention/acts` `{"cases": [...]}`
pub async fn new_act(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<NewAct>,
) -> Answer {
    let by = actor(&caller)?;
    let st = state.clone();
    let act = blocking(move || {
        acts::draft(
            &st.ingest.archive,
            &st.ingest.policy,
            &body.cases,
            &by,
            crate::clock::now(),
        )
    })
    .await?;
    Ok(Json(serde_json::to_value(act).unwrap_or_default()))
}

/// `GET /v1/retention/acts/{act}`: the act and its printable text.
pub async fn show_act(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(number): Path<String>,
) -> Answer {
    actor(&caller)?;
    let st = state.clone();
    let act = blocking(move || acts::get(&st.ingest.archive, &number)).await?;
    let text = retention::render::text(&act, &state.ingest.policy.organization.country);
    Ok(Json(serde_json::json!({"act": act, "text": text})))
}

/// `POST /v1/retention/acts/{act}/approve`
pub async fn approve(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(number): Path<String>,
) -> Answer {
    let by = actor(&caller)?;
    let st = state.clone();
    let act =
        blocking(move || acts::approve(&st.ingest.archive, &number, &by, crate::clock::now()))
            .await?;
    Ok(Json(serde_json::to_value(act).unwrap_or_default()))
}

/// `POST /v1/retention/acts/{act}/execute`
pub async fn execute(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(number): Path<String>,
) -> Answer {
    actor(&caller)?;
    let st = state.clone();
    let act = blocking(move || {
        acts::execute(
            &st.ingest.archive,
            &st.ingest.policy,
            &number,
            crate::clock::now(),
        )
    })
    .await?;
    Ok(Json(serde_json::to_value(act).unwrap_or_default()))
}

/// Body of a hold.
#[derive(Debug, Deserialize)]
pub struct NewHold {
    case: Option<String>,
    registration: Option<String>,
    reason: String,
}

/// `POST /v1/retention/holds` `{"case"|"registration": …, "reason": …}`
pub async fn hold(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<NewHold>,
) -> Answer {
    let by = actor(&caller)?;
    let st = state.clone();
    let id = blocking(move || {
        holds::hold(
            &st.ingest.archive,
            &st.ingest.policy,
            b.case.as_deref(),
            b.registration.as_deref(),
            &b.reason,
            &by,
            crate::clock::now(),
        )
    })
    .await?;
    Ok(Json(serde_json::json!({ "hold": id })))
}

/// `POST /v1/retention/holds/{id}/release`
pub async fn release(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let by = actor(&caller)?;
    let st = state.clone();
    let released = id.clone();
    blocking(move || holds::release(&st.ingest.archive, &id, &by, crate::clock::now())).await?;
    Ok(Json(serde_json::json!({ "released": released })))
}

/// Body of an ЭПК review.
#[derive(Debug, Deserialize)]
pub struct Review {
    case: String,
    decision: String,
}

/// `POST /v1/retention/reviews` `{"case": …, "decision": "destroy"|"keep"}`
pub async fn review(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<Review>,
) -> Answer {
    let by = actor(&caller)?;
    let st = state.clone();
    let entry = blocking(move || {
        retention::record_review(
            &st.ingest.archive,
            &st.ingest.policy,
            &b.case,
            &b.decision,
            &by,
            crate::clock::now(),
        )
    })
    .await?;
    Ok(Json(serde_json::json!({ "entry": entry })))
}
