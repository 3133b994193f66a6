//! The admin API of webhooks (ours: the original manages endpoints in Svix's app portal):
//! `internal/webhooks/endpoints` (list, create — the signing secret shown once —, change,
//! delete, rotate the secret, list attempts), `internal/webhooks/events` (recent events with
//! their deliveries, replay), the original's `internal/send-test-webhook`, and its
//! `webhooks/svix-token`, which has no meaning here (docs/compat.md).

use super::{check_url, deliver, new_secret, EVENT_TYPES};
use crate::auth::context::{ApiState, RequestCtx, ADMIN, ANY};
use crate::crypto::secret::new_uuid;
use crate::http::extract::{parse_value, schema_problem, RawBody};
use crate::http::{json_created, json_ok, success, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::store::{flag, now_ms};
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/webhooks/endpoints", get(list).post(create))
        .api_route(
            "/internal/webhooks/endpoints/{id}",
            aide::axum::routing::patch(update).delete(remove),
        )
        .api_route(
            "/internal/webhooks/endpoints/{id}/rotate-secret",
            post(rotate_secret),
        )
        .api_route("/internal/webhooks/endpoints/{id}/attempts", get(attempts))
        .api_route("/internal/webhooks/events", get(events))
        .api_route("/internal/webhooks/events/{id}/replay", post(replay))
        .api_route("/internal/send-test-webhook", post(send_test))
        .api_route("/webhooks/svix-token", get(svix_token).post(svix_token))
}

const COLUMNS: &str = "id, url, description, event_types, enabled, ordered, disabled_reason, failing_since, created_at";

fn endpoint_json(r: &sqlx::any::AnyRow) -> ApiResult<Value> {
    let types: Value =
        serde_json::from_str(&r.try_get::<String, _>("event_types")?).unwrap_or(json!([]));
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "url": r.try_get::<String, _>("url")?,
        "description": r.try_get::<String, _>("description")?,
        "event_types": types,
        "enabled": r.try_get::<i64, _>("enabled")? != 0,
        "ordered": r.try_get::<i64, _>("ordered")? != 0,
        "disabled_reason": r.try_get::<Option<String>, _>("disabled_reason")?,
        "failing_since_millis": r.try_get::<Option<i64>, _>("failing_since")?,
        "created_at_millis": r.try_get::<i64, _>("created_at")?,
    }))
}

async fn find(state: &Kernel, project_id: &str, id: &str) -> ApiResult<Value> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE project_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(id)
        .fetch_optional(state.db())
        .await?
        .ok_or_else(not_found)?;
    endpoint_json(&row)
}

fn not_found() -> ApiError {
    ApiError::text(StatusCode::NOT_FOUND, "Webhook endpoint not found.")
}

/// `event_types` checked against the known ones. Errors: SCHEMA_ERROR naming the unknown one.
fn checked_types(types: &[String]) -> ApiResult<String> {
    if let Some(t) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(schema_problem(format!(
            "body.event_types contains an unknown event type: {t} (known: {})",
            EVENT_TYPES.join(", ")
        )));
    }
    Ok(json!(types).to_string())
}

fn checked_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 512 {
        return Err(schema_problem(
            "body.description must be at most 512 characters",
        ));
    }
    Ok(())
}

async fn list(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let items = endpoints_of(&state, auth.pid()).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// The project's endpoints, oldest first, as the API lists them (never their secrets).
pub async fn endpoints_of(state: &Kernel, project_id: &str) -> ApiResult<Vec<Value>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE project_id = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .fetch_all(state.db())
        .await?;
    rows.iter().map(endpoint_json).collect()
}

/// A new endpoint: its URL, what it is for, the event types it wants (empty: all), and whether
/// its events must arrive in order.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Create {
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub ordered: bool,
}

/// `201` the endpoint, with its `secret` (`whsec_…`), shown this once.
/// Errors: 400 for a URL that is not http(s) or reaches a refused address; SCHEMA_ERROR for an
/// unknown event type or a description over 512 characters.
async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Create>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_created(
        create_endpoint(&state, auth.pid(), body).await?,
    ))
}

