//! Receipts, documents (metadata and original bytes) and the nomenclature.

use super::extract::{Path, Query};
use super::submissions::{receipt_response, wants_der};
use super::{ApiError, AppState, Caller};
use crate::archive::log::{Entry, Event, FileRef};
use crate::policy::Role;
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

const READERS: &[Role] = &[Role::Chancellery, Role::Archivist, Role::Auditor];

/// A chancellery principal sees only what it submitted; archivists and auditors see all. A
/// clerk is refused alike whether the receipt exists or not, so that it learns nothing of
/// others' documents (no 404 before 403).
fn may_see(state: &AppState, caller: &Caller, receipt_id: Option<&str>) -> Result<(), ApiError> {
    if caller.require(READERS)? != Role::Chancellery {
        return Ok(());
    }
    let own = match receipt_id {
        Some(id) => state.ingest.archive.submitter(id)?.as_deref() == caller.name(),
        None => false,
    };
    if own {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "Principal {} may read only what it submitted.",
        caller.name().unwrap_or("?")
    )))
}

/// The entry of `regno`, if the caller may see it (and, for `content`, read its case's
/// content) and once it is durable: authorised on what the lookup found before the wait, so
/// that a refusal comes at once and a clerk is refused alike whether another's fresh filing
/// exists or not — never a 503 "try later" that would tell a pending filing from none. The
/// wait then checks that the entry authorised is the one stored.
async fn visible_entry(
    state: &Arc<AppState>,
    caller: &Caller,
    regno: &str,
    content: Option<Role>,
) -> Result<Entry, ApiError> {
    let found = read_entry(state, regno);
    let receipt = found.as_ref().ok().map(|(_, _, e)| receipt_of(e));
    may_see(state, caller, receipt)?;
    let (index, bytes, entry) = found?;
    if let Some(role) = content {
        may_read_content(state, role, &entry)?;
    }
    let archive = &state.ingest.archive;
    if archive.durable_through(index.saturating_add(1)) {
        // Nothing to wait for (a document filed before the last sync): the second read only,
        // without a blocking thread's hop, which would cost a case's page more than its reads.
        archive.make_filing_durable(regno, index, &bytes)?;
        return Ok(entry);
    }
    let (st, key) = (state.clone(), regno.to_owned());
    tokio::task::spawn_blocking(move || st.ingest.archive.make_filing_durable(&key, index, &bytes))
        .await
        .map_err(|_| ApiError::Unavailable("Reading failed; retry.".into()))??;
    Ok(entry)
}

fn receipt_of(entry: &Entry) -> &str {
    entry.event.receipt_id().unwrap_or_default()
}

/// A registered document as the API shows it, in the receipt's vocabulary: `registration`
/// and `case` are objects here as there. A destroyed document says by which act.
#[derive(Debug, serde::Serialize)]
pub struct Document {
    /// `{number, date}`
    registration: serde_json::Value,
    /// `{index, title}`
    case: serde_json::Value,
    /// The receipt issued for it.
    receipt_id: String,
    /// The sender's own reference.
    sender_ref: Option<String>,
    /// When the log recorded it.
    recorded_at: String,
    /// Its position in the log (for proofs).
    entry: u64,
    /// The kept files: signature, and content when detached.
    files: Vec<crate::archive::log::FileRef>,
    /// Who signed, as verified on receipt.
    signers: Vec<crate::archive::log::SignerSummary>,
    /// `kept`, or `destroyed` with `disposal` set.
    status: &'static str,
    /// The act that destroyed it, if one did.
    disposal: Option<crate::archive::keys::Disposal>,
}

fn document(state: &AppState, entry: Entry) -> Result<Document, ApiError> {
    let Event::Accepted {
        receipt_id,
        case,
        registration,
        registration_date,
        files,
        signers,
        sender_ref,
        ..
    } = entry.event
    else {
        return Err(ApiError::NotFound(format!(
            "Entry {} is not a registered document.",
            entry.index
        )));
    };
    let disposal = state.ingest.archive.disposal(&registration)?;
    let title = state.ingest.policy.case(&case).map(|c| c.title.clone());
    Ok(Document {
        registration: serde_json::json!({"number": registration, "date": registration_date}),
        case: serde_json::json!({"index": case, "title": title}),
        receipt_id,
        sender_ref,
        recorded_at: entry.at,
        entry: entry.index,
        files,
        signers,
        status: if disposal.is_some() {
            "destroyed"
        } else {
            "kept"
        },
        disposal,
    })
}

