//! Creating and updating users: the write shapes (server and client), their validation rules,
//! and the single statement that stores the result.

use super::{is_valid_email, normalize_email, User};
use crate::contact_channels::{self, PrimaryEmail};
use crate::crypto::password::{self, PasswordHasher};
use crate::crypto::secret::new_uuid;
use crate::crypto::secret_box::SecretBox;
use crate::http::extract::nullable;
use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::sign_up_rules::{self, Applicant};
use crate::store::{flag, now_ms};
use serde::Deserialize;
use serde_json::Value;

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 70;

/// Every writable user field; absent fields are left alone. `Some(None)` clears a nullable field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserWrite {
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub profile_image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_read_only_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub server_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub primary_email: Option<Option<String>>,
    pub primary_email_verified: Option<bool>,
    pub primary_email_auth_enabled: Option<bool>,
    pub passkey_auth_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub password: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub otp_auth_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub totp_secret_base64: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub selected_team_id: Option<Option<String>>,
    pub is_anonymous: Option<bool>,
    pub restricted_by_admin: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub restricted_by_admin_reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub restricted_by_admin_private_details: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub country_code: Option<Option<String>>,
    pub risk_scores: Option<Value>,
    pub oauth_providers: Option<Vec<Value>>,
}

/// What a client may change about itself (`PATCH /users/me` with client access).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientUserUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub profile_image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub selected_team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub totp_secret_base64: Option<Option<String>>,
    pub otp_auth_enabled: Option<bool>,
    pub passkey_auth_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub primary_email: Option<Option<String>>,
}

impl From<ClientUserUpdate> for UserWrite {
    fn from(c: ClientUserUpdate) -> Self {
        UserWrite {
            display_name: c.display_name,
            profile_image_url: c.profile_image_url,
            client_metadata: c.client_metadata,
            selected_team_id: c.selected_team_id,
            totp_secret_base64: c.totp_secret_base64,
            otp_auth_enabled: c.otp_auth_enabled,
            passkey_auth_enabled: c.passkey_auth_enabled,
            primary_email: c.primary_email,
            ..Default::default()
        }
    }
}

pub fn check_password_length(password: &str) -> ApiResult<()> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(known::password_too_short(PASSWORD_MIN).into());
    }
    if len > PASSWORD_MAX {
        return Err(known::password_too_long(PASSWORD_MAX).into());
    }
    Ok(())
}

pub fn is_image_data_url(url: &str) -> bool {
    use base64::Engine;
    let Some(rest) = url.strip_prefix("data:image/") else {
        return false;
    };
    let Some((_, data)) = rest.split_once(";base64,") else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .is_ok()
}

fn blank_user(project_id: &str) -> User {
    let now = now_ms();
    User {
        id: new_uuid(),
        project_id: project_id.to_string(),
        display_name: None,
        primary_email: None,
        primary_email_verified: false,
        primary_email_auth_enabled: false,
        password_hash: None,
        profile_image_url: None,
        client_metadata: Value::Null,
        client_read_only_metadata: Value::Null,
        server_metadata: Value::Null,
        signed_up_at: now,
        last_active_at: now,
        is_anonymous: false,
        restricted_by_admin: false,
        restricted_by_admin_reason: None,
        restricted_by_admin_private_details: None,
        country_code: None,
        otp_auth_enabled: false,
        totp_secret: None,
        selected_team_id: None,
        risk_scores: Value::Null,
        oauth_providers: Value::Array(vec![]),
        passkey_auth_enabled: false,
        selected_team: None,
    }
}

