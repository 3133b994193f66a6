//! Dashboard pages for teams and permissions: the teams list (search, create), a team's page
//! (members with their permissions: add, remove, grant, revoke; payments and checkout for the
//! team), and the permission definitions of both scopes (create, delete). Writes go through the
//! same functions as the API.

use super::pages::{error, project_layout};
use super::session::Admin;
use super::{field, form_context, html, message_of, project_context};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::permissions::routes::{self as permission_routes, DefinitionWrite};
use crate::permissions::{self, Catalog as Permissions, Scope};
use crate::projects::Project;
use crate::teams::{self, Team};
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    let teams = "/dashboard/projects/{project_id}/teams";
    let permissions = "/dashboard/projects/{project_id}/permissions";
    Router::new()
        .route(teams, get(list).post(create))
        .route(&format!("{teams}/{{team_id}}"), get(detail))
        .route(&format!("{teams}/{{team_id}}/members"), post(members))
        .route(permissions, get(definitions).post(save_definitions))
}

fn teams_path(project: &Project) -> String {
    format!("/dashboard/projects/{}/teams", project.id)
}

// ---- Teams list ----------------------------------------------------------------------------

#[derive(Deserialize)]
struct ListParams {
    query: Option<String>,
}

async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(p): Query<ListParams>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_list(
        &state,
        &admin,
        &project,
        p.query.as_deref().unwrap_or(""),
        None,
    )
    .await
}

async fn render_list(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    query: &str,
    message: Option<&str>,
) -> Response {
    let found = match teams::search(state.db(), &project.id, query.trim(), 50).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let base = teams_path(project);
    let page = project_layout(
        "Teams",
        admin,
        project,
        "teams",
        html! {
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Teams" }
                form method="get" action=(base) {
                    input id="team-query" type="text" name="query" value=(query) placeholder="Search by name or ID";
                    button type="submit" { "Search" }
                }
                table id="teams" {
                    tr { th { "Name" } th { "ID" } }
                    @for t in &found {
                        tr { td { a href={ (base) "/" (t.id) } { (t.display_name) } } td { code { (t.id) } } }
                    }
                }
                @if found.is_empty() { p.muted { "No teams found." } }
            }
            div.card {
                h2 { "New team" }
                (error(message))
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="team-name" { "Name" }
                    input id="team-name" type="text" name="display_name" required;
                    button type="submit" { "Create team" }
                }
            }
        },
    );
    super::answer(page, message)
}

async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let name = field(&form, "display_name").trim();
    let result: ApiResult<Team> = async {
        if name.is_empty() {
            return Err(ApiError::bad_request("Give the team a name."));
        }
        let team = teams::new_team(name.to_string());
        let mut conn = state.db().acquire().await?;
        teams::insert(&mut conn, &project.id, &team).await?;
        Ok(team)
    }
    .await;
    match result {
        Ok(team) => Redirect::to(&format!("{}/{}", teams_path(&project), team.id)).into_response(),
        Err(e) => render_list(&state, &admin, &project, "", Some(&message_of(&e))).await,
    }
}

// ---- One team ------------------------------------------------------------------------------

async fn detail(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_team(&state, &payments, &admin, &project, &team_id, None).await
}

/// A member: id, email (or name), direct team permissions.
type Member = (String, String, Vec<String>);

async fn load_members(state: &Kernel, project: &Project, team_id: &str) -> ApiResult<Vec<Member>> {
    let mut grants = permissions::team_grants(state.db(), &project.id, team_id).await?;
    Ok(teams::member_labels(state.db(), &project.id, team_id)
        .await?
        .into_iter()
        .map(|(id, label)| {
            let held = grants.remove(&id).unwrap_or_default();
            (id, label, held)
        })
        .collect())
}

