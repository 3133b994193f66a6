//! `POST /auth/mfa/sign-in`: the second step of a sign-in for a user with a TOTP secret. A first
//! factor answered MULTI_FACTOR_AUTHENTICATION_REQUIRED with an attempt code (5 minutes); that
//! code plus a current TOTP (RFC 6238, one step of drift either side) starts the session. A TOTP
//! works once, and wrong ones are limited per user as well as per attempt code.

use super::sessions;
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::crypto::secret_box::is_sealed;
use crate::crypto::totp;
use crate::http::extract::schema_problem;
use crate::http::{json_ok, known, ApiResult, ClientIp, JsonBody};
use crate::kernel::Kernel;
use crate::limits::Rule;
use crate::projects::Project;
use crate::users::{self, User};
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

/// Wrong TOTPs per user: six digits must not be guessable by starting many attempts.
pub const TOTP_FAILURES_PER_USER: Rule = Rule {
    name: "totp_user",
    limit: 10,
    window_secs: 600,
};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/auth/mfa/sign-in", post(sign_in))
        .api_route("/auth/mfa/sign-in/check-code", post(check_code))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MfaSignIn {
    #[serde(rename = "type")]
    kind: String,
    totp: String,
    code: String,
}

/// `200 {"refresh_token", "access_token", "is_new_user", "user_id"}`.
/// Errors: the attempt code's (VERIFICATION_CODE_NOT_FOUND / _EXPIRED / _ALREADY_USED /
/// _MAX_ATTEMPTS_REACHED), INVALID_TOTP_CODE (wrong, or used already), 429 past the user's limit.
async fn sign_in(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<MfaSignIn>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if body.kind != "totp" {
        return Err(schema_problem("body.type must be one of: totp"));
    }
    let ip = auth.limited_ip(&ip);
    let (session, user_id, is_new_user) =
        sign_in_with_totp(&state, ip, &auth.project, &body.code, &body.totp).await?;
    Ok(json_ok(json!({
        "refresh_token": session.refresh_token,
        "access_token": session.access_token,
        "is_new_user": is_new_user,
        "user_id": user_id,
    })))
}

/// The second step of a sign-in: the first factor's attempt `code` and a current `totp` start the
/// session; answers it with the user's id and whether the first factor created the user.
/// Errors: the attempt code's (VERIFICATION_CODE_NOT_FOUND / _EXPIRED / _ALREADY_USED /
/// _MAX_ATTEMPTS_REACHED), INVALID_TOTP_CODE, 429 past the user's limit.
pub async fn sign_in_with_totp(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    code: &str,
    totp: &str,
) -> ApiResult<(sessions::NewSession, String, bool)> {
    let attempt = codes::check(state, ip, &project.id, CodeType::MfaAttempt, code, false).await?;
    let user_id = attempt.data["user_id"].as_str().unwrap_or_default();
    let user = users::find(state.db(), &project.id, user_id)
        .await?
        .ok_or_else(codes::not_found)?;
    check_totp(state, &project.id, &user, totp).await?;
    codes::consume(&mut *state.db().acquire().await?, &attempt.id).await?;
    let session = sessions::start(state, project, &user, sessions::DEFAULT_TTL_MS, false).await?;
    Ok((session, user.id, attempt.data["is_new_user"] == true))
}

/// Checks `totp` (RFC 6238, one step of drift) against `user`'s secret and spends its step, so
/// it works once; wrong codes count against the user (refunded on a match). Used by the API's
/// second step and the dashboard's sign-in. (Outside any transaction: on SQLite the limiter's
/// writes would wait for it.)
/// Errors: INVALID_TOTP_CODE (wrong, used already, or no secret), 429 past the user's limit.
pub async fn check_totp(
    state: &Kernel,
    project_id: &str,
    user: &User,
    totp: &str,
) -> ApiResult<()> {
    let Some(stored) = &user.totp_secret else {
        // The secret was cleared since: nothing left to check against.
        return Err(known::invalid_totp_code().into());
    };
    let secret = if is_sealed(stored) {
        state.secret_box.open(stored)?
    } else {
        stored.clone()
    };
    let account = format!("{project_id}:{}", user.id);
    state.limits.hit(&TOTP_FAILURES_PER_USER, &account).await?;
    let now_secs = u64::try_from(crate::store::now_ms() / 1000).unwrap_or_default();
    let Some(step) = totp::matching_step(&secret, totp.trim(), now_secs) else {
        return Err(known::invalid_totp_code().into());
    };
    // The step is spent in the statement that checks it: a code (or an older one) is refused
    // the second time, even by two racing requests.
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let fresh = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(&user.id)
    .execute(state.db())
    .await?;
    if fresh.rows_affected() != 1 {
        return Err(known::invalid_totp_code().into());
    }
    state
        .limits
        .refund(&TOTP_FAILURES_PER_USER, &account)
        .await?;
    Ok(())
}

async fn check_code(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    codes::answer_check(
        &state,
        auth.limited_ip(&ip),
        auth.pid(),
        CodeType::MfaAttempt,
        &body.code,
    )
    .await
}
