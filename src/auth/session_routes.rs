//! `/auth/sessions*`: create (server), list, revoke, sign out, refresh.

use super::sessions;
use crate::auth::context::{AccessType, ApiState, RequestCtx, ANY, TRUSTED};
use crate::http::extract::schema_problem;
use crate::http::{json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::users;
use aide::axum::routing::{delete, get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/auth/sessions", get(list).post(create))
        .api_route("/auth/sessions/current", delete(sign_out))
        .api_route("/auth/sessions/current/refresh", post(refresh))
        .api_route("/auth/sessions/{id}", delete(revoke))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    user_id: String,
    expires_in_millis: Option<i64>,
    is_impersonation: Option<bool>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UserIdQuery {
    user_id: Option<String>,
}

const MAX_SESSION_TTL_MS: i64 = 367 * 24 * 3600 * 1000;

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<CreateSession>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let ttl = body.expires_in_millis.unwrap_or(sessions::DEFAULT_TTL_MS);
    if !(1..=MAX_SESSION_TTL_MS).contains(&ttl) {
        return Err(schema_problem(format!(
            "body.expires_in_millis must be between 1 and {MAX_SESSION_TTL_MS}"
        )));
    }
    let user_id = auth.resolve_user_id(&body.user_id)?;
    let user = users::find(state.db(), auth.pid(), user_id)
        .await?
        .ok_or_else(|| known::user_id_does_not_exist(user_id))?;
    let session = sessions::start(
        &state,
        &auth.project,
        &user,
        ttl,
        body.is_impersonation.unwrap_or(false),
    )
    .await?;
    Ok(json_ok(
        json!({ "refresh_token": session.refresh_token, "access_token": session.access_token }),
    ))
}

fn required_user_id(q: &UserIdQuery) -> ApiResult<&str> {
    q.user_id
        .as_deref()
        .ok_or_else(|| schema_problem("query.user_id must be defined"))
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<UserIdQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = auth.own_user_id(required_user_id(&q)?, || {
        ApiError::text(
            StatusCode::FORBIDDEN,
            "Client can only list sessions for their own user.",
        )
    })?;
    let current = auth.token.as_ref().map(|t| t.refresh_token_id.as_str());
    let items = sessions::list(
        &state,
        auth.pid(),
        user_id,
        auth.access_type == AccessType::Admin,
        current,
    )
    .await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn revoke(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    Query(q): Query<UserIdQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(schema_problem("params.id must be a valid UUID"));
    }
    let not_found = || ApiError::text(StatusCode::NOT_FOUND, "Session not found.");
    let user_id = auth.own_user_id(required_user_id(&q)?, not_found)?;
    if auth
        .token
        .as_ref()
        .is_some_and(|t| t.refresh_token_id == id)
    {
        return Err(known::cannot_delete_current_session().into());
    }
    if !sessions::delete(&state, auth.pid(), user_id, &id).await? {
        return Err(not_found());
    }
    Ok(success())
}

async fn sign_out(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let Some(token) = &auth.token else {
        return Err(known::access_token_expired(None, None, None, None).into());
    };
    if !sessions::delete_by_id(&state, auth.pid(), &token.refresh_token_id).await? {
        return Err(known::refresh_token_not_found_or_expired().into());
    }
    Ok(success())
}

async fn refresh(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let refresh_token = ctx
        .refresh_token
        .as_deref()
        .ok_or_else(|| schema_problem("headers.x-stack-refresh-token must be defined"))?;
    let access_token = sessions::refresh(&state, &auth.project, refresh_token).await?;
    Ok(json_ok(json!({ "access_token": access_token })))
}
