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
/// it (a clerk reads only its own documents; a case's `access` list), never widen it.
const TABLE: &[(&str, &str, Allowed)] = {
    use Allowed::{Public, Roles};
    const ARCHIVIST: Allowed = Roles(&[Role::Archivist]);
    const AUDITOR: Allowed = Roles(&[Role::Auditor]);
    &[
        ("POST", "/v1/submissions", Roles(&[Role::Chancellery])),
        ("GET", "/v1/receipts/{id}", Roles(READERS)),
        ("GET", "/v1/documents/{regno}", Roles(READERS)),
        ("GET", "/v1/documents/{regno}/signature", Roles(READERS)),
        ("GET", "/v1/documents/{regno}/content", Roles(READERS)),
        ("GET", "/v1/cases", Roles(ALL)),
        (
            "GET",
            "/v1/cases/{index}/documents",
            Roles(&[Role::Archivist, Role::Auditor]),
        ),
        ("GET", "/v1/checkpoint", AUDITOR),
        ("GET", "/v1/proofs/inclusion", AUDITOR),
        ("GET", "/v1/proofs/consistency", AUDITOR),
        ("POST", "/v1/audit", AUDITOR),
        ("GET", "/v1/access-log", AUDITOR),
        ("GET", "/checkpoint", AUDITOR),
        ("GET", "/tile/{*path}", AUDITOR),
        ("GET", "/metrics", Roles(&[Role::Auditor, Role::Admin])),
        ("GET", "/v1/trust", Roles(&[Role::Auditor, Role::Admin])),
        ("GET", "/v1/retention/plan", ARCHIVIST),
        ("POST", "/v1/retention/acts", ARCHIVIST),
        ("GET", "/v1/retention/acts/{act}", ARCHIVIST),
        ("POST", "/v1/retention/acts/{act}/approve", ARCHIVIST),
        ("POST", "/v1/retention/acts/{act}/execute", ARCHIVIST),
        ("POST", "/v1/retention/holds", ARCHIVIST),
        ("POST", "/v1/retention/holds/{id}/release", ARCHIVIST),
        ("POST", "/v1/retention/reviews", ARCHIVIST),
        ("POST", "/v1/backup", Roles(&[Role::Admin])),
        ("GET", "/v1/backup/jobs/{id}", Roles(&[Role::Admin])),
        ("GET", "/v1/reasons", Public),
        ("GET", "/healthz", Public),
        ("GET", "/openapi.json", Public),
    ]
};

/// Who may call `method` on `route` (axum's matched path, `(unrouted)` for none). HEAD needs
/// what GET needs (axum answers it with the GET handler). An unknown path, or a method a
/// known route does not take, is answered 404 or 405 without reading anything: public. A
/// matched route missing from [`TABLE`] is refused to everyone, so that a route added without
/// its line is closed, not open.
pub fn allowed(method: &Method, route: &str) -> Allowed {
    // Console pages authorise themselves by the API route each one shows (console/mod.rs).
    if super::console::is_page(route) {
        return Allowed::Public;
    }
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    if let Some((_, _, a)) = TABLE.iter().find(|(m, r, _)| *m == method && *r == route) {
        return *a;
    }
    if route == "(unrouted)" || TABLE.iter().any(|(_, r, _)| *r == route) {
        return Allowed::Public;
    }
    Allowed::Roles(&[])
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

/// The longest target kept whole in an access record; a longer one (anyone may send a 64 KiB
/// URI) is cut there and its SHA-256 appended, so the permanent log cannot be filled by
/// anonymous callers yet still tells targets apart.
const MAX_TARGET: usize = 512;

fn bounded_target(uri: &axum::http::Uri) -> String {
    let full = uri.path_and_query().map_or("", |p| p.as_str());
    if full.len() <= MAX_TARGET {
        return full.to_owned();
    }
    let mut cut = MAX_TARGET;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(full));
    format!(
        "{}…(sha256 {})",
        full.get(..cut).unwrap_or_default(),
        crate::verify::certificate::hex(&digest)
    )
}

/// The middleware: see the module documentation. The request runs in a task of its own, so
/// that a caller who hangs up mid-request neither stops work already begun (a filing, an
/// executed act, an audit) from being logged nor frees its slot and its body's charge before
/// that work is done.
pub async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let task = tokio::spawn(handle(state, req, next));
    match task.await {
        Ok(response) => response,
        Err(_) => {
            ApiError::Unavailable("The request could not be handled; retry.".into()).into_response()
        }
    }
}

/// Everything the gate does for one request.
async fn handle(state: Arc<AppState>, mut req: Request, next: Next) -> Response {
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
    let target = bounded_target(req.uri());
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
    // Health probes come every few seconds and reveal nothing; refusals for a full backlog
    // would only grow it (they are counted instead); everything else is logged.
    if route != "/healthz" && !backlogged(&state) {
        log_access(&state, &caller, &method, &route, target, status);
    } else if route != "/healthz" {
        state.metrics.access_refused();
    }
    response
}

/// Authorises the route, and refuses work the access log could not record.
fn admit(state: &AppState, caller: &Caller, method: &Method, route: &str) -> Result<(), ApiError> {
    if let Allowed::Roles(roles) = allowed(method, route) {
        caller.require(roles)?;
    }
    if route != "/healthz" && backlogged(state) {
        return Err(ApiError::Unavailable(
            "The access log cannot be written; retry later.".into(),
        ));
    }
    Ok(())
}

/// Whether the access records the store has not taken yet are too many to add more.
fn backlogged(state: &AppState) -> bool {
    state.ingest.archive.access_pending() >= ACCESS_BACKLOG
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
