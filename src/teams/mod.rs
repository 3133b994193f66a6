//! Teams, memberships and member profiles, and the checks that guard them: a client acts on a
//! team only as a member holding the needed permission.

pub mod access;
pub mod invitations;
pub mod members;
pub mod routes;

use crate::http::AccessType;
use crate::http::{known, ApiError, ApiResult};
use crate::permissions;
use crate::projects::Project;
use crate::store::now_ms;
use crate::users::parse_json;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub display_name: String,
    pub profile_image_url: Option<String>,
    pub client_metadata: Value,
    pub client_read_only_metadata: Value,
    pub server_metadata: Value,
    pub created_at: i64,
}

pub const COLUMNS: &str = "id, display_name, profile_image_url, client_metadata, client_read_only_metadata, server_metadata, created_at";

impl Team {
    pub fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<Team> {
        Ok(Team {
            id: r.try_get("id")?,
            display_name: r.try_get("display_name")?,
            profile_image_url: r.try_get("profile_image_url")?,
            client_metadata: parse_json(r.try_get("client_metadata")?),
            client_read_only_metadata: parse_json(r.try_get("client_read_only_metadata")?),
            server_metadata: parse_json(r.try_get("server_metadata")?),
            created_at: r.try_get("created_at")?,
        })
    }

    pub fn json_for(&self, access: AccessType) -> Value {
        let mut v = json!({
            "id": self.id,
            "display_name": self.display_name,
            "profile_image_url": self.profile_image_url,
            "client_metadata": self.client_metadata,
            "client_read_only_metadata": self.client_read_only_metadata,
        });
        if access.is_trusted() {
            v["created_at_millis"] = json!(self.created_at);
            v["server_metadata"] = self.server_metadata.clone();
        }
        v
    }
}

pub async fn find(db: &sqlx::AnyPool, project_id: &str, team_id: &str) -> ApiResult<Option<Team>> {
    if uuid::Uuid::parse_str(team_id).is_err() {
        return Ok(None);
    }
    let sql = format!("SELECT {COLUMNS} FROM teams WHERE project_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(team_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| Team::from_row(&r)).transpose()?)
}

/// Teams whose name contains `query` (or whose id is `query`), newest first, for the dashboard.
pub async fn search(
    db: &sqlx::AnyPool,
    project_id: &str,
    query: &str,
    limit: i64,
) -> ApiResult<Vec<Team>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM teams WHERE project_id = $1 AND ($2 = '' OR id = $2 OR LOWER(display_name) LIKE $3 ESCAPE '\\')
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(query)
        .bind(crate::store::like_pattern(query))
        .bind(limit)
        .fetch_all(db)
        .await?;
    Ok(rows.iter().map(Team::from_row).collect::<Result<_, _>>()?)
}

pub async fn require(db: &sqlx::AnyPool, project_id: &str, team_id: &str) -> ApiResult<Team> {
    find(db, project_id, team_id)
        .await?
        .ok_or_else(|| known::team_not_found(team_id).into())
}

pub fn new_team(display_name: String) -> Team {
    Team {
        id: crate::crypto::secret::new_uuid(),
        display_name,
        profile_image_url: None,
        client_metadata: Value::Null,
        client_read_only_metadata: Value::Null,
        server_metadata: Value::Null,
        created_at: now_ms(),
    }
}

fn json_text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| v.to_string())
}

pub async fn insert(conn: &mut AnyConnection, project_id: &str, t: &Team) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO teams (id, project_id, display_name, profile_image_url, client_metadata, client_read_only_metadata, server_metadata, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&t.id)
    .bind(project_id)
    .bind(&t.display_name)
    .bind(&t.profile_image_url)
    .bind(json_text(&t.client_metadata))
    .bind(json_text(&t.client_read_only_metadata))
    .bind(json_text(&t.server_metadata))
    .bind(t.created_at)
    .execute(&mut *conn)
    .await?;
    let data = t.json_for(crate::http::AccessType::Server);
    crate::webhooks::emit(conn, project_id, "team.created", data).await
}

/// Saves a team's changes, with the `team.updated` webhook event in the same transaction.
pub async fn save(state: &crate::kernel::Kernel, project_id: &str, t: &Team) -> ApiResult<()> {
    let mut tx = state.db().begin().await?;
    sqlx::query(
        "UPDATE teams SET display_name = $1, profile_image_url = $2, client_metadata = $3, client_read_only_metadata = $4, server_metadata = $5
         WHERE id = $6 AND project_id = $7",
    )
    .bind(&t.display_name)
    .bind(&t.profile_image_url)
    .bind(json_text(&t.client_metadata))
    .bind(json_text(&t.client_read_only_metadata))
    .bind(json_text(&t.server_metadata))
    .bind(&t.id)
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    let data = t.json_for(crate::http::AccessType::Server);
    crate::webhooks::emit(&mut tx, project_id, "team.updated", data).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(())
}

