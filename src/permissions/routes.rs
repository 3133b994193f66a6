//! Permission definitions (admin) and grants (`/team-permissions`, `/project-permissions`).

use super::{
    contained_not_found, id_already_exists, permission_not_found, team_permission_not_found,
    wrong_scope, Catalog, Definition, Scope,
};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ADMIN, ANY, TRUSTED};
use crate::http::extract::{query_bool, schema_problem};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::teams;
use aide::axum::routing::{get, patch, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeSet;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route(
            "/team-permission-definitions",
            get(list_team_definitions).post(create_team_definition),
        )
        .api_route(
            "/team-permission-definitions/{id}",
            patch(update_team_definition).delete(delete_team_definition),
        )
        .api_route(
            "/project-permission-definitions",
            get(list_project_definitions).post(create_project_definition),
        )
        .api_route(
            "/project-permission-definitions/{id}",
            patch(update_project_definition).delete(delete_project_definition),
        )
        .api_route("/team-permissions", get(list_team_grants))
        .api_route(
            "/team-permissions/{team_id}/{user_id}/{permission_id}",
            post(grant_team).delete(revoke_team),
        )
        .api_route("/project-permissions", get(list_project_grants))
        .api_route(
            "/project-permissions/{user_id}/{permission_id}",
            post(grant_project).delete(revoke_project),
        )
}

fn is_custom_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':')
}

/// Any id in a path or list: custom, or one of the system ones.
fn check_any_id(id: &str) -> ApiResult<()> {
    match id.strip_prefix('$') {
        Some(_) if super::SYSTEM_TEAM_PERMISSIONS.iter().any(|(s, _)| *s == id) => Ok(()),
        Some(_) => Err(schema_problem("Invalid system permission")),
        None if is_custom_id(id) => Ok(()),
        None => Err(schema_problem("permission id must match ^[a-z0-9_:]+$")),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionWrite {
    pub id: Option<String>,
    pub description: Option<String>,
    pub contained_permission_ids: Option<Vec<String>>,
}

/// The admin SDK's paginated listing (`listTeamPermissionDefinitionsPaginated`).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DefinitionsQuery {
    /// Id or description contains it (case-insensitive).
    query: Option<String>,
    /// A definition id: the page starts at it (the previous page's `next_cursor`).
    cursor: Option<String>,
    limit: Option<String>,
}

/// Definitions of `scope` in id order; with `limit`, one page and the next page's cursor.
fn list_definitions(catalog: &Catalog, scope: Scope, q: DefinitionsQuery) -> ApiResult<Value> {
    let limit = match q.limit.as_deref() {
        None => None,
        Some(l) => Some(
            l.parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| schema_problem("query.limit must be an integer from 1 to 1000"))?,
        ),
    };
    let text = q.query.unwrap_or_default().to_lowercase();
    let cursor = q.cursor.unwrap_or_default();
    let mut matching = catalog.0.values().filter(|d| {
        d.scope == scope
            && d.id.as_str() >= cursor.as_str()
            && (d.id.to_lowercase().contains(&text)
                || d.description
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&text))
    });
    let items: Vec<Value> = matching
        .by_ref()
        .take(limit.unwrap_or(usize::MAX))
        .map(Definition::json)
        .collect();
    Ok(match limit {
        Some(_) => {
            let next_cursor = matching.next().map(|d| d.id.clone());
            json!({ "items": items, "is_paginated": true, "pagination": { "next_cursor": next_cursor } })
        }
        None => json!({ "items": items, "is_paginated": false }),
    })
}

/// Checks a definition's contained ids (same scope, existing, no cycle through `id`).
fn check_contained(
    catalog: &Catalog,
    scope: Scope,
    id: &str,
    contained: &[String],
) -> ApiResult<()> {
    for c in contained {
        check_any_id(c)?;
        let cycle = || {
            ApiError::bad_request(format!(
                "Permission {id:?} cannot contain {c:?}: that would make a cycle."
            ))
        };
        if c == id {
            return Err(cycle());
        }
        match catalog.0.get(c) {
            Some(d) if d.scope == scope => {}
            _ => return Err(contained_not_found(c).into()),
        }
        if catalog.reaches(c, id) {
            return Err(ApiError::bad_request(format!(
                "Permission {id:?} cannot contain {c:?}: that would make a cycle."
            )));
        }
    }
    Ok(())
}

