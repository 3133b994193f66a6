//! Refunds of purchases paid through our checkout, through Stripe (the original's
//! `internal/payments/transactions/refund`, §5.14 of our reference): the money goes back on the
//! payment (the PaymentIntent, or a subscription's first invoice's), the refunded units are
//! revoked at once, and item balances stay as they are.

use super::connect::connected;
use super::Stripe;
use crate::http::extract::schema_problem;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::config::usd_cents;
use crate::store::{flag, now_ms};
use serde::Deserialize;
use serde_json::Value;
use sqlx::Row;

/// One line of a refund: `entry_index` of the purchase transaction's entries (0 is the product
/// grant), the units to revoke, and the USD amount to give back (`"12.34"`).
#[derive(Deserialize, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundEntry {
    pub entry_index: i64,
    pub quantity: i64,
    pub amount_usd: String,
}

/// A refund entry's money string in cents. Errors: SCHEMA_ERROR for anything else.
fn cents(amount: &str) -> ApiResult<i64> {
    usd_cents(amount)
        .ok_or_else(|| schema_problem("body.refund_entries[].amount_usd must be a money amount"))
}

/// What a refund gives back: units to revoke and cents. The checks and messages are the
/// original's, in its order. `charged_cents` is the USD the purchase charged (None without a
/// USD price).
pub fn check_entries(
    entries: &[RefundEntry],
    purchased: i64,
    charged_cents: Option<i64>,
) -> ApiResult<(i64, i64)> {
    // Entries are [product_grant, money_transfer?]: only index 0 may be refunded.
    let visible = if charged_cents.is_some() { 2 } else { 1 };
    let mut seen = std::collections::BTreeSet::new();
    let (mut quantity, mut amount) = (0i64, 0i64);
    for e in entries {
        if e.quantity < 0 {
            return Err(schema_problem("Refund quantity cannot be negative."));
        }
        if !seen.insert(e.entry_index) {
            return Err(schema_problem(
                "Refund entries cannot contain duplicate entry indexes.",
            ));
        }
        if e.entry_index < 0 || e.entry_index >= visible {
            return Err(schema_problem("Refund entry index is invalid."));
        }
        if e.entry_index != 0 {
            return Err(schema_problem(
                "Refund entries must reference product grant entries.",
            ));
        }
        quantity = quantity.saturating_add(e.quantity);
        if quantity > purchased {
            return Err(schema_problem(
                "Refund quantity cannot exceed purchased quantity.",
            ));
        }
        amount = amount.saturating_add(cents(&e.amount_usd)?);
    }
    let Some(charged) = charged_cents else {
        return Err(schema_problem(
            "Refund amounts can only be specified for USD-priced purchases.",
        ));
    };
    if amount > charged {
        return Err(schema_problem(
            "Refund amount cannot exceed the charged amount.",
        ));
    }
    Ok((quantity, amount))
}

/// The payment a purchase was paid with: its PaymentIntent, or for a subscription the first
/// paid invoice's. None when Stripe has no payment of it on record.
async fn payment_intent_of(
    state: &Kernel,
    stripe: &Stripe,
    project_id: &str,
    purchase_id: &str,
    subscription: bool,
) -> ApiResult<Option<String>> {
    if !subscription {
        return Ok(sqlx::query_scalar(
            "SELECT payment_id FROM stripe_checkouts WHERE project_id = $1 AND purchase_id = $2",
        )
        .bind(project_id)
        .bind(purchase_id)
        .fetch_optional(state.db())
        .await?);
    }
    let Some(row) = sqlx::query(
        "SELECT stripe_invoice_id, payment_intent FROM stripe_invoices
         WHERE project_id = $1 AND purchase_id = $2 AND paid_at IS NOT NULL
         ORDER BY paid_at, created_at LIMIT 1",
    )
    .bind(project_id)
    .bind(purchase_id)
    .fetch_optional(state.db())
    .await?
    else {
        return Ok(None);
    };
    if let Some(intent) = row.try_get::<Option<String>, _>("payment_intent")? {
        return Ok(Some(intent));
    }
    // Newer API versions list an invoice's payments instead of naming one PaymentIntent.
    let id: String = row.try_get("stripe_invoice_id")?;
    let invoice = stripe
        .get(&format!("invoices/{id}?expand[]=payments"))
        .await?;
    let intent = invoice["payment_intent"].as_str().or_else(|| {
        invoice["payments"]["data"]
            .as_array()?
            .iter()
            .find(|p| p["status"] == "paid")?["payment"]["payment_intent"]
            .as_str()
    });
    intent
        .map(|i| Some(i.to_owned()))
        .ok_or_else(|| ApiError::internal("The subscription's first invoice has no payment"))
}

/// Which of the purchases `one_time` and `subscriptions` Stripe has a payment of (a paid
/// checkout, a paid invoice), in one read each: the ones a refund can pay back.
pub async fn paid_purchases(
    state: &Kernel,
    project_id: &str,
    one_time: &[&str],
    subscriptions: &[&str],
) -> ApiResult<std::collections::HashSet<String>> {
    let mut paid = std::collections::HashSet::new();
    for (ids, sql) in [
        (one_time, "SELECT DISTINCT purchase_id FROM stripe_checkouts WHERE project_id = $1 AND payment_id IS NOT NULL AND purchase_id IN"),
        (subscriptions, "SELECT DISTINCT purchase_id FROM stripe_invoices WHERE project_id = $1 AND paid_at IS NOT NULL AND purchase_id IN"),
    ] {
        if ids.is_empty() {
            continue;
        }
        let sql = format!("{sql} ({})", crate::store::placeholders(2, ids.len()));
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(project_id);
        for id in ids {
            query = query.bind(*id);
        }
        paid.extend(query.fetch_all(state.db()).await?);
    }
    Ok(paid)
}