/// Applies `w` to `user` after checking every rule; hashes a new password. Returns whether the
/// password changed (which ends the user's sessions).
async fn apply(
    hasher: &PasswordHasher,
    secrets: &SecretBox,
    project: &Project,
    user: &mut User,
    w: UserWrite,
    is_create: bool,
    is_client: bool,
) -> ApiResult<bool> {
    let mut problems = Vec::new();
    if let Some(Some(name)) = &w.display_name {
        if name.chars().count() > 256 {
            problems.push("body.display_name must be at most 256 characters".to_string());
        }
    }
    if let Some(Some(email)) = &w.primary_email {
        if !is_valid_email(email.trim()) {
            problems.push("body.primary_email must be a valid email".into());
        }
    }
    if let Some(Some(p)) = &w.password {
        if p.chars().count() > PASSWORD_MAX {
            problems.push(format!(
                "body.password must be at most {PASSWORD_MAX} characters"
            ));
        }
    }
    if let Some(Some(url)) = &w.profile_image_url {
        if url.len() > 1_000_000 {
            problems.push("body.profile_image_url must be at most 1000000 characters".into());
        }
    }
    if !is_create && w.oauth_providers.is_some() {
        problems.push("body contains unknown properties: oauth_providers".into());
    }
    if is_create && w.selected_team_id.is_some() {
        problems.push("body contains unknown properties: selected_team_id".into());
    }
    if !is_create && w.is_anonymous == Some(true) {
        problems.push("body.is_anonymous can only be set to false".into());
    }
    if let Some(Some(secret)) = &w.totp_secret_base64 {
        use base64::Engine;
        if base64::engine::general_purpose::STANDARD
            .decode(secret)
            .is_err()
        {
            problems.push("body.totp_secret_base64 is not valid base64".into());
        }
    }
    if !problems.is_empty() {
        return Err(crate::http::extract::schema_error(&problems));
    }

    if w.password.as_ref().is_some_and(Option::is_some) && w.password_hash.is_some() {
        return Err(ApiError::bad_request(
            "Cannot set both password and password_hash at the same time.",
        ));
    }
    if w.passkey_auth_enabled == Some(true) {
        return Err(ApiError::bad_request(
            "Cannot manually enable passkey auth, it is enabled iff there is a passkey auth method",
        ));
    }
    if w.otp_auth_enabled == Some(true) && !project.config.magic_link_enabled {
        return Err(ApiError::bad_request("OTP auth not enabled in the project"));
    }
    if is_client {
        if let Some(Some(url)) = &w.profile_image_url {
            if !is_image_data_url(url) {
                return Err(ApiError::bad_request("Invalid profile image URL"));
            }
        }
    }

    // Email and its flags.
    if let Some(email) = w.primary_email {
        let email = email.map(|e| normalize_email(&e));
        if email != user.primary_email {
            user.primary_email_verified = false;
        }
        if email.is_none() {
            user.primary_email_auth_enabled = false;
        }
        user.primary_email = email;
    }
    if let Some(v) = w.primary_email_verified {
        if v && user.primary_email.is_none() {
            return Err(ApiError::bad_request(
                "primary_email_verified cannot be true without primary_email",
            ));
        }
        user.primary_email_verified = v;
    }
    if let Some(v) = w.primary_email_auth_enabled {
        if v && user.primary_email.is_none() {
            return Err(ApiError::bad_request(
                "primary_email_auth_enabled cannot be true without primary_email",
            ));
        }
        user.primary_email_auth_enabled = v;
    }

    // Restriction by an administrator.
    if let Some(v) = w.restricted_by_admin {
        user.restricted_by_admin = v;
        if !v {
            user.restricted_by_admin_reason = None;
            user.restricted_by_admin_private_details = None;
        }
    }
    for (field, value, target) in [
        (
            "restricted_by_admin_reason",
            w.restricted_by_admin_reason,
            &mut user.restricted_by_admin_reason,
        ),
        (
            "restricted_by_admin_private_details",
            w.restricted_by_admin_private_details,
            &mut user.restricted_by_admin_private_details,
        ),
    ] {
        if let Some(value) = value {
            if value.is_some() && !user.restricted_by_admin {
                return Err(ApiError::bad_request(format!(
                    "{field} requires restricted_by_admin=true"
                )));
            }
            *target = value;
        }
    }

    if let Some(name) = w.display_name {
        user.display_name = name.filter(|n| !n.is_empty());
    }
    if let Some(url) = w.profile_image_url {
        user.profile_image_url = url;
    }
    if let Some(v) = w.client_metadata {
        user.client_metadata = v.unwrap_or(Value::Null);
    }
    if let Some(v) = w.client_read_only_metadata {
        user.client_read_only_metadata = v.unwrap_or(Value::Null);
    }
    if let Some(v) = w.server_metadata {
        user.server_metadata = v.unwrap_or(Value::Null);
    }
    if let Some(v) = w.otp_auth_enabled {
        user.otp_auth_enabled = v;
    }
    if let Some(secret) = w.totp_secret_base64 {
        // Kept sealed: whoever reads the row must not be able to compute the user's codes.
        user.totp_secret = secret
            .map(|s| secrets.seal(&s))
            .transpose()
            .map_err(ApiError::Internal)?;
    }
    if let Some(v) = w.is_anonymous {
        user.is_anonymous = v;
    }
    if let Some(v) = w.country_code {
        user.country_code = v;
    }
    if let Some(v) = w.risk_scores {
        user.risk_scores = v;
    }
    if let Some(team) = w.selected_team_id {
        user.selected_team_id = team;
    }
    if let Some(providers) = w.oauth_providers {
        for p in &providers {
            let id = p.get("id").and_then(Value::as_str).unwrap_or("");
            if !project.config.oauth_providers.iter().any(|c| c.id == id) {
                return Err(ApiError::bad_request(format!(
                    "OAuth provider {id} not found"
                )));
            }
        }
        user.oauth_providers = Value::Array(providers);
    }

    // Password last: hashing is the expensive step, done only once everything else is valid.
    let mut password_changed = false;
    if let Some(hash) = w.password_hash {
        if !password::is_supported_hash(&hash) {
            return Err(ApiError::bad_request("Invalid password hash. Make sure it's a supported algorithm in Modular Crypt Format, with costs no higher than argon2 m=65536 t=10 p=4 or bcrypt 14."));
        }
        user.password_hash = Some(hash);
        password_changed = true;
    }
    if let Some(pw) = w.password {
        if !project.config.credential_enabled {
            return Err(ApiError::bad_request(
                "Password auth not enabled in the project",
            ));
        }
        user.password_hash = match pw {
            Some(pw) => {
                check_password_length(&pw)?;
                Some(hasher.hash(pw).await?)
            }
            None => None,
        };
        password_changed = true;
    }
    Ok(password_changed)
}

