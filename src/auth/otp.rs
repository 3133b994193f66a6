//! Magic link / OTP sign-in: one code, sent as a link and as a 6-character OTP; the client keeps
//! the nonce and sends OTP + nonce, or the link's whole code.

use super::sessions;
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::contact_channels;
use crate::emails::{outbox, templates::Template};
use crate::http::extract::schema_problem;
use crate::http::{json_ok, known, ApiError, ApiResult, JsonBody};
use crate::http::{ClientCountry, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::sign_up_rules::Applicant;
use crate::users::write::{self, UserWrite};
use crate::users::{self, is_valid_email, normalize_email, User};
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
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
        .api_route("/auth/otp/send-sign-in-code", post(send_code))
        .api_route("/auth/otp/sign-in", post(sign_in))
        .api_route("/auth/otp/sign-in/check-code", post(check_code))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendCode {
    email: String,
    callback_url: String,
    #[allow(dead_code)]
    bot_challenge_token: Option<String>,
    #[allow(dead_code)]
    bot_challenge_phase: Option<String>,
    #[allow(dead_code)]
    bot_challenge_unavailable: Option<String>,
}

/// Who `email` signs in as: an existing user (whose auth email must be verified) or nobody yet
/// (then sign-up must be open).
async fn existing_user_for(
    state: &Kernel,
    project: &Project,
    email: &str,
) -> ApiResult<Option<User>> {
    match contact_channels::find_auth(state.db(), &project.id, email).await? {
        Some(channel) if channel.is_verified => {
            Ok(users::find(state.db(), &project.id, &channel.user_id).await?)
        }
        Some(_) => Err(known::user_email_already_exists(email, true).into()),
        None if !project.config.sign_up_enabled => Err(known::sign_up_not_enabled().into()),
        None => Ok(None),
    }
}

async fn send_code(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SendCode>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if !is_valid_email(body.email.trim()) {
        return Err(schema_problem("body.email must be a valid email"));
    }
    let nonce = send_sign_in_code(
        &state,
        auth.limited_ip(&ip),
        &auth.project,
        &body.email,
        &body.callback_url,
    )
    .await?;
    Ok(json_ok(json!({ "nonce": nonce })))
}

/// Emails a sign-in code (a one-time password, and a magic link to `callback_url` with the
/// whole code); returns the nonce, the part of the code the email does not show. Errors: text
/// 403 when the project has OTP sign-in off; the sending limits; USER_EMAIL_ALREADY_EXISTS for
/// an unverified address of an account; SIGN_UP_NOT_ENABLED for a new address while sign-up is
/// closed; REDIRECT_URL_NOT_WHITELISTED.
pub async fn send_sign_in_code(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    email: &str,
    callback_url: &str,
) -> ApiResult<String> {
    if !project.config.magic_link_enabled {
        return Err(ApiError::text(
            StatusCode::FORBIDDEN,
            "OTP sign-in is not enabled for this project",
        ));
    }
    let email = normalize_email(email);
    codes::limit_send(state, ip, &project.id, &email).await?;
    existing_user_for(state, project, &email).await?;
    if !project.trusts_link(&state.public_url, callback_url) {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let mut tx = state.db().begin().await?;
    let code = codes::create(
        &mut tx,
        &project.id,
        CodeType::OneTimePassword,
        json!({ "email": email }),
        json!({}),
        Some(callback_url),
        codes::DEFAULT_TTL_MS,
    )
    .await?;
    let otp = code[..codes::OTP_LEN].to_ascii_uppercase();
    let variables = json!({ "magicLink": codes::link(callback_url, &code), "otp": otp });
    outbox::enqueue_template(
        &mut tx,
        project,
        None,
        &email,
        Template::MagicLink,
        variables,
    )
    .await?;
    tx.commit().await?;
    crate::emails::wake_sender(state);
    Ok(code[codes::OTP_LEN..].to_owned())
}

async fn sign_in(
    ip: ClientIp,
    country: ClientCountry,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let anonymous = auth.current_user(&state).await?.filter(|u| u.is_anonymous);
    let (session, user_id, is_new_user) = sign_in_with_code(
        &state,
        auth.limited_ip(&ip),
        country.0.as_deref(),
        &auth.project,
        anonymous,
        &body.code,
    )
    .await?;
    Ok(json_ok(json!({
        "refresh_token": session.refresh_token,
        "access_token": session.access_token,
        "is_new_user": is_new_user,
        "user_id": user_id,
    })))
}

/// Signs in with an emailed sign-in code, spending it: the address's user, or a new one (an
/// `anonymous` one keeps its id and data); `country` is the client's, for the sign-up rules.
/// Returns the session, the user's id and whether the user is new. Errors: the code's errors;
/// those of the address's account (unverified, sign-up closed); SIGN_UP_REJECTED.
pub async fn sign_in_with_code(
    state: &Kernel,
    ip: Option<&ClientIp>,
    country: Option<&str>,
    project: &Project,
    anonymous: Option<User>,
    code: &str,
) -> ApiResult<(sessions::NewSession, String, bool)> {
    let checked = codes::check(
        state,
        ip,
        &project.id,
        CodeType::OneTimePassword,
        code,
        true,
    )
    .await?;
    let email = checked.method["email"]
        .as_str()
        .ok_or_else(codes::not_found)?
        .to_string();
    let existing = existing_user_for(state, project, &email).await?;
    let (user, is_new_user) = match existing {
        Some(user) if user.otp_auth_enabled => (user, false),
        Some(user) => {
            sqlx::query("UPDATE users SET otp_auth_enabled = 1 WHERE id = $1")
                .bind(&user.id)
                .execute(state.db())
                .await?;
            (user, false)
        }
        None => {
            let who = Applicant::new(Some(&email), "otp", None, country);
            let mut fields = UserWrite {
                primary_email: Some(Some(email)),
                primary_email_verified: Some(true),
                primary_email_auth_enabled: Some(true),
                otp_auth_enabled: Some(true),
                ..Default::default()
            };
            write::admit(state, project, &who, anonymous.as_ref(), &mut fields).await?;
            let user = match anonymous {
                Some(u) => {
                    write::update(
                        state,
                        project,
                        u,
                        UserWrite {
                            is_anonymous: Some(false),
                            ..fields
                        },
                        false,
                    )
                    .await?
                }
                None => write::create(state, project, fields).await?,
            };
            (user, true)
        }
    };
    let session = sessions::sign_in(state, project, &user, is_new_user, "otp").await?;
    Ok((session, user.id, is_new_user))
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
        CodeType::OneTimePassword,
        &body.code,
    )
    .await
}
