//! Dashboard pages for a project's users: search and pages through the list, create, and a user's
//! detail (emails, sessions with revoke, teams, metadata editor, delete). Writes go through the
//! same functions as the API.

use super::pages::{error, project_layout, when};
use super::session::Admin;
use super::{field, html, message_of};
use crate::auth::context::ApiState;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::projects::Project;
use crate::users::list::ListQuery;
use crate::users::write::{self, UserWrite};
use crate::users::{self, User};
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route(
            "/dashboard/projects/{project_id}/users",
            get(list).post(create),
        )
        .route(
            "/dashboard/projects/{project_id}/users/{user_id}",
            get(detail),
        )
        .route(
            "/dashboard/projects/{project_id}/users/{user_id}/metadata",
            post(save_metadata),
        )
        .route(
            "/dashboard/projects/{project_id}/users/{user_id}/sessions/{session_id}/revoke",
            post(revoke_session),
        )
        .route(
            "/dashboard/projects/{project_id}/users/{user_id}/delete",
            post(delete),
        )
}

/// The signed-in admin and a project of theirs, or the page to answer instead.

#[derive(Deserialize)]
struct ListParams {
    query: Option<String>,
    cursor: Option<String>,
    /// `oldest` first; anything else is newest first.
    sort: Option<String>,
}

const PAGE: &str = "50";

fn users_page(
    admin: &Admin,
    project: &Project,
    items: &[Value],
    query: &str,
    oldest_first: bool,
    next: Option<&str>,
    message: Option<&str>,
) -> Markup {
    let sort = if oldest_first { "oldest" } else { "newest" };
    let base = format!("/dashboard/projects/{}/users", project.id);
    project_layout(
        "Users",
        admin,
        project,
        "users",
        html! {
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Users" }
                form method="get" action=(base) {
                    input id="query" type="text" name="query" value=(query) placeholder="Search by name, email or ID";
                    select id="sort" name="sort" {
                        option value="newest" selected[!oldest_first] { "Newest first" }
                        option value="oldest" selected[oldest_first] { "Oldest first" }
                    }
                    button type="submit" { "Search" }
                }
                table {
                    tr { th { "Email" } th { "Name" } th { "Signed up" } }
                    @for u in items {
                        tr {
                            td { a href={ (base) "/" (u["id"].as_str().unwrap_or("")) } { (u["primary_email"].as_str().unwrap_or("(no email)")) } }
                            td { (u["display_name"].as_str().unwrap_or("")) }
                            td.muted { (crate::store::iso(u["signed_up_at_millis"].as_i64().unwrap_or(0))[..10]) }
                        }
                    }
                }
                @if items.is_empty() { p.muted { "No users found." } }
                @if let Some(next) = next {
                    p { a id="next-page" href={ (base) "?query=" (query) "&sort=" (sort) "&cursor=" (next) } { "Next page →" } }
                }
            }
            div.card {
                h2 { "New user" }
                (error(message))
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="new-email" { "Email" }
                    input id="new-email" type="email" name="email" required;
                    label for="new-password" { "Password (optional)" }
                    input id="new-password" type="password" name="password";
                    button type="submit" { "Create user" }
                }
            }
        },
    )
}

async fn load_list(
    state: &Kernel,
    project: &Project,
    query: &str,
    oldest_first: bool,
    cursor: Option<String>,
) -> ApiResult<(Vec<Value>, Option<String>)> {
    let q = ListQuery {
        limit: Some(PAGE.into()),
        cursor,
        query: Some(query.to_string()).filter(|q| !q.is_empty()),
        desc: Some((!oldest_first).to_string()),
        include_anonymous: Some("true".into()),
        ..Default::default()
    };
    let page = users::list::list(state, project, q).await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    Ok((
        items,
        page["pagination"]["next_cursor"]
            .as_str()
            .map(str::to_string),
    ))
}

async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(p): Query<ListParams>,
) -> Response {
    let (admin, project) = or_answer!(super::project_context(&state, &headers, &project_id).await);
    let query = p.query.unwrap_or_default();
    let cursor = p.cursor.filter(|c| uuid::Uuid::parse_str(c).is_ok());
    let oldest_first = p.sort.as_deref() == Some("oldest");
    match load_list(&state, &project, &query, oldest_first, cursor).await {
        Ok((items, next)) => html(users_page(
            &admin,
            &project,
            &items,
            &query,
            oldest_first,
            next.as_deref(),
            None,
        )),
        Err(e) => e.into_response(),
    }
}

