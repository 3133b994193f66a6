//! Delivery: workers claim due deliveries, post them signed, and record every attempt. A claim
//! is a lease (`claimed_until`): a delivery whose worker died is taken again after it lapses, with
//! the same `webhook-id`, so receivers can drop the duplicate. On PostgreSQL replicas share the
//! work with `FOR UPDATE SKIP LOCKED`. A failed delivery is retried on Svix's schedule (5 s,
//! 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day) with ±10 % jitter, then marked failed; an
//! endpoint that has failed for five days is disabled. Requests time out, follow no redirects,
//! go only to the addresses checked (no DNS rebinding between check and request), and read at
//! most 4 KiB of the answer.

use super::{check_url, sign};
use crate::crypto::secret::new_uuid;
use crate::http::ApiResult;
use crate::kernel::Kernel;
use crate::store::{now_ms, Backend};
use serde_json::Value;
use sqlx::Row;
use std::time::{Duration, Instant};

const IDLE_POLL: Duration = Duration::from_millis(250);
/// How long a woken worker lets events gather before claiming them: a burst of changes then
/// costs one claim and one record instead of one each, which the changes would otherwise wait
/// for on SQLite's single writer. Delivery is that much later.
const GATHER: Duration = Duration::from_millis(20);
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an answer is kept with its attempt (bytes).
const EXCERPT_BYTES: usize = 4096;
/// Waits before each retry (ms), Svix's schedule: the first attempt is immediate.
pub const RETRY_SCHEDULE_MS: [i64; 7] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
/// An endpoint failing (no success) for this long is disabled (ms).
pub const DISABLE_AFTER_MS: i64 = 5 * 24 * 3_600_000;
const BATCH: i64 = 64;

struct Claimed {
    id: String,
    project_id: String,
    event_id: String,
    endpoint_id: String,
    attempts: i64,
}

/// The webhook delivery queue's depth and age, for `/metrics`.
pub async fn queue_stat(state: &Kernel) -> sqlx::Result<crate::http::metrics::QueueStat> {
    let sql = "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries WHERE status IN ('pending', 'sending')";
    crate::http::metrics::measure_queue(state.db(), "webhooks", sql).await
}

pub fn spawn(state: Kernel) {
    let wakeup = state.wakeups.of(super::QUEUE);
    tokio::spawn(async move {
        let client = match client_builder().build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client could not be built");
                return;
            }
        };
        loop {
            let claimed = match claim(&state).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = wakeup.notified() => tokio::time::sleep(GATHER).await,
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            // The batch's requests run side by side; their outcomes are recorded together, in
            // one transaction (on SQLite a transaction per attempt would bound the rate).
            let mut running = tokio::task::JoinSet::new();
            for delivery in claimed {
                let (state, client) = (state.clone(), client.clone());
                running.spawn(async move {
                    let outcome = attempt(&state, &client, &delivery).await;
                    (delivery, outcome)
                });
            }
            let mut done = Vec::new();
            while let Some(joined) = running.join_next().await {
                match joined {
                    Ok((delivery, Ok(Some(outcome)))) => done.push((delivery, outcome)),
                    Ok((_, Ok(None))) => {}
                    Ok((delivery, Err(e))) => {
                        tracing::warn!(delivery = %delivery.id, error = %e, "a webhook attempt could not be made")
                    }
                    Err(e) => tracing::warn!(error = %e, "a webhook attempt panicked"),
                }
            }
            if let Err(e) = record(&state, &done).await {
                tracing::warn!(error = %e, "recording webhook attempts failed");
            }
        }
    });
}

/// Requests that follow no redirects and give up after [`TIMEOUT`].
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent("Portcullis-Webhooks/1")
}

/// Posts one signed message now, outside the queue (the test event). Errors: what went wrong,
/// as the admin sees it (the request's failure, or the answer's status and first bytes).
pub async fn send_once(
    state: &Kernel,
    url: &str,
    secret: &str,
    msg_id: &str,
    body: String,
) -> Result<(), String> {
    let client = client_builder().build().map_err(|e| e.to_string())?;
    let o = post(state, &client, url, secret, msg_id, body).await;
    if o.succeeded() {
        return Ok(());
    }
    Err(match (o.status, o.error) {
        (_, Some(error)) => error,
        (Some(status), None) => format!(
            "The endpoint answered {status}: {}",
            o.excerpt
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        ),
        (None, None) => "The endpoint did not answer.".into(),
    })
}

