//! `/internal/api-keys`: the project's key sets over the API, as the admin SDK manages them
//! (`createInternalApiKey`, `listInternalApiKeys`, `revokeInternalApiKeyById`). Shapes are the
//! original's `interface/crud/internal-api-keys.ts`: keys in full only in the create answer,
//! afterwards `{last_four}`.

use super::keys::{self, KeyKind, KeySetInfo};
use crate::auth::context::{ApiState, RequestCtx, ADMIN};
use crate::http::extract::{schema_problem, Body};
use crate::http::{json_ok, ApiError, ApiResult};
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/api-keys", get(list).post(create))
        .api_route("/internal/api-keys/{api_key_id}", get(read).patch(update))
}

const KEY_NAMES: [&str; 3] = [
    "publishable_client_key",
    "secret_server_key",
    "super_secret_admin_key",
];

fn set_json(set: &KeySetInfo) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(set.id));
    v.insert("description".into(), json!(set.description));
    for (name, four) in KEY_NAMES.iter().zip(&set.last_four) {
        if let Some(four) = four {
            v.insert(name.to_string(), json!({ "last_four": four }));
        }
    }
    v.insert("created_at_millis".into(), json!(set.created_at));
    v.insert("expires_at_millis".into(), json!(set.expires_at));
    if let Some(at) = set.revoked_at {
        v.insert("manually_revoked_at_millis".into(), json!(at));
    }
    Value::Object(v)
}

async fn list(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let sets = keys::list_key_sets(state.db(), auth.pid()).await?;
    let items: Vec<Value> = sets.iter().map(set_json).collect();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateSet {
    description: String,
    /// ms since the epoch.
    expires_at_millis: i64,
    has_publishable_client_key: bool,
    has_secret_server_key: bool,
    has_super_secret_admin_key: bool,
}

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Body(body): Body<CreateSet>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let wanted = [
        body.has_publishable_client_key,
        body.has_secret_server_key,
        body.has_super_secret_admin_key,
    ];
    let mut tx = state.db().begin().await?;
    let set = keys::insert_key_set(
        &mut tx,
        auth.pid(),
        &body.description,
        keys::generate_keys(),
        body.expires_at_millis,
    )
    .await?;
    let kinds = [
        KeyKind::PublishableClient,
        KeyKind::SecretServer,
        KeyKind::SuperSecretAdmin,
    ];
    let dropped: Vec<KeyKind> = kinds
        .into_iter()
        .zip(wanted)
        .filter(|(_, w)| !w)
        .map(|(k, _)| k)
        .collect();
    keys::drop_keys(&mut tx, &set.id, &dropped).await?;
    tx.commit().await?;
    let values = [
        &set.publishable_client_key,
        &set.secret_server_key,
        &set.super_secret_admin_key,
    ];
    let mut v = Map::new();
    v.insert("id".into(), json!(set.id));
    v.insert("description".into(), json!(body.description));
    for ((name, value), wanted) in KEY_NAMES.iter().zip(values).zip(wanted) {
        if wanted {
            v.insert(name.to_string(), json!(value));
        }
    }
    v.insert("created_at_millis".into(), json!(set.created_at));
    v.insert("expires_at_millis".into(), json!(body.expires_at_millis));
    Ok(json_ok(Value::Object(v)))
}

/// The set `id` of the project; API_KEY_NOT_FOUND otherwise. `id` must be a UUID, as the
/// original's params schema says.
async fn find(state: &ApiState, project_id: &str, id: &str) -> ApiResult<KeySetInfo> {
    check_id(id)?;
    keys::find_key_set(state.db(), project_id, id)
        .await?
        .ok_or_else(|| ApiError::from(crate::api_keys::not_found()))
}

fn check_id(id: &str) -> ApiResult<()> {
    match uuid::Uuid::parse_str(id) {
        Ok(_) => Ok(()),
        Err(_) => Err(schema_problem("params.api_key_id must be a valid UUID")),
    }
}

async fn read(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_ok(set_json(&find(&state, auth.pid(), &id).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateSet {
    description: Option<String>,
    /// Only `true`: a revoked set stays revoked.
    revoked: Option<bool>,
}

async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    Body(body): Body<UpdateSet>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    if body.revoked == Some(false) {
        return Err(schema_problem(
            "body.revoked must be one of the following values: true",
        ));
    }
    check_id(&id)?;
    let revoke = body.revoked == Some(true);
    let description = body.description.as_deref();
    if !keys::update_key_set(state.db(), auth.pid(), &id, description, revoke).await? {
        return Err(crate::api_keys::not_found().into());
    }
    if revoke {
        state.projects.forget_verified_keys(auth.pid());
    }
    Ok(json_ok(set_json(&find(&state, auth.pid(), &id).await?)))
}