/// The log position, stored bytes and entry of `regno` as read now: perhaps a filing not yet
/// durable, which no client may be shown before [`Archive::make_filing_durable`].
///
/// [`Archive::make_filing_durable`]: crate::archive::Archive::make_filing_durable
fn read_entry(state: &AppState, regno: &str) -> Result<(u64, Vec<u8>, Entry), ApiError> {
    let missing = || ApiError::NotFound(format!("No document is registered as {regno}."));
    let archive = &state.ingest.archive;
    let index = archive.regno_entry(regno)?.ok_or_else(missing)?;
    let bytes = archive.entry_bytes(index)?.ok_or_else(missing)?;
    let entry = Entry::decode(&bytes)
        .map_err(|e| crate::archive::ArchiveError::Damaged(format!("entry {index}: {e}")))?;
    Ok((index, bytes, entry))
}

/// The entry of `regno` once it is durable (blocking: it may wait for a sync).
fn durable_entry(state: &AppState, regno: &str) -> Result<Entry, ApiError> {
    let (index, bytes, entry) = read_entry(state, regno)?;
    state
        .ingest
        .archive
        .make_filing_durable(regno, index, &bytes)?;
    Ok(entry)
}

/// `GET /v1/receipts/{id}`
pub async fn receipt(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_see(&state, &caller, Some(&id))?;
    // Waits for the filing's sync when it is that fresh: a receipt is shown only once durable.
    let (st, key) = (state.clone(), id.clone());
    let der = tokio::task::spawn_blocking(move || st.ingest.archive.durable_receipt(&key))
        .await
        .map_err(|_| ApiError::Unavailable("Reading failed; retry.".into()))??
        .ok_or_else(|| ApiError::NotFound(format!("No receipt {id}.")))?;
    let body = crate::verify::cms::parse(&der)
        .ok()
        .and_then(|sd| sd.content.map(|c| c.into_owned()))
        .unwrap_or_default();
    Ok(receipt_response(
        StatusCode::OK,
        der,
        body,
        wants_der(&headers),
    ))
}

/// `GET /v1/documents/{regno}` (the number URL-encoded: `01-05%2F17`)
pub async fn metadata(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(regno): Path<String>,
) -> Result<Json<Document>, ApiError> {
    let entry = visible_entry(&state, &caller, &regno, None).await?;
    Ok(Json(document(&state, entry)?))
}

/// `GET /v1/documents/{regno}/signature`
pub async fn signature(
    state: State<Arc<AppState>>,
    caller: Extension<Caller>,
    regno: Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    bytes(state, caller, regno, headers, "signature").await
}

/// `GET /v1/documents/{regno}/content`
pub async fn content(
    state: State<Arc<AppState>>,
    caller: Extension<Caller>,
    regno: Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    bytes(state, caller, regno, headers, "content").await
}

async fn bytes(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(regno): Path<String>,
    headers: HeaderMap,
    role_name: &str,
) -> Result<Response, ApiError> {
    let file = kept_file(&state, &caller, &regno, role_name).await?;
    let etag = format!("\"{}\"", file.sha256);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let name = crate::archive::checkpoint::unhex32(&file.sha256).ok_or_else(|| {
        ApiError::Unavailable("The entry's file hash is damaged; run an audit.".into())
    })?;
    let st = state.clone();
    let data = tokio::task::spawn_blocking(move || {
        let mut v = Vec::new();
        st.ingest.archive.read_blob(&name, &mut v).map(|_| v)
    })
    .await
    .map_err(|_| ApiError::Unavailable("Reading failed; retry.".into()))?
    .map_err(|e| {
        tracing::error!(error = %e, regno = %regno, "a kept document does not read back");
        ApiError::Unavailable("The document cannot be read back intact; run an audit.".into())
    })?;
    // A signed XML document is its own signature file: typed as what it is.
    let ct = if role_name == "signature" && crate::verify::xml::is_xml(&data) {
        "application/xml"
    } else if role_name == "signature" {
        "application/pkcs7-mime"
    } else {
        "application/octet-stream"
    };
    Ok(ranged(data, &headers, ct, &etag))
}

/// The kept file of `regno` in `role_name`, if the caller's role may read its case's content
/// and it was not destroyed.
async fn kept_file(
    state: &Arc<AppState>,
    caller: &Caller,
    regno: &str,
    role_name: &str,
) -> Result<FileRef, ApiError> {
    let role = caller.require(READERS)?;
    let entry = visible_entry(state, caller, regno, Some(role)).await?;
    if let Some(act) = state.ingest.archive.disposal(regno)? {
        return Err(ApiError::Gone(format!(
            "{regno} was destroyed under {act}; its entry and receipt remain."
        )));
    }
    let Event::Accepted { files, .. } = entry.event else {
        return Err(ApiError::NotFound(format!(
            "{regno} is not an accepted document."
        )));
    };
    files
        .into_iter()
        .find(|f| f.role == role_name)
        .ok_or_else(|| ApiError::NotFound(format!("{regno} has no detached content.")))
}

