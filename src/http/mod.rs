//! The HTTP edge shared by every capability: known errors, strict body/query parsing, and the
//! response headers every API answer carries. Names no capability (the request context built
//! from the `x-stack-*` headers belongs to `auth::context`).

pub mod access;
pub mod error;
pub mod extract;
pub mod known;
pub mod metrics;
pub mod openapi;
pub mod url;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use access::AccessType;
pub use error::{ApiError, ApiResult};
pub use extract::{Body as JsonBody, Query};

/// The original's list, plus the `x-hexclave-*` spellings the current published SDK sends.
const ALLOW_HEADERS: &str = "content-type, authorization, x-stack-project-id, x-stack-branch-id, x-stack-override-error-status, x-stack-random-nonce, x-stack-client-version, x-stack-disable-artificial-development-delay, x-stack-access-type, x-stack-publishable-client-key, x-stack-secret-server-key, x-stack-super-secret-admin-key, x-stack-admin-access-token, x-stack-refresh-token, x-stack-access-token, x-stack-allow-anonymous-user, x-stack-development-override-key, baggage, sentry-trace, x-vercel-protection-bypass, ngrok-skip-browser-warning, x-hexclave-project-id, x-hexclave-branch-id, x-hexclave-override-error-status, x-hexclave-random-nonce, x-hexclave-client-version, x-hexclave-access-type, x-hexclave-publishable-client-key, x-hexclave-secret-server-key, x-hexclave-super-secret-admin-key, x-hexclave-admin-access-token, x-hexclave-refresh-token, x-hexclave-access-token, x-hexclave-allow-anonymous-user";

tokio::task_local! {
    /// "METHOD /path" of the request being handled, for schema-error messages.
    pub static REQUEST_LINE: String;
}

/// Wraps every `/api/*` request: answers CORS preflights, remembers the request line for
/// validation messages, and applies the original's response headers and status override.
pub async fn api_layer(mut req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::OK.into_response();
        cors_headers(&mut res);
        return res;
    }
    alias_hexclave_headers(req.headers_mut());
    let override_status = req.headers().contains_key("x-stack-override-error-status");
    let request_id = req
        .extensions()
        .get::<metrics::RequestId>()
        .map_or_else(|| crate::crypto::secret::random_base32(16), |r| r.0.clone());
    // Nested routers see a stripped path; messages name the path the client sent.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let line = format!("{} {path}", req.method());
    let mut res = REQUEST_LINE
        .scope(line, async move {
            match extract::nul_in_uri(req.uri()) {
                Some(field) => {
                    extract::schema_problem(format!("{field} must not contain NUL characters"))
                        .into_response()
                }
                None => next.run(req).await,
            }
        })
        .await;
    cors_headers(&mut res);
    let h = res.headers_mut();
    h.insert(
        "x-stack-request-id",
        HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("unknown")),
    );
    h.entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store, max-age=0"));
    if override_status && res.status().is_client_error() {
        let actual = res.status().as_u16().to_string();
        *res.status_mut() = StatusCode::OK;
        if let Ok(v) = HeaderValue::from_str(&actual) {
            res.headers_mut().insert("x-stack-actual-status", v);
        }
    }
    res
}

/// The published SDK (renamed Hexclave) sends `x-hexclave-*`; the original's name is `x-stack-*`.
/// Both mean the same; an explicit `x-stack-*` header wins.
fn alias_hexclave_headers(headers: &mut axum::http::HeaderMap) {
    let aliases: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter_map(|(name, value)| {
            let rest = name.as_str().strip_prefix("x-hexclave-")?;
            let alias = HeaderName::from_bytes(format!("x-stack-{rest}").as_bytes()).ok()?;
            (!headers.contains_key(&alias)).then(|| (alias, value.clone()))
        })
        .collect();
    for (name, value) in aliases {
        headers.append(name, value);
    }
}

fn cors_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("content-type, x-stack-actual-status, x-stack-known-error"),
    );
    h.insert("vary", HeaderValue::from_static(ALLOW_HEADERS));
}