async fn write_definition(
    state: &Kernel,
    project_id: &str,
    scope: Scope,
    d: &Definition,
) -> ApiResult<()> {
    sqlx::query("INSERT INTO permission_definitions (project_id, id, scope, description, contained) VALUES ($1, $2, $3, $4, $5)")
        .bind(project_id)
        .bind(&d.id)
        .bind(scope.as_str())
        .bind(&d.description)
        .bind(json!(d.contained).to_string())
        .execute(state.db())
        .await?;
    Ok(())
}

/// Defines a custom permission of `scope` (the containment must exist and make no cycle).
pub async fn create_definition(
    state: &Kernel,
    project_id: &str,
    scope: Scope,
    w: DefinitionWrite,
) -> ApiResult<Definition> {
    let id =
        w.id.ok_or_else(|| schema_problem("body.id must be defined"))?;
    if !is_custom_id(&id) {
        return Err(schema_problem("body.id must match ^[a-z0-9_:]+$"));
    }
    let catalog = Catalog::load(state.db(), project_id).await?;
    if catalog.0.contains_key(&id) {
        return Err(id_already_exists(&id).into());
    }
    let contained = w.contained_permission_ids.unwrap_or_default();
    check_contained(&catalog, scope, &id, &contained)?;
    let d = Definition {
        id,
        scope,
        description: w.description,
        contained,
    };
    write_definition(state, project_id, scope, &d).await?;
    Ok(d)
}

/// Replaces a definition (the original resets omitted fields) and renames references if `id` changes.
async fn update_definition(
    state: &Kernel,
    auth: &Auth,
    scope: Scope,
    id: &str,
    w: DefinitionWrite,
) -> ApiResult<Response> {
    check_any_id(id)?;
    let catalog = Catalog::load(state.db(), auth.pid()).await?;
    match catalog.0.get(id) {
        Some(d) if d.scope == scope && !id.starts_with('$') => {}
        _ => return Err(permission_not_found(id).into()),
    }
    let new_id = w.id.unwrap_or_else(|| id.to_string());
    if !is_custom_id(&new_id) {
        return Err(schema_problem("body.id must match ^[a-z0-9_:]+$"));
    }
    if new_id != id && catalog.0.contains_key(&new_id) {
        return Err(id_already_exists(&new_id).into());
    }
    let contained = w.contained_permission_ids.unwrap_or_default();
    // Check cycles against the catalog as it will be, under the new id.
    let mut after = Catalog(catalog.0.clone());
    after.0.remove(id);
    for d in after.0.values_mut() {
        for c in d.contained.iter_mut().filter(|c| c.as_str() == id) {
            *c = new_id.clone();
        }
    }
    check_contained(&after, scope, &new_id, &contained)?;
    let d = Definition {
        id: new_id.clone(),
        scope,
        description: w.description,
        contained,
    };
    let mut tx = state.db().begin().await?;
    sqlx::query("DELETE FROM permission_definitions WHERE project_id = $1 AND id = $2")
        .bind(auth.pid())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO permission_definitions (project_id, id, scope, description, contained) VALUES ($1, $2, $3, $4, $5)")
        .bind(auth.pid())
        .bind(&d.id)
        .bind(scope.as_str())
        .bind(&d.description)
        .bind(json!(d.contained).to_string())
        .execute(&mut *tx)
        .await?;
    if new_id != id {
        rewrite_references(&mut tx, auth.pid(), &catalog, id, Some(&new_id)).await?;
    }
    tx.commit().await?;
    Ok(json_ok(d.json()))
}

/// Points other definitions and grants from `old` to `new` (or drops them when `new` is None).
async fn rewrite_references(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    catalog: &Catalog,
    old: &str,
    new: Option<&str>,
) -> ApiResult<()> {
    for d in catalog
        .0
        .values()
        .filter(|d| d.contained.iter().any(|c| c == old))
    {
        let contained: Vec<String> = d
            .contained
            .iter()
            .filter_map(|c| {
                if c == old {
                    new.map(str::to_string)
                } else {
                    Some(c.clone())
                }
            })
            .collect();
        sqlx::query(
            "UPDATE permission_definitions SET contained = $1 WHERE project_id = $2 AND id = $3",
        )
        .bind(json!(contained).to_string())
        .bind(project_id)
        .bind(&d.id)
        .execute(&mut *conn)
        .await?;
    }
    match new {
        Some(new) => sqlx::query("UPDATE permission_grants SET permission_id = $1 WHERE project_id = $2 AND permission_id = $3").bind(new).bind(project_id).bind(old).execute(&mut *conn).await?,
        None => sqlx::query("DELETE FROM permission_grants WHERE project_id = $1 AND permission_id = $2").bind(project_id).bind(old).execute(&mut *conn).await?,
    };
    Ok(())
}

