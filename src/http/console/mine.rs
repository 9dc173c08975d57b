//! A principal's own submissions, from the archive's look-up lists (`archive::lists`):
//! accepted and rejected, newest first, filtered by outcome and by filing date, paged. A page
//! reads the list's slots it shows and, for a date range, O(log n) more (a binary search: the
//! log files entries in time order, so their filing dates never decrease along a list).
//!
//! Only durable filings are listed, as the document routes show only durable ones: a list's
//! slots are written in their filing's batch, which the store answers before its sync (a
//! crash would take it back) and, with several frontends, before its turn is kept. So the
//! list is cut to the entries below a size known durable ([`shown_size`]): the newest it
//! names made durable first (no wait when it is already, the usual case), else what this
//! process made durable — a filing whose sync failed is left out until one keeps it.

use super::i18n::M;
use super::{Ctx, Form, urlencode};
use crate::archive::lists::{List, Outcome, Reader};
use crate::archive::log::{Entry, Event};
use crate::archive::{Archive, ArchiveError};
use crate::http::{ApiError, AppState};
use maud::{Markup, html};
use std::sync::Arc;

/// Rows per page.
const PER_PAGE: u64 = 50;

/// One submission as the list shows it.
struct Row {
    receipt: String,
    accepted: bool,
    case: String,
    regno: String,
    date: String,
    sender_ref: String,
}

/// The filing date (`YYYY-MM-DD`) of an entry: when the log filed it, else its own time for
/// entries from before the log recorded that.
fn day(e: &Entry) -> String {
    e.filed
        .as_deref()
        .unwrap_or(&e.at)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

fn entry(a: &Archive, i: u64) -> Result<Entry, ArchiveError> {
    a.entry(i)?
        .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} is listed but missing")))
}

fn row(e: &Entry) -> Row {
    let date = day(e);
    match &e.event {
        Event::Accepted {
            receipt_id,
            case,
            registration,
            sender_ref,
            ..
        } => Row {
            receipt: receipt_id.clone(),
            accepted: true,
            case: case.clone(),
            regno: registration.clone(),
            date,
            sender_ref: sender_ref.clone().unwrap_or_default(),
        },
        Event::Rejected {
            receipt_id,
            case,
            sender_ref,
            ..
        } => Row {
            receipt: receipt_id.clone(),
            accepted: false,
            case: case.clone(),
            regno: String::new(),
            date,
            sender_ref: sender_ref.clone().unwrap_or_default(),
        },
        _ => Row {
            receipt: String::new(),
            accepted: false,
            case: String::new(),
            regno: String::new(),
            date,
            sender_ref: String::new(),
        },
    }
}

/// The positions `lo..=hi` of `list` narrowed to the days `from..=to` (either may be empty).
pub fn date_range(
    list: &Reader<'_>,
    from: &str,
    to: &str,
    key_of: &mut dyn FnMut(u64) -> Result<String, ArchiveError>,
) -> Result<(u64, u64), ArchiveError> {
    let lo = if from.is_empty() {
        1
    } else {
        list.first_from(from, false, key_of)?
    };
    let hi = if to.is_empty() {
        list.len
    } else {
        list.first_from(to, true, key_of)?.saturating_sub(1)
    };
    Ok((lo, hi))
}

/// The outcome the query filters by.
fn outcome(q: &Form) -> Outcome {
    match q.get("status") {
        "accepted" => Outcome::Accepted,
        "rejected" => Outcome::Rejected,
        _ => Outcome::All,
    }
}

/// The log size the caller's list may be shown up to: one past the newest entry it names,
/// made durable first (a sync, shared with whoever is syncing, and only when this process
/// has not made it durable already); less when that fails. Reads done after it see that
/// size durable, so every slot naming an entry below it is stored for good.
pub async fn shown_size(state: &Arc<AppState>, ctx: &Ctx, q: &Form) -> Result<u64, ApiError> {
    let Some(principal) = ctx.caller.name() else {
        return Ok(0);
    };
    let archive = &state.ingest.archive;
    let newest = match archive.list(&List::Mine(principal, outcome(q)))? {
        Some(list) if list.len > 0 => list.get(list.len)?.saturating_add(1),
        _ => return Ok(0),
    };
    if archive.durable_through(newest) {
        return Ok(newest);
    }
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.ingest.archive.shown_size(newest))
        .await
        .map_err(|_| ApiError::Unavailable("Reading failed; retry.".into()))
}

