//! One-time verification codes shared by OTP sign-in, password reset, email verification and
//! invitations: random, single-use, stored hashed, expiring, with attempts counted per nonce.

use crate::crypto::secret::{new_uuid, sha256_hex};
use crate::http::extract::schema_problem;
use crate::http::known::known;
use crate::http::known::KnownCode;
use crate::http::ClientIp;
use crate::http::{error::KnownError, ApiResult};
use crate::kernel::Kernel;
use crate::limits::Rule;
use crate::store::now_ms;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

pub const CODE_LEN: usize = 45;
/// The OTP a person types is the code's first 6 characters; the rest is the nonce the client keeps.
pub const OTP_LEN: usize = 6;
pub const MAX_ATTEMPTS: i64 = 20;
pub const DEFAULT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeType {
    OneTimePassword,
    PasswordReset,
    ContactChannelVerification,
    TeamInvitation,
    PurchaseUrl,
    DashboardSetup,
    /// A sign-in waiting for its second factor (the original's MFA attempt code).
    MfaAttempt,
    PasskeyRegistration,
    PasskeyAuthentication,
}

impl CodeType {
    fn as_str(self) -> &'static str {
        match self {
            CodeType::OneTimePassword => "ONE_TIME_PASSWORD",
            CodeType::PasswordReset => "PASSWORD_RESET",
            CodeType::ContactChannelVerification => "CONTACT_CHANNEL_VERIFICATION",
            CodeType::TeamInvitation => "TEAM_INVITATION",
            CodeType::PurchaseUrl => "PURCHASE_URL",
            CodeType::DashboardSetup => "DASHBOARD_SETUP",
            CodeType::MfaAttempt => "MFA_ATTEMPT",
            CodeType::PasskeyRegistration => "PASSKEY_REGISTRATION_CHALLENGE",
            CodeType::PasskeyAuthentication => "PASSKEY_AUTHENTICATION_CHALLENGE",
        }
    }
}

/// Lowercase Crockford base32 (no i, l, o, u), 5 bits a character.
fn random_code() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn nonce_of(code: &str) -> &str {
    &code[OTP_LEN..]
}

/// Creates a code and returns it in plain text (it is stored only as hashes).
pub async fn create(
    conn: &mut AnyConnection,
    project_id: &str,
    kind: CodeType,
    method: Value,
    data: Value,
    redirect_url: Option<&str>,
    ttl_ms: i64,
) -> sqlx::Result<String> {
    let code = random_code();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO verification_codes (id, project_id, type, code_hash, nonce_hash, redirect_url, method, data, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_uuid())
    .bind(project_id)
    .bind(kind.as_str())
    .bind(sha256_hex(&code))
    .bind(sha256_hex(nonce_of(&code)))
    .bind(redirect_url)
    .bind(method.to_string())
    .bind(data.to_string())
    .bind(now + ttl_ms)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(code)
}

#[derive(Debug, Clone)]
pub struct CodeRow {
    pub id: String,
    pub method: Value,
    pub data: Value,
    pub redirect_url: Option<String>,
}

pub fn not_found() -> KnownError {
    known(
        KnownCode::VerificationCodeNotFound,
        "The verification code does not exist for this project.",
        None,
    )
}

/// Codes checked per client IP (any kind, any project): guessing is also bounded per code by
/// its attempt count, this bounds one client spraying many codes.
pub const CHECKS_PER_IP: Rule = Rule {
    name: "code_check_ip",
    limit: 60,
    window_secs: 60,
};

/// Codes sent to one address (sign-in, reset, verification) whether or not it has an account,
/// so neither a mail bomb nor a 429 tells anything about the address.
pub const SENDS_PER_ADDRESS: Rule = Rule {
    name: "code_send_address",
    limit: 5,
    window_secs: 600,
};

/// Codes one client IP may have sent, to any address.
pub const SENDS_PER_IP: Rule = Rule {
    name: "code_send_ip",
    limit: 50,
    window_secs: 600,
};

/// Counts a code send against the address's limit and, for an untrusted caller (`ip` is
/// `Some`), the client's. Errors: 429 with `Retry-After` past either.
pub async fn limit_send(
    k: &Kernel,
    ip: Option<&ClientIp>,
    project_id: &str,
    email: &str,
) -> ApiResult<()> {
    if let Some(ip) = ip {
        k.limits.hit(&SENDS_PER_IP, &ip.0).await?;
    }
    k.limits
        .hit(&SENDS_PER_ADDRESS, &format!("{project_id}:{email}"))
        .await?;
    Ok(())
}