/// Adds a member; false when they already were one.
async fn add_member(
    conn: &mut AnyConnection,
    project_id: &str,
    team_id: &str,
    user_id: &str,
) -> ApiResult<bool> {
    let r = sqlx::query(
        "INSERT INTO team_members (project_id, team_id, user_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (team_id, user_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(team_id)
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Adds a member with the project's default permissions for creators or for members; false (and
/// nothing granted) when they already were one.
pub async fn add_member_with_defaults(
    conn: &mut AnyConnection,
    project: &Project,
    team_id: &str,
    user_id: &str,
    is_creator: bool,
) -> ApiResult<bool> {
    if !add_member(conn, &project.id, team_id, user_id).await? {
        return Ok(false);
    }
    let member = json!({ "team_id": team_id, "user_id": user_id });
    crate::webhooks::emit(conn, &project.id, "team_membership.created", member).await?;
    let defaults = if is_creator {
        &project.config.team_creator_default_permissions
    } else {
        &project.config.team_member_default_permissions
    };
    for p in defaults {
        permissions::grant(conn, &project.id, user_id, Some(team_id), &p.id).await?;
        emit_permission(
            conn,
            &project.id,
            "team_permission.created",
            team_id,
            user_id,
            &p.id,
        )
        .await?;
    }
    Ok(true)
}

/// The `team_permission.created` / `.deleted` webhook event (`{id, user_id, team_id}`, the
/// original's team permission read).
pub async fn emit_permission(
    conn: &mut AnyConnection,
    project_id: &str,
    event_type: &str,
    team_id: &str,
    user_id: &str,
    permission_id: &str,
) -> ApiResult<()> {
    let data = json!({ "id": permission_id, "user_id": user_id, "team_id": team_id });
    crate::webhooks::emit(conn, project_id, event_type, data).await
}

pub async fn is_member(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
    user_id: &str,
) -> ApiResult<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM team_members WHERE project_id = $1 AND team_id = $2 AND user_id = $3",
    )
    .bind(project_id)
    .bind(team_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// The user ids of a team's members.
pub async fn member_ids(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
) -> ApiResult<Vec<String>> {
    let rows =
        sqlx::query("SELECT user_id FROM team_members WHERE project_id = $1 AND team_id = $2")
            .bind(project_id)
            .bind(team_id)
            .fetch_all(db)
            .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect::<Result<_, _>>()?)
}

/// A team's members as the dashboard lists them: `(user id, primary email or name or id)`, in
/// the order they joined.
pub async fn member_labels(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
) -> ApiResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT u.id, COALESCE(c.value, u.display_name, u.id) AS label FROM team_members m
         JOIN users u ON u.id = m.user_id
         LEFT JOIN contact_channels c ON c.user_id = u.id AND c.project_id = u.project_id AND c.is_primary = 1
         WHERE m.project_id = $1 AND m.team_id = $2 ORDER BY m.created_at, u.id",
    )
    .bind(project_id)
    .bind(team_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("label")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The teams a user is a member of: `(team id, display name)`, oldest team first.
pub async fn of_user(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
) -> ApiResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT t.id, t.display_name FROM teams t JOIN team_members m ON m.team_id = t.id
         WHERE m.project_id = $1 AND m.user_id = $2 ORDER BY t.created_at",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("display_name")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// A team path/body id must be a UUID.
pub fn check_team_id(team_id: &str) -> ApiResult<()> {
    if uuid::Uuid::parse_str(team_id).is_err() {
        return Err(crate::http::extract::schema_problem(
            "team_id must be a valid UUID",
        ));
    }
    Ok(())
}

pub fn plain_forbidden(message: &str) -> ApiError {
    ApiError::text(axum::http::StatusCode::FORBIDDEN, message)
}

/// The personal team an anonymous user got ("Personal Team") is renamed when the user becomes a
/// real one, as the original's users update does.
pub async fn rename_personal_team(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    user_id: &str,
    name: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE teams SET display_name = $1 WHERE project_id = $2 AND display_name = $3
           AND id IN (SELECT team_id FROM team_members WHERE project_id = $2 AND user_id = $4)",
    )
    .bind(name)
    .bind(project_id)
    .bind(PERSONAL_TEAM_DEFAULT_NAME)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The name of a personal team whose user has neither a name nor an email (an anonymous one).
pub const PERSONAL_TEAM_DEFAULT_NAME: &str = "Personal Team";

/// `"{display name}'s Team"`, else `"{email}'s Team"`, else "Personal Team" (the original's
/// `getPersonalTeamDisplayName`, `apps/backend/src/app/api/latest/users/crud.tsx`).
pub fn personal_team_name(display_name: Option<&str>, primary_email: Option<&str>) -> String {
    match display_name.or(primary_email) {
        Some(n) => format!("{n}'s Team"),
        None => PERSONAL_TEAM_DEFAULT_NAME.to_string(),
    }
}
