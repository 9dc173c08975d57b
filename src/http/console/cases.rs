//! The nomenclature and a case's documents, paged and searchable.
//!
//! What the archive can answer without reading everything: a registration number directly
//! (its index), a date range by binary search over the case's numbers (numbers are given
//! in filing order, so their dates never decrease), and the sender's reference, the signer's
//! name and IIN/BIN from the look-up lists (see `search`). Only an archive that keeps no lists
//! yet (one from before them, opened read-only) matches those among at most [`SCAN`]
//! documents of the date range, newest first, and the page says how many it looked at.

use super::i18n::M;
use super::{Ctx, Page, page, s, urlencode};
use crate::archive::log::Event;
use crate::http::extract::{Path as ApiPath, Query as ApiQuery};
use crate::http::{ApiError, AppState, Caller};
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// Documents a text search looks at, at most, per page view (the 50 ms budget).
const SCAN: u64 = 2000;
/// Rows per page.
const PER_PAGE: u64 = 50;

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cases", get(nomenclature))
        .route("/cases/{index}", get(case))
}

/// `GET /cases`: the nomenclature with counts, through `GET /v1/cases`.
async fn nomenclature(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/cases")?;
    let cases = crate::http::documents::cases(State(state), Extension(caller))
        .await?
        .0;
    let l = ctx.lang;
    let linked = ctx.may(Method::GET, "/v1/cases/{index}/documents");
    let rows = cases.as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { (M::Cases.t(l)) }
        div.scroll { table {
            thead { tr {
                th scope="col" { (M::Index.t(l)) } th scope="col" { (M::CaseTitle.t(l)) }
                th scope="col" { (M::Retention.t(l)) } th scope="col" { (M::Epk.t(l)) }
                th scope="col" { (M::OpenClosed.t(l)) } th scope="col" { (M::Documents.t(l)) }
            } }
            tbody { @for c in &rows { tr {
                td { @if linked { a href={ "/cases/" (urlencode(s(c, "index"))) } { (s(c, "index")) } } @else { (s(c, "index")) } }
                td { (s(c, "title")) }
                td { (s(c, "retention")) }
                td { (if c.get("epk").and_then(|v| v.as_bool()).unwrap_or(false) { M::Yes.t(l) } else { M::No.t(l) }) }
                td { @match c.get("closed").and_then(|v| v.as_i64()) {
                    Some(y) => { (M::ClosedIn.t(l)) " " (y) }
                    None => { (M::OpenCase.t(l)) }
                } }
                td { (c.get("documents").and_then(|v| v.as_u64()).unwrap_or(0)) }
            } } }
        } }
    };
    Ok(page(&ctx, M::Cases.t(l), body, StatusCode::OK))
}

/// The search form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    page: Option<u64>,
    /// Where a search page starts in its look-up list (see `search`).
    at: Option<u64>,
    regno: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sender_ref: Option<String>,
    signer: Option<String>,
    id: Option<String>,
}

fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The registration date of `index/n`, read from its entry.
pub fn date_of(
    state: &AppState,
    index: &str,
    n: u64,
) -> Result<String, crate::archive::ArchiveError> {
    let a = &state.ingest.archive;
    let entry = a
        .regno_entry(&format!("{index}/{n}"))?
        .and_then(|i| a.entry(i).transpose())
        .transpose()?;
    Ok(match entry.map(|e| e.event) {
        Some(Event::Accepted {
            registration_date, ..
        }) => registration_date,
        _ => String::new(),
    })
}

/// The first number in `1..=total` whose date is not before `day` (`after`: after `day`):
/// a binary search, O(log n) entries read.
fn first_from(
    state: &AppState,
    index: &str,
    total: u64,
    day: &str,
    after: bool,
) -> Result<u64, ApiError> {
    crate::archive::lists::first_day(1, total.saturating_add(1), day, after, |n| {
        date_of(state, index, n)
    })
    .map_err(ApiError::from)
}

