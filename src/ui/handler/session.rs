//! An end user's sign-in on a project's pages: the session's refresh token in an HttpOnly,
//! SameSite=Lax cookie scoped to `/handler/{project_id}` (Secure when the server is reached over
//! HTTPS). Forms of a signed-in user carry a CSRF token derived from that secret; the sign-in
//! and sign-up forms carry a random token that must match a SameSite=Strict cookie (so no other
//! site can sign a browser into an account of its choosing).

use crate::auth::sessions;
use crate::crypto::secret::{random_base32, sha256_hex};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::ui::cookie;
use crate::users::{self, User};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

const SESSION: &str = "portcullis_session";
const FORM: &str = "portcullis_form";

/// The attributes of every cookie of a project's pages: scoped to them, HttpOnly, Secure over
/// HTTPS.
pub fn attributes(state: &Kernel, project: &Project, same_site: &str, max_age: i64) -> String {
    let secure = crate::ui::secure_attribute(state);
    format!(
        "Path=/handler/{}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}",
        project.id
    )
}

/// `Set-Cookie` for a new session (or, with None, one that clears it).
pub fn session_cookie(state: &Kernel, project: &Project, refresh_token: Option<&str>) -> String {
    match refresh_token {
        Some(t) => format!(
            "{SESSION}={t}; {}",
            attributes(state, project, "Lax", 2_592_000)
        ),
        None => format!("{SESSION}=; {}", attributes(state, project, "Lax", 0)),
    }
}

/// The signed-in user of a project's pages and their session's secret.
pub struct EndUser {
    pub user: User,
    /// The session's id (the access tokens' `refresh_token_id`).
    pub session_id: String,
    refresh_token: String,
}

impl EndUser {
    pub fn csrf_token(&self) -> String {
        sha256_hex(&format!("portcullis-handler-csrf\0{}", self.refresh_token))
    }

    /// Errors: text 403 when the form's token is not this session's.
    pub fn check_csrf(&self, submitted: &str) -> ApiResult<()> {
        if submitted
            .as_bytes()
            .ct_eq(self.csrf_token().as_bytes())
            .into()
        {
            Ok(())
        } else {
            Err(expired())
        }
    }

    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }
}

fn expired() -> ApiError {
    ApiError::text(
        StatusCode::FORBIDDEN,
        "The form expired or did not come from this page. Reload the page and try again.",
    )
}

/// The user whose live session the request's cookie names, if any.
pub async fn current(
    state: &Kernel,
    project: &Project,
    headers: &HeaderMap,
) -> ApiResult<Option<EndUser>> {
    let Some(token) = cookie(headers, SESSION) else {
        return Ok(None);
    };
    let Some(sessions::SessionRef { id, user_id, .. }) =
        sessions::find(state, &project.id, &token).await?
    else {
        return Ok(None);
    };
    Ok(users::find(state.db(), &project.id, &user_id)
        .await?
        .map(|user| EndUser {
            user,
            session_id: id,
            refresh_token: token,
        }))
}

/// A signed-out form's token: the one already in the browser's cookie, or a new one with the
/// `Set-Cookie` that stores it.
pub fn form_token(
    state: &Kernel,
    project: &Project,
    headers: &HeaderMap,
) -> (String, Option<String>) {
    match cookie(headers, FORM).filter(|t| t.len() == 32) {
        Some(t) => (t, None),
        None => {
            let t = random_base32(32);
            let set = format!(
                "{FORM}={t}; {}",
                attributes(state, project, "Strict", 86_400)
            );
            (t, Some(set))
        }
    }
}

/// Errors: text 403 unless the signed-out form's token matches the browser's cookie.
pub fn check_form_token(headers: &HeaderMap, submitted: &str) -> ApiResult<()> {
    match cookie(headers, FORM) {
        Some(t) if !t.is_empty() && bool::from(t.as_bytes().ct_eq(submitted.as_bytes())) => Ok(()),
        _ => Err(expired()),
    }
}

/// A signed-out page's answer, storing the form token's cookie when [`form_token`] made a new one.
pub fn with_form_cookie(set: Option<String>, body: Response) -> Response {
    match set {
        Some(cookie) => ([(header::SET_COOKIE, cookie)], body).into_response(),
        None => body,
    }
}