/// The page of `principal`'s submissions the query asks for, of those filed below log size
/// `shown` (see [`shown_size`]); `None` while the archive keeps no lists (an archive from
/// before them, opened read-only).
fn page_of(
    a: &Archive,
    principal: &str,
    q: &Form,
    shown: u64,
) -> Result<Option<(Vec<Row>, u64, bool)>, ArchiveError> {
    let Some(list) = a.list(&List::Mine(principal, outcome(q)))? else {
        return Ok(None);
    };
    let list = list.below(shown)?;
    let (lo, hi) = date_range(&list, q.get("from"), q.get("to"), &mut |i| {
        entry(a, i).map(|e| day(&e))
    })?;
    let pageno: u64 = q.get("page").parse().unwrap_or(1).max(1);
    let top = hi.saturating_sub((pageno - 1).saturating_mul(PER_PAGE));
    let mut rows = Vec::new();
    let mut n = top;
    while n >= lo && n > 0 && (rows.len() as u64) < PER_PAGE {
        rows.push(row(&entry(a, list.get(n)?)?));
        n -= 1;
    }
    let total = hi.saturating_sub(lo.saturating_sub(1));
    Ok(Some((rows, total, n >= lo && n > 0)))
}

/// The "my submissions" part of the registry page: filters, the page, the pager, of the
/// filings below log size `shown` (see [`shown_size`]). `None` while the archive keeps no
/// lists (the page then shows this session's submissions).
pub fn section(
    ctx: &Ctx,
    a: &Archive,
    q: &Form,
    shown: u64,
) -> Result<Option<Markup>, ArchiveError> {
    let Some(principal) = ctx.caller.name() else {
        return Ok(None);
    };
    let Some((rows, total, more)) = page_of(a, principal, q, shown)? else {
        return Ok(None);
    };
    let l = ctx.lang;
    let pageno: u64 = q.get("page").parse().unwrap_or(1).max(1);
    let (status, from, to) = (q.get("status"), q.get("from"), q.get("to"));
    let keep = |p: u64| {
        format!(
            "?status={}&from={}&to={}&page={p}#mine",
            urlencode(status),
            urlencode(from),
            urlencode(to)
        )
    };
    let statuses = [
        ("", M::All),
        ("accepted", M::Accepted),
        ("rejected", M::Rejected),
    ];
    Ok(Some(html! {
        form.row #mine method="get" action="/registry" role="search" {
            label { (M::Status.t(l)) select name="status" {
                @for (v, m) in statuses { option value=(v) selected[v == status] { (m.t(l)) } }
            } }
            label { (M::DateFrom.t(l)) input type="date" name="from" value=(from); }
            label { (M::DateTo.t(l)) input type="date" name="to" value=(to); }
            button type="submit" { (M::Filter.t(l)) }
        }
        p.note { (M::MySubmissionsNote.t(l)) }
        p { (M::Documents.t(l)) ": " span #mine-total { (total) } }
        div.scroll { table #my-submissions {
            thead { tr {
                th scope="col" { (M::ReceiptId.t(l)) } th scope="col" { (M::Status.t(l)) }
                th scope="col" { (M::Case.t(l)) } th scope="col" { (M::RegNumber.t(l)) }
                th scope="col" { (M::Date.t(l)) } th scope="col" { (M::SenderRef.t(l)) }
            } }
            tbody { @for r in &rows { tr {
                td { a href={ "/registry/receipts/" (urlencode(&r.receipt)) } { code { (r.receipt) } } }
                td data-status=(if r.accepted { "accepted" } else { "rejected" }) {
                    (if r.accepted { M::Accepted.t(l) } else { M::Rejected.t(l) })
                }
                td { (r.case) } td { (r.regno) } td { (r.date) } td { (r.sender_ref) }
            } } }
        } }
        nav.pager aria-label=(M::Page.t(l)) {
            @if pageno > 1 { a rel="prev" href=(keep(pageno - 1)) { (M::Previous.t(l)) } }
            span { (M::Page.t(l)) " " (pageno) }
            @if more { a rel="next" href=(keep(pageno + 1)) { (M::Next.t(l)) } }
        }
    }))
}
