//! Team invitations: a `TEAM_INVITATION` code emailed to the invitee; accepting it (signed in)
//! makes the user a member with the project's default member permissions.

use super::access::require_client_permission;
use super::{check_team_id, require, Team};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::emails::{outbox, templates::Template};
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::http::{json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::permissions::{INVITE_MEMBERS, READ_MEMBERS, REMOVE_MEMBERS};
use crate::projects::Project;
use crate::store::now_ms;
use crate::users::{is_valid_email, normalize_email, User};
use aide::axum::routing::{delete, get, post};
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
        .api_route("/team-invitations", get(list))
        .api_route("/team-invitations/send-code", post(send))
        .api_route("/team-invitations/accept", post(accept))
        .api_route("/team-invitations/accept/details", post(details))
        .api_route("/team-invitations/accept/check-code", post(check_code))
        .api_route("/team-invitations/{id}", delete(revoke))
        .api_route("/team-invitations/{id}/accept", post(accept_by_id))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendBody {
    team_id: String,
    email: String,
    callback_url: String,
}

async fn send(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SendBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    check_team_id(&body.team_id)?;
    if !is_valid_email(body.email.trim()) {
        return Err(crate::http::extract::schema_problem(
            "body.email must be a valid email",
        ));
    }
    require_client_permission(state.db(), auth, &body.team_id, Some(INVITE_MEMBERS)).await?;
    if !auth
        .project
        .trusts_link(&state.public_url, &body.callback_url)
    {
        return Err(known::redirect_url_not_whitelisted().into());
    }
    let team = require(state.db(), auth.pid(), &body.team_id).await?;
    let email = normalize_email(&body.email);
    codes::limit_send(&state, auth.limited_ip(&ip), auth.pid(), &email).await?;
    let id = invite(&state, &auth.project, &team, &email, &body.callback_url).await?;
    Ok(json_ok(json!({ "success": true, "id": id })))
}

/// Invites `email` (normalized) to `team`: a team-invitation code and its email, queued in one
/// transaction; the link is `callback_url` with the code. Returns the invitation's id.
/// The caller checks who may invite, the callback URL and the send limits.
pub async fn invite(
    state: &Kernel,
    project: &Project,
    team: &Team,
    email: &str,
    callback_url: &str,
) -> ApiResult<String> {
    let mut tx = state.db().begin().await?;
    let code = codes::create(
        &mut tx,
        &project.id,
        CodeType::TeamInvitation,
        json!({ "email": email }),
        json!({ "team_id": team.id }),
        Some(callback_url),
        codes::DEFAULT_TTL_MS,
    )
    .await?;
    let id: String = sqlx::query("SELECT id FROM verification_codes WHERE code_hash = $1")
        .bind(crate::crypto::secret::sha256_hex(&code))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    let variables = json!({ "teamDisplayName": team.display_name, "teamInvitationLink": codes::link(callback_url, &code) });
    outbox::enqueue_template(
        &mut tx,
        project,
        None,
        email,
        Template::TeamInvitation,
        variables,
    )
    .await?;
    tx.commit().await?;
    crate::emails::wake_sender(state);
    Ok(id)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    team_id: Option<String>,
    user_id: Option<String>,
}

/// Open invitations (unused, unexpired) of one team, or to any of `emails`, in the wire shape.
/// Invitations to teams deleted since are dropped.
async fn open_invitations(
    state: &Kernel,
    project_id: &str,
    team_id: Option<&str>,
    emails: &[String],
) -> ApiResult<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT id, method, data, expires_at FROM verification_codes
         WHERE project_id = $1 AND type = 'TEAM_INVITATION' AND used_at IS NULL AND expires_at > $2
         ORDER BY created_at, id",
    )
    .bind(project_id)
    .bind(now_ms())
    .fetch_all(state.db())
    .await?;
    let mut teams: std::collections::HashMap<String, Option<super::Team>> = Default::default();
    let mut out = Vec::new();
    for r in rows {
        let data: Value =
            serde_json::from_str(&r.try_get::<String, _>("data")?).unwrap_or(Value::Null);
        let method: Value =
            serde_json::from_str(&r.try_get::<String, _>("method")?).unwrap_or(Value::Null);
        let (Some(invited_team), Some(email)) =
            (data["team_id"].as_str(), method["email"].as_str())
        else {
            continue;
        };
        let wanted = match team_id {
            Some(t) => t == invited_team,
            None => emails.iter().any(|e| e == email),
        };
        if !wanted {
            continue;
        }
        if !teams.contains_key(invited_team) {
            teams.insert(
                invited_team.to_string(),
                super::find(state.db(), project_id, invited_team).await?,
            );
        }
        let Some(Some(team)) = teams.get(invited_team) else {
            continue;
        };
        out.push(json!({
            "id": r.try_get::<String, _>("id")?,
            "team_id": team.id,
            "team_display_name": team.display_name,
            "expires_at_millis": r.try_get::<i64, _>("expires_at")?,
            "recipient_email": email,
        }));
    }
    Ok(out)
}

