//! Outgoing webhooks, built in (the original delivers through Svix): a project's endpoints, the
//! events its changes emit, and their signed, durable delivery.
//!
//! An event is written by [`emit`] in the transaction of the change that caused it, with one
//! delivery per endpoint that wants its type, so a change and its event commit or roll back
//! together. The `deliver` worker posts each delivery, signed by the Standard Webhooks scheme
//! (<https://www.standardwebhooks.com/>, the `standardwebhooks` crate): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers, repeated under `svix-*` names for
//! receivers written for the original. The body is the original's envelope `{type, data}`.

pub mod deliver;
pub mod routes;

use crate::crypto::secret::{new_uuid, random_base32};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::store::now_ms;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

/// Wakes the delivery worker (after an emitting transaction commits).
pub const QUEUE: &str = "webhooks";

/// The event types the original emits (its `webhooks.ts`), then ours for payments.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "team.created",
    "team.updated",
    "team.deleted",
    "team_membership.created",
    "team_membership.deleted",
    "team_permission.created",
    "team_permission.deleted",
    "payment.purchase_completed",
    "payment.subscription_renewed",
    "payment.subscription_canceled",
    "payment.item_quantity_changed",
];

/// Orders an endpoint's deliveries: milliseconds, then a counter for events of the same one.
fn next_seq() -> i64 {
    static COUNTER: AtomicI64 = AtomicI64::new(0);
    now_ms() * 1024 + COUNTER.fetch_add(1, Ordering::Relaxed) % 1024
}

/// Records event `event_type` with `data` (the original's payload for it) for every enabled
/// endpoint of the project that wants that type, inside the caller's transaction; nothing when
/// no endpoint wants it. Call [`wake`] once the transaction commits.
pub async fn emit(
    conn: &mut AnyConnection,
    project_id: &str,
    event_type: &str,
    data: Value,
) -> ApiResult<()> {
    Ok(emit_each(conn, project_id, event_type, vec![data]).await?)
}

/// [`emit`] for several events of one type and project (one endpoint lookup for all): a batch of
/// item changes.
pub async fn emit_each(
    conn: &mut AnyConnection,
    project_id: &str,
    event_type: &str,
    events: Vec<Value>,
) -> sqlx::Result<()> {
    let endpoints = sqlx::query(
        "SELECT id, event_types FROM webhook_endpoints WHERE project_id = $1 AND enabled = 1",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    let wanting: Vec<String> = endpoints
        .iter()
        .filter(|r| {
            wants(
                &r.try_get::<String, _>("event_types").unwrap_or_default(),
                event_type,
            )
        })
        .filter_map(|r| r.try_get("id").ok())
        .collect();
    if wanting.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    for data in events {
        let id = format!("msg_{}", random_base32(26));
        let payload = json!({ "type": event_type, "data": data });
        insert_event(conn, project_id, &id, event_type, &payload, now).await?;
        for endpoint_id in &wanting {
            insert_delivery(conn, project_id, &id, endpoint_id, now).await?;
        }
    }
    Ok(())
}

/// Whether an endpoint whose `event_types` (a JSON array; empty: all) wants `event_type`.
fn wants(event_types: &str, event_type: &str) -> bool {
    let types: Vec<String> = serde_json::from_str(event_types).unwrap_or_default();
    types.is_empty() || types.iter().any(|t| t == event_type)
}

async fn insert_event(
    conn: &mut AnyConnection,
    project_id: &str,
    id: &str,
    event_type: &str,
    payload: &Value,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO webhook_events (id, project_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(project_id)
        .bind(event_type)
        .bind(payload.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A delivery of `event_id` to `endpoint_id`, due now.
async fn insert_delivery(
    conn: &mut AnyConnection,
    project_id: &str,
    event_id: &str,
    endpoint_id: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, project_id, event_id, endpoint_id, seq, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
    )
    .bind(new_uuid())
    .bind(project_id)
    .bind(event_id)
    .bind(endpoint_id)
    .bind(next_seq())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tells the delivery worker there is work (after the emitting transaction commits).
pub fn wake(k: &Kernel) {
    k.wakeups.wake(QUEUE);
}

/// A new signing secret: `whsec_` and 24 random bytes in base64, as Standard Webhooks and Svix
/// issue them.
pub fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The `webhook-signature` value for a delivery (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`).
/// Errors: 500 for a stored secret that is not one.
pub fn sign(secret: &str, msg_id: &str, timestamp_secs: i64, body: &str) -> ApiResult<String> {
    let webhook = standardwebhooks::Webhook::new(secret)
        .map_err(|e| ApiError::internal(format!("webhook secret: {e}")))?;
    webhook
        .sign(msg_id, timestamp_secs, body.as_bytes())
        .map_err(|e| ApiError::internal(format!("webhook signature: {e}")))
}

/// Why an address may not receive webhooks, if it may not: loopback, private (RFC 1918, unique
/// local), link-local, unspecified, multicast or documentation ranges, unless the instance's
/// operator allowed loopback (`--webhooks-allow-loopback`) or private networks
/// (`--webhooks-allow-private`).
pub fn refused_address(k: &Kernel, ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_loopback() {
        return (!k.config.webhooks_allow_loopback && !k.config.webhooks_allow_private)
            .then_some("a loopback address");
    }
    let private = match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    };
    if private {
        return (!k.config.webhooks_allow_private).then_some("a private or link-local address");
    }
    let unusable = match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_documentation()
        }
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    unusable.then_some("an address that cannot receive requests")
}

/// The addresses `url` reaches, each one allowed. Errors: 400 for a URL that is not http(s)
/// with a host, one that does not resolve, or one that reaches a refused address.
pub async fn check_url(k: &Kernel, url: &str) -> ApiResult<(url::Url, Vec<std::net::SocketAddr>)> {
    let bad = |m: String| ApiError::bad_request(m);
    let parsed = url::Url::parse(url).map_err(|_| bad("The webhook URL is not a URL.".into()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(
            "The webhook URL must start with http:// or https://.".into()
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| bad("The webhook URL has no host.".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| bad(format!("The webhook URL's host {host} does not resolve.")))?
        .collect();
    if addrs.is_empty() {
        return Err(bad(format!(
            "The webhook URL's host {host} does not resolve."
        )));
    }
    for a in &addrs {
        if let Some(why) = refused_address(k, a.ip()) {
            return Err(bad(format!(
                "The webhook URL reaches {why} ({}), which this server does not send webhooks to.",
                a.ip()
            )));
        }
    }
    Ok((parsed, addrs))
}