/// Site-wide security headers on every response.
pub async fn site_headers(req: Request, next: Next) -> Response {
    // Text columns cannot hold NUL on PostgreSQL: refuse it at the edge, alike on both databases.
    let mut res = match extract::nul_in_uri(req.uri()) {
        Some(field) if !req.uri().path().starts_with("/api/") => (
            StatusCode::BAD_REQUEST,
            format!("The {field} must not contain NUL characters."),
        )
            .into_response(),
        _ => next.run(req).await,
    };
    let h = res.headers_mut();
    for (name, value) in [
        ("cross-origin-opener-policy", "same-origin"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
    ] {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    res
}

/// The client's IP address as text: the configured proxy header's last entry (the one the proxy
/// added), else the connection's peer address; `unknown` when neither is available.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The client's country (ISO 3166-1 alpha-2, upper case) as the trusted proxy's configured
/// header says (`PORTCULLIS_COUNTRY_HEADER`, e.g. Cloudflare's `cf-ipcountry`); `None` without
/// that header or with a value that is not two letters.
#[derive(Debug, Clone, Default)]
pub struct ClientCountry(pub Option<String>);

/// The headers a trusted proxy sets: `PORTCULLIS_CLIENT_IP_HEADER`, `PORTCULLIS_COUNTRY_HEADER`.
#[derive(Debug, Clone, Default)]
pub struct ProxyHeaders {
    pub ip: Option<HeaderName>,
    pub country: Option<HeaderName>,
}

/// Puts the request's [`ClientIp`] and [`ClientCountry`] into its extensions.
pub async fn client_ip_layer(
    axum::extract::State(headers): axum::extract::State<ProxyHeaders>,
    mut req: Request,
    next: Next,
) -> Response {
    let from_header = headers.ip.and_then(|h| {
        let value = req.headers().get(h)?.to_str().ok()?;
        let last = value.rsplit(',').next()?.trim();
        (!last.is_empty()).then(|| last.to_string())
    });
    let ip = from_header.or_else(|| {
        req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    });
    let country = headers
        .country
        .and_then(|h| country_code(req.headers().get(h)?.to_str().ok()?));
    req.extensions_mut()
        .insert(ip.map(ClientIp).unwrap_or_default());
    req.extensions_mut().insert(ClientCountry(country));
    next.run(req).await
}

/// `" us "` → `"US"`; anything but two ASCII letters → `None` (ISO 3166-1 alpha-2 in form only).
pub fn country_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

impl Default for ClientIp {
    fn default() -> Self {
        ClientIp("unknown".into())
    }
}

/// What [`client_ip_layer`] put into the request's extensions (the default outside it).
fn from_extensions<T: Clone + Default + Send + Sync + 'static>(
    parts: &axum::http::request::Parts,
) -> T {
    parts.extensions.get::<T>().cloned().unwrap_or_default()
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientCountry {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(from_extensions(parts))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(from_extensions(parts))
    }
}

/// Any unknown path: under `/api` (e.g. `/api/v1/` with its trailing slash) the API's plain-text
/// 404, elsewhere a short one.
pub async fn not_found(req: Request<Body>) -> Response {
    if req.uri().path().starts_with("/api/") {
        return api_not_found(req).await;
    }
    (
        StatusCode::NOT_FOUND,
        [("content-type", "text/plain; charset=utf-8")],
        "Not found",
    )
        .into_response()
}

/// Unknown path under `/api`: a plain-text 404, as the original answers.
pub async fn api_not_found(req: Request<Body>) -> Response {
    let url = req.uri().to_string();
    (
        StatusCode::NOT_FOUND,
        [("content-type", "text/plain; charset=utf-8")],
        format!("404 — this page does not exist in Stack Auth's API.\n\nPlease see the API documentation at https://docs.stack-auth.com, or visit the Stack Auth dashboard at https://app.stack-auth.com.\n\nURL: {url}"),
    )
        .into_response()
}

pub fn json_ok(value: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

pub fn json_created(value: serde_json::Value) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

pub fn success() -> Response {
    json_ok(serde_json::json!({ "success": true }))
}

/// `GET /health`: the process answers; with `?db=1`, the database answers too.
pub async fn health(
    axum::extract::State(k): axum::extract::State<crate::kernel::Kernel>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let wants_db = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("db=") && p.len() > 3));
    if wants_db && sqlx::query("SELECT 1").execute(k.db()).await.is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database unavailable").into_response();
    }
    let mut res = json_ok(serde_json::json!({ "status": "ok" }));
    for h in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    ] {
        res.headers_mut().insert(h, HeaderValue::from_static("*"));
    }
    res
}
