//! Authentication: password, OTP / magic link, password reset, anonymous sign-up, sessions and
//! token refresh.

pub mod cli;
pub mod context;
pub mod mfa;
pub use mfa::check_totp;
pub mod otp;
pub mod passkey;
pub mod password;
pub use password::check_password;
pub mod reset;
mod session_routes;
pub mod sessions;
pub mod tokens;

use crate::auth::context::ApiState;
use aide::axum::ApiRouter;
use axum::extract::FromRef;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .merge(password::routes())
        .merge(passkey::routes())
        .merge(otp::routes())
        .merge(mfa::routes())
        .merge(cli::routes())
        .merge(reset::routes())
        .merge(session_routes::routes())
}

/// The `{access_token, refresh_token, user_id}` answer of every sign-in style endpoint.
pub fn sign_in_response(session: &sessions::NewSession, user_id: &str) -> axum::response::Response {
    crate::http::json_ok(serde_json::json!({
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "user_id": user_id,
    }))
}
