//! Contact channels: a user's email addresses. The primary one is the user's `primary_email`;
//! one used for auth signs its user in and is unique per project.

pub mod routes;
pub mod write;

use crate::codes::{self, CodeType};
use crate::crypto::secret::new_uuid;
use crate::http::error::OnConstraint;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::store::{flag, now_ms};
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct ContactChannel {
    pub id: String,
    pub user_id: String,
    pub value: String,
    pub is_verified: bool,
    pub is_primary: bool,
    pub used_for_auth: bool,
}

/// The primary email of each of `user_ids` that has one, in one read: `(user_id, email)`.
pub async fn primary_emails(
    conn: &mut AnyConnection,
    project_id: &str,
    user_ids: &[String],
) -> ApiResult<Vec<(String, String)>> {
    if user_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT user_id, value FROM contact_channels
         WHERE project_id = $1 AND type = 'email' AND is_primary = 1 AND user_id IN ({})
         ORDER BY user_id",
        crate::store::placeholders(2, user_ids.len())
    );
    let mut query = sqlx::query(&sql).bind(project_id);
    for id in user_ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("user_id")?, r.try_get("value")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

impl ContactChannel {
    fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ContactChannel> {
        Ok(ContactChannel {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            value: r.try_get("value")?,
            is_verified: r.try_get::<i64, _>("is_verified")? != 0,
            is_primary: r.try_get::<i64, _>("is_primary")? != 0,
            used_for_auth: r.try_get::<i64, _>("used_for_auth")? != 0,
        })
    }

    pub fn json(&self) -> Value {
        json!({
            "user_id": self.user_id, "id": self.id, "value": self.value, "type": "email",
            "used_for_auth": self.used_for_auth, "is_verified": self.is_verified, "is_primary": self.is_primary,
        })
    }
}

const COLUMNS: &str = "id, user_id, value, is_verified, is_primary, used_for_auth";

/// The primary email's state as the users API sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryEmail {
    pub value: String,
    pub verified: bool,
    pub used_for_auth: bool,
}

/// Maps the auth-uniqueness index to the caller's error.
pub fn on_auth_conflict<T>(
    r: Result<T, sqlx::Error>,
    err: impl FnOnce() -> ApiError,
) -> ApiResult<T> {
    r.on_unique("contact_channels", "auth_value", err)
}

/// Makes `primary` the user's primary email: demotes the old one, then promotes the user's channel
/// with that value or creates it. `None` only demotes.
pub async fn set_primary(
    conn: &mut AnyConnection,
    project_id: &str,
    user_id: &str,
    primary: Option<&PrimaryEmail>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE contact_channels SET is_primary = 0 WHERE user_id = $1 AND type = 'email' AND is_primary = 1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let Some(p) = primary else { return Ok(()) };
    let auth_value = p.used_for_auth.then_some(p.value.as_str());
    let promoted = sqlx::query(
        "UPDATE contact_channels SET is_primary = 1, is_verified = $1, used_for_auth = $2, auth_value = $3
         WHERE user_id = $4 AND type = 'email' AND value = $5",
    )
    .bind(flag(p.verified))
    .bind(flag(p.used_for_auth))
    .bind(auth_value)
    .bind(user_id)
    .bind(&p.value)
    .execute(&mut *conn)
    .await?;
    if promoted.rows_affected() == 0 {
        insert(
            conn,
            project_id,
            user_id,
            &p.value,
            p.verified,
            true,
            p.used_for_auth,
        )
        .await?;
    }
    Ok(())
}