/// Whether a document (as `GET /v1/documents/{regno}` shows it) matches the text filters.
fn matches(doc: &serde_json::Value, q: &Search) -> bool {
    let lower = |x: &str| x.to_lowercase();
    if let Some(r) = filled(&q.sender_ref)
        && !lower(s(doc, "sender_ref")).contains(&lower(r))
    {
        return false;
    }
    let signers = doc
        .get("signers")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if let Some(name) = filled(&q.signer)
        && !signers
            .iter()
            .any(|g| lower(s(g, "subject")).contains(&lower(name)))
    {
        return false;
    }
    if let Some(id) = filled(&q.id)
        && !signers
            .iter()
            .any(|g| s(g, "iin") == id || s(g, "bin") == id)
    {
        return false;
    }
    true
}

/// `GET /cases/{index}`: the case's documents, paged, with the search form.
async fn case(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    Path(index): Path<String>,
    Query(q): Query<Search>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/cases/{index}/documents")?;
    if let Some(r) = filled(&q.regno) {
        return Ok(Redirect::to(&format!("/document?regno={}", urlencode(r))).into_response());
    }
    let pageno = q.page.unwrap_or(1).max(1);
    // The API's own listing answers the case's existence, the caller's right and the total.
    let listing = serde_json::from_value(serde_json::json!({"page": 1, "per_page": 1}))
        .map_err(|_| Page::Api(ApiError::BadRequest("Bad page.".into())))?;
    let first = crate::http::documents::case_documents(
        State(state.clone()),
        Extension(caller.clone()),
        ApiPath(index.clone()),
        ApiQuery(listing),
    )
    .await?
    .0;
    let total = first.get("total").and_then(|v| v.as_u64()).unwrap_or(0);
    let lo = match filled(&q.from) {
        Some(d) => first_from(&state, &index, total, d, false)?,
        None => 1,
    };
    let hi = match filled(&q.to) {
        Some(d) => first_from(&state, &index, total, d, true)?.saturating_sub(1),
        None => total,
    };
    let text =
        filled(&q.sender_ref).is_some() || filled(&q.signer).is_some() || filled(&q.id).is_some();
    let filters = super::search::Filters {
        sender_ref: filled(&q.sender_ref).unwrap_or(""),
        id: filled(&q.id).unwrap_or(""),
        signer: filled(&q.signer).unwrap_or(""),
    };
    let days = (filled(&q.from).unwrap_or(""), filled(&q.to).unwrap_or(""));
    let indexed = if text {
        super::search::find(&state, &caller, &index, &filters, days, q.at).await?
    } else {
        None
    };
    let (docs, shown, pager) = match indexed {
        Some(f) => (f.docs, (0, f.candidates), Pager::From(f.next)),
        None => {
            let (docs, scanned, more) =
                collect(&state, &caller, &index, (lo, hi), pageno, text, &q).await?;
            (
                docs,
                (scanned, hi.saturating_sub(lo.saturating_sub(1))),
                Pager::Pages(pageno, more),
            )
        }
    };
    let scanned = (text && matches!(pager, Pager::Pages(..))).then_some(shown.0);
    let body = case_view(&ctx, &index, &q, shown.1, pager, &docs, scanned);
    Ok(page(&ctx, &index, body, StatusCode::OK))
}

/// The page's documents, newest first: without text filters, the `pageno`th window of the
/// range; with them, matches among at most [`SCAN`] documents from the range's end.
async fn collect(
    state: &Arc<AppState>,
    caller: &Caller,
    index: &str,
    (lo, hi): (u64, u64),
    pageno: u64,
    text: bool,
    q: &Search,
) -> Result<(Vec<serde_json::Value>, u64, bool), Page> {
    let mut docs = Vec::new();
    let skip = (pageno - 1).saturating_mul(PER_PAGE);
    let mut n = if text { hi } else { hi.saturating_sub(skip) };
    let (mut scanned, mut matched) = (0u64, 0u64);
    while n >= lo && n > 0 && docs.len() < PER_PAGE as usize {
        if text && scanned >= SCAN {
            break;
        }
        let regno = format!("{index}/{n}");
        let doc = crate::http::documents::metadata(
            State(state.clone()),
            Extension(caller.clone()),
            ApiPath(regno),
        )
        .await?
        .0;
        let doc = super::json(&doc);
        scanned += 1;
        n -= 1;
        if !text || matches(&doc, q) {
            matched += 1;
            if !text || matched > skip {
                docs.push(doc);
            }
        }
    }
    Ok((docs, scanned, n >= lo && n > 0))
}

