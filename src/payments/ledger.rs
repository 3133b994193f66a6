//! Item balances as a ledger: quantity = fold of immutable changes (manual changes, and the grants
//! owned products include, with their repeats and expiries) up to now. Time (repeats, expiries)
//! needs no scheduler: a read at `now` folds exactly the events due by then. Stored balances
//! (`item_balances`) cache the fold so a read or a spend need not replay the history.

use super::config::interval_ms;
use crate::http::extract::schema_problem;
use crate::http::ApiResult;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// The largest quantity a balance, a change or a grant may hold: 2^53 − 1, the largest integer
/// JavaScript clients read exactly (`Number.MAX_SAFE_INTEGER`). Stored balances and changes stay
/// within ±this, so the sum of one of each can never overflow 64 bits, in SQL or here.
pub const MAX_QUANTITY: i64 = 9_007_199_254_740_991;

/// Errors: SCHEMA_ERROR unless `quantity` (units bought) is between 1 and [`MAX_QUANTITY`].
pub fn check_units(quantity: i64) -> ApiResult<i64> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(schema_problem(format!(
            "body.quantity must be between 1 and {MAX_QUANTITY}"
        )))
    }
}

/// Errors: SCHEMA_ERROR when `quantity` units of the product `snapshot` would grant more than
/// [`MAX_QUANTITY`] of an item at once.
pub fn check_grants_fit(snapshot: &Value, quantity: i64) -> ApiResult<()> {
    let Some(items) = snapshot["includedItems"].as_object() else {
        return Ok(());
    };
    for (item_id, inc) in items {
        let each = inc["quantity"].as_i64().unwrap_or(0);
        if each
            .checked_mul(quantity)
            .is_none_or(|q| q.abs() > MAX_QUANTITY)
        {
            return Err(schema_problem(format!(
                "body.quantity is too large: {quantity} units would grant more than {MAX_QUANTITY} of item {item_id}"
            )));
        }
    }
    Ok(())
}

/// Errors: SCHEMA_ERROR when `delta` or the balance it leaves is beyond ±[`MAX_QUANTITY`] (a
/// change that brings a balance closer to zero is always allowed).
pub fn check_change(before: i64, delta: i64) -> ApiResult<()> {
    let within = |q: i64| (-MAX_QUANTITY..=MAX_QUANTITY).contains(&q);
    match before.checked_add(delta) {
        Some(after) if within(delta) && (within(after) || after.abs() < before.abs()) => Ok(()),
        _ => Err(schema_problem(format!(
            "body.delta would take the balance beyond the largest quantity ({MAX_QUANTITY}); it is {before}"
        ))),
    }
}

/// One change to a balance: `quantity` at time `at`; a positive one may expire.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: i64,
    pub quantity: i64,
    pub expires_at: Option<i64>,
}

/// The running state of a balance: live grants (remaining, expiry) and debt (≤ 0).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    grants: Vec<(i64, Option<i64>)>,
    debt: i64,
}

impl State {
    /// Applies one change (changes must come in time order). Grants are consumed soonest-expiring
    /// first, what cannot be covered is debt (paid off by later grants), and expiry drops only what
    /// remains of a grant.
    pub fn apply(&mut self, c: &Change) {
        self.grants.retain(|(_, e)| e.is_none_or(|e| e > c.at));
        if c.quantity > 0 {
            if c.expires_at.is_some_and(|e| e <= c.at) {
                return;
            }
            let x = c.quantity.saturating_add(self.debt);
            self.debt = x.min(0);
            if x > 0 {
                self.grants.push((x, c.expires_at));
            }
        } else if c.quantity < 0 {
            let mut need = c.quantity.saturating_neg();
            self.grants.sort_by_key(|(_, e)| e.unwrap_or(i64::MAX));
            for g in self.grants.iter_mut() {
                let take = need.min(g.0);
                g.0 -= take;
                need -= take;
                if need == 0 {
                    break;
                }
            }
            self.grants.retain(|(r, _)| *r > 0);
            self.debt = self.debt.saturating_sub(need);
        }
    }

