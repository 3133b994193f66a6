//! The provider side of OAuth sign-in, through the `openidconnect` crate: discovery, the
//! authorization URL with PKCE and a nonce, the code exchange, ID-token validation (signature
//! from the provider's JWKS, issuer, audience, nonce) and the user-info claims.
//!
//! Which issuer and keys a project's provider uses: its own client id and secret ("standard"),
//! or the instance's shared keys ("shared"), which `PORTCULLIS_OAUTH_MOCK_ISSUER` routes to a
//! local OpenID Connect issuer for development and tests. Providers without OpenID Connect
//! (GitHub and others) and the instance's own shared keys are not supported yet.

use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::config::OAuthProvider;
use crate::projects::Project;
use axum::http::StatusCode;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// The client secret of every shared provider routed to the mock issuer.
const MOCK_CLIENT_SECRET: &str = "MOCK-SERVER-SECRET";

/// A project's provider, resolved to an issuer and client credentials.
pub struct Provider {
    pub id: String,
    /// Signs in with the instance's shared keys (then no extra scopes may be asked for).
    pub shared: bool,
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
}

/// Where the provider sends the user back: `<public url>/api/v1/auth/oauth/callback/<id>`.
pub fn callback_url(k: &Kernel, provider_id: &str) -> String {
    format!("{}/api/v1/auth/oauth/callback/{provider_id}", k.public_url)
}

/// The project's enabled provider `provider_id`.
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED; 501 for a provider this server cannot
/// sign in with yet.
pub fn resolve(k: &Kernel, project: &Project, provider_id: &str) -> ApiResult<Provider> {
    let config: &OAuthProvider = project
        .config
        .oauth_providers
        .iter()
        .find(|p| p.id == provider_id)
        .ok_or_else(known::oauth_provider_not_found_or_not_enabled)?;
    let unsupported = |why: &str| {
        ApiError::text(
            StatusCode::NOT_IMPLEMENTED,
            format!("OAuth sign-in with {provider_id} is not supported by this server yet: {why}"),
        )
    };
    let shared = config.kind == "shared";
    let (issuer, client_id, client_secret) = match (shared, &k.config.oauth_mock_issuer) {
        (true, Some(mock)) => (
            mock.trim_end_matches('/').to_string(),
            provider_id.to_string(),
            MOCK_CLIENT_SECRET.to_string(),
        ),
        (true, None) => return Err(unsupported("shared keys are not configured on this server")),
        (false, _) => {
            let issuer = match provider_id {
                "google" => "https://accounts.google.com".to_string(),
                "microsoft" => format!(
                    "https://login.microsoftonline.com/{}/v2.0",
                    config.microsoft_tenant_id.as_deref().unwrap_or("common")
                ),
                _ => return Err(unsupported("only OpenID Connect providers are, so far")),
            };
            (
                issuer,
                config.client_id.clone().unwrap_or_default(),
                config.client_secret.clone().unwrap_or_default(),
            )
        }
    };
    Ok(Provider {
        id: provider_id.to_string(),
        shared,
        issuer,
        client_id,
        client_secret,
        redirect_uri: callback_url(k, provider_id),
    })
}

/// What the provider's authorization URL carries that the callback needs back.
pub struct Started {
    pub url: String,
    /// The state sent to the provider (it comes back on the callback).
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// Who signed in at the provider.
#[derive(Debug)]
pub struct ProviderUser {
    pub account_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub profile_image_url: Option<String>,
}

fn provider_error(e: impl std::fmt::Display) -> ApiError {
    // The message names the failing step only: provider answers can carry tokens.
    ApiError::text(
        StatusCode::BAD_GATEWAY,
        format!("The OAuth provider could not be reached or answered unexpectedly ({e})."),
    )
}

fn http_client() -> ApiResult<openidconnect::reqwest::Client> {
    // No redirects: a provider endpoint that redirects could be used to reach other hosts.
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ApiError::Internal(e.into()))
}

impl Provider {
    async fn metadata(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> ApiResult<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(provider_error)?;
        CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| provider_error(format!("discovery: {e}")))
    }

    fn redirect(&self) -> ApiResult<RedirectUrl> {
        RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| ApiError::Internal(e.into()))
    }

    /// The provider's authorization URL for a fresh state, PKCE pair and nonce, asking for the
    /// base scopes plus `extra_scope` (space-separated).
    pub async fn start(&self, extra_scope: Option<&str>) -> ApiResult<Started> {
        let http = http_client()?;
        let client = CoreClient::from_provider_metadata(
            self.metadata(&http).await?,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect()?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        for scope in extra_scope.unwrap_or("").split_whitespace() {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Exchanges the provider's authorization code (with the PKCE verifier), validates the ID
    /// token against `nonce`, and reads the user's claims (user info, else the ID token).
    /// Errors: 502 when the provider refuses or answers something invalid.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> ApiResult<ProviderUser> {
        let http = http_client()?;
        let client = CoreClient::from_provider_metadata(
            self.metadata(&http).await?,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect()?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(provider_error)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&http)
            .await
            .map_err(|e| provider_error(format!("code exchange: {e}")))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| provider_error("no ID token"))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
            .map_err(|e| provider_error(format!("ID token: {e}")))?;
        let mut user = ProviderUser {
            account_id: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            display_name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            profile_image_url: claims
                .picture()
                .and_then(|p| p.get(None))
                .map(|p| p.to_string()),
        };
        if user.email.is_none() {
            let info: openidconnect::core::CoreUserInfoClaims = client
                .user_info(
                    tokens.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(provider_error)?
                .request_async(&http)
                .await
                .map_err(|e| provider_error(format!("user info: {e}")))?;
            user.email = info.email().map(|e| e.to_string());
            user.email_verified = info.email_verified().unwrap_or(false);
            if user.display_name.is_none() {
                user.display_name = info.name().and_then(|n| n.get(None)).map(|n| n.to_string());
            }
        }
        Ok(user)
    }
}
