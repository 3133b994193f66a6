//! `emails/send-email`, the outbox (`emails/outbox`), and unsubscribe links.

use super::outbox::{self, NewEmail, MARKETING, TRANSACTIONAL};
use super::templates::{self, Rendered, Template};
use crate::auth::context::{ApiState, RequestCtx, ADMIN, TRUSTED};
use crate::codes::{self, CodeType};
use crate::http::extract::schema_problem;
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::http::{json_ok, known, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::projects::config::EmailConfig;
use crate::users;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/emails/send-email", post(send_email))
        .api_route("/internal/send-test-email", post(send_test_email))
        .api_route(
            "/internal/send-sign-in-invitation",
            post(send_sign_in_invitation),
        )
        .api_route("/emails/outbox", get(list_outbox))
        .api_route("/emails/outbox/{id}", get(get_outbox))
        .api_route("/emails/unsubscribe-link", get(unsubscribe))
        .api_route(
            "/emails/notification-preference/{user_id}",
            get(list_preferences),
        )
        .api_route(
            "/emails/notification-preference/{user_id}/{category_id}",
            aide::axum::routing::patch(update_preference),
        )
}

/// The two fixed categories: (id, name, can be disabled).
const CATEGORIES: [(&str, &str, bool); 2] = [
    (TRANSACTIONAL, "Transactional", false),
    (MARKETING, "Marketing", true),
];

/// The user a preference request is about; clients only for themselves.
fn preference_user<'a>(
    auth: &'a crate::auth::context::Auth,
    user_id: &'a str,
) -> ApiResult<&'a str> {
    if auth.access_type == crate::http::AccessType::Client {
        let me = auth
            .user_id()
            .ok_or_else(known::user_authentication_required)?;
        let id = auth.resolve_user_id(user_id)?;
        if id != me {
            return Err(ApiError::text(
                StatusCode::FORBIDDEN,
                "Clients can only manage their own notification preferences.",
            ));
        }
        return Ok(id);
    }
    auth.resolve_user_id(user_id)
}

async fn preference_json(
    state: &Kernel,
    user_id: &str,
    (id, name, can_disable): (&str, &str, bool),
) -> ApiResult<Value> {
    let enabled = !can_disable || category_enabled(state, user_id, id).await?;
    Ok(
        json!({ "notification_category_id": id, "notification_category_name": name, "enabled": enabled, "can_disable": can_disable }),
    )
}

