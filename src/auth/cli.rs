//! CLI sign-in (the original's `auth/cli/*`): a command-line tool asks for a pair of codes, shows
//! the user a URL with the login code, and polls with the polling code while the user, signed in
//! in a browser, completes the login code; the next poll collects a session of the CLI's own.
//! Both codes are kept hashed and work once; the CLI's refresh token waits sealed until
//! collected.

use super::sessions;
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::crypto::secret::{new_uuid, random_base32, sha256_hex};
use crate::http::extract::{parse_value, schema_problem, RawBody};
use crate::http::{json_created, json_ok, known, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::store::{iso, now_ms};
use crate::users;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

/// How long codes last unless the CLI asks otherwise (ms; the original's 2 hours, at most 24).
const DEFAULT_TTL_MS: i64 = 2 * 3600 * 1000;
const MAX_TTL_MS: i64 = 24 * 3600 * 1000;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/auth/cli", post(start))
        .api_route("/auth/cli/poll", post(poll))
        .api_route("/auth/cli/complete", post(complete))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Start {
    expires_in_millis: Option<f64>,
    /// The CLI's own anonymous session, which the browser may take over (`claim-anon-session`).
    anon_refresh_token: Option<String>,
}

/// `200 {"polling_code", "login_code", "expires_at"}` (ISO 8601).
/// Errors: SCHEMA_ERROR for a lifetime outside 1 ms–24 h; 400 for an anonymous refresh token
/// that is not a live anonymous session of this project.
async fn start(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    // The body is optional (the original defaults it to `{}`).
    let body: Start = if body.is_null() {
        Start::default()
    } else {
        parse_value(body, "body")?
    };
    let ttl = body.expires_in_millis.unwrap_or(DEFAULT_TTL_MS as f64);
    if !(ttl >= 1.0 && ttl <= MAX_TTL_MS as f64) || ttl.fract() != 0.0 {
        return Err(schema_problem(
            "body.expires_in_millis must be a whole number of milliseconds, at most 86400000",
        ));
    }
    let anon_sealed = match &body.anon_refresh_token {
        Some(token) => {
            if anonymous_session(&state, auth.pid(), token)
                .await?
                .is_none()
            {
                return Err(ApiError::bad_request(
                    "The anon refresh token is not a live anonymous session of this project",
                ));
            }
            Some(state.secret_box.seal(token)?)
        }
        None => None,
    };
    let (polling_code, login_code) = (random_base32(40), random_base32(40));
    let expires_at = now_ms() + ttl as i64;
    sqlx::query(
        "INSERT INTO cli_auth_attempts (id, project_id, polling_code_hash, login_code_hash, anon_refresh_token_sealed, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_uuid())
    .bind(auth.pid())
    .bind(sha256_hex(&polling_code))
    .bind(sha256_hex(&login_code))
    .bind(anon_sealed)
    .bind(expires_at)
    .bind(now_ms())
    .execute(state.db())
    .await?;
    Ok(json_ok(json!({
        "polling_code": polling_code,
        "login_code": login_code,
        "expires_at": iso(expires_at),
    })))
}

/// The user id of `refresh_token`'s live session if that user is anonymous.
async fn anonymous_session(
    state: &ApiState,
    project_id: &str,
    refresh_token: &str,
) -> ApiResult<Option<String>> {
    let Some(session) = sessions::find(state, project_id, refresh_token).await? else {
        return Ok(None);
    };
    let user = users::find(state.db(), project_id, &session.user_id).await?;
    Ok(user.filter(|u| u.is_anonymous).map(|u| u.id))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Poll {
    polling_code: String,
}

/// `200 {"status": "waiting" | "expired" | "used"}`, or once `201 {"status": "success",
/// "refresh_token"}`. Errors: INVALID_POLLING_CODE.
async fn poll(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Poll>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let hash = sha256_hex(&body.polling_code);
    let row = sqlx::query(
        "SELECT id, refresh_token_sealed, expires_at, used_at FROM cli_auth_attempts WHERE polling_code_hash = $1 AND project_id = $2",
    )
    .bind(&hash)
    .bind(auth.pid())
    .fetch_optional(state.db())
    .await?
    .ok_or_else(known::invalid_polling_code)?;
    let status = |s: &str| Ok(json_ok(json!({ "status": s })));
    if row.try_get::<i64, _>("expires_at")? < now_ms() {
        return status("expired");
    }
    if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
        return status("used");
    }
    let Some(sealed) = row.try_get::<Option<String>, _>("refresh_token_sealed")? else {
        return status("waiting");
    };
    // Collected once, even by two racing polls; the sealed token is dropped with it.
    let taken = sqlx::query(
        "UPDATE cli_auth_attempts SET used_at = $1, refresh_token_sealed = NULL WHERE id = $2 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(row.try_get::<String, _>("id")?)
    .execute(state.db())
    .await?;
    if taken.rows_affected() != 1 {
        return status("used");
    }
    let refresh_token = state.secret_box.open(&sealed)?;
    Ok(json_created(
        json!({ "status": "success", "refresh_token": refresh_token }),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Complete {
    login_code: String,
    mode: Option<String>,
    /// The browser's session (mode `complete`): the CLI gets a new session of the same user.
    refresh_token: Option<String>,
}

fn invalid_login_code() -> ApiError {
    ApiError::bad_request("Invalid login code or the code has expired")
}

/// Mode `check`: `{"cli_session_state": "anonymous" | "none"}`; `claim-anon-session`: the CLI's
/// anonymous session (`{"access_token", "refresh_token"}`, once); `complete` (default):
/// `{"success": true}`, and the CLI's next poll collects a new session of the browser's user.
/// Errors: 400 for a login code that is unknown, expired, completed or collected, and for a
/// refresh token that is not a live session of this project; SCHEMA_ERROR for another mode.
async fn complete(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Complete>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let mode = body.mode.as_deref().unwrap_or("complete");
    if !matches!(mode, "check" | "claim-anon-session" | "complete") {
        return Err(schema_problem(
            "body.mode must be one of: check, claim-anon-session, complete",
        ));
    }
    let now = now_ms();
    let row = open_attempt(&state, auth.pid(), &body.login_code, now).await?;
    let id: String = row.try_get("id")?;
    // The CLI's anonymous session, if it still is one (looked up only by the modes using it).
    let anon_sealed: Option<String> = row.try_get("anon_refresh_token_sealed")?;
    let anon_token = || async {
        let Some(sealed) = &anon_sealed else {
            return Ok::<_, ApiError>(None);
        };
        let token = state.secret_box.open(sealed)?;
        let live = anonymous_session(&state, auth.pid(), &token).await?;
        Ok(live.map(|_| token))
    };
    match mode {
        "check" => {
            let state_name = if anon_token().await?.is_some() {
                "anonymous"
            } else {
                "none"
            };
            Ok(json_ok(json!({ "cli_session_state": state_name })))
        }
        "claim-anon-session" => {
            let no_session =
                || ApiError::bad_request("No anonymous session associated with this code");
            let token = anon_token().await?.ok_or_else(no_session)?;
            let claimed = sqlx::query(
                "UPDATE cli_auth_attempts SET anon_refresh_token_sealed = NULL WHERE id = $1 AND anon_refresh_token_sealed IS NOT NULL",
            )
            .bind(&id)
            .execute(state.db())
            .await?;
            if claimed.rows_affected() != 1 {
                return Err(no_session());
            }
            let access_token = sessions::refresh(&state, &auth.project, &token).await?;
            Ok(json_ok(
                json!({ "access_token": access_token, "refresh_token": token }),
            ))
        }
        _ => {
            let browser_token = body.refresh_token.as_deref().ok_or_else(|| {
                ApiError::bad_request("refresh_token is required when mode is 'complete'")
            })?;
            complete_attempt(&state, &auth.project, &id, browser_token, now).await?;
            Ok(json_ok(json!({ "success": true })))
        }
    }
}

/// The open attempt a login code names: `id` and `anon_refresh_token_sealed`.
/// Errors: the invalid login code error.
async fn open_attempt(
    state: &Kernel,
    project_id: &str,
    login_code: &str,
    now: i64,
) -> ApiResult<sqlx::any::AnyRow> {
    sqlx::query(
        "SELECT id, anon_refresh_token_sealed FROM cli_auth_attempts
         WHERE login_code_hash = $1 AND project_id = $2 AND refresh_token_sealed IS NULL AND used_at IS NULL AND expires_at > $3",
    )
    .bind(sha256_hex(login_code))
    .bind(project_id)
    .bind(now)
    .fetch_optional(state.db())
    .await?
    .ok_or_else(invalid_login_code)
}

/// Completes the CLI sign-in a login code names for the browser session `browser_token` is
/// the refresh token of (the hosted `cli-auth-confirm` page's). Errors: the invalid login code
/// error; text 400 for a refresh token that is not a live session's.
pub async fn confirm_login_code(
    state: &Kernel,
    project: &Project,
    login_code: &str,
    browser_token: &str,
) -> ApiResult<()> {
    let now = now_ms();
    let row = open_attempt(state, &project.id, login_code, now).await?;
    let id: String = row.try_get("id")?;
    complete_attempt(state, project, &id, browser_token, now).await
}

/// Gives the attempt `id` a CLI session of the browser session's user.
async fn complete_attempt(
    state: &Kernel,
    project: &Project,
    id: &str,
    browser_token: &str,
    now: i64,
) -> ApiResult<()> {
    let browser = sessions::find(state, &project.id, browser_token)
        .await?
        .ok_or_else(|| ApiError::bad_request("Invalid refresh token"))?;
    let user = users::find(state.db(), &project.id, &browser.user_id)
        .await?
        .ok_or_else(|| ApiError::bad_request("Invalid refresh token"))?;
    // The CLI gets a session of its own (revocable apart from the browser's), not the
    // browser's refresh token as the original hands over — but no more than the
    // browser's: it ends when that one would, and an impersonation stays one.
    let ttl = browser.expires_at.map_or(sessions::DEFAULT_TTL_MS, |end| {
        (end - now).min(sessions::DEFAULT_TTL_MS)
    });
    let cli = sessions::start(state, project, &user, ttl, browser.is_impersonation).await?;
    let completed = sqlx::query(
                "UPDATE cli_auth_attempts SET refresh_token_sealed = $1, anon_refresh_token_sealed = NULL
                 WHERE id = $2 AND refresh_token_sealed IS NULL AND used_at IS NULL AND expires_at > $3",
            )
            .bind(state.secret_box.seal(&cli.refresh_token)?)
            .bind(id)
            .bind(now)
            .execute(state.db())
            .await?;
    if completed.rows_affected() != 1 {
        sessions::end(state, &project.id, &cli.refresh_token).await?;
        return Err(invalid_login_code());
    }
    Ok(())
}
