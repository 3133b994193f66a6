//! `/team-memberships` (add, remove) and `/team-member-profiles` (per-team name and picture).

use super::access::require_client_permission;
use super::{check_team_id, is_member, plain_forbidden, require};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY, TRUSTED};
use crate::http::extract::{nullable, schema_problem};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::permissions::{READ_MEMBERS, REMOVE_MEMBERS};
use crate::users;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route(
            "/team-memberships/{team_id}/{user_id}",
            post(add).delete(remove),
        )
        .api_route("/team-member-profiles", get(list_profiles))
        .api_route(
            "/team-member-profiles/{team_id}/{user_id}",
            get(read_profile).patch(update_profile),
        )
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn add(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id)): Path<(String, String)>,
    JsonBody(_): JsonBody<Empty>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    users::find(state.db(), auth.pid(), &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    require(state.db(), auth.pid(), &team_id).await?;
    let mut tx = state.db().begin().await?;
    if !super::add_member_with_defaults(&mut tx, &auth.project, &team_id, &user_id, false).await? {
        return Err(known::team_membership_already_exists().into());
    }
    tx.commit().await?;
    Ok(json_created(
        json!({ "team_id": team_id, "user_id": user_id }),
    ))
}

async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    // Leaving is always allowed; removing someone else takes $remove_members.
    let leaving = auth.user_id() == Some(user_id.as_str());
    require_client_permission(
        state.db(),
        auth,
        &team_id,
        (!leaving).then_some(REMOVE_MEMBERS),
    )
    .await?;
    if auth.access_type.is_trusted() {
        require(state.db(), auth.pid(), &team_id).await?;
    }
    if !is_member(state.db(), auth.pid(), &team_id, &user_id).await? {
        return Err(known::team_membership_not_found(&team_id, &user_id).into());
    }
    remove_member(&state, auth.pid(), &team_id, &user_id).await?;
    Ok(success())
}

