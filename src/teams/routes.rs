//! `/teams`: create, list, read, update, delete.

use super::access::require_client_permission;
use super::{check_team_id, plain_forbidden, require, Team};
use crate::auth::context::{AccessType, ApiState, RequestCtx, ANY};
use crate::http::extract::{
    nullable, parse_value, query_bool, schema_error, schema_problem, RawBody,
};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, Query};
use crate::kernel::Kernel;
use crate::permissions::{DELETE_TEAM, UPDATE_TEAM};
use crate::projects::Project;
use crate::users;
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/teams", get(list).post(create))
        .api_route("/teams/{team_id}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TeamWrite {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    profile_image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    client_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    client_read_only_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    server_metadata: Option<Option<Value>>,
    creator_user_id: Option<String>,
}

impl TeamWrite {
    /// Shape checks; client callers may not write server fields.
    fn validate(&self, access: AccessType) -> ApiResult<()> {
        let mut problems = Vec::new();
        if let Some(name) = &self.display_name {
            if name.is_empty() || name.chars().count() > 256 {
                problems.push("body.display_name must be between 1 and 256 characters".to_string());
            }
        }
        if access == AccessType::Client {
            for (field, set) in [
                (
                    "client_read_only_metadata",
                    self.client_read_only_metadata.is_some(),
                ),
                ("server_metadata", self.server_metadata.is_some()),
            ] {
                if set {
                    problems.push(format!("body contains unknown properties: {field}"));
                }
            }
        }
        if !problems.is_empty() {
            return Err(schema_error(&problems));
        }
        if access == AccessType::Client {
            if let Some(Some(url)) = &self.profile_image_url {
                if !crate::users::write::is_image_data_url(url) {
                    return Err(ApiError::bad_request("Invalid profile image URL"));
                }
            }
        }
        Ok(())
    }

    fn apply(self, t: &mut Team) {
        if let Some(n) = self.display_name {
            t.display_name = n;
        }
        if let Some(u) = self.profile_image_url {
            t.profile_image_url = u;
        }
        if let Some(v) = self.client_metadata {
            t.client_metadata = v.unwrap_or(Value::Null);
        }
        if let Some(v) = self.client_read_only_metadata {
            t.client_read_only_metadata = v.unwrap_or(Value::Null);
        }
        if let Some(v) = self.server_metadata {
            t.server_metadata = v.unwrap_or(Value::Null);
        }
    }
}

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let mut w: TeamWrite = parse_value(body, "body")?;
    w.validate(auth.access_type)?;
    let Some(name) = w.display_name.take() else {
        return Err(crate::http::extract::schema_problem(
            "body.display_name must be defined",
        ));
    };
    let creator = match auth.access_type {
        AccessType::Client => {
            let me = auth
                .user_id()
                .ok_or_else(known::user_authentication_required)?;
            if !auth.project.config.client_team_creation_enabled {
                return Err(plain_forbidden(
                    "Client team creation is disabled for this project",
                ));
            }
            match w.creator_user_id.as_deref() {
                None | Some("me") => Some(me.to_string()),
                Some(id) if id == me => Some(me.to_string()),
                Some(_) => {
                    return Err(plain_forbidden(
                        "creator_user_id must be \"me\" or the ID of the current user",
                    ))
                }
            }
        }
        _ => match w.creator_user_id.as_deref() {
            None => None,
            Some(id) => {
                let id = auth.resolve_user_id(id)?;
                users::find(state.db(), auth.pid(), id)
                    .await?
                    .ok_or_else(known::user_not_found)?;
                Some(id.to_string())
            }
        },
    };
    let mut team = super::new_team(name);
    w.apply(&mut team);
    let mut tx = state.db().begin().await?;
    super::insert(&mut tx, auth.pid(), &team).await?;
    if let Some(creator) = &creator {
        super::add_member_with_defaults(&mut tx, &auth.project, &team.id, creator, true).await?;
    }
    tx.commit().await?;
    Ok(json_created(team.json_for(auth.access_type)))
}

