//! Dashboard pages for teams and permissions: the teams list (search, create), a team's page
//! (rename; members with their permissions: add, remove, grant, revoke; invitations: pending,
//! send by email, revoke; payments and checkout for the team; delete, confirmed by typing the
//! name), and the permission definitions of both scopes (create, delete). Writes go through the
//! same functions as the API; each action ends in a notice (`?done=…`) or a refusal beside its
//! form that keeps the input.

use super::pages::project_layout;
use super::project::{copyable, notice, scroll, styles, Outcome};
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
use crate::teams::{self, invitations, Team};
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
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
        .route(&format!("{teams}/{{team_id}}/rename"), post(rename))
        .route(&format!("{teams}/{{team_id}}/delete"), post(delete))
        .route(
            &format!("{teams}/{{team_id}}/invitations"),
            post(invitations),
        )
        .route(permissions, get(definitions).post(save_definitions))
}

fn teams_path(project: &Project) -> String {
    format!("/dashboard/projects/{}/teams", project.id)
}

// ---- Teams list ----------------------------------------------------------------------------

#[derive(Deserialize)]
struct ListParams {
    query: Option<String>,
    done: Option<String>,
}

/// The notices an action's redirect may name (`?done=<key>`): only these texts are shown.
const DONE: [(&str, &str); 10] = [
    ("created", "Team created."),
    ("deleted", "Team deleted."),
    ("renamed", "Team renamed."),
    ("added", "Member added."),
    ("removed", "Member removed."),
    ("granted", "Permission granted."),
    ("revoked", "Permission revoked."),
    ("invited", "Invitation sent."),
    (
        "invitation-revoked",
        "Invitation revoked: its link no longer works.",
    ),
    ("unchanged", "Nothing to change."),
];

fn done_text(key: Option<&str>) -> Option<&'static str> {
    DONE.iter().find(|(k, _)| Some(*k) == key).map(|(_, t)| *t)
}

async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(p): Query<ListParams>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let outcome = Outcome::done(done_text(p.done.as_deref()));
    let query = p.query.as_deref().unwrap_or("");
    render_list(&state, &admin, &project, query, outcome).await
}

async fn render_list(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    query: &str,
    outcome: Outcome<'_>,
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
            (styles())
            (notice(outcome.done))
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Teams" }
                form method="get" action=(base) {
                    input id="team-query" type="text" name="query" value=(query) placeholder="Search by name or ID";
                    button type="submit" { "Search" }
                }
                @if found.is_empty() {
                    p.muted.empty { @if query.trim().is_empty() { "No teams yet. Create one below." } @else { "No teams match “" (query) "”." } }
                } @else {
                    (scroll(html! {
                        table id="teams" {
                            tr { th { "Name" } th { "ID" } }
                            @for t in &found {
                                tr { td { a href={ (base) "/" (t.id) } { (t.display_name) } } td { code { (t.id) } } }
                            }
                        }
                    }))
                }
            }
            div.card {
                h2 { "New team" }
                (outcome.error_in("create"))
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="team-name" { "Name" }
                    input id="team-name" type="text" name="display_name" required value=(outcome.draft("display_name", String::new));
                    button type="submit" { "Create team" }
                }
            }
        },
    );
    answer(page, outcome)
}

/// A page that may carry a refusal: 400 when it does, else 200.
fn answer(page: Markup, outcome: Outcome) -> Response {
    super::answer(page, outcome.refusal())
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
        if name.is_empty() || name.chars().count() > 256 {
            return Err(ApiError::bad_request(
                "Give the team a name of 1 to 256 characters.",
            ));
        }
        let team = teams::new_team(name.to_string());
        let mut conn = state.db().acquire().await?;
        teams::insert(&mut conn, &project.id, &team).await?;
        Ok(team)
    }
    .await;
    match result {
        Ok(team) => Redirect::to(&format!(
            "{}/{}?done=created",
            teams_path(&project),
            team.id
        ))
        .into_response(),
        Err(e) => {
            let message = message_of(&e);
            let outcome = Outcome::failed("create", &message, &form);
            render_list(&state, &admin, &project, "", outcome).await
        }
    }
}

