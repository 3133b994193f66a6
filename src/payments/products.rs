//! Owned products: derived from purchases (grant at creation, revocation when a subscription ends
//! or a purchase is refunded). Granting (by id or inline), listing, cancelling, and the purchase
//! rules shared with checkout: stackable, add-ons, product-line exclusivity.

use super::config::{interval_ms, product_view, Catalog};
use super::ledger;
use super::stripe::subscriptions::{cancel_at_period_end, stripe_subscription_of};
use super::Payments;
use super::{
    customers, product_already_granted, product_customer_type_mismatch, product_does_not_exist,
};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY, TRUSTED};
use crate::crypto::secret::new_uuid;
use crate::http::extract::schema_problem;
use crate::http::{json_ok, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::store::now_ms;
use aide::axum::routing::{delete, get};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new()
        .api_route(
            "/payments/products/{customer_type}/{customer_id}",
            get(list).post(grant),
        )
        .api_route(
            "/payments/products/{customer_type}/{customer_id}/{product_id}",
            delete(cancel),
        )
}

pub const INLINE_KEY: &str = "__null__";

/// A product to buy or grant: its id (None for inline) and the snapshot every record keeps.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub product_id: Option<String>,
    pub snapshot: Value,
}

impl Chosen {
    pub fn customer_type(&self) -> &str {
        self.snapshot["customerType"].as_str().unwrap_or("user")
    }
    fn stackable(&self) -> bool {
        self.product_id.is_some() && self.snapshot["stackable"] == true
    }
}

/// `product_id` from the catalog, or `product_inline` (trusted callers only), as the original resolves them.
pub fn choose(
    catalog: &Catalog,
    auth: &Auth,
    product_id: Option<&str>,
    inline: Option<&Value>,
) -> ApiResult<Chosen> {
    match (product_id, inline) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("Cannot specify both product_id and product_inline!")),
        (None, None) => Err(ApiError::bad_request("Must specify either product_id or product_inline!")),
        (None, Some(_)) if auth.access_type == AccessType::Client => Err(ApiError::bad_request(
            "Cannot specify product_inline when calling from client! Please call with a server API key, or use the product_id parameter.",
        )),
        (None, Some(inline)) => Ok(Chosen { product_id: None, snapshot: inline_snapshot(inline)? }),
        (Some(id), None) => {
            let chosen = Chosen::from_catalog(catalog, id)?;
            if auth.access_type == AccessType::Client && chosen.snapshot["serverOnly"] == true {
                return Err(product_does_not_exist(id, Some("server_only")).into());
            }
            Ok(chosen)
        }
    }
}

impl Chosen {
    /// `PRODUCT_CUSTOMER_TYPE_DOES_NOT_MATCH` unless the product is for this type of customer.
    pub fn check_customer_type(&self, customer_type: &str, customer_id: &str) -> ApiResult<()> {
        if self.customer_type() == customer_type {
            return Ok(());
        }
        Err(product_customer_type_mismatch(
            self.product_id.as_deref(),
            customer_id,
            self.customer_type(),
            customer_type,
        )
        .into())
    }

    /// A catalog product by id (as the server sees it: server-only products included).
    pub fn from_catalog(catalog: &Catalog, id: &str) -> ApiResult<Chosen> {
        let Some(p) = catalog.product(id) else {
            let context = catalog.item(id).is_some().then_some("item_exists");
            return Err(product_does_not_exist(id, context).into());
        };
        Ok(Chosen {
            product_id: Some(id.to_string()),
            snapshot: p.snapshot.clone(),
        })
    }
}

