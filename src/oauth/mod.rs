//! OAuth sign-in (the original's `auth/oauth/*`): the SDK's authorization-code flow with PKCE —
//! `authorize` sends the browser to the provider, `callback` finds, links (by the project's merge strategy) or creates the user and hands
//! the app a one-time authorization code, and the token endpoint exchanges it (and refreshes
//! sessions). Providers are reached through OpenID Connect (`provider`).
//!
//! Not yet: connected accounts, providers without OpenID Connect other than GitHub, the
//! instance's own shared keys, cross-domain handoff and Apple's native callback.

mod accounts;
mod apple_native;
pub mod authorize;
mod callback;
mod connected;
pub mod cross_domain;
pub mod provider;
pub mod token;

use crate::auth::context::ApiState;
use crate::crypto::secret::{random_base32, sha256_hex};
use crate::http::ApiResult;
use crate::kernel::Kernel;
use crate::store::{flag, now_ms};
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::FromRef;
use serde::{Deserialize, Serialize};

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route(
            "/auth/oauth/authorize/{provider_id}",
            get(authorize::authorize),
        )
        .api_route(
            "/auth/oauth/callback/{provider_id}",
            get(callback::callback).post(callback::callback),
        )
        .merge(token::routes())
        .merge(accounts::routes())
        .merge(connected::routes())
        .api_route(
            "/auth/oauth/callback/apple/native",
            post(apple_native::sign_in),
        )
        .api_route(
            "/auth/oauth/cross-domain/authorize",
            post(cross_domain::authorize),
        )
}

/// The app's OAuth request, kept between `authorize` and `callback` (in `oauth_outer_states`).
#[derive(Serialize, Deserialize)]
struct OuterInfo {
    /// The app's redirect URI (without fragment); the code is exchanged against it.
    redirect_uri: String,
    /// The app's own state, returned with the code.
    state: String,
    /// The app's PKCE challenge (S256).
    code_challenge: String,
    error_redirect_url: Option<String>,
    after_callback_redirect_url: Option<String>,
    /// The SDK asked for the provider URL as JSON (no cookie is set then).
    json_mode: bool,
    /// `type=link`: the signed-in user (from the access token given to `authorize`) the provider
    /// account is connected to, instead of signing in.
    link_to_user: Option<String>,
    /// `type=authenticate` by an anonymous user (their access token given to `authorize`): a
    /// new provider account upgrades that user, keeping their id and data.
    #[serde(default)]
    upgrade_anonymous: Option<String>,
    /// The PKCE verifier used with the provider, sealed with the secret box.
    pkce_verifier_sealed: String,
    /// The nonce the provider's ID token must carry.
    nonce: String,
    /// The extra scopes asked of the provider (kept with its tokens, for connected accounts).
    #[serde(default)]
    provider_scope: Option<String>,
}

/// The cookie that ties a flow to the browser that started it.
fn cookie_name(inner_state: &str) -> String {
    format!("stack-oauth-inner-{inner_state}")
}

/// How long the app has to exchange its authorization code (oauth2-server's default, which
/// the original uses).
const AUTHORIZATION_CODE_MS: i64 = 5 * 60 * 1000;

/// What a one-time authorization code stands for, until the app exchanges it at the token
/// endpoint with the verifier of `code_challenge` (RFC 6749 §4.1, RFC 7636).
/// A provider account a `type=link` flow connects once its code is exchanged (sealed in the
/// code's row: it holds the provider's tokens).
#[derive(Serialize, Deserialize)]
struct PendingLink {
    provider_id: String,
    account_id: String,
    email: Option<String>,
    tokens: provider::ProviderTokens,
    scopes: Vec<String>,
    /// Set when the flow upgrades an anonymous user: what the provider says of them.
    #[serde(default)]
    profile: Option<NewProfile>,
}

/// A new OAuth user's profile from the provider.
#[derive(Serialize, Deserialize, Clone)]
struct NewProfile {
    email: Option<String>,
    email_verified: bool,
    /// Whether the address may sign in (the provider vouched for it and nobody else uses it).
    email_auth_enabled: bool,
    display_name: Option<String>,
    profile_image_url: Option<String>,
    /// A `restrict` sign-up rule's private details, applied with the profile.
    #[serde(default)]
    restriction: Option<String>,
}

struct CodeGrant<'a> {
    project_id: &'a str,
    user_id: &'a str,
    redirect_uri: &'a str,
    code_challenge: &'a str,
    is_new_user: bool,
    after_callback_redirect_url: Option<&'a str>,
    pending_link_sealed: Option<&'a str>,
}

/// A new authorization code for `grant` (kept hashed).
async fn issue_code(state: &Kernel, grant: CodeGrant<'_>) -> ApiResult<String> {
    let code = random_base32(40);
    sqlx::query(
        "INSERT INTO oauth_authorization_codes (code_hash, project_id, user_id, redirect_uri, code_challenge, is_new_user, after_callback_redirect_url, expires_at, pending_link)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(sha256_hex(&code))
    .bind(grant.project_id)
    .bind(grant.user_id)
    .bind(grant.redirect_uri)
    .bind(grant.code_challenge)
    .bind(flag(grant.is_new_user))
    .bind(grant.after_callback_redirect_url)
    .bind(now_ms() + AUTHORIZATION_CODE_MS)
    .bind(grant.pending_link_sealed)
    .execute(state.db())
    .await?;
    Ok(code)
}
