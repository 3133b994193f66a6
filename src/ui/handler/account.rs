//! Signing in and out on a project's pages, and the account page: `sign-in` (email and
//! password), `sign-out`, and `account-settings` (who is signed in, display name). Each write
//! goes through the same domain function as the API, so the pages refuse what the API refuses,
//! in its words.

use super::mfa::finish_sign_in;
use super::session::{
    self, check_form_token, form_token, session_cookie, with_form_cookie, EndUser,
};
use super::{page, refused_sign_in, text, ProjectPage, ReturnTo, SignedIn};
use crate::api_keys::Owner;
use crate::auth::context::ApiState;
use crate::auth::password::sign_in_with_password;
use crate::auth::sessions;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::store::iso;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use crate::users;
use crate::users::routes::check_self_deletion;
use crate::users::write::{self, UserWrite};
use axum::extract::{FromRef, Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/handler/{project_id}/sign-in",
            get(sign_in_page).post(sign_in),
        )
        .route("/handler/{project_id}/sign-out", post(sign_out))
        .route(
            "/handler/{project_id}/account-settings",
            get(account_page).post(update_profile),
        )
        .route(
            "/handler/{project_id}/account-settings/sessions",
            post(revoke_sessions),
        )
        .route(
            "/handler/{project_id}/account-settings/delete",
            post(delete_account),
        )
        .route(
            "/handler/{project_id}/account-settings/picture",
            post(change_picture),
        )
}

fn path(project: &Project, page: &str) -> String {
    format!("/handler/{}/{page}", project.id)
}

fn sign_in_form(
    project: &Project,
    back: &ReturnTo,
    token: &str,
    email: &str,
    message: Option<&str>,
) -> Markup {
    page(
        project,
        "Sign in",
        html! {
            h1 { "Sign in to " (project.display_name) }
            (error(message))
            (super::oauth::buttons(project, token, back))
            (super::passkeys::sign_in_button(project, token, back))
            @if (!project.config.oauth_providers.is_empty() || project.config.passkey_enabled)
                && (project.config.credential_enabled || project.config.magic_link_enabled) {
                p.separator { span { "or" } }
            }
            @if project.config.credential_enabled {
                // Posted to this page's own URL, keeping where the app asked to return.
                form method="post" {
                    input type="hidden" name="form_token" value=(token);
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="email" required;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
                p.muted { a href=(path(project, "forgot-password")) { "Forgot your password?" } }
                @if project.config.sign_up_enabled {
                    p.muted { "New here? " a href={ (path(project, "sign-up")) (back.query()) } { "Create an account" } }
                }
            } @else if !project.config.magic_link_enabled && project.config.oauth_providers.is_empty() {
                p.muted { "This project does not offer sign-in with a password." }
            }
            (super::magic_link::code_form(project, token, back))
        },
    )
}

async fn sign_in_page(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = back.check(&state, &project) {
        return refused_sign_in(&project, &e);
    }
    // Already signed in here: straight back to the app.
    if let Ok(Some(me)) = session::current(&state, &project, &headers).await {
        return match back.url_for(&state, &project, &me.user.id).await {
            Ok(url) => Redirect::to(&url).into_response(),
            Err(e) => refused_sign_in(&project, &e),
        };
    }
    let (token, set) = form_token(&state, &project, &headers);
    with_form_cookie(set, html(sign_in_form(&project, &back, &token, "", None)))
}

async fn sign_in(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let email = text(&form, "email");
    let signed_in = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        let password = text(&form, "password").to_owned();
        let result = sign_in_with_password(&state, Some(&ip), &project, email, password).await;
        finish_sign_in(&state, &project, &back, &headers, result).await
    }
    .await;
    signed_in.unwrap_or_else(|e| {
        let (token, _) = form_token(&state, &project, &headers);
        let page = sign_in_form(&project, &back, &token, email, Some(&message_of(&e)));
        (StatusCode::BAD_REQUEST, html(page)).into_response()
    })
}