/// Checks a submitted code in the original's order (not found, expired, used, too many attempts)
/// after counting the attempt against its nonce (and an untrusted client, `ip` being `Some`,
/// against [`CHECKS_PER_IP`]); with `consume`, marks it used, race-free.
pub async fn check(
    k: &Kernel,
    ip: Option<&ClientIp>,
    project_id: &str,
    kind: CodeType,
    submitted: &str,
    consume: bool,
) -> ApiResult<CodeRow> {
    if let Some(ip) = ip {
        k.limits.hit(&CHECKS_PER_IP, &ip.0).await?;
    }
    let db = k.db();
    if submitted.chars().count() != CODE_LEN || !submitted.is_ascii() {
        return Err(schema_problem(format!(
            "body.code must be exactly {CODE_LEN} characters"
        )));
    }
    let code = submitted.to_ascii_lowercase();
    sqlx::query("UPDATE verification_codes SET attempt_count = attempt_count + 1 WHERE project_id = $1 AND nonce_hash = $2")
        .bind(project_id)
        .bind(sha256_hex(nonce_of(&code)))
        .execute(db)
        .await?;
    let row = sqlx::query(
        "SELECT id, method, data, redirect_url, expires_at, used_at, attempt_count FROM verification_codes
         WHERE code_hash = $1 AND project_id = $2 AND type = $3",
    )
    .bind(sha256_hex(&code))
    .bind(project_id)
    .bind(kind.as_str())
    .fetch_optional(db)
    .await?
    .ok_or_else(not_found)?;
    if row.try_get::<i64, _>("expires_at")? <= now_ms() {
        return Err(known(
            KnownCode::VerificationCodeExpired,
            "The verification code has expired.",
            None,
        )
        .into());
    }
    if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
        return Err(already_used().into());
    }
    // The count includes this request; the limit applies to the attempts before it.
    if row.try_get::<i64, _>("attempt_count")? > MAX_ATTEMPTS {
        return Err(known(KnownCode::VerificationCodeMaxAttemptsReached, "The verification code nonce has reached the maximum number of attempts. This code is not valid anymore.", None)
        .into());
    }
    let id: String = row.try_get("id")?;
    if consume {
        let mut conn = db.acquire().await?;
        self::consume(&mut conn, &id).await?;
    }
    let parse = |name: &str| -> ApiResult<Value> {
        let text: String = row.try_get(name)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    Ok(CodeRow {
        method: parse("method")?,
        data: parse("data")?,
        redirect_url: row.try_get("redirect_url")?,
        id,
    })
}

/// Expired codes are kept this long (ms) so that a late click still hears "expired", then swept.
const EXPIRED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Deletes long-expired codes every ten minutes, so codes anyone can ask for (sign-in attempts,
/// passkey challenges) do not pile up.
pub fn spawn_sweeper(state: Kernel) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            let swept = sqlx::query("DELETE FROM verification_codes WHERE expires_at < $1")
                .bind(now_ms() - EXPIRED_KEPT_MS)
                .execute(state.db())
                .await;
            if let Err(e) = swept {
                tracing::warn!(error = %e, "expired codes could not be swept");
            }
        }
    });
}

/// Deletes every code of `kind` in the project (a new one replaces them).
pub async fn delete_all(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    kind: CodeType,
) -> ApiResult<()> {
    sqlx::query("DELETE FROM verification_codes WHERE project_id = $1 AND type = $2")
        .bind(project_id)
        .bind(kind.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks a checked code used, so that it works once even when two requests race; put it in the
/// transaction of what the code unlocks. Errors: `VERIFICATION_CODE_ALREADY_USED`.
pub async fn consume(conn: &mut sqlx::AnyConnection, id: &str) -> ApiResult<()> {
    let marked =
        sqlx::query("UPDATE verification_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *conn)
            .await?;
    if marked.rows_affected() == 0 {
        return Err(already_used().into());
    }
    Ok(())
}

fn already_used() -> KnownError {
    known(
        KnownCode::VerificationCodeAlreadyUsed,
        "The verification link has already been used.",
        None,
    )
}

/// `url` with its `code` query parameter set (other parameters and the fragment kept).
pub fn link(url: &str, code: &str) -> String {
    crate::http::url::with_query(url, &[("code", code)])
}

/// The body of every endpoint that takes a code: `{ "code": "…" }`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

/// Every `…/check-code` endpoint (any access type): the code checked, not consumed.
pub async fn answer_check(
    k: &Kernel,
    ip: Option<&ClientIp>,
    project_id: &str,
    kind: CodeType,
    code: &str,
) -> ApiResult<axum::response::Response> {
    check(k, ip, project_id, kind, code, false).await?;
    Ok(crate::http::json_ok(json!({ "is_code_valid": true })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_set_the_code_parameter() {
        assert_eq!(
            super::link("https://a.example/cb", "x"),
            "https://a.example/cb?code=x"
        );
        assert_eq!(
            super::link("https://a.example/cb?a=1&code=old#frag", "x"),
            "https://a.example/cb?a=1&code=x#frag"
        );
        let code = super::random_code();
        assert_eq!(code.len(), 45);
        assert!(code
            .chars()
            .all(|c| "0123456789abcdefghjkmnpqrstvwxyz".contains(c)));
    }
}
