//! `/users` and `/users/me`.

use super::list::{list, ListQuery};
use super::write::{self, ClientUserUpdate, UserWrite};
use crate::auth::context::{AccessType, ApiState, RequestCtx, ADMIN, ANY, TRUSTED};
use crate::http::extract::{parse_value, schema_problem, Body, RawBody};
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, Query};
use aide::axum::routing::{get, post};
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
        .api_route(
            "/internal/onboarding/preview-affected-users",
            post(preview_affected_users),
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

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct OnboardingChange {
    onboarding: ProposedOnboarding,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProposedOnboarding {
    require_email_verification: Option<bool>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// At most this many users listed (10 when absent); the count covers all.
    limit: Option<String>,
}

/// `POST /internal/onboarding/preview-affected-users`: who would become restricted by the
/// proposed onboarding settings, before they are saved (the original's route of that name).
async fn preview_affected_users(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<PreviewQuery>,
    Body(body): Body<OnboardingChange>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let limit = match q.limit.as_deref().unwrap_or("10").parse::<i64>() {
        Ok(n) if (0..=1000).contains(&n) => n,
        _ => {
            return Err(schema_problem(
                "query.limit must be a number from 0 to 1000",
            ))
        }
    };
    let was = auth.project.config.require_email_verification;
    let will = body.onboarding.require_email_verification.unwrap_or(was);
    let (users, total) = if will && !was {
        super::list::without_verified_email(&state, auth.pid(), limit).await?
    } else {
        (Vec::new(), 0)
    };
    Ok(json_ok(serde_json::json!({
        "affected_users": users,
        "total_affected_count": total,
    })))
}
