//! `/contact-channels*`: CRUD of a user's emails, sending verification emails, verifying.

use super::write::{self, ChannelChange, NewEmail};
use super::{find, ContactChannel};
use crate::auth::context::{AccessType, ApiState, Auth, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::http::extract::{parse_value, schema_problem, RawBody};
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::http::{json_created, json_ok, known, success, ApiError, ApiResult, JsonBody, Query};
use crate::kernel::Kernel;
use crate::users::{self, is_valid_email, normalize_email};
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/contact-channels", get(list).post(create))
        .api_route(
            "/contact-channels/send-verification-code",
            post(send_code_for_primary),
        )
        .api_route("/contact-channels/verify", post(verify))
        .api_route("/contact-channels/verify/check-code", post(check_code))
        .api_route(
            "/contact-channels/{user_id}/{id}",
            get(read).patch(update).delete(remove),
        )
        .api_route(
            "/contact-channels/{user_id}/{id}/send-verification-code",
            post(send_code),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelWrite {
    user_id: Option<String>,
    value: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    used_for_auth: Option<bool>,
    is_primary: Option<bool>,
    is_verified: Option<bool>,
}

fn forbidden(action: &str) -> ApiError {
    ApiError::text(
        StatusCode::FORBIDDEN,
        format!("Client can only {action} contact channels for their own user."),
    )
}

/// Resolves the `user_id` a request acts on; a client may only act for itself.
fn target_user<'a>(auth: &'a Auth, user_id: &'a str, action: &str) -> ApiResult<&'a str> {
    auth.own_user_id(user_id, || forbidden(action))
}

fn checked_value(value: &str) -> ApiResult<String> {
    if !is_valid_email(value.trim()) {
        return Err(schema_problem("body.value must be a valid email"));
    }
    Ok(normalize_email(value))
}

fn check_write_shape(auth: &Auth, w: &ChannelWrite) -> ApiResult<()> {
    if w.kind.as_deref().is_some_and(|t| t != "email") {
        return Err(schema_problem("body.type must be one of: email"));
    }
    if auth.access_type == AccessType::Client && w.is_verified.is_some() {
        return Err(schema_problem(
            "body contains unknown properties: is_verified",
        ));
    }
    Ok(())
}

async fn create(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let w: ChannelWrite = parse_value(body, "body")?;
    check_write_shape(auth, &w)?;
    let (Some(user_id), Some(value), Some(_), Some(used_for_auth)) =
        (&w.user_id, &w.value, &w.kind, w.used_for_auth)
    else {
        return Err(schema_problem(
            "body.user_id, body.value, body.type and body.used_for_auth must be defined",
        ));
    };
    let user_id = target_user(auth, user_id, "create")?;
    let new = NewEmail {
        value: checked_value(value)?,
        used_for_auth,
        is_primary: w.is_primary.unwrap_or(false),
        is_verified: w.is_verified.unwrap_or(false),
    };
    let channel = write::add(&state, auth.pid(), user_id, new).await?;
    Ok(json_created(channel.json()))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
    contact_channel_id: Option<String>,
}

async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = match &q.user_id {
        Some(u) => Some(target_user(auth, u, "list")?),
        None if auth.access_type == AccessType::Client => return Err(forbidden("list")),
        None => None,
    };
    let items: Vec<_> = super::list(
        state.db(),
        auth.pid(),
        user_id,
        q.contact_channel_id.as_deref(),
    )
    .await?
    .iter()
    .map(ContactChannel::json)
    .collect();
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

async fn read(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = target_user(auth, &user_id, "read")?;
    let channel = find(state.db(), auth.pid(), user_id, &id)
        .await?
        .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "Contact channel not found."))?;
    Ok(json_ok(channel.json()))
}

async fn update(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let w: ChannelWrite = parse_value(body, "body")?;
    check_write_shape(auth, &w)?;
    if w.user_id.is_some() {
        return Err(schema_problem("body contains unknown properties: user_id"));
    }
    let user_id = target_user(auth, &user_id, "update")?;
    let change = ChannelChange {
        value: w.value.as_deref().map(checked_value).transpose()?,
        is_verified: w.is_verified,
        used_for_auth: w.used_for_auth,
        is_primary: w.is_primary,
    };
    let channel = write::change(&state, auth.pid(), user_id, &id, change).await?;
    Ok(json_ok(channel.json()))
}

async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = target_user(auth, &user_id, "delete")?;
    write::remove(&state, auth.pid(), user_id, &id).await?;
    Ok(success())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendCode {
    callback_url: String,
}

async fn send_code(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    Path((user_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SendCode>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = auth
        .own_user_id(&user_id, || {
            ApiError::bad_request("Can only send verification code for your own user")
        })?
        .to_string();
    if users::find(state.db(), auth.pid(), &user_id)
        .await?
        .is_none()
    {
        return Err(known::user_id_does_not_exist(&user_id).into());
    }
    let channel = find(state.db(), auth.pid(), &user_id, &id)
        .await?
        .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "Contact channel not found"))?;
    queue(&state, auth, &ip, &channel, &body.callback_url).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendCodeForPrimary {
    email: String,
    callback_url: String,
}

/// The older form: verify the signed-in user's primary email.
async fn send_code_for_primary(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    ip: ClientIp,
    JsonBody(body): JsonBody<SendCodeForPrimary>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user = auth
        .current_user(&state)
        .await?
        .ok_or_else(|| schema_problem("auth.user must be defined"))?;
    let email = normalize_email(&body.email);
    if user.primary_email.as_deref() != Some(email.as_str()) {
        return Err(known::known(
            KnownCode::EmailIsNotPrimaryEmail,
            format!(
                "The given e-mail ({email}) must equal the user's primary e-mail ({}).",
                user.primary_email.as_deref().unwrap_or("null")
            ),
            Some(json!({ "email": email, "primary_email": user.primary_email })),
        )
        .into());
    }
    let channel = super::find_by_value(state.db(), auth.pid(), &user.id, &email)
        .await?
        .ok_or_else(|| ApiError::text(StatusCode::NOT_FOUND, "Contact channel not found"))?;
    queue(&state, auth, &ip, &channel, &body.callback_url).await
}

async fn queue(
    state: &Kernel,
    auth: &Auth,
    ip: &ClientIp,
    channel: &ContactChannel,
    callback_url: &str,
) -> ApiResult<Response> {
    write::send_verification(
        state,
        auth.limited_ip(ip),
        &auth.project,
        channel,
        callback_url,
    )
    .await?;
    Ok(success())
}

async fn verify(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<codes::CodeBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    super::verify_with_code(&state, auth.limited_ip(&ip), auth.pid(), &body.code).await?;
    Ok(success())
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
        CodeType::ContactChannelVerification,
        &body.code,
    )
    .await
}
