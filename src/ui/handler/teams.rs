//! Teams on a project's pages: the signed-in user's teams with "create a team" (on the account
//! page, where one is made the current team), a team's page (members, invite by email, rename,
//! leave), and `team-invitation`, the page the
//! invitation email links to (sign in or sign up first, then join). Each write goes through the
//! teams domain functions, with the API's permission checks and refusals.

use super::session::{self, EndUser};
use super::{page, page_url, refused, sign_in_url, text, ProjectPage, SignedIn};
use crate::api_keys::Owner;
use crate::auth::context::ApiState;
use crate::codes;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::permissions::{INVITE_MEMBERS, MANAGE_API_KEYS, UPDATE_TEAM};
use crate::projects::Project;
use crate::teams::access::require_member_permission;
use crate::teams::invitations::{accept_with_code, invitation_team, invite};
use crate::teams::members::remove_member;
use crate::teams::routes::create_by_user;
use crate::teams::{self, Team};
use crate::ui::html;
use crate::users::write::{self, UserWrite};
use crate::users::{is_valid_email, normalize_email};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route("/handler/{project_id}/teams", post(create))
        .route("/handler/{project_id}/teams/{team_id}", get(team_page))
        .route(
            "/handler/{project_id}/teams/{team_id}/invite",
            post(send_invite),
        )
        .route(
            "/handler/{project_id}/teams/{team_id}/{action}",
            post(change_team),
        )
        .route(
            "/handler/{project_id}/team-invitation",
            get(invitation_page).post(accept),
        )
}

fn team_path(project: &Project, team_id: &str) -> String {
    format!("/handler/{}/teams/{team_id}", project.id)
}

/// The account page's teams card: the user's teams and, when the project lets users create
/// them, the form to.
pub(super) async fn teams_card(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
) -> ApiResult<Markup> {
    let mine = teams::of_user(state.db(), &project.id, &me.user.id).await?;
    Ok(html! {
        h2.section { "Teams" }
        @if mine.is_empty() { p.muted { "You are not in a team yet." } }
        ul.rows #teams {
            @for (id, name) in &mine {
                li {
                    a.value href=(team_path(project, id)) { (name) }
                    @if me.user.selected_team_id.as_deref() == Some(id.as_str()) {
                        span.tag { "Current" }
                    } @else {
                        form.inline method="post" action={ (team_path(project, id)) "/select" } {
                            input type="hidden" name="csrf" value=(me.csrf_token());
                            button.small type="submit" { "Make current" }
                        }
                    }
                }
            }
        }
        @if project.config.client_team_creation_enabled {
            form method="post" action={ "/handler/" (project.id) "/teams" } {
                input type="hidden" name="csrf" value=(me.csrf_token());
                label for="team-name" { "New team's name" }
                input #team-name type="text" name="display_name" maxlength="256" required;
                button type="submit" { "Create team" }
            }
        }
    })
}

async fn create(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let created = async {
        me.check_csrf(text(&form, "csrf"))?;
        create_by_user(
            &state,
            &project,
            &me.user.id,
            text(&form, "display_name").trim(),
        )
        .await
    }
    .await;
    match created {
        Ok(team) => Redirect::to(&team_path(&project, &team.id)).into_response(),
        Err(e) => refused(&project, "Create a team", &e),
    }
}

/// A team the signed-in user belongs to (holding `permission`, if given). Errors: the
/// membership and permission errors, TEAM_NOT_FOUND.
async fn member_team(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
    team_id: &str,
    permission: Option<&str>,
) -> ApiResult<Team> {
    teams::check_team_id(team_id)?;
    require_member_permission(state.db(), &project.id, team_id, &me.user.id, permission).await?;
    teams::require(state.db(), &project.id, team_id).await
}

