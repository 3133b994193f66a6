//! The provider side of OAuth sign-in, in each provider's own protocol.
//!
//! - OpenID Connect (Google, Microsoft with a tenant, LinkedIn, Apple, any issuer a project
//!   configures): the `openidconnect` crate does discovery, the authorization URL with PKCE and a
//!   nonce, the code exchange and ID-token validation (signature from the provider's JWKS,
//!   issuer, audience, nonce).
//! - OAuth 2 plus the provider's REST API (GitHub, Spotify, Facebook, Discord, GitLab, Bitbucket,
//!   Microsoft's multi-tenant `common` endpoint, X, Twitch): the `oauth2` crate for the code
//!   exchange, then the provider's user (and emails) endpoint for who signed in — the same
//!   endpoints and fields the original reads (`apps/backend/src/oauth/providers/*.tsx`).
//!
//! Keys: a project's own client id and secret ("standard"), or the instance's shared keys
//! (`PORTCULLIS_OAUTH_<PROVIDER>_CLIENT_ID` / `_CLIENT_SECRET`, set by the server's operator),
//! else, for development and tests, `PORTCULLIS_OAUTH_MOCK_ISSUER`: a local OpenID Connect issuer
//! with client id = provider id. `PORTCULLIS_OAUTH_<PROVIDER>_ISSUER` replaces a built-in OpenID
//! Connect provider's issuer, and `PORTCULLIS_OAUTH_REROUTE` sends the REST providers' fixed
//! HTTPS endpoints to `<that url>/<host>/<path>`, so tests reach local stand-ins.

use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::config::OAuthProvider;
use crate::projects::Project;
use crate::store::now_ms;
use crate::store::recent::Recent;
use axum::http::StatusCode;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::reqwest;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse,
};
use openidconnect::{EndpointMaybeSet, EndpointNotSet, EndpointSet};
use serde_json::Value;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

/// The client secret of every shared provider routed to the mock issuer.
const MOCK_CLIENT_SECRET: &str = "MOCK-SERVER-SECRET";

/// A project's provider, resolved to a protocol and client credentials.
pub struct Provider {
    pub id: String,
    /// Signs in with the instance's shared keys (then no extra scopes may be asked for, and
    /// the provider's access tokens are not handed out).
    pub shared: bool,
    protocol: Protocol,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    reroute: Option<String>,
}

enum Protocol {
    OpenIdConnect {
        issuer: String,
        /// Scopes asked for besides `openid`.
        scope: &'static str,
        /// The provider answers with a form POST (Apple, when name or email is asked for).
        form_post: bool,
    },
    Rest(&'static RestApi),
}

/// A provider signed in with OAuth 2 and read through its REST API.
struct RestApi {
    authorize_url: &'static str,
    token_url: &'static str,
    scope: &'static str,
    /// Client credentials go in the token request's body (`client_secret_post`) rather than
    /// HTTP Basic.
    credentials_in_body: bool,
    user_url: &'static str,
    emails_url: Option<&'static str>,
    /// The API wants the client id in a `Client-Id` header too (Twitch's Helix).
    client_id_header: bool,
    /// Who signed in, from the user endpoint's and (if any) the emails endpoint's JSON.
    read: fn(&Value, &Value) -> Option<ProviderUser>,
}

/// The JSON value as an id: providers send numbers (GitHub, GitLab) or strings.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn user(
    account_id: Option<String>,
    email: Option<String>,
    email_verified: bool,
    display_name: Option<String>,
    profile_image_url: Option<String>,
) -> Option<ProviderUser> {
    Some(ProviderUser {
        account_id: account_id?,
        email_verified: email.is_some() && email_verified,
        email,
        display_name,
        profile_image_url,
    })
}

