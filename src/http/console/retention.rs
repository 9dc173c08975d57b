//! Retention pages (archivist): the plan by case, ЭПК decisions, holds, disposal acts with
//! approvals by others and a confirmation step before execution, and the printable act. Each
//! form posts to a console route that checks its CSRF token and calls the API's handler.

use super::i18n::M;
use super::{Ctx, Form, Page, page, s, urlencode};
use crate::http::extract::{Json as ApiJson, Path as ApiPath, Query as ApiQuery};
use crate::http::retention as api;
use crate::http::{ApiError, AppState, Caller};
use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/retention", get(plan))
        .route("/retention/holds", post(hold))
        .route("/retention/holds/{id}/release", post(release))
        .route("/retention/reviews", post(review))
        .route("/retention/acts", post(draft).get(open_act))
        .route("/retention/acts/{act}", get(act))
        .route("/retention/acts/{act}/approve", post(approve))
        .route("/retention/acts/{act}/execute", get(confirm).post(execute))
        .route("/retention/acts/{act}/print", get(print))
}

/// An API request body, built from a form's fields.
fn body<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, Page> {
    serde_json::from_value(v)
        .map_err(|_| Page::Api(ApiError::Unprocessable("The form is incomplete.".into())))
}

fn see_act(n: &str) -> Response {
    Redirect::to(&format!("/retention/acts/{}", urlencode(n))).into_response()
}

/// `GET /retention`: through `GET /v1/retention/plan`.
async fn plan(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/retention/plan")?;
    let q = body(serde_json::json!({}))?;
    let plan = api::plan(State(state), Extension(caller), ApiQuery(q))
        .await?
        .0;
    let cases = super::at(&plan, "cases")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let body = plan_view(&ctx, &cases);
    Ok(page(
        &ctx,
        M::RetentionPlan.t(ctx.lang),
        body,
        StatusCode::OK,
    ))
}

fn plan_view(ctx: &Ctx, cases: &[serde_json::Value]) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (M::RetentionPlan.t(l)) }
        div.scroll { table #plan {
            thead { tr {
                th scope="col" { (M::Index.t(l)) } th scope="col" { (M::CaseTitle.t(l)) }
                th scope="col" { (M::Retention.t(l)) } th scope="col" { (M::DueFrom.t(l)) }
                th scope="col" { (M::Status.t(l)) } th scope="col" { (M::Documents.t(l)) }
                th scope="col" { (M::Review.t(l)) } th scope="col" { (M::Holds.t(l)) }
            } }
            tbody { @for c in cases {
                @let index = s(c, "index");
                tr data-case=(index) {
                    td { a href={ "/cases/" (urlencode(index)) } { (index) } } td { (s(c, "title")) }
                    td { (s(c, "retention")) } td { (s(c, "due_from")) }
                    td.status { (s(c, "status")) } td { (super::at(c, "documents").as_u64().unwrap_or(0)) }
                    td { (s(c, "review"))
                        @if super::at(c, "epk").as_bool().unwrap_or(false) {
                            form.inline method="post" action="/retention/reviews" {
                                (ctx.csrf_field())
                                input type="hidden" name="case" value=(index);
                                select name="decision" aria-label=(M::Review.t(l)) {
                                    option value="destroy" { (M::Destroy.t(l)) } option value="keep" { (M::Keep.t(l)) }
                                }
                                button type="submit" { (M::Record.t(l)) }
                            }
                        }
                    }
                    td.holds { @for h in super::at(c, "holds").as_array().cloned().unwrap_or_default() {
                        @let id = h.as_str().unwrap_or("");
                        form.inline method="post" action={ "/retention/holds/" (urlencode(id)) "/release" } {
                            (ctx.csrf_field())
                            (id) " " button type="submit" data-release=(id) { (M::Release.t(l)) }
                        }
                        br;
                    } }
                }
            } }
        } }
        h2 { (M::PlaceHold.t(l)) }
        form.row method="post" action="/retention/holds" {
            (ctx.csrf_field())
            label { (M::Case.t(l)) select name="case" { option value="" { "—" } @for c in cases { option value=(s(c, "index")) { (s(c, "index")) } } } }
            label { (M::RegOptional.t(l)) input type="text" name="registration"; }
            label { (M::Reason.t(l)) input type="text" name="reason" required; }
            button type="submit" { (M::PlaceHold.t(l)) }
        }
        h2 { (M::DraftAct.t(l)) }
        form.row method="post" action="/retention/acts" {
            (ctx.csrf_field())
            fieldset { legend { (M::Cases.t(l)) }
                @for c in cases.iter().filter(|c| s(c, "status") == "destroyable") {
                    label { input type="checkbox" name="case" value=(s(c, "index")); " " (s(c, "index")) }
                }
            }
            button type="submit" { (M::DraftAct.t(l)) }
        }
        h2 { (M::Act.t(l)) }
        form.row method="get" action="/retention/acts" {
            label { (M::ActNumber.t(l)) input type="text" name="act" inputmode="numeric" required; }
            button type="submit" { (M::Open.t(l)) }
        }
    }
}

