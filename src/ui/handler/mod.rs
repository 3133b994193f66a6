//! End-user pages that a project's emails link to, served by the binary under
//! `/handler/{project_id}/…` (the SDKs' default `urls` paths, below the project's id):
//! `email-verification` and `password-reset`, signing up and asking for a reset (`sign_up`),
//! and signing in with the account page (`account`, over the cookie session of `session`). They work with no JavaScript. Opening a
//! link spends nothing (mail scanners open links); only the form's POST uses the code.

mod account;
mod api_keys;
mod billing;
mod cli;
mod emails;
mod magic_link;
mod mfa;
mod oauth;
mod passkeys;
mod security;
mod session;
mod sign_up;
mod teams;

use super::{error, html, shell, themed_shell};
use crate::auth::context::ApiState;
use crate::auth::reset::reset_with_code;
use crate::contact_channels::verify_with_code;
use crate::http::extract::RawBody;
use crate::http::{known, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::oauth::cross_domain::{handoff_url, Handoff};
use crate::projects::Project;
use crate::ui::dashboard::message_of;
use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<crate::payments::Payments>: FromRef<S>,
{
    Router::new()
        .route("/js/portcullis.js", get(script))
        .merge(account::routes())
        .merge(api_keys::routes())
        .merge(billing::routes())
        .merge(cli::routes())
        .merge(emails::routes())
        .merge(magic_link::routes())
        .merge(mfa::routes())
        .merge(oauth::routes())
        .merge(passkeys::routes())
        .merge(security::routes())
        .merge(sign_up::routes())
        .merge(teams::routes())
        .route("/handler/{project_id}/error", get(error_page))
        .route("/handler/{project_id}/{*rest}", get(unknown_page))
        .route(
            "/handler/{project_id}/email-verification",
            get(verification_page).post(verify),
        )
        .route(
            "/handler/{project_id}/password-reset",
            get(reset_page).post(reset),
        )
}

#[derive(Deserialize)]
struct ErrorQuery {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    message: Option<String>,
}

/// `error`: where a flow that failed sends the browser (`?errorCode=…&message=…`, as the OAuth
/// callback answers an error): the message as text, the code for support, and a way back.
async fn error_page(ProjectPage(project): ProjectPage, Query(q): Query<ErrorQuery>) -> Response {
    let message = q
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "Something went wrong. Please try again.".to_owned());
    let body = page(
        &project,
        "Something went wrong",
        html! {
            h1 { "Something went wrong" }
            p role="alert" { (message) }
            @if let Some(code) = q.error_code.filter(|c| !c.is_empty()) {
                p.muted { "Error code: " code { (code) } }
            }
            p { a href={ "/handler/" (project.id) "/sign-in" } { "Back to sign in" } }
        },
    );
    (StatusCode::BAD_REQUEST, html(body)).into_response()
}

/// Any other page of a known project: its own 404, with a way to sign in.
async fn unknown_page(ProjectPage(project): ProjectPage) -> Response {
    let body = page(
        &project,
        "Page not found",
        html! {
            h1 { "Page not found" }
            p.muted { "There is no such page here." }
            p { a href={ "/handler/" (project.id) "/sign-in" } { "Go to sign in" } }
        },
    );
    (StatusCode::NOT_FOUND, html(body)).into_response()
}

