//! Sessions of the console: a token form opens one, kept on the server and named by a random
//! cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS; RFC 6265 §4.1.2). The session
//! keeps the principal's token in memory only and hands it to the gate as a bearer token on
//! console pages, so that the gate identifies and authorises the caller exactly as for the
//! API — a token removed from the policy ends its sessions at once. Principals with a client
//! certificate need no token: the gate recognises them by it, and their session only carries
//! the CSRF token. Every state-changing form carries the session's CSRF token; the sign-in
//! form, before any session, a double-submit cookie (OWASP CSRF cheat sheet).

use super::super::{AppState, Caller};
use super::i18n::{LANG_COOKIE, Lang, M};
use super::{Ctx, Page, page};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The session cookie.
pub const SESSION_COOKIE: &str = "tamga_session";
/// The pre-session cookie of the sign-in form.
const PRE_COOKIE: &str = "tamga_pre";
/// A session ends this long after it was opened, whatever happens.
const ABSOLUTE: i64 = 8 * 3600;
/// … and this long after its last page.
const IDLE: i64 = 30 * 60;
/// Sessions held at once; past it the one nearest its end gives way.
const MAX_SESSIONS: usize = 10_000;

/// Marks a request that arrived over TLS (set by the connection), for `Secure` cookies.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// What a page knows of its session.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// SHA-256 of the cookie, the session's key.
    key: [u8; 32],
    /// The principal who opened it.
    pub principal: String,
    /// The CSRF token of its forms.
    pub csrf: String,
}

#[derive(Debug)]
struct Session {
    token: Option<String>,
    principal: String,
    csrf: String,
    opened: i64,
    seen: i64,
    submitted: Vec<String>,
}

/// The sessions of the console, in memory: a restart signs everyone out.
#[derive(Debug, Default)]
pub struct Sessions {
    held: Mutex<HashMap<[u8; 32], Session>>,
}

fn lock(
    m: &Mutex<HashMap<[u8; 32], Session>>,
) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 32 random bytes, hex: unguessable names for sessions and CSRF tokens.
pub fn random_hex() -> String {
    let mut b = [0u8; 32];
    // The system generator failing leaves zeros: refuse rather than hand out a known name.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        return String::new();
    }
    crate::verify::certificate::hex(&b)
}

fn key_of(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// Equal strings, compared in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Opens a session; answers the cookie value.
    fn open(&self, principal: &str, token: Option<String>, now: i64) -> Option<String> {
        let cookie = random_hex();
        let csrf = random_hex();
        if cookie.is_empty() || csrf.is_empty() {
            return None;
        }
        let mut held = lock(&self.held);
        held.retain(|_, s| alive(s, now));
        if held.len() >= MAX_SESSIONS {
            let oldest = held.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k);
            oldest.map(|k| held.remove(&k));
        }
        let session = Session {
            token,
            principal: principal.to_owned(),
            csrf,
            opened: now,
            seen: now,
            submitted: Vec::new(),
        };
        held.insert(key_of(&cookie), session);
        Some(cookie)
    }

    /// The live session of `cookie`, touched; an expired one is dropped.
    fn find(&self, cookie: &str, now: i64) -> Option<(SessionView, Option<String>)> {
        let key = key_of(cookie);
        let mut held = lock(&self.held);
        let s = held.get_mut(&key)?;
        if !alive(s, now) {
            held.remove(&key);
            return None;
        }
        s.seen = now;
        let view = SessionView {
            key,
            principal: s.principal.clone(),
            csrf: s.csrf.clone(),
        };
        Some((view, s.token.clone()))
    }

    fn close(&self, key: &[u8; 32]) {
        lock(&self.held).remove(key);
    }

    /// Remembers a receipt submitted in this session (the last 50).
    pub fn remember(&self, view: &SessionView, receipt: &str) {
        if let Some(s) = lock(&self.held).get_mut(&view.key) {
            s.submitted.retain(|r| r != receipt);
            s.submitted.insert(0, receipt.to_owned());
            s.submitted.truncate(50);
        }
    }

    /// The receipts submitted in this session, newest first.
    pub fn submitted(&self, view: &SessionView) -> Vec<String> {
        lock(&self.held)
            .get(&view.key)
            .map(|s| s.submitted.clone())
            .unwrap_or_default()
    }
}

fn alive(s: &Session, now: i64) -> bool {
    now < s.opened.saturating_add(ABSOLUTE) && now < s.seen.saturating_add(IDLE)
}

/// The value of cookie `name` (RFC 6265 §5.4: `a=b; c=d`), if sent once or more (first wins).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then_some(v.trim())
        })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure over TLS.
pub fn set_cookie(name: &str, value: &str, max_age: i64, tls: bool) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The middleware before the gate: on console pages, a live session's token becomes the
/// request's bearer token (unless the request brings its own credentials), and the session
/// is handed to the page. API routes never see the cookie: it is no credential there.
pub async fn layer(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let page = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| super::is_page(p.as_str()));
    if page
        && let Some(c) = cookie(req.headers(), SESSION_COOKIE)
        && let Some((view, token)) = state.console.sessions.find(c, crate::clock::now())
    {
        if let Some(t) = token
            && !req.headers().contains_key(header::AUTHORIZATION)
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
        {
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
        req.extensions_mut().insert(view);
    }
    let lang = Lang::from_headers(req.headers());
    let res = next.run(req).await;
    match res.extensions().get::<super::Failure>() {
        Some(f) => super::failure_page(f, lang),
        None => res,
    }
}