/// Turns the snake_case inline product into a snapshot (never stackable, server-only by default).
fn inline_snapshot(inline: &Value) -> ApiResult<Value> {
    let mut problems = Vec::new();
    let display_name = inline["display_name"].as_str().map(str::to_string);
    if display_name.is_none() {
        problems.push("body.product_inline.display_name must be defined".to_string());
    }
    let customer_type = inline["customer_type"].as_str().unwrap_or_default();
    if !super::config::CUSTOMER_TYPES.contains(&customer_type) {
        problems
            .push("body.product_inline.customer_type must be one of: user, team, custom".into());
    }
    let mut prices = Map::new();
    for (id, price) in inline["prices"].as_object().into_iter().flatten() {
        super::config::check_price(
            &mut problems,
            &format!("body.product_inline.prices.{id}"),
            price,
        );
        let mut p = price.as_object().cloned().unwrap_or_default();
        if let Some(t) = p.remove("free_trial") {
            p.insert("freeTrial".into(), t);
        }
        prices.insert(id.clone(), Value::Object(p));
    }
    let included: Map<String, Value> = inline["included_items"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, inc)| {
            (
                id.clone(),
                json!({
                    "quantity": inc.get("quantity").cloned().unwrap_or(json!(0)),
                    "repeat": inc.get("repeat").cloned().unwrap_or(json!("never")),
                    "expires": inc.get("expires").cloned().unwrap_or(json!("never")),
                }),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(crate::http::extract::schema_error(&problems));
    }
    Ok(json!({
        "displayName": display_name,
        "customerType": customer_type,
        "serverOnly": inline.get("server_only").and_then(Value::as_bool).unwrap_or(true),
        "stackable": false,
        "isAddOnTo": false,
        "prices": prices,
        "includedItems": included,
        "clientMetadata": inline.get("client_metadata").cloned().unwrap_or(Value::Null),
        "clientReadOnlyMetadata": inline.get("client_read_only_metadata").cloned().unwrap_or(Value::Null),
        "serverMetadata": inline.get("server_metadata").cloned().unwrap_or(Value::Null),
    }))
}

/// What a customer owns of one product key.
#[derive(Debug, Clone)]
pub struct Owned {
    pub quantity: i64,
    pub snapshot: Value,
}

/// A purchase row as ownership and cancellation need it.
#[derive(Debug, Clone)]
pub struct Purchase {
    pub id: String,
    pub product_id: Option<String>,
    pub kind: String,
    pub status: String,
    /// `API_GRANT`, `TEST_MODE`, `PURCHASE_PAGE`, …
    pub creation_source: String,
    pub quantity: i64,
    pub snapshot: Value,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub refunded_at: Option<i64>,
    /// Units a refund revoked (None: all of them, when refunded).
    pub refunded_quantity: Option<i64>,
}

impl Purchase {
    pub fn is_active_subscription(&self, now: i64) -> bool {
        self.kind == "subscription"
            && (self.status == "active" || self.status == "trialing")
            && self.ended_at.is_none_or(|e| e > now)
    }
    fn key(&self) -> &str {
        self.product_id.as_deref().unwrap_or(INLINE_KEY)
    }
}

pub async fn purchases_of(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> sqlx::Result<Vec<Purchase>> {
    let rows = sqlx::query(
        "SELECT id, product_id, kind, status, creation_source, quantity, product, current_period_end, cancel_at_period_end, created_at, ended_at, refunded_at,
            refunded_quantity
         FROM purchases WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3 ORDER BY created_at, id",
    )
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Purchase {
                id: r.try_get("id")?,
                product_id: r.try_get("product_id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                creation_source: r.try_get("creation_source")?,
                quantity: r.try_get("quantity")?,
                snapshot: serde_json::from_str(&r.try_get::<String, _>("product")?)
                    .unwrap_or(Value::Null),
                current_period_end: r.try_get("current_period_end")?,
                cancel_at_period_end: r.try_get::<i64, _>("cancel_at_period_end")? != 0,
                created_at: r.try_get("created_at")?,
                ended_at: r.try_get("ended_at")?,
                refunded_at: r.try_get("refunded_at")?,
                refunded_quantity: r.try_get("refunded_quantity")?,
            })
        })
        .collect()
}

