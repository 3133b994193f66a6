//! Connecting a project's own Stripe account (our model; the original onboards Connect accounts
//! under its platform account, see docs/compat.md): `POST /internal/payments/setup` with the
//! secret key and webhook signing secret stores both sealed, after Stripe accepted the key;
//! `GET /internal/payments/stripe/account-info` reports the account.

use super::Stripe;
use crate::auth::context::{ApiState, RequestCtx, ADMIN};
use crate::http::extract::{parse_value, schema_problem, RawBody};
use crate::http::known::{known, KnownCode};
use crate::http::{json_ok, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::store::{flag, now_ms};
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/payments/setup", post(setup))
        .api_route("/internal/payments/stripe/account-info", get(account_info))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Setup {
    stripe_secret_key: Option<String>,
    stripe_webhook_secret: Option<String>,
    stripe_publishable_key: Option<String>,
}

/// The keys a project connects with. The publishable key (`pk_…`, public by design) lets the
/// checkout page collect cards with Stripe.js.
pub struct Keys<'a> {
    pub secret_key: &'a str,
    pub webhook_secret: &'a str,
    pub publishable_key: Option<&'a str>,
}

/// What Stripe says about the account behind a key.
struct Account {
    id: String,
    charges_enabled: bool,
    details_submitted: bool,
    payouts_enabled: bool,
}

fn account_json(a: &Account) -> Value {
    json!({
        "account_id": a.id,
        "charges_enabled": a.charges_enabled,
        "details_submitted": a.details_submitted,
        "payouts_enabled": a.payouts_enabled,
    })
}

/// Asks Stripe for the key's account (`GET /v1/account`). A Stripe without that endpoint (the
/// localstripe fake) proves the key with `GET /v1/balance` and reports an account of its own.
async fn account_of(stripe: &Stripe) -> ApiResult<Account> {
    if let Some(a) = stripe.find("account").await? {
        return Ok(Account {
            id: a["id"].as_str().unwrap_or_default().to_owned(),
            charges_enabled: a["charges_enabled"] == true,
            details_submitted: a["details_submitted"] == true,
            payouts_enabled: a["payouts_enabled"] == true,
        });
    }
    let balance = stripe.get("balance").await?;
    Ok(Account {
        id: "acct_default".to_owned(),
        charges_enabled: true,
        details_submitted: true,
        payouts_enabled: balance["object"] == "balance",
    })
}

/// The dashboard page where an admin enters the keys.
fn settings_url(state: &Kernel, project_id: &str) -> String {
    format!(
        "{}/dashboard/projects/{project_id}/payments",
        state.public_url.trim_end_matches('/')
    )
}

/// `200 {"url"}` (the dashboard's Stripe settings, the original's shape) for an empty body; with
/// `stripe_secret_key` (`sk_…` or `rk_…`) and `stripe_webhook_secret` (`whsec_…`), and
/// optionally `stripe_publishable_key` (`pk_…`, for the checkout page), connects the
/// account and answers `200 {"url", "account_id", "charges_enabled", "details_submitted",
/// "payouts_enabled"}`. Errors: SCHEMA_ERROR for malformed keys, 400 when Stripe refuses the key,
/// 502 when Stripe cannot be reached.
async fn setup(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let body: Setup = if body.is_null() {
        Setup::default()
    } else {
        parse_value(body, "body")?
    };
    let url = settings_url(&state, auth.pid());
    let (secret_key, webhook_secret) = match (body.stripe_secret_key, body.stripe_webhook_secret) {
        (None, None) => return Ok(json_ok(json!({ "url": url }))),
        (Some(k), Some(w)) => (k, w),
        _ => {
            return Err(schema_problem(
                "body.stripe_secret_key and body.stripe_webhook_secret go together",
            ))
        }
    };
    let keys = Keys {
        secret_key: &secret_key,
        webhook_secret: &webhook_secret,
        publishable_key: body.stripe_publishable_key.as_deref(),
    };
    connect(&state, auth.pid(), &keys).await.map(|mut info| {
        info["url"] = json!(url);
        json_ok(info)
    })
}

