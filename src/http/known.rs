//! The original's known errors (codes, statuses, detail keys) that this server sends.
//! Clients branch on the code and rebuild the error from `details`, so both are exact.

use super::error::KnownError;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A known error with the original's code and status; every capability builds its own through this.
pub fn known(
    code: &'static str,
    status: u16,
    message: impl Into<String>,
    details: Option<Value>,
) -> KnownError {
    KnownError {
        code,
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        message: message.into(),
        details,
    }
}

pub fn body_parsing(message: impl Into<String>) -> KnownError {
    known("BODY_PARSING_ERROR", 400, message, None)
}
pub fn schema(message: String) -> KnownError {
    known(
        "SCHEMA_ERROR",
        400,
        message.clone(),
        Some(json!({ "message": message })),
    )
}
pub fn project_key_without_access_type() -> KnownError {
    known("PROJECT_KEY_WITHOUT_ACCESS_TYPE", 400, "If you provide a project key, you must also provide an access type. Either x-stack-access-type must be present, or no project keys may be provided.", None)
}
pub fn invalid_access_type(t: &str) -> KnownError {
    known(
        "INVALID_ACCESS_TYPE",
        400,
        format!(
            "The x-stack-access-type header must be 'client', 'server', or 'admin', but was '{t}'."
        ),
        None,
    )
}
pub fn access_type_without_project_id(t: &str) -> KnownError {
    known("ACCESS_TYPE_WITHOUT_PROJECT_ID", 400, format!("The x-stack-access-type header was '{t}', but the x-stack-project-id header was not provided."), Some(json!({ "request_type": t })))
}
pub fn access_type_required() -> KnownError {
    known("ACCESS_TYPE_REQUIRED", 400, "You must specify an access level for this Stack project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.", None)
}
pub fn insufficient_access_type(actual: &str, allowed: &[&str]) -> KnownError {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    known(
        "INSUFFICIENT_ACCESS_TYPE",
        401,
        format!(
            "The x-stack-access-type header must be {}, but was '{actual}'.",
            quoted.join(" or ")
        ),
        Some(json!({ "actual_access_type": actual, "allowed_access_types": allowed })),
    )
}
pub fn invalid_publishable_client_key(project_id: &str) -> KnownError {
    known("INVALID_PUBLISHABLE_CLIENT_KEY", 401, format!("The publishable key is not valid for the project {project_id:?}. Does the project and/or the key exist?"), Some(json!({ "project_id": project_id })))
}
pub fn invalid_secret_server_key(project_id: &str) -> KnownError {
    known("INVALID_SECRET_SERVER_KEY", 401, format!("The secret server key is not valid for the project {project_id:?}. Does the project and/or the key exist?"), Some(json!({ "project_id": project_id })))
}
pub fn invalid_super_secret_admin_key(project_id: &str) -> KnownError {
    known("INVALID_SUPER_SECRET_ADMIN_KEY", 401, format!("The super secret admin key is not valid for the project {project_id:?}. Does the project and/or the key exist?"), Some(json!({ "project_id": project_id })))
}
pub fn unparsable_admin_access_token() -> KnownError {
    known(
        "UNPARSABLE_ADMIN_ACCESS_TOKEN",
        401,
        "Admin access token is not parsable.",
        None,
    )
}
pub fn admin_access_token_expired(expired_at_ms: i64) -> KnownError {
    known("ADMIN_ACCESS_TOKEN_EXPIRED", 401, format!("Admin access token has expired (at {expired_at_ms} ms since the epoch). Please refresh it and try again."), None)
}
pub fn admin_access_token_is_not_admin() -> KnownError {
    known(
        "ADMIN_ACCESS_TOKEN_IS_NOT_ADMIN",
        401,
        "Admin access token does not have the required permissions to access this project.",
        None,
    )
}
pub fn publishable_client_key_required(project_id: &str) -> KnownError {
    known("PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT", 401, format!("Publishable client keys are required for this project ({project_id}). Create one in Project Settings -> API Keys, and set it in the x-stack-publishable-client-key header."), Some(json!({ "project_id": project_id })))
}
pub fn server_authentication_required() -> KnownError {
    known(
        "SERVER_AUTHENTICATION_REQUIRED",
        401,
        "The secret server key must be provided.",
        None,
    )
}
pub fn admin_authentication_required() -> KnownError {
    known(
        "ADMIN_AUTHENTICATION_REQUIRED",
        401,
        "The super secret admin key must be provided.",
        None,
    )
}
pub fn expected_internal_project() -> KnownError {
    known(
        "EXPECTED_INTERNAL_PROJECT",
        401,
        "The project ID is expected to be internal.",
        None,
    )
}
pub fn unparsable_access_token() -> KnownError {
    known(
        "UNPARSABLE_ACCESS_TOKEN",
        401,
        "Access token is not parsable.",
        None,
    )
}
pub fn access_token_expired(
    expired_at_ms: Option<i64>,
    project_id: Option<&str>,
    user_id: Option<&str>,
    refresh_token_id: Option<&str>,
) -> KnownError {
    known(
        "ACCESS_TOKEN_EXPIRED",
        401,
        "Access token has expired. Please refresh it and try again.",
        Some(json!({
            "expired_at_millis": expired_at_ms, "project_id": project_id, "user_id": user_id, "refresh_token_id": refresh_token_id,
        })),
    )
}
pub fn invalid_project_for_access_token(expected: &str, actual: &str) -> KnownError {
    known("INVALID_PROJECT_FOR_ACCESS_TOKEN", 401, format!("Access token not valid for this project. Expected project ID {expected:?}, but the token is for project ID {actual:?}."), Some(json!({ "expected_project_id": expected, "actual_project_id": actual })))
}
pub fn refresh_token_not_found_or_expired() -> KnownError {
    known(
        "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED",
        401,
        "Refresh token not found for this project, or the session has expired/been revoked.",
        None,
    )
}
pub fn cannot_delete_current_session() -> KnownError {
    known(
        "CANNOT_DELETE_CURRENT_SESSION",
        400,
        "Cannot delete the current session.",
        None,
    )
}
pub fn user_email_already_exists(email: &str) -> KnownError {
    known(
        "USER_EMAIL_ALREADY_EXISTS",
        409,
        format!("A user with email {email:?} already exists."),
        Some(json!({ "email": email, "would_work_if_email_was_verified": false })),
    )
}
pub fn cannot_get_own_user_without_user() -> KnownError {
    known(
        "CANNOT_GET_OWN_USER_WITHOUT_USER",
        400,
        "You have specified 'me' as a userId, but did not provide authentication for a user.",
        None,
    )
}
pub fn user_id_does_not_exist(user_id: &str) -> KnownError {
    known(
        "USER_ID_DOES_NOT_EXIST",
        400,
        format!("The given user with the ID {user_id} does not exist."),
        Some(json!({ "user_id": user_id })),
    )
}
pub fn user_not_found() -> KnownError {
    known("USER_NOT_FOUND", 404, "User not found.", None)
}
pub fn restricted_user_not_allowed(reason: &Value) -> KnownError {
    known(
        "RESTRICTED_USER_NOT_ALLOWED",
        403,
        "This user is restricted and cannot perform this action.",
        Some(json!({ "restricted_reason": reason })),
    )
}
pub fn anonymous_authentication_not_allowed() -> KnownError {
    known("ANONYMOUS_AUTHENTICATION_NOT_ALLOWED", 401, "X-Stack-Access-Token is for an anonymous user, but anonymous users are not enabled. Set the X-Stack-Allow-Anonymous-User header of this request to 'true' to allow anonymous users.", None)
}
pub fn user_authentication_required() -> KnownError {
    known(
        "USER_AUTHENTICATION_REQUIRED",
        401,
        "User authentication required for this endpoint.",
        None,
    )
}
pub fn current_project_not_found(project_id: &str) -> KnownError {
    known("CURRENT_PROJECT_NOT_FOUND", 400, format!("The current project with ID {project_id} was not found. Please check the value of the x-stack-project-id header."), Some(json!({ "project_id": project_id })))
}
pub fn branch_does_not_exist(branch_id: &str) -> KnownError {
    known(
        "BRANCH_DOES_NOT_EXIST",
        400,
        format!("The branch with ID {branch_id} does not exist."),
        Some(json!({ "branch_id": branch_id })),
    )
}
pub fn sign_up_not_enabled() -> KnownError {
    known("SIGN_UP_NOT_ENABLED", 400, "Creation of new accounts is not enabled for this project. Please ask the project owner to enable it.", None)
}
pub fn password_authentication_not_enabled() -> KnownError {
    known(
        "PASSWORD_AUTHENTICATION_NOT_ENABLED",
        400,
        "Password authentication is not enabled for this project.",
        None,
    )
}
pub fn anonymous_accounts_not_enabled() -> KnownError {
    known(
        "ANONYMOUS_ACCOUNTS_NOT_ENABLED",
        400,
        "Anonymous accounts are not enabled for this project.",
        None,
    )
}
pub fn email_password_mismatch() -> KnownError {
    known(
        "EMAIL_PASSWORD_MISMATCH",
        400,
        "Wrong e-mail or password.",
        None,
    )
}
pub fn redirect_url_not_whitelisted() -> KnownError {
    known("REDIRECT_URL_NOT_WHITELISTED", 400, "Redirect URL not whitelisted. Did you forget to add this domain to the trusted domains list on the Stack Auth dashboard?", None)
}
pub fn password_too_short(min_length: usize) -> KnownError {
    known(
        "PASSWORD_TOO_SHORT",
        400,
        format!("Password too short. Minimum length is {min_length}."),
        Some(json!({ "min_length": min_length })),
    )
}
pub fn password_too_long(max_length: usize) -> KnownError {
    known(
        "PASSWORD_TOO_LONG",
        400,
        format!("Password too long. Maximum length is {max_length}."),
        Some(json!({ "maxLength": max_length })),
    )
}
pub fn user_does_not_have_password() -> KnownError {
    known(
        "USER_DOES_NOT_HAVE_PASSWORD",
        400,
        "This user does not have password authentication enabled.",
        None,
    )
}
pub fn password_confirmation_mismatch() -> KnownError {
    known(
        "PASSWORD_CONFIRMATION_MISMATCH",
        400,
        "Passwords do not match.",
        None,
    )
}
pub fn invalid_oauth_client_id_or_secret(client_id: Option<&str>) -> KnownError {
    let details = client_id.map(|c| json!({ "client_id": c }));
    known("INVALID_OAUTH_CLIENT_ID_OR_SECRET", 400, "The OAuth client ID or secret is invalid. The client ID must be equal to the project ID (potentially with a hash and a branch ID), and the client secret must be a publishable client key.", details)
}
pub fn team_membership_not_found(team_id: &str, user_id: &str) -> KnownError {
    known(
        "TEAM_MEMBERSHIP_NOT_FOUND",
        404,
        format!("User {user_id} is not found in team {team_id}."),
        Some(json!({ "team_id": team_id, "user_id": user_id })),
    )
}
pub fn team_not_found(team_id: &str) -> KnownError {
    known(
        "TEAM_NOT_FOUND",
        404,
        format!("Team {team_id} not found."),
        Some(json!({ "team_id": team_id })),
    )
}
pub fn team_membership_already_exists() -> KnownError {
    known(
        "TEAM_MEMBERSHIP_ALREADY_EXISTS",
        409,
        "Team membership already exists.",
        None,
    )
}
