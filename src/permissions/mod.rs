//! RBAC: permission definitions (custom ones per project, plus the built-in `$…` team
//! permissions), direct grants to users (project-wide or per team), and the recursive closure
//! that decides what a user holds.

pub mod routes;

use crate::http::error::KnownError;
use crate::http::known::known;
use crate::http::known::KnownCode;
use crate::http::ApiResult;
use crate::store::now_ms;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Team,
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Team => "team",
            Scope::Project => "project",
        }
    }
}

pub const SYSTEM_TEAM_PERMISSIONS: [(&str, &str); 6] = [
    ("$update_team", "Update the team information"),
    ("$delete_team", "Delete the team"),
    (
        "$read_members",
        "Read and list the other members of the team",
    ),
    ("$remove_members", "Remove other members from the team"),
    ("$invite_members", "Invite other users to the team"),
    (
        "$manage_api_keys",
        "Create and manage API keys for the team",
    ),
];

pub const UPDATE_TEAM: &str = "$update_team";
pub const DELETE_TEAM: &str = "$delete_team";
pub const READ_MEMBERS: &str = "$read_members";
pub const REMOVE_MEMBERS: &str = "$remove_members";
pub const INVITE_MEMBERS: &str = "$invite_members";
pub const MANAGE_API_KEYS: &str = "$manage_api_keys";

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub id: String,
    pub scope: Scope,
    pub description: Option<String>,
    pub contained: Vec<String>,
}

impl Definition {
    pub fn json(&self) -> Value {
        let mut contained = self.contained.clone();
        contained.sort();
        let mut v = json!({ "id": self.id, "contained_permission_ids": contained });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }
}

/// Every definition of a project, system ones included, by id.
pub struct Catalog(pub BTreeMap<String, Definition>);

impl Catalog {
    pub async fn load(db: &sqlx::AnyPool, project_id: &str) -> ApiResult<Catalog> {
        let rows = sqlx::query("SELECT id, scope, description, contained FROM permission_definitions WHERE project_id = $1")
            .bind(project_id)
            .fetch_all(db)
            .await?;
        let mut map = BTreeMap::new();
        for (id, description) in SYSTEM_TEAM_PERMISSIONS {
            map.insert(
                id.to_string(),
                Definition {
                    id: id.into(),
                    scope: Scope::Team,
                    description: Some(description.into()),
                    contained: vec![],
                },
            );
        }
        for r in rows {
            let id: String = r.try_get("id")?;
            let scope = if r.try_get::<String, _>("scope")? == "team" {
                Scope::Team
            } else {
                Scope::Project
            };
            let contained: Vec<String> =
                serde_json::from_str(&r.try_get::<String, _>("contained")?).unwrap_or_default();
            map.insert(
                id.clone(),
                Definition {
                    id,
                    scope,
                    description: r.try_get("description")?,
                    contained,
                },
            );
        }
        Ok(Catalog(map))
    }

    /// The permissions `direct` grants imply, transitively; ids no longer defined are dropped.
    pub fn closure<'a>(&self, direct: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut held = BTreeSet::new();
        let mut stack: Vec<String> = direct.into_iter().map(str::to_string).collect();
        while let Some(id) = stack.pop() {
            let Some(def) = self.0.get(&id) else { continue };
            if held.insert(id) {
                stack.extend(def.contained.iter().cloned());
            }
        }
        held
    }

    /// Whether `from` (transitively) names `target` among its contained ids, defined or not:
    /// then `target` containing `from` would close a cycle.
    pub fn reaches(&self, from: &str, target: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(id) = stack.pop() {
            if id == target {
                return true;
            }
            if seen.insert(id.clone()) {
                if let Some(d) = self.0.get(&id) {
                    stack.extend(d.contained.iter().cloned());
                }
            }
        }
        false
    }
}

/// Direct grants of one user: in a team, or project-wide when `team_id` is None.
pub async fn direct_grants(
    db: &sqlx::AnyPool,
    project_id: &str,
    user_id: &str,
    team_id: Option<&str>,
) -> ApiResult<Vec<String>> {
    let rows = sqlx::query("SELECT permission_id FROM permission_grants WHERE project_id = $1 AND user_id = $2 AND team_id = $3")
        .bind(project_id)
        .bind(user_id)
        .bind(team_id.unwrap_or(""))
        .fetch_all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("permission_id"))
        .collect::<Result<_, _>>()?)
}

pub async fn has_team_permission(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
    user_id: &str,
    permission: &str,
) -> ApiResult<bool> {
    let direct = direct_grants(db, project_id, user_id, Some(team_id)).await?;
    if direct.iter().any(|d| d == permission) {
        return Ok(true);
    }
    let catalog = Catalog::load(db, project_id).await?;
    Ok(catalog
        .closure(direct.iter().map(String::as_str))
        .contains(permission))
}