fn json_text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| v.to_string())
}

/// Checks a sign-up (a new user, or `existing`, an anonymous one, becoming real) against the
/// project's sign-up rules, and marks `w` restricted when a `restrict` rule matched.
/// Errors: SIGN_UP_REJECTED (403).
pub async fn admit(
    state: &Kernel,
    project: &Project,
    who: &Applicant,
    existing: Option<&User>,
    w: &mut UserWrite,
) -> ApiResult<()> {
    let admission = sign_up_rules::admit(state, &project.id, who).await?;
    restrict_by_rule(w, admission.restriction, existing);
    Ok(())
}

/// Marks `w` restricted by an administrator for `restriction` (a sign-up rule's private
/// details), after the private details `existing` already has (as the original joins them).
pub fn restrict_by_rule(w: &mut UserWrite, restriction: Option<String>, existing: Option<&User>) {
    let Some(restriction) = restriction else {
        return;
    };
    let before = w
        .restricted_by_admin_private_details
        .clone()
        .flatten()
        .or_else(|| existing.and_then(|u| u.restricted_by_admin_private_details.clone()));
    w.restricted_by_admin = Some(true);
    w.restricted_by_admin_private_details = Some(Some(match before {
        Some(before) => format!("{before}\n\n{restriction}"),
        None => restriction,
    }));
}

