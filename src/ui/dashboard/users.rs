//! Dashboard pages for a project's users: search and pages through the list, create, and a user's
//! detail (profile, emails with verification, password, restriction by an admin, sessions with
//! revoke, teams, metadata editor, delete). Writes go through the same functions as the API;
//! each action ends in a notice (`?done=…`) or a refusal beside its form that keeps the input.

use super::pages::{error, project_layout, when};
use super::project::{copyable, notice, scroll, styles, Outcome};
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
    let user = "/dashboard/projects/{project_id}/users/{user_id}";
    Router::new()
        .route(
            "/dashboard/projects/{project_id}/users",
            get(list).post(create),
        )
        .route(user, get(detail))
        .route(&format!("{user}/metadata"), post(save_metadata))
        .route(&format!("{user}/profile"), post(save_profile))
        .route(&format!("{user}/email"), post(email_action))
        .route(&format!("{user}/password"), post(password_action))
        .route(&format!("{user}/restriction"), post(restriction))
        .route(
            &format!("{user}/sessions/{{session_id}}/revoke"),
            post(revoke_session),
        )
        .route(&format!("{user}/delete"), post(delete))
}

/// The notices an action's redirect may name (`?done=<key>`): only these texts are shown.
const DONE: [(&str, &str); 11] = [
    ("created", "User created."),
    ("deleted", "User deleted."),
    ("name", "Display name saved."),
    ("verified", "Primary email marked as verified."),
    ("verification-sent", "Verification email sent."),
    (
        "password-set",
        "Password set. The user's sessions were ended.",
    ),
    ("reset-sent", "Password reset email sent."),
    (
        "restricted",
        "User restricted: the API refuses their requests until you lift it.",
    ),
    ("unrestricted", "Restriction lifted."),
    ("metadata", "Metadata saved."),
    ("session-revoked", "Session revoked."),
];

fn done_text(key: Option<&str>) -> Option<&'static str> {
    DONE.iter().find(|(k, _)| Some(*k) == key).map(|(_, t)| *t)
}

#[derive(Deserialize)]
struct ListParams {
    query: Option<String>,
    cursor: Option<String>,
    /// `oldest` first; anything else is newest first.
    sort: Option<String>,
    done: Option<String>,
}

const PAGE: &str = "50";

/// The users list's state: search, order, next page, and the last action's outcome.
struct ListView<'a> {
    items: &'a [Value],
    query: &'a str,
    oldest_first: bool,
    next: Option<&'a str>,
    done: Option<&'a str>,
    /// A refused new user: the reason, and the email typed.
    refused: Option<(&'a str, &'a str)>,
}

