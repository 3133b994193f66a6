//! Paid checkout on Stripe, in two steps that work the same on Stripe and on localstripe:
//!
//! 1. `purchase-session` checks the purchase, makes our customer a Stripe customer and opens a
//!    SetupIntent for them; its `client_secret` lets the checkout page collect the card with
//!    Stripe.js in place (`confirmCardSetup`).
//! 2. `purchase-session/charge` (ours) reads the SetupIntent back from Stripe: only a succeeded
//!    one of this customer and this purchase code charges the card (a PaymentIntent, confirmed
//!    off-session, idempotent per SetupIntent). The purchase code is spent there.
//!
//! The product is granted only when Stripe's signed `payment_intent.succeeded` webhook arrives
//! (`webhooks`), never on the browser's word.

use super::Stripe;
use crate::crypto::secret::{new_uuid, sha256_hex};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::config::{interval_ms, usd_cents};
use crate::payments::products::{purchases_of, validate_purchase, Chosen};
use crate::store::now_ms;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// What a purchase code names: the project, the customer and the product snapshot.
pub struct Purchase<'a> {
    pub project_id: &'a str,
    pub customer_type: &'a str,
    pub customer_id: &'a str,
    pub chosen: &'a Chosen,
    /// The purchase code (lower case), kept only as a hash in Stripe's metadata.
    pub code: &'a str,
}

/// A price's USD amount in cents. Errors: 400 for a price without a positive USD amount
/// (other currencies are not charged through Stripe yet).
fn price_cents(price: &Value) -> ApiResult<i64> {
    let text = price["USD"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("This price has no USD amount to charge"))?;
    usd_cents(text)
        .filter(|c| *c > 0)
        .ok_or_else(|| ApiError::bad_request("This price has no positive USD amount"))
}

/// The customer's Stripe customer id, created on first use (idempotently: two racing checkouts
/// get the same Stripe customer through the idempotency key, and one row).
pub async fn stripe_customer(
    state: &Kernel,
    stripe: &Stripe,
    p: &CustomerRef<'_>,
) -> ApiResult<String> {
    if let Some(id) = known_stripe_customer(state, p).await? {
        return Ok(id);
    }
    let key = format!(
        "portcullis-customer-{}",
        sha256_hex(&format!(
            "{}:{}:{}",
            p.project_id, p.customer_type, p.customer_id
        ))
    );
    let created = stripe
        .post(
            "customers",
            &[
                ("metadata[project_id]", p.project_id.to_owned()),
                ("metadata[customer_type]", p.customer_type.to_owned()),
                ("metadata[customer_id]", p.customer_id.to_owned()),
            ],
            Some(&key),
        )
        .await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| ApiError::internal("Stripe created a customer without an id"))?;
    sqlx::query(
        "INSERT INTO stripe_customers (id, project_id, customer_type, customer_id, stripe_customer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project_id, customer_type, customer_id) DO NOTHING",
    )
    .bind(new_uuid())
    .bind(p.project_id)
    .bind(p.customer_type)
    .bind(p.customer_id)
    .bind(id)
    .bind(now_ms())
    .execute(state.db())
    .await?;
    known_stripe_customer(state, p)
        .await?
        .ok_or_else(|| ApiError::internal("The Stripe customer just recorded is missing"))
}

/// The Stripe customer already made for one of ours, if any.
pub async fn known_stripe_customer(
    state: &Kernel,
    c: &CustomerRef<'_>,
) -> ApiResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT stripe_customer_id FROM stripe_customers WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3",
    )
    .bind(c.project_id)
    .bind(c.customer_type)
    .bind(c.customer_id)
    .fetch_optional(state.db())
    .await?)
}

/// One of our customers, as Stripe's customer metadata names them.
pub struct CustomerRef<'a> {
    pub project_id: &'a str,
    pub customer_type: &'a str,
    pub customer_id: &'a str,
}

impl Purchase<'_> {
    fn customer(&self) -> CustomerRef<'_> {
        CustomerRef {
            project_id: self.project_id,
            customer_type: self.customer_type,
            customer_id: self.customer_id,
        }
    }
}

