//! `POST /integrations/stripe/webhooks?project_id=…`: Stripe's signed events for a project.
//!
//! The signature (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of `"{t}.{raw body}"` with the
//! project's signing secret, <https://docs.stripe.com/webhooks#verify-manually>) is checked on the
//! exact bytes received, with five minutes of tolerance on `t`; a bad one writes nothing. Each
//! event's id is recorded in the transaction of its effect, so a duplicate is a no-op and an
//! attempt that failed midway leaves no mark: Stripe's retry applies it (the seed's "dedup
//! rolled back on failure" lesson). Ids in metadata are trusted only after the Stripe customer
//! they come with is checked against our record of the customer.

use super::connect::webhook_secret;
use super::notices::{self, dollars, product_name, Notice};
use crate::auth::context::ApiState;
use crate::emails::templates::Template;
use crate::http::{json_ok, ApiError, ApiResult, Query};
use crate::kernel::Kernel;
use crate::payments::products::{grant_product, Chosen, NewPurchase};
use crate::projects::Project;
use crate::store::now_ms;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

/// How far a signature's timestamp may be from now (s): Stripe's libraries' default.
pub const TOLERANCE_SECS: i64 = 300;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new().api_route("/integrations/stripe/webhooks", post(receive))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Target {
    project_id: String,
}

pub fn refused(message: &str) -> ApiError {
    ApiError::bad_request(message.to_owned())
}

/// Checks a `Stripe-Signature` header over `payload` at `now_secs`. Any `v1` entry may match
/// (Stripe sends one per active secret while a secret is being rolled).
pub fn signature_valid(header: &str, payload: &[u8], secret: &str, now_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    if (now_secs - t).abs() > TOLERANCE_SECS {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(payload);
    signatures.iter().any(|s| {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .is_ok_and(|sig| ring::hmac::verify(&key, &signed, &sig).is_ok())
    })
}

/// `200 {"received": true}` once the event is applied (or was before). Errors: 400 for an
/// unknown project, a project without Stripe, a bad or stale signature, or an unreadable event
/// (Stripe retries none of these usefully); 400 for a payment whose Stripe customer is not the
/// one we recorded for the purchase (nothing granted); 500 when applying fails (Stripe retries).
async fn receive(
    State(state): State<ApiState>,
    Query(target): Query<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let Some(secret) = webhook_secret(&state, &target.project_id).await? else {
        return Err(refused("This project has not connected Stripe"));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !signature_valid(header, &body, &secret, now_ms() / 1000) {
        return Err(refused("The Stripe signature is missing, wrong or too old"));
    }
    let event: Value =
        serde_json::from_slice(&body).map_err(|_| refused("The event is not JSON"))?;
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Err(refused("The event has no id or type"));
    };
    let Some(project) = state.projects.get(&state, &target.project_id).await? else {
        return Err(refused("This project has not connected Stripe"));
    };
    apply(&state, &project, id, kind, &event["data"]["object"]).await?;
    Ok(json_ok(json!({ "received": true })))
}

/// Applies one event exactly once: the event's mark and its effect commit together.
async fn apply(
    state: &Kernel,
    project: &Project,
    event_id: &str,
    kind: &str,
    object: &Value,
) -> ApiResult<()> {
    let project_id = project.id.as_str();
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO stripe_events (id, project_id, type, applied_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(event_id)
    .bind(project_id)
    .bind(kind)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if fresh.rows_affected() == 0 {
        return Ok(());
    }
    match kind {
        "payment_intent.succeeded" => {
            let paid = Paid {
                payment_id: object["id"].as_str().unwrap_or_default(),
                customer: object["customer"].as_str(),
                amount: object["amount"].as_i64(),
            };
            grant_checkout(&mut tx, project, &paid).await?;
        }
        // A subscription's invoice paid (`invoice.paid` on current API versions; both it and
        // the older `invoice.payment_succeeded` are sent, localstripe sends only the latter).
        "invoice.paid" | "invoice.payment_succeeded" => {
            super::invoices::apply(&mut tx, project, object, true).await?
        }
        "invoice.payment_failed" => super::invoices::apply(&mut tx, project, object, false).await?,
        "customer.subscription.updated" | "customer.subscription.deleted" => {
            super::subscriptions::sync(&mut tx, project, object).await?
        }
        "charge.refunded" => {
            super::refunds::refunded_at_stripe(&mut tx, project_id, object).await?
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            sqlx::query(
                "UPDATE stripe_checkouts SET status = 'failed' WHERE project_id = $1 AND payment_id = $2 AND status = 'pending'",
            )
            .bind(project_id)
            .bind(object["id"].as_str().unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        // Other events are recorded (so a retry is a no-op) and have no effect yet.
        _ => {}
    }
    tx.commit().await?;
    // Whatever emails the event queued go now.
    crate::emails::wake_sender(state);
    Ok(())
}

/// What Stripe says was paid: the PaymentIntent or subscription id, its Stripe customer, and
/// the amount in cents when the event carries the whole charge.
pub struct Paid<'a> {
    pub payment_id: &'a str,
    pub customer: Option<&'a str>,
    pub amount: Option<i64>,
}

/// A checkout waiting for (or granted on) a Stripe payment.
pub struct Checkout {
    pub customer_type: String,
    pub customer_id: String,
    pub stripe_customer: String,
    /// The purchase it granted, once it has.
    pub purchase_id: Option<String>,
    product_id: Option<String>,
    product: String,
    price_id: String,
    quantity: i64,
    amount_cents: i64,
}

/// The checkout recorded under a Stripe payment (PaymentIntent or subscription id).
pub async fn checkout_of(
    conn: &mut AnyConnection,
    project_id: &str,
    payment_id: &str,
) -> sqlx::Result<Option<Checkout>> {
    let row = sqlx::query(
        "SELECT customer_type, customer_id, stripe_customer_id, purchase_id, product_id, product, price_id, quantity, amount_cents
         FROM stripe_checkouts WHERE project_id = $1 AND payment_id = $2",
    )
    .bind(project_id)
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Checkout {
            customer_type: r.try_get("customer_type")?,
            customer_id: r.try_get("customer_id")?,
            stripe_customer: r.try_get("stripe_customer_id")?,
            purchase_id: r.try_get("purchase_id")?,
            product_id: r.try_get("product_id")?,
            product: r.try_get("product")?,
            price_id: r.try_get("price_id")?,
            quantity: r.try_get("quantity")?,
            amount_cents: r.try_get("amount_cents")?,
        })
    })
    .transpose()
}