async fn render_team(
    state: &Kernel,
    payments: &Payments,
    admin: &Admin,
    project: &Project,
    team_id: &str,
    message: Option<&str>,
) -> Response {
    let loaded = async {
        let team = teams::find(state.db(), &project.id, team_id).await?;
        let Some(team) = team else { return Ok(None) };
        let members = load_members(state, project, team_id).await?;
        let definitions = Permissions::load(state.db(), &project.id).await?;
        let catalog = payments.catalog(state, &project.id).await?;
        Ok::<_, ApiError>(Some((team, members, definitions, catalog)))
    }
    .await;
    let (team, members, definitions, catalog) = match loaded {
        Ok(Some(x)) => x,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, html(super::pages::not_found(admin))).into_response()
        }
        Err(e) => return e.into_response(),
    };
    let action = format!("{}/{}/members", teams_path(project), team.id);
    let csrf = admin.csrf_token();
    let team_permissions: Vec<&String> = definitions
        .0
        .values()
        .filter(|d| d.scope == Scope::Team)
        .map(|d| &d.id)
        .collect();
    let member_form = |op: &str, user_id: &str, permission: Option<&str>, label: &str| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="op" value=(op);
                input type="hidden" name="user_id" value=(user_id);
                @if let Some(p) = permission { input type="hidden" name="permission_id" value=(p); }
                button.danger type="submit" { (label) }
            }
        }
    };
    let page = project_layout(
        &team.display_name,
        admin,
        project,
        "teams",
        html! {
            div.card {
                h1 { a href=(teams_path(project)) { (project.display_name) " · Teams" } " · " (team.display_name) }
                p.muted { code { (team.id) } }
                p {
                    a href={ "/dashboard/projects/" (project.id) "/payments/customers/team/" (team.id) } { "Payments →" } " "
                    (super::payments::checkout_dialog(admin, project, &catalog, Some(("team", &team.id)), None))
                }
            }
            div.card {
                h2 { "Members" }
                (error(message))
                table id="members" {
                    tr { th { "Member" } th { "Permissions" } th {} }
                    @for (id, label, grants) in &members {
                        tr {
                            td { a href={ "/dashboard/projects/" (project.id) "/users/" (id) } { (label) } }
                            td {
                                @for g in grants { code { (g) } " " (member_form("revoke", id, Some(g), "×")) " " }
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="op" value="grant";
                                    input type="hidden" name="user_id" value=(id);
                                    select name="permission_id" aria-label="Permission to grant" required {
                                        // No default: a click on Grant must not hand out the first (often `$delete_team`).
                                        option value="" selected disabled { "Choose…" }
                                        @for p in &team_permissions { option value=(p) { (p) } }
                                    }
                                    button type="submit" style="margin:0 0 0 4px;padding:6px 10px" { "Grant" }
                                }
                            }
                            td { (member_form("remove", id, None, "Remove")) }
                        }
                    }
                }
                @if members.is_empty() { p.muted { "No members yet." } }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="add";
                    label for="member-email" { "Add a user by email or ID" }
                    input id="member-email" type="text" name="user" required;
                    button type="submit" { "Add member" }
                }
            }
        },
    );
    super::answer(page, message)
}

/// A user by id or sign-in email.
async fn find_user(state: &Kernel, project: &Project, who: &str) -> ApiResult<String> {
    let who = who.trim();
    if crate::users::exists(state.db(), &project.id, who).await? {
        return Ok(who.to_string());
    }
    let email = crate::users::normalize_email(who);
    crate::users::find_by_auth_email(state.db(), &project.id, &email)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| known::user_not_found().into())
}

