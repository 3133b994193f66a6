//! Dashboard sign-in state: an `internal`-project session whose refresh token lives in an
//! HttpOnly, SameSite cookie; every form carries a CSRF token derived from that secret.

use crate::crypto::secret::sha256_hex;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::INTERNAL;
use crate::users::{self, User};
use axum::http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "portcullis_dashboard";

/// The signed-in admin and their session's secret.
pub struct Admin {
    pub user: User,
    refresh_token: String,
}

impl Admin {
    /// The token every form posts back: only someone holding the cookie can compute it.
    pub fn csrf_token(&self) -> String {
        sha256_hex(&format!("portcullis-csrf\0{}", self.refresh_token))
    }

    pub fn check_csrf(&self, submitted: Option<&str>) -> ApiResult<()> {
        let expected = self.csrf_token();
        let ok = submitted.is_some_and(|s| s.as_bytes().ct_eq(expected.as_bytes()).into());
        if ok {
            Ok(())
        } else {
            Err(ApiError::text(StatusCode::FORBIDDEN, "The form expired or did not come from this dashboard. Reload the page and try again."))
        }
    }
}

pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    crate::ui::cookie(headers, COOKIE)
}

/// The admin whose live session the request's cookie names, if any.
pub async fn current(state: &Kernel, headers: &HeaderMap) -> ApiResult<Option<Admin>> {
    let Some(token) = cookie_value(headers) else {
        return Ok(None);
    };
    let Some(crate::auth::sessions::SessionRef { user_id, .. }) =
        crate::auth::sessions::find(state, INTERNAL, &token).await?
    else {
        return Ok(None);
    };
    Ok(users::find(state.db(), INTERNAL, &user_id)
        .await?
        .map(|user| Admin {
            user,
            refresh_token: token,
        }))
}

/// `Set-Cookie` for a new session (or, with None, one that clears it).
pub fn set_cookie(state: &Kernel, refresh_token: Option<&str>) -> String {
    let secure = crate::ui::secure_attribute(state);
    match refresh_token {
        Some(t) => format!(
            "{COOKIE}={t}; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}"
        ),
        None => format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}
