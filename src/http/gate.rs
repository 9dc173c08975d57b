//! The gate every request passes, in this order: identify the caller, authorise the route,
//! take a request slot, guard the body, run the handler, log the access.
//!
//! Authorisation comes first, before a body is read or a query parsed, so that an anonymous
//! caller can learn nothing and hold nothing: it gets 401 without a slot, without a byte of its
//! body read. Slots are per principal, plus a small pool for the public routes, so that no
//! caller — anonymous or one principal gone wild — can starve the gateway.

use super::body::{Charge, Guarded};
use super::{ApiError, AppState, Caller, PeerCert};
use crate::archive::access::Access;
use crate::policy::Role;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone, without credentials.
    Public,
    /// Principals with one of these roles.
    Roles(&'static [Role]),
}

const READERS: &[Role] = &[Role::Chancellery, Role::Archivist, Role::Auditor];
const ALL: &[Role] = &[
    Role::Chancellery,
    Role::Archivist,
    Role::Auditor,
    Role::Admin,
];

/// The access table: the README's table of endpoints and roles, in one place. Handlers refine
/// it (a clerk reads only its own documents; a case's `access` list), never widen it. Routes
/// not listed (unknown paths, the 404 and 405 answers) are public: they read nothing.
pub fn allowed(method: &Method, route: &str) -> Allowed {
    use Allowed::{Public, Roles};
    match (method.as_str(), route) {
        ("POST", "/v1/submissions") => Roles(&[Role::Chancellery]),
        ("GET", "/v1/receipts/{id}")
        | ("GET", "/v1/documents/{regno}")
        | ("GET", "/v1/documents/{regno}/signature")
        | ("GET", "/v1/documents/{regno}/content") => Roles(READERS),
        ("GET", "/v1/cases") => Roles(ALL),
        ("GET", "/v1/cases/{index}/documents") => Roles(&[Role::Archivist, Role::Auditor]),
        ("GET", "/v1/checkpoint")
        | ("GET", "/v1/proofs/inclusion")
        | ("GET", "/v1/proofs/consistency")
        | ("POST", "/v1/audit")
        | ("GET", "/v1/access-log") => Roles(&[Role::Auditor]),
        ("GET", "/metrics") => Roles(&[Role::Auditor, Role::Admin]),
        (_, r) if r.starts_with("/v1/retention/") => Roles(&[Role::Archivist]),
        _ => Public,
    }
}

/// Request slots: one pool per principal and one for public routes.
#[derive(Debug)]
pub struct Slots {
    per_principal: HashMap<String, Semaphore>,
    public: Semaphore,
    size: usize,
}

impl Slots {
    /// `size` slots for each named principal, and an eighth of that (at least 8) for public
    /// routes, which answer from memory.
    pub fn new<'a>(principals: impl Iterator<Item = &'a str>, size: usize) -> Slots {
        Slots {
            per_principal: principals
                .map(|p| (p.to_owned(), Semaphore::new(size)))
                .collect(),
            public: Semaphore::new((size / 8).max(8)),
            size,
        }
    }

    fn pool(&self, caller: &Caller) -> &Semaphore {
        caller
            .name()
            .and_then(|n| self.per_principal.get(n))
            .unwrap_or(&self.public)
    }
}

/// Access records waiting for the store beyond which new requests are refused: a log that
/// cannot be written must not grow without bound, and no work may be done that it cannot record.
const ACCESS_BACKLOG: usize = 4 * crate::archive::access::MAX_PENDING;

/// The middleware: see the module documentation.
pub async fn gate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let caller = Caller::identify(
        &state.ingest.policy,
        req.headers(),
        req.extensions().get::<PeerCert>(),
    );
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unrouted)", |p| p.as_str())
        .to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let charge = Charge::default();
    let response = match admit(&state, &caller, &method, &route) {
        Err(refusal) => refusal.into_response(),
        Ok(()) => match state.slots.pool(&caller).try_acquire() {
            Err(_) => ApiError::Unavailable(format!(
                "More than {} requests at once from this caller; retry shortly.",
                state.slots.size
            ))
            .into_response(),
            Ok(_slot) => {
                req.extensions_mut().insert(caller.clone());
                let (parts, body) = req.into_parts();
                let body = Guarded::new(body, &state.limits.body, &state.inflight, charge.clone());
                let req = Request::from_parts(parts, axum::body::Body::new(body));
                next.run(req).await
            }
        },
    };
    drop(charge);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if !(method == Method::POST && route == "/v1/submissions") {
        state.metrics.request_latency.observe(elapsed.as_secs_f64());
    }
    let receipt = response
        .extensions()
        .get::<super::submissions::ReceiptId>()
        .map(|r| r.0.as_str());
    tracing::info!(
        method = %method,
        route = %route,
        principal = caller.name().unwrap_or("-"),
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        receipt = receipt.unwrap_or("-"),
        "request"
    );
    // Health probes come every few seconds and reveal nothing; everything else is logged.
    if route != "/healthz" {
        log_access(&state, &caller, &method, &route, target, status);
    }
    response
}

/// Authorises the route, and refuses work the access log could not record.
fn admit(state: &AppState, caller: &Caller, method: &Method, route: &str) -> Result<(), ApiError> {
    if let Allowed::Roles(roles) = allowed(method, route) {
        caller.require(roles)?;
    }
    if route != "/healthz" && state.ingest.archive.access_pending() >= ACCESS_BACKLOG {
        return Err(ApiError::Unavailable(
            "The access log cannot be written; retry later.".into(),
        ));
    }
    Ok(())
}

/// Chains the access record. The answer stands whatever happens here: the record is chained
/// in memory and stays pending until the store takes it, so a failed write loses nothing and
/// must not turn an answer for work already done (a filing, an executed act) into a 503.
fn log_access(
    state: &AppState,
    caller: &Caller,
    method: &Method,
    route: &str,
    target: String,
    status: u16,
) {
    let decision = match status {
        401 => "unauthenticated",
        403 => "denied",
        _ => "allowed",
    };
    let record = Access {
        principal: caller.name().map(str::to_owned),
        action: format!("{method} {route}"),
        target,
        decision,
        status,
    };
    if let Err(e) = state
        .ingest
        .archive
        .record_access(record, crate::clock::now())
    {
        tracing::warn!(error = %e, "access records could not be written yet; kept pending");
    }
}
