//! Registry pages (chancellery): submit a document and read its receipt as a page, download
//! the signed receipt, list the principal's own submissions (see `mine`). The submission goes through
//! the API's own handler (`POST /v1/submissions`), so it is verified, filed, counted and
//! answered exactly as an API submission is.

use super::i18n::{Lang, M};
use super::{Ctx, Page, page, s};
use crate::http::{ApiError, AppState};
use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use std::sync::Arc;

/// The registry's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/registry", get(registry).post(submit))
        .route("/registry/receipts/{id}", get(receipt))
        .route("/registry/receipts/{id}/signed", get(signed_receipt))
}

/// `GET /registry?status=&from=&to=&page=`: the form, and the principal's own submissions
/// (this session's while the archive keeps no look-up lists).
async fn registry(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/submissions")?;
    let l = ctx.lang;
    let q = super::Form::parse(q.unwrap_or_default().as_bytes());
    let shown = super::mine::shown_size(&state, &ctx, &q).await?;
    let listed =
        super::mine::section(&ctx, &state.ingest.archive, &q, shown).map_err(ApiError::from)?;
    let mine = ctx
        .session
        .as_ref()
        .map(|v| state.console.sessions.submitted(v))
        .unwrap_or_default();
    let open: Vec<_> = state
        .ingest
        .policy
        .cases()
        .iter()
        .filter(|c| c.closed.is_none())
        .collect();
    let body = html! {
        h1 { (M::Submit.t(l)) }
        form.stack method="post" action="/registry" enctype="multipart/form-data" {
            (ctx.csrf_field())
            label { (M::SignatureFile.t(l)) input type="file" name="signature" required; }
            label { (M::ContentFile.t(l)) input type="file" name="content"; }
            label { (M::Case.t(l))
                select name="case" required {
                    @for c in &open { option value=(c.index) { (c.index) " — " (c.title) } }
                }
            }
            label { (M::SenderRef.t(l)) input type="text" name="sender_ref" maxlength="256"; }
            button type="submit" { (M::Send.t(l)) }
        }
        h2 { (M::MySubmissions.t(l)) }
        @if let Some(listed) = listed { (listed) } @else {
            p.note { (M::SessionNote.t(l)) }
            @if mine.is_empty() { p { (M::Nothing.t(l)) } }
            ul { @for id in &mine { li { a href={ "/registry/receipts/" (id) } { (id) } } } }
        }
        form.row method="get" action="/registry/receipts/open" {
            label { (M::ReceiptId.t(l)) input type="text" name="id" required; }
            button type="submit" { (M::Open.t(l)) }
        }
    };
    Ok(page(&ctx, M::Registry.t(l), body, StatusCode::OK))
}

/// The fields of the console's submission form.
#[derive(Debug, Default)]
struct Fields {
    csrf: String,
    text: Vec<(&'static str, String)>,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// Reads the form, within the service's body limit; an empty file input is no part.
async fn read_form(mut mp: Multipart, limit: usize) -> Result<Fields, Page> {
    let mut f = Fields::default();
    let mut total = 0usize;
    let bad = |e: axum::extract::multipart::MultipartError| {
        Page::Api(ApiError::BadRequest(format!("Malformed form: {e}.")))
    };
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name: &'static str = match field.name().unwrap_or("") {
            "csrf" => "csrf",
            "signature" => "signature",
            "content" => "content",
            "case" => "case",
            "sender_ref" => "sender_ref",
            _ => continue,
        };
        let data = field.bytes().await.map_err(bad)?;
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(Page::Api(ApiError::TooLarge(limit)));
        }
        match name {
            "csrf" => f.csrf = String::from_utf8_lossy(&data).into_owned(),
            "signature" | "content" if !data.is_empty() => f.files.push((name, data.to_vec())),
            "case" | "sender_ref" if !data.trim_ascii().is_empty() => {
                f.text
                    .push((name, String::from_utf8_lossy(&data).into_owned()));
            }
            _ => {}
        }
    }
    Ok(f)
}