/// Removes a member with their team permissions (and unselects the team for them).
pub async fn remove_member(
    state: &Kernel,
    project_id: &str,
    team_id: &str,
    user_id: &str,
) -> ApiResult<()> {
    let mut tx = state.db().begin().await?;
    sqlx::query(
        "DELETE FROM permission_grants WHERE project_id = $1 AND team_id = $2 AND user_id = $3",
    )
    .bind(project_id)
    .bind(team_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM team_members WHERE project_id = $1 AND team_id = $2 AND user_id = $3")
        .bind(project_id)
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET selected_team_id = NULL WHERE id = $1 AND selected_team_id = $2")
        .bind(user_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    let member = serde_json::json!({ "team_id": team_id, "user_id": user_id });
    crate::webhooks::emit(&mut tx, project_id, "team_membership.deleted", member).await?;
    tx.commit().await?;
    crate::webhooks::wake(state);
    Ok(())
}

/// Profile reads: members read themselves; reading others takes $read_members.
async fn check_profile_read(
    state: &Kernel,
    auth: &Auth,
    team_id: &str,
    user_id: Option<&str>,
) -> ApiResult<()> {
    let is_self = user_id.is_some() && user_id == auth.user_id();
    require_client_permission(
        state.db(),
        auth,
        team_id,
        (!is_self).then_some(READ_MEMBERS),
    )
    .await
}

async fn profiles(
    state: &Kernel,
    auth: &Auth,
    team_id: Option<&str>,
    user_id: Option<&str>,
) -> ApiResult<Vec<Value>> {
    let mut sql = concat!(
        "SELECT m.team_id, m.display_name AS member_name, m.profile_image_url AS member_image, ",
        crate::user_columns!(),
        " FROM team_members m JOIN users u ON u.id = m.user_id ",
        crate::user_joins!(),
        " WHERE m.project_id = $1"
    )
    .to_string();
    let mut binds = vec![auth.pid()];
    crate::store::and_equal(
        &mut sql,
        &mut binds,
        &[("m.team_id", team_id), ("m.user_id", user_id)],
    );
    sql.push_str(" ORDER BY m.created_at, m.user_id");
    let rows = crate::store::bind_all(&sql, &binds)
        .fetch_all(state.db())
        .await?;
    let rev = auth.project.config.require_email_verification;
    rows.iter()
        .map(|r| {
            let user = users::User::from_row(r)?;
            let name: Option<String> = r.try_get("member_name")?;
            let image: Option<String> = r.try_get("member_image")?;
            let mut v = json!({
                "team_id": r.try_get::<String, _>("team_id")?,
                "user_id": user.id,
                "display_name": name.or_else(|| user.display_name.clone()),
                "profile_image_url": image.or_else(|| user.profile_image_url.clone()),
            });
            if auth.access_type.is_trusted() {
                v["user"] = user.server_json(rev);
            }
            Ok(v)
        })
        .collect()
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProfileQuery {
    team_id: Option<String>,
    user_id: Option<String>,
}

async fn list_profiles(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ProfileQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = match q.user_id.as_deref() {
        Some(u) => Some(auth.resolve_user_id(u)?.to_string()),
        None => None,
    };
    match (&q.team_id, auth.access_type) {
        (None, AccessType::Client) => {
            return Err(ApiError::bad_request(
                "team_id is required for access type client",
            ))
        }
        (Some(t), _) => {
            check_team_id(t)?;
            check_profile_read(&state, auth, t, user_id.as_deref()).await?;
            if auth.access_type.is_trusted() {
                require(state.db(), auth.pid(), t).await?;
            }
        }
        (None, _) => {}
    }
    if let (Some(u), true) = (&user_id, auth.access_type.is_trusted()) {
        users::find(state.db(), auth.pid(), u)
            .await?
            .ok_or_else(known::user_not_found)?;
    }
    let items = profiles(&state, auth, q.team_id.as_deref(), user_id.as_deref()).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn read_profile(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    check_profile_read(&state, auth, &team_id, Some(&user_id)).await?;
    let mut items = profiles(&state, auth, Some(&team_id), Some(&user_id)).await?;
    items
        .pop()
        .map(json_ok)
        .ok_or_else(|| known::team_membership_not_found(&team_id, &user_id).into())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProfileWrite {
    #[serde(default, deserialize_with = "nullable")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    profile_image_url: Option<Option<String>>,
}

async fn update_profile(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((team_id, user_id)): Path<(String, String)>,
    JsonBody(w): JsonBody<ProfileWrite>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&team_id)?;
    let user_id = auth.resolve_user_id(&user_id)?.to_string();
    if auth.access_type == AccessType::Client && auth.user_id() != Some(user_id.as_str()) {
        return Err(plain_forbidden("Cannot update another user's profile"));
    }
    if w.display_name
        .as_ref()
        .and_then(|n| n.as_ref())
        .is_some_and(|n| n.chars().count() > 256)
    {
        return Err(schema_problem(
            "body.display_name must be at most 256 characters",
        ));
    }
    if !is_member(state.db(), auth.pid(), &team_id, &user_id).await? {
        return Err(known::team_membership_not_found(&team_id, &user_id).into());
    }
    // Absent fields keep their value; null clears back to the user's own.
    sqlx::query(
        "UPDATE team_members SET display_name = CASE WHEN $1 = 1 THEN $2 ELSE display_name END,
            profile_image_url = CASE WHEN $3 = 1 THEN $4 ELSE profile_image_url END
         WHERE project_id = $5 AND team_id = $6 AND user_id = $7",
    )
    .bind(w.display_name.is_some() as i64)
    .bind(w.display_name.flatten())
    .bind(w.profile_image_url.is_some() as i64)
    .bind(w.profile_image_url.flatten())
    .bind(auth.pid())
    .bind(&team_id)
    .bind(&user_id)
    .execute(state.db())
    .await?;
    let mut items = profiles(&state, auth, Some(&team_id), Some(&user_id)).await?;
    items
        .pop()
        .map(json_ok)
        .ok_or_else(|| known::team_membership_not_found(&team_id, &user_id).into())
}
