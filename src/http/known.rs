//! The original's known errors (codes, statuses, detail keys) that this server sends.
//! Clients branch on the code and rebuild the error from `details`, so both are exact. Code that
//! branches on an error matches a `KnownCode` variant, never a string.

use super::error::KnownError;
use serde_json::{json, Value};

/// The pointer the original ends its header errors with (`known-errors.tsx`, deindented).
const AUTH_DOCS: &str = "\n\nFor more information, see the docs on REST API authentication: https://docs.stack-auth.com/rest-api/overview#authentication";

/// A value quoted as the original's `JSON.stringify` quotes it.
pub fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Declares `KnownCode` with each code's wire name and HTTP status, in one table.
macro_rules! known_codes {
    ($($variant:ident = ($name:literal, $status:literal),)*) => {
        /// Every known-error code this server sends (the original's `known-errors.tsx` names).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum KnownCode {
            $($variant,)*
        }

        impl KnownCode {
            /// The code on the wire (`code` in the body, `x-stack-known-error` header).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(KnownCode::$variant => $name,)*
                }
            }

            /// The status the original answers this code with.
            pub fn status(self) -> axum::http::StatusCode {
                let status = match self {
                    $(KnownCode::$variant => $status,)*
                };
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST)
            }
        }
    };
}