async fn list_preferences(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(crate::auth::context::ANY)?;
    let user_id = preference_user(auth, &user_id)?.to_string();
    users::find(state.db(), auth.pid(), &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let items = preferences(&state, &user_id).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// The user's preference for each notification category, in the API's shape
/// (`notification_category_id`, `_name`, `enabled`, `can_disable`).
pub async fn preferences(state: &Kernel, user_id: &str) -> ApiResult<Vec<Value>> {
    let mut items = Vec::new();
    for c in CATEGORIES {
        items.push(preference_json(state, user_id, c).await?);
    }
    Ok(items)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PreferenceUpdate {
    enabled: bool,
}

async fn update_preference(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, category_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PreferenceUpdate>,
) -> ApiResult<Response> {
    let auth = ctx.require(crate::auth::context::ANY)?;
    let user_id = preference_user(auth, &user_id)?.to_string();
    users::find(state.db(), auth.pid(), &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let changed =
        change_preference(&state, auth.pid(), &user_id, &category_id, body.enabled).await?;
    Ok(json_ok(changed))
}

/// Turns a notification category on or off for the user; answers its new preference.
/// Errors: 404 for an unknown category, 400 for turning off one that cannot be (transactional).
pub async fn change_preference(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    category_id: &str,
    enabled: bool,
) -> ApiResult<Value> {
    let category = CATEGORIES
        .into_iter()
        .find(|(id, _, _)| *id == category_id)
        .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "Notification category not found"))?;
    if !category.2 && !enabled {
        return Err(ApiError::bad_request(
            "This notification category cannot be disabled.",
        ));
    }
    set_preference(state, project_id, user_id, category.0, enabled).await?;
    preference_json(state, user_id, category).await
}

async fn set_preference(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    category_id: &str,
    enabled: bool,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO notification_preferences (project_id, user_id, category_id, enabled) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, category_id) DO UPDATE SET enabled = $4",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(category_id)
    .bind(enabled as i64)
    .execute(state.db())
    .await?;
    Ok(())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendEmail {
    user_ids: Option<Vec<String>>,
    all_users: Option<bool>,
    subject: Option<String>,
    notification_category_name: Option<String>,
    #[allow(dead_code)]
    theme_id: Option<Value>,
    is_high_priority: Option<bool>,
    #[allow(dead_code)]
    scheduled_at_millis: Option<i64>,
    html: Option<String>,
    template_id: Option<String>,
    variables: Option<Value>,
    draft_id: Option<String>,
}

const UNSUBSCRIBE_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

async fn send_email(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<SendEmail>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let project = &auth.project;
    if body.user_ids.is_some() == (body.all_users == Some(true)) {
        return Err(schema_problem(
            "Exactly one of user_ids or all_users must be provided",
        ));
    }
    let content_forms = [
        body.html.is_some(),
        body.template_id.is_some(),
        body.draft_id.is_some(),
    ];
    if content_forms.iter().filter(|f| **f).count() != 1 {
        return Err(schema_problem(
            "Exactly one of html, template_id or draft_id must be provided",
        ));
    }
    if matches!(project.config.email_config, EmailConfig::Shared) {
        return Err(known_requires_custom_email_server().into());
    }
    let category = match body.notification_category_name.as_deref() {
        None | Some("Transactional") => TRANSACTIONAL,
        Some("Marketing") => MARKETING,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Notification category not found with given name",
            ))
        }
    };
    if body.draft_id.is_some() {
        return Err(ApiError::bad_request("No draft found with given draft_id"));
    }
    let template = match &body.template_id {
        Some(id) => Some(
            Template::by_id(id)
                .ok_or_else(|| ApiError::bad_request("No template found with given template_id"))?,
        ),
        None => None,
    };
    let user_ids: Vec<String> = match &body.user_ids {
        Some(ids) => ids.clone(),
        None => sqlx::query("SELECT id FROM users WHERE project_id = $1 ORDER BY signed_up_at, id")
            .bind(&project.id)
            .fetch_all(state.db())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?,
    };
    // Every recipient must exist before anything is queued.
    let mut recipients = Vec::with_capacity(user_ids.len());
    for id in &user_ids {
        let user = match uuid::Uuid::parse_str(id) {
            Ok(_) => users::find(state.db(), &project.id, id).await?,
            Err(_) => None,
        };
        recipients.push(user.ok_or_else(|| known::user_id_does_not_exist(id))?);
    }
    let variables = body.variables.clone().unwrap_or(json!({}));
    let mut tx = state.db().begin().await?;
    for user in &recipients {
        let mut rendered = match template {
            Some(t) => templates::render_for(t, project, &variables),
            None => {
                let html = body.html.clone().unwrap_or_default();
                Rendered {
                    subject: String::new(),
                    text: html_to_text(&html),
                    html,
                }
            }
        };
        if let Some(subject) = &body.subject {
            rendered.subject = subject.clone();
        }
        let unsubscribed =
            category == MARKETING && !category_enabled(&state, &user.id, category).await?;
        if category == MARKETING && !unsubscribed {
            let code = codes::create(
                &mut tx,
                &project.id,
                CodeType::OneTimePassword,
                json!({}),
                json!({ "user_id": user.id, "notification_category_id": category }),
                None,
                UNSUBSCRIBE_TTL_MS,
            )
            .await?;
            let link = format!(
                "{}/api/v1/emails/unsubscribe-link?code={code}",
                state.public_url
            );
            rendered.html.push_str(&format!(
                "<p style=\"font-size:12px;color:#6b7280\"><a href=\"{}\">Unsubscribe</a></p>",
                templates::escape(&link)
            ));
            rendered
                .text
                .push_str(&format!("\n\nUnsubscribe: {link}\n"));
        }
        let recipient = user.primary_email.clone().unwrap_or_default();
        let email = NewEmail {
            project,
            user_id: Some(&user.id),
            recipient: &recipient,
            to: json!({ "type": "user-primary-email", "user_id": user.id }),
            template,
            variables: variables.clone(),
            rendered,
            category_id: category,
        };
        if user.primary_email.is_none() {
            outbox::record_skipped(&mut tx, email, "USER_HAS_NO_PRIMARY_EMAIL").await?;
        } else if unsubscribed {
            outbox::record_skipped(&mut tx, email, "USER_UNSUBSCRIBED").await?;
        } else {
            let id = outbox::enqueue(&mut tx, email).await?;
            if body.is_high_priority == Some(true) {
                sqlx::query("UPDATE emails SET is_high_priority = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    crate::emails::wake_sender(&state);
    let results: Vec<Value> = recipients
        .iter()
        .map(|u| json!({ "user_id": u.id }))
        .collect();
    Ok(json_ok(json!({ "results": results })))
}

fn known_requires_custom_email_server() -> crate::http::error::KnownError {
    known::known(KnownCode::RequiresCustomEmailServer, "This action requires a custom SMTP server. Please edit your email server configuration and try again.", None)
}

/// A plain-text alternative for caller-supplied HTML: tags dropped, entities for the basics decoded.
fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

async fn category_enabled(state: &Kernel, user_id: &str, category: &str) -> ApiResult<bool> {
    let row = sqlx::query(
        "SELECT enabled FROM notification_preferences WHERE user_id = $1 AND category_id = $2",
    )
    .bind(user_id)
    .bind(category)
    .fetch_optional(state.db())
    .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("enabled")? != 0,
        None => true,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    status: Option<String>,
    simple_status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list_outbox(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 100 => return Err(ApiError::bad_request("Limit cannot exceed 100")),
            Ok(n) if n >= 1 => n,
            _ => return Err(ApiError::bad_request("Invalid limit parameter")),
        },
    };
    let statuses: Vec<&str> =
        match (q.status.as_deref(), q.simple_status.as_deref()) {
            (Some(s), _) => vec![s],
            (None, Some("ok")) => vec!["sent", "skipped"],
            (None, Some("error")) => vec!["server-error"],
            (None, Some("in-progress")) => vec!["queued", "sending"],
            (None, Some(_)) => return Err(schema_problem(
                "query.simple_status must be one of the following values: in-progress, ok, error",
            )),
            (None, None) => vec![],
        };
    let mut sql = format!(
        "SELECT {} FROM emails WHERE project_id = $1",
        outbox::OUTBOX_COLUMNS
    );
    let mut binds = vec![auth.pid().to_string()];
    if !statuses.is_empty() {
        let placeholders: Vec<String> = statuses
            .iter()
            .map(|s| {
                binds.push(s.to_string());
                format!("${}", binds.len())
            })
            .collect();
        sql.push_str(&format!(" AND status IN ({})", placeholders.join(", ")));
    }
    if let Some(cursor) = &q.cursor {
        binds.push(cursor.clone());
        let p = binds.len();
        sql.push_str(&format!(" AND (created_at, id) <= (SELECT created_at, id FROM emails WHERE id = ${p} AND project_id = $1)"));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT {}",
        limit + 1
    ));
    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(state.db()).await?;
    let mut items = rows
        .iter()
        .map(outbox::item_json)
        .collect::<ApiResult<Vec<_>>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.pop().map(|i| i["id"].clone())
    } else {
        None
    };
    Ok(json_ok(
        json!({ "items": items, "is_paginated": true, "pagination": { "next_cursor": next_cursor } }),
    ))
}

