//! Audit pages (auditor): the latest signed checkpoint; a full audit run in the background
//! with its progress polled by the page; a document's inclusion proof, which the page checks
//! itself with WebCrypto against the checkpoint note's root (assets/console.js, RFC 9162
//! §2.1.3.2); the access log, paged and filtered; the trust store's state.

use super::i18n::M;
use super::{Ctx, Form, Page, page, s};
use crate::http::extract::Query as ApiQuery;
use crate::http::{ApiError, AppState, Caller};
use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{PreEscaped, html};
use std::sync::Arc;

/// One audit started from the console.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Job {
    done: u64,
    total: u64,
    finished: bool,
    result: Option<serde_json::Value>,
}

impl crate::http::jobs::Job for Job {
    fn finished(&self) -> bool {
        self.finished
    }
}

/// Audits started from the console.
pub type Jobs = crate::http::jobs::Jobs<Job>;

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/audit", get(overview))
        .route("/audit/run", post(run))
        .route("/audit/jobs/{id}", get(job))
        .route("/audit/proof", get(proof))
        .route("/audit/access", get(super::access::access))
        .route("/audit/trust", get(trust))
}

/// The latest signed note, through `GET /v1/checkpoint` (none before the first filing).
async fn note(state: &Arc<AppState>, caller: &Caller) -> Result<Option<String>, Page> {
    match crate::http::proofs::checkpoint(State(state.clone()), Extension(caller.clone())).await {
        Ok(res) => {
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap_or_default();
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `GET /audit`.
async fn overview(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/checkpoint")?;
    let note = note(&state, &caller).await?;
    let l = ctx.lang;
    let body = html! {
        h1 { (M::Audit.t(l)) }
        h2 { (M::Checkpoint.t(l)) }
        pre #checkpoint { (note.as_deref().unwrap_or("—")) }
        @if ctx.may(Method::POST, "/v1/audit") {
            form.row method="post" action="/audit/run" {
                (ctx.csrf_field()) button #run-audit type="submit" { (M::RunAudit.t(l)) }
            }
        }
        h2 { (M::Proof.t(l)) }
        form.row method="get" action="/audit/proof" {
            label { (M::Entry.t(l)) input type="number" name="index" min="0" required; }
            button type="submit" { (M::Open.t(l)) }
        }
        ul {
            li { a href="/audit/access" { (M::AccessLog.t(l)) } }
            @if ctx.may(Method::GET, "/v1/trust") { li { a href="/audit/trust" { (M::Trust.t(l)) } } }
        }
    };
    Ok(page(&ctx, M::Audit.t(l), body, StatusCode::OK))
}

/// `POST /audit/run`: starts a full audit (the work of `POST /v1/audit?full=true`) in the
/// background and shows its page.
async fn run(State(state): State<Arc<AppState>>, ctx: Ctx, form: Form) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/audit")?;
    ctx.checked(&form)?;
    let id = state.console.audits.start().ok_or_else(|| {
        Page::Api(ApiError::Unavailable(
            "Too many audits are running; retry later.".into(),
        ))
    })?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let jobs = &st.console.audits;
        let result = crate::archive::audit::verify(&st.ingest.archive, true, &mut |done, total| {
            jobs.update(id, |j| {
                j.done = done;
                j.total = total;
            });
        });
        let answer = crate::http::proofs::audit_answer(true, result);
        jobs.update(id, |j| {
            j.finished = true;
            j.result = Some(answer);
        });
    });
    Ok(Redirect::to(&format!("/audit/jobs/{id}")).into_response())
}

/// `GET /audit/jobs/{id}`: the progress (JSON for the page's polling) or the page.
async fn job(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/audit")?;
    let job = state
        .console
        .audits
        .get(id)
        .ok_or_else(|| Page::Api(ApiError::NotFound(format!("No audit {id}."))))?;
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if json {
        return Ok(axum::Json(job).into_response());
    }
    let l = ctx.lang;
    let r = job.result.clone().unwrap_or_default();
    let intact = s(&r, "status") == "intact";
    let body = html! {
        h1 { (M::Audit.t(l)) " #" (id) }
        @if job.finished {
            p #audit-result data-status=(s(&r, "status")) class=(if intact { "ok" } else { "bad" }) {
                (if intact { M::Intact.t(l) } else { M::Altered.t(l) })
            }
            pre { (serde_json::to_string_pretty(&r).unwrap_or_default()) }
        } @else {
            div #audit-progress data-poll={ "/audit/jobs/" (id) } {
                label for="bar" { (M::Progress.t(l)) }
                progress #bar max=(job.total.max(1)) value=(job.done) { (job.done) }
                p aria-live="polite" data-text { (job.done) " / " (job.total) }
                noscript { a href={ "/audit/jobs/" (id) } { (M::Running.t(l)) } }
            }
        }
    };
    Ok(page(&ctx, M::Audit.t(l), body, StatusCode::OK))
}

