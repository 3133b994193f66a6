//! The provider side of OAuth sign-in. OpenID Connect providers through the `openidconnect`
//! crate: discovery, the authorization URL with PKCE and a nonce, the code exchange, ID-token
//! validation (signature from the provider's JWKS, issuer, audience, nonce) and the user-info
//! claims. GitHub, which has no OpenID Connect, through the `oauth2` crate and its REST API
//! (`/user`, `/user/emails` for the primary verified address).
//!
//! Which issuer and keys a project's provider uses: its own client id and secret ("standard"),
//! or the instance's shared keys ("shared"), which `PORTCULLIS_OAUTH_MOCK_ISSUER` routes to a
//! local OpenID Connect issuer for development and tests. The other providers without OpenID
//! Connect and the instance's own shared keys are not supported yet.

use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::config::OAuthProvider;
use crate::projects::Project;
use crate::store::recent::Recent;
use axum::http::StatusCode;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::reqwest;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use openidconnect::{EndpointMaybeSet, EndpointNotSet, EndpointSet};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

/// The client secret of every shared provider routed to the mock issuer.
const MOCK_CLIENT_SECRET: &str = "MOCK-SERVER-SECRET";

/// A project's provider, resolved to an issuer and client credentials.
pub struct Provider {
    pub id: String,
    /// Signs in with the instance's shared keys (then no extra scopes may be asked for).
    pub shared: bool,
    protocol: Protocol,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
}

enum Protocol {
    OpenIdConnect {
        issuer: String,
    },
    /// GitHub's OAuth 2 endpoints under `web`, its REST API under `api`.
    GitHub {
        web: String,
        api: String,
    },
}

/// Where the provider sends the user back: `<public url>/api/v1/auth/oauth/callback/<id>`.
pub fn callback_url(k: &Kernel, provider_id: &str) -> String {
    format!("{}/api/v1/auth/oauth/callback/{provider_id}", k.public_url)
}