/// Grants the purchase behind a Stripe payment once, if it is one of our checkouts and Stripe's
/// customer (and amount, when given) is the checkout's. Returns the purchase's id (None for a
/// payment made outside our checkout). Errors: 400 on a mismatch (nothing granted); 409 when
/// the product can no longer be granted (the payment is left for a refund).
pub async fn grant_checkout(
    tx: &mut AnyConnection,
    project: &Project,
    paid: &Paid<'_>,
) -> ApiResult<Option<String>> {
    let project_id = project.id.as_str();
    let payment_id = paid.payment_id;
    let Some(checkout) = checkout_of(tx, project_id, payment_id).await? else {
        return Ok(None);
    };
    if paid.customer != Some(checkout.stripe_customer.as_str())
        || paid.amount.is_some_and(|a| a != checkout.amount_cents)
    {
        tracing::warn!(
            payment_id,
            "a Stripe payment does not match its checkout's customer or amount"
        );
        return Err(refused(
            "The payment's Stripe customer or amount does not match the checkout",
        ));
    }
    if checkout.purchase_id.is_some() {
        return Ok(checkout.purchase_id);
    }
    let chosen = Chosen {
        product_id: checkout.product_id.clone(),
        snapshot: serde_json::from_str(&checkout.product).unwrap_or(Value::Null),
    };
    let purchase = NewPurchase {
        project_id,
        customer_type: &checkout.customer_type,
        customer_id: &checkout.customer_id,
        chosen: &chosen,
        price_id: Some(&checkout.price_id),
        quantity: checkout.quantity,
        source: "PURCHASE_PAGE",
    };
    let granted = grant_product(&mut *tx, &purchase).await.map_err(|e| {
        // Paid but not grantable any more (bought twice in parallel, say): left for a refund.
        tracing::warn!(payment_id, error = %e, "a paid checkout could not be granted");
        ApiError::text(
            StatusCode::CONFLICT,
            "The paid product could not be granted",
        )
    })?;
    sqlx::query(
        "UPDATE stripe_checkouts SET status = 'succeeded', granted_at = $1, purchase_id = $2 WHERE project_id = $3 AND payment_id = $4",
    )
    .bind(now_ms())
    .bind(&granted.purchase_id)
    .bind(project_id)
    .bind(payment_id)
    .execute(&mut *tx)
    .await?;
    let receipt = Notice {
        customer_type: &checkout.customer_type,
        customer_id: &checkout.customer_id,
        template: Template::PaymentReceipt,
        variables: json!({
            "productName": product_name(&chosen.snapshot),
            "quantity": checkout.quantity,
            "amount": dollars(checkout.amount_cents),
        }),
    };
    notices::queue(tx, project, receipt).await?;
    Ok(Some(granted.purchase_id))
}