async fn members(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result: ApiResult<()> = async {
        teams::require(state.db(), &project.id, &team_id).await?;
        let user_id = match field(&form, "op") {
            "add" => find_user(&state, &project, field(&form, "user")).await?,
            _ => field(&form, "user_id").to_string(),
        };
        let permission_id = field(&form, "permission_id");
        let member = teams::is_member(state.db(), &project.id, &team_id, &user_id).await?;
        match (field(&form, "op"), member) {
            ("add", true) => Err(known::team_membership_already_exists().into()),
            ("add", false) => {
                let mut tx = state.db().begin().await?;
                teams::add_member_with_defaults(&mut tx, &project, &team_id, &user_id, false)
                    .await?;
                Ok(tx.commit().await?)
            }
            (_, false) => Err(known::team_membership_not_found(&team_id, &user_id).into()),
            ("remove", true) => {
                teams::members::remove_member(&state, &project.id, &team_id, &user_id).await
            }
            ("grant", true) => {
                permission_routes::check_grantable(&state, &project.id, Scope::Team, permission_id)
                    .await?;
                let mut conn = state.db().acquire().await?;
                Ok(permissions::grant(
                    &mut conn,
                    &project.id,
                    &user_id,
                    Some(&team_id),
                    permission_id,
                )
                .await?)
            }
            ("revoke", true) => {
                permission_routes::revoke(&state, &project.id, &user_id, &team_id, permission_id)
                    .await
                    .map(|_| ())
            }
            _ => Err(ApiError::bad_request("Unknown member action.")),
        }
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("{}/{}", teams_path(&project), team_id)).into_response(),
        Err(e) => {
            render_team(
                &state,
                &payments,
                &admin,
                &project,
                &team_id,
                Some(&message_of(&e)),
            )
            .await
        }
    }
}

// ---- Permission definitions ----------------------------------------------------------------

async fn definitions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render_definitions(&state, &admin, &project, None).await
}

fn scope_of(name: &str) -> Option<Scope> {
    match name {
        "team" => Some(Scope::Team),
        "project" => Some(Scope::Project),
        _ => None,
    }
}

async fn render_definitions(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    message: Option<&str>,
) -> Response {
    let catalog = match Permissions::load(state.db(), &project.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let action = format!("/dashboard/projects/{}/permissions", project.id);
    let csrf = admin.csrf_token();
    let table = |scope: Scope| -> Markup {
        html! {
            table id={ (scope.as_str()) "-permissions" } {
                tr { th { "ID" } th { "Description" } th { "Contains" } th {} }
                @for d in catalog.0.values().filter(|d| d.scope == scope) {
                    tr {
                        td { code { (d.id) } }
                        td { (d.description.as_deref().unwrap_or("")) }
                        td { @for c in &d.contained { code { (c) } " " } }
                        td {
                            @if !d.id.starts_with('$') {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="op" value="delete";
                                    input type="hidden" name="scope" value=(scope.as_str());
                                    input type="hidden" name="id" value=(d.id);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = project_layout(
        "Permissions",
        admin,
        project,
        "permissions",
        html! {
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Permissions" }
                h2 { "Team permissions" }
                (table(Scope::Team))
                h2 style="margin-top:20px" { "Project permissions" }
                (table(Scope::Project))
            }
            div.card {
                h2 { "New permission" }
                (error(message))
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="create";
                    label { "Scope" }
                    select name="scope" { option value="team" { "team" } option value="project" { "project" } }
                    label for="permission-id" { "ID (lowercase letters, digits, '_' and ':')" }
                    input id="permission-id" type="text" name="id" required;
                    label for="permission-description" { "Description" }
                    input id="permission-description" type="text" name="description";
                    label for="permission-contains" { "Contains (IDs, comma-separated)" }
                    input id="permission-contains" type="text" name="contained";
                    button type="submit" { "Create permission" }
                }
            }
        },
    );
    super::answer(page, message)
}

async fn save_definitions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result: ApiResult<()> = async {
        let scope = scope_of(field(&form, "scope"))
            .ok_or_else(|| ApiError::bad_request("Choose the team or project scope."))?;
        let id = field(&form, "id").trim().to_string();
        if field(&form, "op") == "delete" {
            return permission_routes::delete_definition(&state, &project.id, scope, &id).await;
        }
        let description = field(&form, "description").trim();
        let contained = field(&form, "contained")
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let w = DefinitionWrite {
            id: Some(id),
            description: (!description.is_empty()).then(|| description.to_string()),
            contained_permission_ids: Some(contained),
        };
        permission_routes::create_definition(&state, &project.id, scope, w)
            .await
            .map(|_| ())
    }
    .await;
    match result {
        Ok(()) => {
            Redirect::to(&format!("/dashboard/projects/{}/permissions", project.id)).into_response()
        }
        Err(e) => render_definitions(&state, &admin, &project, Some(&message_of(&e))).await,
    }
}
