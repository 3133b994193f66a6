//! Connected accounts (the original's `connected-accounts/*`): the provider tokens an OAuth
//! sign-in brought, kept sealed, so an app can call the provider's API for its user. An access
//! token is handed out while the provider still accepts it and it has more than five minutes
//! left; otherwise the refresh token gets a new one. A provider that refuses both (revoked
//! access, withdrawn consent) leaves the connection without the scope:
//! OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE, as in the original's `access-token-helpers`.

use super::accounts::owner;
use super::provider::{self, ProviderTokens};
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::crypto::secret::new_uuid;
use crate::http::{json_created, json_ok, known, ApiResult, JsonBody};
use crate::store::now_ms;
use crate::users;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

/// A token this close to expiry (ms) is refreshed rather than handed out (the original's margin).
const EXPIRY_MARGIN_MS: i64 = 5 * 60 * 1000;

const NOT_YOURS: &str = "Client can only access its own connected accounts";

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/connected-accounts/{user_id}", get(list))
        .api_route(
            "/connected-accounts/{user_id}/{provider_id}/access-token",
            post(for_provider),
        )
        .api_route(
            "/connected-accounts/{user_id}/{provider_id}/{provider_account_id}/access-token",
            post(for_account),
        )
        // The original's older path for the signed-in user.
        .api_route(
            "/auth/oauth/connected-accounts/{provider_id}/access-token",
            post(for_own_provider),
        )
}

/// Keeps the provider's tokens from a sign-in for the OAuth account `oauth_account_id`, granted
/// for `scopes`.
pub(super) async fn keep_tokens(
    state: &ApiState,
    oauth_account_id: &str,
    tokens: &ProviderTokens,
    scopes: &[String],
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO oauth_tokens (id, oauth_account_id, scopes, access_token_sealed, access_expires_at, refresh_token_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_uuid())
    .bind(oauth_account_id)
    .bind(scopes.join(" "))
    .bind(state.secret_box.seal(&tokens.access_token)?)
    .bind(tokens.expires_at)
    .bind(
        tokens
            .refresh_token
            .as_deref()
            .map(|t| state.secret_box.seal(t))
            .transpose()?,
    )
    .bind(now_ms())
    .execute(state.db())
    .await?;
    Ok(())
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, &user_id, NOT_YOURS)?;
    users::find(state.db(), auth.pid(), user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let items: Vec<_> = users::oauth_accounts(state.db(), auth.pid(), user_id)
        .await?
        .into_iter()
        .filter(|a| a.allow_connected_accounts)
        .map(|a| {
            json!({ "user_id": a.user_id, "provider": a.provider_id, "provider_account_id": a.account_id })
        })
        .collect();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// Scopes the token must carry (space-separated).
    scope: Option<String>,
}

async fn for_provider(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, provider_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    access_token(&state, &ctx, &user_id, &provider_id, None, body).await
}

async fn for_own_provider(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(provider_id): Path<String>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    access_token(&state, &ctx, "me", &provider_id, None, body).await
}

async fn for_account(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, provider_id, account_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    access_token(
        &state,
        &ctx,
        &user_id,
        &provider_id,
        Some(&account_id),
        body,
    )
    .await
}

