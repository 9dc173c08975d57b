//! `POST /v1/submissions`: multipart (`signature`, optional `content`, fields `case`,
//! `sender_ref`) or a raw `application/pkcs7-mime` (or signed XML: `application/xml`) body
//! with `?case=&sender_ref=`.

use super::{ApiError, AppState, Caller};
use crate::ingest::{Received, Submission};
use crate::policy::Role;
use crate::spool::SpoolWriter;
use crate::verify::Status;
use axum::body::Body;
use axum::extract::{Extension, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// What a submission request carried.
#[derive(Debug, Default)]
pub struct Parts {
    /// `case`
    pub case: Option<String>,
    /// `sender_ref`
    pub sender_ref: Option<String>,
    /// `signature`
    pub signature: Option<Vec<u8>>,
    /// `content`
    pub content: Option<Received>,
}

fn spool_failed(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "the incoming tray cannot be written");
    ApiError::Unavailable(
        "The content could not be written to the incoming tray; nothing was filed.".into(),
    )
}

/// Checks a declared Content-Length against the limit before reading anything.
fn declared_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(ApiError::TooLarge(limit)),
        _ => Ok(()),
    }
}

fn text_field(name: &str, bytes: &[u8]) -> Result<String, ApiError> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest(format!("Field {name} is not UTF-8 text.")))?
        .trim();
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(format!(
            "Field {name} must be 1–256 printable characters."
        )));
    }
    Ok(s.to_owned())
}

/// Reads the request into [`Parts`], within the body limit; a large `content` part goes to a
/// spool file in `incoming` (when given) as it arrives. Public for the fuzz target.
pub async fn read_parts(
    req: Request,
    limit: usize,
    incoming: Option<&std::path::Path>,
) -> Result<Parts, ApiError> {
    declared_length(req.headers(), limit)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        read_multipart(req, limit, incoming).await
    } else if content_type.starts_with("application/pkcs7-mime")
        || content_type.starts_with("application/octet-stream")
        // Signed XML (XML-DSig, WSSE SOAP): the verifier tells it from CMS by its first byte.
        || content_type.starts_with("application/xml")
        || content_type.starts_with("text/xml")
        || content_type.starts_with("application/soap+xml")
    {
        read_raw(req, limit).await
    } else {
        Err(ApiError::Unprocessable(
            "Send multipart/form-data, or an application/pkcs7-mime or application/xml body."
                .into(),
        ))
    }
}

/// A multipart body: `signature`, `content`, `case`, `sender_ref`, each at most once, all
/// together within `limit` bytes; a large `content` goes to the spool in `incoming`.
async fn read_multipart(
    req: Request,
    limit: usize,
    incoming: Option<&std::path::Path>,
) -> Result<Parts, ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::BadRequest(format!("Malformed multipart body: {e}.")))?;
    let mut parts = Parts::default();
    let mut total = 0usize;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(malformed(e, limit)),
        };
        let name = field.name().unwrap_or("").to_owned();
        let spool_to = incoming.filter(|_| name == "content");
        let received = read_field(field, &mut total, limit, spool_to).await?;
        file_part(&mut parts, &name, received)?;
    }
    Ok(parts)
}

/// What a malformed multipart body is told (or the limit it ran into).
fn malformed(e: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    super::body::cause(&e, limit)
        .unwrap_or_else(|| ApiError::BadRequest(format!("Malformed multipart body: {e}.")))
}

/// One part's bytes, counted into `total` against `limit`; spooled to `spool_to` once past
/// what is kept in memory.
async fn read_field(
    mut field: axum::extract::multipart::Field<'_>,
    total: &mut usize,
    limit: usize,
    spool_to: Option<&std::path::Path>,
) -> Result<Received, ApiError> {
    let mut data = Vec::new();
    let mut spool: Option<SpoolWriter> = None;
    loop {
        let c = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(malformed(e, limit)),
        };
        *total += c.len();
        if *total > limit {
            return Err(ApiError::TooLarge(limit));
        }
        if let Some(w) = spool.as_mut() {
            w.write(&c).map_err(spool_failed)?;
            continue;
        }
        data.extend_from_slice(&c);
        if let Some(dir) = spool_to.filter(|_| data.len() > crate::spool::IN_MEMORY) {
            let mut w = SpoolWriter::create(dir).map_err(spool_failed)?;
            w.write(&data).map_err(spool_failed)?;
            data = Vec::new();
            spool = Some(w);
        }
    }
    Ok(match spool {
        Some(w) => Received::Spooled(w.finish().map_err(spool_failed)?),
        None => Received::Memory(data),
    })
}

