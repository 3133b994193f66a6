//! `GET /internal/payments/transactions`: purchases and manual item changes as the original's
//! transaction objects, newest first, with an opaque cursor.

use super::config::product_view;
use super::stripe::refunds::{self, charged_cents, RefundEntry, Refundable};
use super::Payments;
use crate::auth::context::{ApiState, RequestCtx, ADMIN};
use crate::http::extract::schema_problem;
use crate::http::known::{js_string, KnownCode};
use crate::http::{json_ok, ApiError, ApiResult, Query};
use crate::kernel::Kernel;
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/payments/transactions", get(list))
        .api_route(
            "/internal/payments/transactions/refund",
            aide::axum::routing::post(refund),
        )
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Refund {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    refund_entries: Vec<RefundEntry>,
}

/// Refunds give money back through Stripe (`stripe::refunds`). Test-mode purchases and API
/// grants were never paid, so (as in the original) they answer with the not-refundable /
/// not-found errors.
async fn refund(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    crate::http::JsonBody(body): crate::http::JsonBody<Refund>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    refund_purchase(
        &state,
        auth.pid(),
        &body.kind,
        &body.id,
        &body.refund_entries,
    )
    .await?;
    Ok(crate::http::success())
}

/// Refunds a purchase by its transaction type (`one-time-purchase` or `subscription`) and id.
pub async fn refund_purchase(
    state: &Kernel,
    project_id: &str,
    transaction_type: &str,
    id: &str,
    entries: &[RefundEntry],
) -> ApiResult<()> {
    let (kind, not_found) = match transaction_type {
        "one-time-purchase" => (
            "one_time",
            super::known(
                KnownCode::OneTimePurchaseNotFound,
                format!(
                    "One-time purchase with ID {} does not exist.",
                    js_string(id)
                ),
                Some(json!({ "one_time_purchase_id": id })),
            ),
        ),
        "subscription" => (
            "subscription",
            super::known(
                KnownCode::SubscriptionInvoiceNotFound,
                format!(
                    "Subscription invoice with ID {} does not exist.",
                    js_string(id)
                ),
                Some(json!({ "subscription_invoice_id": id })),
            ),
        ),
        _ => {
            return Err(schema_problem(
                "body.type must be one of: subscription, one-time-purchase",
            ))
        }
    };
    let row = sqlx::query("SELECT creation_source, refunded_at, quantity, product, price_id FROM purchases WHERE project_id = $1 AND id = $2 AND kind = $3")
        .bind(project_id)
        .bind(id)
        .bind(kind)
        .fetch_optional(state.db())
        .await?
        .ok_or_else(|| not_found.clone())?;
    let already = ApiError::from(if kind == "one_time" {
        super::known(
            KnownCode::OneTimePurchaseAlreadyRefunded,
            format!(
                "One-time purchase with ID {} was already refunded.",
                js_string(id)
            ),
            Some(json!({ "one_time_purchase_id": id })),
        )
    } else {
        super::known(
            KnownCode::SubscriptionAlreadyRefunded,
            format!(
                "Subscription with ID {} was already refunded.",
                js_string(id)
            ),
            Some(json!({ "subscription_id": id })),
        )
    });
    if row.try_get::<Option<i64>, _>("refunded_at")?.is_some() {
        return Err(already);
    }
    let source: String = row.try_get("creation_source")?;
    if kind == "one_time" && source == "TEST_MODE" {
        return Err(super::known(
            KnownCode::TestModePurchaseNonRefundable,
            "Test mode purchases are not refundable.",
            None,
        )
        .into());
    }
    if source == "PURCHASE_PAGE" {
        let quantity: i64 = row.try_get("quantity")?;
        let snapshot: Value =
            serde_json::from_str(&row.try_get::<String, _>("product")?).unwrap_or(Value::Null);
        let price_id: Option<String> = row.try_get("price_id")?;
        let refundable = Refundable {
            project_id,
            purchase_id: id,
            subscription: kind == "subscription",
            quantity,
            charged_cents: charged_cents(&snapshot, price_id.as_deref(), quantity),
        };
        if refunds::refund(state, &refundable, entries, already)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    // Nothing was paid for it through Stripe, so there is no payment to refund.
    Err(not_found.into())
}

/// Whether a listed purchase can be refunded, and if not, why not (for the dashboard, which
/// offers a refund only where [`refund_purchase`] can succeed).
pub struct PurchaseFacts {
    /// `API_GRANT`, `TEST_MODE`, `PURCHASE_PAGE`.
    pub source: String,
    /// None: refundable; else the reason it is not.
    pub not_refundable: Option<&'static str>,
}

/// [`PurchaseFacts`] of each of `ids` that is a purchase of the project, in three reads
/// whatever the count. `stripe_connected`: whether the project has a Stripe account to refund
/// through.
pub async fn purchase_facts(
    state: &Kernel,
    project_id: &str,
    ids: &[&str],
    stripe_connected: bool,
) -> ApiResult<HashMap<String, PurchaseFacts>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, creation_source, refunded_at, kind, product, price_id, quantity FROM purchases
         WHERE project_id = $1 AND id IN ({})",
        crate::store::placeholders(2, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(project_id);
    for id in ids {
        query = query.bind(*id);
    }
    // Every reason but the payment record first; those left need Stripe to have been paid.
    let mut facts = HashMap::new();
    let (mut one_time, mut subscriptions) = (Vec::new(), Vec::new());
    for row in query.fetch_all(state.db()).await? {
        let id: String = row.try_get("id")?;
        let source: String = row.try_get("creation_source")?;
        let not_refundable = if row.try_get::<Option<i64>, _>("refunded_at")?.is_some() {
            Some("Refunded already.")
        } else if source == "API_GRANT" {
            Some("Granted by an admin: nothing was paid.")
        } else if source == "TEST_MODE" {
            Some("Test mode: nothing was paid.")
        } else if source != "PURCHASE_PAGE" {
            Some("Not paid through the checkout.")
        } else if charged_cents(
            &serde_json::from_str(&row.try_get::<String, _>("product")?).unwrap_or(Value::Null),
            row.try_get::<Option<String>, _>("price_id")?.as_deref(),
            row.try_get("quantity")?,
        )
        .is_none()
        {
            Some("Only purchases priced in USD can be refunded here.")
        } else if !stripe_connected {
            Some("Stripe is not connected, so nothing can be paid back.")
        } else {
            if row.try_get::<String, _>("kind")? == "subscription" {
                subscriptions.push(id.clone());
            } else {
                one_time.push(id.clone());
            }
            None
        };
        facts.insert(
            id,
            PurchaseFacts {
                source,
                not_refundable,
            },
        );
    }
    let (one_time, subscriptions): (Vec<&str>, Vec<&str>) = (
        one_time.iter().map(String::as_str).collect(),
        subscriptions.iter().map(String::as_str).collect(),
    );
    let paid = refunds::paid_purchases(state, project_id, &one_time, &subscriptions).await?;
    for id in one_time.iter().chain(&subscriptions) {
        if !paid.contains(*id) {
            if let Some(f) = facts.get_mut(*id) {
                f.not_refundable = Some("Stripe has no payment of it on record.");
            }
        }
    }
    Ok(facts)
}

/// The notes (`description`) of those of manual item changes `ids` that have one.
pub async fn change_notes(
    state: &Kernel,
    project_id: &str,
    ids: &[&str],
) -> ApiResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, description FROM item_changes WHERE project_id = $1 AND id IN ({})",
        crate::store::placeholders(2, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(project_id);
    for id in ids {
        query = query.bind(*id);
    }
    let mut notes = HashMap::new();
    for row in query.fetch_all(state.db()).await? {
        if let Some(note) = row.try_get::<Option<String>, _>("description")? {
            if !note.is_empty() {
                notes.insert(row.try_get("id")?, note);
            }
        }
    }
    Ok(notes)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    customer_type: Option<String>,
    /// The admin SDK's `listTransactions({ customerId })`.
    customer_id: Option<String>,
}

const TYPES: [&str; 6] = [
    "purchase",
    "subscription-cancellation",
    "subscription-renewal",
    "manual-item-quantity-change",
    "chargeback",
    "product-change",
];

/// The product as transactions show it: every included item with `repeat` and `expires`.
fn grant_product_view(snapshot: &Value) -> Value {
    let mut v = product_view(snapshot);
    if let Some(items) = v["included_items"].as_object_mut() {
        for inc in items.values_mut() {
            for (key, default) in [("repeat", "never"), ("expires", "never")] {
                if inc.get(key).is_none() {
                    inc[key] = json!(default);
                }
            }
        }
    }
    v
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    if q.kind.as_deref().is_some_and(|t| !TYPES.contains(&t)) {
        return Err(schema_problem(format!(
            "query.type must be one of: {}",
            TYPES.join(", ")
        )));
    }
    if q.customer_type
        .as_deref()
        .is_some_and(|t| !super::config::CUSTOMER_TYPES.contains(&t))
    {
        return Err(schema_problem(
            "query.customer_type must be one of: user, team, custom",
        ));
    }
    let limit = q
        .limit
        .as_deref()
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 200);
    let filter = Filter {
        kind: q.kind,
        customer_type: q.customer_type,
        customer_id: q.customer_id,
    };
    let (transactions, next_cursor) =
        list_page(&state, auth.pid(), &filter, q.cursor.as_deref(), limit).await?;
    Ok(json_ok(
        json!({ "transactions": transactions, "next_cursor": next_cursor }),
    ))
}