/// `POST /retention/holds` (`case` or `registration`, `reason`).
async fn hold(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/holds")?;
    ctx.checked(&form)?;
    let opt = |k: &str| Some(form.get(k).trim()).filter(|v| !v.is_empty());
    let b = body(serde_json::json!({
        "case": opt("case"), "registration": opt("registration"), "reason": form.get("reason"),
    }))?;
    let _ = api::hold(State(state), Extension(caller), ApiJson(b)).await?;
    Ok(Redirect::to("/retention").into_response())
}

/// `POST /retention/holds/{id}/release`.
async fn release(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/holds/{id}/release")?;
    ctx.checked(&form)?;
    let _ = api::release(State(state), Extension(caller), ApiPath(id)).await?;
    Ok(Redirect::to("/retention").into_response())
}

/// `POST /retention/reviews` (`case`, `decision`).
async fn review(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/reviews")?;
    ctx.checked(&form)?;
    let b = body(serde_json::json!({"case": form.get("case"), "decision": form.get("decision")}))?;
    let _ = api::review(State(state), Extension(caller), ApiJson(b)).await?;
    Ok(Redirect::to("/retention").into_response())
}

/// `POST /retention/acts` (`case` repeated): drafts, then shows the act.
async fn draft(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/acts")?;
    ctx.checked(&form)?;
    let cases: Vec<&str> = form.all("case");
    let b = body(serde_json::json!({ "cases": cases }))?;
    let act = api::new_act(State(state), Extension(caller), ApiJson(b))
        .await?
        .0;
    Ok(see_act(s(&act, "number")))
}

/// `GET /retention/acts?act=`: the act of that number.
async fn open_act(axum::extract::RawQuery(q): axum::extract::RawQuery) -> Response {
    see_act(Form::parse(q.unwrap_or_default().as_bytes()).get("act"))
}

/// The act, through `GET /v1/retention/acts/{act}`.
async fn load(
    state: Arc<AppState>,
    ctx: &Ctx,
    caller: Caller,
    n: String,
) -> Result<serde_json::Value, Page> {
    ctx.allow(Method::GET, "/v1/retention/acts/{act}")?;
    Ok(api::show_act(State(state), Extension(caller), ApiPath(n))
        .await?
        .0)
}