/// `portcullis.js`: sign-in and user buttons for any page (see the file's header).
async fn script() -> Response {
    script_answer(include_str!("../assets/portcullis.js"))
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// A page of the project's: its logo and name in the header, one narrow card, in its theme.
pub(super) fn page(project: &Project, title: &str, body: Markup) -> Markup {
    let theme = &project.config.pages_theme;
    let [logo, _, dark_logo, _] = &project.logos;
    let dark_logo = dark_logo.as_ref().or(logo.as_ref());
    themed_shell(
        title,
        &theme_style(theme),
        html! {
            span.brand {
                @if theme.color_scheme == "dark" {
                    @if let Some(src) = dark_logo { img.logo src=(src) alt=""; }
                } @else if let Some(src) = logo {
                    picture {
                        @if let (Some(dark), "system") = (dark_logo, theme.color_scheme.as_str()) {
                            source srcset=(dark) media="(prefers-color-scheme: dark)";
                        }
                        img.logo src=(src) alt="";
                    }
                }
                span { (project.display_name) }
            }
        },
        html! { div.card.narrow { (body) } },
    )
}

/// The project's colour on buttons and links (with dark or light text on them, whichever reads
/// better: WCAG relative luminance), and dark colours when the scheme asks for them.
fn theme_style(theme: &crate::projects::config::PagesTheme) -> String {
    let hex = theme.primary_color.trim_start_matches('#');
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0))
            / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let on_primary = if luminance > 0.4 { "#14161a" } else { "#fff" };
    let mut css = format!(
        ":root{{--primary:#{hex};--on-primary:{on_primary}}}         button{{background:var(--primary);color:var(--on-primary)}}main a{{color:var(--primary)}}         .brand{{display:flex;align-items:center;gap:10px;font-weight:600}}.logo{{height:28px;width:auto;display:block}}"
    );
    match theme.color_scheme.as_str() {
        "dark" => css.push_str(&format!(":root{{color-scheme:dark}}{DARK}")),
        "system" => css.push_str(&format!(
            ":root{{color-scheme:light dark}}@media (prefers-color-scheme:dark){{{DARK}}}"
        )),
        _ => {}
    }
    css
}

/// The pages in dark colours (the common style's light ones, turned over).
const DARK: &str = "body{background:#0f1115;color:#e7e9ee}.card{background:#181b21;border-color:#2a2e36}label,.muted{color:#a4aab4}input[type=text],input[type=email],input[type=password],input[type=url],select{background:#0f1115;color:#e7e9ee;border-color:#3a3f48}td,th,ul.rows li{border-color:#2a2e36}code{background:#23262d;color:#e7e9ee}.tag{background:#262a31;color:#c9ced6}.tag.ok{background:#12301a;color:#b8f0c4}.tag.warn{background:#3a2a0e;color:#ffd79a}button.secondary{background:#181b21;color:#e7e9ee;border-color:#3a3f48}button.small{background:#23294a;color:#c8d2ff}button.danger{background:#c62828;color:#fff}.error{background:#3a1616;color:#ffb4b4}.notice{background:#12301a;color:#b8f0c4}main a{color:color-mix(in srgb,var(--primary) 45%,#fff)}.separator:before,.separator:after{border-color:#2a2e36}.qr svg{background:#fff;padding:8px;border-radius:6px}";

pub(super) fn not_found() -> Response {
    let body = html! { div.card.narrow { h1 { "Page not found" } } };
    (
        StatusCode::NOT_FOUND,
        html(shell("Not found", html! { span {} }, body)),
    )
        .into_response()
}

pub(super) async fn project_of(state: &ApiState, project_id: &str) -> Option<Arc<Project>> {
    state.projects.get(state, project_id).await.ok().flatten()
}

pub(super) fn text<'a>(form: &'a serde_json::Value, name: &str) -> &'a str {
    form[name].as_str().unwrap_or_default()
}

fn verification_form(project: &Project, code: &str, message: Option<&str>) -> Markup {
    page(
        project,
        "Verify your email",
        html! {
            h1 { "Verify your email" }
            (error(message))
            @if code.is_empty() {
                p.muted { "This link has no verification code. Open the link from the email again." }
            } @else {
                p { "Confirm this address to finish setting up your account." }
                form method="post" {
                    input type="hidden" name="code" value=(code);
                    button type="submit" { "Verify email" }
                }
            }
        },
    )
}

async fn verification_page(
    State(_state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(q): Query<CodeQuery>,
) -> Response {
    html(verification_form(
        &project,
        q.code.as_deref().unwrap_or_default(),
        None,
    ))
}

async fn verify(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let code = text(&form, "code");
    match verify_with_code(&state, Some(&ip), &project.id, code).await {
        Ok(()) => html(page(
            &project,
            "Email verified",
            html! {
                h1 { "Email verified" }
                p.notice role="status" { "Your email is verified. You can close this page." }
            },
        )),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html(verification_form(&project, code, Some(&message_of(&e)))),
        )
            .into_response(),
    }
}

