//! Subscriptions bought at our checkout, kept in step with Stripe both ways.
//!
//! - In-app changes (the seed's commit log: cancel, reactivate and plan switch without Stripe's
//!   portal) are made at Stripe first, then written locally at once, so the app shows them
//!   without waiting for a webhook (the seed's "change-plan writes plan locally").
//! - `customer.subscription.updated` / `.deleted` bring Stripe's own changes (a cancel at period
//!   end coming due, a cancel in Stripe's dashboard); a `.deleted` one is final, so an `updated`
//!   event delivered after it changes nothing.

use super::checkout::{plan_for, Charge};
use super::connect::connected;
use super::notices::{self, product_name, Notice};
use super::webhooks::{checkout_of, refused};
use super::Stripe;
use crate::auth::context::{ApiState, Auth, RequestCtx, ANY};
use crate::emails::templates::Template;
use crate::http::{json_ok, ApiError, ApiResult, Query};
use crate::kernel::Kernel;
use crate::payments::products::{purchases_of, Chosen, Purchase};
use crate::payments::{customers, ledger};
use crate::projects::Project;
use crate::store::{flag, iso, now_ms};
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new().api_route(
        "/payments/products/{customer_type}/{customer_id}/{product_id}/reactivate",
        post(reactivate),
    )
}

/// The Stripe subscription behind a purchase, if Stripe bills it.
pub async fn stripe_subscription_of(
    conn: &mut AnyConnection,
    project_id: &str,
    purchase_id: &str,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query(
        "SELECT payment_id FROM stripe_checkouts WHERE project_id = $1 AND purchase_id = $2 AND payment_id LIKE 'sub_%'",
    )
    .bind(project_id)
    .bind(purchase_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("payment_id")).transpose()
}

/// Cancels (`cancel`) or reactivates a Stripe subscription at its period's end: at Stripe, then
/// here. While scheduled, the product is held until the period ends. Errors: 502 from Stripe.
pub async fn cancel_at_period_end(
    state: &Kernel,
    stripe: &Stripe,
    project: &Project,
    purchase_id: &str,
    subscription_id: &str,
    cancel: bool,
) -> ApiResult<()> {
    let project_id = project.id.as_str();
    let updated = stripe
        .post(
            &format!("subscriptions/{subscription_id}"),
            &[("cancel_at_period_end", cancel.to_string())],
            None,
        )
        .await?;
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    if apply_cancel_state(&mut tx, purchase_id, &updated, cancel).await? {
        notify_canceled(&mut tx, project, purchase_id).await?;
    }
    forget_balances_of(&mut tx, project_id, purchase_id).await?;
    tx.commit().await?;
    crate::emails::wake_sender(state);
    Ok(())
}

/// Schedules (or with `cancel = false` undoes) the cancel at its period's end of the
/// customer's Stripe subscription behind `purchase_id`, for the dashboard. Errors: text 400
/// when it is not the customer's, Stripe does not bill it, or payments are not set up; 502 from
/// Stripe.
pub async fn set_cancel(
    state: &Kernel,
    project: &Project,
    customer: (&str, &str),
    purchase_id: &str,
    cancel: bool,
) -> ApiResult<()> {
    let mut conn = state.db().acquire().await?;
    let (customer_type, customer_id) = customer;
    let theirs = purchases_of(&mut conn, &project.id, customer_type, customer_id)
        .await?
        .iter()
        .any(|p| p.id == purchase_id);
    if !theirs {
        return Err(ApiError::bad_request(
            "This subscription is not this customer's.",
        ));
    }
    let sid = stripe_subscription_of(&mut conn, &project.id, purchase_id)
        .await?
        .ok_or_else(|| ApiError::bad_request("This subscription is not billed through Stripe."))?;
    drop(conn);
    let stripe = connected(state, &project.id).await?;
    cancel_at_period_end(state, &stripe, project, purchase_id, &sid, cancel).await
}

/// The end of the subscription's current period (ms): on its first item in newer API versions
/// (the seed's lesson), on the subscription itself in older ones.
fn period_end_ms(subscription: &Value) -> Option<i64> {
    subscription["items"]["data"][0]["current_period_end"]
        .as_i64()
        .or_else(|| subscription["current_period_end"].as_i64())
        .map(|s| s * 1000)
}

