//! `GET /auth/oauth/authorize/{provider_id}`: the start of OAuth sign-in, as the SDK drives it
//! (the original's `auth/oauth/authorize/[provider_id]/route.tsx`). The app's own OAuth request
//! (its redirect URI, state and PKCE challenge) is kept server-side under the state sent to the
//! provider, and the browser goes to the provider — with a short-lived HttpOnly cookie naming that
//! state, which the callback requires (so a callback link cannot be replayed in another browser).

use super::provider;
use super::OuterInfo;
use crate::auth::context::{self, ApiState};
use crate::auth::tokens;
use crate::crypto::secret::sha256_hex;
use crate::http::{json_ok, known, ApiError, ApiResult, Query};
use crate::store::now_ms;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// How long the browser may take at the provider (the original's 10 minutes).
pub const OUTER_FLOW_MS: i64 = 10 * 60 * 1000;

/// The SDK's query. Unknown parameters are allowed here, as in the original: browsers and
/// trackers append their own to this URL.
#[derive(Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_type: Option<String>,
    grant_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The signed-in user's access token (required to link).
    token: Option<String>,
    provider_scope: Option<String>,
    /// Deprecated spelling of `error_redirect_uri`, still sent by the SDK.
    error_redirect_url: Option<String>,
    error_redirect_uri: Option<String>,
    after_callback_redirect_url: Option<String>,
    stack_response_mode: Option<String>,
    hexclave_response_mode: Option<String>,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        crate::http::extract::schema_problem(format!("query.{name} must be defined"))
    })
}

pub async fn authorize(
    State(state): State<ApiState>,
    Path(provider_id): Path<String>,
    Query(q): Query<AuthorizeQuery>,
) -> ApiResult<Response> {
    let client_id = required(&q.client_id, "client_id")?;
    let redirect_uri = required(&q.redirect_uri, "redirect_uri")?;
    let app_state = required(&q.state, "state")?;
    let code_challenge = required(&q.code_challenge, "code_challenge")?;
    required(&q.response_type, "response_type")?;
    required(&q.grant_type, "grant_type")?;
    if q.code_challenge_method.as_deref() != Some("S256") {
        return Err(crate::http::extract::schema_problem(
            "query.code_challenge_method must be S256",
        ));
    }
    let project = context::client_project(&state, client_id, q.client_secret.as_deref()).await?;
    let provider = provider::resolve(&state, &project, &provider_id)?;
    let link = match q.kind.as_deref().unwrap_or("authenticate") {
        "authenticate" => false,
        "link" => true,
        _ => {
            return Err(crate::http::extract::schema_problem(
                "query.type must be one of: authenticate, link",
            ))
        }
    };
    let token = q.token.as_deref().filter(|t| !t.is_empty());
    if link && token.is_none() {
        return Err(ApiError::bad_request(
            "?token= query parameter is required for link type",
        ));
    }
    // The SDK sends the signed-in user's token: whom to link to, or an anonymous user to upgrade.
    let claims = match token {
        Some(token) => {
            let claims = tokens::verify(&state, token)?;
            if claims.project_id != project.id {
                return Err(ApiError::text(
                    StatusCode::FORBIDDEN,
                    "The access token is not valid for this project",
                ));
            }
            Some(claims)
        }
        None => None,
    };
    let link_to_user = claims.as_ref().filter(|_| link).map(|c| c.sub.clone());
    let upgrade_anonymous = claims.filter(|c| !link && c.is_anonymous).map(|c| c.sub);
    let error_redirect_url = q.error_redirect_uri.or(q.error_redirect_url);
    // Every URL the flow may send the browser to is one of the project's trusted domains.
    for url in [
        Some(redirect_uri),
        error_redirect_url.as_deref(),
        q.after_callback_redirect_url.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        // (Not the original's `stack-auth-mobile-oauth-url:` scheme: every app shares it, so
        // any installed app could catch another project's code — docs/compat.md.)
        if !project.config.is_trusted_url(url) {
            return Err(known::redirect_url_not_whitelisted().into());
        }
    }
    if q.provider_scope.is_some() && provider.shared {
        return Err(known::oauth_extra_scope_not_available_with_shared_keys().into());
    }
    if rand::random::<u8>() < 4 {
        super::callback::forget_expired(&state).await?;
    }
    let started = provider.start(q.provider_scope.as_deref()).await?;
    let json_mode = [&q.stack_response_mode, &q.hexclave_response_mode]
        .iter()
        .any(|m| m.as_deref() == Some("json"));
    let info = OuterInfo {
        redirect_uri: redirect_uri
            .split('#')
            .next()
            .unwrap_or_default()
            .to_string(),
        state: app_state.to_string(),
        code_challenge: code_challenge.to_string(),
        error_redirect_url,
        after_callback_redirect_url: q.after_callback_redirect_url,
        json_mode,
        link_to_user,
        upgrade_anonymous,
        pkce_verifier_sealed: state.secret_box.seal(&started.pkce_verifier)?,
        nonce: started.nonce,
        provider_scope: q.provider_scope.clone(),
    };
    sqlx::query(
        "INSERT INTO oauth_outer_states (state_hash, project_id, provider_id, info, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&started.state))
    .bind(&project.id)
    .bind(&provider.id)
    .bind(serde_json::to_string(&info).map_err(anyhow::Error::from)?)
    .bind(now_ms() + OUTER_FLOW_MS)
    .execute(state.db())
    .await?;
    if json_mode {
        // The SDK fetches this and navigates itself; PKCE binds the flow, no cookie is needed.
        return Ok(json_ok(serde_json::json!({ "location": started.url })));
    }
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    // A provider that answers with a cross-site form POST only gets the cookie back with
    // `SameSite=None` (which browsers accept only with `Secure`).
    let same_site = if started.form_post && !secure.is_empty() {
        "None"
    } else {
        "Lax"
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={}{secure}",
        super::cookie_name(&started.state),
        "true",
        OUTER_FLOW_MS / 1000
    );
    let mut res = (StatusCode::TEMPORARY_REDIRECT, "").into_response();
    let h = res.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&started.url).map_err(|e| ApiError::Internal(e.into()))?,
    );
    h.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?,
    );
    Ok(res)
}
