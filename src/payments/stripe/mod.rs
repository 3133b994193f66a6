//! Payments on a project's own Stripe account: connecting it (`connect`), paid checkout
//! (`checkout`) and the signed webhooks that confirm payments (`webhooks`), over a small client
//! for Stripe's form-encoded REST API (<https://docs.stripe.com/api>). The API base URL is
//! `PORTCULLIS_STRIPE_API_BASE` (default Stripe's), so tests run against localstripe.

pub mod checkout;
pub mod connect;
pub mod invoices;
pub mod notices;
pub mod payment_methods;
pub mod refunds;
pub mod subscriptions;
pub mod webhooks;

use crate::http::{ApiError, ApiResult};
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// Stripe's API, unless `PORTCULLIS_STRIPE_API_BASE` points elsewhere (a fake in tests).
pub fn api_base() -> String {
    std::env::var("PORTCULLIS_STRIPE_API_BASE")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "https://api.stripe.com".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Where pages load Stripe.js from: `PORTCULLIS_STRIPE_JS_URL`, else the fake's copy beside a
/// fake API (`PORTCULLIS_STRIPE_API_BASE` + `/js.stripe.com/v3/`, as localstripe serves it),
/// else Stripe's.
pub fn js_url() -> String {
    if let Some(url) = std::env::var("PORTCULLIS_STRIPE_JS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return url;
    }
    match std::env::var("PORTCULLIS_STRIPE_API_BASE") {
        Ok(base) if !base.is_empty() => format!("{}/js.stripe.com/v3/", api_base()),
        _ => "https://js.stripe.com/v3/".to_owned(),
    }
}

/// The scheme, host and port of a URL (`https://js.stripe.com`), for a page's CSP.
pub fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    url[..end].to_owned()
}

fn http() -> ApiResult<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let client = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// A project's Stripe API access: its secret key (never logged).
pub struct Stripe {
    secret_key: String,
}

/// Form parameters in Stripe's bracket notation (`metadata[project_id]`).
pub type Params<'a> = Vec<(&'a str, String)>;

impl Stripe {
    pub fn new(secret_key: String) -> Stripe {
        Stripe { secret_key }
    }

    /// `GET /v1/<path>`. Errors: see [`Stripe::send`].
    pub async fn get(&self, path: &str) -> ApiResult<Value> {
        self.send(reqwest::Method::GET, path, &[], None).await
    }

    /// `GET /v1/<path>`, or None when Stripe has no such object (404).
    pub async fn find(&self, path: &str) -> ApiResult<Option<Value>> {
        match self.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::Text(StatusCode::NOT_FOUND, _)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/<path>` with form `params`; `idempotency_key` makes a retried create return
    /// the first one's object (Stripe keeps keys 24 h: <https://docs.stripe.com/api/idempotent_requests>).
    pub async fn post(
        &self,
        path: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> ApiResult<Value> {
        self.send(reqwest::Method::POST, path, params, idempotency_key)
            .await
    }

    /// Errors: 502 with Stripe's message when Stripe refuses (its `error.message`) or cannot be
    /// reached; 404 for a GET of an object Stripe does not have; 400 for a key Stripe does not
    /// accept (401 from Stripe).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> ApiResult<Value> {
        let url = format!("{}/v1/{path}", api_base());
        let mut request = http()?
            .request(method.clone(), &url)
            .bearer_auth(&self.secret_key);
        if method == reqwest::Method::POST {
            request = request.form(params);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e, path, "Stripe could not be reached");
            ApiError::text(StatusCode::BAD_GATEWAY, "Stripe could not be reached.")
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_owned();
        tracing::warn!(
            status = status.as_u16(),
            path,
            message,
            "Stripe refused a request"
        );
        if status == reqwest::StatusCode::NOT_FOUND && method == reqwest::Method::GET {
            return Err(ApiError::text(StatusCode::NOT_FOUND, message));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ApiError::bad_request(
                "Stripe did not accept the secret key.",
            ));
        }
        Err(ApiError::text(
            StatusCode::BAD_GATEWAY,
            format!("Stripe refused the request: {message}"),
        ))
    }
}
