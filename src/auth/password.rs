//! Password sign-up, sign-in, change and set; plus anonymous sign-up.

use super::{sessions, sign_in_response};
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::contact_channels;
use crate::crypto::password::Busy;
use crate::http::extract::schema_problem;
use crate::http::{known, success, ApiError, ApiResult, JsonBody};
use crate::http::{ClientCountry, ClientIp};
use crate::kernel::Kernel;
use crate::limits::Rule;
use crate::projects::Project;
use crate::sign_up_rules::Applicant;
use crate::users::write::{self, check_password_length, UserWrite, PASSWORD_MAX};
use crate::users::{self, is_valid_email, normalize_email, User};
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/auth/password/sign-up", post(sign_up))
        .api_route("/auth/password/sign-in", post(sign_in))
        .api_route("/auth/password/update", post(update))
        .api_route("/auth/password/set", post(set))
        .api_route("/auth/anonymous/sign-up", post(anonymous_sign_up))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SignUp {
    email: String,
    password: String,
    verification_callback_url: Option<String>,
    #[allow(dead_code)]
    bot_challenge_token: Option<String>,
    #[allow(dead_code)]
    bot_challenge_phase: Option<String>,
    #[allow(dead_code)]
    bot_challenge_unavailable: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    password: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    old_password: String,
    new_password: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordSet {
    password: String,
}

/// Failed password sign-ins per account (project and email), from anywhere: past it the account
/// cannot be signed in to with a password until the window ends (other methods still work).
pub const FAILURES_PER_ACCOUNT: Rule = Rule {
    name: "sign_in_account",
    limit: 10,
    window_secs: 600,
};

/// Password sign-in attempts per client IP, to any account.
pub const ATTEMPTS_PER_IP: Rule = Rule {
    name: "sign_in_ip",
    limit: 100,
    window_secs: 60,
};

/// Checks `password` for the account `email` (normalized) of `project_id` within the rate
/// limits: an untrusted client's IP (`ip` is `Some`) and the account's failures (see
/// [`verify_counted`]).
/// Always hashes, so unknown emails and wrong passwords take the same time. Returns the user
/// and whether the password matched. Errors: 429 past a limit, 503 when hashing is at capacity.
pub async fn check_password(
    k: &Kernel,
    ip: Option<&ClientIp>,
    project_id: &str,
    email: &str,
    password: String,
) -> ApiResult<(Option<User>, bool)> {
    if k.passwords.is_full() {
        return Err(Busy.into()); // refused before any lookup: a flood costs no database work
    }
    if let Some(ip) = ip {
        k.limits.hit(&ATTEMPTS_PER_IP, &ip.0).await?;
    }
    let user = users::find_by_auth_email(k.db(), project_id, email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let account = format!("{project_id}:{email}");
    let ok = verify_counted(k, &account, password, stored).await?;
    Ok((user, ok))
}

/// Verifies `password` against `stored` (no hash: the dummy, answering false) as one attempt of
/// `account` under [`FAILURES_PER_ACCOUNT`]: counted before hashing, so a locked account costs no
/// hash, and taken back unless the password was wrong (a match, or no check at all because
/// hashing is at capacity, does not count). One write per attempt.
/// Errors: 429 past the limit, 503 when hashing is at capacity.
async fn verify_counted(
    k: &Kernel,
    account: &str,
    password: String,
    stored: Option<String>,
) -> ApiResult<bool> {
    k.limits.hit(&FAILURES_PER_ACCOUNT, account).await?;
    let verdict = k.passwords.verify(password, stored).await;
    if !matches!(verdict, Ok(false)) {
        k.limits.refund(&FAILURES_PER_ACCOUNT, account).await?;
    }
    Ok(verdict?)
}

/// Schema limits the original applies before any handler logic.
fn check_schema(email: Option<&str>, passwords: &[(&str, &str)]) -> ApiResult<()> {
    let mut problems = Vec::new();
    if let Some(email) = email {
        if !is_valid_email(email.trim()) {
            problems.push("body.email must be a valid email".to_string());
        }
    }
    for (name, value) in passwords {
        if value.chars().count() > PASSWORD_MAX {
            problems.push(format!(
                "body.{name} must be at most {PASSWORD_MAX} characters"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::http::extract::schema_error(&problems))
    }
}

async fn sign_up(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    country: ClientCountry,
    JsonBody(body): JsonBody<SignUp>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_schema(Some(&body.email), &[("password", &body.password)])?;
    // An anonymous user signing up keeps their id and data.
    let anonymous = match auth.current_user(&state).await? {
        Some(u) if u.is_anonymous => Some(u),
        _ => None,
    };
    let (session, user_id) = sign_up_with_password(
        &state,
        &auth.project,
        anonymous,
        &body.email,
        body.password,
        body.verification_callback_url.as_deref(),
        country.0.as_deref(),
    )
    .await?;
    Ok(sign_in_response(&session, &user_id))
}

/// Signs up with email and password (or, for `anonymous`, makes that user a real one with the
/// same id and data), queues the verification email to `callback` when given, and signs in.
/// `country`: the client's, for the sign-up rules. Returns the session and the user's id.
/// Errors: PASSWORD_AUTHENTICATION_NOT_ENABLED; REDIRECT_URL_NOT_WHITELISTED for a callback the
/// project does not trust; SIGN_UP_NOT_ENABLED; the password length errors; SIGN_UP_REJECTED;
/// USER_EMAIL_ALREADY_EXISTS.
pub async fn sign_up_with_password(
    state: &Kernel,
    project: &Project,
    anonymous: Option<User>,
    email: &str,
    password: String,
    callback: Option<&str>,
    country: Option<&str>,
) -> ApiResult<(sessions::NewSession, String)> {
    let config = &project.config;
    if !config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    if let Some(url) = callback {
        if !project.trusts_link(&state.public_url, url) {
            return Err(known::redirect_url_not_whitelisted().into());
        }
    }
    if anonymous.is_none() && !config.sign_up_enabled {
        return Err(known::sign_up_not_enabled().into());
    }
    check_password_length(&password)?;
    let email = normalize_email(email);
    let mut fields = UserWrite {
        primary_email: Some(Some(email.clone())),
        primary_email_auth_enabled: Some(true),
        password: Some(Some(password)),
        ..Default::default()
    };
    let who = Applicant::new(Some(&email), "password", None, country);
    write::admit(state, project, &who, anonymous.as_ref(), &mut fields).await?;
    let user = match anonymous {
        Some(u) => {
            let upgraded = UserWrite {
                is_anonymous: Some(false),
                ..fields
            };
            let user = write::update(state, project, u, upgraded, false).await?;
            if let Some(url) = callback {
                let mut conn = state.db().acquire().await?;
                contact_channels::queue_verification(&mut conn, project, &user.id, &email, url)
                    .await?;
            }
            user
        }
        None => {
            // The user and their verification email commit together.
            let new = write::prepare(state, project, fields).await?;
            let mut tx = state.db().begin().await?;
            let id = write::create_in(&mut tx, project, new).await?;
            if let Some(url) = callback {
                contact_channels::queue_verification(&mut tx, project, &id, &email, url).await?;
            }
            tx.commit().await?;
            write::reload(state, project, &id).await?
        }
    };
    if callback.is_some() {
        crate::emails::wake_sender(state);
    }
    let session = sessions::sign_in(state, project, &user, true, "password").await?;
    Ok((session, user.id))
}

async fn sign_in(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if body.email.trim().is_empty() {
        return Err(schema_problem("body.email must not be empty"));
    }
    check_schema(None, &[("password", &body.password)])?;
    let ip = auth.limited_ip(&ip);
    let (session, user_id) =
        sign_in_with_password(&state, ip, &auth.project, &body.email, body.password).await?;
    Ok(sign_in_response(&session, &user_id))
}

/// Signs a user in with their email and password; returns the session and the user's id.
/// Errors: PASSWORD_AUTHENTICATION_NOT_ENABLED; EMAIL_PASSWORD_MISMATCH for an unknown email or
/// a wrong password alike; MULTI_FACTOR_AUTHENTICATION_REQUIRED; the sign-in limits.
pub async fn sign_in_with_password(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    email: &str,
    password: String,
) -> ApiResult<(sessions::NewSession, String)> {
    if !project.config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    let email = normalize_email(email);
    let (user, ok) = check_password(state, ip, &project.id, &email, password).await?;
    let user = match user {
        Some(u) if ok => u,
        _ => return Err(known::email_password_mismatch().into()),
    };
    let session = sessions::sign_in(state, project, &user, false, "password").await?;
    Ok((session, user.id))
}

async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_schema(
        None,
        &[
            ("old_password", &body.old_password),
            ("new_password", &body.new_password),
        ],
    )?;
    let user = auth
        .current_user(&state)
        .await?
        .ok_or_else(|| schema_problem("auth.user must be defined"))?;
    change_password(
        &state,
        &auth.project,
        &user,
        body.old_password,
        body.new_password,
        ctx.refresh_token.as_deref(),
    )
    .await?;
    Ok(success())
}

/// Changes a signed-in user's password after checking the current one, and ends every other
/// session (`keep` is this session's refresh token). Errors: PASSWORD_AUTHENTICATION_NOT_ENABLED;
/// the password length errors; USER_DOES_NOT_HAVE_PASSWORD; PASSWORD_CONFIRMATION_MISMATCH (each
/// failure counts against the account as a failed sign-in does).
pub async fn change_password(
    state: &Kernel,
    project: &Project,
    user: &User,
    old_password: String,
    new_password: String,
    keep: Option<&str>,
) -> ApiResult<()> {
    if !project.config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    check_password_length(&new_password)?;
    let Some(stored) = user.password_hash.clone() else {
        return Err(known::user_does_not_have_password().into());
    };
    // A stolen session must not become a way to guess the password: failures count against
    // the user as failed sign-ins do against the account.
    let account = format!("{}:user:{}", project.id, user.id);
    if !verify_counted(state, &account, old_password, Some(stored)).await? {
        return Err(known::password_confirmation_mismatch().into());
    }
    let hash = state.passwords.hash(new_password).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(&user.id)
        .execute(state.db())
        .await?;
    sessions::delete_all_but(state, &user.id, keep).await?;
    Ok(())
}

async fn set(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<PasswordSet>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_schema(None, &[("password", &body.password)])?;
    let user = auth
        .current_user(&state)
        .await?
        .ok_or_else(|| schema_problem("auth.user must be defined"))?;
    set_password(&state, &auth.project, &user, body.password).await?;
    Ok(success())
}

async fn anonymous_sign_up(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if !auth.project.config.anonymous_enabled {
        return Err(known::anonymous_accounts_not_enabled().into());
    }
    let user = write::create(
        &state,
        &auth.project,
        UserWrite {
            is_anonymous: Some(true),
            ..Default::default()
        },
    )
    .await?;
    metrics::counter!("portcullis_sign_ups_total", "method" => "anonymous").increment(1);
    let session = sessions::start(
        &state,
        &auth.project,
        &user,
        sessions::DEFAULT_TTL_MS,
        false,
    )
    .await?;
    Ok(sign_in_response(&session, &user.id))
}

/// Gives a user without a password their first one. Errors: PASSWORD_AUTHENTICATION_NOT_ENABLED;
/// the password length errors; 400 "User already has a password set." (also when a concurrent
/// call set one first: the write is conditional, never an overwrite).
pub async fn set_password(
    state: &Kernel,
    project: &Project,
    user: &User,
    password: String,
) -> ApiResult<()> {
    if !project.config.credential_enabled {
        return Err(known::password_authentication_not_enabled().into());
    }
    check_password_length(&password)?;
    if user.password_hash.is_some() {
        return Err(ApiError::bad_request("User already has a password set."));
    }
    let hash = state.passwords.hash(password).await?;
    // The condition makes a concurrent second `set` a no-op rather than an overwrite.
    let res =
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash IS NULL")
            .bind(hash)
            .bind(&user.id)
            .execute(state.db())
            .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::bad_request("User already has a password set."));
    }
    Ok(())
}