/// Direct grants of every user in a team, in one read: user id to permission ids.
pub async fn team_grants(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
) -> ApiResult<std::collections::BTreeMap<String, Vec<String>>> {
    let rows = sqlx::query(
        "SELECT user_id, permission_id FROM permission_grants WHERE project_id = $1 AND team_id = $2 ORDER BY permission_id",
    )
    .bind(project_id)
    .bind(team_id)
    .fetch_all(db)
    .await?;
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in rows {
        out.entry(r.try_get("user_id")?)
            .or_default()
            .push(r.try_get("permission_id")?);
    }
    Ok(out)
}

/// The users whose grants in `team_id` imply `permission` (directly or through contained
/// permissions): one read of the team's grants and one of the definitions, however many users.
pub async fn holders_in_team(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
    permission: &str,
) -> ApiResult<BTreeSet<String>> {
    let rows = sqlx::query(
        "SELECT user_id, permission_id FROM permission_grants WHERE project_id = $1 AND team_id = $2",
    )
    .bind(project_id)
    .bind(team_id)
    .fetch_all(db)
    .await?;
    let catalog = Catalog::load(db, project_id).await?;
    let mut holders = BTreeSet::new();
    for r in rows {
        let granted: String = r.try_get("permission_id")?;
        if granted == permission || catalog.closure([granted.as_str()]).contains(permission) {
            holders.insert(r.try_get("user_id")?);
        }
    }
    Ok(holders)
}

/// Grants (idempotently) inside the caller's transaction.
pub async fn grant(
    conn: &mut AnyConnection,
    project_id: &str,
    user_id: &str,
    team_id: Option<&str>,
    permission_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO permission_grants (project_id, user_id, team_id, permission_id, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, team_id, permission_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(team_id.unwrap_or(""))
    .bind(permission_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The two team permissions every new project starts with.
pub async fn insert_project_defaults(
    conn: &mut AnyConnection,
    project_id: &str,
) -> sqlx::Result<()> {
    let defaults = [
        (
            "team_member",
            "Default permission for team members",
            vec![READ_MEMBERS, INVITE_MEMBERS],
        ),
        (
            "team_admin",
            "Default permission for team admins",
            vec![
                UPDATE_TEAM,
                DELETE_TEAM,
                READ_MEMBERS,
                REMOVE_MEMBERS,
                INVITE_MEMBERS,
                MANAGE_API_KEYS,
            ],
        ),
    ];
    for (id, description, contained) in defaults {
        sqlx::query("INSERT INTO permission_definitions (project_id, id, scope, description, contained) VALUES ($1, $2, 'team', $3, $4)")
            .bind(project_id)
            .bind(id)
            .bind(description)
            .bind(json!(contained).to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub fn team_permission_required(team_id: &str, user_id: &str, permission_id: &str) -> KnownError {
    known(
        KnownCode::TeamPermissionRequired,
        format!("User {user_id} does not have permission {permission_id} in team {team_id}."),
        Some(json!({ "team_id": team_id, "user_id": user_id, "permission_id": permission_id })),
    )
}
pub fn team_permission_not_found(team_id: &str, user_id: &str, permission_id: &str) -> KnownError {
    known(
        KnownCode::TeamPermissionNotFound,
        format!("User {user_id} does not have permission {permission_id} in team {team_id}."),
        Some(json!({ "team_id": team_id, "user_id": user_id, "permission_id": permission_id })),
    )
}
pub fn permission_not_found(permission_id: &str) -> KnownError {
    known(
        KnownCode::PermissionNotFound,
        format!(
            "Permission \"{permission_id}\" not found. Make sure you created it on the dashboard."
        ),
        Some(json!({ "permission_id": permission_id })),
    )
}
pub fn wrong_scope(permission_id: &str, expected: Scope, actual: Option<Scope>) -> KnownError {
    known(
        KnownCode::WrongPermissionScope,
        format!(
            "Permission {} not found. (It was found for a different scope {}, but scope {} was expected.)",
            serde_json::to_string(permission_id).unwrap_or_default(),
            serde_json::to_string(&actual.map(Scope::as_str)).unwrap_or_default(),
            serde_json::to_string(expected.as_str()).unwrap_or_default()
        ),
        Some(
            json!({ "permission_id": permission_id, "expected_scope": expected.as_str(), "actual_scope": actual.map(Scope::as_str) }),
        ),
    )
}
pub fn contained_not_found(permission_id: &str) -> KnownError {
    known(
        KnownCode::ContainedPermissionNotFound,
        format!("Contained permission with ID \"{permission_id}\" not found. Make sure you created it on the dashboard."),
        Some(json!({ "permission_id": permission_id })),
    )
}
pub fn id_already_exists(permission_id: &str) -> KnownError {
    known(
        KnownCode::PermissionIdAlreadyExists,
        format!("Permission with ID \"{permission_id}\" already exists. Choose a different ID."),
        Some(json!({ "permission_id": permission_id })),
    )
}
