//! `/users` and `/users/me`.

use super::list::{list, ListQuery};
use super::write::{self, ClientUserUpdate, UserWrite};
use crate::auth::context::{AccessType, ApiState, RequestCtx, ANY, TRUSTED};
use crate::http::extract::{parse_value, RawBody};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, Query};
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::response::Response;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/users", get(list_users).post(create_user))
        .api_route(
            "/users/{user_id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
}

async fn list_users(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    list(&state, &auth.project, q).await.map(json_ok)
}

async fn create_user(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let w: UserWrite = parse_value(body, "body")?;
    let user = write::create(&state, &auth.project, w).await?;
    Ok(json_created(user.server_json(
        auth.project.config.require_email_verification,
    )))
}

async fn get_user(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let auth = if user_id == "me" {
        ctx.require(ANY)?
    } else {
        ctx.require(TRUSTED)?
    };
    let id = auth.resolve_user_id(&user_id)?;
    let user = super::find(state.db(), auth.pid(), id).await?;
    let user = match (user, user_id == "me") {
        (Some(u), _) => u,
        (None, true) => return Err(known::cannot_get_own_user_without_user().into()),
        (None, false) => return Err(known::user_not_found().into()),
    };
    Ok(json_ok(user.json_for(
        auth.access_type,
        auth.project.config.require_email_verification,
    )))
}

async fn update_user(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = if user_id == "me" {
        ctx.require(ANY)?
    } else {
        ctx.require(TRUSTED)?
    };
    let id = auth.resolve_user_id(&user_id)?;
    let w: UserWrite = if auth.access_type == AccessType::Client {
        parse_value::<ClientUserUpdate>(body, "body")?.into()
    } else {
        parse_value(body, "body")?
    };
    let user = match super::find(state.db(), auth.pid(), id).await? {
        Some(u) => u,
        None if user_id == "me" => return Err(known::cannot_get_own_user_without_user().into()),
        None => return Err(known::user_not_found().into()),
    };
    let user = write::update(
        &state,
        &auth.project,
        user,
        w,
        auth.access_type == AccessType::Client,
    )
    .await?;
    Ok(json_ok(user.json_for(
        auth.access_type,
        auth.project.config.require_email_verification,
    )))
}

async fn delete_user(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let auth = if user_id == "me" {
        ctx.require(ANY)?
    } else {
        ctx.require(TRUSTED)?
    };
    let id = auth.resolve_user_id(&user_id)?;
    if auth.access_type == AccessType::Client {
        check_self_deletion(&auth.project)?;
    }
    if !super::delete(&state, auth.pid(), id).await? {
        return Err(if user_id == "me" {
            known::cannot_get_own_user_without_user()
        } else {
            known::user_not_found()
        }
        .into());
    }
    Ok(success())
}

/// Errors: text 400 unless the project lets users delete their own accounts.
pub fn check_self_deletion(project: &crate::projects::Project) -> ApiResult<()> {
    if project.config.client_user_deletion_enabled {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "Client user deletion is not enabled for this project",
        ))
    }
}