/// How a page of a case's documents goes on.
#[derive(Debug, Clone, Copy)]
enum Pager {
    /// Page `n` of a window; whether there is more.
    Pages(u64, bool),
    /// A search page; the next one starts at this position of its look-up list.
    From(Option<u64>),
}

fn case_view(
    ctx: &Ctx,
    index: &str,
    q: &Search,
    count: u64,
    pager: Pager,
    docs: &[serde_json::Value],
    scanned: Option<u64>,
) -> Markup {
    let l = ctx.lang;
    let keep = |page: &str| {
        let v = |o: &Option<String>| urlencode(o.as_deref().unwrap_or(""));
        format!(
            "?{page}&from={}&to={}&sender_ref={}&signer={}&id={}",
            v(&q.from),
            v(&q.to),
            v(&q.sender_ref),
            v(&q.signer),
            v(&q.id)
        )
    };
    let val = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        h1 { (M::Case.t(l)) " " (index) }
        form.row method="get" role="search" {
            label { (M::RegNumber.t(l)) input type="text" name="regno" placeholder={ (index) "/1" }; }
            label { (M::DateFrom.t(l)) input type="date" name="from" value=(val(&q.from)); }
            label { (M::DateTo.t(l)) input type="date" name="to" value=(val(&q.to)); }
            label { (M::SenderRef.t(l)) input type="text" name="sender_ref" value=(val(&q.sender_ref)); }
            label { (M::SignerName.t(l)) input type="text" name="signer" value=(val(&q.signer)); }
            label { (M::IinBin.t(l)) input type="text" name="id" inputmode="numeric" value=(val(&q.id)); }
            button type="submit" { (M::Search.t(l)) }
        }
        p.note { (M::SearchNote.t(l)) }
        @if let Some(n) = scanned { p.note { (M::Scanned.t(l)) ": " (n) } }
        p { (M::Documents.t(l)) ": " span #count { (count) } }
        div.scroll { table #documents {
            thead { tr {
                th scope="col" { (M::RegNumber.t(l)) } th scope="col" { (M::RegDate.t(l)) }
                th scope="col" { (M::SenderRef.t(l)) } th scope="col" { (M::Signers.t(l)) }
                th scope="col" { (M::Status.t(l)) }
            } }
            tbody { @for d in docs {
                @let reg = d.get("registration").cloned().unwrap_or_default();
                tr {
                    td { a href={ "/document?regno=" (urlencode(s(&reg, "number"))) } { (s(&reg, "number")) } }
                    td { (s(&reg, "date")) }
                    td { (s(d, "sender_ref")) }
                    td { @for g in d.get("signers").and_then(|v| v.as_array()).cloned().unwrap_or_default() { (s(&g, "subject")) br; } }
                    td { @if s(d, "status") == "destroyed" {
                        @let act = super::at(d, "disposal");
                        (M::Destroyed.t(l)) br; (M::ByAct.t(l)) " " (s(act, "act")) ", " (s(act, "date"))
                    } @else { (M::Kept.t(l)) } }
                }
            } }
        } }
        nav.pager aria-label=(M::Page.t(l)) { @match pager {
            Pager::Pages(pageno, more) => {
                @if pageno > 1 { a rel="prev" href=(keep(&format!("page={}", pageno - 1))) { (M::Previous.t(l)) } }
                span { (M::Page.t(l)) " " (pageno) }
                @if more { a rel="next" href=(keep(&format!("page={}", pageno + 1))) { (M::Next.t(l)) } }
            }
            Pager::From(next) => {
                @if q.at.is_some() { a rel="first" href=(keep("page=1")) { (M::Page.t(l)) " 1" } }
                @if let Some(at) = next { a rel="next" href=(keep(&format!("at={at}"))) { (M::Next.t(l)) } }
            }
        } }
    }
}
