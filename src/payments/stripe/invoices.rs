//! Invoices of the subscriptions bought at our checkout, as Stripe's webhooks report them.
//!
//! - The first paid invoice grants the subscription (`webhooks::grant_checkout`).
//! - A paid `subscription_cycle` invoice renews its included items, once per invoice whichever
//!   of Stripe's events (`invoice.paid`, `invoice.payment_succeeded`) says so first; proration
//!   and other invoices renew nothing (the seed's "reset quota only on subscription_cycle").
//! - Each failed payment counts; the third in a row suspends the subscription (no renewals, no
//!   new purchases for the customer) until an invoice is paid (the seed's "suspend only after
//!   the 3rd failed attempt", leaving Stripe's Smart Retries the soft retries).
//!
//! `GET /payments/invoices/{customer_type}/{customer_id}` lists them (the original's §5.12).

use super::notices::{self, dollars, product_name, Notice};
use super::webhooks::{checkout_of, grant_checkout, refused, Paid};
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::crypto::secret::new_uuid;
use crate::emails::templates::Template;
use crate::http::extract::schema_problem;
use crate::http::{json_ok, ApiError, ApiResult, Query};
use crate::kernel::Kernel;
use crate::payments::{customers, ledger};
use crate::projects::Project;
use crate::store::now_ms;
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

/// Failed payments in a row that suspend a subscription.
pub const SUSPEND_AFTER_FAILURES: i64 = 3;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new().api_route(
        "/payments/invoices/{customer_type}/{customer_id}",
        get(list),
    )
}

/// The subscription an invoice is for (an id, or the expanded object's id).
fn subscription_of(invoice: &Value) -> Option<&str> {
    invoice["subscription"]
        .as_str()
        .or_else(|| invoice["subscription"]["id"].as_str())
        .or_else(|| invoice["parent"]["subscription_details"]["subscription"].as_str())
}

/// The end of the period an invoice pays for (ms): its first line's period (newer API versions
/// carry it only there), else the invoice's own.
fn period_end_ms(invoice: &Value) -> Option<i64> {
    invoice["lines"]["data"][0]["period"]["end"]
        .as_i64()
        .or_else(|| invoice["period_end"].as_i64())
        .map(|s| s * 1000)
}

