//! Sessions: each is a refresh token (stored hashed, revocable) from which access tokens are minted.

use super::tokens;
use crate::crypto::secret::{new_uuid, random_base32, sha256_hex};
use crate::http::{known, ApiResult};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::store::{flag, now_ms};
use crate::users::{self, User};
use serde_json::{json, Value};
use sqlx::Row;

pub const DEFAULT_TTL_MS: i64 = 365 * 24 * 3600 * 1000;

pub struct NewSession {
    pub refresh_token: String,
    pub access_token: String,
}

/// Starts a session for `user` and mints its first access token.
pub async fn start(
    state: &Kernel,
    project: &Project,
    user: &User,
    ttl_ms: i64,
    is_impersonation: bool,
) -> ApiResult<NewSession> {
    let id = new_uuid();
    let refresh_token = random_base32(45);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sessions (id, project_id, user_id, refresh_token_hash, created_at, last_used_at, expires_at, is_impersonation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&project.id)
    .bind(&user.id)
    .bind(sha256_hex(&refresh_token))
    .bind(now)
    .bind(now)
    .bind(now.saturating_add(ttl_ms))
    .bind(flag(is_impersonation))
    .execute(state.db())
    .await?;
    let access_token = tokens::mint(
        state,
        &project.id,
        user,
        &id,
        project.config.require_email_verification,
    );
    Ok(NewSession {
        refresh_token,
        access_token,
    })
}

/// How long a sign-in waits for its second factor (the original's 5 minutes).
const MFA_ATTEMPT_MS: i64 = 5 * 60 * 1000;

/// Starts the session a first factor (password, one-time code, OAuth, passkey) earned — unless
/// the user has a TOTP secret: then MULTI_FACTOR_AUTHENTICATION_REQUIRED, carrying the attempt
/// code that `/auth/mfa/sign-in` takes with a TOTP (the original's `createMfaRequiredError`).
///
/// Counts the first factor in `portcullis_sign_ins_total{method}` (and a new user in
/// `portcullis_sign_ups_total{method}`), `method` being `password`, `otp`, `oauth` or `passkey`.
pub async fn sign_in(
    state: &Kernel,
    project: &Project,
    user: &User,
    is_new_user: bool,
    method: &'static str,
) -> ApiResult<NewSession> {
    metrics::counter!("portcullis_sign_ins_total", "method" => method).increment(1);
    if is_new_user {
        metrics::counter!("portcullis_sign_ups_total", "method" => method).increment(1);
    }
    if user.totp_secret.is_some() {
        let mut conn = state.db().acquire().await?;
        let attempt_code = crate::codes::create(
            &mut conn,
            &project.id,
            crate::codes::CodeType::MfaAttempt,
            json!({}),
            json!({ "user_id": user.id, "is_new_user": is_new_user }),
            None,
            MFA_ATTEMPT_MS,
        )
        .await?;
        return Err(known::multi_factor_authentication_required(&attempt_code).into());
    }
    start(state, project, user, DEFAULT_TTL_MS, false).await
}

/// Mints a new access token from a refresh token; REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED when the
/// session is gone, expired, or its user was deleted.
pub async fn refresh(state: &Kernel, project: &Project, refresh_token: &str) -> ApiResult<String> {
    let now = now_ms();
    let row = sqlx::query(
        "UPDATE sessions SET last_used_at = $1
         WHERE refresh_token_hash = $2 AND project_id = $3 AND (expires_at IS NULL OR expires_at > $1)
         RETURNING id, user_id",
    )
    .bind(now)
    .bind(sha256_hex(refresh_token))
    .bind(&project.id)
    .fetch_optional(state.db())
    .await?
    .ok_or_else(known::refresh_token_not_found_or_expired)?;
    let session_id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let user = users::find(state.db(), &project.id, &user_id)
        .await?
        .ok_or_else(known::refresh_token_not_found_or_expired)?;
    users::touch(state.db(), &user.id, now).await?;
    Ok(tokens::mint(
        state,
        &project.id,
        &user,
        &session_id,
        project.config.require_email_verification,
    ))
}

/// Deletes one session of `user_id`; false when there was none.
pub async fn delete(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    session_id: &str,
) -> ApiResult<bool> {
    let res =
        sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND project_id = $3")
            .bind(session_id)
            .bind(user_id)
            .bind(project_id)
            .execute(state.db())
            .await?;
    Ok(res.rows_affected() > 0)
}

pub async fn delete_by_id(state: &Kernel, project_id: &str, session_id: &str) -> ApiResult<bool> {
    let res = sqlx::query("DELETE FROM sessions WHERE id = $1 AND project_id = $2")
        .bind(session_id)
        .bind(project_id)
        .execute(state.db())
        .await?;
    Ok(res.rows_affected() > 0)
}

/// A live session: its id (the access tokens' `refresh_token_id`) and user.
pub struct SessionRef {
    pub id: String,
    pub user_id: String,
    /// When it ends (ms since the epoch), if ever.
    pub expires_at: Option<i64>,
    pub is_impersonation: bool,
}

/// The live session `refresh_token` opens in `project_id`, if any (nothing is updated).
pub async fn find(
    state: &Kernel,
    project_id: &str,
    refresh_token: &str,
) -> ApiResult<Option<SessionRef>> {
    let row = sqlx::query("SELECT id, user_id, expires_at, is_impersonation FROM sessions WHERE refresh_token_hash = $1 AND project_id = $2 AND (expires_at IS NULL OR expires_at > $3)")
        .bind(sha256_hex(refresh_token))
        .bind(project_id)
        .bind(now_ms())
        .fetch_optional(state.db())
        .await?;
    Ok(match row {
        Some(r) => Some(SessionRef {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            expires_at: r.try_get("expires_at")?,
            is_impersonation: r.try_get::<i64, _>("is_impersonation")? != 0,
        }),
        None => None,
    })
}

/// Ends the session `refresh_token` opens in `project_id` (sign-out); nothing if there is none.
pub async fn end(state: &Kernel, project_id: &str, refresh_token: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE refresh_token_hash = $1 AND project_id = $2")
        .bind(sha256_hex(refresh_token))
        .bind(project_id)
        .execute(state.db())
        .await?;
    Ok(())
}

/// Ends every session of the user, inside the caller's transaction (a password change).
pub async fn end_all_in(conn: &mut sqlx::AnyConnection, user_id: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every session of the user except the one holding `keep_refresh_token`.
pub async fn delete_all_but(
    state: &Kernel,
    user_id: &str,
    keep_refresh_token: Option<&str>,
) -> ApiResult<()> {
    let keep = keep_refresh_token.map(sha256_hex).unwrap_or_default();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND refresh_token_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(state.db())
        .await?;
    Ok(())
}

/// The user's live sessions, newest first, in the wire shape.
pub async fn list(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    include_impersonation: bool,
    current: Option<&str>,
) -> ApiResult<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT id, user_id, created_at, last_used_at, is_impersonation FROM sessions
         WHERE project_id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3)
         ORDER BY created_at DESC, id",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(now_ms())
    .fetch_all(state.db())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let is_impersonation = r.try_get::<i64, _>("is_impersonation")? != 0;
        if is_impersonation && !include_impersonation {
            continue;
        }
        out.push(json!({
            "id": id,
            "user_id": r.try_get::<String, _>("user_id")?,
            "created_at": r.try_get::<i64, _>("created_at")?,
            "last_used_at": r.try_get::<i64, _>("last_used_at")?,
            "is_impersonation": is_impersonation,
            "is_current_session": current == Some(id.as_str()),
        }));
    }
    Ok(out)
}
