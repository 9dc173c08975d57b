//! The HTTP layer's one error type, and the one place lower layers' errors become statuses.
//! Every error answers with `{"error": "<one sentence>"}`; nothing here ever answers 500 for
//! something a caller sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed.
    BadRequest(String),
    /// 401: no or unknown credentials.
    Unauthenticated(String),
    /// 403: known principal, not allowed.
    Forbidden(String),
    /// 404: no such thing.
    NotFound(String),
    /// 410: the document was destroyed under a disposal act.
    Gone(String),
    /// 413: body over the limit.
    TooLarge(usize),
    /// 422: a well-formed request we refuse (missing part, bad field).
    Unprocessable(String),
    /// 503: the archive cannot commit, or too many requests at once; retry later.
    Unavailable(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::Gone(m) => (StatusCode::GONE, m.clone()),
            ApiError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body exceeds the limit of {limit} bytes."),
            ),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.parts();
        let mut res = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> Self {
        ApiError::Unavailable(if e.outcome_unknown() {
            format!(
                "The archive could not commit; whether the submission was filed is unknown: \
                 retry it later, and the retry returns its receipt if it was ({e})."
            )
        } else {
            format!("The archive could not commit; nothing was filed, retry later ({e}).")
        })
    }
}

impl From<crate::archive::ArchiveError> for ApiError {
    fn from(e: crate::archive::ArchiveError) -> Self {
        ApiError::Unavailable(format!("The archive cannot answer now ({e})."))
    }
}

impl From<crate::archive::store::StoreError> for ApiError {
    fn from(e: crate::archive::store::StoreError) -> Self {
        ApiError::Unavailable(format!("The archive cannot answer now ({e})."))
    }
}
