//! The outbox: every email is a row written in the same transaction as the event that causes it.
//! The row is also the delivery job (see `sender`), and the API's view of what happened to it.

use super::templates::{self, Rendered, Template};
use crate::crypto::secret::new_uuid;
use crate::http::ApiResult;
use crate::projects::config::EmailConfig;
use crate::projects::Project;
use crate::store::{flag, now_ms};
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

pub const TRANSACTIONAL: &str = "7bb82d33-2f54-4a3d-9d23-82739e0d66ef";
pub const MARKETING: &str = "4f6f8873-3d04-46bd-8bef-18338b1a1b4c";

pub struct NewEmail<'a> {
    pub project: &'a Project,
    pub user_id: Option<&'a str>,
    pub recipient: &'a str,
    pub to: Value,
    pub template: Option<Template>,
    pub variables: Value,
    pub rendered: Rendered,
    pub category_id: &'a str,
}

/// Queues a built-in template to one address.
pub async fn enqueue_template(
    conn: &mut AnyConnection,
    project: &Project,
    user_id: Option<&str>,
    recipient: &str,
    template: Template,
    variables: Value,
) -> ApiResult<String> {
    let rendered = templates::render_for(template, project, &variables);
    let to = match user_id {
        Some(u) => json!({ "type": "user-custom-emails", "user_id": u, "emails": [recipient] }),
        None => json!({ "type": "custom-emails", "emails": [recipient] }),
    };
    enqueue(
        conn,
        NewEmail {
            project,
            user_id,
            recipient,
            to,
            template: Some(template),
            variables,
            rendered,
            category_id: TRANSACTIONAL,
        },
    )
    .await
}

pub async fn enqueue(conn: &mut AnyConnection, e: NewEmail<'_>) -> ApiResult<String> {
    let id = new_uuid();
    let now = now_ms();
    let smtp = match e.project.config.email_config {
        EmailConfig::Standard { .. } => "project",
        EmailConfig::Shared => "instance",
    };
    sqlx::query(
        "INSERT INTO emails (id, project_id, user_id, recipient, to_json, template, variables, subject, html, text_body,
            is_transactional, notification_category_id, smtp, status, created_at, updated_at, scheduled_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'queued', $14, $14, $14, $14)",
    )
    .bind(&id)
    .bind(&e.project.id)
    .bind(e.user_id)
    .bind(e.recipient)
    .bind(e.to.to_string())
    .bind(e.template.map(Template::key))
    .bind(e.variables.to_string())
    .bind(&e.rendered.subject)
    .bind(&e.rendered.html)
    .bind(&e.rendered.text)
    .bind(flag(e.category_id == TRANSACTIONAL))
    .bind(e.category_id)
    .bind(smtp)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Records an email that will not be sent (e.g. no address, or the user unsubscribed).
pub async fn record_skipped(
    conn: &mut AnyConnection,
    e: NewEmail<'_>,
    reason: &str,
) -> ApiResult<String> {
    let id = enqueue(conn, e).await?;
    sqlx::query(
        "UPDATE emails SET status = 'skipped', skipped_at = $1, skipped_reason = $2 WHERE id = $3",
    )
    .bind(now_ms())
    .bind(reason)
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub const OUTBOX_COLUMNS: &str = "id, user_id, to_json, template, variables, subject, html, text_body, is_transactional,
    is_high_priority, notification_category_id, status, created_at, updated_at, scheduled_at, next_attempt_at, attempts,
    attempt_errors, started_sending_at, delivered_at, error_at, server_error, skipped_at, skipped_reason";

fn simple_status(status: &str) -> &'static str {
    match status {
        "sent" | "skipped" => "ok",
        "server-error" => "error",
        _ => "in-progress",
    }
}

/// The original's outbox item shape for one row.
pub fn item_json(r: &sqlx::any::AnyRow) -> ApiResult<Value> {
    let status: String = r.try_get("status")?;
    let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap_or(Value::Null);
    let errors = parse(r.try_get("attempt_errors")?);
    let delivered_at: Option<i64> = r.try_get("delivered_at")?;
    let mut v = json!({
        "id": r.try_get::<String, _>("id")?,
        "created_at_millis": r.try_get::<i64, _>("created_at")?,
        "updated_at_millis": r.try_get::<i64, _>("updated_at")?,
        "tsx_source": "",
        "theme_id": crate::projects::config::DEFAULT_EMAIL_THEME,
        "to": parse(r.try_get("to_json")?),
        "variables": parse(r.try_get("variables")?),
        "skip_deliverability_check": false,
        "scheduled_at_millis": r.try_get::<i64, _>("scheduled_at")?,
        "created_with": "programmatic-call",
        "email_draft_id": null,
        "email_programmatic_call_template_id": r.try_get::<Option<String>, _>("template")?
            .and_then(|k| Template::ALL.into_iter().find(|t| t.key() == k)).map(Template::id),
        "send_retries": (r.try_get::<i64, _>("attempts")? - 1).max(0),
        "next_send_retry_at_millis": if status == "queued" { json!(r.try_get::<i64, _>("next_attempt_at")?) } else { Value::Null },
        "send_attempt_errors": if errors.as_array().is_some_and(|a| !a.is_empty()) { errors } else { Value::Null },
        "status": status,
        "simple_status": simple_status(&status),
        "is_paused": false,
        "has_rendered": true,
        "has_delivered": delivered_at.is_some(),
        "subject": r.try_get::<String, _>("subject")?,
        "html": r.try_get::<String, _>("html")?,
        "text": r.try_get::<String, _>("text_body")?,
        "is_transactional": r.try_get::<i64, _>("is_transactional")? != 0,
        "is_high_priority": r.try_get::<i64, _>("is_high_priority")? != 0,
        "notification_category_id": r.try_get::<String, _>("notification_category_id")?,
        "started_rendering_at_millis": r.try_get::<i64, _>("created_at")?,
        "rendered_at_millis": r.try_get::<i64, _>("created_at")?,
    });
    let optional = [
        ("started_sending_at_millis", "started_sending_at"),
        ("delivered_at_millis", "delivered_at"),
        ("error_at_millis", "error_at"),
        ("skipped_at_millis", "skipped_at"),
    ];
    for (field, column) in optional {
        if let Some(t) = r.try_get::<Option<i64>, _>(column)? {
            v[field] = json!(t);
        }
    }
    if let Some(e) = r.try_get::<Option<String>, _>("server_error")? {
        v["server_error"] = json!(e);
    }
    if let Some(reason) = r.try_get::<Option<String>, _>("skipped_reason")? {
        v["skipped_reason"] = json!(reason);
        v["skipped_details"] = json!({});
    }
    if delivered_at.is_some() {
        v["can_have_delivery_info"] = json!(false);
    }
    Ok(v)
}

/// One email of the outbox as the dashboard lists it.
pub struct OutboxRow {
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
}

/// The project's latest `limit` emails, newest first.
pub async fn recent(db: &sqlx::AnyPool, project_id: &str, limit: i64) -> ApiResult<Vec<OutboxRow>> {
    let rows = sqlx::query("SELECT recipient, subject, status, attempts, server_error FROM emails WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
        .bind(project_id)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            use sqlx::Row;
            Ok(OutboxRow {
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                error: r.try_get("server_error")?,
            })
        })
        .collect()
}
