//! Self-service billing (the original's `payments/billing` and `payments/payment-method/*`):
//! what the customer pays with and for, and changing the card in place, with Stripe.js on the
//! app's own page (a SetupIntent confirmed there, then made the default).
//!
//! Clients act only for themselves or teams they administer (`Clients can only manage their own
//! billing.`), as in the original.

use super::checkout::{known_stripe_customer, stripe_customer, CustomerRef};
use super::connect::{connected, stripe_for};
use super::invoices::SUSPEND_AFTER_FAILURES;
use super::Stripe;
use crate::auth::context::{ApiState, Auth, RequestCtx, ANY};
use crate::http::extract::schema_problem;
use crate::http::{json_ok, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::payments::customers;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
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
        .api_route(
            "/payments/billing/{customer_type}/{customer_id}",
            get(billing),
        )
        .api_route(
            "/payments/payment-method/{customer_type}/{customer_id}/setup-intent",
            post(setup_intent),
        )
        .api_route(
            "/payments/payment-method/{customer_type}/{customer_id}/set-default",
            post(set_default),
        )
}

/// The access check every billing route makes first. Errors: SCHEMA_ERROR for a customer type
/// other than user or team; the client refusals; the customer's not-found errors.
async fn customer<'a>(
    state: &Kernel,
    auth: &'a Auth,
    customer_type: &'a str,
    customer_id: &'a str,
) -> ApiResult<CustomerRef<'a>> {
    if customer_type != "user" && customer_type != "team" {
        return Err(schema_problem(
            "params.customer_type must be one of: user, team",
        ));
    }
    customers::check_client_access(
        state,
        auth,
        customer_type,
        customer_id,
        "Clients can only manage their own billing.",
    )
    .await?;
    customers::ensure_exists(state, auth.pid(), customer_type, customer_id).await?;
    Ok(CustomerRef {
        project_id: auth.pid(),
        customer_type,
        customer_id,
    })
}

/// `{id, brand, last4, exp_month, exp_year}` of a card payment method.
fn card_summary(method: &Value) -> Value {
    let card = &method["card"];
    json!({
        "id": method["id"],
        "brand": card["brand"],
        "last4": card["last4"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
    })
}

/// The card invoices are charged to: the customer's invoice default, else their first card.
async fn default_card(stripe: &Stripe, stripe_customer: &str) -> ApiResult<Value> {
    let customer = stripe.get(&format!("customers/{stripe_customer}")).await?;
    let default = &customer["invoice_settings"]["default_payment_method"];
    let id = default.as_str().or_else(|| default["id"].as_str());
    if let Some(id) = id {
        if let Some(method) = stripe.find(&format!("payment_methods/{id}")).await? {
            return Ok(card_summary(&method));
        }
    }
    let cards = stripe
        .get(&format!(
            "payment_methods?customer={stripe_customer}&type=card&limit=1"
        ))
        .await?;
    Ok(cards["data"]
        .get(0)
        .map(card_summary)
        .unwrap_or(Value::Null))
}

/// The customer's live Stripe subscriptions: `[{subscription_id, product_id, status, suspended,
/// failed_payments, current_period_end_millis, cancel_at_period_end}]`, oldest first.
pub async fn stripe_subscriptions(state: &Kernel, c: &CustomerRef<'_>) -> ApiResult<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT p.id, p.product_id, p.status, p.failed_payments, p.current_period_end, p.cancel_at_period_end
         FROM purchases p JOIN stripe_checkouts s ON s.project_id = p.project_id AND s.purchase_id = p.id
         WHERE p.project_id = $1 AND p.customer_type = $2 AND p.customer_id = $3 AND p.kind = 'subscription'
           AND (p.ended_at IS NULL OR p.ended_at > $4)
         ORDER BY p.created_at",
    )
    .bind(c.project_id)
    .bind(c.customer_type)
    .bind(c.customer_id)
    .bind(crate::store::now_ms())
    .fetch_all(state.db())
    .await?;
    let subscriptions: Vec<Value> = rows
        .iter()
        .map(|r| {
            let failed: i64 = r.try_get("failed_payments")?;
            Ok(json!({
                "subscription_id": r.try_get::<String, _>("id")?,
                "product_id": r.try_get::<Option<String>, _>("product_id")?,
                "status": r.try_get::<String, _>("status")?,
                "suspended": failed >= SUSPEND_AFTER_FAILURES,
                "failed_payments": failed,
                "current_period_end_millis": r.try_get::<Option<i64>, _>("current_period_end")?,
                "cancel_at_period_end": r.try_get::<i64, _>("cancel_at_period_end")? != 0,
            }))
        })
        .collect::<sqlx::Result<Vec<Value>>>()?;
    Ok(subscriptions)
}

/// The customer's default card (`{id, brand, last4, exp_month, exp_year}`, or null without one),
/// or None when Stripe is not connected or does not know the customer yet.
/// Errors: 502 from Stripe.
pub async fn default_card_of(state: &Kernel, c: &CustomerRef<'_>) -> ApiResult<Option<Value>> {
    let stripe = stripe_for(state, c.project_id).await?;
    let known = known_stripe_customer(state, c).await?;
    match (stripe, known) {
        (Some(stripe), Some(sc)) => Ok(Some(default_card(&stripe, &sc).await?)),
        _ => Ok(None),
    }
}

