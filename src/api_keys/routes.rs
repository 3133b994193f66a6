//! `/user-api-keys`, `/team-api-keys` and the credential-scanning revoke endpoint.

use super::{
    expired, find_by_value, format_key, not_found, public_cannot_be_revoked, revoked, wrong_type,
    ApiKey, Owner, COLUMNS,
};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY, TRUSTED};
use crate::crypto::secret::{new_uuid, sha256_hex};
use crate::emails::templates;
use crate::http::extract::{nullable, schema_problem};
use crate::http::{json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::permissions::MANAGE_API_KEYS;
use crate::projects::Project;
use crate::store::{flag, now_ms};
use crate::teams;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/user-api-keys", get(list_user).post(create_user))
        .api_route("/user-api-keys/check", post(check_user))
        .api_route("/user-api-keys/{id}", get(read_user).patch(update_user))
        .api_route("/team-api-keys", get(list_team).post(create_team))
        .api_route("/team-api-keys/check", post(check_team))
        .api_route("/team-api-keys/{id}", get(read_team).patch(update_team))
        .api_route(
            "/integrations/credential-scanning/revoke",
            post(scanner_revoke),
        )
}

fn enabled(auth: &Auth, owner: Owner) -> ApiResult<()> {
    check_enabled(&auth.project, owner)
}

/// Errors: 400 when the project does not offer `owner`'s API keys.
pub fn check_enabled(project: &Project, owner: Owner) -> ApiResult<()> {
    let (on, name) = match owner {
        Owner::User => (project.config.allow_user_api_keys, "User"),
        Owner::Team => (project.config.allow_team_api_keys, "Team"),
    };
    if on {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{name} API keys are not enabled for this project."
        )))
    }
}

/// Whether the caller may manage keys of this owner. Clients manage their own user keys and the
/// keys of teams where they hold $manage_api_keys (others' teams look like missing keys).
async fn authorize(state: &Kernel, auth: &Auth, owner: Owner, owner_id: &str) -> ApiResult<()> {
    if auth.access_type.is_trusted() {
        return Ok(());
    }
    let me = auth
        .user_id()
        .ok_or_else(known::user_authentication_required)?;
    match owner {
        Owner::User if owner_id == me => Ok(()),
        Owner::User => Err(teams::plain_forbidden(
            "Client can only manage their own api keys",
        )),
        Owner::Team => {
            if teams::is_member(state.db(), auth.pid(), owner_id, me).await?
                && crate::permissions::has_team_permission(
                    state.db(),
                    auth.pid(),
                    owner_id,
                    me,
                    MANAGE_API_KEYS,
                )
                .await?
            {
                Ok(())
            } else {
                Err(not_found().into())
            }
        }
    }
}

fn owner_column(owner: Owner) -> &'static str {
    match owner {
        Owner::User => "user_id",
        Owner::Team => "team_id",
    }
}

