//! Who is calling: the `x-stack-*` headers resolved, in the original's order of checks, into an
//! access type, a project and (optionally) a verified end-user access token. Every API handler
//! starts here, so this module sits below every capability that serves routes.

use super::tokens::{self, AccessClaims};
pub use crate::http::access::{AccessType, ADMIN, ANY, TRUSTED};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryUse;
use crate::http::known;
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::kernel::Kernel;
use crate::projects::keys::{self, KeyKind};
use crate::projects::{self, Project, ProjectCache};
use crate::users::{self, User};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// What an API handler and the request context need: the kernel and the project cache. Derefs
/// to the kernel, so domain functions taking `&Kernel` accept `&ApiState`. The assembled state
/// in `server.rs` yields it through `FromRef`.
#[derive(Clone)]
pub struct ApiState {
    pub kernel: Kernel,
    pub projects: Arc<ProjectCache>,
}

impl std::ops::Deref for ApiState {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        &self.kernel
    }
}

impl FromRef<ApiState> for Kernel {
    fn from_ref(state: &ApiState) -> Kernel {
        state.kernel.clone()
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub access_type: AccessType,
    pub project: Arc<Project>,
    pub token: Option<AccessClaims>,
}

/// The resolved request: `auth` is None when no access type was sent.
pub struct RequestCtx {
    pub auth: Option<Auth>,
    pub refresh_token: Option<String>,
    /// Whether a typed `Query` took the query string; if not, any parameter is unknown.
    query: QueryUse,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    // A repeated header would be joined by the original and fail as a wrong value.
    if values.next().is_some() {
        return Some("\u{0}repeated");
    }
    Some(first.to_str().unwrap_or("\u{0}invalid"))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx
where
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let state = &ApiState::from_ref(state);
        let h = &parts.headers;
        let refresh_token = header(h, "x-stack-refresh-token").map(str::to_string);
        let key_headers = [
            "x-stack-publishable-client-key",
            "x-stack-secret-server-key",
            "x-stack-super-secret-admin-key",
            "x-stack-admin-access-token",
        ];
        let Some(access_type) = header(h, "x-stack-access-type") else {
            if key_headers.iter().any(|k| h.contains_key(*k)) {
                return Err(known::project_key_without_access_type().into());
            }
            return Ok(RequestCtx {
                auth: None,
                refresh_token,
                query: QueryUse::of(parts),
            });
        };
        let access_type = match access_type {
            "client" => AccessType::Client,
            "server" => AccessType::Server,
            "admin" => AccessType::Admin,
            other => return Err(known::invalid_access_type(other).into()),
        };
        let Some(project_id) = header(h, "x-stack-project-id") else {
            return Err(known::access_type_without_project_id(access_type.as_str()).into());
        };
        let allow_anonymous = header(h, "x-stack-allow-anonymous-user") == Some("true");
        let allow_restricted =
            allow_anonymous || header(h, "x-stack-allow-restricted-user") == Some("true");

        let token = match header(h, "x-stack-access-token") {
            Some(raw) => Some(verify_user_token(
                state,
                raw,
                project_id,
                allow_anonymous,
                allow_restricted,
            )?),
            None => None,
        };

        let project = state
            .projects
            .get(state, project_id)
            .await?
            .ok_or_else(|| known::current_project_not_found(project_id))?;

        if let Some(override_key) = header(h, "x-stack-development-override-key") {
            check_development_override(state, override_key).await?;
        } else if let Some(admin_token) = header(h, "x-stack-admin-access-token") {
            check_admin_token(state, admin_token, &project).await?;
        } else {
            check_key(state, h, access_type, &project).await?;
        }

        if let Some(branch) = header(h, "x-stack-branch-id") {
            if branch != "main" {
                return Err(known::branch_does_not_exist(branch).into());
            }
        }
        Ok(RequestCtx {
            query: QueryUse::of(parts),
            auth: Some(Auth {
                access_type,
                project,
                token,
            }),
            refresh_token,
        })
    }
}