/// Creates a user (and, when the project asks for it, a personal team they select).
pub async fn create(state: &Kernel, project: &Project, w: UserWrite) -> ApiResult<User> {
    let new = prepare(state, project, w).await?;
    let mut tx = state.db().begin().await?;
    let id = create_in(&mut tx, project, new).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    reload(state, project, &id).await
}

/// A new user that passed every rule, its password hashed: ready for [`create_in`].
pub struct NewUser(User);

/// Checks `w` for a new user and hashes its password. Called before any transaction opens, so
/// no connection is held while the password waits for a hashing worker.
/// Errors: the write's validation errors; 503 when the hashing pool is full.
pub async fn prepare(state: &Kernel, project: &Project, w: UserWrite) -> ApiResult<NewUser> {
    let mut user = blank_user(&project.id);
    apply(
        &state.passwords,
        &state.secret_box,
        project,
        &mut user,
        w,
        true,
        false,
    )
    .await?;
    Ok(NewUser(user))
}

/// Inserts a prepared user inside the caller's transaction, so what the sign-up causes (an
/// email, a code) commits or rolls back with it. Returns the new user's id.
pub async fn create_in(
    conn: &mut sqlx::AnyConnection,
    project: &Project,
    NewUser(mut user): NewUser,
) -> ApiResult<String> {
    if project.config.create_team_on_sign_up {
        user.selected_team_id = Some(new_uuid());
    }
    write_row(conn, &user, true).await?;
    write_primary_email(conn, &user).await?;
    for p in user.oauth_providers.as_array().into_iter().flatten() {
        let field = |k: &str| p.get(k).and_then(Value::as_str);
        if let (Some(provider), Some(account)) = (field("id"), field("account_id")) {
            super::insert_oauth_account(
                conn,
                &project.id,
                &user.id,
                provider,
                account,
                field("email"),
            )
            .await?;
        }
    }
    for p in &project.config.user_default_permissions {
        crate::permissions::grant(conn, &project.id, &user.id, None, &p.id).await?;
    }
    if let Some(team_id) = &user.selected_team_id {
        let name = crate::teams::personal_team_name(
            user.display_name.as_deref(),
            user.primary_email.as_deref(),
        );
        let team = crate::teams::Team {
            id: team_id.clone(),
            ..crate::teams::new_team(name)
        };
        crate::teams::insert(conn, &project.id, &team).await?;
        crate::teams::add_member_with_defaults(conn, project, team_id, &user.id, true).await?;
    }
    emit_user(conn, project, "user.created", &user.id).await?;
    Ok(user.id)
}