/// The owner id in a request: `me` resolves for user keys; team ids must be UUIDs.
fn resolve_owner<'a>(auth: &'a Auth, owner: Owner, id: &'a str) -> ApiResult<&'a str> {
    match owner {
        Owner::User => auth.resolve_user_id(id),
        Owner::Team => {
            teams::check_team_id(id)?;
            Ok(id)
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Create {
    user_id: Option<String>,
    team_id: Option<String>,
    description: String,
    #[serde(default, deserialize_with = "nullable")]
    expires_at_millis: Option<Option<i64>>,
    is_public: Option<bool>,
}

async fn create(state: &Kernel, auth: &Auth, owner: Owner, body: Create) -> ApiResult<Response> {
    enabled(auth, owner)?;
    let (given, other) = match owner {
        Owner::User => (&body.user_id, &body.team_id),
        Owner::Team => (&body.team_id, &body.user_id),
    };
    if other.is_some() {
        return Err(schema_problem(format!(
            "body contains unknown properties: {}",
            owner_column(if owner == Owner::User {
                Owner::Team
            } else {
                Owner::User
            })
        )));
    }
    let given = given
        .as_deref()
        .ok_or_else(|| schema_problem(format!("body.{} must be defined", owner_column(owner))))?;
    let Some(expires_at) = body.expires_at_millis else {
        return Err(schema_problem("body.expires_at_millis must be defined"));
    };
    let owner_id = resolve_owner(auth, owner, given)?.to_string();
    authorize(state, auth, owner, &owner_id).await?;
    let exists = match owner {
        Owner::User => crate::users::find(state.db(), auth.pid(), &owner_id)
            .await?
            .is_some(),
        Owner::Team => teams::find(state.db(), auth.pid(), &owner_id)
            .await?
            .is_some(),
    };
    if !exists {
        return Err(match owner {
            Owner::User => known::user_not_found(),
            Owner::Team => known::team_not_found(&owner_id),
        }
        .into());
    }
    let new = NewKey {
        description: body.description,
        expires_at,
        is_public: body.is_public.unwrap_or(false),
    };
    let (key, value) = create_key(state, auth.pid(), owner, &owner_id, new).await?;
    Ok(json_ok(key.json(Some(&value))))
}

/// A key to create: what it is for, when it expires (ms since the epoch; None: never), and
/// whether it is public (`pk_`, may be shown in clients) or secret (`sk_`).
pub struct NewKey {
    pub description: String,
    pub expires_at: Option<i64>,
    pub is_public: bool,
}

/// Creates a key for its owner (who exists; the caller checked who may); answers it and its
/// value, which is shown this once and stored only as a hash.
pub async fn create_key(
    state: &Kernel,
    project_id: &str,
    owner: Owner,
    owner_id: &str,
    new: NewKey,
) -> ApiResult<(ApiKey, String)> {
    let id = new_uuid();
    let value = format_key(&id, owner, new.is_public);
    let key = ApiKey {
        id,
        owner,
        owner_id: owner_id.to_owned(),
        description: new.description,
        is_public: new.is_public,
        last_four: value[value.len() - 4..].to_string(),
        created_at: now_ms(),
        expires_at: new.expires_at,
        revoked_at: None,
    };
    let sql = format!(
        "INSERT INTO api_keys (id, project_id, {}, description, is_public, secret_hash, last_four, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        owner_column(owner)
    );
    sqlx::query(&sql)
        .bind(&key.id)
        .bind(project_id)
        .bind(owner_id)
        .bind(&key.description)
        .bind(flag(key.is_public))
        .bind(sha256_hex(&value))
        .bind(&key.last_four)
        .bind(key.created_at)
        .bind(key.expires_at)
        .execute(state.db())
        .await?;
    Ok((key, value))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
    team_id: Option<String>,
}

async fn list(state: &Kernel, auth: &Auth, owner: Owner, q: ListQuery) -> ApiResult<Response> {
    enabled(auth, owner)?;
    let given = match owner {
        Owner::User => q.user_id.as_deref(),
        Owner::Team => q.team_id.as_deref(),
    };
    let owner_id = match given {
        Some(g) => Some(resolve_owner(auth, owner, g)?.to_string()),
        None if auth.access_type == AccessType::Client => match owner {
            Owner::User => Some(
                auth.user_id()
                    .ok_or_else(known::user_authentication_required)?
                    .to_string(),
            ),
            Owner::Team => return Err(schema_problem("query.team_id must be defined")),
        },
        None => None,
    };
    if let Some(id) = &owner_id {
        authorize(state, auth, owner, id).await?;
    }
    let items = keys_of(state, auth.pid(), owner, owner_id.as_deref())
        .await?
        .iter()
        .map(|k| k.json(None))
        .collect::<Vec<_>>();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// The project's keys of `owner`'s kind (of one owner, when given), newest first, revoked and
/// expired ones included.
pub async fn keys_of(
    state: &Kernel,
    project_id: &str,
    owner: Owner,
    owner_id: Option<&str>,
) -> ApiResult<Vec<ApiKey>> {
    let col = owner_column(owner);
    let mut sql =
        format!("SELECT {COLUMNS} FROM api_keys WHERE project_id = $1 AND {col} IS NOT NULL");
    let mut binds = vec![project_id];
    crate::store::and_equal(&mut sql, &mut binds, &[(col, owner_id)]);
    sql.push_str(" ORDER BY created_at DESC, id");
    let rows = crate::store::bind_all(&sql, &binds)
        .fetch_all(state.db())
        .await?;
    Ok(rows
        .iter()
        .map(ApiKey::from_row)
        .collect::<Result<_, _>>()?)
}

async fn load(state: &Kernel, auth: &Auth, owner: Owner, id: &str) -> ApiResult<ApiKey> {
    enabled(auth, owner)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE project_id = $1 AND id = $2 AND {} IS NOT NULL",
        owner_column(owner)
    );
    let row = sqlx::query(&sql)
        .bind(auth.pid())
        .bind(id)
        .fetch_optional(state.db())
        .await?
        .ok_or_else(not_found)?;
    let key = ApiKey::from_row(&row)?;
    authorize(state, auth, owner, &key.owner_id).await?;
    Ok(key)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Update {
    #[allow(dead_code)]
    description: Option<String>,
    revoked: Option<bool>,
}

async fn update(
    state: &Kernel,
    auth: &Auth,
    owner: Owner,
    id: &str,
    body: Update,
) -> ApiResult<Response> {
    if body.revoked == Some(false) {
        return Err(schema_problem("body.revoked can only be true"));
    }
    let mut key = load(state, auth, owner, id).await?;
    if body.revoked == Some(true) {
        revoke(state, &mut key).await?;
    }
    Ok(json_ok(key.json(None)))
}

/// Revokes the key (once: revoking a revoked key changes nothing).
pub async fn revoke(state: &Kernel, key: &mut ApiKey) -> ApiResult<()> {
    if key.revoked_at.is_none() {
        let now = now_ms();
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&key.id)
            .execute(state.db())
            .await?;
        key.revoked_at = Some(now);
    }
    Ok(())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Check {
    api_key: String,
}

/// A key that exists and is live, or why not.
fn check_live(key: &ApiKey) -> ApiResult<()> {
    if key.revoked_at.is_some() {
        return Err(revoked().into());
    }
    if key.expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(expired().into());
    }
    Ok(())
}

async fn check(state: &Kernel, auth: &Auth, owner: Owner, body: Check) -> ApiResult<Response> {
    enabled(auth, owner)?;
    let (_, key) = find_by_value(state.db(), Some(auth.pid()), &body.api_key)
        .await?
        .ok_or_else(not_found)?;
    if key.owner != owner {
        return Err(wrong_type(owner, key.owner).into());
    }
    check_live(&key)?;
    Ok(json_ok(key.json(None)))
}

async fn create_user(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(b): JsonBody<Create>,
) -> ApiResult<Response> {
    create(&s, ctx.require(ANY)?, Owner::User, b).await
}
async fn create_team(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(b): JsonBody<Create>,
) -> ApiResult<Response> {
    create(&s, ctx.require(ANY)?, Owner::Team, b).await
}
async fn list_user(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    list(&s, ctx.require(ANY)?, Owner::User, q).await
}
async fn list_team(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    list(&s, ctx.require(ANY)?, Owner::Team, q).await
}
async fn read_user(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json_ok(
        load(&s, ctx.require(ANY)?, Owner::User, &id)
            .await?
            .json(None),
    ))
}
async fn read_team(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json_ok(
        load(&s, ctx.require(ANY)?, Owner::Team, &id)
            .await?
            .json(None),
    ))
}
async fn update_user(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Update>,
) -> ApiResult<Response> {
    update(&s, ctx.require(ANY)?, Owner::User, &id, b).await
}
async fn update_team(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Update>,
) -> ApiResult<Response> {
    update(&s, ctx.require(ANY)?, Owner::Team, &id, b).await
}
async fn check_user(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(b): JsonBody<Check>,
) -> ApiResult<Response> {
    check(&s, ctx.require(TRUSTED)?, Owner::User, b).await
}
async fn check_team(
    State(s): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(b): JsonBody<Check>,
) -> ApiResult<Response> {
    check(&s, ctx.require(TRUSTED)?, Owner::Team, b).await
}

/// Called by secret scanners that found a key in public: revokes it (any project) and tells the owner.
async fn scanner_revoke(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<Check>,
) -> ApiResult<Response> {
    let (project_id, key) = find_by_value(state.db(), None, &body.api_key)
        .await?
        .ok_or_else(not_found)?;
    if key.is_public {
        return Err(public_cannot_be_revoked().into());
    }
    if key.expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(expired().into());
    }
    if key.revoked_at.is_some() {
        return Ok(success());
    }
    let project = state
        .projects
        .get(&state, &project_id)
        .await?
        .ok_or_else(not_found)?;
    let recipients: Vec<(String, String)> = match key.owner {
        Owner::User => crate::users::find(state.db(), &project_id, &key.owner_id)
            .await?
            .and_then(|u| u.primary_email.map(|e| (u.id, e)))
            .into_iter()
            .collect(),
        Owner::Team => team_key_managers(&state, &project_id, &key.owner_id).await?,
    };
    let mut tx = state.db().begin().await?;
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(&key.id)
        .execute(&mut *tx)
        .await?;
    for (user_id, email) in &recipients {
        let rendered = templates::Rendered {
            subject: format!("API key revoked at {}", project.display_name),
            html: templates::layout(&project.display_name, "An API key was revoked", &[format!("Your API key ending in {} was found in public and has been revoked. Create a new one to replace it.", templates::escape(&key.last_four))], None),
            text: format!("Your API key ending in {} was found in public and has been revoked. Create a new one to replace it.\n", key.last_four),
        };
        let email = crate::emails::outbox::NewEmail {
            project: &project,
            user_id: Some(user_id),
            recipient: email,
            to: json!({ "type": "user-primary-email", "user_id": user_id }),
            template: None,
            variables: json!({}),
            rendered,
            category_id: crate::emails::outbox::TRANSACTIONAL,
        };
        crate::emails::outbox::enqueue(&mut tx, email).await?;
    }
    tx.commit().await?;
    crate::emails::wake_sender(&state);
    Ok(success())
}

/// Members of a team holding $manage_api_keys, with their primary emails (three reads, not
/// three per member).
async fn team_key_managers(
    state: &Kernel,
    project_id: &str,
    team_id: &str,
) -> ApiResult<Vec<(String, String)>> {
    let db = state.db();
    let holders =
        crate::permissions::holders_in_team(db, project_id, team_id, MANAGE_API_KEYS).await?;
    let managers: Vec<String> = teams::member_ids(db, project_id, team_id)
        .await?
        .into_iter()
        .filter(|id| holders.contains(id))
        .collect();
    crate::contact_channels::primary_emails(&mut *db.acquire().await?, project_id, &managers).await
}