known_codes! {
    AccessTokenExpired = ("ACCESS_TOKEN_EXPIRED", 401),
    AccessTypeRequired = ("ACCESS_TYPE_REQUIRED", 400),
    AccessTypeWithoutProjectId = ("ACCESS_TYPE_WITHOUT_PROJECT_ID", 400),
    AdminAccessTokenExpired = ("ADMIN_ACCESS_TOKEN_EXPIRED", 401),
    AdminAccessTokenIsNotAdmin = ("ADMIN_ACCESS_TOKEN_IS_NOT_ADMIN", 401),
    AdminAuthenticationRequired = ("ADMIN_AUTHENTICATION_REQUIRED", 401),
    AnonymousAccountsNotEnabled = ("ANONYMOUS_ACCOUNTS_NOT_ENABLED", 400),
    AnonymousAuthenticationNotAllowed = ("ANONYMOUS_AUTHENTICATION_NOT_ALLOWED", 401),
    ApiKeyExpired = ("API_KEY_EXPIRED", 401),
    ApiKeyNotFound = ("API_KEY_NOT_FOUND", 404),
    ApiKeyRevoked = ("API_KEY_REVOKED", 401),
    BodyParsingError = ("BODY_PARSING_ERROR", 400),
    BranchDoesNotExist = ("BRANCH_DOES_NOT_EXIST", 400),
    CannotDeleteCurrentSession = ("CANNOT_DELETE_CURRENT_SESSION", 400),
    CannotGetOwnUserWithoutUser = ("CANNOT_GET_OWN_USER_WITHOUT_USER", 400),
    ContactChannelAlreadyUsedForAuthBySomeoneElse = ("CONTACT_CHANNEL_ALREADY_USED_FOR_AUTH_BY_SOMEONE_ELSE", 409),
    ContainedPermissionNotFound = ("CONTAINED_PERMISSION_NOT_FOUND", 400),
    CurrentProjectNotFound = ("CURRENT_PROJECT_NOT_FOUND", 400),
    DefaultPaymentMethodRequired = ("DEFAULT_PAYMENT_METHOD_REQUIRED", 400),
    EmailAlreadyVerified = ("EMAIL_ALREADY_VERIFIED", 409),
    EmailIsNotPrimaryEmail = ("EMAIL_IS_NOT_PRIMARY_EMAIL", 400),
    EmailPasswordMismatch = ("EMAIL_PASSWORD_MISMATCH", 400),
    ExpectedInternalProject = ("EXPECTED_INTERNAL_PROJECT", 401),
    InsufficientAccessType = ("INSUFFICIENT_ACCESS_TYPE", 401),
    InvalidAccessType = ("INVALID_ACCESS_TYPE", 400),
    InvalidAuthorizationCode = ("INVALID_AUTHORIZATION_CODE", 400),
    InvalidOauthClientIdOrSecret = ("INVALID_OAUTH_CLIENT_ID_OR_SECRET", 400),
    InvalidProjectForAccessToken = ("INVALID_PROJECT_FOR_ACCESS_TOKEN", 401),
    InvalidPublishableClientKey = ("INVALID_PUBLISHABLE_CLIENT_KEY", 401),
    InvalidSecretServerKey = ("INVALID_SECRET_SERVER_KEY", 401),
    InvalidSuperSecretAdminKey = ("INVALID_SUPER_SECRET_ADMIN_KEY", 401),
    ItemCustomerTypeDoesNotMatch = ("ITEM_CUSTOMER_TYPE_DOES_NOT_MATCH", 400),
    ItemNotFound = ("ITEM_NOT_FOUND", 404),
    ItemQuantityInsufficientAmount = ("ITEM_QUANTITY_INSUFFICIENT_AMOUNT", 400),
    NewPurchasesBlocked = ("NEW_PURCHASES_BLOCKED", 403),
    OneTimePurchaseAlreadyRefunded = ("ONE_TIME_PURCHASE_ALREADY_REFUNDED", 400),
    OneTimePurchaseNotFound = ("ONE_TIME_PURCHASE_NOT_FOUND", 404),
    PasswordAuthenticationNotEnabled = ("PASSWORD_AUTHENTICATION_NOT_ENABLED", 400),
    PasswordConfirmationMismatch = ("PASSWORD_CONFIRMATION_MISMATCH", 400),
    PasswordTooLong = ("PASSWORD_TOO_LONG", 400),
    PasswordTooShort = ("PASSWORD_TOO_SHORT", 400),
    PermissionIdAlreadyExists = ("PERMISSION_ID_ALREADY_EXISTS", 400),
    PermissionNotFound = ("PERMISSION_NOT_FOUND", 404),
    ProductAlreadyGranted = ("PRODUCT_ALREADY_GRANTED", 400),
    OauthConnectionAlreadyConnectedToAnotherUser = ("OAUTH_CONNECTION_ALREADY_CONNECTED_TO_ANOTHER_USER", 409),
    AppleBundleIdNotConfigured = ("APPLE_BUNDLE_ID_NOT_CONFIGURED", 400),
    InvalidAppleCredentials = ("INVALID_APPLE_CREDENTIALS", 400),
    InvalidTotpCode = ("INVALID_TOTP_CODE", 400),
    MultiFactorAuthenticationRequired = ("MULTI_FACTOR_AUTHENTICATION_REQUIRED", 400),
    InvalidPollingCode = ("INVALID_POLLING_CODE", 400),
    PasskeyAuthenticationFailed = ("PASSKEY_AUTHENTICATION_FAILED", 400),
    StripeAccountInfoNotFound = ("STRIPE_ACCOUNT_INFO_NOT_FOUND", 404),
    PasskeyAuthenticationNotEnabled = ("PASSKEY_AUTHENTICATION_NOT_ENABLED", 400),
    PasskeyRegistrationFailed = ("PASSKEY_REGISTRATION_FAILED", 400),
    DataVaultStoreDoesNotExist = ("DATA_VAULT_STORE_DOES_NOT_EXIST", 400),
    DataVaultStoreHashedKeyDoesNotExist = ("DATA_VAULT_STORE_HASHED_KEY_DOES_NOT_EXIST", 400),
    OauthAccessTokenNotAvailableWithSharedOauthKeys = ("OAUTH_ACCESS_TOKEN_NOT_AVAILABLE_WITH_SHARED_OAUTH_KEYS", 400),
    OauthConnectionDoesNotHaveRequiredScope = ("OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE", 400),
    OauthConnectionNotConnectedToUser = ("OAUTH_CONNECTION_NOT_CONNECTED_TO_USER", 400),
    OauthExtraScopeNotAvailableWithSharedOauthKeys = ("OAUTH_EXTRA_SCOPE_NOT_AVAILABLE_WITH_SHARED_OAUTH_KEYS", 400),
    OauthProviderNotFoundOrNotEnabled = ("OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED", 400),
    OuterOauthTimeout = ("OUTER_OAUTH_TIMEOUT", 408),
    ProductCustomerTypeDoesNotMatch = ("PRODUCT_CUSTOMER_TYPE_DOES_NOT_MATCH", 400),
    ProductDoesNotExist = ("PRODUCT_DOES_NOT_EXIST", 400),
    ProjectKeyWithoutAccessType = ("PROJECT_KEY_WITHOUT_ACCESS_TYPE", 400),
    ProjectNotFound = ("PROJECT_NOT_FOUND", 404),
    PublicApiKeyCannotBeRevoked = ("PUBLIC_API_KEY_CANNOT_BE_REVOKED", 400),
    PublishableClientKeyRequiredForProject = ("PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT", 401),
    RedirectUrlNotWhitelisted = ("REDIRECT_URL_NOT_WHITELISTED", 400),
    RefreshTokenNotFoundOrExpired = ("REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED", 401),
    RequiresCustomEmailServer = ("REQUIRES_CUSTOM_EMAIL_SERVER", 400),
    RestrictedUserNotAllowed = ("RESTRICTED_USER_NOT_ALLOWED", 403),
    SchemaError = ("SCHEMA_ERROR", 400),
    ServerAuthenticationRequired = ("SERVER_AUTHENTICATION_REQUIRED", 401),
    SignUpNotEnabled = ("SIGN_UP_NOT_ENABLED", 400),
    SignUpRejected = ("SIGN_UP_REJECTED", 403),
    SubscriptionAlreadyRefunded = ("SUBSCRIPTION_ALREADY_REFUNDED", 400),
    SubscriptionInvoiceNotFound = ("SUBSCRIPTION_INVOICE_NOT_FOUND", 404),
    TeamInvitationRestrictedUserNotAllowed = ("TEAM_INVITATION_RESTRICTED_USER_NOT_ALLOWED", 403),
    TeamMembershipAlreadyExists = ("TEAM_MEMBERSHIP_ALREADY_EXISTS", 409),
    TeamMembershipNotFound = ("TEAM_MEMBERSHIP_NOT_FOUND", 404),
    TeamNotFound = ("TEAM_NOT_FOUND", 404),
    TeamPermissionNotFound = ("TEAM_PERMISSION_NOT_FOUND", 401),
    TeamPermissionRequired = ("TEAM_PERMISSION_REQUIRED", 401),
    TestModePurchaseNonRefundable = ("TEST_MODE_PURCHASE_NON_REFUNDABLE", 400),
    UnparsableAccessToken = ("UNPARSABLE_ACCESS_TOKEN", 401),
    UnparsableAdminAccessToken = ("UNPARSABLE_ADMIN_ACCESS_TOKEN", 401),
    UserAuthenticationRequired = ("USER_AUTHENTICATION_REQUIRED", 401),
    UserDoesNotHavePassword = ("USER_DOES_NOT_HAVE_PASSWORD", 400),
    UserEmailAlreadyExists = ("USER_EMAIL_ALREADY_EXISTS", 409),
    UserIdDoesNotExist = ("USER_ID_DOES_NOT_EXIST", 400),
    UserNotFound = ("USER_NOT_FOUND", 404),
    VerificationCodeAlreadyUsed = ("VERIFICATION_CODE_ALREADY_USED", 409),
    VerificationCodeExpired = ("VERIFICATION_CODE_EXPIRED", 400),
    VerificationCodeMaxAttemptsReached = ("VERIFICATION_CODE_MAX_ATTEMPTS_REACHED", 400),
    VerificationCodeNotFound = ("VERIFICATION_CODE_NOT_FOUND", 404),
    WrongApiKeyType = ("WRONG_API_KEY_TYPE", 400),
    WrongPermissionScope = ("WRONG_PERMISSION_SCOPE", 404),
}