fn users_page(admin: &Admin, project: &Project, v: ListView) -> Markup {
    let sort = if v.oldest_first { "oldest" } else { "newest" };
    let base = format!("/dashboard/projects/{}/users", project.id);
    let (query, items) = (v.query, v.items);
    project_layout(
        "Users",
        admin,
        project,
        "users",
        html! {
            (styles())
            (notice(v.done))
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Users" }
                form method="get" action=(base) {
                    input id="query" type="text" name="query" value=(query) placeholder="Search by name, email or ID" aria-label="Search";
                    select id="sort" name="sort" aria-label="Order" {
                        option value="newest" selected[!v.oldest_first] { "Newest first" }
                        option value="oldest" selected[v.oldest_first] { "Oldest first" }
                    }
                    " "
                    button type="submit" { "Search" }
                }
                @if items.is_empty() {
                    p.muted.empty { @if query.is_empty() { "No users yet. Create one below, or let them sign up in your app." } @else { "No users match “" (query) "”." } }
                } @else {
                    (scroll(html! {
                        table id="users" {
                            tr { th { "Email" } th { "Name" } th { "Signed up" } }
                            @for u in items {
                                tr {
                                    td { a href={ (base) "/" (u["id"].as_str().unwrap_or("")) } { (u["primary_email"].as_str().unwrap_or("(no email)")) } }
                                    td { (u["display_name"].as_str().unwrap_or("")) }
                                    td.muted { (crate::store::iso(u["signed_up_at_millis"].as_i64().unwrap_or(0))[..10]) }
                                }
                            }
                        }
                    }))
                }
                @if let Some(next) = v.next {
                    p { a id="next-page" href={ (base) "?query=" (query) "&sort=" (sort) "&cursor=" (next) } { "Next page →" } }
                }
            }
            div.card {
                h2 { "New user" }
                (error(v.refused.map(|(m, _)| m)))
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="new-email" { "Email" }
                    input id="new-email" type="email" name="email" required value=(v.refused.map(|(_, e)| e).unwrap_or(""));
                    label for="new-password" { "Password (optional)" }
                    input id="new-password" type="password" name="password" autocomplete="new-password";
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
            ListView {
                items: &items,
                query: &query,
                oldest_first,
                next: next.as_deref(),
                done: done_text(p.done.as_deref()),
                refused: None,
            },
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
            "/dashboard/projects/{}/users/{}?done=created",
            project.id, user.id
        ))
        .into_response(),
        Err(e) => {
            let (items, next) = load_list(&state, &project, "", false, None)
                .await
                .unwrap_or_default();
            let message = message_of(&e);
            super::refused(
                &e,
                users_page(
                    &admin,
                    &project,
                    ListView {
                        items: &items,
                        query: "",
                        oldest_first: false,
                        next: next.as_deref(),
                        done: None,
                        refused: Some((&message, field(&form, "email"))),
                    },
                ),
            )
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
    outcome: Outcome<'_>,
) -> ApiResult<Markup> {
    let channels =
        crate::contact_channels::list(state.db(), &project.id, Some(&user.id), None).await?;
    let sessions = crate::auth::sessions::list(state, &project.id, &user.id, true, None).await?;
    let teams = crate::teams::of_user(state.db(), &project.id, &user.id).await?;
    let linked = crate::users::oauth_accounts(state.db(), &project.id, &user.id).await?;
    let catalog = payments.catalog(state, &project.id).await?;
    let base = format!("/dashboard/projects/{}/users/{}", project.id, user.id);
    let csrf = admin.csrf_token();
    let primary = channels.iter().find(|c| c.is_primary);
    let reason = user.restricted_reason(project.config.require_email_verification);
    Ok(project_layout(
        "User",
        admin,
        project,
        "users",
        html! {
            (styles())
            (notice(outcome.done))
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) "/users" } { (project.display_name) } " · " (user.primary_email.as_deref().unwrap_or(&user.id)) }
                @if user.restricted_by_admin {
                    p.banner id="restricted-banner" { "Restricted by an admin"
                        @if let Some(r) = &user.restricted_by_admin_reason { ": " (r) } }
                }
                table {
                    tr { th { "ID" } td { (copyable("user-id", "user ID", &user.id)) } }
                    tr { th { "Name" } td id="display-name" { (user.display_name.as_deref().unwrap_or("")) } }
                    tr { th { "Sign-in methods" } td {
                        (if user.password_hash.is_some() { "password " } else { "" })
                        (if user.otp_auth_enabled { "magic link / OTP " } else { "" })
                        @for a in linked.iter().filter(|a| a.allow_sign_in) { (a.provider_id) " " }
                        @if user.password_hash.is_none() && !user.otp_auth_enabled && !linked.iter().any(|a| a.allow_sign_in) { span.muted { "none yet" } }
                    } }
                    tr { th { "Teams" } td {
                        @for (_, name) in &teams { (name) " " }
                        @if teams.is_empty() { span.muted { "In no team." } }
                    } }
                    tr { th { "Status" } td id="status" {
                        @if reason.is_null() { "active" } @else { "restricted (" (reason["type"].as_str().unwrap_or("")) ")" }
                    } }
                }
                p {
                    a href={ "/dashboard/projects/" (project.id) "/payments/customers/user/" (user.id) } { "Payments →" } " "
                    (super::payments::checkout_dialog(admin, project, &catalog, Some(("user", &user.id)), None))
                }
            }
            div.card id="profile" {
                h2 { "Profile" }
                (outcome.error_in("profile"))
                form method="post" action={ (base) "/profile" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="display_name" { "Display name (empty for none)" }
                    input id="display_name" type="text" name="display_name" value=(outcome.draft("display_name", || user.display_name.clone().unwrap_or_default()));
                    button type="submit" { "Save name" }
                }
            }
            div.card id="emails" {
                h2 { "Emails" }
                (outcome.error_in("email"))
                @if channels.is_empty() {
                    p.muted.empty { "This user has no email address." }
                } @else {
                    (scroll(html! {
                        table {
                            @for c in &channels {
                                tr { td { (c.value) } td.muted {
                                    (if c.is_primary { "primary · " } else { "" })
                                    (if c.is_verified { "verified" } else { "unverified" })
                                    (if c.used_for_auth { " · sign-in" } else { "" })
                                } }
                            }
                        }
                    }))
                }
                @if let Some(p) = primary.filter(|p| !p.is_verified) {
                    form.inline method="post" action={ (base) "/email" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="verify";
                        button type="submit" id="mark-verified" { "Mark " (p.value) " verified" }
                    }
                    " "
                    form.inline method="post" action={ (base) "/email" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="send-verification";
                        button type="submit" id="send-verification" { "Resend verification email" }
                    }
                }
            }
            div.card id="password" {
                h2 { "Password" }
                (outcome.error_in("password"))
                p.muted { @if user.password_hash.is_some() { "The user has a password. Setting a new one ends their sessions." } @else { "The user has no password yet." } }
                form method="post" action={ (base) "/password" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="set";
                    label for="new_password" { "New password (8 to 70 characters)" }
                    input id="new_password" type="password" name="password" autocomplete="new-password";
                    button type="submit" id="set-password" { "Set password" }
                }
                @if let Some(email) = user.primary_email.as_deref().filter(|_| user.primary_email_auth_enabled) {
                    form method="post" action={ (base) "/password" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="send-reset";
                        button type="submit" id="send-reset" { "Email a reset link to " (email) }
                    }
                }
            }
            div.card id="restriction" {
                h2 { "Restriction" }
                (outcome.error_in("restriction"))
                @if user.restricted_by_admin {
                    p { "Restricted. Sign-in still answers, but the tokens are restricted ones: the API refuses their requests (RESTRICTED_USER_NOT_ALLOWED) unless the app allows restricted users." }
                    @if let Some(d) = &user.restricted_by_admin_private_details { p.muted { "Private details: " (d) } }
                    form method="post" action={ (base) "/restriction" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="lift";
                        button type="submit" id="lift-restriction" { "Lift restriction" }
                    }
                } @else {
                    p.muted { "Restricting disables the user: their tokens stop working against the API until you lift it. The reason is shown to them; the private details only here and to servers." }
                    form method="post" action={ (base) "/restriction" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="restrict";
                        label for="restriction_reason" { "Reason (shown to the user, optional)" }
                        input id="restriction_reason" type="text" name="reason" maxlength="1000" value=(outcome.draft("reason", String::new));
                        label for="restriction_details" { "Private details (optional)" }
                        input id="restriction_details" type="text" name="private_details" maxlength="4000" value=(outcome.draft("private_details", String::new));
                        button type="submit" id="restrict" style="background:#c62828" { "Restrict user" }
                    }
                }
            }
            div.card {
                h2 { "Linked accounts" }
                @if linked.is_empty() { p.muted.empty { "No OAuth accounts." } }
                @else {
                    (scroll(html! {
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
                    }))
                }
            }
            div.card id="sessions-card" {
                h2 { "Sessions" }
                (outcome.error_in("sessions"))
                @if sessions.is_empty() { p.muted.empty { "No active sessions." } }
                @else {
                    (scroll(html! {
                        table {
                            @for s in &sessions {
                                tr {
                                    td { (copyable("", "session ID", s["id"].as_str().unwrap_or(""))) }
                                    td.muted { "last used " (when(s["last_used_at"].as_i64())) }
                                    td {
                                        form method="post" action={ (base) "/sessions/" (s["id"].as_str().unwrap_or("")) "/revoke" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" class="revoke" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }))
                }
            }
            div.card id="metadata" {
                h2 { "Metadata" }
                (outcome.error_in("metadata"))
                form method="post" action={ (base) "/metadata" } {
                    input type="hidden" name="csrf" value=(csrf);
                    @for (name, label, current) in [("client_metadata", "Client metadata", &user.client_metadata), ("client_read_only_metadata", "Client read-only metadata", &user.client_read_only_metadata), ("server_metadata", "Server metadata", &user.server_metadata)] {
                        label for=(name) { (label) " (JSON)" }
                        textarea id=(name) name=(name) rows="4" style="width:100%;font-family:monospace" { (outcome.draft(name, || pretty(current))) }
                    }
                    button type="submit" { "Save metadata" }
                }
            }
            div.card id="delete" {
                h2 { "Delete user" }
                (outcome.error_in("delete"))
                form method="post" action={ (base) "/delete" } {
                    input type="hidden" name="csrf" value=(csrf);
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

/// `user_context` for a form post, which must also carry the admin's CSRF token.
async fn user_form_context(
    state: &Kernel,
    headers: &HeaderMap,
    project_id: &str,
    user_id: &str,
    form: &Value,
) -> Result<(Admin, Project, User), Response> {
    let (admin, project, user) = user_context(state, headers, project_id, user_id).await?;
    admin
        .check_csrf(form.get("csrf").and_then(Value::as_str))
        .map_err(IntoResponse::into_response)?;
    Ok((admin, project, user))
}

#[derive(Deserialize)]
struct DoneParams {
    done: Option<String>,
}

async fn detail(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    Query(q): Query<DoneParams>,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_context(&state, &headers, &project_id, &user_id).await);
    let outcome = Outcome::done(done_text(q.done.as_deref()));
    match detail_page(&state, &payments, &admin, &project, &user, outcome).await {
        Ok(m) => html(m),
        Err(e) => e.into_response(),
    }
}

/// The answer to a user-page action: back to the page with the notice `done`, or the page again
/// with the refusal in `section` and the form's input kept.
async fn after(
    state: &Kernel,
    payments: &Payments,
    (admin, project, user): (&Admin, &Project, &User),
    section: &'static str,
    form: &Value,
    result: ApiResult<&'static str>,
) -> Response {
    match result {
        Ok(done) => Redirect::to(&format!(
            "/dashboard/projects/{}/users/{}?done={done}",
            project.id, user.id
        ))
        .into_response(),
        Err(e) => {
            // Read again: the refused write changed nothing, but the page shows the stored state.
            let user = users::find(state.db(), &project.id, &user.id)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| user.clone());
            let message = message_of(&e);
            let outcome = Outcome::failed(section, &message, form);
            match detail_page(state, payments, admin, project, &user, outcome).await {
                Ok(m) => super::refused(&e, m),
                Err(e) => e.into_response(),
            }
        }
    }
}

async fn save_profile(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let name = field(&form, "display_name").trim();
    let result = async {
        if name.chars().count() > 256 {
            return Err(ApiError::bad_request(
                "Keep the display name to 256 characters or fewer.",
            ));
        }
        let w = UserWrite {
            display_name: Some((!name.is_empty()).then(|| name.to_string())),
            ..Default::default()
        };
        write::update(&state, &project, user.clone(), w, false).await?;
        Ok("name")
    }
    .await;
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "profile", &form, result).await
}

/// This server's page `name` of the project's hosted pages, as emails link to it.
fn handler_page(state: &Kernel, project: &Project, name: &str) -> String {
    format!(
        "{}/handler/{}/{name}",
        state.public_url.trim_end_matches('/'),
        project.id
    )
}

async fn email_action(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let result: ApiResult<&'static str> = async {
        if user.primary_email.is_none() {
            return Err(ApiError::bad_request("This user has no primary email."));
        }
        match field(&form, "op") {
            "verify" => {
                let w = UserWrite {
                    primary_email_verified: Some(true),
                    ..Default::default()
                };
                write::update(&state, &project, user.clone(), w, false).await?;
                Ok("verified")
            }
            "send-verification" => {
                let channels =
                    crate::contact_channels::list(state.db(), &project.id, Some(&user.id), None)
                        .await?;
                let primary = channels
                    .iter()
                    .find(|c| c.is_primary)
                    .ok_or_else(|| ApiError::bad_request("This user has no primary email."))?;
                let callback = handler_page(&state, &project, "email-verification");
                crate::contact_channels::write::send_verification(
                    &state, None, &project, primary, &callback,
                )
                .await?;
                Ok("verification-sent")
            }
            _ => Err(ApiError::bad_request("Unknown email action.")),
        }
    }
    .await;
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "email", &form, result).await
}

async fn password_action(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let result: ApiResult<&'static str> = async {
        match field(&form, "op") {
            "set" => {
                let password = field(&form, "password");
                if password.is_empty() {
                    return Err(ApiError::bad_request("Enter the new password."));
                }
                let w = UserWrite {
                    password: Some(Some(password.to_string())),
                    ..Default::default()
                };
                write::update(&state, &project, user.clone(), w, false).await?;
                Ok("password-set")
            }
            "send-reset" => {
                let email = user
                    .primary_email
                    .as_deref()
                    .filter(|_| user.primary_email_auth_enabled)
                    .ok_or_else(|| {
                        ApiError::bad_request("This user has no email they sign in with.")
                    })?;
                let callback = handler_page(&state, &project, "password-reset");
                crate::auth::reset::send_reset(&state, None, &project, email, &callback).await?;
                Ok("reset-sent")
            }
            _ => Err(ApiError::bad_request("Unknown password action.")),
        }
    }
    .await;
    // The password typed is never sent back.
    let kept = serde_json::json!({});
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "password", &kept, result).await
}

async fn restriction(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let text = |name: &str| {
        let v = field(&form, name).trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    let result: ApiResult<&'static str> = async {
        let (w, done) = match field(&form, "op") {
            "restrict" => {
                let (reason, details) = (text("reason"), text("private_details"));
                if reason.as_ref().is_some_and(|r| r.chars().count() > 1000)
                    || details.as_ref().is_some_and(|d| d.chars().count() > 4000)
                {
                    return Err(ApiError::bad_request(
                        "Keep the reason to 1000 characters and the details to 4000.",
                    ));
                }
                let w = UserWrite {
                    restricted_by_admin: Some(true),
                    restricted_by_admin_reason: Some(reason),
                    restricted_by_admin_private_details: Some(details),
                    ..Default::default()
                };
                (w, "restricted")
            }
            "lift" => {
                let w = UserWrite {
                    restricted_by_admin: Some(false),
                    ..Default::default()
                };
                (w, "unrestricted")
            }
            _ => return Err(ApiError::bad_request("Unknown restriction action.")),
        };
        write::update(&state, &project, user.clone(), w, false).await?;
        Ok(done)
    }
    .await;
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "restriction", &form, result).await
}

async fn save_metadata(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
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
    let result: ApiResult<&'static str> = match parsed {
        (Ok(c), Ok(r), Ok(s)) => {
            let w = UserWrite {
                client_metadata: Some(c),
                client_read_only_metadata: Some(r),
                server_metadata: Some(s),
                ..Default::default()
            };
            write::update(&state, &project, user.clone(), w, false)
                .await
                .map(|_| "metadata")
        }
        (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => Err(ApiError::bad_request(m)),
    };
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "metadata", &form, result).await
}

async fn revoke_session(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id, session_id)): Path<(String, String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let result = crate::auth::sessions::delete(&state, &project.id, &user.id, &session_id)
        .await
        .map(|_| "session-revoked");
    let ctx = (&admin, &project, &user);
    after(&state, &payments, ctx, "sessions", &form, result).await
}

async fn delete(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
    crate::http::extract::RawBody(form): crate::http::extract::RawBody,
) -> Response {
    let (admin, project, user) =
        or_answer!(user_form_context(&state, &headers, &project_id, &user_id, &form).await);
    let result = if field(&form, "confirm") != "yes" {
        Err(ApiError::bad_request(
            "Tick the box to confirm the deletion.",
        ))
    } else {
        users::delete(&state, &project.id, &user.id).await
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/dashboard/projects/{}/users?done=deleted",
            project.id
        ))
        .into_response(),
        Err(e) => {
            let ctx = (&admin, &project, &user);
            after(&state, &payments, ctx, "delete", &form, Err(e)).await
        }
    }
}