/// Files one part under its name, refusing an unknown or repeated one.
fn file_part(parts: &mut Parts, name: &str, received: Received) -> Result<(), ApiError> {
    if name == "content" {
        if parts.content.replace(received).is_some() {
            return Err(ApiError::Unprocessable(
                "Part content appears twice.".into(),
            ));
        }
        return Ok(());
    }
    // Only `content` is ever spooled, so the others are in memory.
    let data = match received {
        Received::Memory(data) => data,
        Received::Spooled(_) => {
            return Err(ApiError::Unprocessable(format!(
                "Part {name} is too large."
            )));
        }
    };
    match name {
        "signature" => {
            if parts.signature.replace(data).is_some() {
                return Err(ApiError::Unprocessable(
                    "Part signature appears twice.".into(),
                ));
            }
            Ok(())
        }
        "case" | "sender_ref" => {
            let slot = if name == "case" {
                &mut parts.case
            } else {
                &mut parts.sender_ref
            };
            once(slot, name, text_field(name, &data)?)
        }
        other => Err(ApiError::Unprocessable(format!(
            "Unknown part {other:?}: expected signature, content, case, sender_ref."
        ))),
    }
}

/// A body that is the signature itself; `case` and `sender_ref` come in the query.
async fn read_raw(req: Request, limit: usize) -> Result<Parts, ApiError> {
    let mut parts = Parts::default();
    let query = req.uri().query().unwrap_or("").to_owned();
    for (k, v) in url_pairs(&query) {
        match k.as_str() {
            "case" => once(&mut parts.case, "case", text_field("case", v.as_bytes())?)?,
            "sender_ref" => once(
                &mut parts.sender_ref,
                "sender_ref",
                text_field("sender_ref", v.as_bytes())?,
            )?,
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "Unknown query parameter {other:?}."
                )));
            }
        }
    }
    parts.signature = Some(super::body::read_all(req, limit).await?);
    Ok(parts)
}

/// Sets a field that may be given once: a second value is refused, not silently preferred.
fn once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), ApiError> {
    if slot.replace(value).is_some() {
        return Err(ApiError::Unprocessable(format!(
            "Field {name} is given more than once."
        )));
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` pairs of a query string.
pub(super) fn url_pairs(q: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                _ => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Whether the client asked for the signed DER receipt.
pub fn wants_der(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/pkcs7-mime"))
}

/// The receipt as JSON body or signed DER.
pub fn receipt_response(status: StatusCode, der: Vec<u8>, body: Vec<u8>, as_der: bool) -> Response {
    let (bytes, ct) = if as_der {
        (der, "application/pkcs7-mime; smime-type=signed-data")
    } else {
        (body, "application/json")
    };
    let mut res = (status, Body::from(bytes)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    res
}

/// The receipt id of a submission's answer, for the request log.
#[derive(Debug, Clone)]
pub struct ReceiptId(pub String);

/// `POST /v1/submissions`.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    req: Request,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Chancellery])?;
    let started = Instant::now();
    let as_der = wants_der(req.headers());
    let parts = read_parts(req, state.limits.max_body, Some(&state.ingest.incoming)).await?;
    let case = parts.case.ok_or_else(|| {
        ApiError::Unprocessable("Field case (the nomenclature index) is missing.".into())
    })?;
    let signature = parts.signature.ok_or_else(|| {
        ApiError::Unprocessable("Part signature (the CMS file) is missing.".into())
    })?;
    let st = state.clone();
    let who = caller.name().map(str::to_owned);
    let outcome = tokio::task::spawn_blocking(move || {
        st.ingest.submit(&Submission {
            case: &case,
            signature: &signature,
            content: parts.content.as_ref().map(Received::payload),
            sender_ref: parts.sender_ref.as_deref(),
            received_at: crate::clock::now(),
            submitter: who.as_deref(),
        })
    })
    .await
    .map_err(|_| {
        ApiError::Unavailable("The submission could not be processed; nothing was filed.".into())
    })??;
    let body = outcome.body();
    let accepted = outcome.status == Status::Accepted;
    if !outcome.replay {
        let refs: Vec<&str> = outcome.reasons.iter().map(|r| r.code()).collect();
        state
            .metrics
            .submission(if accepted { "accepted" } else { "rejected" }, &refs);
    }
    state
        .metrics
        .submit_latency
        .observe(started.elapsed().as_secs_f64());
    let status = if accepted {
        StatusCode::CREATED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = receipt_response(status, outcome.receipt, body, as_der);
    res.extensions_mut()
        .insert(ReceiptId(outcome.receipt_id.clone()));
    Ok(res)
}
