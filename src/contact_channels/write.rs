//! Changes to a user's emails, shared by the API (`routes`) and the hosted account page: add,
//! change (value, verified, used for sign-in, primary), remove, and send the verification email.
//! Only one email of a user is primary; one used for auth is unique in its project.

use super::{find, insert, ContactChannel};
use crate::codes;
use crate::http::error::is_unique_violation;
use crate::http::{known, ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::store::flag;
use crate::users;

/// An email to add (`value` already normalized).
pub struct NewEmail {
    pub value: String,
    pub used_for_auth: bool,
    pub is_primary: bool,
    pub is_verified: bool,
}

/// What to change on an email; `None` keeps it. A new value is no longer verified.
#[derive(Default)]
pub struct ChannelChange {
    pub value: Option<String>,
    pub is_verified: Option<bool>,
    pub used_for_auth: Option<bool>,
    pub is_primary: Option<bool>,
}

fn not_found() -> ApiError {
    ApiError::bad_request("Contact channel not found")
}

/// A write's unique-index violations as the API's errors.
fn map_conflicts<T>(r: Result<T, sqlx::Error>, value: &str) -> ApiResult<T> {
    match r {
        Err(e) if is_unique_violation(&e, "contact_channels", "auth_value") => {
            Err(known::contact_channel_already_used(value, false).into())
        }
        Err(e) if is_unique_violation(&e, "contact_channels", "value") => {
            Err(ApiError::bad_request("Contact channel already exists"))
        }
        other => Ok(other?),
    }
}

/// Adds an email to the user. Errors: USER_ID_DOES_NOT_EXIST; CONTACT_CHANNEL_ALREADY_USED_FOR_
/// AUTH_BY_SOMEONE_ELSE for a sign-in email another user signs in with; 400 for an email the
/// user already has.
pub async fn add(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    new: NewEmail,
) -> ApiResult<ContactChannel> {
    if users::find(state.db(), project_id, user_id)
        .await?
        .is_none()
    {
        return Err(known::user_id_does_not_exist(user_id).into());
    }
    let mut tx = state.db().begin().await?;
    if new.is_primary {
        sqlx::query(
            "UPDATE contact_channels SET is_primary = 0 WHERE user_id = $1 AND type = 'email'",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    let inserted = insert(
        &mut tx,
        project_id,
        user_id,
        &new.value,
        new.is_verified,
        new.is_primary,
        new.used_for_auth,
    )
    .await;
    let id = map_conflicts(inserted, &new.value)?;
    tx.commit().await?;
    find(state.db(), project_id, user_id, &id)
        .await?
        .ok_or_else(not_found)
}

/// Changes one of the user's emails (making it primary demotes the others).
/// Errors: 400 "Contact channel not found"; the conflicts of [`add`].
pub async fn change(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    id: &str,
    change: ChannelChange,
) -> ApiResult<ContactChannel> {
    let mut c = find(state.db(), project_id, user_id, id)
        .await?
        .ok_or_else(not_found)?;
    if let Some(v) = change.value {
        if v != c.value {
            c.is_verified = false;
        }
        c.value = v;
    }
    c.is_verified = change.is_verified.unwrap_or(c.is_verified);
    c.used_for_auth = change.used_for_auth.unwrap_or(c.used_for_auth);
    c.is_primary = change.is_primary.unwrap_or(c.is_primary);
    let mut tx = state.db().begin().await?;
    if c.is_primary {
        sqlx::query("UPDATE contact_channels SET is_primary = 0 WHERE user_id = $1 AND type = 'email' AND id <> $2")
            .bind(user_id)
            .bind(&c.id)
            .execute(&mut *tx)
            .await?;
    }
    let updated = sqlx::query("UPDATE contact_channels SET value = $1, is_verified = $2, used_for_auth = $3, auth_value = $4, is_primary = $5 WHERE id = $6")
        .bind(&c.value)
        .bind(flag(c.is_verified))
        .bind(flag(c.used_for_auth))
        .bind(c.used_for_auth.then_some(c.value.as_str()))
        .bind(flag(c.is_primary))
        .bind(&c.id)
        .execute(&mut *tx)
        .await;
    map_conflicts(updated, &c.value)?;
    tx.commit().await?;
    Ok(c)
}

/// Removes one of the user's emails. Errors: 400 "Contact channel not found".
pub async fn remove(state: &Kernel, project_id: &str, user_id: &str, id: &str) -> ApiResult<()> {
    let r = sqlx::query(
        "DELETE FROM contact_channels WHERE project_id = $1 AND user_id = $2 AND id = $3",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(id)
    .execute(state.db())
    .await?;
    if r.rows_affected() == 0 {
        return Err(not_found());
    }
    Ok(())
}

/// Emails a verification link for `channel` to `callback_url` (`ip` counted when a browser
/// asks). Errors: the send limits (429); EMAIL_ALREADY_VERIFIED; REDIRECT_URL_NOT_WHITELISTED.
pub async fn send_verification(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    channel: &ContactChannel,
    callback_url: &str,
) -> ApiResult<()> {
    codes::limit_send(state, ip, &project.id, &channel.value).await?;
    if channel.is_verified {
        return Err(known::known(
            known::KnownCode::EmailAlreadyVerified,
            "The e-mail is already verified.",
            None,
        )
        .into());
    }
    if !project.trusts_link(&state.public_url, callback_url) {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let mut tx = state.db().begin().await?;
    super::queue_verification(
        &mut tx,
        project,
        &channel.user_id,
        &channel.value,
        callback_url,
    )
    .await?;
    tx.commit().await?;
    crate::emails::wake_sender(state);
    Ok(())
}
