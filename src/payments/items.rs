//! `payments/items/{customer_type}/{customer_id}/{item_id}`: read a balance, change it.
//! A change that must not overdraw is one conditional write (or, off the fast path, a check and a
//! write under the customer's lock), so concurrent decrements can never take a balance below zero.

use super::config::Item;
use super::Payments;
use super::{
    batch, customers, insufficient_quantity, item_customer_type_mismatch, item_not_found, ledger,
};
use crate::auth::context::{ApiState, Auth, RequestCtx, ANY, TRUSTED};
use crate::http::extract::{query_bool, schema_problem};
use crate::http::{json_ok, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::store::now_ms;
use aide::axum::routing::{get, post};
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
    ApiRouter::new()
        .api_route(
            "/payments/items/{customer_type}/{customer_id}/{item_id}",
            get(read),
        )
        .api_route(
            "/payments/items/{customer_type}/{customer_id}/{item_id}/update-quantity",
            post(update_quantity),
        )
}

/// Checks the item exists for this customer type and the customer exists; returns the item config
/// (ITEM_NOT_FOUND, ITEM_CUSTOMER_TYPE_DOES_NOT_MATCH, or the customer's not-found error).
pub async fn resolve(
    state: &Kernel,
    payments: &Payments,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
    item_id: &str,
) -> ApiResult<Item> {
    customers::check_type(customer_type)?;
    let catalog = payments.catalog(state, project_id).await?;
    let item = catalog
        .item(item_id)
        .cloned()
        .ok_or_else(|| item_not_found(item_id))?;
    let item_type = item.customer_type.as_str();
    if item_type != customer_type {
        return Err(
            item_customer_type_mismatch(item_id, customer_id, item_type, customer_type).into(),
        );
    }
    customers::ensure_exists(state, project_id, customer_type, customer_id).await?;
    Ok(item)
}

/// A client may touch only its own or its teams' items.
async fn check_access(
    state: &Kernel,
    auth: &Auth,
    customer_type: &str,
    customer_id: &str,
) -> ApiResult<()> {
    customers::check_type(customer_type)?;
    customers::check_client_access(
        state,
        auth,
        customer_type,
        customer_id,
        "Clients can only access their own user or team items.",
    )
    .await
}

async fn read(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id, item_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_access(&state, auth, &customer_type, &customer_id).await?;
    let item = resolve(
        &state,
        &payments,
        auth.pid(),
        &customer_type,
        &customer_id,
        &item_id,
    )
    .await?;
    let key = ledger::BalanceKey {
        project_id: auth.pid(),
        customer_type: &customer_type,
        customer_id: &customer_id,
        item_id: &item_id,
    };
    let mut conn = state.db().acquire().await?;
    let now = now_ms();
    let quantity = ledger::load(&mut conn, key, now).await?.state.value_at(now);
    Ok(json_ok(
        json!({ "id": item_id, "display_name": item.display_name, "quantity": quantity }),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateQuery {
    allow_negative: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    delta: i64,
    expires_at: Option<String>,
    description: Option<String>,
}

async fn update_quantity(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path((customer_type, customer_id, item_id)): Path<(String, String, String)>,
    Query(q): Query<UpdateQuery>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    if q.allow_negative.is_none() {
        return Err(schema_problem("query.allow_negative must be defined"));
    }
    let allow_negative = query_bool(&q.allow_negative, "allow_negative")?;
    let expires_at = match &body.expires_at {
        Some(s) => Some(
            parse_timestamp(s)
                .ok_or_else(|| schema_problem("body.expires_at must be an ISO 8601 date"))?,
        ),
        None => None,
    };
    check_access(&state, auth, &customer_type, &customer_id).await?;
    resolve(
        &state,
        &payments,
        auth.pid(),
        &customer_type,
        &customer_id,
        &item_id,
    )
    .await?;
    change_quantity(
        &state,
        &payments,
        batch::Change {
            project_id: auth.pid().to_string(),
            customer_type,
            customer_id,
            item_id,
            delta: body.delta,
            expires_at,
            description: body.description,
            allow_negative,
        },
    )
    .await?;
    Ok(json_ok(json!({})))
}

/// Records a change; without `allow_negative`, refuses one that would leave the balance below zero.
/// A plain stored balance takes the fast path (one conditional write, group-committed); anything
/// else (first use, expiring grants, grants falling due, or a refusal to explain) folds the ledger
/// under the customer's lock.
pub async fn change_quantity(
    state: &Kernel,
    payments: &Payments,
    change: batch::Change,
) -> ApiResult<()> {
    // Refused before the fast path, whose SQL sum must stay within 64 bits.
    ledger::check_change(0, change.delta)?;
    let plain = change.delta <= 0 || change.expires_at.is_none();
    if plain && payments.fast_changes.try_apply(&change).await? {
        crate::webhooks::wake(state);
        return Ok(());
    }
    let key = change.key();
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    ledger::lock_customer(&mut tx, key.project_id, key.customer_type, key.customer_id).await?;
    ledger::lock_balance(&mut tx, key).await?;
    // Read the clock once the locks are held: a purchase granted while this change waited must
    // already be due at `now`, or the fold would count changes that spent it but not the grant.
    let now = now_ms();
    let mut balance = ledger::load(&mut tx, key, now).await?;
    let before = balance.state.value_at(now);
    ledger::check_change(before, change.delta)?;
    if !change.allow_negative && before + change.delta < 0 {
        return Err(insufficient_quantity(key.item_id, key.customer_id, change.delta).into());
    }
    balance.state.apply(&ledger::Change {
        at: now,
        quantity: change.delta,
        expires_at: change.expires_at.filter(|_| change.delta > 0),
    });
    ledger::save(&mut tx, key, &balance).await?;
    batch::record(&mut tx, &[&change], now).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(())
}

/// Milliseconds since the epoch of `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let num = |x: &str| -> Option<i64> {
        if x.bytes().all(|b| b.is_ascii_digit()) && !x.is_empty() {
            x.parse().ok()
        } else {
            None
        }
    };
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut ms = days * 86_400_000;
    if let Some(t) = time {
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, off) = t.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (c, sign * (num(oh)? * 3_600_000 + num(om)? * 60_000))
        } else {
            return None;
        };
        let mut parts = clock.split(':');
        let h = num(parts.next()?)?;
        let min = num(parts.next()?)?;
        let (sec, frac) = match parts.next() {
            Some(sec) => match sec.split_once('.') {
                Some((s, f)) => (num(s)?, num(&format!("{f:0<3}")[..3])?),
                None => (num(sec)?, 0),
            },
            None => (0, 0),
        };
        if h > 23 || min > 59 || sec > 60 {
            return None;
        }
        ms += h * 3_600_000 + min * 60_000 + sec * 1000 + frac - offset_ms;
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(
            super::parse_timestamp("2024-02-29T12:30:00Z"),
            Some(1_709_209_800_000)
        );
        assert_eq!(
            super::parse_timestamp("2024-02-29T12:30:00.5+01:00"),
            Some(1_709_206_200_500)
        );
        assert_eq!(super::parse_timestamp("2024-13-01"), None);
        assert_eq!(super::parse_timestamp("tomorrow"), None);
    }
}
