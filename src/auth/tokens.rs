//! Access tokens (ES256 JWTs with the original's claims, issuers and audiences) and their
//! verification rules.

use crate::http::{error::KnownError, known};
use crate::kernel::Kernel;
use crate::users::User;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iat: i64,
    #[serde(default)]
    pub exp: Option<i64>,
    pub iss: String,
    pub aud: String,
    pub project_id: String,
    #[serde(alias = "branchId")]
    pub branch_id: String,
    #[serde(alias = "refreshTokenId")]
    pub refresh_token_id: String,
    pub role: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub selected_team_id: Option<String>,
    pub signed_up_at: i64,
    pub is_anonymous: bool,
    #[serde(default)]
    pub is_restricted: Option<bool>,
    #[serde(default)]
    pub restricted_reason: Option<Value>,
    pub requires_totp_mfa: bool,
}

impl AccessClaims {
    pub fn is_restricted(&self) -> bool {
        self.is_restricted.unwrap_or(self.is_anonymous)
    }

    pub fn restricted_reason(&self) -> Value {
        match &self.restricted_reason {
            Some(r) => r.clone(),
            None if self.is_anonymous => json!({ "type": "anonymous" }),
            None => Value::Null,
        }
    }
}

/// Which kind of user a token is for: each has its own audience, issuer and signing key.
fn audience_and_issuer(
    state: &Kernel,
    project_id: &str,
    anonymous: bool,
    restricted: bool,
) -> (String, String) {
    let base = &state.public_url;
    if anonymous {
        (
            format!("{project_id}:anon"),
            format!("{base}/api/v1/projects-anonymous-users/{project_id}"),
        )
    } else if restricted {
        (
            format!("{project_id}:restricted"),
            format!("{base}/api/v1/projects-restricted-users/{project_id}"),
        )
    } else {
        (
            project_id.to_string(),
            format!("{base}/api/v1/projects/{project_id}"),
        )
    }
}

pub fn mint(
    state: &Kernel,
    project_id: &str,
    user: &User,
    refresh_token_id: &str,
    require_email_verification: bool,
) -> String {
    let now = crate::store::now_ms() / 1000;
    let reason = user.restricted_reason(require_email_verification);
    let restricted = !reason.is_null();
    let (aud, iss) = audience_and_issuer(state, project_id, user.is_anonymous, restricted);
    let claims = AccessClaims {
        sub: user.id.clone(),
        iat: now,
        exp: Some(now + state.config.access_token_ttl_secs),
        iss,
        aud: aud.clone(),
        project_id: project_id.to_string(),
        branch_id: "main".into(),
        refresh_token_id: refresh_token_id.to_string(),
        role: "authenticated".into(),
        name: user.display_name.clone(),
        email: user.primary_email.clone(),
        email_verified: user.primary_email_verified,
        selected_team_id: user.selected_team_id.clone(),
        signed_up_at: user.signed_up_at / 1000,
        is_anonymous: user.is_anonymous,
        is_restricted: Some(restricted),
        restricted_reason: Some(reason),
        requires_totp_mfa: user.totp_secret.is_some(),
    };
    state.jwt.sign(&aud, &claims)
}

/// Verifies signature, issuer, branch and expiry. Whether anonymous/restricted users are
/// acceptable and whether the project matches is the caller's decision.
pub fn verify(state: &Kernel, token: &str) -> Result<AccessClaims, KnownError> {
    let claims: AccessClaims = state
        .jwt
        .verify(token)
        .map_err(|_| known::unparsable_access_token())?;
    let project_id = claims.aud.split(':').next().unwrap_or("");
    let (aud, iss) = audience_and_issuer(
        state,
        project_id,
        claims.is_anonymous,
        claims.is_restricted(),
    );
    if claims.aud != aud
        || claims.iss != iss
        || claims.project_id != project_id
        || claims.branch_id != "main"
    {
        return Err(known::unparsable_access_token());
    }
    if let Some(exp) = claims.exp {
        if exp * 1000 <= crate::store::now_ms() {
            return Err(known::access_token_expired(
                Some(exp * 1000),
                Some(&claims.project_id),
                Some(&claims.sub),
                Some(&claims.refresh_token_id),
            ));
        }
    }
    Ok(claims)
}

/// The claims of a correctly signed token even if it has expired (for error details only).
pub fn verify_ignoring_expiry(state: &Kernel, token: &str) -> Option<AccessClaims> {
    state.jwt.verify(token).ok()
}
