//! Group commit for the fast path of item changes. Concurrent spends of plain balances queue to a
//! writer that applies whatever has queued in one transaction: each change is still decided on
//! its own, in arrival order, against its balance under that balance's lock, but a batch pays for
//! one commit (and, on SQLite, one turn of the single writer) instead of one each. Writers are sharded by customer, so one customer's changes
//! apply in arrival order and two shards never wait on the same row.

use super::ledger::{self, BalanceKey};
use crate::crypto::secret::new_uuid;
use crate::store::{now_ms, Backend, Store};
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};

/// The most changes one transaction applies.
const MAX_BATCH: usize = 256;

/// A manual change of one balance, as the API receives it.
#[derive(Clone)]
pub struct Change {
    pub project_id: String,
    pub customer_type: String,
    pub customer_id: String,
    pub item_id: String,
    pub delta: i64,
    pub expires_at: Option<i64>,
    pub description: Option<String>,
    pub allow_negative: bool,
}

impl Change {
    /// The `payment.item_quantity_changed` event's data (ours; the original has no such event):
    /// `{customer_type, customer_id, item_id, quantity_change, description, expires_at_millis,
    /// changed_at_millis}`, the change and not the balance (read that with the items API).
    fn event_data(&self, now: i64) -> serde_json::Value {
        serde_json::json!({
            "customer_type": self.customer_type,
            "customer_id": self.customer_id,
            "item_id": self.item_id,
            "quantity_change": self.delta,
            "description": self.description,
            "expires_at_millis": self.expires_at,
            "changed_at_millis": now,
        })
    }

    pub fn key(&self) -> BalanceKey<'_> {
        BalanceKey {
            project_id: &self.project_id,
            customer_type: &self.customer_type,
            customer_id: &self.customer_id,
            item_id: &self.item_id,
        }
    }
}

type Job = (Change, oneshot::Sender<Result<bool, String>>);

pub struct FastChanges {
    shards: Vec<mpsc::UnboundedSender<Job>>,
}

impl FastChanges {
    /// One writer on SQLite (it has one anyway), a few on PostgreSQL.
    pub fn start(store: &Store) -> FastChanges {
        let n = match store.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        let shards = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(writer(store.clone(), rx));
                tx
            })
            .collect();
        FastChanges { shards }
    }

    /// Applies `change` if its balance is stored plain and settled (and, unless it may go
    /// negative, stays ≥ 0), recording it in the ledger. `false`: nothing was written.
    pub async fn try_apply(&self, change: &Change) -> sqlx::Result<bool> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            &change.project_id,
            &change.customer_type,
            &change.customer_id,
        )
            .hash(&mut h);
        let shard = &self.shards[h.finish() as usize % self.shards.len()];
        let (reply, answer) = oneshot::channel();
        let gone = || sqlx::Error::PoolClosed;
        shard.send((change.clone(), reply)).map_err(|_| gone())?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(sqlx::Error::Protocol)
    }
}

async fn writer(store: Store, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (changes, replies): (Vec<Change>, Vec<_>) = jobs.drain(..).unzip();
        match apply_batch(&store, &changes).await {
            Ok(applied) => {
                for (reply, ok) in replies.into_iter().zip(applied) {
                    let _ = reply.send(Ok(ok));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// One transaction: the changes of each balance decided in arrival order, then the ledger rows
/// of those that applied. A balance with one change takes the one conditional write; a balance
/// with several (a hot customer) is read once under its row lock, decided in memory, and written
/// once, so a busy batch costs a few statements instead of one per change.
async fn apply_batch(store: &Store, changes: &[Change]) -> sqlx::Result<Vec<bool>> {
    let _turn = store.write_turn().await;
    let mut conn = store.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let now = now_ms();
    let mut applied = vec![false; changes.len()];
    let mut balances: Vec<(BalanceKey, Vec<usize>)> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        match balances.iter_mut().find(|(k, _)| *k == c.key()) {
            Some((_, jobs)) => jobs.push(i),
            None => balances.push((c.key(), vec![i])),
        }
    }
    // Balances with one change each: one conditional write covers them all.
    let single: Vec<usize> = balances
        .iter()
        .filter_map(|(_, jobs)| (jobs.len() == 1).then_some(jobs[0]))
        .collect();
    for chunk in single.chunks(64) {
        let chosen: Vec<&Change> = chunk.iter().map(|&i| &changes[i]).collect();
        for done in ledger::try_add_plain_each(&mut tx, &chosen, now).await? {
            applied[chunk[done]] = true;
        }
    }
    for (key, jobs) in balances.into_iter().filter(|(_, jobs)| jobs.len() > 1) {
        let Some(mut quantity) = ledger::lock_plain(&mut tx, key, now).await? else {
            continue;
        };
        let mut total = 0;
        for i in jobs {
            let c = &changes[i];
            if c.allow_negative || quantity + c.delta >= 0 {
                quantity += c.delta;
                total += c.delta;
                applied[i] = true;
            }
        }
        // The row is locked and was plain and settled: this write cannot miss.
        if !ledger::try_add_plain(&mut tx, key, total, now, true).await? {
            return Err(sqlx::Error::Protocol("locked balance changed".into()));
        }
    }
    let recorded: Vec<&Change> = changes
        .iter()
        .zip(&applied)
        .filter_map(|(c, ok)| ok.then_some(c))
        .collect();
    record(&mut tx, &recorded, now).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Writes the ledger rows of applied changes (a few multi-row inserts) and their
/// `payment.item_quantity_changed` webhook events.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    changes: &[&Change],
    now: i64,
) -> sqlx::Result<()> {
    const COLUMNS: usize = 9;
    for chunk in changes.chunks(64) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let slots: Vec<String> = (1..=COLUMNS)
                    .map(|n| format!("${}", i * COLUMNS + n))
                    .collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO item_changes (id, project_id, customer_type, customer_id, item_id, quantity, expires_at, description, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q
                .bind(new_uuid())
                .bind(c.project_id.as_str())
                .bind(c.customer_type.as_str())
                .bind(c.customer_id.as_str())
                .bind(c.item_id.as_str())
                .bind(c.delta)
                .bind(c.expires_at)
                .bind(c.description.as_deref())
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    let mut projects: Vec<&str> = changes.iter().map(|c| c.project_id.as_str()).collect();
    projects.sort_unstable();
    projects.dedup();
    for project_id in projects {
        let events = changes
            .iter()
            .filter(|c| c.project_id == project_id)
            .map(|c| c.event_data(now))
            .collect();
        crate::webhooks::emit_each(conn, project_id, "payment.item_quantity_changed", events)
            .await?;
    }
    Ok(())
}
