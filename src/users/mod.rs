//! Users of a project: the record, its read shapes (client / server), and its queries.

pub mod list;
pub mod routes;
pub mod write;

pub use routes::routes;

use crate::http::{ApiError, ApiResult};
use serde_json::{json, Value};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub project_id: String,
    pub display_name: Option<String>,
    pub primary_email: Option<String>,
    pub primary_email_verified: bool,
    pub primary_email_auth_enabled: bool,
    pub password_hash: Option<String>,
    pub profile_image_url: Option<String>,
    pub client_metadata: Value,
    pub client_read_only_metadata: Value,
    pub server_metadata: Value,
    pub signed_up_at: i64,
    pub last_active_at: i64,
    pub is_anonymous: bool,
    pub restricted_by_admin: bool,
    pub restricted_by_admin_reason: Option<String>,
    pub restricted_by_admin_private_details: Option<String>,
    pub country_code: Option<String>,
    pub otp_auth_enabled: bool,
    pub totp_secret: Option<String>,
    pub selected_team_id: Option<String>,
    pub risk_scores: Value,
    pub oauth_providers: Value,
    /// Whether the user has a passkey (computed from `passkeys`, never written).
    pub passkey_auth_enabled: bool,
    /// The selected team's row, joined in the same read.
    pub selected_team: Option<TeamSummary>,
}

#[derive(Debug, Clone)]
pub struct TeamSummary {
    pub id: String,
    pub display_name: String,
    pub profile_image_url: Option<String>,
    pub client_metadata: Value,
    pub client_read_only_metadata: Value,
    pub server_metadata: Value,
    pub created_at: i64,
}

/// The user columns, the primary email channel's and the selected team's; used with
/// `user_joins!()` so a user is one indexed read.
#[macro_export]
macro_rules! user_columns {
    () => {
        "u.id, u.project_id, u.display_name, pc.value AS primary_email,
    COALESCE(pc.is_verified, 0) AS primary_email_verified, COALESCE(pc.used_for_auth, 0) AS primary_email_auth_enabled,
    u.password_hash, u.profile_image_url, u.client_metadata, u.client_read_only_metadata,
    u.server_metadata, u.signed_up_at, u.last_active_at, u.is_anonymous, u.restricted_by_admin, u.restricted_by_admin_reason,
    u.restricted_by_admin_private_details, u.country_code, u.otp_auth_enabled, u.totp_secret, u.selected_team_id,
    u.risk_scores, u.oauth_providers, (SELECT COUNT(*) FROM passkeys pk WHERE pk.user_id = u.id) AS passkey_count,
    t.display_name AS team_display_name, t.profile_image_url AS team_profile_image_url,
    t.client_metadata AS team_client_metadata, t.client_read_only_metadata AS team_client_read_only_metadata,
    t.server_metadata AS team_server_metadata, t.created_at AS team_created_at"
    };
}

/// The joins `user_columns!()` reads from, after `users u`.
#[macro_export]
macro_rules! user_joins {
    () => {
        "LEFT JOIN contact_channels pc ON pc.user_id = u.id AND pc.is_primary = 1 AND pc.type = 'email'
  LEFT JOIN teams t ON t.id = u.selected_team_id"
    };
}

pub const SELECT_USER: &str = concat!(
    "SELECT ",
    user_columns!(),
    "\n  FROM users u ",
    user_joins!()
);

pub fn parse_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