static GITHUB: RestApi = RestApi {
    authorize_url: "https://github.com/login/oauth/authorize",
    token_url: "https://github.com/login/oauth/access_token",
    scope: "user:email",
    credentials_in_body: false,
    user_url: "https://api.github.com/user",
    emails_url: Some("https://api.github.com/user/emails"),
    client_id_header: false,
    read: |u, emails| {
        let primary = emails
            .as_array()
            .and_then(|all| all.iter().find(|e| e["primary"] == true));
        user(
            id_of(&u["id"]),
            primary.and_then(|e| text(&e["email"])),
            primary.is_some_and(|e| e["verified"] == true),
            text(&u["name"]).or(text(&u["login"])),
            text(&u["avatar_url"]),
        )
    },
};

static SPOTIFY: RestApi = RestApi {
    authorize_url: "https://accounts.spotify.com/authorize",
    token_url: "https://accounts.spotify.com/api/token",
    scope: "user-read-email user-read-private",
    credentials_in_body: false,
    user_url: "https://api.spotify.com/v1/me",
    emails_url: None,
    client_id_header: false,
    // Spotify does not say whether it verified the address.
    read: |u, _| {
        user(
            id_of(&u["id"]),
            text(&u["email"]),
            false,
            text(&u["display_name"]),
            text(&u["images"][0]["url"]),
        )
    },
};

static FACEBOOK: RestApi = RestApi {
    authorize_url: "https://www.facebook.com/v20.0/dialog/oauth",
    token_url: "https://graph.facebook.com/v20.0/oauth/access_token",
    scope: "public_profile email",
    credentials_in_body: true,
    user_url: "https://graph.facebook.com/v20.0/me?fields=id,name,email,picture",
    emails_url: None,
    client_id_header: false,
    read: |u, _| {
        user(
            id_of(&u["id"]),
            text(&u["email"]),
            false,
            text(&u["name"]),
            text(&u["picture"]["data"]["url"]),
        )
    },
};

static DISCORD: RestApi = RestApi {
    authorize_url: "https://discord.com/oauth2/authorize",
    token_url: "https://discord.com/api/oauth2/token",
    scope: "identify email",
    credentials_in_body: false,
    user_url: "https://discord.com/api/users/@me",
    emails_url: None,
    client_id_header: false,
    read: |u, _| {
        let id = id_of(&u["id"]);
        // Animated avatars' hashes start with `a_` (Discord's CDN docs).
        let avatar = text(&u["avatar"]).zip(id.as_ref()).map(|(hash, id)| {
            let ext = if hash.starts_with("a_") { "gif" } else { "png" };
            format!("https://cdn.discordapp.com/avatars/{id}/{hash}.{ext}")
        });
        user(
            id,
            text(&u["email"]),
            u["verified"] == true,
            text(&u["global_name"]).or(text(&u["username"])),
            avatar,
        )
    },
};

static GITLAB: RestApi = RestApi {
    authorize_url: "https://gitlab.com/oauth/authorize",
    token_url: "https://gitlab.com/oauth/token",
    scope: "read_user",
    credentials_in_body: true,
    user_url: "https://gitlab.com/api/v4/user",
    emails_url: None,
    client_id_header: false,
    read: |u, _| {
        user(
            id_of(&u["id"]),
            text(&u["email"]),
            !u["confirmed_at"].is_null(),
            text(&u["name"]).or(text(&u["username"])),
            text(&u["avatar_url"]),
        )
    },
};

static BITBUCKET: RestApi = RestApi {
    authorize_url: "https://bitbucket.org/site/oauth2/authorize",
    token_url: "https://bitbucket.org/site/oauth2/access_token",
    scope: "account email",
    credentials_in_body: false,
    user_url: "https://api.bitbucket.org/2.0/user",
    emails_url: Some("https://api.bitbucket.org/2.0/user/emails"),
    client_id_header: false,
    read: |u, emails| {
        let primary = emails["values"]
            .as_array()
            .and_then(|all| all.iter().find(|e| e["is_primary"] == true));
        user(
            id_of(&u["account_id"]).or(id_of(&u["uuid"])),
            primary.and_then(|e| text(&e["email"])),
            primary.is_some_and(|e| e["is_confirmed"] == true),
            text(&u["display_name"]),
            text(&u["links"]["avatar"]["href"]),
        )
    },
};