/// Writes a live subscription's cancel-at-period-end state (and period end) to its purchase.
/// Returns whether this newly scheduled a cancel.
async fn apply_cancel_state(
    tx: &mut AnyConnection,
    purchase_id: &str,
    subscription: &Value,
    cancel: bool,
) -> sqlx::Result<bool> {
    let scheduled: Option<i64> = sqlx::query_scalar(
        "SELECT cancel_at_period_end FROM purchases WHERE id = $1 AND status <> 'canceled'",
    )
    .bind(purchase_id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE purchases SET cancel_at_period_end = $1,
            current_period_end = COALESCE($2, current_period_end),
            canceled_at = CASE WHEN $1 = 1 THEN COALESCE(canceled_at, $3) ELSE NULL END,
            ended_at = CASE WHEN $1 = 1 THEN COALESCE($2, current_period_end) ELSE NULL END
         WHERE id = $4 AND status <> 'canceled'",
    )
    .bind(flag(cancel))
    .bind(period_end_ms(subscription))
    .bind(now_ms())
    .bind(purchase_id)
    .execute(&mut *tx)
    .await?;
    Ok(cancel && scheduled == Some(0))
}

/// Emails the customer that their subscription is canceled (until when it runs, or that it has
/// ended), with the `payment.subscription_canceled` webhook event.
async fn notify_canceled(
    tx: &mut AnyConnection,
    project: &Project,
    purchase_id: &str,
) -> ApiResult<()> {
    let row = sqlx::query(
        "SELECT customer_type, customer_id, product_id, product, status, ended_at FROM purchases WHERE id = $1",
    )
    .bind(purchase_id)
    .fetch_one(&mut *tx)
    .await?;
    let (customer_type, customer_id): (String, String) =
        (row.try_get("customer_type")?, row.try_get("customer_id")?);
    let snapshot: Value =
        serde_json::from_str(&row.try_get::<String, _>("product")?).unwrap_or(Value::Null);
    let ended = row.try_get::<String, _>("status")? == "canceled";
    let end_date = match row.try_get::<Option<i64>, _>("ended_at")? {
        Some(at) if !ended => iso(at).chars().take(10).collect(),
        _ => String::new(),
    };
    let event = json!({
        "purchase_id": purchase_id,
        "customer_type": customer_type,
        "customer_id": customer_id,
        "product_id": row.try_get::<Option<String>, _>("product_id")?,
        "ended": ended,
        "ends_at_millis": row.try_get::<Option<i64>, _>("ended_at")?,
    });
    crate::webhooks::emit(tx, &project.id, "payment.subscription_canceled", event).await?;
    let notice = Notice {
        customer_type: &customer_type,
        customer_id: &customer_id,
        template: Template::SubscriptionCanceled,
        variables: json!({ "productName": product_name(&snapshot), "endDate": end_date }),
    };
    notices::queue(tx, project, notice).await?;
    Ok(())
}

async fn forget_balances_of(
    tx: &mut AnyConnection,
    project_id: &str,
    purchase_id: &str,
) -> sqlx::Result<()> {
    let row = sqlx::query("SELECT customer_type, customer_id FROM purchases WHERE id = $1")
        .bind(purchase_id)
        .fetch_one(&mut *tx)
        .await?;
    let customer_type: String = row.try_get("customer_type")?;
    let customer_id: String = row.try_get("customer_id")?;
    ledger::forget_balances(tx, project_id, &customer_type, &customer_id).await
}

/// Applies `customer.subscription.updated` / `.deleted`. Errors: 400 when the subscription's
/// Stripe customer is not its checkout's (the seed's ownership cross-check; nothing written).
pub async fn sync(
    tx: &mut AnyConnection,
    project: &Project,
    subscription: &Value,
) -> ApiResult<()> {
    let project_id = project.id.as_str();
    let Some(id) = subscription["id"].as_str() else {
        return Ok(());
    };
    let Some(checkout) = checkout_of(tx, project_id, id).await? else {
        return Ok(());
    };
    if subscription["customer"].as_str() != Some(checkout.stripe_customer.as_str()) {
        tracing::warn!(
            subscription = id,
            "a subscription's Stripe customer is not its checkout's"
        );
        return Err(refused(
            "The subscription's Stripe customer does not match the checkout",
        ));
    }
    // Not granted yet: the grant reads nothing from this event, and a later one brings the state.
    let Some(purchase_id) = checkout.purchase_id else {
        return Ok(());
    };
    if subscription["status"] == "canceled" {
        let now = now_ms();
        let ended = subscription["ended_at"].as_i64().map_or(now, |s| s * 1000);
        let ended_now = sqlx::query(
            // Stripe's time has whole seconds: a subscription never ends before it was granted.
            "UPDATE purchases SET status = 'canceled', canceled_at = COALESCE(canceled_at, $1),
                ended_at = CASE WHEN $2 < created_at THEN created_at ELSE $2 END
             WHERE id = $3 AND status <> 'canceled'",
        )
        .bind(now)
        .bind(ended)
        .bind(&purchase_id)
        .execute(&mut *tx)
        .await?;
        if ended_now.rows_affected() == 1 {
            notify_canceled(tx, project, &purchase_id).await?;
        }
    } else {
        let cancel = subscription["cancel_at_period_end"] == true;
        if apply_cancel_state(tx, &purchase_id, subscription, cancel).await? {
            notify_canceled(tx, project, &purchase_id).await?;
        }
    }
    forget_balances_of(tx, project_id, &purchase_id).await?;
    Ok(())
}

