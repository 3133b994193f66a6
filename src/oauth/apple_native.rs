//! `POST /auth/oauth/callback/apple/native`: Sign in with Apple from an iOS or macOS app. The app
//! runs Apple's own sign-in sheet and sends us the ID token Apple gave it; the token is checked
//! against Apple's keys with one of the project's bundle ids as its audience, then the user is
//! found, linked or created as in the web callback, and a session starts.

use super::callback::{sign_in_or_up, Found};
use super::provider;
use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::auth::sessions;
use crate::http::{json_ok, known, ApiResult, ClientCountry, JsonBody};
use crate::users;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeSignIn {
    id_token: String,
}

/// `200 {"access_token", "refresh_token", "user_id", "is_new_user"}`.
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED, APPLE_BUNDLE_ID_NOT_CONFIGURED,
/// INVALID_APPLE_CREDENTIALS, and the web callback's sign-up and merge errors.
pub async fn sign_in(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    country: ClientCountry,
    JsonBody(body): JsonBody<NativeSignIn>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let project = &auth.project;
    let provider = provider::resolve(&state, project, "apple")?;
    let bundle_ids: Vec<String> = project
        .config
        .oauth_providers
        .iter()
        .find(|p| p.id == "apple")
        .and_then(|p| p.apple_bundle_ids.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|id| !id.is_empty())
        .collect();
    if bundle_ids.is_empty() {
        return Err(known::apple_bundle_id_not_configured().into());
    }
    let who = provider
        .verify_native_id_token(&body.id_token, &bundle_ids)
        .await?
        .ok_or_else(known::invalid_apple_credentials)?;
    let Found {
        user_id,
        is_new_user,
        ..
    } = sign_in_or_up(&state, project, "apple", &who, None, country.0.as_deref()).await?;
    let user = users::find(state.db(), &project.id, &user_id)
        .await?
        .ok_or_else(known::user_not_found)?;
    let session = sessions::sign_in(&state, project, &user, is_new_user, "oauth").await?;
    Ok(json_ok(json!({
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "user_id": user.id,
        "is_new_user": is_new_user,
    })))
}