impl User {
    pub fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
        let flag =
            |name: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(name)? != 0) };
        let selected_team_id: Option<String> = row.try_get("selected_team_id")?;
        let team_name: Option<String> = row.try_get("team_display_name")?;
        let selected_team = match (&selected_team_id, team_name) {
            (Some(id), Some(display_name)) => Some(TeamSummary {
                id: id.clone(),
                display_name,
                profile_image_url: row.try_get("team_profile_image_url")?,
                client_metadata: parse_json(row.try_get("team_client_metadata")?),
                client_read_only_metadata: parse_json(
                    row.try_get("team_client_read_only_metadata")?,
                ),
                server_metadata: parse_json(row.try_get("team_server_metadata")?),
                created_at: row.try_get("team_created_at")?,
            }),
            _ => None,
        };
        Ok(User {
            id: row.try_get("id")?,
            project_id: row.try_get("project_id")?,
            display_name: row.try_get("display_name")?,
            primary_email: row.try_get("primary_email")?,
            primary_email_verified: flag("primary_email_verified")?,
            primary_email_auth_enabled: flag("primary_email_auth_enabled")?,
            password_hash: row.try_get("password_hash")?,
            profile_image_url: row.try_get("profile_image_url")?,
            client_metadata: parse_json(row.try_get("client_metadata")?),
            client_read_only_metadata: parse_json(row.try_get("client_read_only_metadata")?),
            server_metadata: parse_json(row.try_get("server_metadata")?),
            signed_up_at: row.try_get("signed_up_at")?,
            last_active_at: row.try_get("last_active_at")?,
            is_anonymous: flag("is_anonymous")?,
            restricted_by_admin: flag("restricted_by_admin")?,
            restricted_by_admin_reason: row.try_get("restricted_by_admin_reason")?,
            restricted_by_admin_private_details: row
                .try_get("restricted_by_admin_private_details")?,
            country_code: row.try_get("country_code")?,
            otp_auth_enabled: flag("otp_auth_enabled")?,
            totp_secret: row.try_get("totp_secret")?,
            selected_team_id: selected_team.as_ref().map(|t| t.id.clone()),
            risk_scores: parse_json(row.try_get("risk_scores")?),
            oauth_providers: parse_json(row.try_get("oauth_providers")?),
            passkey_auth_enabled: row.try_get::<i64, _>("passkey_count")? > 0,
            selected_team,
        })
    }

    /// `{type}` of why the user is restricted, or null. Anonymous wins over an unverified
    /// email, which wins over an administrator's restriction.
    pub fn restricted_reason(&self, require_email_verification: bool) -> Value {
        if self.is_anonymous {
            json!({ "type": "anonymous" })
        } else if require_email_verification && !self.primary_email_verified {
            json!({ "type": "email_not_verified" })
        } else if self.restricted_by_admin {
            json!({ "type": "restricted_by_administrator" })
        } else {
            Value::Null
        }
    }

    fn has_password(&self) -> bool {
        self.password_hash.is_some()
    }

    fn oauth_providers_json(&self) -> Value {
        if self.oauth_providers.is_array() {
            self.oauth_providers.clone()
        } else {
            json!([])
        }
    }

    fn team_json(&self, server: bool) -> Value {
        let Some(t) = &self.selected_team else {
            return Value::Null;
        };
        let mut v = json!({
            "id": t.id,
            "display_name": t.display_name,
            "profile_image_url": t.profile_image_url,
            "client_metadata": t.client_metadata,
            "client_read_only_metadata": t.client_read_only_metadata,
        });
        if server {
            v["created_at_millis"] = json!(t.created_at);
            v["server_metadata"] = t.server_metadata.clone();
        }
        v
    }

    pub fn client_json(&self, require_email_verification: bool) -> Value {
        let reason = self.restricted_reason(require_email_verification);
        json!({
            "id": self.id,
            "primary_email": self.primary_email,
            "primary_email_verified": self.primary_email_verified,
            "display_name": self.display_name,
            "client_metadata": self.client_metadata,
            "client_read_only_metadata": self.client_read_only_metadata,
            "profile_image_url": self.profile_image_url,
            "signed_up_at_millis": self.signed_up_at,
            "has_password": self.has_password(),
            "auth_with_email": self.has_password() || self.otp_auth_enabled,
            "oauth_providers": self.oauth_providers_json(),
            "selected_team_id": self.selected_team_id,
            "selected_team": self.team_json(false),
            "requires_totp_mfa": self.totp_secret.is_some(),
            "otp_auth_enabled": self.otp_auth_enabled,
            "passkey_auth_enabled": self.passkey_auth_enabled,
            "is_anonymous": self.is_anonymous,
            "is_restricted": !reason.is_null(),
            "restricted_reason": reason,
            "restricted_by_admin": self.restricted_by_admin,
            "restricted_by_admin_reason": self.restricted_by_admin_reason,
        })
    }

    pub fn server_json(&self, require_email_verification: bool) -> Value {
        let mut v = self.client_json(require_email_verification);
        v["selected_team"] = self.team_json(true);
        v["primary_email_auth_enabled"] = json!(self.primary_email_auth_enabled);
        v["server_metadata"] = self.server_metadata.clone();
        v["last_active_at_millis"] = json!(self.last_active_at);
        v["restricted_by_admin_private_details"] = json!(self.restricted_by_admin_private_details);
        v["country_code"] = json!(self.country_code);
        v["risk_scores"] = if self.risk_scores.is_object() {
            self.risk_scores.clone()
        } else {
            json!({ "sign_up": { "bot": 0, "free_trial_abuse": 0 } })
        };
        v
    }

    pub fn json_for(
        &self,
        access: crate::http::AccessType,
        require_email_verification: bool,
    ) -> Value {
        if access.is_trusted() {
            self.server_json(require_email_verification)
        } else {
            self.client_json(require_email_verification)
        }
    }
}

