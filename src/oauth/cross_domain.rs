//! `POST /auth/oauth/cross-domain/authorize`: hands the signed-in session to another trusted
//! domain of the project (the original's cross-domain handoff). The caller proves the session
//! with both its access token and its refresh token; the answer is the other domain's
//! `redirect_uri` with a one-time authorization code, which that domain exchanges at
//! `/auth/oauth/token` with its PKCE verifier for a session of its own.

use crate::auth::context::{ApiState, RequestCtx, ANY};
use crate::auth::sessions;
use crate::http::extract::schema_problem;
use crate::http::url::with_query;
use crate::http::{json_ok, known, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::projects::Project;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    pub redirect_uri: String,
    /// The other domain's own state, returned with the code (1–512 characters).
    pub state: String,
    /// The S256 challenge of the other domain's PKCE verifier.
    pub code_challenge: String,
    pub code_challenge_method: Option<String>,
    pub after_callback_redirect_url: Option<String>,
}

/// `200 {"redirect_url"}`. Errors: USER_AUTHENTICATION_REQUIRED without a signed-in user,
/// 400 without the session's refresh token (`x-stack-refresh-token`), 401 when it is not that
/// session's or has ended, REDIRECT_URL_NOT_WHITELISTED, SCHEMA_ERROR.
pub async fn authorize(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<Handoff>,
) -> ApiResult<Response> {
    let auth = ctx.require(ANY)?;
    let claims = auth
        .token
        .as_ref()
        .ok_or_else(known::user_authentication_required)?;
    let refresh_token = ctx.refresh_token.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            "Cross-domain auth handoff requires passing the current refresh token.",
        )
    })?;
    match sessions::find(&state, auth.pid(), refresh_token).await? {
        Some(s) if s.id == claims.refresh_token_id && s.user_id == claims.sub => {}
        _ => {
            return Err(ApiError::text(
                StatusCode::UNAUTHORIZED,
                "Cross-domain auth handoff refresh token does not match the authenticated session.",
            ))
        }
    }
    let redirect_url = handoff_url(&state, &auth.project, &claims.sub, &body).await?;
    Ok(json_ok(json!({ "redirect_url": redirect_url })))
}

/// The URL that hands a signed-in user to another trusted domain of the project: its
/// `redirect_uri` with a one-time authorization code (for its PKCE verifier) and its `state`;
/// no token travels in it. Errors: SCHEMA_ERROR for a bad state or challenge;
/// REDIRECT_URL_NOT_WHITELISTED for a redirect the project does not trust.
pub async fn handoff_url(
    state: &Kernel,
    project: &Project,
    user_id: &str,
    body: &Handoff,
) -> ApiResult<String> {
    if body.state.is_empty() || body.state.chars().count() > 512 {
        return Err(schema_problem("body.state must be 1 to 512 characters"));
    }
    let challenge_ok = (43..=128).contains(&body.code_challenge.len())
        && body
            .code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if !challenge_ok {
        return Err(schema_problem(
            "body.code_challenge must be 43 to 128 characters of A-Z a-z 0-9 . _ ~ -",
        ));
    }
    if body.code_challenge_method.as_deref().unwrap_or("S256") != "S256" {
        return Err(schema_problem("body.code_challenge_method must be S256"));
    }
    for url in [
        Some(&body.redirect_uri),
        body.after_callback_redirect_url.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !project.config.is_trusted_url(url) {
            return Err(known::redirect_url_not_whitelisted().into());
        }
    }
    let redirect_uri = body.redirect_uri.split('#').next().unwrap_or_default();
    let code = super::issue_code(
        state,
        super::CodeGrant {
            project_id: &project.id,
            user_id,
            redirect_uri,
            code_challenge: &body.code_challenge,
            is_new_user: false,
            after_callback_redirect_url: body.after_callback_redirect_url.as_deref(),
            pending_link_sealed: None,
        },
    )
    .await?;
    let redirect_url = with_query(
        &body.redirect_uri,
        &[("code", &code), ("state", &body.state)],
    );
    Ok(redirect_url)
}