/// Claims due deliveries of enabled endpoints; for an endpoint that keeps order, only the
/// oldest one still open.
async fn claim(state: &Kernel) -> sqlx::Result<Vec<Claimed>> {
    let now = now_ms();
    let lock = match state.store.backend {
        Backend::Postgres => "FOR UPDATE OF d SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET status = 'sending', claimed_until = $1, attempts = attempts + 1
         WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE ((d.status = 'pending' AND d.next_attempt_at <= $2) OR (d.status = 'sending' AND d.claimed_until < $2))
              AND e.enabled = 1
              AND (e.ordered = 0 OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                   WHERE p.endpoint_id = d.endpoint_id AND p.seq < d.seq AND p.status IN ('pending', 'sending')))
            ORDER BY d.next_attempt_at LIMIT {BATCH} {lock})
         RETURNING id, project_id, event_id, endpoint_id, attempts"
    );
    let rows = sqlx::query(&sql)
        .bind(now + state.config.webhook_lease_ms)
        .bind(now)
        .fetch_all(state.db())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                project_id: r.try_get("project_id")?,
                event_id: r.try_get("event_id")?,
                endpoint_id: r.try_get("endpoint_id")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// What one attempt got: the answer's status and first bytes, or why there was none.
struct Outcome {
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
    latency_ms: i64,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Posts one claimed delivery; None when its event or endpoint was deleted since.
async fn attempt(
    state: &Kernel,
    client: &reqwest::Client,
    d: &Claimed,
) -> ApiResult<Option<Outcome>> {
    let row = sqlx::query(
        "SELECT ev.payload, en.url, en.secret FROM webhook_events ev, webhook_endpoints en
         WHERE ev.id = $1 AND en.id = $2",
    )
    .bind(&d.event_id)
    .bind(&d.endpoint_id)
    .fetch_optional(state.db())
    .await?;
    let Some(row) = row else {
        return Ok(None); // deleted since: the cascade removes the delivery too
    };
    let body: String = row.try_get("payload")?;
    let url: String = row.try_get("url")?;
    let secret = state
        .secret_box
        .open(&row.try_get::<String, _>("secret")?)?;
    Ok(Some(
        post(state, client, &url, &secret, &d.event_id, body).await,
    ))
}

async fn post(
    state: &Kernel,
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    msg_id: &str,
    body: String,
) -> Outcome {
    let started = Instant::now();
    let failed = |error: String| Outcome {
        status: None,
        excerpt: None,
        error: Some(error),
        latency_ms: started.elapsed().as_millis() as i64,
    };
    // Checked again at each attempt: the name may point elsewhere since the endpoint was saved.
    let (parsed, addrs) = match check_url(state, url).await {
        Ok(checked) => checked,
        Err(e) => return failed(e.to_string()),
    };
    let timestamp = now_ms() / 1000;
    let signature = match sign(secret, msg_id, timestamp, &body) {
        Ok(s) => s,
        Err(e) => return failed(e.to_string()),
    };
    // The request goes to the address just checked, whatever the name resolves to next.
    let pinned;
    let client = match parsed.host() {
        Some(url::Host::Domain(host)) => {
            pinned = client_builder().resolve_to_addrs(host, &addrs).build();
            match &pinned {
                Ok(c) => c,
                Err(e) => return failed(e.to_string()),
            }
        }
        _ => client,
    };
    let sent = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", &signature)
        .header("svix-id", msg_id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", &signature)
        .body(body)
        .send()
        .await;
    let mut res = match sent {
        Ok(r) => r,
        Err(e) => return failed(format!("request failed: {e}")),
    };
    let status = res.status().as_u16();
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT_BYTES {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - excerpt.len())])
            }
            _ => break,
        }
    }
    Outcome {
        status: Some(status),
        excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
        error: None,
        latency_ms: started.elapsed().as_millis() as i64,
    }
}

/// The wait before the retry after attempt `attempts` (1-based), scaled and jittered; None once
/// the schedule is spent.
fn retry_delay_ms(state: &Kernel, attempts: i64) -> Option<i64> {
    let base = *RETRY_SCHEDULE_MS.get(usize::try_from(attempts - 1).ok()?)?;
    let jitter = 0.9 + rand::random::<f64>() * 0.2;
    Some((base as f64 * state.config.webhook_retry_scale * jitter) as i64)
}

/// Records a batch's attempts and their consequences, in one transaction.
async fn record(state: &Kernel, done: &[(Claimed, Outcome)]) -> ApiResult<()> {
    if done.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut tx = state.db().begin().await?;
    let mut told_admins = false;
    for (d, o) in done {
        told_admins |= record_one(&mut tx, state, d, o, now).await?;
    }
    tx.commit().await?;
    if told_admins {
        crate::emails::wake_sender(state);
    }
    Ok(())
}

