//! Signing up and asking for a password reset on a project's pages: `sign-up` (email and
//! password; the verification email links to this server's `email-verification` page) and
//! `forgot-password` (the reset email links to `password-reset`). Both go through the API's
//! domain functions, with its refusals in its words (sign-up closed, email taken, too short).

use super::mfa::finish_sign_in;
use super::session::{check_form_token, form_token, with_form_cookie};
use super::{page, page_url, text, ProjectPage, ReturnTo};
use crate::auth::context::ApiState;
use crate::auth::password::sign_up_with_password;
use crate::auth::reset::send_reset;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ClientCountry, ClientIp};
use crate::projects::Project;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use crate::users::is_valid_email;
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/handler/{project_id}/sign-up",
            get(sign_up_page).post(sign_up),
        )
        .route(
            "/handler/{project_id}/forgot-password",
            get(forgot_page).post(forgot),
        )
}

fn sign_up_form(
    project: &Project,
    back: &ReturnTo,
    token: &str,
    email: &str,
    message: Option<&str>,
) -> Markup {
    let open = project.config.credential_enabled && project.config.sign_up_enabled;
    page(
        project,
        "Create an account",
        html! {
            h1 { "Create an account" }
            (error(message))
            @if project.config.sign_up_enabled {
                (super::oauth::buttons(project, token, back))
                @if open && !project.config.oauth_providers.is_empty() { p.separator { span { "or" } } }
            }
            @if open {
                // Posted to this page's own URL, keeping where the app asked to return.
                form method="post" {
                    input type="hidden" name="form_token" value=(token);
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="email" required;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="new-password" required;
                    button type="submit" { "Sign up" }
                }
            } @else if !project.config.sign_up_enabled || project.config.oauth_providers.is_empty() {
                p.muted { "New accounts cannot be created here." }
            }
            p.muted { "Have an account? " a href={ "/handler/" (project.id) "/sign-in" (back.query()) } { "Sign in" } }
        },
    )
}

async fn sign_up_page(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
) -> Response {
    let (token, set) = form_token(&state, &project, &headers);
    with_form_cookie(set, html(sign_up_form(&project, &back, &token, "", None)))
}

async fn sign_up(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    country: ClientCountry,
    headers: HeaderMap,
    RawBody(form): RawBody,
) -> Response {
    let email = text(&form, "email");
    let signed_up = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        if !is_valid_email(email.trim()) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let callback = page_url(&state, &project, "email-verification");
        let password = text(&form, "password").to_owned();
        let country = country.0.as_deref();
        let result = sign_up_with_password(
            &state,
            &project,
            None,
            email,
            password,
            Some(&callback),
            country,
        )
        .await;
        finish_sign_in(&state, &project, &back, &headers, result).await
    }
    .await;
    signed_up.unwrap_or_else(|e| {
        let (token, _) = form_token(&state, &project, &headers);
        let page = sign_up_form(&project, &back, &token, email, Some(&message_of(&e)));
        (StatusCode::BAD_REQUEST, html(page)).into_response()
    })
}

fn forgot_form(project: &Project, token: &str, message: Option<&str>) -> Markup {
    page(
        project,
        "Forgot your password?",
        html! {
            h1 { "Forgot your password?" }
            (error(message))
            p { "Enter your email and we will send you a link to choose a new password." }
            form method="post" {
                input type="hidden" name="form_token" value=(token);
                label for="email" { "Email" }
                input #email type="email" name="email" autocomplete="email" required;
                button type="submit" { "Send reset link" }
            }
            p.muted { a href={ "/handler/" (project.id) "/sign-in" } { "Back to sign in" } }
        },
    )
}

async fn forgot_page(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    headers: HeaderMap,
) -> Response {
    let (token, set) = form_token(&state, &project, &headers);
    with_form_cookie(set, html(forgot_form(&project, &token, None)))
}

async fn forgot(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let sent = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        let email = text(&form, "email");
        if !is_valid_email(email.trim()) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let callback = page_url(&state, &project, "password-reset");
        send_reset(&state, Some(&ip), &project, email, &callback).await
    }
    .await;
    match sent {
        Ok(()) => html(page(
            &project,
            "Check your email",
            html! {
                h1 { "Check your email" }
                p.notice role="status" { "If an account uses that address, a link to choose a new password is on its way." }
            },
        )),
        Err(e) => {
            let (token, _) = form_token(&state, &project, &headers);
            let page = forgot_form(&project, &token, Some(&message_of(&e)));
            (StatusCode::BAD_REQUEST, html(page)).into_response()
        }
    }
}