/// Which transactions to list; `None` means any.
#[derive(Default)]
pub struct Filter {
    /// One of `TYPES`.
    pub kind: Option<String>,
    pub customer_type: Option<String>,
    pub customer_id: Option<String>,
}

/// One page of a project's transactions, newest first, and the cursor of the next page.
pub async fn list_page(
    state: &Kernel,
    project_id: &str,
    filter: &Filter,
    cursor: Option<&str>,
    limit: usize,
) -> ApiResult<(Vec<Value>, Option<String>)> {
    let cursor = match cursor {
        None => Position::START,
        Some(c) => Position::parse(c).ok_or_else(|| ApiError::bad_request("Invalid cursor"))?,
    };
    let kind = filter.kind.as_deref();
    let include_purchases = matches!(kind, None | Some("purchase"));
    let include_changes = matches!(kind, None | Some("manual-item-quantity-change"));
    let ctype = filter.customer_type.as_deref().unwrap_or_default();
    let cid = filter.customer_id.as_deref().unwrap_or_default();
    let customer =
        "project_id = $1 AND ($2 = '' OR customer_type = $2) AND ($3 = '' OR customer_id = $3)";
    // Each source gives its first `limit + 1` rows after the cursor; the merge keeps the first
    // `limit + 1` of all, which says whether another page exists.
    type Build = fn(&sqlx::any::AnyRow) -> sqlx::Result<(Position, Value)>;
    let sources: [(bool, &str, &str, Build); 2] = [
        (
            include_purchases,
            "SELECT id, customer_type, customer_id, product_id, price_id, product, quantity, kind, creation_source, created_at, refunded_at FROM purchases",
            PURCHASE_RANK,
            purchase_transaction,
        ),
        (
            include_changes,
            "SELECT id, customer_type, customer_id, item_id, quantity, created_at FROM item_changes",
            CHANGE_RANK,
            change_transaction,
        ),
    ];
    let mut txns: Vec<(Position, Value)> = Vec::new();
    for (wanted, select, rank, build) in sources {
        if !wanted {
            continue;
        }
        let sql = format!(
            "{select} WHERE {customer} AND {}",
            Position::after_sql(rank)
        );
        let query = sqlx::query(&sql).bind(project_id).bind(ctype).bind(cid);
        for r in cursor.bind(query, limit).fetch_all(state.db()).await? {
            txns.push(build(&r)?);
        }
    }
    txns.sort_by(|a, b| b.0.cmp(&a.0));
    let next_cursor = (txns.len() > limit).then(|| txns[limit - 1].0.encode());
    txns.truncate(limit);
    Ok((txns.into_iter().map(|(_, t)| t).collect(), next_cursor))
}

