//! `POST /auth/oauth/token`: the OAuth 2 token endpoint. The published SDK refreshes its access
//! token here with the `refresh_token` grant, and exchanges OAuth sign-in's authorization code.

use crate::auth::context::{self, ApiState};
use crate::auth::sessions;
use crate::crypto::secret::sha256_hex;
use crate::http::extract::RawBody;
use crate::http::{known, ApiError, ApiResult};
use crate::projects::Project;
use crate::store::now_ms;
use crate::users;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new().api_route("/auth/oauth/token", post(token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(state): State<ApiState>, RawBody(body): RawBody) -> ApiResult<Response> {
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let missing = |name: &str| {
        Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Missing parameter: `{name}`"),
        ))
    };
    let grant_type = field("grant_type");
    if !matches!(grant_type, Some("refresh_token" | "authorization_code")) {
        return Ok(match grant_type {
            None => return missing("grant_type"),
            Some(_) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type: `grant_type` is invalid",
            ),
        });
    }
    let Some(client_id) = field("client_id") else {
        return missing("client_id");
    };
    let project = context::client_project(&state, client_id, field("client_secret")).await?;
    if grant_type == Some("authorization_code") {
        let (Some(code), Some(verifier), Some(redirect_uri)) =
            (field("code"), field("code_verifier"), field("redirect_uri"))
        else {
            return missing("code`, `code_verifier` or `redirect_uri");
        };
        let r = redeem_code(&state, &project, code, verifier, redirect_uri).await?;
        return Ok(Json(json!({
            "access_token": r.session.access_token,
            "refresh_token": r.session.refresh_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "legacy",
            "user_id": r.user_id,
            "is_new_user": r.is_new_user,
            "newUser": r.is_new_user,
            "after_callback_redirect_url": r.after_callback_redirect_url,
            "afterCallbackRedirectUrl": r.after_callback_redirect_url,
        }))
        .into_response());
    }
    let Some(refresh_token) = field("refresh_token") else {
        return missing("refresh_token");
    };
    let access_token = sessions::refresh(&state, &project, refresh_token).await?;
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "legacy",
        "after_callback_redirect_url": null,
        "afterCallbackRedirectUrl": null,
    }))
    .into_response())
}

/// The authorization-code grant (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.6): the code the
/// callback issued, once, before it expires, for the same redirect URI, with the verifier whose
/// S256 hash is the challenge the app sent to `authorize`; answered with a new session.
/// Errors: INVALID_AUTHORIZATION_CODE (unknown, used, expired, wrong verifier or project), a
/// plain 400 for another redirect URI, MULTI_FACTOR_AUTHENTICATION_REQUIRED for a user with TOTP.
pub async fn redeem_code(
    state: &ApiState,
    project: &Project,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> ApiResult<Redeemed> {
    let mut tx = state.db().begin().await?;
    let row = sqlx::query(
        "SELECT user_id, redirect_uri, code_challenge, is_new_user, after_callback_redirect_url, expires_at, used_at, pending_link
         FROM oauth_authorization_codes WHERE code_hash = $1 AND project_id = $2",
    )
    .bind(sha256_hex(code))
    .bind(&project.id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(known::invalid_authorization_code)?;
    if row.try_get::<Option<i64>, _>("used_at")?.is_some()
        || row.try_get::<i64, _>("expires_at")? < now_ms()
        || !pkce_matches(verifier, &row.try_get::<String, _>("code_challenge")?)
    {
        return Err(known::invalid_authorization_code().into());
    }
    if row.try_get::<String, _>("redirect_uri")? != redirect_uri.split('#').next().unwrap_or("") {
        return Err(ApiError::bad_request("Invalid redirect URI. Your redirect URI must be the same as the one used to get the authorization code."));
    }
    // Spent in the same transaction that reads it: a code replayed concurrently finds it used.
    let spent = sqlx::query(
        "UPDATE oauth_authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(sha256_hex(code))
    .execute(&mut *tx)
    .await?;
    if spent.rows_affected() != 1 {
        return Err(known::invalid_authorization_code().into());
    }
    tx.commit().await?;
    let user_id: String = row.try_get("user_id")?;
    if let Some(sealed) = row.try_get::<Option<String>, _>("pending_link")? {
        let link: super::PendingLink = serde_json::from_str(&state.secret_box.open(&sealed)?)
            .map_err(|e| ApiError::Internal(e.into()))?;
        super::callback::complete_link(state, project, &link, &user_id).await?;
    }
    // Read after the link: an upgraded anonymous user's token must say they no longer are.
    let user = users::find(state.db(), &project.id, &user_id)
        .await?
        .ok_or_else(known::invalid_authorization_code)?;
    let is_new_user = row.try_get::<i64, _>("is_new_user")? != 0;
    let session = sessions::sign_in(state, project, &user, is_new_user, "oauth").await?;
    Ok(Redeemed {
        session,
        user_id: user.id,
        is_new_user,
        after_callback_redirect_url: row.try_get("after_callback_redirect_url")?,
    })
}

/// What an authorization code was worth: a new session for its user.
pub struct Redeemed {
    pub session: sessions::NewSession,
    pub user_id: String,
    pub is_new_user: bool,
    /// Where the app asked to go after its callback page, if anywhere.
    pub after_callback_redirect_url: Option<String>,
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge, compared in constant time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}