/// `201 {"access_token"}`: a provider access token of the user's account(s) at `provider_id`
/// (only `account_id` when given) carrying every requested scope.
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED, OAUTH_ACCESS_TOKEN_NOT_AVAILABLE_WITH_SHARED_OAUTH_KEYS,
/// USER_NOT_FOUND, OAUTH_CONNECTION_NOT_CONNECTED_TO_USER, OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE,
/// 403 for another user's accounts with a client key, 502 when the provider cannot be reached.
async fn access_token(
    state: &ApiState,
    ctx: &RequestCtx,
    user_id: &str,
    provider_id: &str,
    account_id: Option<&str>,
    body: TokenRequest,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = owner(auth, user_id, NOT_YOURS)?;
    let provider = provider::resolve(state, &auth.project, provider_id)?;
    if provider.shared && !state.config.allow_shared_oauth_access_tokens {
        return Err(known::oauth_access_token_not_available_with_shared_keys().into());
    }
    users::find(state.db(), auth.pid(), user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let accounts: Vec<String> = users::oauth_accounts(state.db(), auth.pid(), user_id)
        .await?
        .into_iter()
        .filter(|a| {
            a.provider_id == provider_id
                && a.allow_connected_accounts
                && account_id.is_none_or(|id| a.account_id == id)
        })
        .map(|a| a.id)
        .collect();
    if accounts.is_empty() {
        return Err(known::oauth_connection_not_connected_to_user().into());
    }
    let wanted: Vec<String> = body
        .scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for account in &accounts {
        if let Some(token) = usable_token(state, &provider, account, &wanted).await? {
            return Ok(json_created(json!({ "access_token": token })));
        }
    }
    Err(known::oauth_connection_does_not_have_required_scope().into())
}

/// A stored grant of the provider's tokens.
struct Grant {
    id: String,
    access_token_sealed: Option<String>,
    access_expires_at: Option<i64>,
    refresh_token_sealed: Option<String>,
}

/// An access token of OAuth account `account` with every scope in `wanted`: a stored one the
/// provider still accepts, else one got with a stored refresh token. Tokens the provider no
/// longer accepts are forgotten.
async fn usable_token(
    state: &ApiState,
    provider: &provider::Provider,
    account: &str,
    wanted: &[String],
) -> ApiResult<Option<String>> {
    let rows = sqlx::query(
        "SELECT id, scopes, access_token_sealed, access_expires_at, refresh_token_sealed FROM oauth_tokens WHERE oauth_account_id = $1 ORDER BY created_at DESC",
    )
    .bind(account)
    .fetch_all(state.db())
    .await?;
    let mut grants = Vec::new();
    for r in &rows {
        let scopes: String = r.try_get("scopes")?;
        if wanted
            .iter()
            .all(|w| scopes.split_whitespace().any(|s| s == w))
        {
            grants.push(Grant {
                id: r.try_get("id")?,
                access_token_sealed: r.try_get("access_token_sealed")?,
                access_expires_at: r.try_get("access_expires_at")?,
                refresh_token_sealed: r.try_get("refresh_token_sealed")?,
            });
        }
    }
    let fresh_until = now_ms() + EXPIRY_MARGIN_MS;
    for grant in &grants {
        let Some(sealed) = &grant.access_token_sealed else {
            continue;
        };
        if grant.access_expires_at.is_some_and(|t| t <= fresh_until) {
            continue;
        }
        let token = state.secret_box.open(sealed)?;
        if provider.accepts(&token).await? {
            return Ok(Some(token));
        }
        sqlx::query("UPDATE oauth_tokens SET access_token_sealed = NULL WHERE id = $1")
            .bind(&grant.id)
            .execute(state.db())
            .await?;
    }
    for grant in &grants {
        let Some(sealed) = &grant.refresh_token_sealed else {
            continue;
        };
        let refresh_token = state.secret_box.open(sealed)?;
        match provider.refresh(&refresh_token).await? {
            Some(tokens) => {
                // A provider that rotates refresh tokens sends a new one; others keep the old.
                let refresh_sealed = match &tokens.refresh_token {
                    Some(t) => state.secret_box.seal(t)?,
                    None => sealed.clone(),
                };
                sqlx::query(
                    "UPDATE oauth_tokens SET access_token_sealed = $1, access_expires_at = $2, refresh_token_sealed = $3 WHERE id = $4",
                )
                .bind(state.secret_box.seal(&tokens.access_token)?)
                .bind(tokens.expires_at)
                .bind(refresh_sealed)
                .bind(&grant.id)
                .execute(state.db())
                .await?;
                return Ok(Some(tokens.access_token));
            }
            None => {
                sqlx::query("DELETE FROM oauth_tokens WHERE id = $1")
                    .bind(&grant.id)
                    .execute(state.db())
                    .await?;
            }
        }
    }
    Ok(None)
}
