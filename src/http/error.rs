//! The HTTP layer's one error type, and the one place lower layers' errors become statuses.
//! Every error answers with `{"error": "<one sentence>"}`; nothing here ever answers 500 for
//! something a caller sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a sender is asked to wait before resending a submission that could not be decided.
const NOT_DECIDED_RETRY: &str = "300";

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
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 408: the request body did not arrive in time.
    Timeout,
    /// 409: the request conflicts with work under way (a second backup while one runs).
    Conflict(String),
    /// 410: the document was destroyed under a disposal act.
    Gone(String),
    /// 413: body over the limit.
    TooLarge(usize),
    /// 415: the body is not of a type this endpoint takes.
    UnsupportedMediaType(String),
    /// 422: a well-formed request we refuse (missing part, bad field).
    Unprocessable(String),
    /// 503: the archive cannot commit, or too many requests at once; retry later.
    Unavailable(String),
    /// 503 with a long `Retry-After`: the submission cannot be decided before revocation
    /// information arrives (CRLs are published hours apart, not seconds).
    NotDecided(String),
}

impl ApiError {
    /// The status and the one sentence the caller gets.
    pub(crate) fn parts(&self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "This endpoint does not take that method; see /openapi.json.".into(),
            ),
            ApiError::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time; the connection is closed.".into(),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            ApiError::Gone(m) => (StatusCode::GONE, m.clone()),
            ApiError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body exceeds the limit of {limit} bytes."),
            ),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            ApiError::Unavailable(m) | ApiError::NotDecided(m) => {
                (StatusCode::SERVICE_UNAVAILABLE, m.clone())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.parts();
        let mut res = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let after = match self {
                ApiError::NotDecided(_) => NOT_DECIDED_RETRY,
                _ => "1",
            };
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

// Lower layers' errors name files and store internals: those go to the operator's log, and
// the caller gets a sentence that says what it may do.

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> Self {
        if let crate::ingest::IngestError::Indeterminate(_) = &e {
            // Not a fault: the verdict waits for revocation data. No receipt; retry later.
            return ApiError::NotDecided(format!(
                "Not decided, nothing was filed: {e}; send the document again later."
            ));
        }
        tracing::error!(error = %e, "a submission could not be committed");
        ApiError::Unavailable(if e.outcome_unknown() {
            "The archive could not commit; whether the submission was filed is unknown: \
             retry it later, and the retry returns its receipt if it was."
                .into()
        } else {
            "The archive could not commit; nothing was filed, retry later.".into()
        })
    }
}

impl From<crate::archive::ArchiveError> for ApiError {
    fn from(e: crate::archive::ArchiveError) -> Self {
        if let crate::archive::ArchiveError::Refused(why) = &e {
            // A rule's refusal is meant for the caller, and says nothing of the store.
            return ApiError::Unprocessable(format!("Refused: {}.", why.trim_end_matches('.')));
        }
        tracing::error!(error = %e, "the archive could not answer");
        ApiError::Unavailable("The archive cannot answer now; retry later.".into())
    }
}

impl From<crate::archive::store::StoreError> for ApiError {
    fn from(e: crate::archive::store::StoreError) -> Self {
        tracing::error!(error = %e, "the store could not answer");
        ApiError::Unavailable("The archive cannot answer now; retry later.".into())
    }
}

impl From<crate::archive::proofs::ProofError> for ApiError {
    fn from(e: crate::archive::proofs::ProofError) -> Self {
        match e {
            crate::archive::proofs::ProofError::OutOfRange(why) => {
                ApiError::Unprocessable(format!("No such proof: {why}."))
            }
            crate::archive::proofs::ProofError::Archive(e) => e.into(),
        }
    }
}
