//! `POST payments/products/{customer_type}/{customer_id}/switch`: change plan inside a product
//! line. The subscription row is changed in place (same id, creation time and period), so its
//! item grants become the target product's as if it had been held from the start.
//!
//! As in the original, a Stripe subscription switches at Stripe (which prorates the charge) and
//! then here; a test-mode one switches in place, since there is nothing to charge; granted
//! subscriptions refuse (docs/compat.md).

use super::config::{Catalog, Product};
use super::ledger;
use super::products::{ownership, purchases_of, Chosen, Purchase};
use super::stripe::subscriptions::{stripe_subscription_of, switch_plan};
use super::Payments;
use super::{customers, new_purchases_blocked};
use crate::auth::context::{ApiState, Auth, RequestCtx, ANY};
use crate::http::extract::schema_problem;
use crate::http::{json_ok, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::store::now_ms;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new().api_route(
        "/payments/products/{customer_type}/{customer_id}/switch",
        post(switch),
    )
}

/// A plan switch: from which product to which, at which price and quantity (the API's body).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    pub from_product_id: String,
    pub to_product_id: String,
    pub price_id: Option<String>,
    pub quantity: Option<i64>,
}

fn refuse(message: &str) -> ApiError {
    ApiError::bad_request(message)
}

/// The rules that need only the catalog (steps 3–9 of the original's order).
fn check_products<'c>(
    catalog: &'c Catalog,
    customer_type: &str,
    from_id: &str,
    to_id: &str,
) -> ApiResult<(&'c Product, &'c Product)> {
    let (Some(from), Some(to)) = (catalog.product(from_id), catalog.product(to_id)) else {
        return Err(refuse("Product not found."));
    };
    if from.customer_type != customer_type || to.customer_type != customer_type {
        return Err(refuse("Product customer type does not match."));
    }
    if from.product_line_id.is_none() || from.product_line_id != to.product_line_id {
        return Err(refuse(
            "Products must be in the same product line to switch.",
        ));
    }
    if from_id == to_id {
        return Err(refuse("Product is already active."));
    }
    if to.add_on_to.as_ref().is_some_and(|bases| !bases.is_empty()) {
        return Err(refuse(
            "Add-on products cannot be selected for plan switching.",
        ));
    }
    if to.include_by_default() {
        return Err(refuse(
            "Include-by-default products cannot be selected for plan switching.",
        ));
    }
    if !from.include_by_default() && from.interval_prices().is_empty() {
        return Err(refuse("This subscription cannot be switched."));
    }
    Ok((from, to))
}

/// The subscription to change: an active one of `from`, and no other ownership in the line.
fn find_subscription(
    purchases: &[Purchase],
    from_id: &str,
    line: &str,
    now: i64,
) -> ApiResult<Option<Purchase>> {
    let backed_by_subscription = |key: &str| {
        purchases
            .iter()
            .any(|p| p.is_active_subscription(now) && p.product_id.as_deref() == Some(key))
    };
    let other_ownership = ownership(purchases, now)
        .iter()
        .any(|(key, o)| o.snapshot["productLineId"] == line && !backed_by_subscription(key));
    if other_ownership {
        return Err(refuse(
            "Customer already has a one-time purchase in this product line",
        ));
    }
    Ok(purchases
        .iter()
        .rev()
        .find(|p| p.is_active_subscription(now) && p.product_id.as_deref() == Some(from_id))
        .cloned())
}

async fn switch(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SwitchBody>,
) -> ApiResult<Response> {
    let auth: &Auth = ctx.require(ANY)?;
    if customer_type != "user" && customer_type != "team" {
        return Err(schema_problem(
            "params.customer_type must be one of: user, team",
        ));
    }
    if let Some(q) = body.quantity {
        ledger::check_units(q)?;
    }
    let catalog = payments.catalog(&state, auth.pid()).await?;
    if catalog.block_new_purchases {
        return Err(new_purchases_blocked().into());
    }
    customers::check_client_access(
        &state,
        auth,
        &customer_type,
        &customer_id,
        "Clients can only manage their own subscriptions.",
    )
    .await?;
    let customer = (customer_type.as_str(), customer_id.as_str());
    switch_product(&state, &catalog, auth.pid(), customer, body).await?;
    Ok(json_ok(json!({ "success": true })))
}

/// Moves the customer's subscription from one product of a product line to another (its price
/// `price_id`, or the first; `quantity`, or the current one), at Stripe first when Stripe bills
/// it. Errors: the original's refusals in its order (400s: products, line, price, quantity),
/// DEFAULT_PAYMENT_METHOD_REQUIRED for a line's free default, 502 from Stripe.
pub async fn switch_product(
    state: &Kernel,
    catalog: &Catalog,
    project_id: &str,
    (customer_type, customer_id): (&str, &str),
    body: SwitchBody,
) -> ApiResult<()> {
    let (from, to) = check_products(
        catalog,
        customer_type,
        &body.from_product_id,
        &body.to_product_id,
    )?;
    customers::ensure_exists(state, project_id, customer_type, customer_id).await?;

    let now = now_ms();
    let mut conn = state.db().acquire().await?;
    let purchases = purchases_of(&mut conn, project_id, customer_type, customer_id).await?;
    let subscription = find_subscription(
        &purchases,
        &body.from_product_id,
        from.product_line_id.as_deref().unwrap_or_default(),
        now,
    )?;
    // A Stripe subscription changes plan at Stripe (prorated); a test-mode one has nothing to
    // charge the change to.
    let (subscription, billed) = match subscription {
        Some(s) if s.creation_source == "TEST_MODE" && catalog.test_mode => (s, None),
        Some(s) => match stripe_subscription_of(&mut conn, project_id, &s.id).await? {
            Some(sid) => (s, Some(sid)),
            None => return Err(refuse("This subscription cannot be switched.")),
        },
        None if from.include_by_default() => {
            return Err(super::default_payment_method_required(customer_type, customer_id).into())
        }
        None => return Err(refuse("This subscription cannot be switched.")),
    };
    drop(conn);
    let prices = to.interval_prices();
    let (price_id, price) = match &body.price_id {
        Some(id) => prices.into_iter().find(|(p, _)| *p == id),
        None => prices.into_iter().next(),
    }
    .ok_or_else(|| refuse("Price not found for target product."))?;
    if price.amount("USD").is_none() {
        return Err(refuse("Target price must include a USD amount."));
    }
    if body.quantity.is_some_and(|q| q != 1) && !to.stackable {
        return Err(refuse("This product is not stackable; quantity must be 1"));
    }
    let quantity = body.quantity.unwrap_or(subscription.quantity);
    ledger::check_grants_fit(&to.snapshot, quantity)?;
    if let Some(sid) = billed {
        let chosen = Chosen {
            product_id: Some(body.to_product_id.clone()),
            snapshot: to.snapshot.clone(),
        };
        switch_plan(
            state, project_id, &sid, &chosen, price_id, &price.raw, quantity,
        )
        .await?;
    }

    // Written here at once, whatever Stripe's webhooks later repeat (the seed's lesson).
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    super::ledger::lock_customer(&mut tx, project_id, customer_type, customer_id).await?;
    sqlx::query("UPDATE purchases SET product_id = $1, product = $2, price_id = $3, quantity = $4 WHERE id = $5")
        .bind(&body.to_product_id)
        .bind(to.snapshot.to_string())
        .bind(price_id)
        .bind(quantity)
        .bind(&subscription.id)
        .execute(&mut *tx)
        .await?;
    super::ledger::forget_balances(&mut tx, project_id, customer_type, customer_id).await?;
    tx.commit().await?;
    Ok(())
}