/// Applies an invoice event (`paid` or a failed payment) of a subscription sold at our
/// checkout. Errors: 400 when the invoice's Stripe customer is not the checkout's (nothing
/// written); 409 when the subscription's checkout or first grant is not recorded yet, so that
/// Stripe delivers the event again later.
pub async fn apply(
    tx: &mut AnyConnection,
    project: &Project,
    invoice: &Value,
    paid: bool,
) -> ApiResult<()> {
    let project_id = project.id.as_str();
    let Some(subscription) = subscription_of(invoice) else {
        return Ok(());
    };
    let customer = invoice["customer"].as_str();
    let Some(checkout) = checkout_of(tx, project_id, subscription).await? else {
        return not_ours_yet(tx, project_id, customer).await;
    };
    if customer != Some(checkout.stripe_customer.as_str()) {
        tracing::warn!(
            subscription,
            "an invoice's Stripe customer is not its checkout's"
        );
        return Err(refused(
            "The invoice's Stripe customer does not match the checkout",
        ));
    }
    let renewal = invoice["billing_reason"] == "subscription_cycle";
    let purchase_id = match checkout.purchase_id {
        Some(id) => id,
        None if paid && !renewal => {
            let paid = Paid {
                payment_id: subscription,
                customer,
                amount: None,
            };
            grant_checkout(tx, project, &paid)
                .await?
                .unwrap_or_default()
        }
        None if !paid => String::new(),
        None => return Err(deliver_later()),
    };
    let stripe_invoice_id = invoice["id"].as_str().unwrap_or_default();
    let was_paid = sqlx::query(
        "SELECT 1 FROM stripe_invoices WHERE project_id = $1 AND stripe_invoice_id = $2 AND paid_at IS NOT NULL",
    )
    .bind(project_id)
    .bind(stripe_invoice_id)
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO stripe_invoices (id, project_id, stripe_invoice_id, subscription_id, purchase_id, customer_type,
            customer_id, billing_reason, status, amount_total, payment_intent, hosted_invoice_url, invoice_pdf,
            period_end, paid_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (project_id, stripe_invoice_id) DO UPDATE SET
            status = CASE WHEN stripe_invoices.paid_at IS NULL THEN excluded.status ELSE stripe_invoices.status END,
            purchase_id = COALESCE(stripe_invoices.purchase_id, excluded.purchase_id),
            amount_total = excluded.amount_total,
            payment_intent = COALESCE(excluded.payment_intent, stripe_invoices.payment_intent),
            hosted_invoice_url = COALESCE(excluded.hosted_invoice_url, stripe_invoices.hosted_invoice_url),
            invoice_pdf = COALESCE(excluded.invoice_pdf, stripe_invoices.invoice_pdf),
            paid_at = COALESCE(stripe_invoices.paid_at, excluded.paid_at)",
    )
    .bind(new_uuid())
    .bind(project_id)
    .bind(stripe_invoice_id)
    .bind(subscription)
    .bind(Some(purchase_id.as_str()).filter(|id| !id.is_empty()))
    .bind(&checkout.customer_type)
    .bind(&checkout.customer_id)
    .bind(invoice["billing_reason"].as_str())
    .bind(if paid { Some("paid") } else { invoice["status"].as_str() })
    .bind(invoice["total"].as_i64().unwrap_or(0))
    .bind(
        invoice["payment_intent"]
            .as_str()
            .or_else(|| invoice["payment_intent"]["id"].as_str()),
    )
    .bind(invoice["hosted_invoice_url"].as_str())
    .bind(invoice["invoice_pdf"].as_str())
    .bind(period_end_ms(invoice))
    .bind(paid.then_some(now))
    .bind(invoice["created"].as_i64().map_or(now, |s| s * 1000))
    .execute(&mut *tx)
    .await?;
    // Paid before: a duplicate, or a failure reported after the payment (out of order).
    if purchase_id.is_empty() || was_paid {
        return Ok(());
    }
    if paid {
        sqlx::query(
            "UPDATE purchases SET failed_payments = 0,
                current_period_end = COALESCE($1, current_period_end) WHERE id = $2",
        )
        .bind(period_end_ms(invoice))
        .bind(&purchase_id)
        .execute(&mut *tx)
        .await?;
        if renewal {
            // The renewal is a new grant in the fold: stored balances are recomputed.
            ledger::forget_balances(
                tx,
                project_id,
                &checkout.customer_type,
                &checkout.customer_id,
            )
            .await?;
            let event = json!({
                "purchase_id": purchase_id,
                "customer_type": checkout.customer_type,
                "customer_id": checkout.customer_id,
                "stripe_invoice_id": stripe_invoice_id,
                "amount_total": invoice["total"],
                "current_period_end_millis": period_end_ms(invoice),
            });
            crate::webhooks::emit(tx, project_id, "payment.subscription_renewed", event).await?;
        }
    } else {
        sqlx::query("UPDATE purchases SET failed_payments = failed_payments + 1 WHERE id = $1")
            .bind(&purchase_id)
            .execute(&mut *tx)
            .await?;
    }
    // A receipt for each paid renewal (the first payment's comes with its grant), a notice for
    // each failed payment.
    let template = match (paid, renewal) {
        (true, true) => Template::PaymentReceipt,
        (true, false) => return Ok(()),
        (false, _) => Template::PaymentFailed,
    };
    let snapshot: Option<String> =
        sqlx::query_scalar("SELECT product FROM purchases WHERE id = $1")
            .bind(&purchase_id)
            .fetch_optional(&mut *tx)
            .await?;
    let product =
        product_name(&serde_json::from_str(&snapshot.unwrap_or_default()).unwrap_or(Value::Null));
    let amount = dollars(invoice["total"].as_i64().unwrap_or(0));
    let variables = if paid {
        json!({ "productName": product, "quantity": 1, "amount": amount,
            "receiptLink": invoice["hosted_invoice_url"] })
    } else {
        json!({ "productName": product, "amount": amount,
            "failureReason": "Please update your payment method.",
            "invoiceUrl": invoice["hosted_invoice_url"] })
    };
    let notice = Notice {
        customer_type: &checkout.customer_type,
        customer_id: &checkout.customer_id,
        template,
        variables,
    };
    notices::queue(tx, project, notice).await?;
    Ok(())
}

fn deliver_later() -> ApiError {
    ApiError::text(
        StatusCode::CONFLICT,
        "This subscription's checkout is not recorded yet; deliver again later",
    )
}

