//! The admin dashboard at `/dashboard`: first-admin setup, sign-in, and the projects an admin owns.
//! Pages are rendered on the server (maud) and every write goes through the same domain functions
//! as the API, with the same validation; forms carry a CSRF token.

/// The value of a page's precondition (admin signed in, project theirs, CSRF token good), or
/// return at once with the answer it gives instead (sign-in redirect, 404, refusal).
macro_rules! or_answer {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(answer) => return answer,
        }
    };
}

mod admins;
mod launch;
mod pages;
mod payments;
mod project;
pub mod session;
mod settings;
mod stripe;
mod teams;
mod users;
mod webhooks;

use crate::auth::context::ApiState;
use crate::codes::{self, CodeType};
use crate::http::extract::RawBody;
use crate::http::ClientIp;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::projects::{self, keys, INTERNAL};
use axum::extract::FromRef;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use session::Admin;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(home))
        .route("/dashboard/setup", get(setup_form).post(setup))
        .route("/dashboard/sign-in", get(sign_in_form).post(sign_in))
        .route("/dashboard/sign-out", post(sign_out))
        .route("/dashboard/projects", post(create_project))
        .merge(admins::routes())
        .merge(users::routes())
        .merge(settings::routes())
        .merge(launch::routes())
        .merge(webhooks::routes())
        .merge(payments::routes())
        .merge(stripe::routes())
        .merge(project::routes())
        .merge(teams::routes())
        .route("/dashboard/{*rest}", get(unknown_page))
}

/// Any other dashboard address: a page saying so (signed in) with a 404, or the sign-in page.
async fn unknown_page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let admin = or_answer!(require_admin(&state, &headers).await);
    (StatusCode::NOT_FOUND, html(pages::not_found(&admin))).into_response()
}

/// The signed-in admin and one of their projects, or the page to answer instead (sign-in
/// redirect, or 404 for a project that is not theirs).
pub(crate) async fn project_context(
    state: &Kernel,
    headers: &HeaderMap,
    project_id: &str,
) -> Result<(Admin, projects::Project), Response> {
    let admin = require_admin(state, headers).await?;
    match owned_project(state, &admin, project_id).await {
        Ok(Some(p)) => Ok((admin, p)),
        Ok(None) => Err((StatusCode::NOT_FOUND, html(pages::not_found(&admin))).into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// A page that may carry a refusal beside its form: 400 when it does, else 200.
pub(crate) fn answer(page: maud::Markup, refusal: Option<&str>) -> Response {
    let status = if refusal.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, html(page)).into_response()
}

/// `project_context` for a form post, which must also carry the admin's CSRF token.
pub(crate) async fn form_context(
    state: &Kernel,
    headers: &HeaderMap,
    project_id: &str,
    form: &Value,
) -> Result<(Admin, projects::Project), Response> {
    let (admin, project) = project_context(state, headers, project_id).await?;
    admin
        .check_csrf(form.get("csrf").and_then(Value::as_str))
        .map_err(IntoResponse::into_response)?;
    Ok((admin, project))
}

/// Starts a dashboard session for `user` and sends them home with its cookie.
async fn start_session(state: &Kernel, user: &crate::users::User) -> ApiResult<Response> {
    let project = projects::find(state, INTERNAL)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("internal project missing")))?;
    let session = crate::auth::sessions::start(
        state,
        &project,
        user,
        crate::auth::sessions::DEFAULT_TTL_MS,
        false,
    )
    .await?;
    Ok(with_cookie(
        session::set_cookie(state, Some(&session.refresh_token)),
        Redirect::to("/dashboard").into_response(),
    ))
}

/// A project the admin's teams own; None for any other (including nonexistent) id.
pub(crate) async fn owned_project(
    state: &Kernel,
    admin: &Admin,
    project_id: &str,
) -> ApiResult<Option<projects::Project>> {
    Ok(projects::list_owned_by(state, &admin.user.id)
        .await?
        .into_iter()
        .find(|p| p.id == project_id))
}

