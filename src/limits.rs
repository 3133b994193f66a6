//! Rate limits shared by every replica: fixed-window counters in the database (one upsert per
//! counted event), so replicas on one PostgreSQL count together. Capabilities declare their
//! [`Rule`]s; the operator can change any rule's limit and window, or turn limits off, with
//! `PORTCULLIS_RATE_LIMITS` (e.g. `sign_in_account=5/900,code_send_address=3/600`, or `off`).

use crate::config::RateLimits;
use crate::crypto::secret::sha256_hex;
use crate::store::{now_ms, Store};
use std::sync::Arc;

/// A limit: at most `limit` events per `window_secs` for one key (an account, an address, an IP).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub limit: i64,
    pub window_secs: i64,
}

/// Too many events for a rule's key: retry after this many seconds (the window's end).
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limited for {retry_after_secs} s")]
    Limited { retry_after_secs: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Limits {
    store: Store,
    config: Arc<RateLimits>,
}

impl Limits {
    pub fn new(store: Store, config: RateLimits) -> Limits {
        Limits {
            store,
            config: Arc::new(config),
        }
    }

    /// The rule's (limit, window) after the operator's overrides; `None` when limits are off.
    fn effective(&self, rule: &Rule) -> Option<(i64, i64)> {
        match &*self.config {
            RateLimits::Off => None,
            RateLimits::Defaults => Some((rule.limit, rule.window_secs)),
            RateLimits::Overrides(o) => Some(
                o.get(rule.name)
                    .copied()
                    .unwrap_or((rule.limit, rule.window_secs)),
            ),
        }
    }

    /// Counts one event for `key` under `rule`.
    /// Errors: [`LimitError::Limited`] once the window holds more than the limit.
    pub async fn hit(&self, rule: &Rule, key: &str) -> Result<(), LimitError> {
        let Some((limit, window_secs)) = self.effective(rule) else {
            return Ok(());
        };
        let (window, retry_after_secs) = window_of(window_secs);
        let _turn = self.store.write_turn().await;
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.count + 1 ELSE 1 END,
               window_start = $2
             RETURNING count",
        )
        .bind(counter_key(rule, key))
        .bind(window)
        .fetch_one(&self.store.pool)
        .await?;
        if rand::random::<u16>() < 64 {
            // Now and then, forget counters whose window ended a day ago.
            sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                .bind(now_ms() - 86_400_000 - window_secs * 1000)
                .execute(&self.store.pool)
                .await?;
        }
        if count > limit {
            return Err(LimitError::Limited { retry_after_secs });
        }
        Ok(())
    }

    /// Takes back one event counted by [`Limits::hit`] in this window (an attempt that turned
    /// out not to count: a sign-in that succeeded under a failures-only rule).
    pub async fn refund(&self, rule: &Rule, key: &str) -> Result<(), LimitError> {
        let Some((_, window_secs)) = self.effective(rule) else {
            return Ok(());
        };
        let (window, _) = window_of(window_secs);
        sqlx::query(
            "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0",
        )
        .bind(counter_key(rule, key))
        .bind(window)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }
}

/// The current window's start (ms) and the seconds until it ends (at least 1).
fn window_of(window_secs: i64) -> (i64, u64) {
    let now = now_ms();
    let len = window_secs * 1000;
    let start = now - now.rem_euclid(len);
    let left_ms = start + len - now;
    (start, ((left_ms + 999) / 1000).max(1) as u64)
}

fn counter_key(rule: &Rule, key: &str) -> String {
    sha256_hex(&format!("{}\u{1f}{key}", rule.name))
}