/// `GET /signin`: the token form, with a fresh double-submit value.
pub async fn signin_form(ctx: Ctx) -> Response {
    signin_page(&ctx, StatusCode::OK, None)
}

fn signin_page(ctx: &Ctx, status: StatusCode, error: Option<M>) -> Response {
    let pre = random_hex();
    let l = ctx.lang;
    let body = html! {
        h1 { (M::SignIn.t(l)) }
        @if let Some(e) = error { p.error role="alert" { (e.t(l)) } }
        p { (M::SignInHelp.t(l)) }
        form method="post" action="/signin" {
            input type="hidden" name="csrf" value=(pre);
            label for="token" { (M::Token.t(l)) }
            input #token type="password" name="token" autocomplete="current-password" required;
            button type="submit" { (M::SignIn.t(l)) }
        }
    };
    let mut res = page(ctx, M::SignIn.t(l), body, status);
    if let Some(v) = set_cookie(PRE_COOKIE, &pre, 3600, ctx.tls) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `POST /signin` (`csrf`, `token`): opens a session for the token's principal.
pub async fn signin(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    headers: HeaderMap,
    form: super::Form,
) -> Result<Response, Page> {
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or("");
    if pre.is_empty() || !same(pre, form.get("csrf")) {
        return Err(Page::Csrf);
    }
    let token = form.get("token").trim().to_owned();
    let mut bearer = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        bearer.insert(header::AUTHORIZATION, v);
    }
    let Caller::Principal { name, .. } = Caller::identify(&state.ingest.policy, &bearer, None)
    else {
        return Ok(signin_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            Some(M::BadToken),
        ));
    };
    let cookie = state
        .console
        .sessions
        .open(&name, Some(token), crate::clock::now())
        .ok_or(Page::Api(super::super::ApiError::Unavailable(
            "No session could be opened; retry.".into(),
        )))?;
    let mut res = Redirect::to("/").into_response();
    if let Some(v) = set_cookie(SESSION_COOKIE, &cookie, ABSOLUTE, ctx.tls) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(v) = set_cookie(PRE_COOKIE, "", 0, ctx.tls) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Opens a session for a principal the gate recognised by its client certificate, so that
/// its forms have a CSRF token: answers the session and the cookie to set.
pub fn for_certificate(state: &AppState, ctx: &Ctx) -> Option<(SessionView, HeaderValue)> {
    let name = ctx.caller.name()?;
    let now = crate::clock::now();
    let c = state.console.sessions.open(name, None, now)?;
    let (view, _) = state.console.sessions.find(&c, now)?;
    Some((view, set_cookie(SESSION_COOKIE, &c, ABSOLUTE, ctx.tls)?))
}

/// `POST /signout` (`csrf`): ends the session.
pub async fn signout(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    form: super::Form,
) -> Result<Response, Page> {
    let view = ctx.checked(&form)?;
    state.console.sessions.close(&view.key);
    let mut res = Redirect::to("/signin").into_response();
    if let Some(v) = set_cookie(SESSION_COOKIE, "", 0, ctx.tls) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `GET /lang/{code}?back=`: remembers the language and goes back (only to a local path).
pub async fn switch_language(
    ctx: Ctx,
    axum::extract::Path(code): axum::extract::Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(ctx.lang);
    let form = super::Form::parse(q.unwrap_or_default().as_bytes());
    let back = form.get("back");
    let local = local_path(back);
    let mut res = Redirect::to(if local { back } else { "/" }).into_response();
    if let Some(v) = set_cookie(LANG_COOKIE, lang.code(), 365 * 86400, ctx.tls) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Whether `back` is a path of this site: `//host` or `/\host` would leave it (an open
/// redirect), and so would either after a browser drops the tabs, newlines and other control
/// characters it ignores in URLs (`/<tab>/host`), so none of those, no backslash and no
/// space is taken at all.
fn local_path(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && !back
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_gone_back_to() {
        for ok in ["/", "/cases/01-05?page=2", "/documents/01-05%2F1"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r//evil.example",
            "/ /evil.example",
            "https://evil.example",
            "evil.example",
            "",
        ] {
            assert!(!local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let s = Sessions::default();
        let c = s.open("p", Some("t".into()), 1000).unwrap();
        assert!(s.find(&c, 1000 + IDLE - 1).is_some());
        assert!(
            s.find(&c, 1000 + 2 * IDLE - 2).is_some(),
            "a page touches it"
        );
        assert!(s.find(&c, 1000 + 3 * IDLE).is_none(), "idle too long");
        let c = s.open("p", None, 0).unwrap();
        let mut t = 0;
        while t + IDLE / 2 < ABSOLUTE {
            t += IDLE / 2;
            assert!(s.find(&c, t).is_some());
        }
        assert!(s.find(&c, ABSOLUTE).is_none(), "absolute limit");
        assert!(s.find("nonsense", 0).is_none());
    }

    #[test]
    fn cookies_are_read_and_made_strict() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; tamga_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        let v = set_cookie("a", "b", 5, true).unwrap();
        let v = v.to_str().unwrap();
        assert!(v.contains("HttpOnly") && v.contains("SameSite=Strict") && v.contains("Secure"));
        let plain = set_cookie("a", "b", 5, false).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