// ---- One team ------------------------------------------------------------------------------

async fn detail(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
    Query(q): Query<DoneParams>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let outcome = Outcome::done(done_text(q.done.as_deref()));
    render_team(&state, &payments, &admin, &project, &team_id, outcome).await
}

#[derive(Deserialize)]
struct DoneParams {
    done: Option<String>,
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
    outcome: Outcome<'_>,
) -> Response {
    let loaded = async {
        let team = teams::find(state.db(), &project.id, team_id).await?;
        let Some(team) = team else { return Ok(None) };
        let members = load_members(state, project, team_id).await?;
        let definitions = Permissions::load(state.db(), &project.id).await?;
        let catalog = payments.catalog(state, &project.id).await?;
        let invitations = invitations::open_for_team(state, &project.id, team_id).await?;
        Ok::<_, ApiError>(Some((team, members, definitions, catalog, invitations)))
    }
    .await;
    let (team, members, definitions, catalog, invitations) = match loaded {
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
    let here = format!("{}/{}", teams_path(project), team.id);
    let page = project_layout(
        &team.display_name,
        admin,
        project,
        "teams",
        html! {
            (styles())
            (notice(outcome.done))
            div.card {
                h1 { a href=(teams_path(project)) { (project.display_name) " · Teams" } " · " span id="team-name-title" { (team.display_name) } }
                (copyable("team-id", "team ID", &team.id))
                p {
                    a href={ "/dashboard/projects/" (project.id) "/payments/customers/team/" (team.id) } { "Payments →" } " "
                    (super::payments::checkout_dialog(admin, project, &catalog, Some(("team", &team.id)), None))
                }
                (outcome.error_in("rename"))
                form.row method="post" action={ (here) "/rename" } {
                    input type="hidden" name="csrf" value=(csrf);
                    div style="flex:1 1 200px" {
                        label for="rename" { "Name" }
                        input id="rename" type="text" name="display_name" value=(outcome.draft("display_name", || team.display_name.clone()));
                    }
                    button type="submit" { "Rename team" }
                }
            }
            div.card id="members-card" {
                h2 { "Members" }
                (outcome.error_in("members"))
                @if members.is_empty() {
                    p.muted.empty { "No members yet. Add a user below, or invite someone by email." }
                } @else {
                    (scroll(html! {
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
                    }))
                }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="add";
                    label for="member-email" { "Add a user by email or ID" }
                    input id="member-email" type="text" name="user" required value=(outcome.draft("user", String::new));
                    button type="submit" { "Add member" }
                }
            }
            div.card id="invitations-card" {
                h2 { "Invitations" }
                (outcome.error_in("invitations"))
                @if invitations.is_empty() {
                    p.muted.empty { "No pending invitations." }
                } @else {
                    (scroll(html! {
                        table id="invitations" {
                            tr { th { "Email" } th { "Expires" } th {} }
                            @for i in &invitations {
                                tr {
                                    td { (i["recipient_email"].as_str().unwrap_or("")) }
                                    td.muted { (super::pages::when(i["expires_at_millis"].as_i64())) }
                                    td {
                                        form.inline method="post" action={ (here) "/invitations" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="op" value="revoke";
                                            input type="hidden" name="id" value=(i["id"].as_str().unwrap_or(""));
                                            button.danger type="submit" aria-label={ "Revoke the invitation to " (i["recipient_email"].as_str().unwrap_or("")) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }))
                }
                form method="post" action={ (here) "/invitations" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="send";
                    label for="invite-email" { "Invite by email (they get a link to join)" }
                    input id="invite-email" type="email" name="email" required value=(outcome.draft("email", String::new));
                    button type="submit" { "Send invitation" }
                }
            }
            div.card id="delete-card" {
                h2 { "Delete team" }
                p.muted { "Deletes the team, its memberships and their team permissions for good. Type the team's name to confirm." }
                (outcome.error_in("delete"))
                form method="post" action={ (here) "/delete" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="delete-team-confirm" { "Team name" }
                    input id="delete-team-confirm" type="text" name="confirm" placeholder=(team.display_name) autocomplete="off" value=(outcome.draft("confirm", String::new));
                    button.danger type="submit" style="margin-top:10px;padding:9px 16px" { "Delete team" }
                }
            }
        },
    );
    answer(page, outcome)
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
    let result: ApiResult<&'static str> = async {
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
                tx.commit().await?;
                Ok("added")
            }
            (_, false) => Err(known::team_membership_not_found(&team_id, &user_id).into()),
            ("remove", true) => {
                teams::members::remove_member(&state, &project.id, &team_id, &user_id).await?;
                Ok("removed")
            }
            ("grant", true) => {
                permission_routes::check_grantable(&state, &project.id, Scope::Team, permission_id)
                    .await?;
                let mut conn = state.db().acquire().await?;
                permissions::grant(
                    &mut conn,
                    &project.id,
                    &user_id,
                    Some(&team_id),
                    permission_id,
                )
                .await?;
                Ok("granted")
            }
            ("revoke", true) => {
                permission_routes::revoke(&state, &project.id, &user_id, &team_id, permission_id)
                    .await?;
                Ok("revoked")
            }
            _ => Err(ApiError::bad_request("Unknown member action.")),
        }
    }
    .await;
    after(
        &state,
        &payments,
        (&admin, &project, &team_id),
        "members",
        &form,
        result,
    )
    .await
}

/// The answer to a team-page action: back to the page with the notice `done`, or the page again
/// with the refusal in `section` and the form's input kept.
async fn after(
    state: &Kernel,
    payments: &Payments,
    (admin, project, team_id): (&Admin, &Project, &str),
    section: &'static str,
    form: &Value,
    result: ApiResult<&'static str>,
) -> Response {
    match result {
        Ok(done) => Redirect::to(&format!("{}/{}?done={done}", teams_path(project), team_id))
            .into_response(),
        Err(e) => {
            let message = message_of(&e);
            let outcome = Outcome::failed(section, &message, form);
            let mut res = render_team(state, payments, admin, project, team_id, outcome).await;
            // A limit's 429 and its Retry-After, as other refused forms answer.
            if let ApiError::Throttled { .. } = e {
                let limited = super::refused(&e, maud::html! {});
                *res.status_mut() = limited.status();
                if let Some(v) = limited.headers().get("retry-after") {
                    res.headers_mut().insert("retry-after", v.clone());
                }
            }
            res
        }
    }
}

async fn rename(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let name = field(&form, "display_name").trim();
    let result = async {
        if name.is_empty() {
            return Err(ApiError::bad_request("Give the team a name."));
        }
        if name.chars().count() > 256 {
            return Err(ApiError::bad_request(
                "Keep the team name to 256 characters or fewer.",
            ));
        }
        let team = teams::require(state.db(), &project.id, &team_id).await?;
        if team.display_name == name {
            return Ok("unchanged");
        }
        teams::routes::rename(&state, &project.id, &team_id, name).await?;
        Ok("renamed")
    }
    .await;
    after(
        &state,
        &payments,
        (&admin, &project, &team_id),
        "rename",
        &form,
        result,
    )
    .await
}

async fn delete(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        let team = teams::require(state.db(), &project.id, &team_id).await?;
        if field(&form, "confirm").trim() != team.display_name {
            return Err(ApiError::bad_request(
                "Type the team's name exactly to delete it.",
            ));
        }
        teams::routes::delete_team(&state, &project.id, &team_id).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("{}?done=deleted", teams_path(&project))).into_response(),
        Err(e) => {
            let ctx = (&admin, &project, team_id.as_str());
            after(&state, &payments, ctx, "delete", &form, Err(e)).await
        }
    }
}

async fn invitations(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    headers: HeaderMap,
    Path((project_id, team_id)): Path<(String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result = async {
        let team = teams::require(state.db(), &project.id, &team_id).await?;
        match field(&form, "op") {
            "send" => {
                let email = field(&form, "email").trim();
                if !crate::users::is_valid_email(email) {
                    return Err(ApiError::bad_request("Enter a valid email address."));
                }
                let email = crate::users::normalize_email(email);
                crate::codes::limit_send(&state, None, &project.id, &email).await?;
                let callback = format!(
                    "{}/handler/{}/team-invitation",
                    state.public_url.trim_end_matches('/'),
                    project.id
                );
                invitations::invite(&state, &project, &team, &email, &callback).await?;
                Ok("invited")
            }
            "revoke" => {
                let id = field(&form, "id");
                let open = invitations::open_for_team(&state, &project.id, &team.id).await?;
                if !open.iter().any(|i| i["id"].as_str() == Some(id)) {
                    return Err(ApiError::bad_request(
                        "No such pending invitation: it was accepted, revoked or has expired.",
                    ));
                }
                invitations::revoke_invitation(&state, &project.id, id).await?;
                Ok("invitation-revoked")
            }
            _ => Err(ApiError::bad_request("Unknown invitation action.")),
        }
    }
    .await;
    let kept = match field(&form, "op") {
        "send" => form.clone(),
        _ => Value::Null,
    };
    after(
        &state,
        &payments,
        (&admin, &project, &team_id),
        "invitations",
        &kept,
        result,
    )
    .await
}

// ---- Permission definitions ----------------------------------------------------------------

async fn definitions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<DoneParams>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let done = match q.done.as_deref() {
        Some("created") => Some("Permission created."),
        Some("deleted") => Some("Permission deleted."),
        _ => None,
    };
    render_definitions(&state, &admin, &project, Outcome::done(done)).await
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
    outcome: Outcome<'_>,
) -> Response {
    let catalog = match Permissions::load(state.db(), &project.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let action = format!("/dashboard/projects/{}/permissions", project.id);
    let csrf = admin.csrf_token();
    let table = |scope: Scope| -> Markup {
        let none = !catalog.0.values().any(|d| d.scope == scope);
        html! {
            @if none { p.muted.empty { "No " (scope.as_str()) " permissions yet." } }
            div.scroll {
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
        }
    };
    let page = project_layout(
        "Permissions",
        admin,
        project,
        "permissions",
        html! {
            (styles())
            (notice(outcome.done))
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Permissions" }
                h2 { "Team permissions" }
                (table(Scope::Team))
                h2 style="margin-top:20px" { "Project permissions" }
                (table(Scope::Project))
            }
            div.card {
                h2 { "New permission" }
                (outcome.error_in("create"))
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="create";
                    label { "Scope" }
                    select name="scope" aria-label="Scope" {
                        option value="team" { "team" }
                        option value="project" selected[outcome.draft("scope", String::new) == "project"] { "project" }
                    }
                    label for="permission-id" { "ID (lowercase letters, digits, '_' and ':')" }
                    input id="permission-id" type="text" name="id" required value=(outcome.draft("id", String::new));
                    label for="permission-description" { "Description" }
                    input id="permission-description" type="text" name="description" value=(outcome.draft("description", String::new));
                    label for="permission-contains" { "Contains (IDs, comma-separated)" }
                    input id="permission-contains" type="text" name="contained" value=(outcome.draft("contained", String::new));
                    button type="submit" { "Create permission" }
                }
            }
        },
    );
    answer(page, outcome)
}

async fn save_definitions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result: ApiResult<&'static str> = async {
        let scope = scope_of(field(&form, "scope"))
            .ok_or_else(|| ApiError::bad_request("Choose the team or project scope."))?;
        let id = field(&form, "id").trim().to_string();
        if field(&form, "op") == "delete" {
            permission_routes::delete_definition(&state, &project.id, scope, &id).await?;
            return Ok("deleted");
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
        permission_routes::create_definition(&state, &project.id, scope, w).await?;
        Ok("created")
    }
    .await;
    match result {
        Ok(done) => Redirect::to(&format!(
            "/dashboard/projects/{}/permissions?done={done}",
            project.id
        ))
        .into_response(),
        Err(e) => {
            let message = message_of(&e);
            let kept = match field(&form, "op") {
                "delete" => Value::Null,
                _ => form.clone(),
            };
            let outcome = Outcome::failed("create", &message, &kept);
            render_definitions(&state, &admin, &project, outcome).await
        }
    }
}