fn reset_form(project: &Project, code: &str, message: Option<&str>) -> Markup {
    page(
        project,
        "Reset your password",
        html! {
            h1 { "Reset your password" }
            (error(message))
            @if code.is_empty() {
                p.muted { "This link has no reset code. Open the link from the email again." }
            } @else {
                form method="post" {
                    input type="hidden" name="code" value=(code);
                    label for="password" { "New password" }
                    input #password type="password" name="password" autocomplete="new-password" required;
                    label for="password-again" { "New password, again" }
                    input #password-again type="password" name="password_again" autocomplete="new-password" required;
                    button type="submit" { "Set new password" }
                }
            }
        },
    )
}

async fn reset_page(
    State(_state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(q): Query<CodeQuery>,
) -> Response {
    html(reset_form(
        &project,
        q.code.as_deref().unwrap_or_default(),
        None,
    ))
}

async fn reset(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let code = text(&form, "code");
    let password = text(&form, "password");
    let refuse = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            html(reset_form(&project, code, Some(message))),
        )
            .into_response()
    };
    if password != text(&form, "password_again") {
        return refuse("The passwords do not match.");
    }
    match reset_with_code(&state, Some(&ip), &project, code, password.to_owned()).await {
        Ok(()) => html(page(
            &project,
            "Password changed",
            html! {
                h1 { "Password changed" }
                p.notice role="status" { "Your password is changed and you are signed out everywhere. Sign in with the new password." }
            },
        )),
        Err(e) => refuse(&message_of(&e)),
    }
}

/// Where an app asked the browser to go once signed in: `after_auth_return_to`, and for another
/// domain of the project the original SDK's cross-domain handoff parameters (its state, its
/// PKCE challenge, and where its callback then goes).
#[derive(Deserialize, serde::Serialize, Default)]
pub(super) struct ReturnTo {
    after_auth_return_to: Option<String>,
    stack_cross_domain_state: Option<String>,
    stack_cross_domain_code_challenge: Option<String>,
    stack_cross_domain_after_callback_redirect_url: Option<String>,
}

impl ReturnTo {
    /// These parameters again, as a query string (`?…`, or empty), to carry through a form.
    pub(super) fn query(&self) -> String {
        let pairs: Vec<String> = [
            ("after_auth_return_to", &self.after_auth_return_to),
            ("stack_cross_domain_state", &self.stack_cross_domain_state),
            (
                "stack_cross_domain_code_challenge",
                &self.stack_cross_domain_code_challenge,
            ),
            (
                "stack_cross_domain_after_callback_redirect_url",
                &self.stack_cross_domain_after_callback_redirect_url,
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(|v| format!("{k}={}", crate::http::url::percent_encode(v)))
        })
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }

    fn target(&self) -> Option<&str> {
        self.after_auth_return_to
            .as_deref()
            .filter(|u| !u.is_empty())
    }

    /// Errors: REDIRECT_URL_NOT_WHITELISTED for a return the project does not trust (its own
    /// pages here always are), checked when the page opens so no one signs in towards it.
    pub(super) fn check(&self, state: &Kernel, project: &Project) -> ApiResult<()> {
        let urls = [
            self.target(),
            self.stack_cross_domain_after_callback_redirect_url
                .as_deref(),
        ];
        if urls
            .into_iter()
            .flatten()
            .any(|u| !project.trusts_link(&state.public_url, u))
        {
            return Err(known::redirect_url_not_whitelisted().into());
        }
        Ok(())
    }

