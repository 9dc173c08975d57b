//! `GET /v1/trust`: the trust anchors and the CRL table (auditor, admin); the CRL gauges of
//! `/metrics`; and the loop that keeps the CRLs current while the service runs.

use super::{ApiError, AppState, Caller};
use crate::fetch::refresh::CrlRow;
use crate::policy::Role;
use crate::verify::certificate::hex;
use crate::verify::fmt_time;
use axum::Json;
use axum::extract::{Extension, State};
use std::fmt::Write;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// `GET /v1/trust` (auditor or admin).
pub async fn trust(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Auditor, Role::Admin])?;
    let verifier = state.ingest.verifier.load();
    let store = verifier.trust();
    let anchors: Vec<_> = store
        .anchors()
        .iter()
        .map(|a| {
            serde_json::json!({
                "subject": a.subject,
                "sha256": hex(&a.fingerprint),
                "not_before": fmt_time(a.not_before),
                "not_after": fmt_time(a.not_after),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "anchors": anchors,
        "crls": table(&state, crate::clock::now()),
        "skipped": store.skipped(),
    })))
}

/// The CRL table with `current` judged at `now` (the table is kept from the last refresh).
fn table(state: &AppState, now: i64) -> Vec<CrlRow> {
    let mut rows = state.ingest.verifier.table();
    for r in &mut rows {
        r.current = r.this_update_unix.is_some_and(|t| t <= now)
            && r.next_update_unix.is_none_or(|n| now <= n);
    }
    rows
}

/// The CRL gauges for `/metrics`: each held CRL's age (since thisUpdate) and the seconds left
/// to its nextUpdate (negative once it has passed), labelled by issuer and source.
pub fn metrics(state: &AppState) -> String {
    let now = crate::clock::now();
    let rows = table(state, now);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP tamga_crl_age_seconds Seconds since the thisUpdate of the CRL held.\n\
         # TYPE tamga_crl_age_seconds gauge"
    );
    let held = || rows.iter().filter_map(|r| Some((r, r.this_update_unix?)));
    for (r, this) in held() {
        let _ = writeln!(out, "tamga_crl_age_seconds{{{}}} {}", labels(r), now - this);
    }
    let _ = writeln!(
        out,
        "# HELP tamga_crl_next_update_seconds Seconds until the nextUpdate of the CRL held \
         (negative: stale).\n# TYPE tamga_crl_next_update_seconds gauge"
    );
    for r in &rows {
        if let Some(next) = r.next_update_unix {
            let _ = writeln!(
                out,
                "tamga_crl_next_update_seconds{{{}}} {}",
                labels(r),
                next - now
            );
        }
    }
    out
}

fn labels(r: &CrlRow) -> String {
    format!(
        "issuer=\"{}\",source=\"{}\"",
        escape(r.issuer.as_deref().unwrap_or("")),
        escape(&r.source)
    )
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Keeps the CRLs of `state`'s verifier current: every second, fetches whatever is due, on a
/// thread of its own (fetching blocks). Ends when the service's state is gone.
pub fn keep_current(state: Weak<AppState>) {
    loop {
        let Some(st) = state.upgrade() else { return };
        let now = crate::clock::now();
        if st.ingest.verifier.next_due().is_some_and(|due| due <= now) {
            st.ingest.verifier.refresh(now, false);
        }
        drop(st);
        std::thread::sleep(Duration::from_secs(1));
    }
}