/// The account page: profile, the user's sessions (this one marked; others can be signed out
/// one by one or all at once), sign-out.
async fn account_markup(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
    message: Option<&str>,
    notice: Option<&str>,
) -> ApiResult<Markup> {
    let csrf = me.csrf_token();
    let user = &me.user;
    let live = sessions::list(state, &project.id, &user.id, false, Some(&me.session_id)).await?;
    let when = |v: &serde_json::Value| {
        v.as_i64()
            .map(|ms| iso(ms)[..16].replace('T', " "))
            .unwrap_or_default()
    };
    let sessions_action = path(project, "account-settings/sessions");
    let teams = super::teams::teams_card(state, project, me).await?;
    let emails = super::emails::card(state, project, &user.id, &csrf).await?;
    let security = super::security::card(project, user, &csrf);
    let passkeys = super::passkeys::card(state, project, &user.id, &csrf).await?;
    let keys = super::api_keys::card(state, project, Owner::User, &user.id, &csrf).await?;
    Ok(page(
        project,
        "Account settings",
        html! {
            h1 { "Account settings" }
            (error(message))
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            p #signed-in-as { "Signed in as " strong { (user.primary_email.as_deref().unwrap_or("an account without email")) } }
            form method="post" action=(path(project, "account-settings")) {
                input type="hidden" name="csrf" value=(csrf);
                label for="display-name" { "Display name" }
                input #display-name type="text" name="display_name" value=(user.display_name.as_deref().unwrap_or("")) maxlength="256";
                button type="submit" { "Save" }
            }
            h2.section #picture { "Profile picture" }
            @if let Some(src) = user.profile_image_url.as_deref().filter(|u| u.starts_with("data:image/")) {
                img.avatar src=(src) alt="Your profile picture";
            }
            form method="post" enctype="multipart/form-data" action=(path(project, "account-settings/picture")) {
                input type="hidden" name="csrf" value=(csrf);
                label for="picture-file" { "A PNG, JPEG, GIF or WebP image, up to 1 MB" }
                input #picture-file type="file" name="picture" accept="image/png,image/jpeg,image/gif,image/webp" required;
                button type="submit" { "Upload picture" }
            }
            @if user.profile_image_url.is_some() {
                form method="post" enctype="multipart/form-data" action=(path(project, "account-settings/picture")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="remove" value="yes";
                    button.small type="submit" { "Remove picture" }
                }
            }
            p { a #billing-link href=(path(project, "billing")) { "Billing and plans" } }
            (emails)
            (security)
            (passkeys)
            (keys)
            (teams)
            h2.section { "Active sessions" }
            table #sessions {
                tr { th { "Signed in" } th { "Last used" } th {} }
                @for s in &live {
                    tr {
                        td { (when(&s["created_at"])) }
                        td { (when(&s["last_used_at"])) }
                        td {
                            @if s["is_current_session"] == true {
                                span.muted { "This device" }
                            } @else {
                                form.inline method="post" action=(sessions_action) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="session_id" value=(s["id"].as_str().unwrap_or(""));
                                    button.danger type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
            }
            @if live.len() > 1 {
                form method="post" action=(sessions_action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="others" value="all";
                    button.danger type="submit" { "Sign out everywhere else" }
                }
            }
            form method="post" action=(path(project, "sign-out")) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Sign out" }
            }
            @if project.config.client_user_deletion_enabled {
                h2.section { "Delete account" }
                form method="post" action=(path(project, "account-settings/delete")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input #confirm-delete type="checkbox" name="confirm" value="yes" required; " Delete my account and everything in it, for good" }
                    button.danger type="submit" { "Delete account" }
                }
            }
        },
    ))
}

/// Answers the account page (with a refusal beside its forms when there is one).
pub(super) async fn account_answer(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
    message: Option<&str>,
) -> Response {
    match account_markup(state, project, me, message, None).await {
        Ok(page) if message.is_some() => (StatusCode::BAD_REQUEST, html(page)).into_response(),
        Ok(page) => html(page),
        Err(e) => e.into_response(),
    }
}

/// After an action: back to the account page, which says what changed (`what`, a key of
/// [`notice_of`]).
pub(super) fn changed(project: &Project, what: &str) -> Response {
    Redirect::to(&format!(
        "{}?changed={what}",
        path(project, "account-settings")
    ))
    .into_response()
}

/// An account page action's answer: the page with its notice, or with the refusal.
pub(super) async fn after_change(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
    result: ApiResult<&str>,
) -> Response {
    match result {
        Ok(what) => changed(project, what),
        Err(e) => account_answer(state, project, me, Some(&message_of(&e))).await,
    }
}

fn notice_of(what: &str) -> Option<&'static str> {
    Some(match what {
        "profile" => "Your profile is saved.",
        "picture" => "Your profile picture is saved.",
        "password" => "Your password is changed; your other sessions are signed out.",
        "password-set" => "Your password is set. You can sign in with it from now on.",
        "email" => "Your emails are updated.",
        "email-added" => "The email is added. We sent it a link to verify it.",
        "email-removed" => "The email is removed.",
        "verification-sent" => "We sent a verification link. Open it to verify the email.",
        "mfa-on" => "Two-factor authentication is on.",
        "mfa-off" => "Two-factor authentication is off.",
        "sessions" => "Signed out.",
        "notifications" => "Your notification settings are saved.",
        "passkey-added" => "The passkey is added. You can sign in with it now.",
        "passkey-removed" => "The passkey is removed.",
        "team-left" => "You left the team.",
        "team-selected" => "Your current team is changed.",
        _ => return None,
    })
}

#[derive(serde::Deserialize)]
struct AccountQuery {
    changed: Option<String>,
}

async fn account_page(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    Query(q): Query<AccountQuery>,
) -> Response {
    let notice = q.changed.as_deref().and_then(notice_of);
    match account_markup(&state, &project, &me, None, notice).await {
        Ok(page) => html(page),
        Err(e) => e.into_response(),
    }
}

async fn update_profile(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let name = text(&form, "display_name").trim().to_owned();
    let result = match me.check_csrf(text(&form, "csrf")) {
        Ok(()) => {
            let change = UserWrite {
                display_name: Some(Some(name).filter(|n| !n.is_empty())),
                ..Default::default()
            };
            write::update(&state, &project, me.user.clone(), change, true).await
        }
        Err(e) => Err(e),
    };
    after_change(&state, &project, &me, result.map(|_| "profile")).await
}

/// Deletes the signed-in user's account, when the project lets users do that, and signs out.
async fn delete_account(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let deleted = async {
        me.check_csrf(text(&form, "csrf"))?;
        if text(&form, "confirm") != "yes" {
            return Err(ApiError::bad_request("Tick the box to confirm."));
        }
        check_self_deletion(&project)?;
        users::delete(&state, &project.id, &me.user.id)
            .await
            .map(drop)
    }
    .await;
    match deleted {
        Ok(()) => (
            [(header::SET_COOKIE, session_cookie(&state, &project, None))],
            html(page(
                &project,
                "Account deleted",
                html! { h1 { "Account deleted" } p.notice role="status" { "Your account and its data are gone." } },
            )),
        )
            .into_response(),
        Err(e) => account_answer(&state, &project, &me, Some(&message_of(&e))).await,
    }
}

/// Signs out one other session of the user (`session_id`), or every other one (`others=all`).
async fn revoke_sessions(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let result = async {
        me.check_csrf(text(&form, "csrf"))?;
        if text(&form, "others") == "all" {
            sessions::delete_all_but(&state, &me.user.id, Some(me.refresh_token())).await
        } else {
            sessions::delete(&state, &project.id, &me.user.id, text(&form, "session_id"))
                .await
                .map(drop)
        }
    }
    .await;
    after_change(&state, &project, &me, result.map(|_| "sessions")).await
}

async fn sign_out(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    if let Err(e) = me.check_csrf(text(&form, "csrf")) {
        return e.into_response();
    }
    if let Err(e) = sessions::end(&state, &project.id, me.refresh_token()).await {
        return e.into_response();
    }
    (
        [(header::SET_COOKIE, session_cookie(&state, &project, None))],
        Redirect::to(&path(&project, "sign-in")),
    )
        .into_response()
}

/// The largest picture the page takes (bytes): it is stored inline, as a data URL.
const PICTURE_MAX_BYTES: usize = 1024 * 1024;

/// Reads the picture form (multipart: `csrf`, and `picture` or `remove`). Errors: 400 for a
/// form that is not one, a file that is not a PNG, JPEG, GIF or WebP image, or one too large.
async fn picture_form(mut form: Multipart) -> ApiResult<(String, Option<String>)> {
    let bad = |m: &str| ApiError::bad_request(m.to_owned());
    let (mut csrf, mut picture, mut remove) = (String::new(), None, false);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| bad("The form could not be read."))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|_| bad("The form could not be read."))?
            }
            Some("remove") => remove = true,
            Some("picture") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| bad("The picture is larger than 1 MB."))?;
                picture = Some(bytes);
            }
            _ => {}
        }
    }
    if remove {
        return Ok((csrf, None));
    }
    let bytes = picture
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("Choose a picture."))?;
    if bytes.len() > PICTURE_MAX_BYTES {
        return Err(bad("The picture is larger than 1 MB."));
    }
    // The type from the file's own first bytes, not from the browser's word.
    let kind = match bytes.as_ref() {
        [0x89, b'P', b'N', b'G', ..] => "png",
        [0xff, 0xd8, 0xff, ..] => "jpeg",
        [b'G', b'I', b'F', b'8', ..] => "gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "webp",
        _ => return Err(bad("The picture must be a PNG, JPEG, GIF or WebP image.")),
    };
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok((csrf, Some(format!("data:image/{kind};base64,{data}"))))
}

/// Sets (or removes) the profile picture, kept as the user's `profile_image_url`.
async fn change_picture(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    form: Multipart,
) -> Response {
    let saved = async {
        let (csrf, picture) = picture_form(form).await?;
        me.check_csrf(&csrf)?;
        let change = UserWrite {
            profile_image_url: Some(picture),
            ..Default::default()
        };
        write::update(&state, &project, me.user.clone(), change, true).await
    }
    .await;
    after_change(&state, &project, &me, saved.map(|_| "picture")).await
}