/// What a price charges: cents per unit, and for a subscription its interval
/// (`(count, "day" | "week" | "month" | "year")`, Stripe's units).
pub struct Charge {
    unit_cents: i64,
    interval: Option<(i64, String)>,
    /// A subscription's free trial (`freeTrial: [count, unit]`), in days as Stripe takes it.
    trial_days: Option<i64>,
}

impl Charge {
    /// Errors: 400 for a price without a positive USD amount or with an interval Stripe cannot
    /// bill.
    pub fn of(price: &Value) -> ApiResult<Charge> {
        let unit_cents = price_cents(price)?;
        let interval = match &price["interval"] {
            Value::Array(parts) => {
                let count = parts.first().and_then(Value::as_i64).unwrap_or(1);
                let unit = parts.get(1).and_then(Value::as_str).unwrap_or_default();
                if !matches!(unit, "day" | "week" | "month" | "year") || count < 1 {
                    return Err(ApiError::bad_request(
                        "Stripe cannot bill this price's interval",
                    ));
                }
                Some((count, unit.to_owned()))
            }
            _ => None,
        };
        // Stripe takes a trial in days; the catalog's units are fixed lengths (month = 30 days).
        let trial_days = interval_ms(&price["freeTrial"])
            .map(|ms| ms / 86_400_000)
            .filter(|d| *d > 0);
        Ok(Charge {
            unit_cents,
            interval,
            trial_days,
        })
    }
}

/// Checks the purchase as the grant will (rules, price, quantity) and returns what it charges.
/// Errors: the purchase rules' errors; 400 for a price without a USD amount, an interval Stripe
/// cannot bill, or a total too large; 402 while a subscription of the customer is suspended.
async fn check(
    state: &Kernel,
    p: &Purchase<'_>,
    price_id: &str,
    quantity: i64,
) -> ApiResult<Charge> {
    let mut conn = state.db().acquire().await?;
    let owned = purchases_of(&mut conn, p.project_id, p.customer_type, p.customer_id).await?;
    if super::invoices::suspended(&mut conn, p.project_id, p.customer_type, p.customer_id).await? {
        return Err(ApiError::text(
            StatusCode::PAYMENT_REQUIRED,
            "A subscription of this customer is suspended for failed payments; update the payment method to buy more",
        ));
    }
    drop(conn);
    let (price, _) = validate_purchase(
        p.chosen,
        Some(price_id),
        quantity,
        &owned,
        p.customer_id,
        now_ms(),
    )?;
    let (_, price) = price.ok_or_else(|| ApiError::bad_request("This product has no price"))?;
    let charge = Charge::of(&price)?;
    charge
        .unit_cents
        .checked_mul(quantity)
        .ok_or_else(|| ApiError::bad_request("The amount is too large"))?;
    Ok(charge)
}

/// The Stripe plan for a recurring price, made once: its id is derived from what it bills, so
/// a changed price gets a new plan and never alters what existing subscribers pay.
pub async fn plan_for(
    stripe: &Stripe,
    project_id: &str,
    chosen: &Chosen,
    price_id: &str,
    charge: &Charge,
) -> ApiResult<String> {
    let (count, unit) = charge.interval.clone().unwrap_or((1, "month".to_owned()));
    let fingerprint = format!(
        "{project_id}|{}|{price_id}|{}|{count}|{unit}",
        chosen.product_id.as_deref().unwrap_or("inline"),
        charge.unit_cents
    );
    let id = format!("portcullis_{}", &sha256_hex(&fingerprint)[..32]);
    if stripe.find(&format!("plans/{id}")).await?.is_some() {
        return Ok(id);
    }
    let name = chosen.snapshot["displayName"]
        .as_str()
        .unwrap_or("Subscription")
        .to_owned();
    stripe
        .post(
            "plans",
            &[
                ("id", id.clone()),
                ("amount", charge.unit_cents.to_string()),
                ("currency", "usd".to_owned()),
                ("interval", unit),
                ("interval_count", count.to_string()),
                ("product[name]", name),
            ],
            Some(&format!("{id}-create")),
        )
        .await?;
    Ok(id)
}

