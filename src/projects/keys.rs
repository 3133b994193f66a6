//! Project API key sets: a publishable client key, a secret server key and a super-secret admin
//! key, stored as SHA-256 hashes and checked with one indexed read.

use crate::crypto::secret::{new_uuid, random_base32, sha256_hex};
use crate::store::now_ms;
use serde::Serialize;
use sqlx::AnyConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    PublishableClient,
    SecretServer,
    SuperSecretAdmin,
}

impl KeyKind {
    fn column(self) -> &'static str {
        match self {
            KeyKind::PublishableClient => "publishable_client_key_hash",
            KeyKind::SecretServer => "secret_server_key_hash",
            KeyKind::SuperSecretAdmin => "super_secret_admin_key_hash",
        }
    }
}

/// The plaintext keys of a new set: shown once, never stored.
#[derive(Debug, Clone, Serialize)]
pub struct NewKeySet {
    pub id: String,
    pub publishable_client_key: String,
    pub secret_server_key: String,
    pub super_secret_admin_key: String,
}

/// Keys are prefixed so secret scanners can recognise a leaked one.
pub fn generate_keys() -> (String, String, String) {
    (
        format!("pck_{}", random_base32(48)),
        format!("ssk_{}", random_base32(48)),
        format!("sak_{}", random_base32(48)),
    )
}

/// Stores a key set with the given plaintext keys (hashed) for `project_id`.
pub async fn insert_key_set(
    conn: &mut AnyConnection,
    project_id: &str,
    description: &str,
    keys: (String, String, String),
    expires_at: i64,
) -> sqlx::Result<NewKeySet> {
    let id = new_uuid();
    sqlx::query(
        "INSERT INTO api_key_sets (id, project_id, description, publishable_client_key_hash, secret_server_key_hash, super_secret_admin_key_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(description)
    .bind(sha256_hex(&keys.0))
    .bind(sha256_hex(&keys.1))
    .bind(sha256_hex(&keys.2))
    .bind(now_ms())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(NewKeySet {
        id,
        publishable_client_key: keys.0,
        secret_server_key: keys.1,
        super_secret_admin_key: keys.2,
    })
}

/// Whether `key` is a live key of `kind` for `project_id`.
pub async fn is_valid(
    db: &sqlx::AnyPool,
    project_id: &str,
    kind: KeyKind,
    key: &str,
) -> sqlx::Result<bool> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Ok(false);
    }
    let sql = format!(
        "SELECT 1 FROM api_key_sets WHERE {} = $1 AND project_id = $2 AND revoked_at IS NULL AND expires_at > $3",
        kind.column()
    );
    let row = sqlx::query(&sql)
        .bind(sha256_hex(key))
        .bind(project_id)
        .bind(now_ms())
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// A key set as the dashboard lists it (never its keys).
#[derive(Debug, Clone)]
pub struct KeySetInfo {
    pub id: String,
    pub description: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

pub async fn list_key_sets(db: &sqlx::AnyPool, project_id: &str) -> sqlx::Result<Vec<KeySetInfo>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT id, description, created_at, expires_at, revoked_at FROM api_key_sets WHERE project_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeySetInfo {
                id: r.try_get("id")?,
                description: r.try_get("description")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes one of the project's key sets; false if it has no such live set. Keys verified in the
/// last second may still pass on this instance until the verification cache forgets them.
pub async fn revoke_key_set(db: &sqlx::AnyPool, project_id: &str, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_key_sets SET revoked_at = $1 WHERE project_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(project_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Far enough in the future to mean "does not expire" while staying an integer in both backends.
pub const NEVER: i64 = 253_402_300_799_000;