/// The `user.created` / `user.updated` webhook event: the user as the server API reads them,
/// inside the transaction that wrote them. Answers that user.
async fn emit_user(
    conn: &mut sqlx::AnyConnection,
    project: &Project,
    event_type: &str,
    user_id: &str,
) -> ApiResult<User> {
    let user = super::find_in(conn, &project.id, user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let data = user.server_json(project.config.require_email_verification);
    crate::webhooks::emit(conn, &project.id, event_type, data).await?;
    Ok(user)
}

pub async fn reload(state: &Kernel, project: &Project, id: &str) -> ApiResult<User> {
    super::find(state.db(), &project.id, id)
        .await?
        .ok_or_else(|| known::user_not_found().into())
}

/// Updates an existing user; a changed password ends all their sessions in the same transaction.
pub async fn update(
    state: &Kernel,
    project: &Project,
    mut user: User,
    w: UserWrite,
    is_client: bool,
) -> ApiResult<User> {
    let team_changed = w
        .selected_team_id
        .as_ref()
        .is_some_and(|t| *t != user.selected_team_id);
    let email_before = primary_email(&user);
    let was_anonymous = user.is_anonymous;
    // `passkey_auth_enabled: false` is how the original removes a user's passkeys.
    let drop_passkeys = w.passkey_auth_enabled == Some(false);
    let password_changed = apply(
        &state.passwords,
        &state.secret_box,
        project,
        &mut user,
        w,
        false,
        is_client,
    )
    .await?;
    if team_changed {
        if let Some(team_id) = &user.selected_team_id {
            if !crate::teams::is_member(state.db(), &project.id, team_id, &user.id).await? {
                return Err(known::team_membership_not_found(team_id, &user.id).into());
            }
        }
    }
    let mut tx = state.db().begin().await?;
    write_row(&mut tx, &user, false).await?;
    if primary_email(&user) != email_before {
        write_primary_email(&mut tx, &user).await?;
    }
    if password_changed {
        crate::auth::sessions::end_all_in(&mut tx, &user.id).await?;
    }
    if was_anonymous && !user.is_anonymous {
        let name = crate::teams::personal_team_name(
            user.display_name.as_deref(),
            user.primary_email.as_deref(),
        );
        crate::teams::rename_personal_team(&mut tx, &project.id, &user.id, &name).await?;
    }
    if drop_passkeys {
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
    }
    // Read once, in the transaction: the event's payload and the answer are the same user.
    let updated = emit_user(&mut tx, project, "user.updated", &user.id).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(updated)
}

fn primary_email(user: &User) -> Option<PrimaryEmail> {
    user.primary_email.as_ref().map(|value| PrimaryEmail {
        value: value.clone(),
        verified: user.primary_email_verified,
        used_for_auth: user.primary_email_auth_enabled,
    })
}

/// Stores the user's primary email in its contact channel; a taken auth email is a conflict.
async fn write_primary_email(conn: &mut sqlx::AnyConnection, user: &User) -> ApiResult<()> {
    let primary = primary_email(user);
    let result =
        contact_channels::set_primary(conn, &user.project_id, &user.id, primary.as_ref()).await;
    contact_channels::on_auth_conflict(result, || {
        known::user_email_already_exists(user.primary_email.as_deref().unwrap_or_default(), false)
            .into()
    })
}

async fn write_row(conn: &mut sqlx::AnyConnection, user: &User, is_insert: bool) -> ApiResult<()> {
    let sql = if is_insert {
        "INSERT INTO users (display_name, password_hash, profile_image_url, client_metadata, client_read_only_metadata,
            server_metadata, is_anonymous, restricted_by_admin, restricted_by_admin_reason, restricted_by_admin_private_details,
            country_code, otp_auth_enabled, totp_secret, selected_team_id, risk_scores, oauth_providers, id, project_id,
            signed_up_at, last_active_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    } else {
        "UPDATE users SET display_name = $1, password_hash = $2, profile_image_url = $3, client_metadata = $4,
            client_read_only_metadata = $5, server_metadata = $6, is_anonymous = $7, restricted_by_admin = $8,
            restricted_by_admin_reason = $9, restricted_by_admin_private_details = $10, country_code = $11,
            otp_auth_enabled = $12, totp_secret = $13, selected_team_id = $14, risk_scores = $15, oauth_providers = $16
         WHERE id = $17 AND project_id = $18"
    };
    let query = sqlx::query(sql)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&user.profile_image_url)
        .bind(json_text(&user.client_metadata))
        .bind(json_text(&user.client_read_only_metadata))
        .bind(json_text(&user.server_metadata))
        .bind(flag(user.is_anonymous))
        .bind(flag(user.restricted_by_admin))
        .bind(&user.restricted_by_admin_reason)
        .bind(&user.restricted_by_admin_private_details)
        .bind(&user.country_code)
        .bind(flag(user.otp_auth_enabled))
        .bind(&user.totp_secret)
        .bind(&user.selected_team_id)
        .bind(json_text(&user.risk_scores))
        .bind(user.oauth_providers.to_string())
        .bind(&user.id)
        .bind(&user.project_id);
    let query = if is_insert {
        query.bind(user.signed_up_at).bind(user.last_active_at)
    } else {
        query
    };
    query.execute(&mut *conn).await?;
    Ok(())
}