pub async fn insert(
    conn: &mut AnyConnection,
    project_id: &str,
    user_id: &str,
    value: &str,
    is_verified: bool,
    is_primary: bool,
    used_for_auth: bool,
) -> sqlx::Result<String> {
    let id = new_uuid();
    sqlx::query(
        "INSERT INTO contact_channels (id, project_id, user_id, type, value, is_verified, is_primary, used_for_auth, auth_value, created_at)
         VALUES ($1, $2, $3, 'email', $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(user_id)
    .bind(value)
    .bind(flag(is_verified))
    .bind(flag(is_primary))
    .bind(flag(used_for_auth))
    .bind(used_for_auth.then_some(value))
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn find(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
    id: &str,
) -> ApiResult<Option<ContactChannel>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM contact_channels WHERE project_id = $1 AND user_id = $2 AND id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(user_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| ContactChannel::from_row(&r)).transpose()?)
}

pub async fn find_by_value(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
    value: &str,
) -> ApiResult<Option<ContactChannel>> {
    let sql = format!("SELECT {COLUMNS} FROM contact_channels WHERE project_id = $1 AND user_id = $2 AND type = 'email' AND value = $3");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(user_id)
        .bind(value)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| ContactChannel::from_row(&r)).transpose()?)
}

/// The channel used for auth with `value` in the project, if any.
pub async fn find_auth(
    db: &sqlx::AnyPool,
    project_id: &str,
    value: &str,
) -> ApiResult<Option<ContactChannel>> {
    let sql = format!("SELECT {COLUMNS} FROM contact_channels WHERE project_id = $1 AND type = 'email' AND auth_value = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(value)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| ContactChannel::from_row(&r)).transpose()?)
}

pub async fn list(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: Option<&str>,
    id: Option<&str>,
) -> ApiResult<Vec<ContactChannel>> {
    let mut sql = format!("SELECT {COLUMNS} FROM contact_channels WHERE project_id = $1");
    let mut binds = vec![project_id];
    crate::store::and_equal(&mut sql, &mut binds, &[("user_id", user_id), ("id", id)]);
    sql.push_str(" ORDER BY created_at, id");
    let rows = crate::store::bind_all(&sql, &binds).fetch_all(db).await?;
    Ok(rows
        .iter()
        .map(ContactChannel::from_row)
        .collect::<sqlx::Result<_>>()?)
}

pub async fn mark_verified(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
    value: &str,
) -> ApiResult<bool> {
    let r = sqlx::query("UPDATE contact_channels SET is_verified = 1 WHERE project_id = $1 AND user_id = $2 AND type = 'email' AND value = $3")
        .bind(project_id)
        .bind(user_id)
        .bind(value)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Queues the verification email for `value` (code and email in the caller's transaction).
pub async fn queue_verification(
    conn: &mut AnyConnection,
    project: &crate::projects::Project,
    user_id: &str,
    value: &str,
    callback_url: &str,
) -> ApiResult<()> {
    use crate::codes::{self, CodeType};
    use crate::emails::{outbox, templates::Template};
    let code = codes::create(
        conn,
        &project.id,
        CodeType::ContactChannelVerification,
        json!({ "email": value }),
        json!({ "user_id": user_id }),
        Some(callback_url),
        codes::DEFAULT_TTL_MS,
    )
    .await?;
    let link = codes::link(callback_url, &code);
    outbox::enqueue_template(
        conn,
        project,
        Some(user_id),
        value,
        Template::EmailVerification,
        json!({ "emailVerificationLink": link }),
    )
    .await?;
    Ok(())
}

/// Verifies the email a verification code was sent for, spending the code; `ip` is counted
/// against the per-IP code limit when the caller is a browser. Errors: the code's errors
/// (not found, expired, used, too many attempts); text 400 when the channel was deleted since.
pub async fn verify_with_code(
    state: &Kernel,
    ip: Option<&crate::http::ClientIp>,
    project_id: &str,
    code: &str,
) -> ApiResult<()> {
    let checked = codes::check(
        state,
        ip,
        project_id,
        CodeType::ContactChannelVerification,
        code,
        true,
    )
    .await?;
    let (Some(user_id), Some(value)) = (
        checked.data["user_id"].as_str(),
        checked.method["email"].as_str(),
    ) else {
        return Err(codes::not_found().into());
    };
    if !mark_verified(state.db(), project_id, user_id, value).await? {
        return Err(ApiError::bad_request(
            "Contact channel not found. Was your contact channel deleted?",
        ));
    }
    Ok(())
}