/// Step 1: `{"client_secret"}` of a SetupIntent for the customer's card.
/// Errors: those of [`check`]; 502 when Stripe refuses or cannot be reached.
pub async fn open(
    state: &Kernel,
    stripe: &Stripe,
    p: &Purchase<'_>,
    price_id: &str,
    quantity: i64,
) -> ApiResult<String> {
    check(state, p, price_id, quantity).await?;
    let customer = stripe_customer(state, stripe, &p.customer()).await?;
    let intent = stripe
        .post(
            "setup_intents",
            &[
                ("customer", customer),
                ("usage", "off_session".to_owned()),
                ("payment_method_types[]", "card".to_owned()),
                ("metadata[project_id]", p.project_id.to_owned()),
                ("metadata[purchase_code_hash]", sha256_hex(p.code)),
            ],
            None,
        )
        .await?;
    intent["client_secret"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::internal("Stripe sent a SetupIntent without a client secret"))
}

/// Step 2: charges the card the SetupIntent (`client_secret` from step 1) collected, and
/// records the checkout the webhook grants. Returns the PaymentIntent's id and status.
/// Errors: 400 when the SetupIntent has not succeeded or belongs to another customer or
/// purchase; those of [`check`]; 502 from Stripe (a declined card among them).
pub async fn charge(
    state: &Kernel,
    stripe: &Stripe,
    p: &Purchase<'_>,
    price_id: &str,
    quantity: i64,
    client_secret: &str,
) -> ApiResult<(String, String)> {
    let charge = check(state, p, price_id, quantity).await?;
    let amount = charge.unit_cents * quantity;
    let setup_id = client_secret
        .split_once("_secret_")
        .map(|(id, _)| id)
        .filter(|id| id.starts_with("seti_") && id[5..].chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| ApiError::bad_request("client_secret is not a SetupIntent's"))?;
    let not_ours = || ApiError::bad_request("This card setup does not belong to this purchase");
    let setup = stripe
        .find(&format!("setup_intents/{setup_id}"))
        .await?
        .ok_or_else(not_ours)?;
    let customer = stripe_customer(state, stripe, &p.customer()).await?;
    // The browser names the SetupIntent; Stripe's copy decides whether it is this purchase's.
    let ours = setup["client_secret"] == client_secret
        && setup["customer"] == customer.as_str()
        && setup["metadata"]["purchase_code_hash"] == sha256_hex(p.code).as_str();
    if !ours {
        return Err(not_ours());
    }
    if setup["status"] != "succeeded" {
        return Err(ApiError::bad_request(
            "The card has not been set up yet (confirm it with Stripe first)",
        ));
    }
    let payment_method = setup["payment_method"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let idempotency = format!("portcullis-charge-{setup_id}");
    let record = Record {
        purchase: p,
        stripe_customer: &customer,
        price_id,
        quantity,
        amount,
    };
    if charge.interval.is_some() {
        // A subscription: the card pays its invoices (this one and the renewals).
        let plan = plan_for(stripe, p.project_id, p.chosen, price_id, &charge).await?;
        stripe
            .post(
                &format!("customers/{customer}"),
                &[("invoice_settings[default_payment_method]", payment_method)],
                None,
            )
            .await?;
        let mut params = vec![
            ("customer", customer.clone()),
            ("items[0][plan]", plan),
            ("items[0][quantity]", quantity.to_string()),
            ("metadata[project_id]", p.project_id.to_owned()),
            ("metadata[price_id]", price_id.to_owned()),
        ];
        // A trial's first invoice is for nothing; it is paid at once and grants the product.
        if let Some(days) = charge.trial_days {
            params.push(("trial_period_days", days.to_string()));
        }
        let subscription = stripe
            .post("subscriptions", &params, Some(&idempotency))
            .await?;
        let id = subscription["id"]
            .as_str()
            .ok_or_else(|| ApiError::internal("Stripe sent a subscription without an id"))?;
        record_checkout(state, &record, id).await?;
        let status = subscription["status"].as_str().unwrap_or("incomplete");
        return Ok((id.to_owned(), status.to_owned()));
    }
    let intent = stripe
        .post(
            "payment_intents",
            &[
                ("amount", amount.to_string()),
                ("currency", "usd".to_owned()),
                ("customer", customer.clone()),
                ("payment_method", payment_method),
                ("metadata[project_id]", p.project_id.to_owned()),
                ("metadata[customer_type]", p.customer_type.to_owned()),
                ("metadata[customer_id]", p.customer_id.to_owned()),
                ("metadata[price_id]", price_id.to_owned()),
            ],
            Some(&idempotency),
        )
        .await?;
    let payment_id = intent["id"]
        .as_str()
        .ok_or_else(|| ApiError::internal("Stripe sent a PaymentIntent without an id"))?
        .to_owned();
    // Recorded before confirming, so the webhook that follows the charge always finds it.
    record_checkout(state, &record, &payment_id).await?;
    let confirmed = stripe
        .post(&format!("payment_intents/{payment_id}/confirm"), &[], None)
        .await?;
    let status = confirmed["status"]
        .as_str()
        .unwrap_or("processing")
        .to_owned();
    Ok((payment_id, status))
}

/// A checkout the webhook will grant: the purchase and what Stripe is to be paid for it.
struct Record<'a> {
    purchase: &'a Purchase<'a>,
    stripe_customer: &'a str,
    price_id: &'a str,
    quantity: i64,
    amount: i64,
}