async fn team_markup(
    state: &Kernel,
    project: &Project,
    me: &EndUser,
    team: &Team,
    invited: bool,
) -> ApiResult<Markup> {
    let members = teams::member_labels(state.db(), &project.id, &team.id).await?;
    let may = |permission| {
        crate::permissions::has_team_permission(
            state.db(),
            &project.id,
            &team.id,
            &me.user.id,
            permission,
        )
    };
    let may_invite = may(INVITE_MEMBERS).await?;
    let may_rename = may(UPDATE_TEAM).await?;
    let csrf = me.csrf_token();
    let keys = if may(MANAGE_API_KEYS).await? {
        super::api_keys::card(state, project, Owner::Team, &team.id, &csrf).await?
    } else {
        html! {}
    };
    Ok(page(
        project,
        &team.display_name,
        html! {
            p.muted { a href={ "/handler/" (project.id) "/account-settings" } { "← Account" } }
            h1 { (team.display_name) }
            @if invited { p.notice role="status" { "Invitation sent." } }
            h2 { "Members" }
            ul #members { @for (_, label) in &members { li { (label) } } }
            @if may_invite {
                form method="post" action={ (team_path(project, &team.id)) "/invite" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="invite-email" { "Invite by email" }
                    input #invite-email type="email" name="email" required;
                    button type="submit" { "Send invitation" }
                }
            }
            @if may_rename {
                h2.section { "Name" }
                form method="post" action={ (team_path(project, &team.id)) "/rename" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="team-display-name" { "Team name" }
                    input #team-display-name type="text" name="display_name" value=(team.display_name) maxlength="256" required;
                    button type="submit" { "Rename team" }
                }
            }
            (keys)
            h2.section { "Leave" }
            form method="post" action={ (team_path(project, &team.id)) "/leave" } {
                input type="hidden" name="csrf" value=(csrf);
                label { input #confirm-leave type="checkbox" name="confirm" value="yes" required; " Leave " (team.display_name) "; an admin must invite me to come back" }
                button.danger type="submit" { "Leave team" }
            }
        },
    ))
}

#[derive(Deserialize)]
struct TeamQuery {
    invited: Option<String>,
}

async fn team_page(
    State(state): State<ApiState>,
    Path((_, team_id)): Path<(String, String)>,
    SignedIn { project, me }: SignedIn,
    Query(q): Query<TeamQuery>,
) -> Response {
    let shown = async {
        let team = member_team(&state, &project, &me, &team_id, None).await?;
        team_markup(&state, &project, &me, &team, q.invited.is_some()).await
    }
    .await;
    match shown {
        Ok(markup) => html(markup),
        Err(e) => refused(&project, "Team", &e),
    }
}

async fn send_invite(
    State(state): State<ApiState>,
    Path((_, team_id)): Path<(String, String)>,
    SignedIn { project, me }: SignedIn,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let sent = async {
        me.check_csrf(text(&form, "csrf"))?;
        let team = member_team(&state, &project, &me, &team_id, Some(INVITE_MEMBERS)).await?;
        let email = text(&form, "email").trim();
        if !is_valid_email(email) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let email = normalize_email(email);
        codes::limit_send(&state, Some(&ip), &project.id, &email).await?;
        let callback = page_url(&state, &project, "team-invitation");
        invite(&state, &project, &team, &email, &callback).await?;
        Ok(team)
    }
    .await;
    match sent {
        Ok(team) => {
            Redirect::to(&format!("{}?invited=1", team_path(&project, &team.id))).into_response()
        }
        Err(e) => refused(&project, "Team", &e),
    }
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn invitation_page(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(q): Query<CodeQuery>,
    headers: HeaderMap,
    ip: ClientIp,
) -> Response {
    let code = q.code.unwrap_or_default();
    let here = format!(
        "/handler/{}/team-invitation?code={}",
        project.id,
        crate::http::url::percent_encode(&code)
    );
    let team = match invitation_team(&state, Some(&ip), &project.id, &code).await {
        Ok(team) => team,
        Err(e) => return refused(&project, "Team invitation", &e),
    };
    let me = session::current(&state, &project, &headers)
        .await
        .ok()
        .flatten();
    html(page(
        &project,
        "Team invitation",
        html! {
            h1 { "Join " (team.display_name) }
            p { "You have been invited to the team " strong { (team.display_name) } "." }
            @match &me {
                Some(me) => {
                    form method="post" {
                        input type="hidden" name="csrf" value=(me.csrf_token());
                        input type="hidden" name="code" value=(code);
                        button type="submit" { "Join team" }
                    }
                }
                None => {
                    p { "Sign in to accept: " a href=(sign_in_url(&state, &project, "sign-in", Some(&here))) { "Sign in" } " or " a href=(sign_in_url(&state, &project, "sign-up", Some(&here))) { "create an account" } "." }
                }
            }
        },
    ))
}

async fn accept(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let code = text(&form, "code");
    let joined = async {
        me.check_csrf(text(&form, "csrf"))?;
        accept_with_code(&state, Some(&ip), &project, &me.user, code).await
    }
    .await;
    match joined {
        Ok(team) => Redirect::to(&team_path(&project, &team.id)).into_response(),
        Err(e) => refused(&project, "Team invitation", &e),
    }
}

/// A team's `rename`, `leave` or `select` (make it the user's current team); back to the team
/// page, or to the account page once the user left or chose it.
async fn change_team(
    State(state): State<ApiState>,
    Path((_, team_id, action)): Path<(String, String, String)>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let changed = async {
        me.check_csrf(text(&form, "csrf"))?;
        match action.as_str() {
            "rename" => {
                let mut team =
                    member_team(&state, &project, &me, &team_id, Some(UPDATE_TEAM)).await?;
                let name = text(&form, "display_name").trim();
                if name.is_empty() || name.chars().count() > 256 {
                    return Err(ApiError::bad_request(
                        "A team's name has 1 to 256 characters.",
                    ));
                }
                team.display_name = name.to_owned();
                teams::save(&state, &project.id, &team).await?;
                Ok(team_path(&project, &team.id))
            }
            "leave" => {
                member_team(&state, &project, &me, &team_id, None).await?;
                if text(&form, "confirm") != "yes" {
                    return Err(ApiError::bad_request("Tick the box to confirm."));
                }
                remove_member(&state, &project.id, &team_id, &me.user.id).await?;
                Ok(format!(
                    "/handler/{}/account-settings?changed=team-left",
                    project.id
                ))
            }
            "select" => {
                member_team(&state, &project, &me, &team_id, None).await?;
                let change = UserWrite {
                    selected_team_id: Some(Some(team_id.clone())),
                    ..Default::default()
                };
                write::update(&state, &project, me.user.clone(), change, true).await?;
                Ok(format!(
                    "/handler/{}/account-settings?changed=team-selected",
                    project.id
                ))
            }
            _ => Err(ApiError::text(
                axum::http::StatusCode::NOT_FOUND,
                "Page not found",
            )),
        }
    }
    .await;
    match changed {
        Ok(next) => Redirect::to(&next).into_response(),
        Err(e) => refused(&project, "Team", &e),
    }
}