/// Deletes a custom permission and every grant and containment of it.
pub async fn delete_definition(
    state: &Kernel,
    project_id: &str,
    scope: Scope,
    id: &str,
) -> ApiResult<()> {
    check_any_id(id)?;
    let catalog = Catalog::load(state.db(), project_id).await?;
    match catalog.0.get(id) {
        Some(d) if d.scope == scope && !id.starts_with('$') => {}
        _ => return Err(permission_not_found(id).into()),
    }
    let mut tx = state.db().begin().await?;
    sqlx::query("DELETE FROM permission_definitions WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    rewrite_references(&mut tx, project_id, &catalog, id, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn list_team_definitions(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<DefinitionsQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let catalog = Catalog::load(state.db(), auth.pid()).await?;
    Ok(json_ok(list_definitions(&catalog, Scope::Team, q)?))
}
async fn list_project_definitions(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<DefinitionsQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let catalog = Catalog::load(state.db(), auth.pid()).await?;
    Ok(json_ok(list_definitions(&catalog, Scope::Project, q)?))
}
async fn create_team_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(w): JsonBody<DefinitionWrite>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_created(
        create_definition(&state, auth.pid(), Scope::Team, w)
            .await?
            .json(),
    ))
}
async fn create_project_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(w): JsonBody<DefinitionWrite>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_created(
        create_definition(&state, auth.pid(), Scope::Project, w)
            .await?
            .json(),
    ))
}
async fn update_team_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    JsonBody(w): JsonBody<DefinitionWrite>,
) -> ApiResult<Response> {
    update_definition(&state, ctx.require(ADMIN)?, Scope::Team, &id, w).await
}
async fn update_project_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    JsonBody(w): JsonBody<DefinitionWrite>,
) -> ApiResult<Response> {
    update_definition(&state, ctx.require(ADMIN)?, Scope::Project, &id, w).await
}
async fn delete_team_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    delete_definition(&state, auth.pid(), Scope::Team, &id).await?;
    Ok(success())
}
async fn delete_project_definition(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    delete_definition(&state, auth.pid(), Scope::Project, &id).await?;
    Ok(success())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GrantQuery {
    team_id: Option<String>,
    user_id: Option<String>,
    permission_id: Option<String>,
    recursive: Option<String>,
}

/// Grants of a scope matching the filters; with `recursive`, each holder's closure.
async fn list_grants(
    state: &Kernel,
    auth: &Auth,
    scope: Scope,
    q: GrantQuery,
) -> ApiResult<Vec<Value>> {
    let recursive = query_bool(&q.recursive, "recursive")?;
    let user_id = match q.user_id.as_deref() {
        Some(u) => Some(auth.resolve_user_id(u)?.to_string()),
        None => None,
    };
    if auth.access_type == AccessType::Client
        && (user_id.is_none() || user_id.as_deref() != auth.user_id())
    {
        return Err(teams::plain_forbidden("Client can only list permissions for their own user. user_id must be either \"me\" or the ID of the current user"));
    }
    if let Some(t) = &q.team_id {
        teams::check_team_id(t)?;
    }
    let mut sql = String::from(
        "SELECT user_id, team_id, permission_id FROM permission_grants WHERE project_id = $1",
    );
    // Project grants are stored with an empty team id.
    sql.push_str(match scope {
        Scope::Team => " AND team_id <> ''",
        Scope::Project => " AND team_id = ''",
    });
    let mut binds = vec![auth.pid()];
    let team_id = q.team_id.as_deref().filter(|_| scope == Scope::Team);
    crate::store::and_equal(
        &mut sql,
        &mut binds,
        &[("user_id", user_id.as_deref()), ("team_id", team_id)],
    );
    let rows = crate::store::bind_all(&sql, &binds)
        .fetch_all(state.db())
        .await?;
    let catalog = Catalog::load(state.db(), auth.pid()).await?;
    let mut holders: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for r in rows {
        let key = (
            r.try_get::<String, _>("team_id")?,
            r.try_get::<String, _>("user_id")?,
        );
        holders
            .entry(key)
            .or_default()
            .push(r.try_get("permission_id")?);
    }
    let mut out = Vec::new();
    for ((team_id, user_id), direct) in holders {
        let held: BTreeSet<String> = if recursive {
            catalog.closure(direct.iter().map(String::as_str))
        } else {
            direct
                .into_iter()
                .filter(|d| catalog.0.contains_key(d))
                .collect()
        };
        for id in held
            .into_iter()
            .filter(|id| catalog.0.get(id).is_some_and(|d| d.scope == scope))
        {
            if q.permission_id.as_deref().is_some_and(|p| p != id) {
                continue;
            }
            out.push(match scope {
                Scope::Team => json!({ "id": id, "user_id": user_id, "team_id": team_id }),
                Scope::Project => json!({ "id": id, "user_id": user_id }),
            });
        }
    }
    Ok(out)
}

async fn list_team_grants(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<GrantQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let items = list_grants(&state, auth, Scope::Team, q).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn list_project_grants(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<GrantQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    if q.team_id.is_some() {
        return Err(schema_problem("query contains unknown properties: team_id"));
    }
    let items = list_grants(&state, auth, Scope::Project, q).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// The permission must exist in `scope`.
/// The permission exists in `scope` and may be granted there.
pub async fn check_grantable(
    state: &Kernel,
    project_id: &str,
    scope: Scope,
    permission_id: &str,
) -> ApiResult<()> {
    check_any_id(permission_id)?;
    let catalog = Catalog::load(state.db(), project_id).await?;
    match catalog.0.get(permission_id) {
        None => Err(permission_not_found(permission_id).into()),
        Some(d) if d.scope != scope => Err(wrong_scope(permission_id, scope, Some(d.scope)).into()),
        Some(_) if scope == Scope::Project && permission_id.starts_with('$') => {
            Err(permission_not_found(permission_id).into())
        }
        Some(_) => Ok(()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn grant_team(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id, permission_id)): Path<(String, String, String)>,
    JsonBody(_): JsonBody<Empty>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    teams::check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    if !teams::is_member(state.db(), auth.pid(), &team_id, &user_id).await? {
        return Err(known::team_membership_not_found(&team_id, &user_id).into());
    }
    check_grantable(&state, auth.pid(), Scope::Team, &permission_id).await?;
    let mut tx = state.db().begin().await?;
    super::grant(
        &mut tx,
        auth.pid(),
        &user_id,
        Some(&team_id),
        &permission_id,
    )
    .await?;
    let created = "team_permission.created";
    teams::emit_permission(
        &mut tx,
        auth.pid(),
        created,
        &team_id,
        &user_id,
        &permission_id,
    )
    .await?;
    tx.commit().await?;
    crate::webhooks::wake(&state);
    Ok(json_created(
        json!({ "id": permission_id, "user_id": user_id, "team_id": team_id }),
    ))
}

async fn revoke_team(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id, permission_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    teams::check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    check_any_id(&permission_id)?;
    if !teams::is_member(state.db(), auth.pid(), &team_id, &user_id).await? {
        return Err(known::team_membership_not_found(&team_id, &user_id).into());
    }
    if !revoke(&state, auth.pid(), &user_id, &team_id, &permission_id).await? {
        return Err(team_permission_not_found(&team_id, &user_id, &permission_id).into());
    }
    Ok(success())
}

async fn grant_project(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, permission_id)): Path<(String, String)>,
    JsonBody(_): JsonBody<Empty>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    crate::users::find(state.db(), auth.pid(), &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    check_grantable(&state, auth.pid(), Scope::Project, &permission_id).await?;
    let mut conn = state.db().acquire().await?;
    super::grant(&mut conn, auth.pid(), &user_id, None, &permission_id).await?;
    Ok(json_created(
        json!({ "id": permission_id, "user_id": user_id }),
    ))
}

async fn revoke_project(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, permission_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    check_any_id(&permission_id)?;
    if !revoke(&state, auth.pid(), &user_id, "", &permission_id).await? {
        return Err(permission_not_found(&permission_id).into());
    }
    Ok(success())
}

/// Revokes a direct grant (`team_id` "" for project scope), with the `team_permission.deleted`
/// webhook event for a team's; false if there was none.
pub async fn revoke(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    team_id: &str,
    permission_id: &str,
) -> ApiResult<bool> {
    let mut tx = state.db().begin().await?;
    let r = sqlx::query("DELETE FROM permission_grants WHERE project_id = $1 AND user_id = $2 AND team_id = $3 AND permission_id = $4")
        .bind(project_id)
        .bind(user_id)
        .bind(team_id)
        .bind(permission_id)
        .execute(&mut *tx)
        .await?;
    let revoked = r.rows_affected() > 0;
    if revoked && !team_id.is_empty() {
        let deleted = "team_permission.deleted";
        teams::emit_permission(
            &mut tx,
            project_id,
            deleted,
            team_id,
            user_id,
            permission_id,
        )
        .await?;
    }
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(revoked)
}