async fn record_one(
    tx: &mut sqlx::AnyConnection,
    state: &Kernel,
    d: &Claimed,
    o: &Outcome,
    now: i64,
) -> ApiResult<bool> {
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, project_id, attempted_at, status_code, latency_ms, response_excerpt, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_uuid())
    .bind(&d.id)
    .bind(&d.project_id)
    .bind(now)
    .bind(o.status.map(i64::from))
    .bind(o.latency_ms)
    .bind(&o.excerpt)
    .bind(&o.error)
    .execute(&mut *tx)
    .await?;
    if o.succeeded() {
        sqlx::query("UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $1, claimed_until = NULL WHERE id = $2")
            .bind(now)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL")
            .bind(&d.endpoint_id)
            .execute(&mut *tx)
            .await?;
    } else {
        match retry_delay_ms(state, d.attempts) {
            Some(wait) => {
                sqlx::query("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, claimed_until = NULL WHERE id = $2")
                    .bind(now + wait)
                    .bind(&d.id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("UPDATE webhook_deliveries SET status = 'failed', claimed_until = NULL WHERE id = $1")
                    .bind(&d.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL")
            .bind(now)
            .bind(&d.endpoint_id)
            .execute(&mut *tx)
            .await?;
        let limit = (DISABLE_AFTER_MS as f64 * state.config.webhook_retry_scale) as i64;
        let disabled = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2
             WHERE id = $3 AND enabled = 1 AND failing_since < $4",
        )
        .bind("Disabled after failing for five days.")
        .bind(now)
        .bind(&d.endpoint_id)
        .bind(now - limit)
        .execute(&mut *tx)
        .await?;
        if disabled.rows_affected() == 1 {
            tell_admins(tx, state, d).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Emails the project's admins (the dashboard team owning it) that an endpoint was disabled,
/// through the instance's sender, in the transaction that disabled it.
async fn tell_admins(tx: &mut sqlx::AnyConnection, state: &Kernel, d: &Claimed) -> ApiResult<()> {
    use crate::emails::outbox::{self, NewEmail, TRANSACTIONAL};
    use crate::emails::templates::{escape, Rendered};
    let Some(internal) = crate::projects::find(state, crate::projects::INTERNAL).await? else {
        return Ok(());
    };
    let row = sqlx::query(
        "SELECT p.display_name, e.url FROM projects p, webhook_endpoints e WHERE p.id = $1 AND e.id = $2",
    )
    .bind(&d.project_id)
    .bind(&d.endpoint_id)
    .fetch_one(&mut *tx)
    .await?;
    let (project_name, url): (String, String) = (row.try_get("display_name")?, row.try_get("url")?);
    let admins = sqlx::query(
        "SELECT c.user_id, c.value FROM contact_channels c
           JOIN team_members m ON m.user_id = c.user_id
           JOIN projects p ON p.owner_team_id = m.team_id
         WHERE p.id = $1 AND c.project_id = $2 AND c.type = 'email' AND c.is_primary = 1",
    )
    .bind(&d.project_id)
    .bind(crate::projects::INTERNAL)
    .fetch_all(&mut *tx)
    .await?;
    let subject = format!("Webhook endpoint disabled in {project_name}");
    let text = format!(
        "The webhook endpoint {url} of {project_name} has failed every delivery for five days, so it is now disabled. Fix the receiver, then turn the endpoint on again in the dashboard; the events it missed can be replayed."
    );
    for admin in &admins {
        let (user_id, email): (String, String) =
            (admin.try_get("user_id")?, admin.try_get("value")?);
        let rendered = Rendered {
            subject: subject.clone(),
            html: format!("<p>{}</p>", escape(&text)),
            text: text.clone(),
        };
        let email = NewEmail {
            project: &internal,
            user_id: Some(&user_id),
            recipient: &email,
            to: serde_json::json!({ "type": "user-custom-emails", "user_id": user_id, "emails": [email] }),
            template: None,
            variables: serde_json::json!({}),
            rendered,
            category_id: TRANSACTIONAL,
        };
        outbox::enqueue(tx, email).await?;
    }
    Ok(())
}

/// An attempt as the admin API lists it.
pub fn attempt_json(r: &sqlx::any::AnyRow) -> sqlx::Result<Value> {
    Ok(serde_json::json!({
        "id": r.try_get::<String, _>("id")?,
        "delivery_id": r.try_get::<String, _>("delivery_id")?,
        "attempted_at_millis": r.try_get::<i64, _>("attempted_at")?,
        "status_code": r.try_get::<Option<i64>, _>("status_code")?,
        "latency_ms": r.try_get::<i64, _>("latency_ms")?,
        "response_excerpt": r.try_get::<Option<String>, _>("response_excerpt")?,
        "error": r.try_get::<Option<String>, _>("error")?,
    }))
}