/// Creates an endpoint; answers it with its `secret`, shown this once. Errors: as `create`'s.
pub async fn create_endpoint(state: &Kernel, project_id: &str, body: Create) -> ApiResult<Value> {
    let types = checked_types(&body.event_types)?;
    checked_description(&body.description)?;
    check_url(state, &body.url).await?;
    let (id, secret, now) = (new_uuid(), new_secret(), now_ms());
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, project_id, url, description, event_types, enabled, ordered, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(&body.url)
    .bind(&body.description)
    .bind(types)
    .bind(flag(body.ordered))
    .bind(state.secret_box.seal(&secret)?)
    .bind(now)
    .execute(state.db())
    .await?;
    let mut endpoint = find(state, project_id, &id).await?;
    endpoint["secret"] = json!(secret);
    Ok(endpoint)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Update {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
    ordered: Option<bool>,
}

/// Changes an endpoint; turning it on again clears why it was disabled. Errors: as `create`'s,
/// and 404 for an endpoint the project does not have.
async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Update>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let current = find(&state, auth.pid(), &id).await?;
    let types = match &body.event_types {
        Some(t) => checked_types(t)?,
        None => current["event_types"].to_string(),
    };
    if let Some(d) = &body.description {
        checked_description(d)?;
    }
    if let Some(url) = &body.url {
        check_url(&state, url).await?;
    }
    let enabled = body.enabled.unwrap_or(current["enabled"] == true);
    let reenabled = enabled && current["enabled"] == false;
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, ordered = $5,
            disabled_reason = CASE WHEN $6 = 1 THEN NULL ELSE disabled_reason END,
            failing_since = CASE WHEN $6 = 1 THEN NULL ELSE failing_since END, updated_at = $7
         WHERE project_id = $8 AND id = $9",
    )
    .bind(body.url.as_deref().or(current["url"].as_str()))
    .bind(body.description.as_deref().or(current["description"].as_str()))
    .bind(types)
    .bind(flag(enabled))
    .bind(flag(body.ordered.unwrap_or(current["ordered"] == true)))
    .bind(flag(reenabled))
    .bind(now_ms())
    .bind(auth.pid())
    .bind(&id)
    .execute(state.db())
    .await?;
    if reenabled {
        super::wake(&state);
    }
    Ok(json_ok(find(&state, auth.pid(), &id).await?))
}

async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    delete_endpoint(&state, auth.pid(), &id).await?;
    Ok(success())
}

/// Deletes an endpoint with its pending deliveries. Errors: 404 for an unknown endpoint.
pub async fn delete_endpoint(state: &Kernel, project_id: &str, id: &str) -> ApiResult<()> {
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(state.db())
        .await?;
    if gone.rows_affected() == 0 {
        return Err(not_found());
    }
    Ok(())
}

/// `{secret}`: a new signing secret, shown this once; the old one stops signing at once.
async fn rotate_secret(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let secret = rotate(&state, auth.pid(), &id).await?;
    Ok(json_ok(json!({ "secret": secret })))
}

/// Gives an endpoint a new signing secret; answers it (shown this once). Errors: 404.
pub async fn rotate(state: &Kernel, project_id: &str, id: &str) -> ApiResult<String> {
    let secret = new_secret();
    let changed = sqlx::query(
        "UPDATE webhook_endpoints SET secret = $1, updated_at = $2 WHERE project_id = $3 AND id = $4",
    )
    .bind(state.secret_box.seal(&secret)?)
    .bind(now_ms())
    .bind(project_id)
    .bind(id)
    .execute(state.db())
    .await?;
    if changed.rows_affected() == 0 {
        return Err(not_found());
    }
    Ok(secret)
}

/// The endpoint's latest 100 attempts, newest first, with their event.
async fn attempts(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let items = attempts_of(&state, auth.pid(), &id).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// An endpoint's latest 100 attempts, newest first, each with its event. Errors: 404.
pub async fn attempts_of(state: &Kernel, project_id: &str, id: &str) -> ApiResult<Vec<Value>> {
    find(state, project_id, id).await?;
    let rows = sqlx::query(
        "SELECT a.id, a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.response_excerpt, a.error, d.event_id
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
         WHERE d.endpoint_id = $1 ORDER BY a.attempted_at DESC, a.id LIMIT 100",
    )
    .bind(id)
    .fetch_all(state.db())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut v = deliver::attempt_json(r)?;
            v["event_id"] = json!(r.try_get::<String, _>("event_id")?);
            Ok(v)
        })
        .collect::<sqlx::Result<Vec<_>>>()?)
}