/// `GET payments/billing/{customer_type}/{customer_id}`: `{has_customer, default_payment_method:
/// {id, brand, last4, exp_month, exp_year} | null}` as in the original, and (ours) the
/// customer's Stripe subscriptions: `subscriptions: [{subscription_id, product_id, status,
/// suspended, failed_payments, current_period_end_millis, cancel_at_period_end}]`, where the
/// period end is the next renewal, or the end date when a cancel is scheduled.
async fn billing(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let c = customer(&state, auth, &customer_type, &customer_id).await?;
    let subscriptions = stripe_subscriptions(&state, &c).await?;
    let (has_customer, card) = match default_card_of(&state, &c).await? {
        Some(card) => (true, card),
        None => (false, Value::Null),
    };
    Ok(json_ok(json!({
        "has_customer": has_customer,
        "default_payment_method": card,
        "subscriptions": subscriptions,
    })))
}

/// `POST payments/payment-method/{customer_type}/{customer_id}/setup-intent` `{}`:
/// `{client_secret, stripe_account_id}` of a SetupIntent that saves a card for later payments.
/// Errors: text 400 when payments are not set up; 502 from Stripe.
async fn setup_intent(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    JsonBody(_): JsonBody<serde_json::Map<String, Value>>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let c = customer(&state, auth, &customer_type, &customer_id).await?;
    let client_secret = new_setup_intent(&state, &c).await?;
    let account_id: String =
        sqlx::query_scalar("SELECT account_id FROM stripe_accounts WHERE project_id = $1")
            .bind(c.project_id)
            .fetch_one(state.db())
            .await?;
    Ok(json_ok(json!({
        "client_secret": client_secret,
        "stripe_account_id": account_id,
    })))
}

/// A SetupIntent that saves a card of the customer's for later payments; answers its client
/// secret, for Stripe.js's `confirmCardSetup`. Errors: text 400 when payments are not set up;
/// 502 from Stripe.
pub async fn new_setup_intent(state: &Kernel, c: &CustomerRef<'_>) -> ApiResult<Value> {
    let stripe = connected(state, c.project_id).await?;
    let stripe_customer = stripe_customer(state, &stripe, c).await?;
    let intent = stripe
        .post(
            "setup_intents",
            &[
                ("customer", stripe_customer),
                ("usage", "off_session".to_owned()),
                ("payment_method_types[]", "card".to_owned()),
            ],
            None,
        )
        .await?;
    Ok(intent["client_secret"].clone())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetDefault {
    setup_intent_id: String,
}

/// `POST payments/payment-method/{customer_type}/{customer_id}/set-default`
/// `{setup_intent_id}`: makes the card a succeeded SetupIntent saved the customer's default
/// (the one their invoices are charged to). `{success: true, default_payment_method}`.
/// Errors (the original's): text 403 `Setup intent does not belong to this customer.`, text 400
/// `Setup intent has not succeeded.`, text 400 when payments are not set up; 502 from Stripe.
async fn set_default(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetDefault>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let c = customer(&state, auth, &customer_type, &customer_id).await?;
    let card = make_default(&state, &c, &body.setup_intent_id).await?;
    Ok(json_ok(json!({
        "success": true,
        "default_payment_method": card,
    })))
}

/// Makes the card a succeeded SetupIntent (`setup_intent_id`, `seti_…`) saved the customer's
/// default, the one their invoices are charged to; answers its summary. Errors: as
/// [`set_default`]'s.
pub async fn make_default(
    state: &Kernel,
    c: &CustomerRef<'_>,
    setup_intent_id: &str,
) -> ApiResult<Value> {
    let stripe = connected(state, c.project_id).await?;
    let stripe_customer = stripe_customer(state, &stripe, c).await?;
    let not_ours = || {
        ApiError::text(
            StatusCode::FORBIDDEN,
            "Setup intent does not belong to this customer.",
        )
    };
    let id = setup_intent_id;
    if !id.starts_with("seti_") || !id[5..].chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(not_ours());
    }
    let intent = stripe
        .find(&format!("setup_intents/{id}"))
        .await?
        .ok_or_else(not_ours)?;
    if intent["customer"].as_str() != Some(stripe_customer.as_str()) {
        return Err(not_ours());
    }
    if intent["status"] != "succeeded" {
        return Err(ApiError::bad_request("Setup intent has not succeeded."));
    }
    let method = intent["payment_method"]
        .as_str()
        .or_else(|| intent["payment_method"]["id"].as_str())
        .ok_or_else(|| ApiError::internal("Setup intent missing payment method."))?;
    stripe
        .post(
            &format!("customers/{stripe_customer}"),
            &[
                (
                    "invoice_settings[default_payment_method]",
                    method.to_owned(),
                ),
                ("metadata[default_payment_method_id]", method.to_owned()),
            ],
            None,
        )
        .await?;
    default_card(&stripe, &stripe_customer).await
}