/// Ownership as of `now`: grants at creation, revocations at end or refund, floored at zero.
pub fn ownership(purchases: &[Purchase], now: i64) -> BTreeMap<String, Owned> {
    let mut events: Vec<(i64, i64, &Purchase)> = Vec::new();
    for p in purchases {
        events.push((p.created_at, p.quantity, p));
        // A refund revokes the units it refunded; the end revokes what is left.
        let mut left = p.quantity;
        if let Some(at) = p
            .refunded_at
            .filter(|at| p.ended_at.is_none_or(|e| *at < e))
        {
            let refunded = p.refunded_quantity.unwrap_or(p.quantity).min(left);
            if at <= now {
                events.push((at, -refunded, p));
            }
            left -= refunded;
        }
        if let Some(at) = p.ended_at.filter(|at| *at <= now) {
            events.push((at, -left, p));
        }
    }
    events.sort_by_key(|(at, q, _)| (*at, *q < 0));
    let mut owned: BTreeMap<String, Owned> = BTreeMap::new();
    for (_, q, p) in events {
        let entry = owned.entry(p.key().to_string()).or_insert(Owned {
            quantity: 0,
            snapshot: p.snapshot.clone(),
        });
        if q > 0 {
            entry.snapshot = p.snapshot.clone();
        }
        entry.quantity = (entry.quantity + q).max(0);
    }
    owned.retain(|_, o| o.quantity > 0);
    owned
}

/// A price id and its definition.
pub type SelectedPrice = Option<(String, Value)>;

/// The price a purchase uses: the given one, or the first; None when the product has none.
pub fn select_price(
    snapshot: &Value,
    price_id: Option<&str>,
) -> ApiResult<Option<(String, Value)>> {
    let prices = snapshot["prices"].as_object();
    match price_id {
        Some(id) => match prices.and_then(|p| p.get(id)) {
            Some(price) => Ok(Some((id.to_string(), price.clone()))),
            None => Err(ApiError::bad_request(
                "Price not found on product associated with this purchase code",
            )),
        },
        None => Ok(prices
            .and_then(|p| p.iter().next())
            .map(|(id, price)| (id.clone(), price.clone()))),
    }
}

/// The purchase rules (§2.11): price, stackable, already owned, add-on base, product line. Returns
/// the price and the active subscriptions this purchase replaces.
pub fn validate_purchase(
    chosen: &Chosen,
    price_id: Option<&str>,
    quantity: i64,
    purchases: &[Purchase],
    customer_id: &str,
    now: i64,
) -> ApiResult<(SelectedPrice, Vec<Purchase>)> {
    let price = select_price(&chosen.snapshot, price_id)?;
    ledger::check_grants_fit(&chosen.snapshot, quantity)?;
    if quantity != 1 && !chosen.stackable() {
        return Err(ApiError::bad_request(
            "This product is not stackable; quantity must be 1",
        ));
    }
    let owned = ownership(purchases, now);
    if let Some(id) = &chosen.product_id {
        if !chosen.stackable() && owned.contains_key(id) {
            return Err(product_already_granted(id, customer_id).into());
        }
    }
    let bases: Vec<String> = chosen.snapshot["isAddOnTo"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if chosen.snapshot["isAddOnTo"].is_object() && !bases.iter().any(|b| owned.contains_key(b)) {
        return Err(ApiError::bad_request(
            "This product is an add-on to a product that the customer does not have",
        ));
    }
    let mut replaced = Vec::new();
    if let Some(line) = chosen.snapshot["productLineId"].as_str() {
        let conflict = owned
            .iter()
            .any(|(key, o)| o.snapshot["productLineId"] == line && !bases.contains(key));
        if conflict {
            let active: Vec<&Purchase> = purchases
                .iter()
                .filter(|p| p.is_active_subscription(now) && p.snapshot["productLineId"] == line)
                .collect();
            match active.first() {
                Some(first) => replaced.push((*first).clone()),
                None => {
                    return Err(ApiError::bad_request(
                        "Customer already has a one-time purchase in this product line",
                    ))
                }
            }
        }
    }
    Ok((price, replaced))
}

/// A purchase recorded without payment: an API grant or a test-mode checkout.
pub struct NewPurchase<'a> {
    pub project_id: &'a str,
    pub customer_type: &'a str,
    pub customer_id: &'a str,
    pub chosen: &'a Chosen,
    pub price_id: Option<&'a str>,
    pub quantity: i64,
    /// `API_GRANT` or `TEST_MODE`.
    pub source: &'a str,
}