/// Microsoft's multi-tenant endpoint: its issuer is a template (`{tenantid}`), so ID tokens
/// cannot be checked against it; Microsoft Graph says who signed in instead.
static MICROSOFT_COMMON: RestApi = RestApi {
    authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    scope: "openid User.Read offline_access",
    credentials_in_body: true,
    user_url: "https://graph.microsoft.com/v1.0/me",
    emails_url: None,
    client_id_header: false,
    // Any tenant can put any address in `mail`: never treated as verified.
    read: |u, _| {
        user(
            id_of(&u["id"]),
            text(&u["mail"]).or(text(&u["userPrincipalName"])),
            false,
            text(&u["displayName"]),
            None,
        )
    },
};

static X: RestApi = RestApi {
    authorize_url: "https://x.com/i/oauth2/authorize",
    token_url: "https://api.x.com/2/oauth2/token",
    scope: "users.read tweet.read offline.access",
    credentials_in_body: false,
    user_url: "https://api.x.com/2/users/me?user.fields=profile_image_url",
    emails_url: None,
    client_id_header: false,
    // X's API gives no email address.
    read: |u, _| {
        let d = &u["data"];
        user(
            id_of(&d["id"]),
            None,
            false,
            text(&d["name"]).or(text(&d["username"])),
            text(&d["profile_image_url"]),
        )
    },
};

static TWITCH: RestApi = RestApi {
    authorize_url: "https://id.twitch.tv/oauth2/authorize",
    token_url: "https://id.twitch.tv/oauth2/token",
    scope: "user:read:email",
    credentials_in_body: true,
    user_url: "https://api.twitch.tv/helix/users",
    emails_url: None,
    client_id_header: true,
    // Twitch only gives out verified addresses (its `user:read:email` docs).
    read: |u, _| {
        let d = &u["data"][0];
        user(
            id_of(&d["id"]),
            text(&d["email"]),
            true,
            text(&d["display_name"]),
            text(&d["profile_image_url"]),
        )
    },
};

/// The protocol of a provider configured with its own keys.
fn protocol_of(config: &OAuthProvider) -> Option<Protocol> {
    // `PORTCULLIS_OAUTH_<PROVIDER>_ISSUER` stands in for a built-in provider's issuer (a local
    // issuer in tests, a regional or proxied one in operation).
    let oidc = |issuer: &str, scope, form_post| Protocol::OpenIdConnect {
        issuer: operator_setting(&config.id, "ISSUER")
            .unwrap_or_else(|| issuer.to_string())
            .trim_end_matches('/')
            .to_string(),
        scope,
        form_post,
    };
    if let Some(issuer) = &config.issuer_url {
        return Some(oidc(issuer, "email profile", false));
    }
    Some(match config.id.as_str() {
        "google" => oidc("https://accounts.google.com", "email profile", false),
        "microsoft" => match config.microsoft_tenant_id.as_deref() {
            Some(tenant) if !matches!(tenant, "" | "common" | "organizations" | "consumers") => {
                oidc(
                    &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                    "email profile",
                    false,
                )
            }
            _ => Protocol::Rest(&MICROSOFT_COMMON),
        },
        "linkedin" => oidc("https://www.linkedin.com/oauth", "email profile", false),
        // Apple has no `profile` scope and posts its answer when name or email is asked for.
        "apple" => oidc("https://appleid.apple.com", "name email", true),
        "github" => Protocol::Rest(&GITHUB),
        "spotify" => Protocol::Rest(&SPOTIFY),
        "facebook" => Protocol::Rest(&FACEBOOK),
        "discord" => Protocol::Rest(&DISCORD),
        "gitlab" => Protocol::Rest(&GITLAB),
        "bitbucket" => Protocol::Rest(&BITBUCKET),
        "x" => Protocol::Rest(&X),
        "twitch" => Protocol::Rest(&TWITCH),
        _ => return None,
    })
}