async fn get_outbox(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let sql = format!(
        "SELECT {} FROM emails WHERE project_id = $1 AND id = $2",
        outbox::OUTBOX_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(auth.pid())
        .bind(&id)
        .fetch_optional(state.db())
        .await?;
    match row {
        Some(r) => Ok(json_ok(outbox::item_json(&r)?)),
        None => Err(ApiError::text(StatusCode::NOT_FOUND, "Email not found")),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct UnsubscribeQuery {
    code: Option<String>,
}

/// Opened from an email, so it answers with a small HTML page rather than JSON.
async fn unsubscribe(
    ip: ClientIp,
    State(state): State<ApiState>,
    Query(q): Query<UnsubscribeQuery>,
) -> ApiResult<Response> {
    let code = q
        .code
        .filter(|c| c.len() == codes::CODE_LEN)
        .ok_or_else(|| ApiError::bad_request("Invalid code"))?;
    let row = sqlx::query("SELECT project_id FROM verification_codes WHERE code_hash = $1")
        .bind(crate::crypto::secret::sha256_hex(
            &code.to_ascii_lowercase(),
        ))
        .fetch_optional(state.db())
        .await?
        .ok_or_else(codes::not_found)?;
    let project_id: String = row.try_get("project_id")?;
    let checked = match codes::check(
        &state,
        Some(&ip),
        &project_id,
        CodeType::OneTimePassword,
        &code,
        true,
    )
    .await
    {
        Ok(c) => c,
        Err(ApiError::Known(k)) if k.code == KnownCode::VerificationCodeAlreadyUsed => {
            return Ok(
                Html("<p>You have already unsubscribed from this notification group</p>")
                    .into_response(),
            );
        }
        Err(e) => return Err(e),
    };
    let (Some(user_id), Some(category)) = (
        checked.data["user_id"].as_str(),
        checked.data["notification_category_id"].as_str(),
    ) else {
        return Err(codes::not_found().into());
    };
    set_preference(&state, &project_id, user_id, category, false).await?;
    Ok(Html("<p>Successfully unsubscribed from notification group</p>").into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendTestEmail {
    recipient_email: String,
    email_config: TestServerConfig,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TestServerConfig {
    host: String,
    port: u16,
    username: String,
    password: String,
    sender_name: String,
    sender_email: String,
}

/// `POST /internal/send-test-email`: tries an SMTP server before it is saved; answers
/// `{success, error_message?}` (200 either way, as the original).
async fn send_test_email(
    ctx: RequestCtx,
    JsonBody(body): JsonBody<SendTestEmail>,
) -> ApiResult<Response> {
    ctx.require(ADMIN)?;
    let mut problems = Vec::new();
    for (name, value) in [
        ("recipient_email", &body.recipient_email),
        ("email_config.sender_email", &body.email_config.sender_email),
    ] {
        if !users::is_valid_email(value) {
            problems.push(format!("body.{name} must be a valid email"));
        }
    }
    if !problems.is_empty() {
        return Err(crate::http::extract::schema_error(&problems));
    }
    let c = &body.email_config;
    let server = super::sender::SmtpServer {
        host: &c.host,
        port: c.port,
        username: &c.username,
        password: &c.password,
        sender_name: &c.sender_name,
        sender_email: &c.sender_email,
    };
    Ok(json_ok(
        match super::sender::send_test_email(&server, &body.recipient_email).await {
            Ok(()) => json!({ "success": true }),
            Err(message) => json!({ "success": false, "error_message": message }),
        },
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SignInInvitation {
    email: String,
    /// Where the email's button leads: a trusted URL of the project.
    callback_url: String,
}

/// `POST /internal/send-sign-in-invitation` (server or admin): emails an invitation to sign in
/// to the project, its button leading to `callback_url` (the original's route of that name).
async fn send_sign_in_invitation(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SignInInvitation>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let email = users::normalize_email(&body.email);
    if !users::is_valid_email(&email) {
        return Err(schema_problem("body.email must be a valid email"));
    }
    if !auth
        .project
        .trusts_link(&state.public_url, &body.callback_url)
    {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    codes::limit_send(&state, auth.limited_ip(&ip), auth.pid(), &email).await?;
    let mut conn = state.db().acquire().await?;
    outbox::enqueue_template(
        &mut conn,
        &auth.project,
        None,
        &email,
        Template::SignInInvitation,
        json!({ "signInInvitationLink": body.callback_url, "teamDisplayName": auth.project.display_name }),
    )
    .await?;
    crate::emails::wake_sender(&state);
    Ok(json_ok(json!({ "success": true })))
}
