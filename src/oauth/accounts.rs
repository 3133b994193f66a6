//! `/oauth-providers`: a user's linked provider accounts (the original's `oauth-providers` CRUD):
//! listed, read, switched (`allow_sign_in`, `allow_connected_accounts`), removed, and created by
//! the server. Clients reach only their own user's accounts.

use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY, TRUSTED};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::store::flag;
use crate::users::{self, OAuthAccount};
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/oauth-providers", get(list).post(create))
        .api_route(
            "/oauth-providers/{user_id}/{id}",
            get(read).patch(update).delete(remove),
        )
}

fn account_json(a: &OAuthAccount, access: AccessType) -> Value {
    let mut v = json!({
        "user_id": a.user_id,
        "id": a.id,
        "email": a.email,
        "provider_config_id": a.provider_id,
        "type": a.provider_id,
        "allow_sign_in": a.allow_sign_in,
        "allow_connected_accounts": a.allow_connected_accounts,
    });
    if access != AccessType::Client {
        v["account_id"] = json!(a.account_id);
    }
    v
}

/// The user whose accounts are asked for; a client only for its own user (else 403 with
/// `refusal`).
pub(super) fn owner<'a>(auth: &'a Auth, user_id: &'a str, refusal: &str) -> ApiResult<&'a str> {
    auth.own_user_id(user_id, || {
        ApiError::text(StatusCode::FORBIDDEN, refusal.to_string())
    })
}

const NOT_YOURS: &str = "Client can only manage OAuth providers of their own user.";

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, q.user_id.as_deref().unwrap_or("me"), NOT_YOURS)?;
    let items: Vec<Value> = users::oauth_accounts(state.db(), auth.pid(), user_id)
        .await?
        .iter()
        .map(|a| account_json(a, auth.access_type))
        .collect();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn find(state: &ApiState, auth: &Auth, user_id: &str, id: &str) -> ApiResult<OAuthAccount> {
    users::oauth_accounts(state.db(), auth.pid(), user_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "OAuth provider not found"))
}

async fn read(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, &user_id, NOT_YOURS)?;
    let account = find(&state, auth, user_id, &id).await?;
    Ok(json_ok(account_json(&account, auth.access_type)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Update {
    allow_sign_in: Option<bool>,
    allow_connected_accounts: Option<bool>,
    /// Server only.
    email: Option<String>,
    /// Server only.
    account_id: Option<String>,
}

async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Update>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, &user_id, NOT_YOURS)?;
    if auth.access_type == AccessType::Client {
        for (name, given) in [
            ("email", body.email.is_some()),
            ("account_id", body.account_id.is_some()),
        ] {
            if given {
                return Err(crate::http::extract::schema_problem(format!(
                    "body contains unknown properties: {name}"
                )));
            }
        }
    }
    let mut account = find(&state, auth, user_id, &id).await?;
    account.allow_sign_in = body.allow_sign_in.unwrap_or(account.allow_sign_in);
    account.allow_connected_accounts = body
        .allow_connected_accounts
        .unwrap_or(account.allow_connected_accounts);
    account.email = body.email.or(account.email);
    account.account_id = body.account_id.unwrap_or(account.account_id);
    let mut tx = state.db().begin().await?;
    let written = sqlx::query(
        "UPDATE oauth_accounts SET allow_sign_in = $1, allow_connected_accounts = $2, email = $3, account_id = $4 WHERE id = $5 AND project_id = $6",
    )
    .bind(flag(account.allow_sign_in))
    .bind(flag(account.allow_connected_accounts))
    .bind(&account.email)
    .bind(&account.account_id)
    .bind(&account.id)
    .bind(auth.pid())
    .execute(&mut *tx)
    .await;
    already_connected(written)?;
    users::sync_oauth_mirror(&mut tx, auth.pid(), user_id).await?;
    tx.commit().await?;
    Ok(json_ok(account_json(&account, auth.access_type)))
}

/// A provider account already connected (to anyone) is the original's 409.
pub(super) fn already_connected<T>(result: Result<T, sqlx::Error>) -> ApiResult<T> {
    result.map_err(|e| match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            known::oauth_connection_already_connected_to_another_user().into()
        }
        _ => e.into(),
    })
}

async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, &user_id, NOT_YOURS)?;
    let account = find(&state, auth, user_id, &id).await?;
    let mut tx = state.db().begin().await?;
    sqlx::query("DELETE FROM oauth_accounts WHERE id = $1 AND project_id = $2")
        .bind(&account.id)
        .bind(auth.pid())
        .execute(&mut *tx)
        .await?;
    users::sync_oauth_mirror(&mut tx, auth.pid(), user_id).await?;
    tx.commit().await?;
    Ok(success())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Create {
    user_id: String,
    provider_config_id: String,
    email: Option<String>,
    allow_sign_in: bool,
    allow_connected_accounts: bool,
    account_id: String,
}

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Create>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let user_id = auth.resolve_user_id(&body.user_id)?;
    if !auth
        .project
        .config
        .oauth_providers
        .iter()
        .any(|p| p.id == body.provider_config_id)
    {
        return Err(known::oauth_provider_not_found_or_not_enabled().into());
    }
    users::find(state.db(), auth.pid(), user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let mut tx = state.db().begin().await?;
    let id = already_connected(
        users::insert_oauth_account(
            &mut tx,
            auth.pid(),
            user_id,
            &body.provider_config_id,
            &body.account_id,
            body.email.as_deref(),
        )
        .await,
    )?;
    sqlx::query(
        "UPDATE oauth_accounts SET allow_sign_in = $1, allow_connected_accounts = $2 WHERE id = $3",
    )
    .bind(flag(body.allow_sign_in))
    .bind(flag(body.allow_connected_accounts))
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    users::sync_oauth_mirror(&mut tx, auth.pid(), user_id).await?;
    tx.commit().await?;
    let account = find(&state, auth, user_id, &id).await?;
    Ok(json_created(account_json(&account, auth.access_type)))
}
