//! Project endpoints: the current project (client and admin views), the `internal` project's
//! project list/create, JWKS, and the API root.

use super::update::{self, ProjectUpdate};
use super::{keys, Project, INTERNAL};
use crate::auth::context::{ApiState, RequestCtx, ADMIN, ANY};
use crate::http::extract::{parse_value, schema_problem, RawBody};
use crate::http::url::percent_encode;
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/projects/current", get(current))
        .api_route("/internal/projects", get(list_owned).post(create))
        .api_route("/internal/projects/transfer", post(transfer))
        .api_route(
            "/internal/projects/current",
            get(admin_current)
                .patch(update_current)
                .delete(delete_current),
        )
        .api_route("/projects/{project_id}/.well-known/jwks.json", get(jwks))
        .api_route(
            "/projects-anonymous-users/{project_id}/.well-known/{*rest}",
            // Every method the original's alias answers.
            get(anonymous_discovery)
                .post(anonymous_discovery)
                .put(anonymous_discovery)
                .patch(anonymous_discovery)
                .delete(anonymous_discovery),
        )
        .api_route("/check-feature-support", post(check_feature_support))
        .merge(super::key_set_routes::routes())
}

/// `GET /api/v1`: a plain-text greeting that says how the request authenticated.
pub async fn api_root(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(_): Query<NoQuery>,
) -> ApiResult<Response> {
    let mut text = "Welcome to the Stack API endpoint! Please refer to the documentation at https://docs.stack-auth.com.\n\n".to_string();
    match &ctx.auth {
        None => text.push_str("Authentication: None"),
        Some(auth) => {
            let kind = match auth.access_type.as_str() {
                "client" => "Client",
                "server" => "Server",
                _ => "Admin",
            };
            let user = match auth.current_user(&state).await? {
                Some(u) => u.primary_email.unwrap_or(u.id),
                None => "None".into(),
            };
            text.push_str(&format!(
                "Authentication: {kind}\n  Project: {}\n  User: {user}",
                auth.project.id
            ));
        }
    }
    Ok(([("content-type", "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

async fn current(ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    Ok(json_ok(auth.project.client_json()))
}

async fn admin_current(ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    Ok(json_ok(auth.project.admin_json()))
}

async fn update_current(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let u: ProjectUpdate = parse_value(body, "body")?;
    if u.owner_team_id.is_some() {
        return Err(schema_problem(
            "body contains unknown properties: owner_team_id",
        ));
    }
    let mut project = Project::clone(&auth.project);
    update::apply_and_save(&state, &state.projects, &mut project, u).await?;
    Ok(json_ok(project.admin_json()))
}

async fn delete_current(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    if auth.project.id == INTERNAL {
        return Err(ApiError::bad_request(
            "The internal project cannot be deleted.",
        ));
    }
    super::delete(state.db(), &auth.project.id).await?;
    state.projects.forget(&auth.project.id);
    Ok(success())
}

/// For `internal/projects`: any access type on project `internal`, with a signed-in user.
async fn internal_user(state: &Kernel, ctx: &RequestCtx) -> ApiResult<crate::users::User> {
    let auth = ctx.require(ANY)?;
    let user = auth
        .current_user(state)
        .await?
        .ok_or_else(known::user_authentication_required)?;
    if auth.project.id != INTERNAL {
        return Err(known::expected_internal_project().into());
    }
    Ok(user)
}

async fn list_owned(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let user = internal_user(&state, &ctx).await?;
    let items: Vec<_> = super::list_owned_by(&state, &user.id)
        .await?
        .iter()
        .map(Project::admin_json)
        .collect();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let user = internal_user(&state, &ctx).await?;
    let mut u: ProjectUpdate = parse_value(body, "body")?;
    let mut problems = Vec::new();
    if u.display_name.is_none() {
        problems.push("body.display_name must be defined".to_string());
    }
    match &u.owner_team_id {
        None => problems.push("body.owner_team_id must be defined".into()),
        Some(t) if uuid::Uuid::parse_str(t).is_err() => {
            problems.push("body.owner_team_id must be a valid UUID".into())
        }
        _ => {}
    }
    if !problems.is_empty() {
        return Err(crate::http::extract::schema_error(&problems));
    }
    let owner = u.owner_team_id.take().unwrap_or_default();
    if !crate::teams::is_member(state.db(), INTERNAL, &owner, &user.id).await? {
        return Err(known::team_membership_not_found(&owner, &user.id).into());
    }
    let mut project = super::new_project(String::new(), Some(owner));
    update::apply(&mut project, u)?;
    super::create_with_keys(&state, &project, keys::generate_keys()).await?;
    Ok(json_created(project.admin_json()))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct JwksQuery {
    include_restricted: Option<String>,
    include_anonymous: Option<String>,
}

async fn jwks(
    State(state): State<ApiState>,
    Path(project_id): Path<String>,
    Query(q): Query<JwksQuery>,
) -> ApiResult<Response> {
    use crate::http::extract::query_bool;
    let include_anonymous = query_bool(&q.include_anonymous, "include_anonymous")?;
    let include_restricted =
        include_anonymous || query_bool(&q.include_restricted, "include_restricted")?;
    if state.projects.get(&state, &project_id).await?.is_none() {
        return Err(ApiError::text(StatusCode::NOT_FOUND, "Project not found"));
    }
    let mut audiences = vec![project_id.clone()];
    if include_restricted {
        audiences.push(format!("{project_id}:restricted"));
    }
    if include_anonymous {
        audiences.push(format!("{project_id}:anon"));
    }
    let keys: Vec<_> = audiences
        .iter()
        .map(|a| state.jwt.key_for(a).jwk())
        .collect();
    Ok((
        [("cache-control", "public, max-age=3600")],
        axum::Json(json!({ "keys": keys })),
    )
        .into_response())
}

async fn anonymous_discovery(
    Path((project_id, rest)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    let prefix = if uri.path().starts_with("/api/latest") {
        "/api/latest"
    } else {
        "/api/v1"
    };
    // The segments arrive decoded: encode them again, or a control character in them would
    // make the Location header invalid.
    let encode_path = |p: &str| {
        p.split('/')
            .map(percent_encode)
            .collect::<Vec<_>>()
            .join("/")
    };
    let (project_id, rest) = (percent_encode(&project_id), encode_path(&rest));
    let mut target = format!("{prefix}/projects/{project_id}/.well-known/{rest}?");
    if let Some(q) = uri.query() {
        target.push_str(q);
        target.push('&');
    }
    target.push_str("include_anonymous=true");
    Redirect::temporary(&target).into_response()
}

async fn check_feature_support(RawBody(body): RawBody) -> Response {
    let name = body
        .get("feature_name")
        .and_then(|v| v.as_str())
        .unwrap_or("This feature");
    (
        [("content-type", "text/plain; charset=utf-8")],
        format!(
            "{name} is not yet supported. Please reach out to Stack support for more information."
        ),
    )
        .into_response()
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Transfer {
    project_id: String,
    new_team_id: String,
}

/// `POST /internal/projects/transfer` (a signed-in dashboard user): gives a project to another
/// team of the internal project. The caller must hold `team_admin` in the owning team and be a
/// member of the new one (the original's route of that name).
async fn transfer(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Transfer>,
) -> ApiResult<Response> {
    let user = internal_user(&state, &ctx).await?;
    let Some(mut project) = super::find(&state, &body.project_id).await? else {
        return Err(known::project_not_found(&body.project_id).into());
    };
    let Some(owner) = project.owner_team_id.clone() else {
        return Err(ApiError::bad_request(
            "Project must have an owner team to be transferred",
        ));
    };
    if !crate::permissions::has_team_permission(
        state.db(),
        INTERNAL,
        &owner,
        &user.id,
        "team_admin",
    )
    .await?
    {
        return Err(
            crate::permissions::team_permission_required(&owner, &user.id, "team_admin").into(),
        );
    }
    if !crate::teams::is_member(state.db(), INTERNAL, &body.new_team_id, &user.id).await? {
        return Err(known::team_membership_not_found(&body.new_team_id, &user.id).into());
    }
    project.owner_team_id = Some(body.new_team_id);
    super::set_owner(&state, &project).await?;
    state.projects.forget(&project.id);
    Ok(json_ok(json!({ "success": "true" })))
}