    /// The balance at `now`, within ±[`MAX_QUANTITY`] (repeating grants can outgrow it over
    /// time; the sum saturates there, never overflows, and stays exact for JavaScript clients).
    pub fn value_at(&self, now: i64) -> i64 {
        self.grants
            .iter()
            .filter(|(_, e)| e.is_none_or(|e| e > now))
            .fold(self.debt, |sum, (r, _)| sum.saturating_add(*r))
            .clamp(-MAX_QUANTITY, MAX_QUANTITY)
    }

    /// A balance none of whose live grants expires is just a number.
    pub fn plain(quantity: i64) -> State {
        State {
            grants: if quantity > 0 {
                vec![(quantity, None)]
            } else {
                vec![]
            },
            debt: quantity.min(0),
        }
    }

    /// The number this state is, if no live grant expires.
    pub fn plain_value(&self) -> Option<i64> {
        self.grants.iter().all(|(_, e)| e.is_none()).then(|| {
            self.grants
                .iter()
                .fold(self.debt, |sum, (r, _)| sum.saturating_add(*r))
        })
    }

    fn apply_all(&mut self, mut changes: Vec<Change>, now: i64) {
        changes.retain(|c| c.at <= now);
        changes.sort_by_key(|c| c.at);
        for c in &changes {
            self.apply(c);
        }
    }
}

/// The balance at `now` of a whole history (what `load` computes incrementally).
#[cfg(test)]
pub fn fold(changes: Vec<Change>, now: i64) -> i64 {
    let mut state = State::default();
    state.apply_all(changes, now);
    state.value_at(now)
}

/// A purchase as the ledger needs it.
pub struct Holding {
    pub product: Value,
    pub quantity: i64,
    pub is_subscription: bool,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    /// For a subscription Stripe bills: when each renewal after the first was paid (ms, in
    /// order). Its repeating items are granted then, not by the clock (the seed's lesson: only a
    /// paid `subscription_cycle` invoice renews them). `None` for purchases that repeat by time.
    pub paid_renewals: Option<Vec<i64>>,
}

/// When a purchase's repeating item is granted again after `at`: `repeat` ms later, or for a
/// subscription Stripe bills at its next paid renewal (None until one is paid).
fn next_grant(h: &Holding, repeat: Option<i64>, at: i64) -> Option<i64> {
    let repeat = repeat?;
    match &h.paid_renewals {
        Some(paid) => paid.iter().copied().find(|t| *t > at),
        None => Some(at + repeat),
    }
}

/// Every grant of `item_id` a purchase includes, in time order: one per repeat (or paid
/// renewal) while the purchase lasts, each expiring by its policy (`never`,
/// `when-purchase-expires`, `when-repeated`).
fn grant_schedule<'a>(h: &'a Holding, item_id: &str) -> impl Iterator<Item = Change> + 'a {
    let inc = &h.product["includedItems"][item_id];
    let amount = inc.get("quantity").and_then(Value::as_i64).map(|q| {
        q.saturating_mul(h.quantity)
            .clamp(-MAX_QUANTITY, MAX_QUANTITY)
    });
    let repeat = interval_ms(&inc["repeat"]).filter(|r| *r > 0);
    let end = if h.is_subscription { h.ended_at } else { None };
    // Snapshots of inline products leave `expires` out: it means never.
    let policy = inc
        .get("expires")
        .and_then(Value::as_str)
        .unwrap_or("never");
    let first = amount.map(|_| h.created_at);
    std::iter::successors(first, move |at| next_grant(h, repeat, *at))
        .take_while(move |at| end.is_none_or(|e| *at < e))
        .take(100_000)
        .map(move |at| {
            let next = next_grant(h, repeat, at);
            let expires_at = match policy {
                "when-purchase-expires" => end,
                "when-repeated" => match (next, end) {
                    (Some(n), Some(e)) => Some(n.min(e)),
                    (Some(n), None) => Some(n),
                    (None, e) => e,
                },
                _ => None,
            };
            Change {
                at,
                quantity: amount.unwrap_or(0),
                expires_at,
            }
        })
}