/// Checks the keys with Stripe and stores them sealed for the project; returns the account
/// info. Shared by the API and the dashboard. Errors: as [`setup`].
pub async fn connect(state: &Kernel, project_id: &str, keys: &Keys<'_>) -> ApiResult<Value> {
    let secret_key = keys.secret_key.trim();
    let webhook_secret = keys.webhook_secret.trim();
    let publishable_key = keys
        .publishable_key
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if publishable_key.is_some_and(|k| {
        !k.starts_with("pk_")
            || k.len() < 8
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }) {
        return Err(schema_problem(
            "body.stripe_publishable_key must be a Stripe publishable key (pk_…)",
        ));
    }
    if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) || secret_key.len() < 8 {
        return Err(schema_problem(
            "body.stripe_secret_key must be a Stripe secret key (sk_…) or restricted key (rk_…)",
        ));
    }
    if !webhook_secret.starts_with("whsec_") || webhook_secret.len() < 10 {
        return Err(schema_problem(
            "body.stripe_webhook_secret must be a webhook signing secret (whsec_…)",
        ));
    }
    let account = account_of(&Stripe::new(secret_key.to_owned())).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO stripe_accounts (project_id, account_id, secret_key_sealed, webhook_secret_sealed,
            charges_enabled, details_submitted, payouts_enabled, created_at, updated_at, publishable_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
         ON CONFLICT (project_id) DO UPDATE SET account_id = excluded.account_id,
            publishable_key = COALESCE(excluded.publishable_key, stripe_accounts.publishable_key),
            secret_key_sealed = excluded.secret_key_sealed, webhook_secret_sealed = excluded.webhook_secret_sealed,
            charges_enabled = excluded.charges_enabled, details_submitted = excluded.details_submitted,
            payouts_enabled = excluded.payouts_enabled, updated_at = excluded.updated_at",
    )
    .bind(project_id)
    .bind(&account.id)
    .bind(state.secret_box.seal(secret_key).map_err(ApiError::Internal)?)
    .bind(state.secret_box.seal(webhook_secret).map_err(ApiError::Internal)?)
    .bind(flag(account.charges_enabled))
    .bind(flag(account.details_submitted))
    .bind(flag(account.payouts_enabled))
    .bind(now)
    .bind(publishable_key)
    .execute(state.db())
    .await?;
    Ok(account_json(&account))
}

/// One sealed column of the project's Stripe connection, opened; None before it connects.
async fn opened(state: &Kernel, project_id: &str, column: &str) -> ApiResult<Option<String>> {
    let sealed: Option<String> = sqlx::query_scalar(&format!(
        "SELECT {column} FROM stripe_accounts WHERE project_id = $1"
    ))
    .bind(project_id)
    .fetch_optional(state.db())
    .await?;
    sealed
        .map(|s| state.secret_box.open(&s).map_err(ApiError::Internal))
        .transpose()
}

/// A connected project's Stripe API access, or None.
pub async fn stripe_for(state: &Kernel, project_id: &str) -> ApiResult<Option<Stripe>> {
    Ok(opened(state, project_id, "secret_key_sealed")
        .await?
        .map(Stripe::new))
}

/// The original's refusal when a project has not set up payments.
pub const NOT_SET_UP: &str = "Payments are not set up in this Stack Auth project. Please go to the Stack Auth dashboard and complete the Payments onboarding.";

/// A connected project's Stripe API access. Errors: text 400 [`NOT_SET_UP`] before it connects.
pub async fn connected(state: &Kernel, project_id: &str) -> ApiResult<Stripe> {
    stripe_for(state, project_id)
        .await?
        .ok_or_else(|| ApiError::bad_request(NOT_SET_UP))
}

/// What the dashboard shows of a connection (never the secrets).
pub struct Connection {
    pub account_id: String,
    pub charges_enabled: bool,
    pub publishable_key: Option<String>,
    /// When the keys were last set (ms).
    pub updated_at: i64,
}

/// The project's Stripe connection, if any.
pub async fn connection(state: &Kernel, project_id: &str) -> ApiResult<Option<Connection>> {
    let row = sqlx::query(
        "SELECT account_id, charges_enabled, publishable_key, updated_at FROM stripe_accounts WHERE project_id = $1",
    )
    .bind(project_id)
    .fetch_optional(state.db())
    .await?;
    Ok(row
        .map(|r| -> sqlx::Result<Connection> {
            Ok(Connection {
                account_id: r.try_get("account_id")?,
                charges_enabled: r.try_get::<i64, _>("charges_enabled")? != 0,
                publishable_key: r.try_get("publishable_key")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()?)
}

/// A connected project's webhook signing secret, or None.
pub async fn webhook_secret(state: &Kernel, project_id: &str) -> ApiResult<Option<String>> {
    opened(state, project_id, "webhook_secret_sealed").await
}

/// `200 {"account_id", "charges_enabled", "details_submitted", "payouts_enabled"}` as stored at
/// connection. Errors: STRIPE_ACCOUNT_INFO_NOT_FOUND (404) before the project connects Stripe.
async fn account_info(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let row = sqlx::query(
        "SELECT account_id, charges_enabled, details_submitted, payouts_enabled FROM stripe_accounts WHERE project_id = $1",
    )
    .bind(auth.pid())
    .fetch_optional(state.db())
    .await?
    .ok_or_else(|| {
        known(
            KnownCode::StripeAccountInfoNotFound,
            "Stripe account information not found. Please make sure the user has onboarded with Stripe.",
            None,
        )
    })?;
    let on = |c: &str| -> ApiResult<bool> { Ok(row.try_get::<i64, _>(c)? != 0) };
    Ok(json_ok(account_json(&Account {
        id: row.try_get("account_id")?,
        charges_enabled: on("charges_enabled")?,
        details_submitted: on("details_submitted")?,
        payouts_enabled: on("payouts_enabled")?,
    })))
}