async fn verified_emails(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
) -> ApiResult<Vec<String>> {
    let rows = sqlx::query("SELECT value FROM contact_channels WHERE project_id = $1 AND user_id = $2 AND is_verified = 1")
        .bind(project_id)
        .bind(user_id)
        .fetch_all(state.db())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("value"))
        .collect::<Result<_, _>>()?)
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let items = match (&q.team_id, &q.user_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Cannot specify both team_id and user_id",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "Must specify either team_id or user_id",
            ))
        }
        (Some(team_id), None) => {
            check_team_id(team_id)?;
            require_client_permission(state.db(), auth, team_id, Some(READ_MEMBERS)).await?;
            require_client_permission(state.db(), auth, team_id, Some(INVITE_MEMBERS)).await?;
            require(state.db(), auth.pid(), team_id).await?;
            open_invitations(&state, auth.pid(), Some(team_id), &[]).await?
        }
        (None, Some(user_id)) => {
            let user_id = auth.resolve_user_id(user_id)?;
            if auth.access_type == AccessType::Client && auth.user_id() != Some(user_id) {
                return Err(known::cannot_get_own_user_without_user().into());
            }
            let emails = verified_emails(&state, auth.pid(), user_id).await?;
            if emails.is_empty() {
                vec![]
            } else {
                open_invitations(&state, auth.pid(), None, &emails).await?
            }
        }
    };
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RevokeQuery {
    team_id: Option<String>,
}

async fn revoke(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    Query(q): Query<RevokeQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let team_id = q.team_id.ok_or_else(|| {
        ApiError::bad_request("team_id is required for deleting a team invitation")
    })?;
    check_team_id(&team_id)?;
    require_client_permission(state.db(), auth, &team_id, Some(REMOVE_MEMBERS)).await?;
    require(state.db(), auth.pid(), &team_id).await?;
    revoke_invitation(&state, auth.pid(), &id).await?;
    Ok(success())
}