fn verify_user_token(
    state: &ApiState,
    raw: &str,
    project_id: &str,
    allow_anonymous: bool,
    allow_restricted: bool,
) -> ApiResult<AccessClaims> {
    let claims = tokens::verify(state, raw)?;
    if claims.project_id != project_id {
        return Err(known::invalid_project_for_access_token(project_id, &claims.project_id).into());
    }
    if claims.is_anonymous && !allow_anonymous {
        return Err(known::anonymous_authentication_not_allowed().into());
    }
    if claims.is_restricted() && !allow_restricted {
        return Err(known::restricted_user_not_allowed(&claims.restricted_reason()).into());
    }
    Ok(claims)
}

async fn check_key(
    state: &ApiState,
    h: &HeaderMap,
    access_type: AccessType,
    project: &Project,
) -> ApiResult<()> {
    let pid = project.id.as_str();
    let (kind, name) = match access_type {
        AccessType::Client => (KeyKind::PublishableClient, "x-stack-publishable-client-key"),
        AccessType::Server => (KeyKind::SecretServer, "x-stack-secret-server-key"),
        AccessType::Admin => (KeyKind::SuperSecretAdmin, "x-stack-super-secret-admin-key"),
    };
    let key = header(h, name)
        .filter(|k| !(kind == KeyKind::PublishableClient && *k == PUBLIC_CLIENT_SENTINEL));
    match (access_type, key) {
        (AccessType::Client, None) if project.config.require_publishable_client_key => {
            Err(known::publishable_client_key_required(pid).into())
        }
        (AccessType::Client, None) => Ok(()),
        (AccessType::Server, None) => Err(known::server_authentication_required().into()),
        (AccessType::Admin, None) => Err(known::admin_authentication_required().into()),
        (_, Some(key)) => {
            // Remembered by hash for a second: keyed requests then cost no extra read.
            if state.projects.key_verified(pid, kind, key) {
                return Ok(());
            }
            if keys::is_valid(state.db(), pid, kind, key).await? {
                state.projects.remember_verified_key(pid, kind, key);
                return Ok(());
            }
            Err(match access_type {
                AccessType::Client => known::invalid_publishable_client_key(pid),
                AccessType::Server => known::invalid_secret_server_key(pid),
                AccessType::Admin => known::invalid_super_secret_admin_key(pid),
            }
            .into())
        }
    }
}

/// In development mode the `internal` project's admin key opens every project.
async fn check_development_override(state: &ApiState, key: &str) -> ApiResult<()> {
    if !state.config.dev_mode {
        return Err(ApiError::text(
            StatusCode::UNAUTHORIZED,
            "Development key override is only allowed in development or test environments",
        ));
    }
    if !keys::is_valid(
        state.db(),
        projects::INTERNAL,
        KeyKind::SuperSecretAdmin,
        key,
    )
    .await?
    {
        return Err(ApiError::text(
            StatusCode::UNAUTHORIZED,
            "Invalid development key override",
        ));
    }
    Ok(())
}

/// The SDK's stand-in for "no publishable key".
pub const PUBLIC_CLIENT_SENTINEL: &str = "__stack_public_client__";

/// An `internal`-project user's token grants access to the projects their teams own.
async fn check_admin_token(state: &ApiState, raw: &str, project: &Project) -> ApiResult<()> {
    let claims = match tokens::verify(state, raw) {
        Ok(c) if !c.is_restricted() => c,
        Err(e) if e.code == KnownCode::AccessTokenExpired => {
            let expired_at = tokens::verify_ignoring_expiry(state, raw)
                .and_then(|c| c.exp)
                .unwrap_or(0)
                * 1000;
            return Err(known::admin_access_token_expired(expired_at).into());
        }
        _ => return Err(known::unparsable_admin_access_token().into()),
    };
    if claims.project_id != projects::INTERNAL {
        return Err(known::admin_access_token_is_not_admin().into());
    }
    if users::find(state.db(), projects::INTERNAL, &claims.sub)
        .await?
        .is_none()
    {
        return Err(ApiError::text(
            StatusCode::UNAUTHORIZED,
            "The user associated with the admin access token is no longer valid. Please refresh the admin access token and try again.",
        ));
    }
    let manages = match &project.owner_team_id {
        Some(team) => {
            crate::teams::is_member(state.db(), projects::INTERNAL, team, &claims.sub).await?
        }
        None => false,
    };
    if !manages {
        return Err(known::admin_access_token_is_not_admin().into());
    }
    Ok(())
}