/// The grants of `item_id` a purchase has made by `now`.
pub fn included_grants(h: &Holding, item_id: &str, now: i64) -> Vec<Change> {
    grant_schedule(h, item_id)
        .take_while(|c| c.at <= now)
        .collect()
}

/// One balance: one item of one customer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BalanceKey<'a> {
    pub project_id: &'a str,
    pub customer_type: &'a str,
    pub customer_id: &'a str,
    pub item_id: &'a str,
}

/// A balance folded up to `as_of`; no included grant falls due before `settled_until`.
pub struct Balance {
    pub state: State,
    pub as_of: i64,
    pub settled_until: i64,
}

const BALANCE_KEY: &str =
    "project_id = $1 AND customer_type = $2 AND customer_id = $3 AND item_id = $4";

fn bind_key<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    key: BalanceKey<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(key.project_id)
        .bind(key.customer_type)
        .bind(key.customer_id)
        .bind(key.item_id)
}

/// The balance at `now`: the stored fold plus the grants due since (none while it is settled),
/// or, with nothing stored, the fold of the whole history. Read on the caller's connection, so
/// inside a transaction it sees that transaction's view.
pub async fn load(
    conn: &mut AnyConnection,
    key: BalanceKey<'_>,
    now: i64,
) -> sqlx::Result<Balance> {
    let sql = format!(
        "SELECT as_of, quantity, state, settled_until FROM item_balances WHERE {BALANCE_KEY}"
    );
    let stored = bind_key(sqlx::query(&sql), key)
        .fetch_optional(&mut *conn)
        .await?;
    let mut due = Vec::new();
    let mut balance = match stored {
        Some(r) => Balance {
            state: match r.try_get::<Option<i64>, _>("quantity")? {
                Some(q) => State::plain(q),
                None => r
                    .try_get::<Option<String>, _>("state")?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default(),
            },
            as_of: r.try_get("as_of")?,
            settled_until: r.try_get("settled_until")?,
        },
        None => {
            let sql = format!(
                "SELECT quantity, expires_at, created_at FROM item_changes WHERE {BALANCE_KEY}"
            );
            for r in bind_key(sqlx::query(&sql), key)
                .fetch_all(&mut *conn)
                .await?
            {
                let quantity: i64 = r.try_get("quantity")?;
                due.push(Change {
                    // A recorded change has happened, whatever another replica's clock said.
                    at: r.try_get::<i64, _>("created_at")?.min(now),
                    quantity,
                    // Negative changes are permanent whatever their expiry says.
                    expires_at: if quantity > 0 {
                        r.try_get("expires_at")?
                    } else {
                        None
                    },
                });
            }
            Balance {
                state: State::default(),
                as_of: i64::MIN,
                settled_until: i64::MIN,
            }
        }
    };
    if balance.settled_until <= now {
        let holdings = holdings(conn, key.project_id, key.customer_type, key.customer_id).await?;
        let mut next_due = i64::MAX;
        for h in &holdings {
            let mut schedule = grant_schedule(h, key.item_id).skip_while(|c| c.at <= balance.as_of);
            for c in schedule.by_ref() {
                if c.at > now {
                    next_due = next_due.min(c.at);
                    break;
                }
                due.push(c);
            }
        }
        balance.settled_until = next_due;
    }
    balance.state.apply_all(due, now);
    balance.as_of = balance.as_of.max(now);
    Ok(balance)
}

