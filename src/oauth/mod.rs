//! OAuth sign-in (the original's `auth/oauth/*`): the SDK's authorization-code flow with PKCE —
//! `authorize` sends the browser to the provider, `callback` finds, links (by the project's merge strategy) or creates the user and hands
//! the app a one-time authorization code, and the token endpoint exchanges it (and refreshes
//! sessions). Providers are reached through OpenID Connect (`provider`).
//!
//! Not yet: connected accounts, providers without OpenID Connect other than GitHub, the
//! instance's own shared keys, cross-domain handoff and Apple's native callback.

mod accounts;
mod authorize;
mod callback;
mod connected;
pub mod provider;
mod token;

use crate::auth::context::ApiState;
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/auth/oauth/authorize/{provider_id}",
            get(authorize::authorize),
        )
        .route(
            "/auth/oauth/callback/{provider_id}",
            get(callback::callback).post(callback::callback),
        )
        .merge(token::routes())
        .merge(accounts::routes())
        .merge(connected::routes())
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
