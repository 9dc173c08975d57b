//! The access log's page, filtered by principal, decision and date over the whole log.
//!
//! The access log keeps no index of its own: its append order is its index. Records are
//! chained in the order requests were logged, so their times never go back by more than the
//! few moments requests overlap: a date narrows the log to that day by binary search over the
//! records' times (O(log n) reads). Principal and decision are then matched walking back from
//! the newest record of the range, at most [`BUDGET`] records per page: a page holds up to
//! [`PER_PAGE`] matches, and its "older" link goes on from the last record it read, so every
//! page has bounded work and nothing is skipped. Reads go through `GET /v1/access-log`'s
//! handler, [`CHUNK`] records at a time, as the API gives them to the same auditor.

use super::i18n::M;
use super::{Ctx, Form, Page, page, s, urlencode};
use crate::http::extract::Query as ApiQuery;
use crate::http::{ApiError, AppState, Caller};
use axum::extract::{Extension, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::html;
use std::sync::Arc;

/// Records read per page at most.
pub const BUDGET: u64 = 5000;
/// Matching rows per page at most.
const PER_PAGE: usize = 100;
/// Records per call of the API's handler (its own limit is 1000).
const CHUNK: u64 = 1000;

/// Records `from..from+limit` through the API's handler.
async fn records(
    state: &Arc<AppState>,
    caller: &Caller,
    from: u64,
    limit: u64,
) -> Result<Vec<serde_json::Value>, Page> {
    let query = serde_json::from_value(serde_json::json!({"from": from, "limit": limit}))
        .map_err(|_| Page::Api(ApiError::BadRequest("Bad query.".into())))?;
    let log = crate::http::proofs::access_log(
        State(state.clone()),
        Extension(caller.clone()),
        ApiQuery(query),
    )
    .await?
    .0;
    Ok(super::at(&log, "records")
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// The first record in `0..size` whose day is not before `day` (`after`: after `day`).
async fn first_from(
    state: &Arc<AppState>,
    caller: &Caller,
    size: u64,
    day: &str,
    after: bool,
) -> Result<u64, Page> {
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let rec = records(state, caller, mid, 1).await?;
        let d = rec
            .first()
            .map(|r| s(r, "at"))
            .unwrap_or("")
            .get(..10)
            .unwrap_or("");
        let before = if after { d <= day } else { d < day };
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The pager's links for filters `(principal, decision, date)`: older records (below `end`)
/// where `older`, and back to the newest matching ones where this page is not already there
/// (`newer`): the page reads newest-first, so a "previous" would have to read back up.
fn pager(
    (who, decision, date): (&str, &str, &str),
    older: bool,
    newer: bool,
    end: u64,
) -> (Option<String>, Option<String>) {
    let base = format!(
        "?principal={}&decision={}&date={}",
        urlencode(who),
        urlencode(decision),
        urlencode(date)
    );
    (
        older.then(|| format!("{base}&before={end}")),
        newer.then_some(base),
    )
}

/// `GET /audit/access?principal=&decision=&date=&before=`: matching records, newest first.
pub async fn access(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/access-log")?;
    let f = Form::parse(q.unwrap_or_default().as_bytes());
    let (who, decision, date) = (f.get("principal"), f.get("decision"), f.get("date"));
    let size = state
        .ingest
        .archive
        .access_size()
        .map_err(|e| Page::Api(e.into()))?;
    let (lo, hi) = if date.is_empty() {
        (0, size)
    } else {
        (
            first_from(&state, &caller, size, date, false).await?,
            first_from(&state, &caller, size, date, true).await?,
        )
    };
    // Records lo..end are left to read, newest first.
    let mut end = f.get("before").parse().unwrap_or(hi).min(hi);
    let mut rows = Vec::new();
    let mut read = 0u64;
    while end > lo && read < BUDGET && rows.len() < PER_PAGE {
        let from = end.saturating_sub(CHUNK).max(lo);
        let chunk = records(&state, &caller, from, end - from).await?;
        for r in chunk.iter().rev() {
            read += 1;
            end -= 1;
            if (who.is_empty() || s(r, "principal") == who)
                && (decision.is_empty() || s(r, "decision") == decision)
            {
                rows.push(r.clone());
                if rows.len() == PER_PAGE {
                    break;
                }
            }
        }
        if chunk.is_empty() {
            break;
        }
    }
    let l = ctx.lang;
    let newest = f.get("before").parse().unwrap_or(hi).min(hi);
    let (more, latest) = pager((who, decision, date), end > lo, newest < hi, end);
    let body = html! {
        h1 { (M::AccessLog.t(l)) }
        form.row method="get" role="search" {
            label { (M::Principal.t(l)) input type="text" name="principal" value=(who); }
            label { (M::Decision.t(l)) select name="decision" {
                @for d in ["", "allowed", "denied", "unauthenticated"] { option value=(d) selected[d == decision] { (d) } }
            } }
            label { (M::Date.t(l)) input type="date" name="date" value=(date); }
            button type="submit" { (M::Filter.t(l)) }
        }
        p.note { (M::AccessNote.t(l)) " " span #access-range { (end) "…" (newest) } " / " (size) }
        nav.pager aria-label=(M::Page.t(l)) {
            @if let Some(href) = &latest { a rel="first" href=(href) { (M::Latest.t(l)) } }
            @if let Some(href) = &more { a rel="next" href=(href) { (M::Next.t(l)) } }
        }
        div.scroll { table #access {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (M::Date.t(l)) } th scope="col" { (M::Principal.t(l)) }
                th scope="col" { (M::Action.t(l)) } th scope="col" { (M::Decision.t(l)) } th scope="col" { (M::Status.t(l)) }
            } }
            tbody { @for r in &rows { tr {
                td { (super::at(r, "index").as_u64().unwrap_or(0)) } td { (s(r, "at")) } td { (s(r, "principal")) }
                td { (s(r, "action")) br; code { (s(r, "target")) } } td { (s(r, "decision")) } td { (super::at(r, "status").as_u64().unwrap_or(0)) }
            } } }
        } }
    };
    Ok(page(&ctx, M::AccessLog.t(l), body, StatusCode::OK))
}
