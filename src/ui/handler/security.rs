//! The account page's security: the password (change it, or set a first one for a user who
//! signed up another way) and two-factor authentication — set up by scanning a QR code and
//! confirming one code from the app, or turned off. The new TOTP secret is shown to the user
//! anyway; it rides in the setup form until a code from it proves the app holds it, and only then
//! is stored (sealed, by the same user write as the API's `totp_secret_base64`).

use super::account::{account_answer, after_change, changed};
use super::{page, text, SignedIn};
use crate::auth::context::ApiState;
use crate::auth::password;
use crate::crypto::totp;
use crate::http::extract::RawBody;
use crate::http::{known, ApiError, ApiResult};
use crate::projects::Project;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use crate::users::write::{self, UserWrite};
use crate::users::User;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/handler/{project_id}/account-settings/password",
            post(change_password),
        )
        .route(
            "/handler/{project_id}/account-settings/mfa",
            get(mfa_setup_page).post(change_mfa),
        )
}

fn action(project: &Project, what: &str) -> String {
    format!("/handler/{}/account-settings/{what}", project.id)
}

/// The password and two-factor sections of the account page.
pub(super) fn card(project: &Project, user: &User, csrf: &str) -> Markup {
    html! {
        @if project.config.credential_enabled {
            h2.section #password { "Password" }
            form method="post" action=(action(project, "password")) {
                input type="hidden" name="csrf" value=(csrf);
                @if user.password_hash.is_some() {
                    label for="current-password" { "Current password" }
                    input #current-password type="password" name="old_password" autocomplete="current-password" required;
                } @else {
                    p.muted { "You sign in without a password. Set one to sign in with your email and a password too." }
                }
                label for="new-password" { "New password" }
                input #new-password type="password" name="new_password" autocomplete="new-password" required;
                label for="new-password-again" { "New password, again" }
                input #new-password-again type="password" name="new_password_again" autocomplete="new-password" required;
                @if user.password_hash.is_some() {
                    button type="submit" { "Change password" }
                } @else {
                    button type="submit" { "Set password" }
                }
            }
        }
        h2.section #mfa { "Two-factor authentication" }
        @if user.totp_secret.is_some() {
            p { "On: signing in asks for a code from your authenticator app." }
            form method="post" action=(action(project, "mfa")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="disable";
                button.danger type="submit" { "Turn off two-factor authentication" }
            }
        } @else {
            p.muted { "Off. With it on, signing in also asks for a code from an authenticator app." }
            p { a #mfa-setup href=(action(project, "mfa")) { "Set up two-factor authentication" } }
        }
    }
}

/// Changes the password (the current one checked; other sessions end, this one stays), or sets
/// the first one.
async fn change_password(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let changed_now = async {
        me.check_csrf(text(&form, "csrf"))?;
        let new = text(&form, "new_password");
        if new != text(&form, "new_password_again") {
            return Err(ApiError::bad_request("The new passwords do not match."));
        }
        if me.user.password_hash.is_none() {
            password::set_password(&state, &project, &me.user, new.to_owned()).await?;
            return Ok("password-set");
        }
        let old = text(&form, "old_password").to_owned();
        let keep = Some(me.refresh_token());
        password::change_password(&state, &project, &me.user, old, new.to_owned(), keep).await?;
        Ok("password")
    }
    .await;
    after_change(&state, &project, &me, changed_now).await
}

/// A new secret's setup page: the QR code, the key to type instead, and the confirming code.
fn setup_form(
    project: &Project,
    user: &User,
    csrf: &str,
    secret: &str,
    message: Option<&str>,
) -> ApiResult<Markup> {
    let account = user.primary_email.as_deref().unwrap_or(&user.id);
    let key = totp::base32_key(secret)
        .ok_or_else(|| ApiError::bad_request("The setup expired. Start again."))?;
    // Google Authenticator's Key Uri Format, which every authenticator app reads.
    let enc = crate::http::url::percent_encode;
    let issuer = enc(&project.display_name);
    let uri = format!(
        "otpauth://totp/{issuer}:{}?secret={key}&issuer={issuer}&algorithm=SHA1&digits=6&period={}",
        enc(account),
        totp::STEP_SECS
    );
    let qr = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(page(
        project,
        "Set up two-factor authentication",
        html! {
            h1 { "Set up two-factor authentication" }
            (error(message))
            p { "Scan this code with your authenticator app, then enter the six-digit code it shows." }
            div.qr role="img" aria-label="QR code for your authenticator app" { (PreEscaped(qr)) }
            p.muted { "Can't scan it? Enter this key: " code #totp-key { (key) } }
            form method="post" action=(action(project, "mfa")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="enable";
                input type="hidden" name="secret" value=(secret);
                label for="totp" { "Code from the app" }
                input #totp type="text" name="totp" autocomplete="one-time-code" inputmode="numeric" maxlength="7" required;
                button type="submit" { "Turn on" }
            }
            p { a href={ "/handler/" (project.id) "/account-settings" } { "Cancel" } }
        },
    ))
}

async fn mfa_setup_page(SignedIn { project, me }: SignedIn) -> Response {
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 20]>());
    match setup_form(&project, &me.user, &me.csrf_token(), &secret, None) {
        Ok(page) => html(page),
        Err(e) => e.into_response(),
    }
}

/// Turns two-factor authentication on (the secret confirmed by a code from it) or off.
async fn change_mfa(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let secret = text(&form, "secret");
    let result = async {
        me.check_csrf(text(&form, "csrf"))?;
        let (secret, what) = match text(&form, "action") {
            "enable" => {
                let code: String = text(&form, "totp").split_whitespace().collect();
                let now = u64::try_from(crate::store::now_ms() / 1000).unwrap_or_default();
                if totp::matching_step(secret, &code, now).is_none() {
                    return Err(known::invalid_totp_code().into());
                }
                (Some(secret.to_owned()), "mfa-on")
            }
            "disable" => (None, "mfa-off"),
            _ => return Err(ApiError::bad_request("Unknown action.")),
        };
        let change = UserWrite {
            totp_secret_base64: Some(secret),
            ..Default::default()
        };
        write::update(&state, &project, me.user.clone(), change, true).await?;
        Ok::<_, ApiError>(what)
    }
    .await;
    match result {
        Ok(what) => changed(&project, what),
        Err(e) if text(&form, "action") == "enable" => {
            match setup_form(
                &project,
                &me.user,
                &me.csrf_token(),
                secret,
                Some(&message_of(&e)),
            ) {
                Ok(page) => (StatusCode::BAD_REQUEST, html(page)).into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => account_answer(&state, &project, &me, Some(&message_of(&e))).await,
    }
}