/// The operator's setting `PORTCULLIS_OAUTH_<PROVIDER>_<what>`, if set and not empty.
fn operator_setting(provider_id: &str, what: &str) -> Option<String> {
    let name = format!("PORTCULLIS_OAUTH_{}_{what}", provider_id.to_uppercase());
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The instance's shared keys for `provider_id` (`…_CLIENT_ID` and `…_CLIENT_SECRET`).
fn instance_keys(provider_id: &str) -> Option<(String, String)> {
    Some((
        operator_setting(provider_id, "CLIENT_ID")?,
        operator_setting(provider_id, "CLIENT_SECRET")?,
    ))
}

/// Whether a project can sign in with `provider_id` on shared keys here: the operator set
/// keys for it, or the mock issuer stands in for every provider.
pub fn shared_keys_available(k: &Kernel, provider_id: &str) -> bool {
    instance_keys(provider_id).is_some() || k.config.oauth_mock_issuer.is_some()
}

/// Where the provider sends the user back: `<public url>/api/v1/auth/oauth/callback/<id>`.
pub fn callback_url(k: &Kernel, provider_id: &str) -> String {
    format!("{}/api/v1/auth/oauth/callback/{provider_id}", k.public_url)
}

/// The project's enabled provider `provider_id`.
/// Errors: OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED; a plain 400 for shared keys this server
/// does not have.
pub fn resolve(k: &Kernel, project: &Project, provider_id: &str) -> ApiResult<Provider> {
    let config: &OAuthProvider = project
        .config
        .oauth_providers
        .iter()
        .find(|p| p.id == provider_id)
        .ok_or_else(known::oauth_provider_not_found_or_not_enabled)?;
    let shared = config.kind == "shared";
    let unavailable = || {
        ApiError::text(
            StatusCode::BAD_REQUEST,
            format!(
                "OAuth sign-in with {provider_id} uses shared keys, and this server has none for it: its operator sets PORTCULLIS_OAUTH_{}_CLIENT_ID and _CLIENT_SECRET.",
                provider_id.to_uppercase()
            ),
        )
    };
    let (protocol, client_id, client_secret) = if shared {
        match (instance_keys(provider_id), &k.config.oauth_mock_issuer) {
            (Some((id, secret)), _) => (protocol_of(config).ok_or_else(unavailable)?, id, secret),
            (None, Some(mock)) => (
                Protocol::OpenIdConnect {
                    issuer: mock.trim_end_matches('/').to_string(),
                    scope: "email profile",
                    form_post: false,
                },
                provider_id.to_string(),
                MOCK_CLIENT_SECRET.to_string(),
            ),
            (None, None) => return Err(unavailable()),
        }
    } else {
        let protocol = protocol_of(config).ok_or_else(|| {
            ApiError::text(
                StatusCode::BAD_REQUEST,
                format!("OAuth provider {provider_id} needs an issuer URL (OpenID Connect)."),
            )
        })?;
        (
            protocol,
            config.client_id.clone().unwrap_or_default(),
            config.client_secret.clone().unwrap_or_default(),
        )
    };
    Ok(Provider {
        id: provider_id.to_string(),
        shared,
        protocol,
        client_id,
        client_secret,
        redirect_uri: callback_url(k, provider_id),
        reroute: k.config.oauth_reroute.clone(),
    })
}

/// What the provider's authorization URL carries that the callback needs back.
pub struct Started {
    pub url: String,
    /// The state sent to the provider (it comes back on the callback).
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// The provider answers with a cross-site form POST (its cookie must be `SameSite=None`).
    pub form_post: bool,
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

impl ProviderUser {
    /// What a provider sent, made storable: NUL bytes dropped (PostgreSQL text refuses them),
    /// a name cut to the 256 characters a user's may have, an unusable email or picture URL
    /// left out rather than failing the sign-in. Errors: 502 without a usable account id.
    fn cleaned(self) -> ApiResult<ProviderUser> {
        let clean = |s: String| s.replace('\0', "");
        let account_id = clean(self.account_id);
        if account_id.is_empty() || account_id.len() > 512 {
            return Err(provider_error("no usable account id"));
        }
        Ok(ProviderUser {
            account_id,
            email: self
                .email
                .map(clean)
                .filter(|e| crate::users::is_valid_email(e)),
            email_verified: self.email_verified,
            display_name: self
                .display_name
                .map(|n| clean(n).chars().take(256).collect::<String>())
                .filter(|n| !n.trim().is_empty()),
            profile_image_url: self.profile_image_url.map(clean).filter(|u| {
                u.len() <= 2048 && (u.starts_with("https://") || u.starts_with("http://"))
            }),
        })
    }
}

/// The provider's tokens for a user (kept sealed for connected accounts).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ProviderTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (ms since the epoch), if the provider said.
    pub expires_at: Option<i64>,
}

fn tokens_of(r: &impl OAuth2TokenResponse) -> ProviderTokens {
    ProviderTokens {
        access_token: r.access_token().secret().clone(),
        refresh_token: r.refresh_token().map(|t| t.secret().clone()),
        expires_at: r
            .expires_in()
            .map(|d| now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
    }
}

fn provider_error(e: impl std::fmt::Display) -> ApiError {
    // The message names the failing step only: provider answers can carry tokens.
    tracing::warn!("OAuth provider call failed: {e}");
    ApiError::text(
        StatusCode::BAD_GATEWAY,
        format!("The OAuth provider could not be reached or answered unexpectedly ({e})."),
    )
}

/// A refresh the provider answered: new tokens, or `None` when it refused the refresh token
/// (revoked, expired, consent withdrawn — RFC 6749 §5.2).
fn refreshed<RE, T>(
    result: Result<T, RequestTokenError<RE, impl oauth2::ErrorResponse>>,
) -> ApiResult<Option<ProviderTokens>>
where
    RE: std::error::Error + 'static,
    T: OAuth2TokenResponse,
{
    match result {
        Ok(tokens) => Ok(Some(tokens_of(&tokens))),
        Err(RequestTokenError::ServerResponse(_)) => Ok(None),
        Err(e) => Err(provider_error(format!("refresh: {e}"))),
    }
}

/// Who a validated ID token names.
fn user_of_claims(claims: &openidconnect::core::CoreIdTokenClaims) -> ProviderUser {
    ProviderUser {
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
    }
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

type RestClient = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

impl Provider {
    /// The scopes a sign-in asks for: the provider's own plus `extra` (space-separated).
    pub fn scopes(&self, extra: Option<&str>) -> Vec<String> {
        let base = match &self.protocol {
            Protocol::OpenIdConnect { scope, .. } => format!("openid {scope}"),
            Protocol::Rest(api) => api.scope.to_string(),
        };
        let mut all: Vec<String> = Vec::new();
        for s in base
            .split_whitespace()
            .chain(extra.unwrap_or("").split_whitespace())
        {
            if !all.iter().any(|a| a == s) {
                all.push(s.to_string());
            }
        }
        all
    }

    /// A REST provider's fixed URL, rerouted for tests when `PORTCULLIS_OAUTH_REROUTE` is set.
    fn at(&self, url: &str) -> String {
        match &self.reroute {
            Some(base) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                url.trim_start_matches("https://")
            ),
            None => url.to_string(),
        }
    }

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

    fn rest_client(&self, api: &RestApi) -> ApiResult<RestClient> {
        let auth_type = if api.credentials_in_body {
            oauth2::AuthType::RequestBody
        } else {
            oauth2::AuthType::BasicAuth
        };
        Ok(
            oauth2::basic::BasicClient::new(oauth2::ClientId::new(self.client_id.clone()))
                .set_client_secret(oauth2::ClientSecret::new(self.client_secret.clone()))
                .set_auth_type(auth_type)
                .set_auth_uri(
                    oauth2::AuthUrl::new(self.at(api.authorize_url)).map_err(provider_error)?,
                )
                .set_token_uri(
                    oauth2::TokenUrl::new(self.at(api.token_url)).map_err(provider_error)?,
                )
                .set_redirect_uri(
                    oauth2::RedirectUrl::new(self.redirect_uri.clone()).map_err(provider_error)?,
                ),
        )
    }

    /// The provider's authorization URL for a fresh state, PKCE pair and nonce, asking for the
    /// base scopes plus `extra_scope` (space-separated).
    pub async fn start(&self, extra_scope: Option<&str>) -> ApiResult<Started> {
        let scopes = self.scopes(extra_scope);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce, form_post) = match &self.protocol {
            Protocol::OpenIdConnect {
                issuer, form_post, ..
            } => {
                let client = self.oidc_client(issuer).await?;
                let mut request = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        CsrfToken::new_random,
                        Nonce::new_random,
                    )
                    .set_pkce_challenge(challenge);
                for scope in scopes.iter().filter(|s| *s != "openid") {
                    request = request.add_scope(Scope::new(scope.clone()));
                }
                if *form_post {
                    request = request.add_extra_param("response_mode", "form_post");
                }
                let (url, state, nonce) = request.url();
                (url, state, nonce.secret().clone(), *form_post)
            }
            Protocol::Rest(api) => {
                let client = self.rest_client(api)?;
                let (url, state) = client
                    .authorize_url(CsrfToken::new_random)
                    .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, state, String::new(), false)
            }
        };
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce,
            form_post,
        })
    }

    /// Exchanges the provider's authorization code (with the PKCE verifier) and reads who
    /// signed in: from the validated ID token (checked against `nonce`) and user info, or from
    /// the provider's REST API.
    /// Errors: 502 when the provider refuses or answers something invalid.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> ApiResult<(ProviderUser, ProviderTokens)> {
        let http = http_client()?;
        let code = AuthorizationCode::new(code.to_string());
        let verifier = PkceCodeVerifier::new(pkce_verifier.to_string());
        let issuer = match &self.protocol {
            Protocol::OpenIdConnect { issuer, .. } => issuer,
            Protocol::Rest(api) => {
                let tokens = self
                    .rest_client(api)?
                    .exchange_code(code)
                    .set_pkce_verifier(verifier)
                    .request_async(http)
                    .await
                    .map_err(|e| provider_error(format!("code exchange: {e}")))?;
                let tokens = tokens_of(&tokens);
                let user = self.rest_user(api, &tokens.access_token).await?;
                return Ok((user.cleaned()?, tokens));
            }
        };
        let client = self.oidc_client(issuer).await?;
        let response = client
            .exchange_code(code)
            .map_err(provider_error)?
            .set_pkce_verifier(verifier)
            .request_async(http)
            .await
            .map_err(|e| provider_error(format!("code exchange: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| provider_error("no ID token"))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
            .map_err(|e| provider_error(format!("ID token: {e}")))?;
        let mut user = user_of_claims(claims);
        if user.email.is_none() && client.user_info_url().is_some() {
            let info: openidconnect::core::CoreUserInfoClaims = client
                .user_info(
                    response.access_token().clone(),
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
        Ok((user.cleaned()?, tokens_of(&response)))
    }

    /// Who an ID token a native app got from the provider itself names (Apple's native sign-in:
    /// the audience is one of the app's bundle ids, not our client id). `None` when the token
    /// is not valid: signature from the issuer's JWKS, issuer, audience, expiry.
    /// Errors: a plain 400 for a provider without OpenID Connect, 502 when discovery fails.
    pub async fn verify_native_id_token(
        &self,
        id_token: &str,
        audiences: &[String],
    ) -> ApiResult<Option<ProviderUser>> {
        let Protocol::OpenIdConnect { issuer, .. } = &self.protocol else {
            return Err(ApiError::bad_request(
                "This provider has no ID tokens to sign in with.",
            ));
        };
        let metadata = discover(issuer).await?;
        let Ok(token) = id_token.parse::<openidconnect::core::CoreIdToken>() else {
            return Ok(None);
        };
        // Native tokens carry the app's own nonce (or none): nothing here to compare it with.
        let any_nonce = |_: Option<&Nonce>| Ok(());
        for audience in audiences {
            let verifier = openidconnect::core::CoreIdTokenVerifier::new_public_client(
                ClientId::new(audience.clone()),
                metadata.issuer().clone(),
                metadata.jwks().clone(),
            );
            if let Ok(claims) = token.claims(&verifier, any_nonce) {
                return Ok(user_of_claims(claims).cleaned().ok());
            }
        }
        Ok(None)
    }

    /// A REST provider's endpoint read with `access_token`: its JSON, or the HTTP status it
    /// refused with.
    async fn rest_get(
        &self,
        api: &RestApi,
        url: &str,
        access_token: &str,
    ) -> ApiResult<Result<Value, StatusCode>> {
        let mut request = http_client()?
            .get(self.at(url))
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .header("user-agent", "portcullis");
        if api.client_id_header {
            request = request.header("client-id", &self.client_id);
        }
        let response = request
            .send()
            .await
            .map_err(|e| provider_error(format!("user API: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Ok(Err(
                StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY)
            ));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| provider_error(format!("user API: {e}")))?;
        serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|e| provider_error(format!("user API: {e}")))
    }

    async fn rest_user(&self, api: &RestApi, access_token: &str) -> ApiResult<ProviderUser> {
        let refused = |s: StatusCode| provider_error(format!("user API answered {s}"));
        let user = self
            .rest_get(api, api.user_url, access_token)
            .await?
            .map_err(refused)?;
        let emails = match api.emails_url {
            Some(url) => self
                .rest_get(api, url, access_token)
                .await?
                .map_err(refused)?,
            None => Value::Null,
        };
        (api.read)(&user, &emails).ok_or_else(|| provider_error("user API: no user id"))
    }

    /// New tokens for `refresh_token` (RFC 6749 §6), with the scopes first granted (not
    /// narrowed to one request's: the stored grant keeps serving every scope it had).
    /// `None` when the provider refused it. Errors: 502 when the provider cannot be reached.
    pub async fn refresh(&self, refresh_token: &str) -> ApiResult<Option<ProviderTokens>> {
        let http = http_client()?;
        let token = RefreshToken::new(refresh_token.to_string());
        match &self.protocol {
            Protocol::OpenIdConnect { issuer, .. } => refreshed(
                self.oidc_client(issuer)
                    .await?
                    .exchange_refresh_token(&token)
                    .map_err(provider_error)?
                    .request_async(http)
                    .await,
            ),
            Protocol::Rest(api) => refreshed(
                self.rest_client(api)?
                    .exchange_refresh_token(&token)
                    .request_async(http)
                    .await,
            ),
        }
    }

    /// Whether the provider still accepts `access_token` (it may have been revoked before it
    /// expired): its user-info or user endpoint answers. Errors: 502 when it cannot be reached.
    pub async fn accepts(&self, access_token: &str) -> ApiResult<bool> {
        let api = match &self.protocol {
            Protocol::Rest(api) => api,
            Protocol::OpenIdConnect { issuer, .. } => {
                let client = self.oidc_client(issuer).await?;
                let Some(url) = client.user_info_url() else {
                    return Ok(true);
                };
                let status = http_client()?
                    .get(url.as_str())
                    .bearer_auth(access_token)
                    .send()
                    .await
                    .map_err(|e| provider_error(format!("user info: {e}")))?
                    .status();
                return Ok(status.is_success());
            }
        };
        match self.rest_get(api, api.user_url, access_token).await? {
            Ok(_) => Ok(true),
            Err(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Ok(false),
            Err(status) => Err(provider_error(format!("user API answered {status}"))),
        }
    }
}