/// Refuses `role` the content of an accepted document unless its case's `access` lists the
/// role (anything else is answered after the wait: 404, not a document).
fn may_read_content(state: &AppState, role: Role, entry: &Entry) -> Result<(), ApiError> {
    let Event::Accepted { case, .. } = &entry.event else {
        return Ok(());
    };
    let allowed = state
        .ingest
        .policy
        .case(case)
        .is_some_and(|c| c.access.contains(&role));
    if allowed {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "Case {case} does not grant the {} role access to document content.",
        super::auth::role_name(role)
    )))
}

/// `data` whole, or the one byte range the request's `Range` asks for (RFC 9110 §14), with
/// its type and entity tag.
fn ranged(data: Vec<u8>, headers: &HeaderMap, ct: &'static str, etag: &str) -> Response {
    let total = data.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| parse_range(r, total));
    let (status, body, content_range) = match range {
        None => (StatusCode::OK, data, None),
        Some(Some((a, b))) => (
            StatusCode::PARTIAL_CONTENT,
            data.get(a..=b).unwrap_or_default().to_vec(),
            Some(format!("bytes {a}-{b}/{total}")),
        ),
        Some(None) => {
            let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, Body::empty()).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let mut res = (status, Body::from(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(cr) = content_range.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_RANGE, cr);
    }
    res
}

/// One `bytes=` range within `total`: `Some(Some((first, last)))`, or `Some(None)` when it
/// cannot be satisfied. Multiple ranges are answered with the first.
fn parse_range(header: &str, total: usize) -> Option<(usize, usize)> {
    let spec = header.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    let last = total.checked_sub(1)?;
    let (first, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (total.checked_sub(n.min(total))?, last)
        }
        (a, "") => (a.parse().ok()?, last),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(last)),
    };
    (first <= end && end <= last).then_some((first, end))
}

/// `GET /v1/cases`
pub async fn cases(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[
        Role::Chancellery,
        Role::Archivist,
        Role::Auditor,
        Role::Admin,
    ])?;
    let mut out = Vec::new();
    for c in state.ingest.policy.cases() {
        let n = registered(&state, &c.index)?;
        out.push(serde_json::json!({
            "index": c.index, "title": c.title, "retention": c.retention.to_string(), "epk": c.epk,
            "closed": c.closed, "access": c.access, "documents": n,
        }));
    }
    Ok(Json(serde_json::Value::Array(out)))
}

fn registered(state: &AppState, case: &str) -> Result<u64, ApiError> {
    Ok(state.ingest.archive.registered(case)?)
}

/// Paging parameters.
#[derive(Debug, Deserialize)]
pub struct Page {
    page: Option<u64>,
    per_page: Option<u64>,
}

impl Page {
    /// Largest page.
    const MAX_PER_PAGE: u64 = 500;

    /// `(page, per_page, first registration number on it)`, or a 400 sentence.
    fn window(&self) -> Result<(u64, u64, u64), ApiError> {
        let per_page = self.per_page.unwrap_or(50);
        let page = self.page.unwrap_or(1);
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::BadRequest(format!(
                "per_page must be between 1 and {}.",
                Self::MAX_PER_PAGE
            )));
        }
        let first = page
            .checked_sub(1)
            .and_then(|p| p.checked_mul(per_page))
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| {
                ApiError::BadRequest("page must be at least 1 and within the case.".into())
            })?;
        Ok((page, per_page, first))
    }
}

/// `GET /v1/cases/{index}/documents?page=&per_page=`
pub async fn case_documents(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(index): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Archivist, Role::Auditor])?;
    let index_name = index.clone();
    if state.ingest.policy.case(&index).is_none() {
        return Err(ApiError::NotFound(format!(
            "No case {index} in the nomenclature."
        )));
    }
    let (p, per_page, first) = page.window()?;
    let st = state.clone();
    // Each document listed is durable first (the page's newest may still be in its sync).
    let (total, docs) = tokio::task::spawn_blocking(move || {
        let total = registered(&st, &index)?;
        let mut docs = Vec::new();
        for n in first..=total.min(first.saturating_add(per_page - 1)) {
            docs.push(document(&st, durable_entry(&st, &format!("{index}/{n}"))?)?);
        }
        Ok::<_, ApiError>((total, docs))
    })
    .await
    .map_err(|_| ApiError::Unavailable("Reading failed; retry.".into()))??;
    Ok(Json(
        serde_json::json!({"case": index_name, "page": p, "per_page": per_page, "total": total, "documents": docs}),
    ))
}
