//! A document's page: metadata, signers, receipt, downloads where the case's access allows,
//! hold and disposal status — all through the API's handlers.

use super::i18n::M;
use super::{Ctx, Form, Page, page, s, urlencode};
use crate::http::extract::Path as ApiPath;
use crate::http::{AppState, Caller};
use axum::Router;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use maud::html;
use std::sync::Arc;

/// The routes. The registration number (`01-05/17`) travels in the query, not the path.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/document", get(document))
        .route("/document/content", get(content))
        .route("/document/signature", get(signature))
}

fn regno(q: Option<String>) -> String {
    Form::parse(q.unwrap_or_default().as_bytes())
        .get("regno")
        .to_owned()
}

/// The active holds naming `regno` or its case, for the archivist.
fn holds_on(state: &AppState, regno: &str, case: &str) -> Vec<crate::retention::holds::Hold> {
    state
        .ingest
        .archive
        .read(crate::retention::holds::active)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.registration.as_deref() == Some(regno) || h.case.as_deref() == Some(case))
        .collect()
}

/// Whether the case's access lets the caller's role read its documents' files.
fn may_read(state: &AppState, caller: &Caller, case_index: &str) -> bool {
    caller.role().is_some_and(|r| {
        state
            .ingest
            .policy
            .case(case_index)
            .is_some_and(|c| c.access.contains(&r))
    })
}

/// `GET /document?regno=`: through `GET /v1/documents/{regno}`.
async fn document(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/documents/{regno}")?;
    let regno = regno(q);
    let doc = crate::http::documents::metadata(
        State(state.clone()),
        Extension(caller.clone()),
        ApiPath(regno.clone()),
    )
    .await?
    .0;
    let d = super::json(&doc);
    let l = ctx.lang;
    let case = d.get("case").cloned().unwrap_or_default();
    let case_index = s(&case, "index");
    let readable = may_read(&state, &caller, case_index);
    let destroyed = s(&d, "status") == "destroyed";
    let disposal = d.get("disposal").cloned().unwrap_or_default();
    let holds = if ctx.may(Method::GET, "/v1/retention/plan") {
        Some(holds_on(&state, &regno, case_index))
    } else {
        None
    };
    let files = d
        .get("files")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let signers = d
        .get("signers")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let q = urlencode(&regno);
    let entry = d.get("entry").and_then(|v| v.as_u64()).unwrap_or(0);
    // The paths come from the signature file, read as its download would be: only where the
    // case's access lets this principal read it, and only while it is kept.
    let paths = if readable && !destroyed {
        signer_paths(&state, &ctx, &caller, &regno, &d, &signers, &files).await
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { (M::Document.t(l)) " " (regno) }
        dl.meta {
            dt { (M::RegNumber.t(l)) } dd { (regno) }
            dt { (M::RegDate.t(l)) } dd { (s(d.get("registration").unwrap_or(&d), "date")) }
            dt { (M::Case.t(l)) } dd { (case_index) " " (s(&case, "title")) }
            @if !s(&d, "sender_ref").is_empty() { dt { (M::SenderRef.t(l)) } dd { (s(&d, "sender_ref")) } }
            dt { (M::Received.t(l)) } dd { (s(&d, "recorded_at")) }
            dt { (M::Entry.t(l)) } dd {
                @if ctx.may(Method::GET, "/v1/proofs/inclusion") { a href={ "/audit/proof?index=" (entry) } { (entry) } } @else { (entry) }
            }
            dt { (M::Receipt.t(l)) } dd { a href={ "/registry/receipts/" (urlencode(s(&d, "receipt_id"))) } { (s(&d, "receipt_id")) } }
            dt { (M::Status.t(l)) }
            dd #doc-status data-status=(s(&d, "status")) {
                @if destroyed {
                    span.bad { (M::Destroyed.t(l)) } " " (M::ByAct.t(l)) " " (s(&disposal, "act")) ", " (s(&disposal, "date"))
                } @else { (M::Kept.t(l)) }
            }
            @if let Some(h) = &holds {
                dt { (M::Holds.t(l)) }
                dd #doc-holds { @if h.is_empty() { "—" } @for x in h { (x.hold_id) ": " (x.reason) " (" (x.by) ")" br; } }
            }
        }
        (signers_table(l, &signers, &paths))
        (files_list(l, &files, &q, !destroyed && readable))
        @if !readable && !destroyed { p.note { (M::NoAccess.t(l)) } }
    };
    Ok(page(&ctx, &regno, body, StatusCode::OK))
}