/// [`find`] inside a transaction (what it has written so far included).
pub async fn find_in(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    user_id: &str,
) -> ApiResult<Option<User>> {
    let sql = format!("{SELECT_USER} WHERE u.project_id = $1 AND u.id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| User::from_row(&r))
        .transpose()
        .map_err(ApiError::from)
}

pub async fn find(db: &sqlx::AnyPool, project_id: &str, user_id: &str) -> ApiResult<Option<User>> {
    let sql = format!("{SELECT_USER} WHERE u.project_id = $1 AND u.id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    row.map(|r| User::from_row(&r))
        .transpose()
        .map_err(ApiError::from)
}

/// Whether the project has this user (one index probe; `find` builds the whole user).
pub async fn exists(db: &sqlx::AnyPool, project_id: &str, user_id: &str) -> ApiResult<bool> {
    if uuid::Uuid::parse_str(user_id).is_err() {
        return Ok(false);
    }
    let row = sqlx::query("SELECT 1 FROM users WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// The project's first user to sign up (the instance's first dashboard admin, in `internal`).
pub async fn first_signed_up(db: &sqlx::AnyPool, project_id: &str) -> ApiResult<Option<User>> {
    let sql =
        format!("{SELECT_USER} WHERE u.project_id = $1 ORDER BY u.signed_up_at, u.id LIMIT 1");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| User::from_row(&r)).transpose()?)
}

/// The user who may sign in with `email` (already normalised), and whether that email is verified.
pub async fn find_by_auth_email(
    db: &sqlx::AnyPool,
    project_id: &str,
    email: &str,
) -> ApiResult<Option<User>> {
    let sql = format!(
        "{SELECT_USER} WHERE u.id = (SELECT user_id FROM contact_channels WHERE project_id = $1 AND type = 'email' AND auth_value = $2)"
    );
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(email)
        .fetch_optional(db)
        .await?;
    row.map(|r| User::from_row(&r))
        .transpose()
        .map_err(ApiError::from)
}

/// How many users a project has.
pub async fn count(db: &sqlx::AnyPool, project_id: &str) -> ApiResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(db)
            .await?,
    )
}

