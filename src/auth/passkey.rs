//! Passkeys (WebAuthn Level 3 discoverable credentials; the original's `auth/passkey/*`).
//!
//! Each ceremony is started by an `initiate-*` call that answers the options for the browser's
//! `navigator.credentials` call (`options_json`, the JSON form simplewebauthn and the SDK use) and
//! a code naming the ceremony's server state, kept in the codes table for the ceremony's 60 s + 5 s
//! and spent by the matching `register` / `sign-in`. As in the original, the options carry the
//! relying-party id `THIS_VALUE_WILL_BE_REPLACED.example.com`, which the SDK swaps for the page's
//! host: the server checks the origin the browser signed against the project's trusted domains
//! (localhost when allowed) and verifies the response with that origin's host as relying-party
//! id. Verification is webauthn_rp's (signature, challenge, type, origin, RP id hash, user
//! presence, sign counter).

use super::sessions;
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::codes::{self, CodeType};
use crate::crypto::secret::new_uuid;
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::http::{json_ok, known, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::limits::Rule;
use crate::projects::config::url_origin;
use crate::projects::Project;
use crate::store::now_ms;
use crate::users::write::{self, UserWrite};
use crate::users::{self, User};
use aide::axum::routing::{delete, get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::CredProtect;
use webauthn_rp::request::register::{
    PublicKeyCredentialUserEntity, RegistrationVerificationOptions, UserHandle16,
};
use webauthn_rp::request::{
    AsciiDomain, PublicKeyCredentialDescriptor, RpId, UserVerificationRequirement,
};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, CredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication16, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, PublicKeyCredentialCreationOptions, Registration,
    RegistrationServerState,
};

/// Ceremonies one client IP may start a minute: each is a stored challenge, and anyone may ask.
pub const CEREMONIES_PER_IP: Rule = Rule {
    name: "passkey_ceremony_ip",
    limit: 30,
    window_secs: 60,
};

/// The relying-party id the options carry; the SDK asserts it and puts the page's host instead.
const RP_ID_SENTINEL: &str = "THIS_VALUE_WILL_BE_REPLACED.example.com";
/// How long the browser may take (ms); the code outlives it by 5 s (the original's figures).
const CEREMONY_MS: u32 = 60_000;
const CODE_GRACE_MS: i64 = 5_000;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route(
            "/auth/passkey/initiate-passkey-registration",
            post(initiate_registration),
        )
        .api_route("/auth/passkey/register", post(register))
        .api_route(
            "/auth/passkey/initiate-passkey-authentication",
            post(initiate_authentication),
        )
        .api_route("/auth/passkey/sign-in", post(sign_in))
        .api_route("/users/{user_id}/passkeys", get(list))
        .api_route("/users/{user_id}/passkeys/{id}", delete(remove))
}

fn not_enabled() -> ApiError {
    known::known(
        KnownCode::PasskeyAuthenticationNotEnabled,
        "Passkey authentication is not enabled for this project.",
        None,
    )
    .into()
}

/// PASSKEY_REGISTRATION_FAILED; `details.message` repeats the message because the SDK rebuilds
/// the error from it (docs/compat.md).
fn registration_failed(message: &str) -> ApiError {
    known::known(
        KnownCode::PasskeyRegistrationFailed,
        message,
        Some(json!({ "message": message })),
    )
    .into()
}

fn authentication_failed(message: &str) -> ApiError {
    known::known(
        KnownCode::PasskeyAuthenticationFailed,
        message,
        Some(json!({ "message": message })),
    )
    .into()
}

fn require_enabled(project: &Project) -> ApiResult<()> {
    if project.config.passkey_enabled {
        Ok(())
    } else {
        Err(not_enabled())
    }
}

fn sentinel_rp_id() -> ApiResult<RpId> {
    AsciiDomain::try_from(RP_ID_SENTINEL.to_owned())
        .map(RpId::Domain)
        .map_err(|_| ApiError::internal("the relying-party sentinel is not a domain"))
}