/// Moves a Stripe subscription to another plan (`to`'s `price`): Stripe prorates the change.
/// Errors: 400 for a price Stripe cannot bill; 502 from Stripe.
pub async fn switch_plan(
    state: &Kernel,
    project_id: &str,
    subscription_id: &str,
    to: &Chosen,
    price_id: &str,
    price: &Value,
    quantity: i64,
) -> ApiResult<()> {
    let stripe = connected(state, project_id).await?;
    let charge = Charge::of(price)?;
    let plan = plan_for(&stripe, project_id, to, price_id, &charge).await?;
    let current = stripe
        .get(&format!("subscriptions/{subscription_id}"))
        .await?;
    let item = current["items"]["data"][0]["id"]
        .as_str()
        .ok_or_else(|| ApiError::internal("Stripe sent a subscription without items"))?;
    stripe
        .post(
            &format!("subscriptions/{subscription_id}"),
            &[
                ("items[0][id]", item.to_owned()),
                ("items[0][plan]", plan),
                ("items[0][quantity]", quantity.to_string()),
                ("metadata[price_id]", price_id.to_owned()),
            ],
            None,
        )
        .await?;
    Ok(())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReactivateQuery {
    subscription_id: Option<String>,
}

/// `POST payments/products/{customer_type}/{customer_id}/{product_id}/reactivate[?subscription_id=]`
/// (ours; the seed's in-app reactivate): undoes a scheduled cancel of the customer's Stripe
/// subscriptions of the product before their period ends. `{success: true}`.
/// Errors: text 400 when no subscription of the product is scheduled to cancel; the client
/// access refusals of cancel; 502 from Stripe.
async fn reactivate(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((customer_type, customer_id, product_id)): Path<(String, String, String)>,
    Query(q): Query<ReactivateQuery>,
) -> ApiResult<Response> {
    let auth: &Auth = ctx.require(ANY)?;
    customers::check_type(&customer_type)?;
    customers::check_client_access(
        &state,
        auth,
        &customer_type,
        &customer_id,
        "Clients can only manage their own subscriptions.",
    )
    .await?;
    customers::ensure_exists(&state, auth.pid(), &customer_type, &customer_id).await?;
    let now = now_ms();
    let mut conn = state.db().acquire().await?;
    let purchases = purchases_of(&mut conn, auth.pid(), &customer_type, &customer_id).await?;
    let scheduled: Vec<&Purchase> = purchases
        .iter()
        .filter(|p| {
            p.is_active_subscription(now)
                && p.cancel_at_period_end
                && match &q.subscription_id {
                    Some(id) => &p.id == id,
                    None => p.product_id.as_deref() == Some(product_id.as_str()),
                }
        })
        .collect();
    let mut targets = Vec::new();
    for p in scheduled {
        if let Some(sid) = stripe_subscription_of(&mut conn, auth.pid(), &p.id).await? {
            targets.push((p.id.clone(), sid));
        }
    }
    drop(conn);
    if targets.is_empty() {
        return Err(ApiError::bad_request(
            "No subscription of this product is scheduled to cancel.",
        ));
    }
    let stripe = connected(&state, auth.pid()).await?;
    for (purchase_id, sid) in targets {
        cancel_at_period_end(&state, &stripe, &auth.project, &purchase_id, &sid, false).await?;
    }
    Ok(json_ok(json!({ "success": true })))
}
