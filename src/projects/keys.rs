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
    /// ms since the epoch.
    pub created_at: i64,
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
    let created_at = now_ms();
    sqlx::query(
        "INSERT INTO api_key_sets (id, project_id, description, publishable_client_key_hash, secret_server_key_hash, super_secret_admin_key_hash, created_at, expires_at,
           publishable_client_key_last_four, secret_server_key_last_four, super_secret_admin_key_last_four)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(project_id)
    .bind(description)
    .bind(sha256_hex(&keys.0))
    .bind(sha256_hex(&keys.1))
    .bind(sha256_hex(&keys.2))
    .bind(created_at)
    .bind(expires_at)
    .bind(last_four(&keys.0))
    .bind(last_four(&keys.1))
    .bind(last_four(&keys.2))
    .execute(&mut *conn)
    .await?;
    Ok(NewKeySet {
        id,
        created_at,
        publishable_client_key: keys.0,
        secret_server_key: keys.1,
        super_secret_admin_key: keys.2,
    })
}

fn last_four(key: &str) -> String {
    key[key.len().saturating_sub(4)..].to_string()
}

/// Makes set `id` a set without the keys of `kinds`: each one's hash becomes that of a random
/// value nobody holds, and its last four are cleared (the original's `has_…_key: false`).
pub async fn drop_keys(conn: &mut AnyConnection, id: &str, kinds: &[KeyKind]) -> sqlx::Result<()> {
    for kind in kinds {
        let column = kind.column();
        let four = column.replace("_hash", "_last_four");
        sqlx::query(&format!(
            "UPDATE api_key_sets SET {column} = $1, {four} = NULL WHERE id = $2"
        ))
        .bind(sha256_hex(&random_base32(48)))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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
    /// The last four characters of the publishable, secret server and admin keys; None for a
    /// key the set does not have (or a set made before they were kept).
    pub last_four: [Option<String>; 3],
}

pub async fn list_key_sets(db: &sqlx::AnyPool, project_id: &str) -> sqlx::Result<Vec<KeySetInfo>> {
    read_key_sets(db, project_id, None).await
}

/// One of the project's key sets, or None.
pub async fn find_key_set(
    db: &sqlx::AnyPool,
    project_id: &str,
    id: &str,
) -> sqlx::Result<Option<KeySetInfo>> {
    Ok(read_key_sets(db, project_id, Some(id)).await?.pop())
}

async fn read_key_sets(
    db: &sqlx::AnyPool,
    project_id: &str,
    only: Option<&str>,
) -> sqlx::Result<Vec<KeySetInfo>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT id, description, created_at, expires_at, revoked_at, publishable_client_key_last_four, secret_server_key_last_four, super_secret_admin_key_last_four
         FROM api_key_sets WHERE project_id = $1 AND ($2 IS NULL OR id = $2) ORDER BY created_at DESC, id",
    )
    .bind(project_id)
    .bind(only)
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
                last_four: [
                    r.try_get("publishable_client_key_last_four")?,
                    r.try_get("secret_server_key_last_four")?,
                    r.try_get("super_secret_admin_key_last_four")?,
                ],
            })
        })
        .collect()
}

/// Changes one of the project's key sets in one write: its description when given, and revokes
/// it when `revoke` (a revoked set keeps its first revocation time). False if no such set.
pub async fn update_key_set(
    db: &sqlx::AnyPool,
    project_id: &str,
    id: &str,
    description: Option<&str>,
    revoke: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_key_sets SET description = COALESCE($1, description),
           revoked_at = CASE WHEN $2 = 1 AND revoked_at IS NULL THEN $3 ELSE revoked_at END
         WHERE project_id = $4 AND id = $5",
    )
    .bind(description)
    .bind(i64::from(revoke))
    .bind(now_ms())
    .bind(project_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
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
