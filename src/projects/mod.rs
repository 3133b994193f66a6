//! Projects: the tenants of this server, their configuration and API keys, and the `internal`
//! project whose users administer the others.

pub mod config;
pub mod document;
mod key_set_routes;
pub mod keys;
pub mod launch;
pub mod overrides;
mod rendered;
mod routes;
pub mod update;

pub use config::ProjectConfig;
pub use routes::{api_root, routes};

use crate::crypto::secret::new_uuid;
use crate::crypto::secret_box::{is_sealed, SecretBox};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::store::recent::Recent;
use crate::store::{flag, now_ms};
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};
use std::sync::Arc;

pub const INTERNAL: &str = "internal";

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub created_at: i64,
    pub is_production_mode: bool,
    pub owner_team_id: Option<String>,
    pub onboarding_status: String,
    pub logos: [Option<String>; 4],
    pub config: ProjectConfig,
}

pub const LOGO_FIELDS: [&str; 4] = [
    "logo_url",
    "logo_full_url",
    "logo_dark_mode_url",
    "logo_full_dark_mode_url",
];

const COLUMNS: &str = "id, display_name, description, created_at, is_production_mode, owner_team_id, onboarding_status, logo_url, logo_full_url, logo_dark_mode_url, logo_full_dark_mode_url, config";

impl Project {
    /// Whether an email's link may point at `url`: a trusted domain of the project, or this
    /// server's own pages for the project (`{public_url}/handler/{project_id}/…`), which need no
    /// listing.
    pub fn trusts_link(&self, public_url: &str, url: &str) -> bool {
        if self.config.is_trusted_url(url) {
            return true;
        }
        let (Ok(link), Ok(ours)) = (url::Url::parse(url), url::Url::parse(public_url)) else {
            return false;
        };
        let pages = format!("{}/handler/{}/", ours.path().trim_end_matches('/'), self.id);
        link.origin() == ours.origin() && link.path().starts_with(&pages)
    }

    fn from_row(secrets: &SecretBox, row: &sqlx::any::AnyRow) -> ApiResult<Project> {
        let config: String = row.try_get("config")?;
        Ok(Project {
            id: row.try_get("id")?,
            display_name: row.try_get("display_name")?,
            description: row.try_get("description")?,
            created_at: row.try_get("created_at")?,
            is_production_mode: row.try_get::<i64, _>("is_production_mode")? != 0,
            owner_team_id: row.try_get("owner_team_id")?,
            onboarding_status: row.try_get("onboarding_status")?,
            logos: [
                row.try_get("logo_url")?,
                row.try_get("logo_full_url")?,
                row.try_get("logo_dark_mode_url")?,
                row.try_get("logo_full_dark_mode_url")?,
            ],
            config: config_from_text(secrets, &config)?,
        })
    }

    pub fn client_json(&self) -> Value {
        json!({ "id": self.id, "display_name": self.display_name, "config": self.config.client_json() })
    }

    pub fn admin_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "created_at_millis": self.created_at,
            "is_production_mode": self.is_production_mode,
            "owner_team_id": self.owner_team_id,
            "onboarding_status": self.onboarding_status,
            "config": self.config.admin_json(),
        });
        for (field, value) in LOGO_FIELDS.iter().zip(&self.logos) {
            v[*field] = json!(value);
        }
        v
    }
}

pub async fn find(k: &Kernel, id: &str) -> ApiResult<Option<Project>> {
    let sql = format!("SELECT {COLUMNS} FROM projects WHERE id = $1");
    match sqlx::query(&sql).bind(id).fetch_optional(k.db()).await? {
        Some(row) => Ok(Some(Project::from_row(&k.secret_box, &row)?)),
        None => Ok(None),
    }
}

/// Recently read projects and recently verified project keys (see `store::recent`): every API
/// request needs its project, and keyed requests then cost no extra read.
#[derive(Default)]
pub struct ProjectCache {
    projects: Recent<Project>,
    /// Keyed by a hash of project, key kind and key; the key itself is never held.
    verified_keys: Recent<()>,
}

impl ProjectCache {
    pub async fn get(&self, k: &Kernel, id: &str) -> ApiResult<Option<Arc<Project>>> {
        if let Some(p) = self.projects.get(id) {
            return Ok(Some(p));
        }
        Ok(find(k, id).await?.map(|p| self.projects.put(id, p)))
    }