/// A purchase to refund, as the refund route found it.
pub struct Refundable<'a> {
    pub project_id: &'a str,
    pub purchase_id: &'a str,
    pub subscription: bool,
    pub quantity: i64,
    pub charged_cents: Option<i64>,
}

/// Refunds `r` through Stripe. Returns None when Stripe has no payment of it (the caller's
/// not-found error). Errors: the entry checks; text 400 when payments are not set up; 502 from
/// Stripe; the already-refunded error (`already`) when a parallel refund won.
pub async fn refund(
    state: &Kernel,
    r: &Refundable<'_>,
    entries: &[RefundEntry],
    already: ApiError,
) -> ApiResult<Option<()>> {
    let stripe = connected(state, r.project_id).await?;
    let Some(intent) =
        payment_intent_of(state, &stripe, r.project_id, r.purchase_id, r.subscription).await?
    else {
        return Ok(None);
    };
    let (quantity, amount) = check_entries(entries, r.quantity, r.charged_cents)?;
    if amount > 0 {
        // Keyed by purchase: a retry after a failure below refunds once.
        stripe
            .post(
                "refunds",
                &[
                    ("payment_intent", intent),
                    ("amount", amount.to_string()),
                    ("metadata[project_id]", r.project_id.to_owned()),
                    ("metadata[purchase_id]", r.purchase_id.to_owned()),
                ],
                Some(&format!("portcullis-refund-{}", r.purchase_id)),
            )
            .await?;
    }
    let mut cancel = false;
    if r.subscription && quantity > 0 {
        // The refunded units are not billed again: fewer at Stripe, or none after this period.
        let sid: Option<String> = super::subscriptions::stripe_subscription_of(
            &mut *state.db().acquire().await?,
            r.project_id,
            r.purchase_id,
        )
        .await?;
        if let Some(sid) = sid {
            let left = r.quantity - quantity;
            cancel = left == 0;
            let current = stripe.get(&format!("subscriptions/{sid}")).await?;
            let item = current["items"]["data"][0]["id"]
                .as_str()
                .unwrap_or_default();
            let params: Vec<(&str, String)> = if cancel {
                vec![("cancel_at_period_end", "true".to_owned())]
            } else {
                vec![
                    ("items[0][id]", item.to_owned()),
                    ("items[0][quantity]", left.to_string()),
                ]
            };
            stripe
                .post(&format!("subscriptions/{sid}"), &params, None)
                .await?;
        }
    }
    let _turn = state.store.write_turn().await;
    let done = sqlx::query(
        "UPDATE purchases SET refunded_at = $1, refunded_quantity = $2,
            cancel_at_period_end = CASE WHEN $3 = 1 THEN 1 ELSE cancel_at_period_end END
         WHERE project_id = $4 AND id = $5 AND refunded_at IS NULL",
    )
    .bind(now_ms())
    .bind(quantity)
    .bind(flag(cancel))
    .bind(r.project_id)
    .bind(r.purchase_id)
    .execute(state.db())
    .await?;
    if done.rows_affected() == 0 {
        return Err(already);
    }
    Ok(Some(()))
}

/// The USD a purchase charged, in cents: its price's USD amount × units (None without one).
pub fn charged_cents(snapshot: &Value, price_id: Option<&str>, quantity: i64) -> Option<i64> {
    let usd = snapshot["prices"][price_id?]["USD"].as_str()?;
    usd_cents(usd)?.checked_mul(quantity)
}

/// `charge.refunded`: a refund made outside this API (Stripe's dashboard, say). A fully refunded
/// payment revokes its purchase as our refund route does; a partial one only moves money, which
/// Stripe already records. Errors: 400 when the charge's Stripe customer is not the checkout's.
pub async fn refunded_at_stripe(
    tx: &mut sqlx::AnyConnection,
    project_id: &str,
    charge: &Value,
) -> ApiResult<()> {
    let Some(intent) = charge["payment_intent"].as_str() else {
        return Ok(());
    };
    // The payment is a checkout's PaymentIntent, or a subscription invoice's.
    let row = sqlx::query(
        "SELECT c.stripe_customer_id, p.id FROM purchases p
         JOIN stripe_checkouts c ON c.project_id = p.project_id AND c.purchase_id = p.id
         WHERE p.project_id = $1 AND (c.payment_id = $2 OR p.id IN
            (SELECT purchase_id FROM stripe_invoices WHERE project_id = $1 AND payment_intent = $2))",
    )
    .bind(project_id)
    .bind(intent)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let stripe_customer: String = row.try_get("stripe_customer_id")?;
    if charge["customer"].as_str() != Some(stripe_customer.as_str()) {
        return Err(super::webhooks::refused(
            "The charge's Stripe customer does not match the checkout",
        ));
    }
    if charge["refunded"] == true {
        let purchase_id: String = row.try_get("id")?;
        sqlx::query("UPDATE purchases SET refunded_at = $1 WHERE id = $2 AND refunded_at IS NULL")
            .bind(now_ms())
            .bind(purchase_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
