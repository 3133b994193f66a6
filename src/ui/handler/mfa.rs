//! The end of every sign-in on a project's pages, and its second step (`mfa`): a first factor
//! (password, emailed code, OAuth) either starts the session — cookie set, browser sent where the
//! app asked — or, for a user with TOTP, answers MULTI_FACTOR_AUTHENTICATION_REQUIRED with an
//! attempt code, and the page asks for the authenticator's code. The attempt code stays in the
//! form (never in a URL); the form's POST finishes through the API's own second step.

use super::session::{check_form_token, form_token, session_cookie, with_form_cookie};
use super::{page, text, ProjectPage, ReturnTo};
use crate::auth::context::ApiState;
use crate::auth::mfa::sign_in_with_totp;
use crate::auth::sessions::NewSession;
use crate::http::extract::RawBody;
use crate::http::known::KnownCode;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new().route("/handler/{project_id}/mfa", get(mfa_page).post(second_step))
}

/// The attempt code a first factor answered for a user with TOTP, if that is the error.
fn attempt_code(e: &ApiError) -> Option<&str> {
    match e {
        ApiError::Known(k) if k.code == KnownCode::MultiFactorAuthenticationRequired => {
            k.details.as_ref()?["attempt_code"].as_str()
        }
        _ => None,
    }
}

/// Finishes a first factor's `result` (its session and user id): the session cookie and a
/// redirect to where the app asked, or for a user with TOTP the second step's page.
/// Errors: the first factor's, and those of [`ReturnTo::url_for`].
pub(super) async fn finish_sign_in(
    state: &Kernel,
    project: &Project,
    back: &ReturnTo,
    headers: &HeaderMap,
    result: ApiResult<(NewSession, String)>,
) -> ApiResult<Response> {
    let (session, user_id) = match result {
        Ok(signed_in) => signed_in,
        Err(e) => {
            let Some(code) = attempt_code(&e) else {
                return Err(e);
            };
            let (token, set) = form_token(state, project, headers);
            let body = html(step_form(project, back, &token, code, None));
            return Ok(with_form_cookie(set, body));
        }
    };
    let next = back.url_for(state, project, &user_id).await?;
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie(state, project, Some(&session.refresh_token)),
        )],
        Redirect::to(&next),
    )
        .into_response())
}

fn step_form(
    project: &Project,
    back: &ReturnTo,
    token: &str,
    attempt_code: &str,
    message: Option<&str>,
) -> Markup {
    page(
        project,
        "Two-factor authentication",
        html! {
            h1 { "Two-factor authentication" }
            (error(message))
            p { "Enter the six-digit code from your authenticator app." }
            form method="post" action={ "/handler/" (project.id) "/mfa" (back.query()) } {
                input type="hidden" name="form_token" value=(token);
                input type="hidden" name="attempt_code" value=(attempt_code);
                label for="totp" { "Code" }
                input #totp type="text" name="totp" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9 ]*" maxlength="7" required autofocus;
                button type="submit" { "Verify" }
            }
        },
    )
}

/// Opened directly, there is no sign-in to finish: say so and lead to the sign-in page.
async fn mfa_page(ProjectPage(project): ProjectPage, Query(back): Query<ReturnTo>) -> Response {
    html(page(
        &project,
        "Two-factor authentication",
        html! {
            h1 { "Two-factor authentication" }
            p.muted { "Sign in first; this step follows it when your account has two-factor authentication." }
            p { a href={ "/handler/" (project.id) "/sign-in" (back.query()) } { "Go to sign in" } }
        },
    ))
}

async fn second_step(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let code = text(&form, "attempt_code");
    let signed_in = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        let totp: String = text(&form, "totp").split_whitespace().collect();
        let result = sign_in_with_totp(&state, Some(&ip), &project, code, &totp)
            .await
            .map(|(session, user_id, _)| (session, user_id));
        finish_sign_in(&state, &project, &back, &headers, result).await
    }
    .await;
    match signed_in {
        Ok(answer) => answer,
        Err(e) => {
            let (token, _) = form_token(&state, &project, &headers);
            let body = step_form(&project, &back, &token, code, Some(&message_of(&e)));
            (StatusCode::BAD_REQUEST, html(body)).into_response()
        }
    }
}