/// A recorded purchase: its id, and whether it is a subscription.
pub struct Granted {
    pub purchase_id: String,
    pub is_subscription: bool,
}

/// Records a purchase, replacing any conflicting subscription, inside the caller's transaction
/// (on SQLite the caller holds the write turn).
pub async fn grant_product(
    tx: &mut AnyConnection,
    purchase: &NewPurchase<'_>,
) -> ApiResult<Granted> {
    let NewPurchase {
        project_id,
        customer_type,
        customer_id,
        chosen,
        price_id,
        quantity,
        source,
    } = *purchase;
    // Purchases of one customer are serialised, so two grants cannot both pass the rules.
    super::ledger::lock_customer(&mut *tx, project_id, customer_type, customer_id).await?;
    super::ledger::forget_balances(&mut *tx, project_id, customer_type, customer_id).await?;
    let now = now_ms();
    let purchases = purchases_of(&mut *tx, project_id, customer_type, customer_id).await?;
    let (price, replaced) =
        validate_purchase(chosen, price_id, quantity, &purchases, customer_id, now)?;
    // No grant may take a balance past the bound (each grant alone fits: validate_purchase).
    if let Some(items) = chosen.snapshot["includedItems"].as_object() {
        for (item_id, inc) in items {
            let amount = inc["quantity"].as_i64().unwrap_or(0) * quantity;
            let key = super::ledger::BalanceKey {
                project_id,
                customer_type,
                customer_id,
                item_id,
            };
            let before = super::ledger::load(&mut *tx, key, now).await?;
            super::ledger::check_change(before.state.value_at(now), amount)?;
        }
    }
    for old in &replaced {
        sqlx::query("UPDATE purchases SET status = 'canceled', canceled_at = $1, ended_at = $1 WHERE id = $2").bind(now).bind(&old.id).execute(&mut *tx).await?;
    }
    // A product without prices (a free plan, something only the server grants) is held as a
    // one-time purchase; it used to be answered with success and not recorded at all.
    let selected_price_id = price.as_ref().map(|(id, _)| id.clone());
    let recurring = price
        .as_ref()
        .and_then(|(_, p)| interval_ms(&p["interval"]));
    let id = new_uuid();
    sqlx::query(
        "INSERT INTO purchases (id, project_id, customer_type, customer_id, product_id, price_id, product, quantity, kind, status,
            creation_source, current_period_start, current_period_end, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11, $12, $13)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .bind(&chosen.product_id)
    // API grants keep no price (they charge nothing); test-mode checkouts keep the chosen one.
    .bind(price_id.and(selected_price_id.clone()))
    .bind(chosen.snapshot.to_string())
    .bind(quantity)
    .bind(if recurring.is_some() { "subscription" } else { "one_time" })
    .bind(source)
    .bind(recurring.map(|_| now))
    .bind(recurring.map(|r| now + r))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = json!({
        "purchase_id": id,
        "customer_type": customer_type,
        "customer_id": customer_id,
        "product_id": chosen.product_id,
        "product": chosen.snapshot,
        "price_id": price_id.and(selected_price_id.as_deref()),
        "quantity": quantity,
        "kind": if recurring.is_some() { "subscription" } else { "one_time" },
        "creation_source": source,
    });
    crate::webhooks::emit(tx, project_id, "payment.purchase_completed", event).await?;
    Ok(Granted {
        purchase_id: id,
        is_subscription: recurring.is_some(),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    product_id: Option<String>,
    product_inline: Option<Value>,
    quantity: Option<i64>,
}

async fn grant(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<GrantBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    customers::check_type(&customer_type)?;
    let quantity = ledger::check_units(body.quantity.unwrap_or(1))?;
    customers::ensure_exists(&state, auth.pid(), &customer_type, &customer_id).await?;
    let catalog = payments.catalog(&state, auth.pid()).await?;
    let chosen = choose(
        &catalog,
        auth,
        body.product_id.as_deref(),
        body.product_inline.as_ref(),
    )?;
    let subscription_id = grant_to_customer(
        &state,
        auth.pid(),
        &customer_type,
        &customer_id,
        &chosen,
        quantity,
    )
    .await?;
    let mut out = json!({ "success": true });
    if let Some(id) = subscription_id {
        out["subscription_id"] = json!(id);
    }
    Ok(json_ok(out))
}

/// Grants `chosen` to an existing customer of its type (no payment), as `POST products` does.
pub async fn grant_to_customer(
    state: &Kernel,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
    chosen: &Chosen,
    quantity: i64,
) -> ApiResult<Option<String>> {
    chosen.check_customer_type(customer_type, customer_id)?;
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    let purchase = NewPurchase {
        project_id,
        customer_type,
        customer_id,
        chosen,
        price_id: None,
        quantity,
        source: "API_GRANT",
    };
    let granted = grant_product(&mut tx, &purchase).await?;
    tx.commit().await?;
    Ok(granted.is_subscription.then_some(granted.purchase_id))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

use crate::store::iso;

async fn list(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    customers::check_type(&customer_type)?;
    let limit = match q.limit.as_deref() {
        None => 10,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(schema_problem(
                    "query.limit must be an integer between 1 and 100",
                ))
            }
        },
    };
    customers::check_client_access(
        &state,
        auth,
        &customer_type,
        &customer_id,
        "Clients can only access their own user or team products.",
    )
    .await?;
    customers::ensure_exists(&state, auth.pid(), &customer_type, &customer_id).await?;
    let catalog = payments.catalog(&state, auth.pid()).await?;
    let now = now_ms();
    let mut conn = state.db().acquire().await?;
    let purchases = purchases_of(&mut conn, auth.pid(), &customer_type, &customer_id).await?;
    let client = auth.access_type == AccessType::Client;
    let entries: Vec<(String, Owned)> = ownership(&purchases, now)
        .into_iter()
        .filter(|(_, o)| !(client && o.snapshot["serverOnly"] == true))
        .collect();
    let start = match &q.cursor {
        Some(c) => entries
            .iter()
            .position(|(k, _)| k == c)
            .ok_or_else(|| ApiError::bad_request("Invalid cursor"))?,
        None => 0,
    };
    let page = entries.iter().skip(start).take(limit);
    let items: Vec<Value> = page
        .map(|(key, o)| {
            // A Stripe subscription scheduled to cancel shows as one until its period ends.
            let active = purchases
                .iter()
                .rev()
                .find(|p| p.key() == key && p.is_active_subscription(now));
            let mut v = json!({
                "id": if key == INLINE_KEY { Value::Null } else { json!(key) },
                "quantity": o.quantity,
                "product": product_view(&o.snapshot),
                "type": if active.is_some() { "subscription" } else { "one_time" },
                "subscription": active.map(|s| json!({
                    "subscription_id": s.id,
                    "current_period_end": s.current_period_end.map(iso),
                    "cancel_at_period_end": s.cancel_at_period_end,
                    "is_cancelable": true,
                })),
            });
            if let Some(line) = o.snapshot["productLineId"].as_str() {
                v["switch_options"] = switch_options(&catalog, key, line, &customer_type, client);
            }
            v
        })
        .collect();
    let next_cursor = entries.get(start + limit).map(|(k, _)| k.clone());
    Ok(json_ok(
        json!({ "items": items, "is_paginated": true, "pagination": { "next_cursor": next_cursor } }),
    ))
}

fn switch_options(
    catalog: &Catalog,
    current: &str,
    line: &str,
    customer_type: &str,
    client: bool,
) -> Value {
    let options: Vec<Value> = catalog
        .products
        .iter()
        .filter(|(id, p)| {
            id.as_str() != current
                && p.customer_type == customer_type
                && !(client && p.server_only)
                && p.product_line_id.as_deref() == Some(line)
                && p.add_on_to.is_none()
                && !p.interval_prices().is_empty()
        })
        .map(|(id, p)| {
            let mut only_recurring = p.snapshot.clone();
            if let Some(prices) = only_recurring["prices"].as_object_mut() {
                prices.retain(|_, price| price.get("interval").is_some());
            }
            json!({ "product_id": id, "product": product_view(&only_recurring) })
        })
        .collect();
    Value::Array(options)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CancelQuery {
    subscription_id: Option<String>,
}

async fn cancel(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id, product_id)): Path<(String, String, String)>,
    Query(q): Query<CancelQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    customers::check_type(&customer_type)?;
    if auth.access_type == AccessType::Client {
        let refusal = if customer_type == "custom" {
            "Clients can only cancel user or team subscriptions they control."
        } else {
            "Clients can only cancel their own subscriptions."
        };
        customers::check_client_access(&state, auth, &customer_type, &customer_id, refusal).await?;
    }
    customers::ensure_exists(&state, auth.pid(), &customer_type, &customer_id).await?;
    let now = now_ms();
    let mut conn = state.db().acquire().await?;
    let purchases = purchases_of(&mut conn, auth.pid(), &customer_type, &customer_id).await?;
    let targets: Vec<&Purchase> = match &q.subscription_id {
        Some(sid) => {
            let found: Vec<&Purchase> = purchases
                .iter()
                .filter(|p| &p.id == sid && p.is_active_subscription(now))
                .collect();
            if found.is_empty() {
                return Err(ApiError::bad_request(
                    "No active subscription found with this ID for the given customer.",
                ));
            }
            found
        }
        None => {
            let catalog = payments.catalog(&state, auth.pid()).await?;
            let chosen = choose(&catalog, auth, Some(&product_id), None)?;
            chosen.check_customer_type(&customer_type, &customer_id)?;
            if !ownership(&purchases, now).contains_key(&product_id) {
                return Err(ApiError::bad_request(
                    "Customer does not have this product.",
                ));
            }
            let active: Vec<&Purchase> = purchases
                .iter()
                .filter(|p| {
                    p.product_id.as_deref() == Some(product_id.as_str())
                        && p.is_active_subscription(now)
                })
                .collect();
            if active.is_empty() {
                return Err(ApiError::bad_request(
                    "This product is a one time purchase and cannot be canceled.",
                ));
            }
            active
        }
    };
    // Stripe's subscriptions are canceled at their period's end (the seed's in-app cancel,
    // undone by `reactivate`); DB-only ones run to the end of their period, then the product goes.
    let mut ids = Vec::new();
    let mut billed = Vec::new();
    for p in targets {
        match stripe_subscription_of(&mut conn, auth.pid(), &p.id).await? {
            Some(sid) => billed.push((p.id.clone(), sid)),
            None => ids.push(p.id.clone()),
        }
    }
    drop(conn);
    if !billed.is_empty() {
        let stripe = super::stripe::connect::connected(&state, auth.pid()).await?;
        for (purchase_id, sid) in billed {
            cancel_at_period_end(&state, &stripe, &auth.project, &purchase_id, &sid, true).await?;
        }
    }
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    super::ledger::lock_customer(&mut tx, auth.pid(), &customer_type, &customer_id).await?;
    super::ledger::forget_balances(&mut tx, auth.pid(), &customer_type, &customer_id).await?;
    for id in ids {
        sqlx::query("UPDATE purchases SET status = 'canceled', cancel_at_period_end = 1, canceled_at = $1, ended_at = COALESCE(current_period_end, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(json_ok(json!({ "success": true })))
}