/// Creates a one-time setup link while the dashboard has no admin yet; None once one exists.
pub async fn setup_link(state: &Kernel) -> ApiResult<Option<String>> {
    let admins = crate::users::count(state.db(), INTERNAL).await?;
    if admins > 0 {
        return Ok(None);
    }
    let mut tx = state.db().begin().await?;
    // Only the newest link works: links printed at earlier starts end here.
    codes::delete_all(&mut tx, INTERNAL, CodeType::DashboardSetup).await?;
    let code = codes::create(
        &mut tx,
        INTERNAL,
        CodeType::DashboardSetup,
        json!({}),
        json!({}),
        None,
        codes::DEFAULT_TTL_MS,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(format!(
        "{}/dashboard/setup?code={code}",
        state.public_url
    )))
}

pub(crate) use crate::ui::html;

/// A page answer that also sets (or clears) the session cookie.
fn with_cookie(cookie: String, response: Response) -> Response {
    let mut res = response;
    if let Ok(v) = cookie.parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub(crate) fn field<'a>(form: &'a Value, name: &str) -> &'a str {
    form.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The signed-in admin, or a redirect to the sign-in page.
pub(crate) async fn require_admin(state: &Kernel, headers: &HeaderMap) -> Result<Admin, Response> {
    match session::current(state, headers).await {
        Ok(Some(admin)) => Ok(admin),
        Ok(None) => Err(Redirect::to("/dashboard/sign-in").into_response()),
        Err(e) => Err(e.into_response()),
    }
}