/// Deletes the invitation `id` (its code stops working); false when there was none.
pub async fn revoke_invitation(state: &Kernel, project_id: &str, id: &str) -> ApiResult<bool> {
    let r = sqlx::query("DELETE FROM verification_codes WHERE project_id = $1 AND id = $2 AND type = 'TEAM_INVITATION'")
        .bind(project_id)
        .bind(id)
        .execute(state.db())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The open invitations (unused, unexpired) of one team, oldest first, in the wire shape of
/// `GET /team-invitations?team_id=…` (`id`, `recipient_email`, `expires_at_millis`, …).
pub async fn open_for_team(
    state: &Kernel,
    project_id: &str,
    team_id: &str,
) -> ApiResult<Vec<Value>> {
    open_invitations(state, project_id, Some(team_id), &[]).await
}

fn restricted_not_allowed(reason: Value) -> ApiError {
    known::known(
        KnownCode::TeamInvitationRestrictedUserNotAllowed,
        format!(
            "Restricted users cannot accept team invitations. Reason: {}. Please complete the onboarding process before accepting team invitations.",
            known::restricted_reason_type(&reason)
        ),
        Some(json!({ "restricted_reason": reason })),
    )
    .into()
}

/// The signed-in, unrestricted user who may accept an invitation.
async fn accepting_user(state: &Kernel, auth: &Auth) -> ApiResult<User> {
    let user = auth
        .current_user(state)
        .await?
        .ok_or_else(known::user_authentication_required)?;
    let reason = user.restricted_reason(auth.project.config.require_email_verification);
    if !reason.is_null() {
        return Err(restricted_not_allowed(reason));
    }
    Ok(user)
}

async fn join(state: &Kernel, auth: &Auth, team_id: &str, user_id: &str) -> ApiResult<()> {
    let mut tx = state.db().begin().await?;
    super::add_member_with_defaults(&mut tx, &auth.project, team_id, user_id, false).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes `user` a member of the team an invitation code is for, spending the code; returns the
/// team. Errors: TEAM_INVITATION_RESTRICTED_USER_NOT_ALLOWED for a restricted user; the code's
/// errors; TEAM_NOT_FOUND when the team was deleted since.
pub async fn accept_with_code(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project: &Project,
    user: &User,
    code: &str,
) -> ApiResult<Team> {
    let reason = user.restricted_reason(project.config.require_email_verification);
    if !reason.is_null() {
        return Err(restricted_not_allowed(reason));
    }
    let checked =
        codes::check(state, ip, &project.id, CodeType::TeamInvitation, code, true).await?;
    let team_id = checked.data["team_id"]
        .as_str()
        .ok_or_else(codes::not_found)?;
    let team = require(state.db(), &project.id, team_id).await?;
    let mut tx = state.db().begin().await?;
    super::add_member_with_defaults(&mut tx, project, team_id, &user.id, false).await?;
    tx.commit().await?;
    Ok(team)
}

/// The team an invitation code is for, without spending it. Errors: the code's errors;
/// TEAM_NOT_FOUND.
pub async fn invitation_team(
    state: &Kernel,
    ip: Option<&ClientIp>,
    project_id: &str,
    code: &str,
) -> ApiResult<Team> {
    let checked =
        codes::check(state, ip, project_id, CodeType::TeamInvitation, code, false).await?;
    require(
        state.db(),
        project_id,
        checked.data["team_id"].as_str().unwrap_or_default(),
    )
    .await
}

async fn accept(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user = accepting_user(&state, auth).await?;
    accept_with_code(
        &state,
        auth.limited_ip(&ip),
        &auth.project,
        &user,
        &body.code,
    )
    .await?;
    Ok(json_ok(json!({})))
}

async fn details(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    accepting_user(&state, auth).await?;
    let team = invitation_team(&state, auth.limited_ip(&ip), auth.pid(), &body.code).await?;
    Ok(json_ok(
        json!({ "team_id": team.id, "team_display_name": team.display_name }),
    ))
}

async fn check_code(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    codes::answer_check(
        &state,
        auth.limited_ip(&ip),
        auth.pid(),
        CodeType::TeamInvitation,
        &body.code,
    )
    .await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AcceptQuery {
    user_id: Option<String>,
}

async fn accept_by_id(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    Query(q): Query<AcceptQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = auth
        .resolve_user_id(q.user_id.as_deref().ok_or_else(|| {
            crate::http::extract::schema_problem("query.user_id must be defined")
        })?)?
        .to_string();
    if auth.access_type == AccessType::Client && auth.user_id() != Some(user_id.as_str()) {
        return Err(known::cannot_get_own_user_without_user().into());
    }
    let user = crate::users::find(state.db(), auth.pid(), &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let reason = user.restricted_reason(auth.project.config.require_email_verification);
    if !reason.is_null() {
        return Err(restricted_not_allowed(reason));
    }
    let emails = verified_emails(&state, auth.pid(), &user_id).await?;
    let invitation = open_invitations(&state, auth.pid(), None, &emails)
        .await?
        .into_iter()
        .find(|i| i["id"] == id.as_str())
        .ok_or_else(codes::not_found)?;
    let used =
        sqlx::query("UPDATE verification_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms())
            .bind(&id)
            .execute(state.db())
            .await?;
    if used.rows_affected() == 0 {
        return Err(codes::not_found().into());
    }
    join(
        &state,
        auth,
        invitation["team_id"].as_str().unwrap_or_default(),
        &user_id,
    )
    .await?;
    Ok(json_ok(json!({})))
}