/// Records the checkout under its Stripe payment (PaymentIntent or subscription id) and spends
/// the purchase code in the same transaction: a code pays once.
/// Errors: VERIFICATION_CODE_NOT_FOUND when the code was spent meanwhile.
async fn record_checkout(state: &Kernel, r: &Record<'_>, payment_id: &str) -> ApiResult<()> {
    let p = r.purchase;
    let mut tx = state.db().begin().await?;
    let spent =
        sqlx::query("DELETE FROM verification_codes WHERE project_id = $1 AND code_hash = $2")
            .bind(p.project_id)
            .bind(sha256_hex(p.code))
            .execute(&mut *tx)
            .await?;
    if spent.rows_affected() != 1 {
        return Err(crate::codes::not_found().into());
    }
    sqlx::query(
        "INSERT INTO stripe_checkouts (payment_id, project_id, customer_type, customer_id, stripe_customer_id,
            product_id, product, price_id, quantity, amount_cents, code_hash, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12)",
    )
    .bind(payment_id)
    .bind(p.project_id)
    .bind(p.customer_type)
    .bind(p.customer_id)
    .bind(r.stripe_customer)
    .bind(p.chosen.product_id.as_deref())
    .bind(p.chosen.snapshot.to_string())
    .bind(r.price_id)
    .bind(r.quantity)
    .bind(r.amount)
    .bind(sha256_hex(p.code))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The answer of step 2: `{"payment_intent_id", "status"}` for a one-time price,
/// `{"subscription_id", "status"}` for a recurring one.
pub fn charge_json(payment_id: &str, status: &str) -> Value {
    if payment_id.starts_with("sub_") {
        json!({ "subscription_id": payment_id, "status": status })
    } else {
        json!({ "payment_intent_id": payment_id, "status": status })
    }
}

/// Where the checkout a purchase code (`<project_id>_<code>`) paid for stands: `"pending"` until
/// Stripe's webhook grants it, then `"succeeded"` (or `"failed"`); None before it was charged.
pub async fn status_of(state: &Kernel, full_code: &str) -> ApiResult<Option<String>> {
    let Some((project_id, code)) = full_code.split_once('_') else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar(
        "SELECT status FROM stripe_checkouts WHERE project_id = $1 AND code_hash = $2",
    )
    .bind(project_id)
    .bind(sha256_hex(&code.to_ascii_lowercase()))
    .fetch_optional(state.db())
    .await?)
}