    /// Called after this process changes a project, so its next request reads the change.
    pub fn forget(&self, id: &str) {
        self.projects.forget(id);
    }

    /// Called after this process revokes a key set: its keys are checked again at once.
    pub fn forget_verified_keys(&self, project_id: &str) {
        self.verified_keys.forget_prefix(&format!("{project_id}:"));
    }

    pub fn key_verified(&self, project_id: &str, kind: keys::KeyKind, key: &str) -> bool {
        self.verified_keys
            .get(&verified_key_entry(project_id, kind, key))
            .is_some()
    }

    pub fn remember_verified_key(&self, project_id: &str, kind: keys::KeyKind, key: &str) {
        self.verified_keys
            .put(&verified_key_entry(project_id, kind, key), ());
    }
}

fn verified_key_entry(project_id: &str, kind: keys::KeyKind, key: &str) -> String {
    format!(
        "{project_id}:{kind:?}:{}",
        crate::crypto::secret::sha256_hex(key)
    )
}

/// Projects owned by any team `user_id` (an `internal` user) belongs to.
pub async fn list_owned_by(k: &Kernel, user_id: &str) -> ApiResult<Vec<Project>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM projects WHERE owner_team_id IN
           (SELECT team_id FROM team_members WHERE project_id = $1 AND user_id = $2)
         ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(INTERNAL)
        .bind(user_id)
        .fetch_all(k.db())
        .await?;
    rows.iter()
        .map(|r| Project::from_row(&k.secret_box, r))
        .collect()
}