async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project) =
        or_answer!(super::form_context(&state, &headers, &project_id, &form).await);
    let email = users::normalize_email(field(&form, "email"));
    let password = field(&form, "password");
    let result: ApiResult<User> = async {
        if !users::is_valid_email(&email) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let w = UserWrite {
            primary_email: Some(Some(email.clone())),
            primary_email_auth_enabled: Some(true),
            password: (!password.is_empty()).then(|| Some(password.to_string())),
            ..Default::default()
        };
        write::create(&state, &project, w).await
    }
    .await;
    match result {
        Ok(user) => Redirect::to(&format!(
            "/dashboard/projects/{}/users/{}",
            project.id, user.id
        ))
        .into_response(),
        Err(e) => {
            let (items, next) = load_list(&state, &project, "", false, None)
                .await
                .unwrap_or_default();
            (
                StatusCode::BAD_REQUEST,
                html(users_page(
                    &admin,
                    &project,
                    &items,
                    "",
                    false,
                    next.as_deref(),
                    Some(&message_of(&e)),
                )),
            )
                .into_response()
        }
    }
}

fn pretty(v: &Value) -> String {
    if v.is_null() {
        String::new()
    } else {
        serde_json::to_string_pretty(v).unwrap_or_default()
    }
}

async fn detail_page(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    user: &User,
    message: Option<&str>,
    drafts: Option<&Value>,
) -> ApiResult<Markup> {
    let channels =
        crate::contact_channels::list(state.db(), &project.id, Some(&user.id), None).await?;
    let sessions = crate::auth::sessions::list(state, &project.id, &user.id, true, None).await?;
    let teams = crate::teams::of_user(state.db(), &project.id, &user.id).await?;
    let linked = crate::users::oauth_accounts(state.db(), &project.id, &user.id).await?;
    let catalog = payments.catalog(state, &project.id).await?;
    let base = format!("/dashboard/projects/{}/users/{}", project.id, user.id);
    let draft = |name: &str, current: &Value| {
        drafts
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| pretty(current))
    };
    Ok(project_layout(
        "User",
        admin,
        project,
        "users",
        html! {
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) "/users" } { (project.display_name) } " · " (user.primary_email.as_deref().unwrap_or(&user.id)) }
                table {
                    tr { th { "ID" } td { code { (user.id) } } }
                    tr { th { "Name" } td { (user.display_name.as_deref().unwrap_or("")) } }
                    tr { th { "Sign-in methods" } td {
                        (if user.password_hash.is_some() { "password " } else { "" })
                        (if user.otp_auth_enabled { "magic link / OTP " } else { "" })
                        @for a in linked.iter().filter(|a| a.allow_sign_in) { (a.provider_id) " " }
                    } }
                    tr { th { "Teams" } td { @for (_, name) in &teams { (name) " " } } }
                }
                p {
                    a href={ "/dashboard/projects/" (project.id) "/payments/customers/user/" (user.id) } { "Payments →" } " "
                    (super::payments::checkout_dialog(admin, project, &catalog, Some(("user", &user.id)), None))
                }
            }
            div.card {
                h2 { "Emails" }
                table {
                    @for c in &channels {
                        tr { td { (c.value) } td.muted {
                            (if c.is_primary { "primary · " } else { "" })
                            (if c.is_verified { "verified" } else { "unverified" })
                            (if c.used_for_auth { " · sign-in" } else { "" })
                        } }
                    }
                }
            }
            div.card {
                h2 { "Linked accounts" }
                @if linked.is_empty() { p.muted { "No OAuth accounts." } }
                table id="linked-accounts" {
                    @for a in &linked {
                        tr {
                            td { (a.provider_id) }
                            td { code { (a.account_id) } }
                            td { (a.email.as_deref().unwrap_or("")) }
                            td.muted {
                                (if a.allow_sign_in { "sign-in" } else { "no sign-in" })
                                (if a.allow_connected_accounts { " · connected account" } else { "" })
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "Sessions" }
                @if sessions.is_empty() { p.muted { "No active sessions." } }
                table {
                    @for s in &sessions {
                        tr {
                            td { code { (s["id"].as_str().unwrap_or("")) } }
                            td.muted { "last used " (when(s["last_used_at"].as_i64())) }
                            td {
                                form method="post" action={ (base) "/sessions/" (s["id"].as_str().unwrap_or("")) "/revoke" } {
                                    input type="hidden" name="csrf" value=(admin.csrf_token());
                                    button type="submit" class="revoke" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "Metadata" }
                (error(message))
                form method="post" action={ (base) "/metadata" } {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    @for (name, label, current) in [("client_metadata", "Client metadata", &user.client_metadata), ("client_read_only_metadata", "Client read-only metadata", &user.client_read_only_metadata), ("server_metadata", "Server metadata", &user.server_metadata)] {
                        label for=(name) { (label) " (JSON)" }
                        textarea id=(name) name=(name) rows="4" style="width:100%;font-family:monospace" { (draft(name, current)) }
                    }
                    button type="submit" { "Save metadata" }
                }
            }
            div.card {
                h2 { "Delete user" }
                form method="post" action={ (base) "/delete" } {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label { input type="checkbox" name="confirm" value="yes"; " I understand this deletes the user and their sessions for good." }
                    button type="submit" style="background:#c62828" { "Delete user" }
                }
            }
        },
    ))
}

async fn user_context(
    state: &Kernel,
    headers: &HeaderMap,
    project_id: &str,
    user_id: &str,
) -> Result<(Admin, Project, User), Response> {
    let (admin, project) = super::project_context(state, headers, project_id).await?;
    let user = match uuid::Uuid::parse_str(user_id) {
        Ok(_) => users::find(state.db(), &project.id, user_id)
            .await
            .map_err(IntoResponse::into_response)?,
        Err(_) => None,
    };
    match user {
        Some(u) => Ok((admin, project, u)),
        None => Err((StatusCode::NOT_FOUND, html(super::pages::not_found(&admin))).into_response()),
    }
}

async fn detail(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_context(&state, &headers, &project_id, &user_id).await);
    match detail_page(&state, &payments, &admin, &project, &user, None, None).await {
        Ok(m) => html(m),
        Err(e) => e.into_response(),
    }
}

async fn save_metadata(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_context(&state, &headers, &project_id, &user_id).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    // All three must parse before anything is written.
    let parse = |name: &str| -> Result<Option<Value>, String> {
        let text = field(&form, name).trim();
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("{name} is not valid JSON: {e}"))
    };
    let parsed = (
        parse("client_metadata"),
        parse("client_read_only_metadata"),
        parse("server_metadata"),
    );
    let result: ApiResult<User> = match parsed {
        (Ok(c), Ok(r), Ok(s)) => {
            let w = UserWrite {
                client_metadata: Some(c),
                client_read_only_metadata: Some(r),
                server_metadata: Some(s),
                ..Default::default()
            };
            write::update(&state, &project, user.clone(), w, false).await
        }
        (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => Err(ApiError::bad_request(m)),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/dashboard/projects/{}/users/{}",
            project.id, user.id
        ))
        .into_response(),
        Err(e) => match detail_page(
            &state,
            &payments,
            &admin,
            &project,
            &user,
            Some(&message_of(&e)),
            Some(&form),
        )
        .await
        {
            Ok(m) => (StatusCode::BAD_REQUEST, html(m)).into_response(),
            Err(e) => e.into_response(),
        },
    }
}

async fn revoke_session(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((project_id, user_id, session_id)): Path<(String, String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_context(&state, &headers, &project_id, &user_id).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    if let Err(e) = crate::auth::sessions::delete(&state, &project.id, &user.id, &session_id).await
    {
        return e.into_response();
    }
    Redirect::to(&format!(
        "/dashboard/projects/{}/users/{}",
        project.id, user.id
    ))
    .into_response()
}

async fn delete(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_context(&state, &headers, &project_id, &user_id).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    if field(&form, "confirm") != "yes" {
        return match detail_page(
            &state,
            &payments,
            &admin,
            &project,
            &user,
            Some("Tick the box to confirm the deletion."),
            None,
        )
        .await
        {
            Ok(m) => (StatusCode::BAD_REQUEST, html(m)).into_response(),
            Err(e) => e.into_response(),
        };
    }
    if let Err(e) = users::delete(&state, &project.id, &user.id).await {
        return e.into_response();
    }
    Redirect::to(&format!("/dashboard/projects/{}/users", project.id)).into_response()
}