/// All of a project's users, and those signed up since each of two instants (ms since the
/// epoch), counted in one pass.
pub async fn sign_up_counts(
    db: &sqlx::AnyPool,
    project_id: &str,
    since: [i64; 2],
) -> ApiResult<(i64, [i64; 2])> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS total,
            CAST(COALESCE(SUM(CASE WHEN signed_up_at >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS a,
            CAST(COALESCE(SUM(CASE WHEN signed_up_at >= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS b
         FROM users WHERE project_id = $1",
    )
    .bind(project_id)
    .bind(since[0])
    .bind(since[1])
    .fetch_one(db)
    .await?;
    Ok((
        row.try_get("total")?,
        [row.try_get("a")?, row.try_get("b")?],
    ))
}

/// Records activity now (`now` in ms since the epoch), e.g. on a token refresh.
pub async fn touch(db: &sqlx::AnyPool, user_id: &str, now: i64) -> ApiResult<()> {
    sqlx::query("UPDATE users SET last_active_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the user, with the `user.deleted` webhook event (`{id, teams: [{id}]}`, the teams
/// they were in, as the original's) in the same transaction. Answers whether there was one.
pub async fn delete(
    state: &crate::kernel::Kernel,
    project_id: &str,
    user_id: &str,
) -> ApiResult<bool> {
    let mut tx = state.db().begin().await?;
    // A write first (the memberships go with the user anyway): on SQLite a transaction that
    // read first cannot always become a writer later.
    let teams: Vec<String> = sqlx::query_scalar(
        "DELETE FROM team_members WHERE project_id = $1 AND user_id = $2 RETURNING team_id",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    let res = sqlx::query("DELETE FROM users WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    let teams: Vec<Value> = teams.into_iter().map(|id| json!({ "id": id })).collect();
    let data = json!({ "id": user_id, "teams": teams });
    crate::webhooks::emit(&mut tx, project_id, "user.deleted", data).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(true)
}

/// Emails are compared and stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A pragmatic strict check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email.len() <= 256
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

/// The user signed in through `provider_id`'s account `account_id`, if any, and whether that
/// account may sign in.
pub async fn find_by_oauth_account(
    db: &sqlx::AnyPool,
    project_id: &str,
    provider_id: &str,
    account_id: &str,
) -> ApiResult<Option<OAuthAccount>> {
    let sql = format!(
        "SELECT {OAUTH_ACCOUNT_COLUMNS} FROM oauth_accounts WHERE project_id = $1 AND provider_id = $2 AND account_id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(provider_id)
        .bind(account_id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(OAuthAccount::from_row).transpose()
}

/// A user's account at an OAuth provider (`oauth_accounts`).
#[derive(Debug, Clone)]
pub struct OAuthAccount {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    pub account_id: String,
    pub email: Option<String>,
    pub allow_sign_in: bool,
    pub allow_connected_accounts: bool,
}

const OAUTH_ACCOUNT_COLUMNS: &str =
    "id, user_id, provider_id, account_id, email, allow_sign_in, allow_connected_accounts";

impl OAuthAccount {
    fn from_row(r: &sqlx::any::AnyRow) -> ApiResult<OAuthAccount> {
        Ok(OAuthAccount {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            provider_id: r.try_get("provider_id")?,
            account_id: r.try_get("account_id")?,
            email: r.try_get("email")?,
            allow_sign_in: r.try_get::<i64, _>("allow_sign_in")? != 0,
            allow_connected_accounts: r.try_get::<i64, _>("allow_connected_accounts")? != 0,
        })
    }
}

/// A user's OAuth accounts, oldest first.
pub async fn oauth_accounts(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
) -> ApiResult<Vec<OAuthAccount>> {
    let sql = format!(
        "SELECT {OAUTH_ACCOUNT_COLUMNS} FROM oauth_accounts WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(user_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(OAuthAccount::from_row).collect()
}

/// The `oauth_accounts` row behind one entry of a user's `oauth_providers` (the mirror is not
/// rewritten). Keeps the database's error, so a caller can tell a provider account that is
/// connected already (a unique violation).
pub async fn insert_oauth_account(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    user_id: &str,
    provider_id: &str,
    account_id: &str,
    email: Option<&str>,
) -> sqlx::Result<String> {
    let id = crate::crypto::secret::new_uuid();
    sqlx::query(
        "INSERT INTO oauth_accounts (id, project_id, provider_id, account_id, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(provider_id)
    .bind(account_id)
    .bind(user_id)
    .bind(email)
    .bind(crate::store::now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Rewrites the user's `oauth_providers` (the shape the users API shows) from their OAuth
/// accounts, in the caller's transaction.
pub async fn sync_oauth_mirror(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    user_id: &str,
) -> ApiResult<()> {
    let rows = sqlx::query(
        "SELECT provider_id, account_id, email FROM oauth_accounts WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, id",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut providers = Vec::new();
    for r in &rows {
        providers.push(json!({
            "id": r.try_get::<String, _>("provider_id")?,
            "account_id": r.try_get::<String, _>("account_id")?,
            "email": r.try_get::<Option<String>, _>("email")?,
        }));
    }
    sqlx::query("UPDATE users SET oauth_providers = $1 WHERE id = $2 AND project_id = $3")
        .bind(Value::Array(providers).to_string())
        .bind(user_id)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records that `user_id` signs in through `provider_id`'s account `account_id`, in the caller's
/// transaction, and mirrors it into the user's `oauth_providers`. One provider account belongs
/// to one user: a second link fails on the primary key. Returns the account's id.
pub async fn link_oauth_account(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    user_id: &str,
    provider_id: &str,
    account_id: &str,
    email: Option<&str>,
) -> ApiResult<String> {
    let id =
        insert_oauth_account(conn, project_id, user_id, provider_id, account_id, email).await?;
    sync_oauth_mirror(conn, project_id, user_id).await?;
    Ok(id)
}