/// The fields again as the API's multipart body (RFC 7578), without the CSRF token.
fn api_body(f: &Fields, boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in &f.text {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, data) in &f.files {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// `POST /registry`: checks the CSRF token, then submits through the API's handler and
/// shows the receipt (after a redirect, so that reloading does not resubmit).
async fn submit(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<crate::http::Caller>,
    mp: Multipart,
) -> Result<Response, Page> {
    ctx.allow(Method::POST, "/v1/submissions")?;
    let fields = read_form(mp, state.limits.max_body).await?;
    let mut form = super::Form::default();
    form.0.push(("csrf".into(), fields.csrf.clone()));
    let view = ctx.checked(&form)?;
    // A boundary of 64 hex digits cannot occur by chance in the parts.
    let boundary = super::session::random_hex();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/submissions")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::ACCEPT, "application/json")
        .body(Body::from(api_body(&fields, &boundary)))
        .map_err(|_| Page::Api(ApiError::BadRequest("The form could not be sent.".into())))?;
    let res =
        crate::http::submissions::submit(State(state.clone()), Extension(caller), req).await?;
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let id = s(&body, "receipt_id");
    state.console.sessions.remember(&view, id);
    Ok(Redirect::to(&format!("/registry/receipts/{}", super::urlencode(id))).into_response())
}

/// `GET /registry/receipts/{id}` (and `open?id=`): the receipt as a page, through the API's
/// receipt handler (a clerk reads only its own).
async fn receipt(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<crate::http::Caller>,
    Path(id): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, Page> {
    if id == "open" {
        let form = super::Form::parse(q.unwrap_or_default().as_bytes());
        let to = format!("/registry/receipts/{}", super::urlencode(form.get("id")));
        return Ok(Redirect::to(&to).into_response());
    }
    ctx.allow(Method::GET, "/v1/receipts/{id}")?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let res = crate::http::documents::receipt(
        State(state),
        Extension(caller),
        crate::http::extract::Path(id.clone()),
        headers,
    )
    .await?;
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let r: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let body = receipt_view(&ctx, &id, &r);
    Ok(page(&ctx, M::Receipt.t(ctx.lang), body, StatusCode::OK))
}

/// The receipt's fields, its reasons in the page's language and the appeal text.
fn receipt_view(ctx: &Ctx, id: &str, r: &serde_json::Value) -> Markup {
    let l = ctx.lang;
    let accepted = s(r, "status") == "accepted";
    let reg = r.get("registration").filter(|v| !v.is_null());
    let regno = reg.map(|g| s(g, "number")).unwrap_or("");
    let case = r.get("case").cloned().unwrap_or_default();
    html! {
        h1 { (M::Receipt.t(l)) " " (id) }
        dl.meta {
            dt { (M::Status.t(l)) }
            dd #receipt-status class=(if accepted { "status-accepted" } else { "status-rejected" }) data-status=(s(r, "status")) {
                (if accepted { M::Accepted.t(l) } else { M::Rejected.t(l) })
            }
            @if let Some(g) = reg {
                dt { (M::RegNumber.t(l)) }
                dd #regno {
                    @if ctx.may(Method::GET, "/v1/documents/{regno}") {
                        a href={ "/document?regno=" (super::urlencode(regno)) } { (regno) }
                    } @else { (regno) }
                }
                dt { (M::RegDate.t(l)) } dd { (s(g, "date")) }
            }
            dt { (M::Case.t(l)) } dd { (s(&case, "index")) " " (s(&case, "title")) }
            dt { (M::Received.t(l)) } dd { (s(r, "received_at")) }
            @if !s(r, "sender_ref").is_empty() { dt { (M::SenderRef.t(l)) } dd { (s(r, "sender_ref")) } }
        }
        @if let Some(reasons) = r.get("reasons").and_then(|v| v.as_array()).filter(|a| !a.is_empty()) {
            h2 { (M::Reasons.t(l)) }
            ul #reasons { @for x in reasons {
                li { code { (s(x, "code")) } " — " (reason_text(x, l)) br; span.detail lang="en" { (s(x, "detail")) } }
            } }
        }
        @if let Some(w) = r.get("warnings").and_then(|v| v.as_array()).filter(|a| !a.is_empty()) {
            h2 { (M::Warnings.t(l)) }
            ul { @for x in w { li { (x.as_str().map_or_else(|| x.to_string(), str::to_owned)) } } }
        }
        @if let Some(a) = r.get("appeal").filter(|v| !v.is_null()) {
            h2 { (M::Appeal.t(l)) }
            p #appeal { (s(a, l.code())) }
        }
        p { a.button href={ "/registry/receipts/" (super::urlencode(id)) "/signed" } download { (M::DownloadReceipt.t(l)) } }
    }
}

fn reason_text(x: &serde_json::Value, l: Lang) -> String {
    match crate::Reason::from_code(s(x, "code")) {
        Some(r) => l.reason(&r.texts()).to_owned(),
        None => x
            .get("message")
            .map(|m| s(m, l.code()).to_owned())
            .unwrap_or_default(),
    }
}

/// `GET /registry/receipts/{id}/signed`: the signed receipt (CMS), as the API gives it.
async fn signed_receipt(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Extension(caller): Extension<crate::http::Caller>,
    Path(id): Path<String>,
) -> Result<Response, Page> {
    ctx.allow(Method::GET, "/v1/receipts/{id}")?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/pkcs7-mime"),
    );
    let mut res = crate::http::documents::receipt(
        State(state),
        Extension(caller),
        crate::http::extract::Path(id.clone()),
        headers,
    )
    .await?;
    let name = id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"receipt-{name}.p7s\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