impl RequestCtx {
    /// The caller's auth if its access type is one of `allowed`.
    /// The request's auth if its access type is one of `allowed`; called first by every handler,
    /// after every extractor ran, so it also refuses query parameters no extractor took.
    /// Errors: ACCESS_TYPE_REQUIRED, INSUFFICIENT_ACCESS_TYPE, SCHEMA_ERROR (unknown query).
    pub fn require(&self, allowed: &[AccessType]) -> ApiResult<&Auth> {
        let auth = self.auth.as_ref().ok_or_else(known::access_type_required)?;
        if !allowed.contains(&auth.access_type) {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            return Err(known::insufficient_access_type(auth.access_type.as_str(), &names).into());
        }
        self.query.check_taken()?;
        Ok(auth)
    }
}

impl Auth {
    /// The client IP that per-IP rate limits count, for untrusted (client) callers only: server
    /// and admin callers hold a secret key and often act for many users from one address.
    pub fn limited_ip<'a>(&self, ip: &'a ClientIp) -> Option<&'a ClientIp> {
        (self.access_type == AccessType::Client).then_some(ip)
    }

    pub fn user_id(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.sub.as_str())
    }

    pub fn pid(&self) -> &str {
        &self.project.id
    }

    /// The signed-in user, read fresh (a deleted user yields None).
    pub async fn current_user(&self, state: &Kernel) -> ApiResult<Option<User>> {
        match self.user_id() {
            Some(id) => users::find(state.db(), &self.project.id, id).await,
            None => Ok(None),
        }
    }

    /// Resolves the `user_id` of a request that acts on a user's own things (`me` allowed): a
    /// client may act only for its signed-in user, else `refusal()` (each endpoint's original
    /// status and wording). Errors: those of [`Auth::resolve_user_id`], `refusal()`.
    pub fn own_user_id<'a>(
        &'a self,
        user_id: &'a str,
        refusal: impl FnOnce() -> ApiError,
    ) -> ApiResult<&'a str> {
        let user_id = self.resolve_user_id(user_id)?;
        if self.access_type == AccessType::Client && Some(user_id) != self.user_id() {
            return Err(refusal());
        }
        Ok(user_id)
    }

    /// Resolves a `user_id` path/query value: `me` is the current user's id.
    pub fn resolve_user_id<'a>(&'a self, user_id: &'a str) -> ApiResult<&'a str> {
        if user_id == "me" {
            return self
                .user_id()
                .ok_or_else(|| known::cannot_get_own_user_without_user().into());
        }
        if uuid::Uuid::parse_str(user_id).is_err() {
            return Err(crate::http::extract::schema_problem(
                "params.user_id must be a valid UUID or \"me\"",
            ));
        }
        Ok(user_id)
    }
}

/// The project an OAuth client id names (`<project_id>` or `<project_id>#main`), its client
/// secret checked: a publishable client key, or the public-client sentinel when the project does
/// not require one. Errors: INVALID_OAUTH_CLIENT_ID_OR_SECRET, PUBLISHABLE_CLIENT_KEY_REQUIRED.
pub async fn client_project(
    state: &ApiState,
    client_id: &str,
    client_secret: Option<&str>,
) -> ApiResult<Arc<Project>> {
    let (project_id, branch) = client_id.split_once('#').unwrap_or((client_id, "main"));
    let project = match state.projects.get(state, project_id).await? {
        Some(p) if branch == "main" => p,
        _ => return Err(known::invalid_oauth_client_id_or_secret(Some(client_id)).into()),
    };
    match client_secret.filter(|s| *s != PUBLIC_CLIENT_SENTINEL) {
        Some(secret) => {
            let valid = keys::is_valid(
                state.db(),
                &project.id,
                keys::KeyKind::PublishableClient,
                secret,
            )
            .await?;
            if !valid {
                return Err(known::invalid_oauth_client_id_or_secret(Some(client_id)).into());
            }
        }
        None if project.config.require_publishable_client_key => {
            return Err(known::publishable_client_key_required(&project.id).into());
        }
        None => {}
    }
    Ok(project)
}

impl aide::OperationInput for RequestCtx {
    fn operation_input(
        _: &mut aide::generate::GenContext,
        operation: &mut aide::openapi::Operation,
    ) {
        crate::http::openapi::credentials(operation);
    }
}