/// Stores `balance`. Only the holder of the customer's lock may call this, after recording every
/// change the balance folds.
pub async fn save(
    conn: &mut AnyConnection,
    key: BalanceKey<'_>,
    balance: &Balance,
) -> sqlx::Result<()> {
    // Beyond the bound (old histories) the balance is kept as a state, off the fast path, whose
    // SQL sum must not overflow.
    let plain = balance
        .state
        .plain_value()
        .filter(|q| q.abs() <= MAX_QUANTITY);
    let state = match plain {
        Some(_) => None,
        None => Some(serde_json::to_string(&balance.state).unwrap_or_default()),
    };
    bind_key(
        sqlx::query(
            "INSERT INTO item_balances (project_id, customer_type, customer_id, item_id, as_of, quantity, state, settled_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (project_id, customer_type, customer_id, item_id)
             DO UPDATE SET as_of = $5, quantity = $6, state = $7, settled_until = $8",
        ),
        key,
    )
    .bind(balance.as_of)
    .bind(plain)
    .bind(state)
    .bind(balance.settled_until)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The fast path: adds `delta` (a spend, or a grant that never expires) to a stored plain balance
/// in one conditional write. It applies only while no live grant expires and no included grant
/// falls due, and, unless `allow_negative`, only if the result stays at or above zero. Returns
/// whether it applied; if not, nothing was written and the caller takes the general path.
pub async fn try_add_plain(
    conn: &mut AnyConnection,
    key: BalanceKey<'_>,
    delta: i64,
    now: i64,
    allow_negative: bool,
) -> sqlx::Result<bool> {
    let sql = format!(
        "UPDATE item_balances SET quantity = quantity + $5, as_of = CASE WHEN as_of > $6 THEN as_of ELSE $6 END
         WHERE {BALANCE_KEY} AND quantity IS NOT NULL AND settled_until > $6 AND ($7 = 1 OR quantity + $5 >= 0)
           AND quantity + $5 BETWEEN -{MAX_QUANTITY} AND {MAX_QUANTITY}"
    );
    let done = bind_key(sqlx::query(&sql), key)
        .bind(delta)
        .bind(now)
        .bind(crate::store::flag(allow_negative))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// `try_add_plain` for several distinct balances in one statement (a join with the list of
/// changes). Returns the positions in `changes` that applied.
pub async fn try_add_plain_each(
    conn: &mut AnyConnection,
    changes: &[&super::batch::Change],
    now: i64,
) -> sqlx::Result<Vec<usize>> {
    // $1 is now; each change brings its key, delta and allow_negative. VALUES columns are named
    // column1… in both dialects.
    const FIELDS: usize = 6;
    let rows: Vec<String> = (0..changes.len())
        .map(|i| {
            let n = |k: usize| 2 + i * FIELDS + k;
            format!(
                "(${}, ${}, ${}, ${}, CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                n(0),
                n(1),
                n(2),
                n(3),
                n(4),
                n(5)
            )
        })
        .collect();
    let sql = format!(
        "UPDATE item_balances AS b SET quantity = b.quantity + v.column5,
             as_of = CASE WHEN b.as_of > $1 THEN b.as_of ELSE $1 END
         FROM (VALUES {}) AS v
         WHERE b.project_id = v.column1 AND b.customer_type = v.column2 AND b.customer_id = v.column3
           AND b.item_id = v.column4 AND b.quantity IS NOT NULL AND b.settled_until > $1
           AND (v.column6 = 1 OR b.quantity + v.column5 >= 0)
           AND b.quantity + v.column5 BETWEEN -{MAX_QUANTITY} AND {MAX_QUANTITY}
         RETURNING project_id, customer_type, customer_id, item_id",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(now);
    for c in changes {
        q = q
            .bind(c.project_id.as_str())
            .bind(c.customer_type.as_str())
            .bind(c.customer_id.as_str())
            .bind(c.item_id.as_str())
            .bind(c.delta)
            .bind(crate::store::flag(c.allow_negative));
    }
    let mut done = Vec::new();
    for r in q.fetch_all(&mut *conn).await? {
        let key = (
            r.try_get::<String, _>(0)?,
            r.try_get::<String, _>(1)?,
            r.try_get::<String, _>(2)?,
            r.try_get::<String, _>(3)?,
        );
        if let Some(i) = changes.iter().position(|c| {
            (&c.project_id, &c.customer_type, &c.customer_id, &c.item_id)
                == (&key.0, &key.1, &key.2, &key.3)
        }) {
            done.push(i);
        }
    }
    Ok(done)
}

/// A stored plain, settled balance's quantity, its row locked for the rest of the transaction
/// (a no-op update: a row lock on PostgreSQL, the write lock on SQLite); None if it has none.
pub async fn lock_plain(
    conn: &mut AnyConnection,
    key: BalanceKey<'_>,
    now: i64,
) -> sqlx::Result<Option<i64>> {
    let sql = format!(
        "UPDATE item_balances SET as_of = as_of
         WHERE {BALANCE_KEY} AND quantity IS NOT NULL AND settled_until > $5 RETURNING quantity"
    );
    let row = bind_key(sqlx::query(&sql), key)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| r.try_get::<i64, _>("quantity")).transpose()
}

/// Waits for any fast-path write of this balance to commit before the caller reads it (a no-op
/// update takes the row's lock on PostgreSQL; SQLite writers already take turns).
pub async fn lock_balance(conn: &mut AnyConnection, key: BalanceKey<'_>) -> sqlx::Result<()> {
    let sql = format!("UPDATE item_balances SET as_of = as_of WHERE {BALANCE_KEY}");
    bind_key(sqlx::query(&sql), key).execute(&mut *conn).await?;
    Ok(())
}

/// Takes the customer's payments lock for the rest of the transaction: every write to one
/// customer's purchases and balances happens one at a time.
pub async fn lock_customer(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO customer_locks (project_id, customer_type, customer_id, version) VALUES ($1, $2, $3, 1)
         ON CONFLICT (project_id, customer_type, customer_id) DO UPDATE SET version = customer_locks.version + 1",
    )
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Purchases changed (granted, replaced, canceled): their grants may now differ from what the
/// stored balances folded in, so the customer's balances are folded afresh next time.
pub async fn forget_balances(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM item_balances WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3")
        .bind(project_id)
        .bind(customer_type)
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn holdings(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> sqlx::Result<Vec<Holding>> {
    let rows = sqlx::query(
        "SELECT id, product, quantity, kind, creation_source, created_at, ended_at FROM purchases
         WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3",
    )
    .bind(project_id)
    .bind(customer_type)
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    // A subscription bought at the checkout is billed by Stripe: it renews when paid.
    let billed = |r: &sqlx::any::AnyRow| -> sqlx::Result<bool> {
        Ok(r.try_get::<String, _>("kind")? == "subscription"
            && r.try_get::<String, _>("creation_source")? == "PURCHASE_PAGE")
    };
    let mut renewals: std::collections::HashMap<String, Vec<i64>> = Default::default();
    if rows.iter().any(|r| billed(r).unwrap_or(false)) {
        for r in sqlx::query(
            "SELECT purchase_id, paid_at FROM stripe_invoices
             WHERE project_id = $1 AND customer_type = $2 AND customer_id = $3
               AND billing_reason = 'subscription_cycle' AND paid_at IS NOT NULL AND purchase_id IS NOT NULL
             ORDER BY paid_at",
        )
        .bind(project_id)
        .bind(customer_type)
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?
        {
            renewals
                .entry(r.try_get("purchase_id")?)
                .or_default()
                .push(r.try_get("paid_at")?);
        }
    }
    rows.iter()
        .map(|r| {
            let paid_renewals = if billed(r)? {
                Some(
                    renewals
                        .remove(&r.try_get::<String, _>("id")?)
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            Ok(Holding {
                product: serde_json::from_str(&r.try_get::<String, _>("product")?)
                    .unwrap_or(Value::Null),
                quantity: r.try_get("quantity")?,
                is_subscription: r.try_get::<String, _>("kind")? == "subscription",
                created_at: r.try_get("created_at")?,
                ended_at: r.try_get("ended_at")?,
                paid_renewals,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: i64 = 86_400_000;

    fn c(at: i64, quantity: i64, expires_at: Option<i64>) -> Change {
        Change {
            at,
            quantity,
            expires_at,
        }
    }

    #[test]
    fn the_originals_worked_example() {
        let changes = vec![
            c(0, 100, Some(10 * DAY)),
            c(0, 200, Some(30 * DAY)),
            c(5 * DAY, -40, None),
        ];
        assert_eq!(fold(changes.clone(), 5 * DAY), 260);
        assert_eq!(fold(changes.clone(), 10 * DAY), 200);
        assert_eq!(fold(changes, 30 * DAY), 0);
    }

    #[test]
    fn debt_expiry_and_edge_cases() {
        // Debt is paid off by a later grant.
        assert_eq!(fold(vec![c(0, -5, None), c(1, 3, None)], 2), -2);
        assert_eq!(fold(vec![c(0, -5, None), c(1, 8, None)], 2), 3);
        // Expiry drops only what remains; consumption is not restored.
        assert_eq!(fold(vec![c(0, 10, Some(5)), c(1, -4, None)], 6), 0);
        // A grant already expired when made counts nothing; the future is not seen.
        assert_eq!(fold(vec![c(5, 10, Some(5))], 6), 0);
        assert_eq!(fold(vec![c(10, 10, None)], 5), 0);
    }

    /// A reference model that tracks individual units: each grant is a set of unit tokens with
    /// its expiry; spending removes the soonest-expiring tokens; what cannot be paid is debt,
    /// which later grants pay first. Random histories must agree with `fold` at random times.
    #[test]
    fn fold_agrees_with_a_unit_model() {
        fn model(changes: &[Change], now: i64) -> i64 {
            let mut sorted = changes.to_vec();
            sorted.sort_by_key(|c| c.at);
            let mut tokens: Vec<Option<i64>> = Vec::new();
            let mut debt = 0i64;
            for c in sorted.iter().filter(|c| c.at <= now) {
                tokens.retain(|e| e.is_none_or(|e| e > c.at));
                if c.quantity > 0 && c.expires_at.is_none_or(|e| e > c.at) {
                    let mut q = c.quantity;
                    while q > 0 && debt < 0 {
                        q -= 1;
                        debt += 1;
                    }
                    tokens.extend(std::iter::repeat_n(c.expires_at, q as usize));
                } else if c.quantity < 0 {
                    for _ in 0..-c.quantity {
                        tokens.sort_by_key(|e| e.unwrap_or(i64::MAX));
                        if tokens.is_empty() {
                            debt -= 1;
                        } else {
                            tokens.remove(0);
                        }
                    }
                }
            }
            tokens.retain(|e| e.is_none_or(|e| e > now));
            tokens.len() as i64 + debt
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2000 {
            let changes: Vec<Change> = (0..next(12))
                .map(|_| {
                    let at = next(20) as i64;
                    let quantity = next(21) as i64 - 8;
                    let expires_at = (next(3) == 0).then(|| at + next(10) as i64);
                    c(at, quantity, expires_at)
                })
                .collect();
            let now = next(30) as i64;
            assert_eq!(
                fold(changes.clone(), now),
                model(&changes, now),
                "{changes:?} at {now}"
            );
        }
    }

    #[test]
    fn repeating_included_items() {
        let product = json!({ "includedItems": { "credits": { "quantity": 10, "repeat": [1, "day"], "expires": "when-repeated" } } });
        let h = Holding {
            product,
            quantity: 2,
            is_subscription: true,
            paid_renewals: None,
            created_at: 0,
            ended_at: None,
        };
        let grants = included_grants(&h, "credits", 3 * DAY);
        assert_eq!(grants.len(), 4);
        assert_eq!(grants[1], c(DAY, 20, Some(2 * DAY)));
        // Each repeat replaces the last one's remainder.
        let mut changes = grants;
        changes.push(c(DAY / 2, -15, None));
        assert_eq!(fold(changes.clone(), DAY / 2), 5);
        assert_eq!(fold(changes, DAY), 20);
        // Ended subscriptions stop granting and their when-repeated grants end with them.
        let ended = Holding {
            ended_at: Some(DAY + 1),
            ..h
        };
        assert_eq!(
            fold(included_grants(&ended, "credits", 5 * DAY), 5 * DAY),
            0
        );
    }
}
