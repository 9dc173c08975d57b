//! The web console at `/`: server-rendered pages (maud, compiled into the binary) for the
//! people of the chancellery — clerks, archivists, auditors — in Kazakh, Kyrgyz, Russian and
//! English.
//!
//! A page is a view of the API, not a second API: each one is authorised with the access
//! table of the API route it shows ([`Ctx::allow`] asks [`super::gate::allowed`]) and then
//! calls that route's own handler, so that it can show exactly what the API would answer the
//! same principal, refinements included (a clerk's own documents, a case's `access`). Every
//! page passes the gate like any request: identified (a session is a bearer token the gate
//! checks anew each time, see [`session`]), counted against the principal's slots, and written
//! to the access log. Forms that change anything carry a CSRF token.

mod access;
pub mod assets;
mod audit;
mod cases;
mod documents;
pub mod i18n;
mod mine;
mod paths;
mod registry;
mod retention;
mod search;
pub mod session;

use super::gate::{self, Allowed};
use super::{ApiError, AppState, Caller};
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use i18n::{Lang, M};
use maud::{DOCTYPE, Markup, html};
use session::SessionView;
use std::sync::Arc;

/// What the console keeps while the service runs.
#[derive(Debug, Default)]
pub struct Console {
    /// Open sessions.
    pub sessions: session::Sessions,
    /// Audits started from the console, with their progress.
    pub audits: audit::Jobs,
}

/// Route prefixes of console pages (axum's matched paths); no API route begins so.
const PAGES: &[&str] = &[
    "/signin",
    "/signout",
    "/lang/",
    "/assets/",
    "/registry",
    "/cases",
    "/document",
    "/retention",
    "/audit",
];

/// Whether `route` (a matched path) is a console page: the gate admits pages to everyone,
/// and each page authorises itself by the API route it shows.
pub fn is_page(route: &str) -> bool {
    route == "/" || PAGES.iter().any(|p| route.starts_with(p))
}

/// The console's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(session::signin_form).post(session::signin))
        .route("/signout", post(session::signout))
        .route("/lang/{code}", get(session::switch_language))
        .route("/assets/{name}", get(assets::asset))
        .merge(registry::routes())
        .merge(cases::routes())
        .merge(documents::routes())
        .merge(retention::routes())
        .merge(audit::routes())
}

/// The request as a page sees it.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The language of the page.
    pub lang: Lang,
    /// Who asks, as the gate identified it.
    pub caller: Caller,
    /// The session, when there is one.
    pub session: Option<SessionView>,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// Path and query, for the language switch to come back to.
    pub here: String,
    /// A session opened for a client certificate on this request, to be set as a cookie.
    new_cookie: Option<HeaderValue>,
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anonymous);
        let mut ctx = Ctx {
            lang: Lang::from_headers(&parts.headers),
            session: parts.extensions.get::<SessionView>().cloned(),
            tls: parts.extensions.get::<session::OverTls>().is_some(),
            here: parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned(),
            new_cookie: None,
            caller,
        };
        // A session that is not the caller's (a client certificate presented over another
        // principal's cookie) is not used; a certificate's principal gets its own.
        if ctx
            .session
            .as_ref()
            .is_some_and(|s| Some(s.principal.as_str()) != ctx.caller.name())
        {
            ctx.session = None;
        }
        // Only a caller known by its client certificate: one with a bearer token signs in
        // (an API client calling pages must not open a session at every request and push
        // people's sessions out).
        let by_certificate = parts
            .extensions
            .get::<super::PeerCert>()
            .is_some_and(|p| p.0.is_some());
        if ctx.session.is_none()
            && by_certificate
            && ctx.caller.name().is_some()
            && let Some((view, cookie)) = session::for_certificate(state, &ctx)
        {
            ctx.session = Some(view);
            ctx.new_cookie = Some(cookie);
        }
        Ok(ctx)
    }
}

impl Ctx {
    /// Authorises the page as the gate authorises `method route` of the API: the same table,
    /// the same check. Without a principal, the page sends to sign-in.
    pub fn allow(&self, method: Method, route: &str) -> Result<(), Page> {
        match gate::allowed(&method, route) {
            Allowed::Public => Ok(()),
            Allowed::Roles(roles) => self.caller.require(roles).map(|_| ()).map_err(Page::from),
        }
    }

    /// Whether [`Ctx::allow`] would pass (for the links a role is shown).
    pub fn may(&self, method: Method, route: &str) -> bool {
        self.allow(method, route).is_ok()
    }

    /// The session of a state-changing form whose `csrf` field matches its token.
    pub fn checked(&self, form: &Form) -> Result<SessionView, Page> {
        match &self.session {
            Some(s) if !s.csrf.is_empty() && session::same(&s.csrf, form.get("csrf")) => {
                Ok(s.clone())
            }
            _ if self.caller.name().is_none() => Err(Page::SignIn),
            _ => Err(Page::Csrf),
        }
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> Markup {
        let token = self.session.as_ref().map_or("", |s| s.csrf.as_str());
        html! { input type="hidden" name="csrf" value=(token); }
    }

    /// A text in the page's language.
    pub fn t(&self, m: M) -> &'static str {
        m.t(self.lang)
    }
}

/// A page that could not be shown: rendered by [`session::layer`] into an HTML page with the
/// API's status, so that the access log records the decision the API would have made.
#[derive(Debug)]
pub enum Page {
    /// The API's refusal.
    Api(ApiError),
    /// No principal: go and sign in.
    SignIn,
    /// A state-changing form without its CSRF token (403).
    Csrf,
}

impl From<ApiError> for Page {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthenticated(_) => Page::SignIn,
            e => Page::Api(e),
        }
    }
}

