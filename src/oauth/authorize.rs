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
use crate::projects::Project;
use crate::store::now_ms;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// How long the browser may take at the provider (the original's 10 minutes).
pub const OUTER_FLOW_MS: i64 = 10 * 60 * 1000;

/// The SDK's query. Unknown parameters are allowed here, as in the original: browsers and
/// trackers append their own to this URL.
#[derive(Deserialize, schemars::JsonSchema)]
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
    let link = match q.kind.as_deref().unwrap_or("authenticate") {
        "authenticate" => false,
        "link" => true,
        _ => {
            return Err(crate::http::extract::schema_problem(
                "query.type must be one of the following values: authenticate, link",
            ))
        }
    };
    let flow = Flow {
        redirect_uri: redirect_uri.to_owned(),
        state: app_state.to_owned(),
        code_challenge: code_challenge.to_owned(),
        link,
        token: q.token.filter(|t| !t.is_empty()),
        provider_scope: q.provider_scope,
        error_redirect_url: q.error_redirect_uri.or(q.error_redirect_url),
        after_callback_redirect_url: q.after_callback_redirect_url,
        json_mode: [&q.stack_response_mode, &q.hexclave_response_mode]
            .iter()
            .any(|m| m.as_deref() == Some("json")),
    };
    start(&state, &project, &provider_id, flow).await
}

/// An app's OAuth request, checked for shape: where the code goes back (`redirect_uri`, with the
/// app's `state` and S256 PKCE `code_challenge`), whether it links the provider to the user of
/// `token` (an access token) or signs in, and where errors and the final page go.
pub struct Flow {
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    pub link: bool,
    pub token: Option<String>,
    pub provider_scope: Option<String>,
    pub error_redirect_url: Option<String>,
    pub after_callback_redirect_url: Option<String>,
    /// Answer `{"location"}` instead of redirecting (the SDK's `stack_response_mode=json`).
    pub json_mode: bool,
}

/// Starts `flow` at `provider_id` for `project`: the request kept server-side under the state sent
/// to the provider, and the browser sent there (307 with the flow cookie, or JSON).
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED, REDIRECT_URL_NOT_WHITELISTED for a URL the
/// project does not trust, OAUTH_EXTRA_SCOPE_NOT_AVAILABLE_WITH_SHARED_KEYS, a 400 for a link
/// without a token, 403 for a token of another project.
pub async fn start(
    state: &ApiState,
    project: &Project,
    provider_id: &str,
    flow: Flow,
) -> ApiResult<Response> {
    let provider = provider::resolve(state, project, provider_id)?;
    let (link, token) = (flow.link, flow.token.as_deref());
    if link && token.is_none() {
        return Err(ApiError::bad_request(
            "?token= query parameter is required for link type",
        ));
    }
    // The SDK sends the signed-in user's token: whom to link to, or an anonymous user to upgrade.
    let claims = match token {
        Some(token) => {
            let claims = tokens::verify(state, token)?;
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
    let Flow {
        redirect_uri,
        error_redirect_url,
        after_callback_redirect_url,
        provider_scope,
        json_mode,
        ..
    } = flow;
    // Every URL the flow may send the browser to is one of the project's trusted domains.
    for url in [
        Some(redirect_uri.as_str()),
        error_redirect_url.as_deref(),
        after_callback_redirect_url.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        // (Not the original's `stack-auth-mobile-oauth-url:` scheme: every app shares it, so
        // any installed app could catch another project's code — docs/compat.md.)
        // (This server's own pages for the project are trusted too: its hosted sign-in.)
        if !project.trusts_link(&state.public_url, url) {
            return Err(known::redirect_url_not_whitelisted().into());
        }
    }
    if provider_scope.is_some() && provider.shared {
        return Err(known::oauth_extra_scope_not_available_with_shared_keys().into());
    }
    if rand::random::<u8>() < 4 {
        super::callback::forget_expired(state).await?;
    }
    let started = provider.start(provider_scope.as_deref()).await?;
    let info = OuterInfo {
        redirect_uri: redirect_uri
            .split('#')
            .next()
            .unwrap_or_default()
            .to_string(),
        state: flow.state,
        code_challenge: flow.code_challenge,
        error_redirect_url,
        after_callback_redirect_url,
        json_mode,
        link_to_user,
        upgrade_anonymous,
        pkce_verifier_sealed: state.secret_box.seal(&started.pkce_verifier)?,
        nonce: started.nonce,
        provider_scope,
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