/// A known error with its code's status; every capability builds its own through this.
pub fn known(code: KnownCode, message: impl Into<String>, details: Option<Value>) -> KnownError {
    KnownError {
        code,
        message: message.into(),
        details,
    }
}

pub fn body_parsing(message: impl Into<String>) -> KnownError {
    known(KnownCode::BodyParsingError, message, None)
}
pub fn schema(message: String) -> KnownError {
    known(
        KnownCode::SchemaError,
        message.clone(),
        Some(json!({ "message": message })),
    )
}
pub fn project_key_without_access_type() -> KnownError {
    known(KnownCode::ProjectKeyWithoutAccessType, "Either an API key or an admin access token was provided, but the x-stack-access-type header is missing. Set it to 'client', 'server', or 'admin' as appropriate.", None)
}
pub fn invalid_access_type(t: &str) -> KnownError {
    known(
        KnownCode::InvalidAccessType,
        format!(
            "The x-stack-access-type header must be 'client', 'server', or 'admin', but was '{t}'."
        ),
        None,
    )
}
pub fn access_type_without_project_id(t: &str) -> KnownError {
    known(KnownCode::AccessTypeWithoutProjectId, format!("The x-stack-access-type header was '{t}', but the x-stack-project-id header was not provided.{AUTH_DOCS}"), Some(json!({ "request_type": t })))
}
pub fn project_not_found(project_id: &str) -> KnownError {
    known(
        KnownCode::ProjectNotFound,
        format!("Project {project_id} not found or is not accessible with the current user."),
        Some(json!({ "project_id": project_id })),
    )
}
pub fn access_type_required() -> KnownError {
    known(KnownCode::AccessTypeRequired, format!("You must specify an access level for this Stack project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.{AUTH_DOCS}"), None)
}
pub fn insufficient_access_type(actual: &str, allowed: &[&str]) -> KnownError {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    known(
        KnownCode::InsufficientAccessType,
        format!(
            "The x-stack-access-type header must be {}, but was '{actual}'.",
            quoted.join(" or ")
        ),
        Some(json!({ "actual_access_type": actual, "allowed_access_types": allowed })),
    )
}
pub fn invalid_publishable_client_key(project_id: &str) -> KnownError {
    known(KnownCode::InvalidPublishableClientKey, format!("The publishable key is not valid for the project {}. Does the project and/or the key exist?", js_string(project_id)), Some(json!({ "project_id": project_id })))
}
pub fn invalid_secret_server_key(project_id: &str) -> KnownError {
    known(KnownCode::InvalidSecretServerKey, format!("The secret server key is not valid for the project {}. Does the project and/or the key exist?", js_string(project_id)), Some(json!({ "project_id": project_id })))
}
pub fn invalid_super_secret_admin_key(project_id: &str) -> KnownError {
    known(KnownCode::InvalidSuperSecretAdminKey, format!("The super secret admin key is not valid for the project {}. Does the project and/or the key exist?", js_string(project_id)), Some(json!({ "project_id": project_id })))
}
pub fn unparsable_admin_access_token() -> KnownError {
    known(
        KnownCode::UnparsableAdminAccessToken,
        "Admin access token is not parsable.",
        None,
    )
}
pub fn admin_access_token_expired(expired_at_ms: i64) -> KnownError {
    known(KnownCode::AdminAccessTokenExpired, format!("Admin access token has expired. Please refresh it and try again. (The access token expired at {}.)", crate::store::iso(expired_at_ms)), Some(json!({ "expired_at_millis": expired_at_ms })))
}
pub fn admin_access_token_is_not_admin() -> KnownError {
    known(
        KnownCode::AdminAccessTokenIsNotAdmin,
        "Admin access token does not have the required permissions to access this project.",
        None,
    )
}
pub fn publishable_client_key_required(project_id: &str) -> KnownError {
    known(KnownCode::PublishableClientKeyRequiredForProject, "Publishable client keys are required for this project. Create one in Project Keys, or disable this requirement there to allow keyless client access.", Some(json!({ "project_id": project_id })))
}
pub fn server_authentication_required() -> KnownError {
    known(
        KnownCode::ServerAuthenticationRequired,
        "The secret server key must be provided.",
        None,
    )
}
pub fn admin_authentication_required() -> KnownError {
    known(
        KnownCode::AdminAuthenticationRequired,
        "The super secret admin key must be provided.",
        None,
    )
}
pub fn expected_internal_project() -> KnownError {
    known(
        KnownCode::ExpectedInternalProject,
        "The project ID is expected to be internal.",
        None,
    )
}
pub fn unparsable_access_token() -> KnownError {
    known(
        KnownCode::UnparsableAccessToken,
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
        KnownCode::AccessTokenExpired,
        {
            let mut m = "Access token has expired. Please refresh it and try again.".to_string();
            if let Some(at) = expired_at_ms {
                m.push_str(&format!(
                    " (The access token expired at {}.)",
                    crate::store::iso(at)
                ));
            }
            for (label, v) in [
                ("Project ID", project_id),
                ("User ID", user_id),
                ("Refresh token ID", refresh_token_id),
            ] {
                if let Some(v) = v {
                    m.push_str(&format!(" {label}: {v}."));
                }
            }
            m.push_str("\n\nDebug info: Most likely, you fetched the access token before it expired (for example, in a server component, pre-rendered page, or on page load), but then didn't refresh it before it expired. If this is the case, and you're using the SDK, make sure you call getAccessToken() every time you need to use the access token. If you're not using the SDK, make sure you refresh the access token with the refresh endpoint.");
            m
        },
        Some(json!({
            "expired_at_millis": expired_at_ms, "project_id": project_id, "user_id": user_id, "refresh_token_id": refresh_token_id,
        })),
    )
}
pub fn invalid_project_for_access_token(expected: &str, actual: &str) -> KnownError {
    known(KnownCode::InvalidProjectForAccessToken, format!("Access token not valid for this project. Expected project ID {}, but the token is for project ID {}.", js_string(expected), js_string(actual)), Some(json!({ "expected_project_id": expected, "actual_project_id": actual })))
}
pub fn refresh_token_not_found_or_expired() -> KnownError {
    known(
        KnownCode::RefreshTokenNotFoundOrExpired,
        "Refresh token not found for this project, or the session has expired/been revoked.",
        None,
    )
}
pub fn cannot_delete_current_session() -> KnownError {
    known(
        KnownCode::CannotDeleteCurrentSession,
        "Cannot delete the current session.",
        None,
    )
}
/// The original's text, quotes and parentheses included.
pub fn contact_channel_already_used(value: &str, would_work_if_verified: bool) -> KnownError {
    let tail = if would_work_if_verified {
        " but the email is not verified. Please login to your existing account with the method you used to sign up, and then verify your email to sign in with this login method."
    } else {
        "."
    };
    known(
        KnownCode::ContactChannelAlreadyUsedForAuthBySomeoneElse,
        format!(
            "This email \"({value})\" is already used for authentication by another account{tail}"
        ),
        Some(
            json!({ "type": "email", "contact_channel_value": value, "would_work_if_email_was_verified": would_work_if_verified }),
        ),
    )
}
/// `would_work_if_verified`: the email belongs to an account whose address is not verified yet.
pub fn user_email_already_exists(email: &str, would_work_if_verified: bool) -> KnownError {
    let tail = if would_work_if_verified {
        " but the email is not verified. Please login to your existing account with the method you used to sign up, and then verify your email to sign in with this login method."
    } else {
        "."
    };
    known(
        KnownCode::UserEmailAlreadyExists,
        format!(
            "A user with email {} already exists{tail}",
            js_string(email)
        ),
        Some(json!({ "email": email, "would_work_if_email_was_verified": would_work_if_verified })),
    )
}
pub fn cannot_get_own_user_without_user() -> KnownError {
    known(
        KnownCode::CannotGetOwnUserWithoutUser,
        "You have specified 'me' as a userId, but did not provide authentication for a user.",
        None,
    )
}
pub fn user_id_does_not_exist(user_id: &str) -> KnownError {
    known(
        KnownCode::UserIdDoesNotExist,
        format!("The given user with the ID {user_id} does not exist."),
        Some(json!({ "user_id": user_id })),
    )
}
pub fn user_not_found() -> KnownError {
    known(KnownCode::UserNotFound, "User not found.", None)
}
pub fn restricted_user_not_allowed(reason: &Value) -> KnownError {
    known(
        KnownCode::RestrictedUserNotAllowed,
        format!(
            "The user in the access token is in restricted state. Reason: {}. Please pass the X-Stack-Allow-Restricted-User header if this is intended.",
            restricted_reason_type(reason)
        ),
        Some(json!({ "restricted_reason": reason })),
    )
}
/// `restricted_reason.type` as the original interpolates it into its restricted-user messages.
pub fn restricted_reason_type(reason: &Value) -> String {
    match reason.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => other.to_string(),
        None => "undefined".to_string(),
    }
}
pub fn anonymous_authentication_not_allowed() -> KnownError {
    known(KnownCode::AnonymousAuthenticationNotAllowed, "X-Stack-Access-Token is for an anonymous user, but anonymous users are not enabled. Set the X-Stack-Allow-Anonymous-User header of this request to 'true' to allow anonymous users.", None)
}
pub fn user_authentication_required() -> KnownError {
    known(
        KnownCode::UserAuthenticationRequired,
        "User authentication required for this endpoint.",
        None,
    )
}
pub fn current_project_not_found(project_id: &str) -> KnownError {
    known(KnownCode::CurrentProjectNotFound, format!("The current project with ID {project_id} was not found. Please check the value of the x-stack-project-id header."), Some(json!({ "project_id": project_id })))
}
pub fn branch_does_not_exist(branch_id: &str) -> KnownError {
    known(
        KnownCode::BranchDoesNotExist,
        format!("The branch with ID {branch_id} does not exist."),
        Some(json!({ "branch_id": branch_id })),
    )
}
pub fn sign_up_not_enabled() -> KnownError {
    known(KnownCode::SignUpNotEnabled, "Creation of new accounts is not enabled for this project. Please ask the project owner to enable it.", None)
}
/// A sign-up rule (or the rules' default action) refused the sign-up. The rule's own message is
/// for administrators and never shown (the original's `KnownErrors.SignUpRejected`).
pub fn sign_up_rejected() -> KnownError {
    const MESSAGE: &str = "Your sign up was rejected by an administrator's sign-up rule.";
    known(
        KnownCode::SignUpRejected,
        MESSAGE,
        Some(json!({ "message": MESSAGE })),
    )
}
pub fn password_authentication_not_enabled() -> KnownError {
    known(
        KnownCode::PasswordAuthenticationNotEnabled,
        "Password authentication is not enabled for this project.",
        None,
    )
}
pub fn anonymous_accounts_not_enabled() -> KnownError {
    known(
        KnownCode::AnonymousAccountsNotEnabled,
        "Anonymous accounts are not enabled for this project.",
        None,
    )
}
pub fn email_password_mismatch() -> KnownError {
    known(
        KnownCode::EmailPasswordMismatch,
        "Wrong e-mail or password.",
        None,
    )
}
pub fn oauth_provider_not_found_or_not_enabled() -> KnownError {
    known(
        KnownCode::OauthProviderNotFoundOrNotEnabled,
        "The OAuth provider is not found or not enabled.",
        None,
    )
}
pub fn oauth_extra_scope_not_available_with_shared_keys() -> KnownError {
    known(KnownCode::OauthExtraScopeNotAvailableWithSharedOauthKeys, "Extra scopes are not available with shared OAuth keys. Please add your own OAuth keys on the Stack dashboard to use extra scopes.", None)
}
pub fn invalid_totp_code() -> KnownError {
    known(
        KnownCode::InvalidTotpCode,
        "The TOTP code is invalid. Please try again.",
        None,
    )
}
/// `attempt_code` finishes the sign-in at `/auth/mfa/sign-in` with a TOTP.
pub fn multi_factor_authentication_required(attempt_code: &str) -> KnownError {
    known(
        KnownCode::MultiFactorAuthenticationRequired,
        "Multi-factor authentication is required for this user.",
        Some(serde_json::json!({ "attempt_code": attempt_code })),
    )
}
pub fn invalid_polling_code() -> KnownError {
    known(
        KnownCode::InvalidPollingCode,
        "The polling code is invalid or does not exist.",
        None,
    )
}
pub fn apple_bundle_id_not_configured() -> KnownError {
    known(KnownCode::AppleBundleIdNotConfigured, "Apple Sign In is enabled, but no Bundle IDs are configured. Please add your app's Bundle ID in the Stack Auth dashboard under OAuth Providers > Apple > Apple Bundle IDs.", None)
}
pub fn invalid_apple_credentials() -> KnownError {
    known(
        KnownCode::InvalidAppleCredentials,
        "The Apple Sign In credentials could not be verified. Please try signing in again.",
        None,
    )
}
pub fn oauth_access_token_not_available_with_shared_keys() -> KnownError {
    known(KnownCode::OauthAccessTokenNotAvailableWithSharedOauthKeys, "Access tokens are not available with shared OAuth keys. Please add your own OAuth keys on the Stack dashboard to use access tokens.", None)
}
pub fn oauth_connection_does_not_have_required_scope() -> KnownError {
    known(
        KnownCode::OauthConnectionDoesNotHaveRequiredScope,
        "The OAuth connection does not have the required scope.",
        None,
    )
}
pub fn oauth_connection_not_connected_to_user() -> KnownError {
    known(
        KnownCode::OauthConnectionNotConnectedToUser,
        "The OAuth connection is not connected to any user.",
        None,
    )
}
pub fn oauth_connection_already_connected_to_another_user() -> KnownError {
    known(
        KnownCode::OauthConnectionAlreadyConnectedToAnotherUser,
        "The OAuth connection is already connected to another user.",
        None,
    )
}
pub fn outer_oauth_timeout() -> KnownError {
    known(
        KnownCode::OuterOauthTimeout,
        "The OAuth flow has timed out. Please sign in again.",
        None,
    )
}
pub fn invalid_authorization_code() -> KnownError {
    known(
        KnownCode::InvalidAuthorizationCode,
        "The given authorization code is invalid.",
        None,
    )
}
pub fn redirect_url_not_whitelisted() -> KnownError {
    known(KnownCode::RedirectUrlNotWhitelisted, "Redirect URL not whitelisted. Did you forget to add this domain to the trusted domains list on the Stack Auth dashboard?", None)
}
pub fn password_too_short(min_length: usize) -> KnownError {
    known(
        KnownCode::PasswordTooShort,
        format!("Password too short. Minimum length is {min_length}."),
        Some(json!({ "min_length": min_length })),
    )
}
pub fn password_too_long(max_length: usize) -> KnownError {
    known(
        KnownCode::PasswordTooLong,
        format!("Password too long. Maximum length is {max_length}."),
        Some(json!({ "maxLength": max_length })),
    )
}
pub fn user_does_not_have_password() -> KnownError {
    known(
        KnownCode::UserDoesNotHavePassword,
        "This user does not have password authentication enabled.",
        None,
    )
}
pub fn password_confirmation_mismatch() -> KnownError {
    known(
        KnownCode::PasswordConfirmationMismatch,
        "Passwords do not match.",
        None,
    )
}
pub fn invalid_oauth_client_id_or_secret(client_id: Option<&str>) -> KnownError {
    let details = Some(json!({ "client_id": client_id }));
    known(KnownCode::InvalidOauthClientIdOrSecret, "The OAuth client ID or secret is invalid. The client ID must be equal to the project ID (potentially with a hash and a branch ID), and the client secret must be a publishable client key.", details)
}
pub fn team_membership_not_found(team_id: &str, user_id: &str) -> KnownError {
    known(
        KnownCode::TeamMembershipNotFound,
        format!("User {user_id} is not found in team {team_id}."),
        Some(json!({ "team_id": team_id, "user_id": user_id })),
    )
}
pub fn team_not_found(team_id: &str) -> KnownError {
    known(
        KnownCode::TeamNotFound,
        format!("Team {team_id} not found."),
        Some(json!({ "team_id": team_id })),
    )
}
pub fn team_membership_already_exists() -> KnownError {
    known(
        KnownCode::TeamMembershipAlreadyExists,
        "Team membership already exists.",
        None,
    )
}

pub fn data_vault_store_does_not_exist(store_id: &str) -> KnownError {
    known(
        KnownCode::DataVaultStoreDoesNotExist,
        format!("Data vault store with ID {store_id} does not exist."),
        Some(serde_json::json!({ "store_id": store_id })),
    )
}
pub fn data_vault_store_hashed_key_does_not_exist(store_id: &str, hashed_key: &str) -> KnownError {
    known(
        KnownCode::DataVaultStoreHashedKeyDoesNotExist,
        format!(
            "Data vault store with ID {store_id} does not contain a key with hash {hashed_key}."
        ),
        Some(serde_json::json!({ "store_id": store_id, "hashed_key": hashed_key })),
    )
}