/// Where a transaction sorts: newest first, then by the original's internal id
/// (`sub-start:<id>` > `otp:<id>` > `miqc:<id>` at the same millisecond, then by id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    created_at: i64,
    rank: i64,
    id: String,
}

/// The rank of each internal id prefix, as SQL over the source's row.
const PURCHASE_RANK: &str = "(CASE WHEN kind = 'subscription' THEN 2 ELSE 1 END)";
/// (An expression, not a literal: SQLite reads `ORDER BY 0` as a column number.)
const CHANGE_RANK: &str = "CAST(0 AS INTEGER)";
const PREFIXES: [&str; 3] = ["miqc", "otp", "sub-start"];

impl Position {
    const START: Position = Position {
        created_at: i64::MAX,
        rank: 3,
        id: String::new(),
    };

    fn parse(cursor: &str) -> Option<Position> {
        let v: Value = serde_json::from_slice(&B64.decode(cursor).ok()?).ok()?;
        let (prefix, id) = v["txnId"].as_str()?.split_once(':')?;
        Some(Position {
            created_at: v["createdAtMillis"].as_i64()?,
            rank: PREFIXES.iter().position(|p| *p == prefix)? as i64,
            id: id.to_string(),
        })
    }

    fn encode(&self) -> String {
        let txn_id = format!("{}:{}", PREFIXES[self.rank as usize], self.id);
        B64.encode(json!({ "createdAtMillis": self.created_at, "txnId": txn_id }).to_string())
    }

    /// Rows strictly after a position ($4–$6), in page order, at most $7 of them.
    fn after_sql(rank: &str) -> String {
        format!(
            "(created_at < $4 OR (created_at = $4 AND ({rank} < $5 OR ({rank} = $5 AND id < $6))))
             ORDER BY created_at DESC, {rank} DESC, id DESC LIMIT $7"
        )
    }

    fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        limit: usize,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.created_at)
            .bind(self.rank)
            .bind(self.id.as_str())
            .bind(limit as i64 + 1)
    }
}