/// The signers' table and, below it, each signer's certificate path.
fn signers_table(
    l: super::i18n::Lang,
    signers: &[serde_json::Value],
    paths: &[Vec<super::paths::Link>],
) -> maud::Markup {
    html! {
    h2 { (M::Signers.t(l)) }
    p.note { (M::PathNote.t(l)) }
    div.scroll { table {
        thead { tr { th scope="col" { (M::Subject.t(l)) } th scope="col" { (M::IinBin.t(l)) } th scope="col" { (M::Status.t(l)) } th scope="col" { (M::Algorithm.t(l)) } th scope="col" { (M::Certificate.t(l)) } } }
        tbody { @for g in signers { tr {
            td { (s(g, "subject")) } td { (s(g, "iin")) " " (s(g, "bin")) } td { (s(g, "status")) }
            td { (s(g, "algorithm")) } td { code { (s(g, "certificate_sha256")) } }
        } } }
    } }
    @for (i, path) in paths.iter().enumerate() { @if !path.is_empty() {
        h3 { (M::CertPath.t(l)) " " (i + 1) }
        div.scroll { table.path {
            thead { tr {
                th scope="col" { (M::Subject.t(l)) } th scope="col" { (M::Issuer.t(l)) }
                th scope="col" { (M::Serial.t(l)) } th scope="col" { (M::Validity.t(l)) }
                th scope="col" { (M::Status.t(l)) }
            } }
            tbody { @for c in path { tr {
                td { (c.subject) } td { (c.issuer) } td { code { (c.serial) } }
                td { (c.validity.0) " — " (c.validity.1) }
                td data-status=(format!("{:?}", c.status).to_lowercase()) { (match c.status {
                    super::paths::Status::Anchor => M::AnchorCert.t(l),
                    super::paths::Status::Valid => M::ValidThen.t(l),
                    super::paths::Status::Expired => M::ExpiredThen.t(l),
                    super::paths::Status::NotChained => M::NotChained.t(l),
                }) }
            } } }
        } }
    } }
    }
}

/// The document's files, each with a download link where `downloads`.
fn files_list(
    l: super::i18n::Lang,
    files: &[serde_json::Value],
    q: &str,
    downloads: bool,
) -> maud::Markup {
    html! {
    h2 { (M::Files.t(l)) }
    ul #files { @for f in files { li {
        (s(f, "role")) " · " (f.get("size").and_then(|v| v.as_u64()).unwrap_or(0)) " B · " code { (s(f, "sha256")) }
        @if downloads {
            " " a href={ "/document/" (s(f, "role")) "?regno=" (q) } download { (M::Download.t(l)) }
        }
    } } }
    }
}

/// Whether the signature file, by the size `files` gives it, is small enough to be read for
/// its certificates: the size is known without reading (or decompressing) the file.
fn signature_readable(files: &[serde_json::Value]) -> bool {
    files
        .iter()
        .find(|f| s(f, "role") == "signature")
        .and_then(|f| f.get("size").and_then(|v| v.as_u64()))
        .is_some_and(|n| n <= PATH_READ_LIMIT as u64)
}

/// A signature file read for its certificates at most (an attached signature carries its
/// content too: a larger one is not read for a page).
const PATH_READ_LIMIT: usize = 16 << 20;

/// Each signer's certificate path (empty where it cannot be rebuilt), from the signature
/// file as `GET /v1/documents/{regno}/signature` gives it to this principal.
async fn signer_paths(
    state: &Arc<AppState>,
    ctx: &Ctx,
    caller: &Caller,
    regno: &str,
    d: &serde_json::Value,
    signers: &[serde_json::Value],
    files: &[serde_json::Value],
) -> Vec<Vec<super::paths::Link>> {
    if !ctx.may(Method::GET, "/v1/documents/{regno}/signature") || !signature_readable(files) {
        return Vec::new();
    }
    let Ok(res) = crate::http::documents::signature(
        State(state.clone()),
        Extension(caller.clone()),
        ApiPath(regno.to_owned()),
        HeaderMap::new(),
    )
    .await
    else {
        return Vec::new();
    };
    let Ok(bytes) = axum::body::to_bytes(res.into_body(), PATH_READ_LIMIT).await else {
        return Vec::new();
    };
    let at = crate::archive::log::parse_time(s(d, "recorded_at")).unwrap_or(0);
    let verifier = state.ingest.verifier.load();
    let anchors = verifier.trust().anchors();
    signers
        .iter()
        .map(|g| super::paths::path_of(&bytes, s(g, "certificate_sha256"), anchors, at))
        .collect()
}

/// The media type the API gives a signed XML document's signature file.
const XML: &str = "application/xml";

async fn download(
    state: Arc<AppState>,
    ctx: Ctx,
    caller: Caller,
    regno: String,
    which: &str,
) -> Result<Response, Page> {
    let route = format!("/v1/documents/{{regno}}/{which}");
    ctx.allow(Method::GET, &route)?;
    let headers = HeaderMap::new();
    let args = (
        State(state),
        Extension(caller),
        ApiPath(regno.clone()),
        headers,
    );
    let mut res = if which == "content" {
        crate::http::documents::content(args.0, args.1, args.2, args.3).await?
    } else {
        crate::http::documents::signature(args.0, args.1, args.2, args.3).await?
    };
    let name = regno.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    let xml = res.headers().get(header::CONTENT_TYPE) == Some(&HeaderValue::from_static(XML));
    let ext = match which {
        "content" => "bin",
        _ if xml => "xml",
        _ => "p7s",
    };
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `GET /document/content?regno=`: the original content, as `GET …/content` gives it.
async fn content(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Response, Page> {
    download(state, ctx, caller, regno(q), "content").await
}

/// `GET /document/signature?regno=`: the signature file, as `GET …/signature` gives it.
async fn signature(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Response, Page> {
    download(state, ctx, caller, regno(q), "signature").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_over_the_limit_is_not_read_for_a_page() {
        let f = |n: u64| [serde_json::json!({"role": "signature", "size": n})];
        assert!(signature_readable(&f(1000)));
        assert!(!signature_readable(&f(PATH_READ_LIMIT as u64 + 1)));
        assert!(!signature_readable(&[]), "no size known: not read");
    }
}