    /// Where to send the signed-in user: back to the app with a one-time authorization code it
    /// exchanges with its PKCE verifier (no token travels in the URL), to a trusted page, or to
    /// the account page. Errors: those of [`ReturnTo::check`] and of the handoff.
    pub(super) async fn url_for(
        &self,
        state: &Kernel,
        project: &Project,
        user_id: &str,
    ) -> ApiResult<String> {
        self.check(state, project)?;
        let Some(target) = self.target() else {
            return Ok(format!("/handler/{}/account-settings", project.id));
        };
        match (
            &self.stack_cross_domain_state,
            &self.stack_cross_domain_code_challenge,
        ) {
            (Some(app_state), Some(challenge)) => {
                let handoff = Handoff {
                    redirect_uri: target.to_owned(),
                    state: app_state.clone(),
                    code_challenge: challenge.clone(),
                    code_challenge_method: None,
                    after_callback_redirect_url: self
                        .stack_cross_domain_after_callback_redirect_url
                        .clone(),
                };
                handoff_url(state, project, user_id, &handoff).await
            }
            _ => Ok(target.to_owned()),
        }
    }
}

/// A page refused outright: its heading and the reason, and no form (400).
pub(super) fn refused(project: &Project, heading: &str, e: &crate::http::ApiError) -> Response {
    let body = page(
        project,
        heading,
        html! {
            h1 { (heading) }
            (error(Some(&message_of(e))))
            p { a href={ "/handler/" (project.id) "/sign-in" } { "Back to sign in" } }
        },
    );
    (StatusCode::BAD_REQUEST, html(body)).into_response()
}

/// A sign-in refused outright (see [`refused`]).
pub(super) fn refused_sign_in(project: &Project, e: &crate::http::ApiError) -> Response {
    refused(project, &format!("Sign in to {}", project.display_name), e)
}

/// Serves one of the pages' scripts (`assets/…`), cached for five minutes.
pub(super) fn script_answer(body: &'static str) -> Response {
    (
        [
            ("content-type", "text/javascript; charset=utf-8"),
            ("cache-control", "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// A page script's fetch answered: the JSON, or `{"message"}` with the refusal's status.
pub(super) fn json_answer(result: crate::http::ApiResult<serde_json::Value>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => {
            let message = message_of(&e);
            let status = e.into_response().status();
            (
                status,
                axum::Json(serde_json::json!({ "message": message })),
            )
                .into_response()
        }
    }
}

/// The project a page's path names (`/handler/{project_id}/…`); unknown, the page is a 404.
pub(super) struct ProjectPage(pub Arc<Project>);

impl<S: Send + Sync> FromRequestParts<S> for ProjectPage
where
    ApiState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let state = ApiState::from_ref(state);
        let id = parts
            .uri
            .path()
            .strip_prefix("/handler/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        project_of(&state, id)
            .await
            .map(ProjectPage)
            .ok_or_else(not_found)
    }
}

/// A signed-in user's page: the project and its user. Signed out, a page opened (GET) sends the
/// browser to sign in and come back; a form posted sends it to sign in.
pub(super) struct SignedIn {
    pub project: Arc<Project>,
    pub me: session::EndUser,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn
where
    ApiState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let ProjectPage(project) = ProjectPage::from_request_parts(parts, state).await?;
        let state = ApiState::from_ref(state);
        match session::current(&state, &project, &parts.headers).await {
            Ok(Some(me)) => Ok(SignedIn { project, me }),
            Ok(None) => {
                let back = (parts.method == Method::GET)
                    .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
                    .flatten();
                Err(Redirect::to(&sign_in_url(&state, &project, "sign-in", back)).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// This server's full URL for `path` (`/handler/…`), as emails and return URLs need it.
pub(super) fn full_url(state: &Kernel, path: &str) -> String {
    format!("{}{path}", state.public_url.trim_end_matches('/'))
}

/// The full URL of the project's page `name`.
pub(super) fn page_url(state: &Kernel, project: &Project, name: &str) -> String {
    full_url(state, &format!("/handler/{}/{name}", project.id))
}

/// The sign-in (or sign-up) page, returning afterwards to this server's page `back` (a path).
pub(super) fn sign_in_url(
    state: &Kernel,
    project: &Project,
    page_name: &str,
    back: Option<&str>,
) -> String {
    let page = format!("/handler/{}/{page_name}", project.id);
    match back {
        Some(back) => format!(
            "{page}?after_auth_return_to={}",
            crate::http::url::percent_encode(&full_url(state, back))
        ),
        None => page,
    }
}