/// A team a signed-in user creates for themselves (as a client may), with them as its first
/// member. Errors: text 403 when the project does not let clients create teams; SCHEMA_ERROR
/// for a name that is empty or over 256 characters.
pub async fn create_by_user(
    state: &Kernel,
    project: &Project,
    user_id: &str,
    display_name: &str,
) -> ApiResult<Team> {
    if !project.config.client_team_creation_enabled {
        return Err(plain_forbidden(
            "Client team creation is disabled for this project",
        ));
    }
    let w = TeamWrite {
        display_name: Some(display_name.to_owned()),
        ..Default::default()
    };
    w.validate(AccessType::Client)?;
    let team = super::new_team(display_name.to_owned());
    let mut tx = state.db().begin().await?;
    super::insert(&mut tx, &project.id, &team).await?;
    super::add_member_with_defaults(&mut tx, project, &team.id, user_id, true).await?;
    tx.commit().await?;
    Ok(team)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
    /// Name contains it (case-insensitive), or the id is it.
    query: Option<String>,
    /// Only `created_at` (the published SDK's `orderBy: "createdAt"`).
    order_by: Option<String>,
    desc: Option<String>,
    /// A team id: the page starts at it (the previous page's `next_cursor`).
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = match q.user_id.as_deref() {
        Some(u) => Some(auth.resolve_user_id(u)?.to_string()),
        None => None,
    };
    if auth.access_type == AccessType::Client
        && (user_id.is_none() || user_id.as_deref() != auth.user_id())
    {
        return Err(plain_forbidden("Client can only list teams for their own user. user_id must be either \"me\" or the ID of the current user"));
    }
    if q.order_by.as_deref().is_some_and(|o| o != "created_at") {
        return Err(schema_problem(
            "query.order_by must be one of the following values: created_at",
        ));
    }
    let desc = query_bool(&q.desc, "desc")?;
    let limit = match q.limit.as_deref() {
        None => None,
        Some(l) => Some(
            l.parse::<i64>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| schema_problem("query.limit must be an integer from 1 to 1000"))?,
        ),
    };
    let (cmp, order) = if desc { ("<=", "DESC") } else { (">=", "ASC") };
    let mut sql = format!(
        "SELECT {} FROM teams t WHERE t.project_id = $1 AND ($2 = '' OR t.id IN (SELECT team_id FROM team_members WHERE user_id = $2))
           AND ($3 = '' OR t.id = $3 OR LOWER(t.display_name) LIKE $4 ESCAPE '\\')",
        super::COLUMNS
    );
    sql.push_str(&format!(
        " AND ($5 = '' OR (t.created_at, t.id) {cmp} (SELECT c.created_at, c.id FROM teams c WHERE c.project_id = $1 AND c.id = $5))"
    ));
    sql.push_str(&format!(" ORDER BY t.created_at {order}, t.id {order}"));
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {}", limit + 1));
    }
    let text = q.query.unwrap_or_default();
    let rows = sqlx::query(&sql)
        .bind(auth.pid())
        .bind(user_id.unwrap_or_default())
        .bind(&text)
        .bind(crate::store::like_pattern(&text))
        .bind(q.cursor.unwrap_or_default())
        .fetch_all(state.db())
        .await?;
    let mut teams = rows
        .iter()
        .map(Team::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match limit {
        Some(l) if teams.len() as i64 > l => teams.pop().map(|t| t.id),
        _ => None,
    };
    let items: Vec<_> = teams.iter().map(|t| t.json_for(auth.access_type)).collect();
    Ok(json_ok(match limit {
        Some(_) => {
            json!({ "items": items, "is_paginated": true, "pagination": { "next_cursor": next_cursor } })
        }
        None => json!({ "items": items, "is_paginated": false }),
    }))
}

async fn read(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(team_id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    require_client_permission(state.db(), auth, &team_id, None).await?;
    let team = require(state.db(), auth.pid(), &team_id).await?;
    Ok(json_ok(team.json_for(auth.access_type)))
}

async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(team_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    let w: TeamWrite = parse_value(body, "body")?;
    if w.creator_user_id.is_some() {
        return Err(crate::http::extract::schema_problem(
            "body contains unknown properties: creator_user_id",
        ));
    }
    w.validate(auth.access_type)?;
    require_client_permission(state.db(), auth, &team_id, Some(UPDATE_TEAM)).await?;
    let mut team = require(state.db(), auth.pid(), &team_id).await?;
    w.apply(&mut team);
    super::save(&state, auth.pid(), &team).await?;
    Ok(json_ok(team.json_for(auth.access_type)))
}

async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(team_id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    require_client_permission(state.db(), auth, &team_id, Some(DELETE_TEAM)).await?;
    delete_team(&state, auth.pid(), &team_id).await?;
    Ok(success())
}

/// Deletes a team: its permission grants, anyone's selection of it, the team (memberships go
/// with it), and the `team.deleted` webhook event, in one transaction.
/// Errors: TEAM_NOT_FOUND.
pub async fn delete_team(state: &Kernel, project_id: &str, team_id: &str) -> ApiResult<()> {
    require(state.db(), project_id, team_id).await?;
    let mut tx = state.db().begin().await?;
    sqlx::query("DELETE FROM permission_grants WHERE project_id = $1 AND team_id = $2")
        .bind(project_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE users SET selected_team_id = NULL WHERE project_id = $1 AND selected_team_id = $2",
    )
    .bind(project_id)
    .bind(team_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM teams WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    crate::webhooks::emit(
        &mut tx,
        project_id,
        "team.deleted",
        json!({ "id": team_id }),
    )
    .await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(())
}

/// Renames a team (as a server may: the same shape checks as `PATCH /teams/{id}`), with the
/// `team.updated` event. Errors: SCHEMA_ERROR for a name that is empty or over 256 characters;
/// TEAM_NOT_FOUND.
pub async fn rename(
    state: &Kernel,
    project_id: &str,
    team_id: &str,
    display_name: &str,
) -> ApiResult<Team> {
    let w = TeamWrite {
        display_name: Some(display_name.to_owned()),
        ..Default::default()
    };
    w.validate(AccessType::Server)?;
    let mut team = require(state.db(), project_id, team_id).await?;
    w.apply(&mut team);
    super::save(state, project_id, &team).await?;
    Ok(team)
}
