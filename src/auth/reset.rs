//! Forgotten passwords: a reset link by email, then a new password set with its code.

use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::auth::sessions;
use crate::codes::{self, CodeType};
use crate::contact_channels;
use crate::emails::{outbox, templates::Template};
use crate::http::extract::schema_problem;
use crate::http::ClientIp;
use crate::http::{json_ok, known, success, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::users::write::{check_password_length, PASSWORD_MAX};
use crate::users::{is_valid_email, normalize_email};
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tokio::time::{Duration, Instant};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/auth/password/send-reset-code", post(send_reset_code))
        .api_route("/auth/password/reset", post(reset))
        .api_route("/auth/password/reset/check-code", post(check_code))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendResetCode {
    email: String,
    callback_url: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Reset {
    code: String,
    password: String,
}

async fn send_reset_code(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SendResetCode>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if !is_valid_email(body.email.trim()) {
        return Err(schema_problem("body.email must be a valid email"));
    }
    send_reset(
        &state,
        auth.limited_ip(&ip),
        &auth.project,
        &body.email,
        &body.callback_url,
    )
    .await?;
    Ok(json_ok(
        json!({ "success": "maybe, only if user with e-mail exists" }),
    ))
}

/// Emails a password reset link (to `callback_url`) if an account signs in with `email`. Known
/// and unknown addresses take the same time and answer alike, so neither tells which addresses
/// have accounts. Errors: PASSWORD_AUTHENTICATION_NOT_ENABLED; REDIRECT_URL_NOT_WHITELISTED;
/// the per-address and per-IP sending limits.
pub async fn send_reset(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    email: &str,
    callback_url: &str,
) -> ApiResult<()> {
    if !project.config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    if !project.trusts_link(&state.public_url, callback_url) {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let email = normalize_email(email);
    // Counted before the lookup, so known and unknown addresses reach the limit alike.
    codes::limit_send(state, ip, &project.id, &email).await?;
    let arrived = Instant::now();
    if let Some(channel) = contact_channels::find_auth(state.db(), &project.id, &email).await? {
        let mut tx = state.db().begin().await?;
        let code = codes::create(
            &mut tx,
            &project.id,
            CodeType::PasswordReset,
            json!({ "email": email }),
            json!({ "user_id": channel.user_id }),
            Some(callback_url),
            codes::DEFAULT_TTL_MS,
        )
        .await?;
        let variables = json!({ "passwordResetLink": codes::link(callback_url, &code) });
        outbox::enqueue_template(
            &mut tx,
            project,
            Some(&channel.user_id),
            &email,
            Template::PasswordReset,
            variables,
        )
        .await?;
        tx.commit().await?;
        crate::emails::wake_sender(state);
    }
    // Known and unknown addresses answer alike and at the same moment, so neither the answer
    // nor its timing tells which addresses have accounts.
    tokio::time::sleep_until(arrived + ANSWER_AFTER).await;
    Ok(())
}

/// How long after arrival `send-reset-code` answers, for known and unknown addresses alike;
/// longer than queueing the email takes under load.
const ANSWER_AFTER: Duration = Duration::from_millis(250);

async fn reset(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Reset>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    reset_with_code(
        &state,
        auth.limited_ip(&ip),
        &auth.project,
        &body.code,
        body.password,
    )
    .await?;
    Ok(success())
}

/// Sets a new password with a reset code, spending the code and ending every session of the
/// user in the same transaction. Errors: SCHEMA_ERROR for a password over the maximum; the
/// code's errors; PASSWORD_AUTHENTICATION_NOT_ENABLED; the password length errors.
pub async fn reset_with_code(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    code: &str,
    password: String,
) -> ApiResult<()> {
    if password.chars().count() > PASSWORD_MAX {
        return Err(schema_problem(format!(
            "body.password must be at most {PASSWORD_MAX} characters"
        )));
    }
    let checked =
        codes::check(state, ip, &project.id, CodeType::PasswordReset, code, false).await?;
    if !project.config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    check_password_length(&password)?;
    let user_id = checked.data["user_id"]
        .as_str()
        .ok_or_else(codes::not_found)?
        .to_string();
    let hash = state.passwords.hash(password).await?;
    // The code, the new password and the end of every session commit together: a reset is
    // what people do after a suspected takeover (the original keeps sessions; docs/compat.md).
    let mut tx = state.db().begin().await?;
    codes::consume(&mut tx, &checked.id).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND project_id = $3")
        .bind(hash)
        .bind(&user_id)
        .bind(&project.id)
        .execute(&mut *tx)
        .await?;
    sessions::end_all_in(&mut tx, &user_id).await?;
    tx.commit().await?;
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
        CodeType::PasswordReset,
        &body.code,
    )
    .await
}