/// The project's enabled provider `provider_id`.
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED; a plain 400 for a provider this server cannot
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
            StatusCode::BAD_REQUEST,
            format!("OAuth sign-in with {provider_id} is not supported by this server yet: {why}"),
        )
    };
    let shared = config.kind == "shared";
    let oidc = |issuer: String| Protocol::OpenIdConnect { issuer };
    let (protocol, client_id, client_secret) = match (shared, &k.config.oauth_mock_issuer) {
        (true, Some(mock)) => (
            oidc(mock.trim_end_matches('/').to_string()),
            provider_id.to_string(),
            MOCK_CLIENT_SECRET.to_string(),
        ),
        (true, None) => return Err(unsupported("shared keys are not configured on this server")),
        (false, _) => {
            let protocol = match provider_id {
                _ if config.issuer_url.is_some() => oidc(
                    config
                        .issuer_url
                        .clone()
                        .unwrap_or_default()
                        .trim_end_matches('/')
                        .to_string(),
                ),
                "google" => oidc("https://accounts.google.com".to_string()),
                "microsoft" => oidc(format!(
                    "https://login.microsoftonline.com/{}/v2.0",
                    config.microsoft_tenant_id.as_deref().unwrap_or("common")
                )),
                "github" => Protocol::GitHub {
                    web: k.config.github_url.trim_end_matches('/').to_string(),
                    api: k.config.github_api_url.trim_end_matches('/').to_string(),
                },
                _ => {
                    return Err(unsupported(
                        "only OpenID Connect providers and GitHub are, so far",
                    ))
                }
            };
            (
                protocol,
                config.client_id.clone().unwrap_or_default(),
                config.client_secret.clone().unwrap_or_default(),
            )
        }
    };
    Ok(Provider {
        id: provider_id.to_string(),
        shared,
        protocol,
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

/// The one HTTP client for providers (its connection pool is reused across sign-ins).
fn http_client() -> ApiResult<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    // No redirects: a provider endpoint that redirects could be used to reach other hosts.
    let client = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// An issuer's discovery document and signing keys, fetched once per five minutes rather than
/// twice per sign-in (keys a provider rotates in are picked up within that time).
async fn discover(issuer: &str) -> ApiResult<Arc<CoreProviderMetadata>> {
    static DISCOVERED: LazyLock<Recent<CoreProviderMetadata>> =
        LazyLock::new(|| Recent::new(Duration::from_secs(300)));
    if let Some(metadata) = DISCOVERED.get(issuer) {
        return Ok(metadata);
    }
    let url = IssuerUrl::new(issuer.to_string()).map_err(provider_error)?;
    let metadata = CoreProviderMetadata::discover_async(url, http_client()?)
        .await
        .map_err(|e| provider_error(format!("discovery: {e}")))?;
    Ok(DISCOVERED.put(issuer, metadata))
}

/// An OpenID Connect client after discovery: authorization and token endpoints as discovered.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

impl Provider {
    async fn oidc_client(&self, issuer: &str) -> ApiResult<OidcClient> {
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| ApiError::Internal(e.into()))?;
        Ok(CoreClient::from_provider_metadata(
            (*discover(issuer).await?).clone(),
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for a fresh state, PKCE pair and nonce, asking for the
    /// base scopes plus `extra_scope` (space-separated).
    pub async fn start(&self, extra_scope: Option<&str>) -> ApiResult<Started> {
        let issuer = match &self.protocol {
            Protocol::OpenIdConnect { issuer } => issuer,
            Protocol::GitHub { web, .. } => return self.start_github(web, extra_scope),
        };
        let client = self.oidc_client(issuer).await?;
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
        let issuer = match &self.protocol {
            Protocol::OpenIdConnect { issuer } => issuer,
            Protocol::GitHub { web, api } => {
                return self.finish_github(web, api, code, pkce_verifier).await
            }
        };
        let http = http_client()?;
        let client = self.oidc_client(issuer).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(provider_error)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
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
                .request_async(http)
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

impl Provider {
    fn github_client(
        &self,
        web: &str,
    ) -> ApiResult<
        oauth2::basic::BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
    > {
        let url = |path: &str| format!("{web}{path}");
        Ok(
            oauth2::basic::BasicClient::new(oauth2::ClientId::new(self.client_id.clone()))
                .set_client_secret(oauth2::ClientSecret::new(self.client_secret.clone()))
                .set_auth_uri(
                    oauth2::AuthUrl::new(url("/login/oauth/authorize")).map_err(provider_error)?,
                )
                .set_token_uri(
                    oauth2::TokenUrl::new(url("/login/oauth/access_token"))
                        .map_err(provider_error)?,
                )
                .set_redirect_uri(
                    oauth2::RedirectUrl::new(self.redirect_uri.clone()).map_err(provider_error)?,
                ),
        )
    }

    fn start_github(&self, web: &str, extra_scope: Option<&str>) -> ApiResult<Started> {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let client = self.github_client(web)?;
        let mut request = client
            .authorize_url(oauth2::CsrfToken::new_random)
            .add_scope(oauth2::Scope::new("user:email".into()))
            .set_pkce_challenge(challenge);
        for scope in extra_scope.unwrap_or("").split_whitespace() {
            request = request.add_scope(oauth2::Scope::new(scope.to_string()));
        }
        let (url, state) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
        })
    }

    /// GitHub: the code for a token, then `/user` and `/user/emails` (the primary address and
    /// whether GitHub verified it).
    async fn finish_github(
        &self,
        web: &str,
        api: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> ApiResult<ProviderUser> {
        use oauth2::TokenResponse as _;
        let http = http_client()?;
        let tokens = self
            .github_client(web)?
            .exchange_code(oauth2::AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|e| provider_error(format!("code exchange: {e}")))?;
        let get = |path: &str| {
            http.get(format!("{api}{path}"))
                .bearer_auth(tokens.access_token().secret())
                .header("accept", "application/vnd.github+json")
                .header("user-agent", "portcullis")
                .send()
        };
        let read = |what: &'static str, response| async move {
            let body = match response {
                Ok(r) => reqwest::Response::error_for_status(r)
                    .map_err(|e| provider_error(format!("{what}: {e}")))?
                    .bytes()
                    .await
                    .map_err(|e| provider_error(format!("{what}: {e}")))?,
                Err(e) => return Err(provider_error(format!("{what}: {e}"))),
            };
            serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| provider_error(format!("{what}: {e}")))
        };
        let user = read("user", get("/user").await).await?;
        let emails = read("emails", get("/user/emails").await).await?;
        let emails = emails.as_array().cloned().unwrap_or_default();
        let primary = emails.iter().find(|e| e["primary"] == true);
        let account_id = match &user["id"] {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => return Err(provider_error("user: no id")),
        };
        Ok(ProviderUser {
            account_id,
            email: primary
                .and_then(|e| e["email"].as_str())
                .map(str::to_string),
            email_verified: primary.is_some_and(|e| e["verified"] == true),
            display_name: user["name"]
                .as_str()
                .or(user["login"].as_str())
                .map(str::to_string),
            profile_image_url: user["avatar_url"].as_str().map(str::to_string),
        })
    }
}
