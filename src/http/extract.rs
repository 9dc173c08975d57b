//! axum's extractors, answering like every other error of this service: `{"error": sentence}`
//! with the status axum chose. Handlers use these, never axum's own, so that a malformed query,
//! path or JSON body is refused in the same shape as everything else.

use super::ApiError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The query string, deserialized.
#[derive(Debug)]
pub struct Query<T>(pub T);

/// A path parameter (or several), deserialized.
#[derive(Debug)]
pub struct Path<T>(pub T);

/// The largest JSON body a request may carry: retention requests name a few cases.
pub const JSON_LIMIT: usize = 64 * 1024;

/// A JSON body (`Content-Type: application/json`, at most [`JSON_LIMIT`] bytes), deserialized.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// One sentence from axum's explanation, which names the offending parameter or byte.
fn sentence(prefix: &str, detail: &str) -> String {
    let detail = detail.trim().trim_end_matches('.');
    format!("{prefix}: {detail}.")
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(sentence("The query string is not valid", &e.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadRequest(sentence("The path is not valid", &e.body_text()))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Query(
            axum::extract::Query::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Path(
            axum::extract::Path::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as Content-Type: application/json.".into(),
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), JSON_LIMIT)
            .await
            .map_err(|e| super::body::unreadable(&e, JSON_LIMIT))?;
        serde_json::from_slice(&bytes).map(Json).map_err(|e| {
            let detail = e.to_string();
            if e.is_data() {
                ApiError::Unprocessable(sentence("The JSON body does not fit", &detail))
            } else {
                ApiError::BadRequest(sentence("The JSON body is malformed", &detail))
            }
        })
    }
}