/// Gives every project without an owner (made from the command line before any admin existed)
/// to `team_id`, the first admin's team.
pub async fn adopt_unowned(conn: &mut AnyConnection, team_id: &str) -> ApiResult<()> {
    sqlx::query("UPDATE projects SET owner_team_id = $1 WHERE owner_team_id IS NULL AND id <> $2")
        .bind(team_id)
        .bind(INTERNAL)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    project: &Project,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO projects (id, display_name, description, created_at, is_production_mode, owner_team_id, onboarding_status, logo_url, logo_full_url, logo_dark_mode_url, logo_full_dark_mode_url, config)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&project.id)
    .bind(&project.display_name)
    .bind(&project.description)
    .bind(project.created_at)
    .bind(flag(project.is_production_mode))
    .bind(&project.owner_team_id)
    .bind(&project.onboarding_status)
    .bind(&project.logos[0])
    .bind(&project.logos[1])
    .bind(&project.logos[2])
    .bind(&project.logos[3])
    .bind(config_text(secrets, &project.config)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn save(k: &Kernel, project: &Project) -> ApiResult<()> {
    sqlx::query(
        "UPDATE projects SET display_name = $2, description = $3, is_production_mode = $4, onboarding_status = $5,
           logo_url = $6, logo_full_url = $7, logo_dark_mode_url = $8, logo_full_dark_mode_url = $9, config = $10
         WHERE id = $1",
    )
    .bind(&project.id)
    .bind(&project.display_name)
    .bind(&project.description)
    .bind(flag(project.is_production_mode))
    .bind(&project.onboarding_status)
    .bind(&project.logos[0])
    .bind(&project.logos[1])
    .bind(&project.logos[2])
    .bind(&project.logos[3])
    .bind(config_text(&k.secret_box, &project.config)?)
    .execute(k.db())
    .await?;
    Ok(())
}

pub async fn delete(db: &sqlx::AnyPool, id: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The stored form of a configuration: credentials inside it (SMTP password, OAuth client
/// secrets) are sealed (encrypted at rest).
fn config_text(secrets: &SecretBox, config: &ProjectConfig) -> ApiResult<String> {
    let mut stored = config.clone();
    if let config::EmailConfig::Standard { password, .. } = &mut stored.email_config {
        *password = secrets.seal(password)?;
    }
    for secret in stored
        .oauth_providers
        .iter_mut()
        .filter_map(|p| p.client_secret.as_mut())
    {
        *secret = secrets.seal(secret)?;
    }
    serde_json::to_string(&stored).map_err(|e| ApiError::Internal(e.into()))
}

fn config_from_text(secrets: &SecretBox, text: &str) -> ApiResult<ProjectConfig> {
    let mut config: ProjectConfig =
        serde_json::from_str(text).map_err(|e| ApiError::Internal(e.into()))?;
    if let config::EmailConfig::Standard { password, .. } = &mut config.email_config {
        if is_sealed(password) {
            *password = secrets.open(password)?;
        }
    }
    for secret in config
        .oauth_providers
        .iter_mut()
        .filter_map(|p| p.client_secret.as_mut())
    {
        if is_sealed(secret) {
            *secret = secrets.open(secret)?;
        }
    }
    Ok(config)
}

/// A new project as `POST /internal/projects` and `portcullis project create` make it.
/// Stores `project`'s owner team (a transfer).
pub async fn set_owner(k: &Kernel, project: &Project) -> ApiResult<()> {
    sqlx::query("UPDATE projects SET owner_team_id = $1 WHERE id = $2")
        .bind(&project.owner_team_id)
        .bind(&project.id)
        .execute(k.db())
        .await?;
    Ok(())
}

pub fn new_project(display_name: String, owner_team_id: Option<String>) -> Project {
    Project {
        id: new_uuid(),
        display_name,
        description: String::new(),
        created_at: now_ms(),
        is_production_mode: false,
        owner_team_id,
        onboarding_status: "completed".into(),
        logos: Default::default(),
        config: ProjectConfig {
            allow_localhost: true,
            credential_enabled: true,
            team_creator_default_permissions: vec![config::PermissionRef {
                id: "team_admin".into(),
            }],
            team_member_default_permissions: vec![config::PermissionRef {
                id: "team_member".into(),
            }],
            ..Default::default()
        },
    }
}

/// Creates a project with one key set (in one transaction) and returns the keys.
pub async fn create_with_keys(
    k: &Kernel,
    project: &Project,
    keys: (String, String, String),
) -> ApiResult<keys::NewKeySet> {
    let mut tx = k.db().begin().await?;
    insert(&mut tx, &k.secret_box, project).await?;
    crate::permissions::insert_project_defaults(&mut tx, &project.id).await?;
    let set =
        keys::insert_key_set(&mut tx, &project.id, "Initial key set", keys, keys::NEVER).await?;
    tx.commit().await?;
    Ok(set)
}

/// Creates the `internal` project on first start. Returns freshly generated keys when none were
/// configured, so they can be printed once.
pub async fn ensure_internal(
    k: &Kernel,
    configured: [Option<String>; 3],
) -> ApiResult<Option<keys::NewKeySet>> {
    let db = k.db();
    if let Some(mut internal) = find(k, INTERNAL).await? {
        // Who may sign up as a dashboard admin follows the instance setting at every start.
        let open = k.config.open_dashboard_sign_up;
        if internal.config.sign_up_enabled != open || internal.config.anonymous_enabled {
            internal.config.sign_up_enabled = open;
            internal.config.anonymous_enabled = false;
            save(k, &internal).await?;
        }
        // Keys given in the environment are (re)registered so test harnesses and dev setups
        // can rely on fixed values even against an existing data directory.
        if let [Some(pck), Some(ssk), Some(sak)] = configured {
            if !keys::is_valid(db, INTERNAL, keys::KeyKind::SecretServer, &ssk).await? {
                let mut conn = db.acquire().await?;
                keys::insert_key_set(
                    &mut conn,
                    INTERNAL,
                    "From environment",
                    (pck, ssk, sak),
                    keys::NEVER,
                )
                .await?;
            }
        }
        return Ok(None);
    }
    let mut project = new_project("Portcullis Dashboard".into(), None);
    project.id = INTERNAL.into();
    project.config.create_team_on_sign_up = true;
    project.config.client_team_creation_enabled = true;
    project.config.sign_up_enabled = k.config.open_dashboard_sign_up;
    project.config.anonymous_enabled = false;
    let generated = keys::generate_keys();
    let from_env = configured.iter().all(Option::is_some);
    let [pck, ssk, sak] = configured;
    let chosen = (
        pck.unwrap_or(generated.0),
        ssk.unwrap_or(generated.1),
        sak.unwrap_or(generated.2),
    );
    let set = create_with_keys(k, &project, chosen).await?;
    Ok(if from_env { None } else { Some(set) })
}