fn purchase_transaction(r: &sqlx::any::AnyRow) -> sqlx::Result<(Position, Value)> {
    let id: String = r.try_get("id")?;
    let created_at: i64 = r.try_get("created_at")?;
    let kind: String = r.try_get("kind")?;
    let snapshot: Value =
        serde_json::from_str(&r.try_get::<String, _>("product")?).unwrap_or(Value::Null);
    let (customer_type, customer_id): (String, String) =
        (r.try_get("customer_type")?, r.try_get("customer_id")?);
    let quantity: i64 = r.try_get("quantity")?;
    let mut grant = json!({
        "type": "product_grant",
        "adjusted_transaction_id": null, "adjusted_entry_index": null,
        "customer_type": customer_type, "customer_id": customer_id,
        "product_id": r.try_get::<Option<String>, _>("product_id")?,
        "product": grant_product_view(&snapshot),
        "price_id": r.try_get::<Option<String>, _>("price_id")?,
        "quantity": quantity,
    });
    let subscription = kind == "subscription";
    grant[if subscription {
        "subscription_id"
    } else {
        "one_time_purchase_id"
    }] = json!(id);
    let test_mode = r.try_get::<String, _>("creation_source")? == "TEST_MODE";
    let mut entries = vec![grant];
    let price_id: Option<String> = r.try_get("price_id")?;
    let price = price_id.and_then(|p| snapshot["prices"].get(&p).cloned());
    let charged = charged_amount(price.as_ref(), quantity);
    if !test_mode && !charged.is_empty() {
        let net = charged.get("USD").cloned().unwrap_or_else(|| json!("0"));
        entries.push(json!({
            "type": "money_transfer",
            "adjusted_transaction_id": null, "adjusted_entry_index": null,
            "customer_type": customer_type, "customer_id": customer_id,
            "charged_amount": charged,
            "net_amount": { "USD": net },
        }));
    }
    for (item_id, inc) in snapshot["includedItems"].as_object().into_iter().flatten() {
        entries.push(json!({
            "type": "item_quantity_change",
            "adjusted_transaction_id": null, "adjusted_entry_index": null,
            "customer_type": customer_type, "customer_id": customer_id,
            "item_id": item_id,
            "quantity": inc["quantity"].as_i64().unwrap_or(0) * quantity,
        }));
    }
    let adjusted_by = match r.try_get::<Option<i64>, _>("refunded_at")? {
        Some(_) => json!([{ "transaction_id": format!("{id}:refund"), "entry_index": 0 }]),
        None => json!([]),
    };
    let position = Position {
        created_at,
        rank: if subscription { 2 } else { 1 },
        id: id.clone(),
    };
    Ok((
        position,
        json!({
            "id": id, "created_at_millis": created_at, "effective_at_millis": created_at, "type": "purchase",
            "entries": entries, "adjusted_by": adjusted_by, "test_mode": test_mode,
        }),
    ))
}

/// What a price charged for `quantity` units, per currency (`{"USD": "19.98"}`), leaving out
/// zero amounts, as the original's transaction builder does.
fn charged_amount(price: Option<&Value>, quantity: i64) -> serde_json::Map<String, Value> {
    let mut charged = serde_json::Map::new();
    for (currency, amount) in price.and_then(Value::as_object).into_iter().flatten() {
        let Some(total) = amount.as_str().and_then(|a| multiply_money(a, quantity)) else {
            continue;
        };
        if currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()) && total != "0" {
            charged.insert(currency.clone(), json!(total));
        }
    }
    charged
}

/// `"9.99" × 2 = "19.98"`, exactly in decimal, trailing fraction zeros dropped.
fn multiply_money(amount: &str, by: i64) -> Option<String> {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let digits: i128 = format!("{whole}{frac}").parse().ok()?;
    let product = digits.checked_mul(by as i128)?.to_string();
    let scale = frac.len();
    let padded = format!("{product:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let frac_part = frac_part.trim_end_matches('0');
    Some(if frac_part.is_empty() {
        int_part.to_owned()
    } else {
        format!("{int_part}.{frac_part}")
    })
}

fn change_transaction(r: &sqlx::any::AnyRow) -> sqlx::Result<(Position, Value)> {
    let id: String = r.try_get("id")?;
    let created_at: i64 = r.try_get("created_at")?;
    let position = Position {
        created_at,
        rank: 0,
        id: id.clone(),
    };
    Ok((
        position,
        json!({
            "id": id, "created_at_millis": created_at, "effective_at_millis": created_at, "type": "manual-item-quantity-change",
            "entries": [{
                "type": "item_quantity_change",
                "adjusted_transaction_id": null, "adjusted_entry_index": null,
                "customer_type": r.try_get::<String, _>("customer_type")?, "customer_id": r.try_get::<String, _>("customer_id")?,
                "item_id": r.try_get::<String, _>("item_id")?, "quantity": r.try_get::<i64, _>("quantity")?,
            }],
            "adjusted_by": [], "test_mode": false,
        }),
    ))
}