/// An invoice of a subscription we have no checkout for: if its Stripe customer is ours, the
/// webhook outran the checkout's own record (409, for Stripe to redeliver); else it is none of
/// our business.
async fn not_ours_yet(
    tx: &mut AnyConnection,
    project_id: &str,
    customer: Option<&str>,
) -> ApiResult<()> {
    let ours = sqlx::query(
        "SELECT 1 FROM stripe_customers WHERE project_id = $1 AND stripe_customer_id = $2",
    )
    .bind(project_id)
    .bind(customer.unwrap_or_default())
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if ours {
        return Err(deliver_later());
    }
    Ok(())
}

/// Whether the customer has a subscription suspended for failed payments: they may buy nothing
/// until it is paid.
pub async fn suspended(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM purchases WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3
           AND failed_payments >= $4 AND ended_at IS NULL",
    )
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .bind(SUSPEND_AFTER_FAILURES)
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

/// One page of a customer's invoices, newest first: the items and the next page's cursor.
/// Errors: text 400 `Invalid cursor` for a cursor that is not one of the project's invoices.
pub async fn page(
    state: &Kernel,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> ApiResult<(Vec<Value>, Option<String>)> {
    let after = match &cursor {
        None => None,
        Some(c) => {
            let row = sqlx::query(
                "SELECT created_at, id FROM stripe_invoices WHERE project_id = $1 AND id = $2",
            )
            .bind(project_id)
            .bind(c)
            .fetch_optional(state.db())
            .await?
            .ok_or_else(|| ApiError::bad_request("Invalid cursor"))?;
            Some((
                row.try_get::<i64, _>("created_at")?,
                row.try_get::<String, _>("id")?,
            ))
        }
    };
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    let rows = sqlx::query(
        "SELECT id, created_at, status, amount_total, hosted_invoice_url, invoice_pdf FROM stripe_invoices
         WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3
           AND ($4 = 0 OR created_at < $5 OR (created_at = $5 AND id < $6))
         ORDER BY created_at DESC, id DESC LIMIT $7",
    )
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .bind(crate::store::flag(cursor.is_some()))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(state.db())
    .await?;
    let known = ["draft", "open", "paid", "uncollectible", "void"];
    let items = rows
        .iter()
        .map(|r| {
            let status: Option<String> = r.try_get("status")?;
            Ok(json!({
                "created_at_millis": r.try_get::<i64, _>("created_at")?,
                "status": status.filter(|s| known.contains(&s.as_str())),
                "amount_total": r.try_get::<i64, _>("amount_total")?,
                "hosted_invoice_url": r.try_get::<Option<String>, _>("hosted_invoice_url")?,
                "invoice_pdf": r.try_get::<Option<String>, _>("invoice_pdf")?,
            }))
        })
        .collect::<sqlx::Result<Vec<Value>>>()?;
    let next_cursor = if rows.len() as i64 == limit {
        rows.last()
            .map(|r| r.try_get::<String, _>("id"))
            .transpose()?
    } else {
        None
    };
    Ok((items, next_cursor))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// `{items: [{created_at_millis, status, amount_total (cents), hosted_invoice_url}],
/// is_paginated: true, pagination: {next_cursor}}`, newest first. `limit` 1..100 (default 10);
/// `cursor` is an invoice's id from a previous page. Errors: SCHEMA_ERROR for a bad type or
/// limit; text 400 `Invalid cursor`; the client access refusals of the original.
async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((customer_type, customer_id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if customer_type != "user" && customer_type != "team" {
        return Err(schema_problem(
            "params.customer_type must be one of: user, team",
        ));
    }
    let limit = match q.limit.as_deref() {
        None => 10,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| schema_problem("query.limit must be between 1 and 100"))?,
    };
    customers::check_client_access(
        &state,
        auth,
        &customer_type,
        &customer_id,
        "Clients can only manage their own billing.",
    )
    .await?;
    customers::ensure_exists(&state, auth.pid(), &customer_type, &customer_id).await?;
    let (items, next_cursor) = page(
        &state,
        auth.pid(),
        &customer_type,
        &customer_id,
        q.cursor.as_deref(),
        limit,
    )
    .await?;
    Ok(json_ok(json!({
        "items": items,
        "is_paginated": true,
        "pagination": { "next_cursor": next_cursor },
    })))
}