/// The project's latest 100 events, newest first, each with its deliveries' state.
async fn events(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let rows = sqlx::query(
        "SELECT e.id, e.type, e.payload, e.created_at, d.endpoint_id, d.status, d.attempts
         FROM webhook_events e LEFT JOIN webhook_deliveries d ON d.event_id = e.id
         WHERE e.id IN (SELECT id FROM webhook_events WHERE project_id = $1 ORDER BY created_at DESC, id LIMIT 100)
         ORDER BY e.created_at DESC, e.id",
    )
    .bind(auth.pid())
    .fetch_all(state.db())
    .await?;
    let mut items: Vec<Value> = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        if items.last().map(|e| e["id"] != json!(id)).unwrap_or(true) {
            items.push(json!({
                "id": id,
                "type": r.try_get::<String, _>("type")?,
                "payload": serde_json::from_str::<Value>(&r.try_get::<String, _>("payload")?).unwrap_or(Value::Null),
                "created_at_millis": r.try_get::<i64, _>("created_at")?,
                "deliveries": [],
            }));
        }
        if let Some(endpoint) = r.try_get::<Option<String>, _>("endpoint_id")? {
            if let Some(Value::Array(d)) = items.last_mut().map(|e| &mut e["deliveries"]) {
                d.push(json!({
                    "endpoint_id": endpoint,
                    "status": r.try_get::<String, _>("status")?,
                    "attempts": r.try_get::<i64, _>("attempts")?,
                }));
            }
        }
    }
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Replay {
    endpoint_id: Option<String>,
}

/// Sends an event again, with its own `webhook-id`, to one endpoint or to every enabled
/// endpoint that wants its type. `{success: true, deliveries}`. Errors: 404 for an unknown event.
async fn replay(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let body: Replay = if body.is_null() {
        Replay::default()
    } else {
        parse_value(body, "body")?
    };
    let event_type: String =
        sqlx::query_scalar("SELECT type FROM webhook_events WHERE project_id = $1 AND id = $2")
            .bind(auth.pid())
            .bind(&id)
            .fetch_optional(state.db())
            .await?
            .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "Webhook event not found."))?;
    let rows = sqlx::query(
        "SELECT id, event_types FROM webhook_endpoints WHERE project_id = $1 AND enabled = 1",
    )
    .bind(auth.pid())
    .fetch_all(state.db())
    .await?;
    let mut tx = state.db().begin().await?;
    let mut count = 0;
    for r in &rows {
        let endpoint: String = r.try_get("id")?;
        let chosen = match &body.endpoint_id {
            Some(e) => *e == endpoint,
            None => super::wants(&r.try_get::<String, _>("event_types")?, &event_type),
        };
        if chosen {
            super::insert_delivery(&mut tx, auth.pid(), &id, &endpoint, now_ms()).await?;
            count += 1;
        }
    }
    tx.commit().await?;
    super::wake(&state);
    Ok(json_ok(json!({ "success": true, "deliveries": count })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendTest {
    endpoint_id: String,
}

/// The original's `internal/send-test-webhook` `{endpoint_id}`: posts a signed test event to the
/// endpoint now and answers `{success, error_message?}` with what it answered.
async fn send_test(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<SendTest>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_ok(
        match send_test_event(&state, auth.pid(), &body.endpoint_id).await? {
            Ok(()) => json!({ "success": true }),
            Err(message) => json!({ "success": false, "error_message": message }),
        },
    ))
}

/// Posts a signed `{"type": "test"}` message to the endpoint now; answers what went wrong, if
/// anything. Errors: 404 for an unknown endpoint.
pub async fn send_test_event(
    state: &Kernel,
    project_id: &str,
    endpoint_id: &str,
) -> ApiResult<Result<(), String>> {
    let row =
        sqlx::query("SELECT url, secret FROM webhook_endpoints WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(endpoint_id)
            .fetch_optional(state.db())
            .await?
            .ok_or_else(not_found)?;
    let url: String = row.try_get("url")?;
    let secret = state
        .secret_box
        .open(&row.try_get::<String, _>("secret")?)?;
    let payload = json!({ "type": "test", "data": { "message": "A test event from Portcullis." } })
        .to_string();
    let msg_id = format!("msg_test_{}", crate::crypto::secret::random_base32(20));
    Ok(deliver::send_once(state, &url, &secret, &msg_id, payload).await)
}

/// The original's Svix app-portal token: there is no Svix here (docs/compat.md).
async fn svix_token(ctx: RequestCtx) -> ApiResult<Response> {
    ctx.require(ANY)?;
    Err(ApiError::bad_request(
        "Webhooks are built into this server, which has no Svix app portal: manage endpoints with /internal/webhooks/endpoints or in the dashboard.",
    ))
}
