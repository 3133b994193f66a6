//! More dashboard admins: sign-up to the `internal` project is closed (unless the instance opens
//! it for development), so an admin invites others by email. The invitation is a team invitation
//! of the `internal` project to the inviting admin's team, sent through the outbox; its link opens
//! the join page, where the invitee sets a password and becomes a member of that team, seeing the
//! same projects.

use super::pages::{error, layout, Notice};
use super::{field, html, message_of, refused, require_admin, start_session, INTERNAL};
use crate::auth::context::ApiState;
use crate::codes::{self, CodeType};
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::users::write::{self, UserWrite};
use crate::users::{self, normalize_email};
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route("/dashboard/admins/invite", post(invite))
        .route("/dashboard/join", get(join_form).post(join))
}

/// Sends an invitation to join the signed-in admin's team; answers the projects page with a
/// notice (or the reason it was not sent).
async fn invite(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let admin = or_answer!(require_admin(&state, &headers).await);
    if let Err(e) = admin.check_csrf(form.get("csrf").and_then(Value::as_str)) {
        return e.into_response();
    }
    let email = normalize_email(field(&form, "email"));
    let result: ApiResult<()> = async {
        if !users::is_valid_email(&email) {
            return Err(ApiError::bad_request("Enter a valid email address."));
        }
        let team_id = admin
            .user
            .selected_team_id
            .clone()
            .ok_or_else(|| ApiError::bad_request("Your account has no team to invite to."))?;
        let team = crate::teams::require(state.db(), INTERNAL, &team_id).await?;
        let project = crate::projects::find(&state, INTERNAL)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("internal project missing")))?;
        codes::limit_send(&state, Some(&ip), INTERNAL, &email).await?;
        let link = format!("{}/dashboard/join", state.public_url);
        crate::teams::invitations::invite(&state, &project, &team, &email, &link).await?;
        Ok(())
    }
    .await;
    let list = crate::projects::list_owned_by(&state, &admin.user.id)
        .await
        .unwrap_or_default();
    match result {
        Ok(()) => html(super::pages::projects(
            &admin,
            &list,
            None,
            Some(Notice::Done(&format!("Invitation sent to {email}."))),
            &super::default_sign_in_methods(&state),
        )),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html(super::pages::projects(
                &admin,
                &list,
                None,
                Some(Notice::Failed(&message_of(&e))),
                &super::default_sign_in_methods(&state),
            )),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// An invitation code's (invited address, team id, code id), if the code is live.
async fn invitation(
    state: &ApiState,
    ip: &ClientIp,
    code: &str,
) -> ApiResult<(String, String, String)> {
    let checked = codes::check(
        state,
        Some(ip),
        INTERNAL,
        CodeType::TeamInvitation,
        code,
        false,
    )
    .await?;
    let email = checked.method["email"].as_str().unwrap_or_default();
    let team_id = checked.data["team_id"].as_str().unwrap_or_default();
    Ok((email.to_string(), team_id.to_string(), checked.id))
}

async fn join_form(
    State(state): State<ApiState>,
    ip: ClientIp,
    Query(q): Query<CodeQuery>,
) -> Response {
    let code = q.code.unwrap_or_default();
    match invitation(&state, &ip, &code).await {
        Ok((email, _, _)) => html(join_page(&code, Some(&email), None)),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            html(join_page(&code, None, Some(&message_of(&e)))),
        )
            .into_response(),
    }
}

/// Creates the invited admin (email verified by the invitation) in the inviting team, spends the
/// code, and signs them in — all or nothing.
async fn join(State(state): State<ApiState>, ip: ClientIp, RawBody(form): RawBody) -> Response {
    let code = field(&form, "code").to_string();
    let mut email = None;
    let result: ApiResult<Response> = async {
        let (invited, team_id, code_id) = invitation(&state, &ip, &code).await?;
        email = Some(invited.clone());
        if users::find_by_auth_email(state.db(), INTERNAL, &invited)
            .await?
            .is_some()
        {
            return Err(ApiError::bad_request(
                "This address already has a dashboard account: sign in with it instead.",
            ));
        }
        let password = field(&form, "password").to_string();
        create_admin(&state, &invited, password, &code_id, Some(&team_id)).await
    }
    .await;
    match result {
        Ok(home) => home,
        Err(e) => refused(
            &e,
            join_page(&code, email.as_deref(), Some(&message_of(&e))),
        ),
    }
}

/// Creates an admin (their email verified by the code that let them in), puts them in `team_id`
/// when given (else they get a personal team), spends the code, and signs them in: the user, the
/// membership and the spent code commit together. Errors: the password rules, a spent code.
pub(super) async fn create_admin(
    state: &ApiState,
    email: &str,
    password: String,
    code_id: &str,
    team_id: Option<&str>,
) -> ApiResult<Response> {
    let project = crate::projects::find(state, INTERNAL)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("internal project missing")))?;
    write::check_password_length(&password)?;
    let new = write::prepare(
        state,
        &project,
        UserWrite {
            primary_email: Some(Some(email.to_string())),
            primary_email_auth_enabled: Some(true),
            primary_email_verified: Some(true),
            password: Some(Some(password)),
            ..Default::default()
        },
    )
    .await?;
    let mut tx = state.db().begin().await?;
    let user_id = write::create_in(&mut tx, &project, new).await?;
    match team_id {
        Some(team_id) => {
            crate::teams::add_member_with_defaults(&mut tx, &project, team_id, &user_id, false)
                .await?;
        }
        // The first admin: projects made from the command line so far become theirs.
        None => {
            if let Some(team) = crate::users::find_in(&mut tx, INTERNAL, &user_id)
                .await?
                .and_then(|u| u.selected_team_id)
            {
                crate::projects::adopt_unowned(&mut tx, &team).await?;
            }
        }
    }
    codes::consume(&mut tx, code_id).await?;
    tx.commit().await?;
    let user = write::reload(state, &project, &user_id).await?;
    start_session(state, &user).await
}

fn join_page(code: &str, email: Option<&str>, message: Option<&str>) -> Markup {
    layout(
        "Join",
        None,
        html! {
            div.card.narrow {
                h1 { "Join the dashboard" }
                (error(message))
                @if let Some(email) = email {
                    p.muted { "You were invited as " strong { (email) } ". Choose a password to finish." }
                    form method="post" action="/dashboard/join" {
                        input type="hidden" name="code" value=(code);
                        label for="password" { "Password (8 characters or more)" }
                        input id="password" type="password" name="password" required autocomplete="new-password";
                        button type="submit" { "Join" }
                    }
                } @else {
                    p { "Ask an admin for a new invitation." }
                }
            }
        },
    )
}
