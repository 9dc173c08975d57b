//! A case's documents by sender's reference, IIN/BIN and signer's name, exact over the whole
//! case, from the archive's look-up lists (`archive::lists`, which say what matching means).
//!
//! Each filter names a list; the shortest drives, narrowed to the date range by binary search
//! (registration numbers are given in filing order, so dates never decrease along a list).
//! With one filter every slot is a match. With several, each candidate of the driving list
//! is checked against the others on its metadata, at most [`BUDGET`] per page: the page then
//! ends early and its "next" link goes on from where it stopped, so work per page is bounded
//! and nothing is skipped.

use super::Page;
use crate::archive::lists::{List, MAX_WORDS, Reader, name_words, term};
use crate::http::extract::Path as ApiPath;
use crate::http::{AppState, Caller};
use axum::extract::{Extension, State};
use std::sync::Arc;

/// Candidates checked per page at most, when several filters must all match.
pub const BUDGET: u64 = 2000;
/// Rows per page.
const PER_PAGE: usize = 50;

/// The text filters of a case search (trimmed; empty when not given).
#[derive(Debug, Default)]
pub struct Filters<'a> {
    /// Sender's reference.
    pub sender_ref: &'a str,
    /// IIN or BIN.
    pub id: &'a str,
    /// Words of a signer's name.
    pub signer: &'a str,
}

/// One page of matches.
#[derive(Debug, Default)]
pub struct Found {
    /// The documents (as `GET /v1/documents/{regno}` shows them), newest first.
    pub docs: Vec<serde_json::Value>,
    /// Where the next page starts (a position in the driving list), if there is more.
    pub next: Option<u64>,
    /// Slots of the driving list within the date range (an upper bound of the matches;
    /// exact with one filter).
    pub candidates: u64,
}

/// The query's words of a signer's name, distinct.
fn words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in q.split(|c: char| !c.is_alphanumeric()).map(term) {
        if !w.is_empty() && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Refuses a name query of more than [`MAX_WORDS`] words: each word opens a list (two store
/// reads), and no indexed name has more words, so a longer query could only cost reads.
pub fn check(f: &Filters<'_>) -> Result<(), Page> {
    if words(f.signer).len() > MAX_WORDS {
        return Err(Page::Api(crate::http::ApiError::BadRequest(format!(
            "A signer's name may be searched by at most {MAX_WORDS} words."
        ))));
    }
    Ok(())
}

/// Whether a document matches every filter (as the lists match: see `archive::lists`).
fn matches(doc: &serde_json::Value, f: &Filters<'_>) -> bool {
    let signers = doc
        .get("signers")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let ok_ref = f.sender_ref.is_empty() || term(super::s(doc, "sender_ref")) == term(f.sender_ref);
    let ok_id = f.id.is_empty()
        || signers
            .iter()
            .any(|g| super::s(g, "iin") == f.id || super::s(g, "bin") == f.id);
    let want = words(f.signer);
    let ok_name = want.is_empty()
        || signers.iter().any(|g| {
            let have = name_words(super::s(g, "subject"));
            want.iter().all(|w| have.contains(w))
        });
    ok_ref && ok_id && ok_name
}

/// The lists the filters name, each opened; `None` while the archive keeps no lists.
fn lists<'a>(
    state: &'a AppState,
    case: &str,
    f: &Filters<'_>,
) -> Result<Option<Vec<Reader<'a>>>, crate::archive::ArchiveError> {
    let a = &state.ingest.archive;
    let mut names = Vec::new();
    if !f.sender_ref.is_empty() {
        names.push(List::Ref(case, f.sender_ref));
    }
    if !f.id.is_empty() {
        names.push(List::Id(case, f.id));
    }
    let ws = words(f.signer);
    names.extend(ws.iter().map(|w| List::Word(case, w)));
    let mut out = Vec::new();
    for l in &names {
        match a.list(l)? {
            Some(r) => out.push(r),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The page of `case`'s documents matching `f` within the days `from..=to`, starting at
/// position `at` of the driving list (its newest end when `None`); `None` while the archive
/// keeps no lists (the caller then scans, as before them).
pub async fn find(
    state: &Arc<AppState>,
    caller: &Caller,
    case: &str,
    f: &Filters<'_>,
    (from, to): (&str, &str),
    at: Option<u64>,
) -> Result<Option<Found>, Page> {
    check(f)?;
    let Some(mut readers) = lists(state, case, f).map_err(crate::http::ApiError::from)? else {
        return Ok(None);
    };
    readers.sort_by_key(|r| r.len);
    let several = readers.len() > 1;
    let Some(driver) = readers.first() else {
        return Ok(Some(Found::default()));
    };
    let (lo, hi) = super::mine::date_range(driver, from, to, &mut |n| {
        super::cases::date_of(state, case, n)
    })
    .map_err(crate::http::ApiError::from)?;
    let mut found = Found {
        candidates: hi.saturating_sub(lo.saturating_sub(1)),
        ..Found::default()
    };
    let mut pos = at.unwrap_or(hi).min(hi);
    let mut checked = 0u64;
    while pos >= lo && pos > 0 && found.docs.len() < PER_PAGE && checked < BUDGET {
        let n = driver.get(pos).map_err(crate::http::ApiError::from)?;
        let doc = crate::http::documents::metadata(
            State(state.clone()),
            Extension(caller.clone()),
            ApiPath(format!("{case}/{n}")),
        )
        .await?
        .0;
        let doc = super::json(&doc);
        checked += 1;
        pos -= 1;
        if !several || matches(&doc, f) {
            found.docs.push(doc);
        }
    }
    found.next = (pos >= lo && pos > 0).then_some(pos);
    Ok(Some(found))
}