/// A user's handle on their authenticators: the 16 bytes of their UUID, so every passkey of one
/// user carries the same handle and sign-in can tell whose it is.
fn user_handle(user_id: &str) -> ApiResult<UserHandle16> {
    let id =
        uuid::Uuid::parse_str(user_id).map_err(|_| ApiError::internal("user ids are UUIDs"))?;
    UserHandle16::decode(*id.as_bytes()).map_err(|_| ApiError::internal("16-byte user handle"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// WebAuthn's JSON encodes bytes as base64url (padding tolerated).
fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// The origin the browser signed (`response.clientDataJSON.origin`) if the project trusts it
/// (or it is this server's, where the project's pages are),
/// with the relying-party id it implies (the origin's host). `fail` makes the ceremony's error.
fn trusted_origin(
    state: &Kernel,
    project: &Project,
    response: &Value,
    fail: fn(&str) -> ApiError,
) -> ApiResult<(String, RpId)> {
    let client_data = response["response"]["clientDataJSON"]
        .as_str()
        .and_then(unb64)
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .ok_or_else(|| fail("The response's clientDataJSON could not be read"))?;
    let origin = client_data["origin"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A browser sends the origin's exact serialisation (no path, lower case, no default port).
    let exact = url_origin(&origin).is_some_and(|o| o == origin);
    // This server's own origin too: the project's hosted pages register and use passkeys there.
    let ours = url_origin(&state.public_url).is_some_and(|o| o == origin);
    if !exact || !(ours || project.config.is_trusted_url(&origin)) {
        return Err(fail("The origin is not allowed"));
    }
    let host = url::Url::parse(&origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .ok_or_else(|| fail("The origin is not allowed"))?;
    let rp_id = AsciiDomain::try_from(host)
        .map(RpId::Domain)
        .map_err(|_| fail("The origin's host cannot be a relying-party id"))?;
    Ok((origin, rp_id))
}

/// Counts a ceremony start against an untrusted caller's IP. Errors: 429 past the limit.
async fn limit_ceremonies(state: &Kernel, ip: Option<&ClientIp>) -> ApiResult<()> {
    if let Some(ip) = ip {
        state.limits.hit(&CEREMONIES_PER_IP, &ip.0).await?;
    }
    Ok(())
}

/// Stores a ceremony's server state under a new code; returns the code.
async fn save_ceremony(
    state: &Kernel,
    project_id: &str,
    kind: CodeType,
    server_state: Vec<u8>,
    user_id: Option<&str>,
) -> ApiResult<String> {
    let mut conn = state.db().acquire().await?;
    let code = codes::create(
        &mut conn,
        project_id,
        kind,
        json!({}),
        json!({ "state": b64(&server_state), "user_id": user_id }),
        None,
        i64::from(CEREMONY_MS) + CODE_GRACE_MS,
    )
    .await?;
    Ok(code)
}

/// `200 {"options_json": PublicKeyCredentialCreationOptionsJSON, "code"}` for the signed-in user.
/// Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED, USER_AUTHENTICATION_REQUIRED.
async fn initiate_registration(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    require_enabled(&auth.project)?;
    let user = auth
        .current_user(&state)
        .await?
        .ok_or_else(known::user_authentication_required)?;
    let options = registration_options(&state, &auth.project, auth.limited_ip(&ip), &user).await?;
    Ok(json_ok(options))
}

/// Starts registering a passkey for `user`: `{"options_json", "code"}` (`ip` counted when a
/// browser asks). Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED, 429 past the ceremony limit.
pub async fn registration_options(
    state: &Kernel,
    project: &Project,
    ip: Option<&ClientIp>,
    user: &User,
) -> ApiResult<Value> {
    require_enabled(project)?;
    limit_ceremonies(state, ip).await?;
    let handle = user_handle(&user.id)?;
    let rp_id = sentinel_rp_id()?;
    let label = user
        .display_name
        .clone()
        .or_else(|| user.primary_email.clone())
        .unwrap_or_else(|| "Portcullis user".to_owned());
    // The user's other passkeys are excluded so an authenticator does not replace one it holds.
    let exclude = credentials_of(state.db(), &user.id)
        .await?
        .into_iter()
        .filter_map(|(id, transports)| {
            Some(PublicKeyCredentialDescriptor {
                id: CredentialId::<Vec<u8>>::decode(unb64(&id)?).ok()?,
                transports: AuthTransports::decode(u8::try_from(transports).ok()?).ok()?,
            })
        })
        .collect();
    // The crate holds names to RFC 8265 (no spaces); the browser only shows them, so the JSON
    // gets the user's own label below.
    let name = "user"
        .try_into()
        .map_err(|_| ApiError::internal("passkey user name"))?;
    let mut options = PublicKeyCredentialCreationOptions::passkey(
        &rp_id,
        PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name: None,
        },
        exclude,
    );
    // The original's choices: a discoverable credential, user verification preferred, not
    // required, and no credProtect demand authenticators may not meet.
    options.authenticator_selection.user_verification = UserVerificationRequirement::Preferred;
    options.extensions.cred_protect = CredProtect::None;
    options.timeout = CEREMONY_MS
        .try_into()
        .map_err(|_| ApiError::internal("timeout"))?;
    let (server_state, client_state) = options
        .start_ceremony()
        .map_err(|e| ApiError::internal(format!("passkey options: {e}")))?;
    let mut options_json = serde_json::to_value(&client_state)
        .map_err(|e| ApiError::internal(format!("passkey options: {e}")))?;
    // The crate lower-cases domains; the SDK compares the sentinel exactly.
    options_json["rp"]["id"] = json!(RP_ID_SENTINEL);
    options_json["rp"]["name"] = json!(project.display_name);
    options_json["user"]["name"] = json!(label);
    options_json["user"]["displayName"] = json!(label);
    let encoded = server_state
        .encode()
        .map_err(|e| ApiError::internal(format!("passkey state: {e}")))?;
    let code = save_ceremony(
        state,
        &project.id,
        CodeType::PasskeyRegistration,
        encoded,
        Some(&user.id),
    )
    .await?;
    Ok(json!({ "options_json": options_json, "code": code }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Register {
    credential: Value,
    code: String,
}

/// Checks a ceremony's code (counted, not yet spent) and returns its server state and user.
async fn open_ceremony(
    state: &Kernel,
    project: &Project,
    ip: Option<&ClientIp>,
    kind: CodeType,
    code: &str,
) -> ApiResult<(codes::CodeRow, Vec<u8>)> {
    let row = codes::check(state, ip, &project.id, kind, code, false).await?;
    let server_state = row.data["state"]
        .as_str()
        .and_then(unb64)
        .ok_or_else(codes::not_found)?;
    Ok((row, server_state))
}

/// `200 {"user_handle"}` (the new credential's id, as the original answers). Also ends an
/// anonymous user's anonymity: they can sign in again with the passkey.
/// Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED, the code's VERIFICATION_CODE_* errors,
/// PASSKEY_REGISTRATION_FAILED (unreadable response, untrusted origin, failed verification,
/// credential registered already).
async fn register(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Register>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    require_enabled(&auth.project)?;
    let user = auth
        .current_user(&state)
        .await?
        .ok_or_else(known::user_authentication_required)?;
    let ip = auth.limited_ip(&ip);
    let id = register_passkey(
        &state,
        &auth.project,
        ip,
        user,
        &body.credential,
        &body.code,
    )
    .await?;
    Ok(json_ok(json!({ "user_handle": id })))
}

/// Finishes registering `user`'s passkey: the browser's `credential` (its JSON) for the ceremony
/// `code`; answers the new credential's id. Errors: as [`register`]'s.
pub async fn register_passkey(
    state: &Kernel,
    project: &Project,
    ip: Option<&ClientIp>,
    user: User,
    credential: &Value,
    code: &str,
) -> ApiResult<String> {
    require_enabled(project)?;
    let (row, server_state) =
        open_ceremony(state, project, ip, CodeType::PasskeyRegistration, code).await?;
    if row.data["user_id"].as_str() != Some(user.id.as_str()) {
        return Err(registration_failed(
            "The registration was started for another user",
        ));
    }
    let server_state = RegistrationServerState::<16>::decode(server_state.as_slice())
        .map_err(|_| codes::not_found())?;
    let (origin, rp_id) = trusted_origin(state, project, credential, registration_failed)?;
    let raw = serde_json::to_vec(credential).unwrap_or_default();
    let registration = Registration::from_json_relaxed(&raw)
        .map_err(|e| registration_failed(&format!("The credential could not be read: {e}")))?;
    let options = RegistrationVerificationOptions::<String, String> {
        allowed_origins: std::slice::from_ref(&origin),
        ..Default::default()
    };
    let credential = server_state
        .verify(&rp_id, &registration, &options)
        .map_err(|e| registration_failed(&format!("Passkey registration failed: {e}")))?;
    let credential_id = b64(credential.id().as_ref());
    let static_state = credential
        .static_state()
        .encode()
        .map_err(|_| ApiError::internal("passkey static state"))?;
    let dynamic_state = credential
        .dynamic_state()
        .encode()
        .map_err(|_| ApiError::internal("passkey dynamic state"))?;
    let transports = credential
        .transports()
        .encode()
        .map_err(|_| ApiError::internal("passkey transports"))?;

    let mut tx = state.db().begin().await?;
    codes::consume(&mut tx, &row.id).await?;
    let inserted = sqlx::query(
        "INSERT INTO passkeys (id, project_id, user_id, credential_id, static_state, dynamic_state, transports, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project_id, credential_id) DO NOTHING",
    )
    .bind(new_uuid())
    .bind(&project.id)
    .bind(&user.id)
    .bind(&credential_id)
    .bind(b64(&static_state))
    .bind(b64(&dynamic_state))
    .bind(i64::from(transports))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(registration_failed("This passkey is registered already"));
    }
    tx.commit().await?;
    if user.is_anonymous {
        let upgraded = UserWrite {
            is_anonymous: Some(false),
            ..Default::default()
        };
        write::update(state, project, user, upgraded, false).await?;
    }
    Ok(credential_id)
}

/// `200 {"options_json": PublicKeyCredentialRequestOptionsJSON, "code"}`.
/// Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED.
async fn initiate_authentication(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let options = authentication_options(&state, &auth.project, auth.limited_ip(&ip)).await?;
    Ok(json_ok(options))
}

/// Starts a passkey sign-in: `{"options_json", "code"}` (`ip` counted when a browser asks).
/// Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED, 429 past the ceremony limit.
pub async fn authentication_options(
    state: &Kernel,
    project: &Project,
    ip: Option<&ClientIp>,
) -> ApiResult<Value> {
    require_enabled(project)?;
    limit_ceremonies(state, ip).await?;
    let rp_id = sentinel_rp_id()?;
    let mut options = DiscoverableCredentialRequestOptions::passkey(&rp_id);
    options.0.user_verification = UserVerificationRequirement::Preferred;
    options.0.timeout = CEREMONY_MS
        .try_into()
        .map_err(|_| ApiError::internal("timeout"))?;
    let (server_state, client_state) = options
        .start_ceremony()
        .map_err(|e| ApiError::internal(format!("passkey options: {e}")))?;
    let mut options_json = serde_json::to_value(&client_state)
        .map_err(|e| ApiError::internal(format!("passkey options: {e}")))?;
    options_json["rpId"] = json!(RP_ID_SENTINEL);
    let encoded = server_state
        .encode()
        .map_err(|e| ApiError::internal(format!("passkey state: {e}")))?;
    let code = save_ceremony(
        state,
        &project.id,
        CodeType::PasskeyAuthentication,
        encoded,
        None,
    )
    .await?;
    Ok(json!({ "options_json": options_json, "code": code }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    authentication_response: Value,
    code: String,
}

/// `200 {"refresh_token", "access_token", "is_new_user": false, "user_id"}`, or
/// MULTI_FACTOR_AUTHENTICATION_REQUIRED for a user with a TOTP secret.
/// Errors: PASSKEY_AUTHENTICATION_NOT_ENABLED, the code's VERIFICATION_CODE_* errors,
/// PASSKEY_AUTHENTICATION_FAILED (unknown credential, untrusted origin, failed verification,
/// sign counter not above the stored one).
async fn sign_in(
    ip: ClientIp,
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let ip = auth.limited_ip(&ip);
    let response = &body.authentication_response;
    let (session, user_id) =
        sign_in_with_passkey(&state, &auth.project, ip, response, &body.code).await?;
    Ok(json_ok(json!({
        "refresh_token": session.refresh_token,
        "access_token": session.access_token,
        "is_new_user": false,
        "user_id": user_id,
    })))
}

/// Signs in with the browser's passkey `response` (its JSON) for the ceremony `code`; answers
/// the session and the user's id. Errors: as [`sign_in`]'s.
pub async fn sign_in_with_passkey(
    state: &Kernel,
    project: &Project,
    ip: Option<&ClientIp>,
    response: &Value,
    code: &str,
) -> ApiResult<(sessions::NewSession, String)> {
    require_enabled(project)?;
    let (row, server_state) =
        open_ceremony(state, project, ip, CodeType::PasskeyAuthentication, code).await?;
    let server_state = DiscoverableAuthenticationServerState::decode(server_state.as_slice())
        .map_err(|_| codes::not_found())?;
    let credential_id = response["id"]
        .as_str()
        .ok_or_else(|| authentication_failed("The response has no credential id"))?;
    let stored = sqlx::query(
        "SELECT id, user_id, static_state, dynamic_state FROM passkeys WHERE project_id = $1 AND credential_id = $2",
    )
    .bind(&project.id)
    .bind(credential_id)
    .fetch_optional(state.db())
    .await?
    .ok_or_else(|| authentication_failed("Passkey not found"))?;
    let passkey_id: String = stored.try_get("id")?;
    let user_id: String = stored.try_get("user_id")?;
    let static_text: String = stored.try_get("static_state")?;
    let dynamic_text: String = stored.try_get("dynamic_state")?;
    let (origin, rp_id) = trusted_origin(state, project, response, authentication_failed)?;
    // A discoverable credential names its user; webauthn_rp's relaxed parser lets a null
    // handle through to a panic in verify, so anything but a string is refused here.
    if !response["response"]["userHandle"].is_string() {
        return Err(authentication_failed("The response has no user handle"));
    }
    let raw = serde_json::to_vec(response).unwrap_or_default();
    let response = DiscoverableAuthentication16::from_json_relaxed(&raw)
        .map_err(|e| authentication_failed(&format!("The response could not be read: {e}")))?;

    let handle = user_handle(&user_id)?;
    let id_bytes = unb64(credential_id).unwrap_or_default();
    let corrupt = || ApiError::internal("stored passkey could not be decoded");
    let static_state = unb64(&static_text)
        .and_then(|b| StaticState::<CompressedPubKey<_, _, _, Vec<u8>>>::decode(b.as_slice()).ok())
        .ok_or_else(corrupt)?;
    let dynamic_bytes: [u8; 7] = unb64(&dynamic_text)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    let dynamic_state = DynamicState::decode(dynamic_bytes).map_err(|_| corrupt())?;
    let credential_ref = CredentialId::<&[u8]>::decode(id_bytes.as_slice())
        .map_err(|_| authentication_failed("The credential id is malformed"))?;
    let mut credential =
        AuthenticatedCredential::new(credential_ref, &handle, static_state, dynamic_state)
            .map_err(|_| corrupt())?;
    let options = AuthenticationVerificationOptions::<String, String> {
        allowed_origins: std::slice::from_ref(&origin),
        ..Default::default()
    };
    server_state
        .verify(&rp_id, &response, &mut credential, &options)
        .map_err(|e| authentication_failed(&format!("Passkey authentication failed: {e}")))?;
    let new_dynamic = credential.dynamic_state().encode().map_err(|_| corrupt())?;

    // The code is spent and the counter moved in one step, and only from the state this request
    // read: of two racing uses of one authenticator (or its clone), one wins.
    let mut tx = state.db().begin().await?;
    codes::consume(&mut tx, &row.id).await?;
    let moved = sqlx::query(
        "UPDATE passkeys SET dynamic_state = $1, last_used_at = $2 WHERE id = $3 AND dynamic_state = $4",
    )
    .bind(b64(&new_dynamic))
    .bind(now_ms())
    .bind(&passkey_id)
    .bind(&dynamic_text)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(authentication_failed(
            "The passkey was used at the same time elsewhere",
        ));
    }
    tx.commit().await?;
    let user = users::find(state.db(), &project.id, &user_id)
        .await?
        .ok_or_else(|| authentication_failed("Passkey not found"))?;
    let session = sessions::sign_in(state, project, &user, false, "passkey").await?;
    Ok((session, user.id))
}

/// `(credential_id, transports)` of a user's passkeys.
async fn credentials_of(db: &sqlx::AnyPool, user_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT credential_id, transports FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("credential_id")?, r.try_get("transports")?)))
        .collect()
}

/// A passkey list or removal is for a client's own user, anyone's for the server.
fn not_yours() -> ApiError {
    ApiError::text(
        StatusCode::FORBIDDEN,
        "Client can only manage the passkeys of their own user.",
    )
}

fn passkey_json(r: &sqlx::any::AnyRow) -> ApiResult<Value> {
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "user_id": r.try_get::<String, _>("user_id")?,
        "credential_id": r.try_get::<String, _>("credential_id")?,
        "created_at_millis": r.try_get::<i64, _>("created_at")?,
        "last_used_at_millis": r.try_get::<Option<i64>, _>("last_used_at")?,
    }))
}

/// `200 {"items": [{"id", "user_id", "credential_id", "created_at_millis",
/// "last_used_at_millis"}], "is_paginated": false}`, oldest first (our addition: the original
/// shows only `passkey_auth_enabled`). Errors: 403 for another user's from a client.
async fn list(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = auth.own_user_id(&user_id, not_yours)?;
    let items = passkeys_of(&state, auth.pid(), user_id).await?;
    Ok(json_ok(json!({ "items": items, "is_paginated": false })))
}

/// The user's passkeys, oldest first, in the list's item shape.
pub async fn passkeys_of(state: &Kernel, project_id: &str, user_id: &str) -> ApiResult<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT id, user_id, credential_id, created_at, last_used_at FROM passkeys
         WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, id",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_all(state.db())
    .await?;
    rows.iter().map(passkey_json).collect()
}

/// `200 {"success": true}`. Errors: 403 for another user's from a client, 404 for a passkey the
/// user does not have.
async fn remove(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let user_id = auth.own_user_id(&user_id, not_yours)?;
    remove_passkey(&state, auth.pid(), user_id, &id).await?;
    Ok(crate::http::success())
}

/// Removes one of the user's passkeys. Errors: 404 for a passkey the user does not have.
pub async fn remove_passkey(
    state: &Kernel,
    project_id: &str,
    user_id: &str,
    id: &str,
) -> ApiResult<()> {
    let gone =
        sqlx::query("DELETE FROM passkeys WHERE project_id = $1 AND user_id = $2 AND id = $3")
            .bind(project_id)
            .bind(user_id)
            .bind(id)
            .execute(state.db())
            .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::text(
            StatusCode::NOT_FOUND,
            "Passkey not found.".to_owned(),
        ));
    }
    Ok(())
}