/// `GET /retention/acts/{act}`: who drafted, who approved, who still must; the actions.
async fn act(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(n): Path<String>,
) -> Result<Response, Page> {
    let v = load(state, &ctx, caller, n.clone()).await?;
    let a = super::at(&v, "act");
    let l = ctx.lang;
    let approvals: Vec<String> = super::at(a, "approvals")
        .as_array()
        .map(|x| {
            x.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let required = super::at(a, "approvals_required").as_u64().unwrap_or(0) as usize;
    let executed = super::at(a, "executed").as_str();
    let body = html! {
        h1 { (M::Act.t(l)) " № " (n) }
        dl.meta {
            dt { (M::Date.t(l)) } dd { (s(a, "date")) }
            dt { (M::DraftedBy.t(l)) } dd #drafted-by { (s(a, "drafted_by")) }
            dt { (M::Approvals.t(l)) } dd #approvals data-count=(approvals.len()) { (approvals.join(", ")) " (" (approvals.len()) "/" (required) ")" }
            dt { (M::StillNeeded.t(l)) } dd #still-needed { (required.saturating_sub(approvals.len())) }
            dt { (M::Status.t(l)) } dd #act-status data-executed=(executed.is_some()) {
                @if let Some(e) = executed { (M::Executed.t(l)) " " (e) } @else { "—" }
            }
        }
        h2 { (M::Cases.t(l)) }
        ul { @for c in super::at(a, "cases").as_array().cloned().unwrap_or_default() { li { (s(&c, "index")) " " (s(&c, "title")) " — " (super::at(&c, "documents").as_u64().unwrap_or(0)) } } }
        h2 { (M::Documents.t(l)) }
        ul { @for d in super::at(a, "documents").as_array().cloned().unwrap_or_default() {
            li { a href={ "/document?regno=" (urlencode(s(&d, "registration"))) } { (s(&d, "registration")) } " " (s(&d, "date")) }
        } }
        @if executed.is_none() {
            form.inline method="post" action={ "/retention/acts/" (urlencode(&n)) "/approve" } {
                (ctx.csrf_field()) button #approve type="submit" { (M::Approve.t(l)) }
            }
            " "
            a.button #execute href={ "/retention/acts/" (urlencode(&n)) "/execute" } { (M::Execute.t(l)) }
        }
        p { a #print href={ "/retention/acts/" (urlencode(&n)) "/print" } { (M::Print.t(l)) } }
    };
    Ok(page(&ctx, M::Act.t(l), body, StatusCode::OK))
}

/// `POST /retention/acts/{act}/approve`.
async fn approve(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(n): Path<String>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/acts/{act}/approve")?;
    ctx.checked(&form)?;
    let _ = api::approve(State(state), Extension(caller), ApiPath(n.clone())).await?;
    Ok(see_act(&n))
}

/// `GET /retention/acts/{act}/execute`: the confirmation step.
async fn confirm(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(n): Path<String>,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/acts/{act}/execute")?;
    let v = load(state, &ctx, caller, n.clone()).await?;
    let l = ctx.lang;
    let docs = super::at(super::at(&v, "act"), "documents")
        .as_array()
        .map_or(0, Vec::len);
    let body = html! {
        h1 { (M::Act.t(l)) " № " (n) }
        p.bad { (M::ConfirmExecute.t(l)) } p { (M::Documents.t(l)) ": " (docs) }
        form.row method="post" action={ "/retention/acts/" (urlencode(&n)) "/execute" } {
            (ctx.csrf_field())
            input type="hidden" name="confirm" value="yes";
            button.danger #confirm type="submit" { (M::Confirm.t(l)) }
            a href={ "/retention/acts/" (urlencode(&n)) } { (M::Cancel.t(l)) }
        }
    };
    Ok(page(&ctx, M::Confirm.t(l), body, StatusCode::OK))
}

/// `POST /retention/acts/{act}/execute` (`confirm=yes`): only from the confirmation page.
async fn execute(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(n): Path<String>,
    form: Form,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/retention/acts/{act}/execute")?;
    ctx.checked(&form)?;
    if form.get("confirm") != "yes" {
        return Ok(
            Redirect::to(&format!("/retention/acts/{}/execute", urlencode(&n))).into_response(),
        );
    }
    let _ = api::execute(State(state), Extension(caller), ApiPath(n.clone())).await?;
    Ok(see_act(&n))
}

/// `GET /retention/acts/{act}/print`: the act's text (Russian, then Kazakh or Kyrgyz by the
/// organisation's country), print-ready.
async fn print(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(n): Path<String>,
) -> Result<Response, Page> {
    let v = load(state, &ctx, caller, n.clone()).await?;
    let body = html! {
        p.noprint { a href={ "/retention/acts/" (urlencode(&n)) } { (M::Act.t(ctx.lang)) " № " (n) } }
        pre.act lang="ru" { (s(&v, "text")) }
    };
    Ok(page(&ctx, M::Print.t(ctx.lang), body, StatusCode::OK))
}