/// Why a page failed, carried to [`session::layer`], which knows the language.
#[derive(Debug, Clone)]
pub struct Failure {
    status: StatusCode,
    title: M,
    help: Option<M>,
    detail: String,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let failure = match self {
            Page::SignIn => return Redirect::to("/signin").into_response(),
            Page::Csrf => Failure {
                status: StatusCode::FORBIDDEN,
                title: M::Forbidden,
                help: Some(M::CsrfRefused),
                detail: String::new(),
            },
            Page::Api(e) => {
                let (status, detail) = e.parts();
                let (title, help) = match status {
                    StatusCode::FORBIDDEN => (M::Forbidden, Some(M::ForbiddenHelp)),
                    StatusCode::NOT_FOUND => (M::NotFound, None),
                    _ => (M::Error, None),
                };
                Failure {
                    status,
                    title,
                    help,
                    detail,
                }
            }
        };
        let mut res = failure.status.into_response();
        res.extensions_mut().insert(failure);
        res
    }
}

/// The failure page in `lang`.
pub fn failure_page(f: &Failure, lang: Lang) -> Response {
    let ctx = Ctx {
        lang,
        caller: Caller::Anonymous,
        session: None,
        tls: false,
        here: "/".into(),
        new_cookie: None,
    };
    let body = html! {
        h1 { (f.title.t(lang)) }
        @if let Some(h) = f.help { p { (h.t(lang)) } }
        @if !f.detail.is_empty() { p.detail lang="en" { (f.detail) } }
        p { a href="/" { (M::Home.t(lang)) } }
    };
    page(&ctx, f.title.t(lang), body, f.status)
}

/// A form body (`application/x-www-form-urlencoded`), at most 64 KiB.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses urlencoded pairs.
    pub fn parse(body: &[u8]) -> Form {
        Form(super::submissions::url_pairs(&String::from_utf8_lossy(
            body,
        )))
    }

    /// Every value of `name` (a repeated field, e.g. checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`, or the empty string.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Page;

    async fn from_request(req: Request, _: &S) -> Result<Self, Page> {
        let limit = super::extract::JSON_LIMIT;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| Page::Api(super::body::unreadable(&e, limit)))?;
        Ok(Form::parse(&bytes))
    }
}

/// The links of the navigation, each shown to the roles its API route admits.
const NAV: &[(M, &str, &str, &str)] = &[
    (M::Registry, "/registry", "POST", "/v1/submissions"),
    (M::Cases, "/cases", "GET", "/v1/cases"),
    (M::RetentionPlan, "/retention", "GET", "/v1/retention/plan"),
    (M::Audit, "/audit", "GET", "/v1/checkpoint"),
    (M::Trust, "/audit/trust", "GET", "/v1/trust"),
];

/// The page's header: the service's name, the sections the caller's roles open, the four
/// languages, and who is signed in.
fn banner(ctx: &Ctx) -> Markup {
    let l = ctx.lang;
    let here = urlencode(&ctx.here);
    html! {
        header {
            a.brand href="/" { (M::Title.t(l)) }
            nav aria-label=(M::Navigation.t(l)) {
                ul {
                    @for (m, href, method, api) in NAV {
                        @if ctx.may(Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET), api) {
                            li { a href=(href) { (m.t(l)) } }
                        }
                    }
                }
            }
            nav.lang aria-label=(M::Language.t(l)) {
                ul {
                    @for other in Lang::ALL {
                        li {
                            @if other == l {
                                span aria-current="true" lang=(other.code()) { (other.name()) }
                            } @else {
                                a href={ "/lang/" (other.code()) "?back=" (here) } lang=(other.code()) hreflang=(other.code()) { (other.name()) }
                            }
                        }
                    }
                }
            }
            @if let Some(name) = ctx.caller.name() {
                form.signout method="post" action="/signout" {
                    (ctx.csrf_field())
                    span { (M::SignedInAs.t(l)) ": " strong.who { (name) } }
                    " "
                    button type="submit" { (M::SignOut.t(l)) }
                }
            }
        }
    }
}

/// A whole page: header with navigation and the language switch, then `body`.
pub fn page(ctx: &Ctx, title: &str, body: Markup, status: StatusCode) -> Response {
    let l = ctx.lang;
    let html = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon request (and no 404 in the browser's console for it).
                link rel="icon" href="data:,";
                title { (title) " — " (M::Title.t(l)) }
                link rel="stylesheet" href=(assets::CSS_PATH);
                script src=(assets::JS_PATH) defer {}
            }
            body {
                a.skip href="#main" { (M::Skip.t(l)) }
                (banner(ctx))
                main #main { (body) }
            }
        }
    };
    let mut res = (status, html.into_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(c) = &ctx.new_cookie {
        h.append(header::SET_COOKIE, c.clone());
    }
    res
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /`: the principal's start page, or the way to sign in.
async fn home(ctx: Ctx) -> Result<Response, Page> {
    let Caller::Principal { name, role } = &ctx.caller else {
        return Err(Page::SignIn);
    };
    let l = ctx.lang;
    let body = html! {
        h1 { (M::Home.t(l)) }
        p { (M::SignedInAs.t(l)) ": " strong { (name) } " · " (M::Role.t(l)) ": " (super::auth::role_name(*role)) }
        ul.cards {
            @for (m, href, method, api) in NAV {
                @if ctx.may(Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET), api) {
                    li { a href=(href) { (m.t(l)) } }
                }
            }
        }
    };
    Ok(page(&ctx, M::Home.t(l), body, StatusCode::OK))
}

/// The JSON body of an API handler's answer, for a page to render.
pub fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// A field of a JSON value, or null.
pub fn at<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v.get(key).unwrap_or(&serde_json::Value::Null)
}

/// A string field of a JSON value, or "".
pub fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(|x| x.as_str()).unwrap_or("")
}