async fn home(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<HomeParams>,
) -> Response {
    let admin = or_answer!(require_admin(&state, &headers).await);
    // The one notice a redirect here names: a project deleted from its page.
    let done = (q.done.as_deref() == Some("project-deleted"))
        .then_some(pages::Notice::Done("Project deleted."));
    match projects::list_owned_by(&state, &admin.user.id).await {
        Ok(list) => html(pages::projects(
            &admin,
            &list,
            None,
            done,
            &default_sign_in_methods(&state),
        )),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn setup_form(
    State(state): State<ApiState>,
    ip: ClientIp,
    Query(q): Query<CodeQuery>,
) -> Response {
    let code = q.code.unwrap_or_default();
    let live = codes::check(
        &state,
        Some(&ip),
        INTERNAL,
        CodeType::DashboardSetup,
        &code,
        false,
    )
    .await;
    match live {
        Ok(_) => html(pages::setup(&code, None)),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html(pages::setup_gone(&message_of(&e))),
        )
            .into_response(),
    }
}

/// A form page shown again after `e`: 400, or the 429/503 of a limit with its `Retry-After`.
pub(crate) fn refused(e: &ApiError, page: maud::Markup) -> Response {
    let mut res = (StatusCode::BAD_REQUEST, html(page)).into_response();
    if let ApiError::Throttled {
        status,
        retry_after_secs,
        ..
    } = e
    {
        *res.status_mut() = *status;
        res.headers_mut()
            .insert(header::RETRY_AFTER, (*retry_after_secs).into());
    }
    res
}

/// Turns a domain error into the message shown beside the form.
pub(crate) fn message_of(e: &ApiError) -> String {
    match e {
        ApiError::Known(k) => k.message.clone(),
        ApiError::Text(_, m) => m.clone(),
        ApiError::Throttled { message, .. } => message.clone(),
        ApiError::Internal(_) => "Something went wrong. Please try again.".into(),
    }
}

async fn setup(ip: ClientIp, State(state): State<ApiState>, RawBody(form): RawBody) -> Response {
    let code = field(&form, "code").to_string();
    let result: ApiResult<Response> = async {
        let checked = codes::check(
            &state,
            Some(&ip),
            INTERNAL,
            CodeType::DashboardSetup,
            &code,
            false,
        )
        .await?;
        if crate::users::count(state.db(), INTERNAL).await? > 0 {
            return Err(ApiError::bad_request(
                "The first admin already exists: sign in, or ask an admin for an invitation.",
            ));
        }
        let email = crate::users::normalize_email(field(&form, "email"));
        if !crate::users::is_valid_email(&email) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let password = field(&form, "password").to_string();
        admins::create_admin(&state, &email, password, &checked.id, None).await
    }
    .await;
    match result {
        Ok(home) => home,
        Err(e) => refused(&e, pages::setup(&code, Some(&message_of(&e)))),
    }
}

async fn sign_in_form() -> Response {
    html(pages::sign_in(None, ""))
}

async fn sign_in(State(state): State<ApiState>, ip: ClientIp, RawBody(form): RawBody) -> Response {
    let result: ApiResult<Response> = async {
        let email = crate::users::normalize_email(field(&form, "email"));
        let password = field(&form, "password").to_string();
        let (user, ok) =
            crate::auth::check_password(&state, Some(&ip), INTERNAL, &email, password).await?;
        let user = user
            .filter(|_| ok)
            .ok_or_else(crate::http::known::email_password_mismatch)?;
        // An admin with a TOTP secret gives the code too, as at the API's second step.
        if user.totp_secret.is_some() {
            crate::auth::check_totp(&state, INTERNAL, &user, field(&form, "totp")).await?;
        }
        start_session(&state, &user).await
    }
    .await;
    match result {
        Ok(home) => home,
        Err(e) => refused(
            &e,
            pages::sign_in(Some(&message_of(&e)), field(&form, "email")),
        ),
    }
}

async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
    RawBody(form): RawBody,
) -> Response {
    let admin = or_answer!(require_admin(&state, &headers).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    let token = session::cookie_value(&headers).unwrap_or_default();
    let _ = crate::auth::sessions::end(&state, INTERNAL, &token).await;
    with_cookie(
        session::set_cookie(&state, None),
        Redirect::to("/dashboard/sign-in").into_response(),
    )
}

async fn create_project(
    State(state): State<ApiState>,
    headers: HeaderMap,
    RawBody(form): RawBody,
) -> Response {
    let admin = or_answer!(require_admin(&state, &headers).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    let name = field(&form, "display_name").trim().to_string();
    let result: ApiResult<(projects::Project, keys::NewKeySet)> = async {
        if name.is_empty() || name.chars().count() > 256 {
            return Err(ApiError::bad_request(
                "Give the project a name of 1 to 256 characters.",
            ));
        }
        let team =
            admin.user.selected_team_id.clone().ok_or_else(|| {
                ApiError::bad_request("Your account has no team to own the project.")
            })?;
        let mut project = projects::new_project(name.clone(), Some(team));
        if let Some(methods) = chosen_sign_in_methods(&form)? {
            project.config.with_sign_in_methods(&methods);
        }
        let keys = projects::create_with_keys(&state, &project, keys::generate_keys()).await?;
        Ok((project, keys))
    }
    .await;
    let list = projects::list_owned_by(&state, &admin.user.id)
        .await
        .unwrap_or_default();
    match result {
        Ok((project, keys)) => html(pages::projects(
            &admin,
            &list,
            Some((&project, &keys, state.public_url.trim_end_matches('/'))),
            None,
            &default_sign_in_methods(&state),
        )),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html(pages::projects(
                &admin,
                &list,
                None,
                Some(pages::Notice::Failed(&message_of(&e))),
                &default_sign_in_methods(&state),
            )),
        )
            .into_response(),
    }
}

/// The methods a new project starts with: the original's onboarding defaults (password, magic
/// link, Google, GitHub), the two providers only where this server has shared keys for them, so
/// no end user sees a button that cannot work.
pub(crate) fn default_sign_in_methods(k: &Kernel) -> Vec<&'static str> {
    let mut methods = vec!["credential", "magic_link"];
    methods.extend(
        ["google", "github"]
            .into_iter()
            .filter(|p| crate::oauth::provider::shared_keys_available(k, p)),
    );
    methods
}

/// The sign-in methods ticked on the new-project form; `None` when the form did not offer
/// them (a bare post keeps the project defaults).
/// Errors: a plain 400 when the form offered them and none is ticked.
fn chosen_sign_in_methods(form: &Value) -> ApiResult<Option<Vec<&'static str>>> {
    if field(form, "methods") != "chosen" {
        return Ok(None);
    }
    let ticked: Vec<&str> = pages::SIGN_IN_METHODS
        .iter()
        .map(|(value, _)| *value)
        .filter(|value| field(form, &format!("method:{value}")) == "on")
        .collect();
    if ticked.is_empty() {
        return Err(ApiError::bad_request("Choose at least one sign-in method."));
    }
    Ok(Some(ticked))
}

#[derive(Deserialize)]
struct HomeParams {
    done: Option<String>,
}