/// `GET /audit/proof?index=`: the entry, its inclusion proof at the checkpoint's size, and
/// the note, for the page to check.
async fn proof(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/proofs/inclusion")?;
    // The entry's bytes are what the tiles serve (`/tile/entries/…`), to the same role.
    ctx.allow(Method::GET, "/tile/{*path}")?;
    let index: u64 = Form::parse(q.unwrap_or_default().as_bytes())
        .get("index")
        .parse()
        .map_err(|_| Page::Api(ApiError::BadRequest("index must be a number.".into())))?;
    let note = note(&state, &caller)
        .await?
        .ok_or_else(|| Page::Api(ApiError::NotFound("No checkpoint yet.".into())))?;
    let size: u64 = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let query = serde_json::from_value(serde_json::json!({"index": index, "size": size}))
        .map_err(|_| Page::Api(ApiError::BadRequest("Bad query.".into())))?;
    let proof =
        crate::http::proofs::inclusion(State(state.clone()), Extension(caller), ApiQuery(query))
            .await?
            .0;
    let entry = state
        .ingest
        .archive
        .entry_bytes(index)
        .map_err(ApiError::from)?
        .unwrap_or_default();
    use base64::Engine;
    let data = serde_json::json!({
        "note": note,
        "entry": base64::engine::general_purpose::STANDARD.encode(&entry),
        "proof": proof,
    });
    // JSON inside <script>: `<` escaped so that no `</script>` can end it early.
    let data = data.to_string().replace('<', "\\u003c");
    let l = ctx.lang;
    let body = html! {
        h1 { (M::Proof.t(l)) " — " (M::Entry.t(l)) " " (index) }
        dl.meta {
            dt { (M::Size.t(l)) } dd { (size) }
            dt { (M::Root.t(l)) } dd { code { (proof.root) } }
        }
        pre { (note) }
        script #proof-data type="application/json" { (PreEscaped(data)) }
        button #check-proof type="button" hidden { (M::CheckProof.t(l)) }
        p #proof-result aria-live="polite" data-ok=(M::ProofOk.t(l)) data-bad=(M::ProofBad.t(l)) { noscript { (M::NeedsJs.t(l)) } }
    };
    Ok(page(&ctx, M::Proof.t(l), body, StatusCode::OK))
}

/// `GET /audit/trust`: through `GET /v1/trust`.
async fn trust(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/trust")?;
    let t = crate::http::trust::trust(State(state), Extension(caller))
        .await?
        .0;
    let l = ctx.lang;
    let list = |k: &str| super::at(&t, k).as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { (M::Trust.t(l)) }
        h2 { (M::Anchors.t(l)) }
        div.scroll { table #anchors {
            thead { tr { th scope="col" { (M::Subject.t(l)) } th scope="col" { (M::ValidTo.t(l)) } th scope="col" { "SHA-256" } } }
            tbody { @for a in list("anchors") { tr { td { (s(&a, "subject")) } td { (s(&a, "not_after")) } td { code { (s(&a, "sha256")) } } } } }
        } }
        h2 { (M::Crls.t(l)) }
        div.scroll { table #crls {
            thead { tr { th scope="col" { (M::Subject.t(l)) } th scope="col" { "source" } th scope="col" { (M::Current.t(l)) } } }
            tbody { @for c in list("crls") { tr {
                td { (s(&c, "issuer")) } td { (s(&c, "source")) }
                td { (if super::at(&c, "current").as_bool().unwrap_or(false) { M::Yes.t(l) } else { M::No.t(l) }) }
            } } }
        } }
        @if !list("skipped").is_empty() {
            h2 { (M::Skipped.t(l)) }
            ul { @for x in list("skipped") { li { (x.as_str().map_or_else(|| x.to_string(), str::to_owned)) } } }
        }
    };
    Ok(page(&ctx, M::Trust.t(l), body, StatusCode::OK))
}
