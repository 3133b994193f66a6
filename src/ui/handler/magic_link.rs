//! Signing in with an emailed code on a project's pages (when the project enables OTP sign-in):
//! the sign-in page's "Email me a code" sends it, `sign-in/code` takes the one-time password the
//! email shows, and `magic-link-callback` (the email's link) signs in with one button press —
//! opening the link spends nothing, as mail scanners open links.

use super::mfa::finish_sign_in;
use super::session::{check_form_token, form_token, with_form_cookie};
use super::{page, page_url, refused_sign_in, text, ProjectPage, ReturnTo};
use crate::auth::context::ApiState;
use crate::auth::otp::{send_sign_in_code, sign_in_with_code};
use crate::codes;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientCountry, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use crate::users::is_valid_email;
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route("/handler/{project_id}/sign-in/code", post(send))
        .route(
            "/handler/{project_id}/sign-in/code/verify",
            post(verify_otp),
        )
        .route(
            "/handler/{project_id}/magic-link-callback",
            get(link_page).post(verify_link),
        )
}

/// The sign-in page's second form, for projects with OTP sign-in.
pub(super) fn code_form(project: &Project, token: &str, back: &ReturnTo) -> Markup {
    html! {
        @if project.config.magic_link_enabled {
            h2.section { "Or get a code by email" }
            form method="post" action={ "/handler/" (project.id) "/sign-in/code" (back.query()) } {
                input type="hidden" name="form_token" value=(token);
                label for="code-email" { "Email" }
                input #code-email type="email" name="email" autocomplete="email" required;
                button type="submit" { "Email me a code" }
            }
        }
    }
}

fn enter_code(
    project: &Project,
    back: &ReturnTo,
    token: &str,
    email: &str,
    nonce: &str,
    message: Option<&str>,
) -> Markup {
    page(
        project,
        "Enter your code",
        html! {
            h1 { "Check your email" }
            (error(message))
            p { "We sent a code to " strong { (email) } ". Enter it here, or open the link in the email." }
            form method="post" action={ "/handler/" (project.id) "/sign-in/code/verify" (back.query()) } {
                input type="hidden" name="form_token" value=(token);
                input type="hidden" name="nonce" value=(nonce);
                input type="hidden" name="email" value=(email);
                label for="otp" { "Code" }
                input #otp type="text" name="otp" autocomplete="one-time-code" inputmode="text" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

async fn send(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let email = text(&form, "email").trim();
    let sent = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        if !is_valid_email(email) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        // The email's link carries where the app asked to return, so opening it ends there too.
        let callback = format!(
            "{}{}",
            page_url(&state, &project, "magic-link-callback"),
            back.query()
        );
        send_sign_in_code(&state, Some(&ip), &project, email, &callback).await
    }
    .await;
    let (token, _) = form_token(&state, &project, &headers);
    match sent {
        Ok(nonce) => html(enter_code(&project, &back, &token, email, &nonce, None)),
        Err(e) => refused_sign_in(&project, &e),
    }
}

/// Signs in with the whole code and answers with the session cookie, going where the app asked
/// (or to the account page).
async fn sign_in(
    state: &Kernel,
    project: &Project,
    (ip, country): (&ClientIp, &ClientCountry),
    code: &str,
    back: &ReturnTo,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    back.check(state, project)?;
    let country = country.0.as_deref();
    let result = sign_in_with_code(state, Some(ip), country, project, None, code)
        .await
        .map(|(session, user_id, _)| (session, user_id));
    finish_sign_in(state, project, back, headers, result).await
}

async fn verify_otp(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    country: ClientCountry,
    RawBody(form): RawBody,
) -> Response {
    let (otp, nonce) = (text(&form, "otp").trim(), text(&form, "nonce"));
    let signed_in = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        if otp.len() != codes::OTP_LEN {
            return Err(ApiError::bad_request(format!(
                "The code has {} characters.",
                codes::OTP_LEN
            )));
        }
        sign_in(
            &state,
            &project,
            (&ip, &country),
            &format!("{}{nonce}", otp.to_ascii_lowercase()),
            &back,
            &headers,
        )
        .await
    }
    .await;
    match signed_in {
        Ok(answer) => answer,
        Err(e) => {
            let (token, _) = form_token(&state, &project, &headers);
            let page = enter_code(
                &project,
                &back,
                &token,
                text(&form, "email"),
                nonce,
                Some(&message_of(&e)),
            );
            (StatusCode::BAD_REQUEST, html(page)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn link_page(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(q): Query<CodeQuery>,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = back.check(&state, &project) {
        return refused_sign_in(&project, &e);
    }
    let code = q.code.unwrap_or_default();
    // The form token keeps another site from signing this browser in with a code of its own.
    let (token, set) = form_token(&state, &project, &headers);
    let body = html(page(
        &project,
        "Sign in",
        html! {
            h1 { "Sign in to " (project.display_name) }
            form method="post" {
                input type="hidden" name="form_token" value=(token);
                input type="hidden" name="code" value=(code);
                button type="submit" { "Sign in" }
            }
        },
    ));
    with_form_cookie(set, body)
}

async fn verify_link(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    country: ClientCountry,
    RawBody(form): RawBody,
) -> Response {
    let signed_in = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        let code = text(&form, "code");
        sign_in(&state, &project, (&ip, &country), code, &back, &headers).await
    }
    .await;
    match signed_in {
        Ok(answer) => answer,
        Err(e) => refused_sign_in(&project, &e),
    }
}
