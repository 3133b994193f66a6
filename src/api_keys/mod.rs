//! User and team API keys: secrets shown once, stored hashed, recognisable by scanners (fixed
//! marker and checksum), revocable and expiring; `check` answers whether one is live.

pub mod routes;

use crate::crypto::secret::sha256_hex;
use crate::http::error::KnownError;
use crate::http::known::known;
use crate::http::known::KnownCode;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User,
    Team,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Team => "team",
        }
    }
}

const MARKER: &str = "574ck4u7h";

/// CRC-32 (IEEE), the checksum scanners verify in a key.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `<sk|pk>_<45-char secret><id hex><user|team><flag>574ck4u7h<crc32>`, as the original formats keys.
pub fn format_key(id: &str, owner: Owner, is_public: bool) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut rng = rand::thread_rng();
    let secret: String = (0..45)
        .map(|_| ALPHABET[rng.gen_range(0..32)] as char)
        .collect();
    // Self-hosted (1), plus 2 when public.
    let flag = ALPHABET[1 + if is_public { 2 } else { 0 }] as char;
    let prefix = if is_public { "pk" } else { "sk" };
    let body = format!(
        "{prefix}_{secret}{}{}{flag}{MARKER}",
        id.replace('-', ""),
        owner.as_str()
    );
    format!("{body}{:08x}", crc32(body.as_bytes()))
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub owner: Owner,
    pub owner_id: String,
    pub description: String,
    pub is_public: bool,
    pub last_four: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub const COLUMNS: &str =
    "id, user_id, team_id, description, is_public, last_four, created_at, expires_at, revoked_at";

impl ApiKey {
    pub fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ApiKey> {
        let user_id: Option<String> = r.try_get("user_id")?;
        let team_id: Option<String> = r.try_get("team_id")?;
        let (owner, owner_id) = match (user_id, team_id) {
            (Some(u), _) => (Owner::User, u),
            (None, t) => (Owner::Team, t.unwrap_or_default()),
        };
        Ok(ApiKey {
            id: r.try_get("id")?,
            owner,
            owner_id,
            description: r.try_get("description")?,
            is_public: r.try_get::<i64, _>("is_public")? != 0,
            last_four: r.try_get("last_four")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }

    /// The read shape; `value` is the full secret right after creation, else its last four characters.
    pub fn json(&self, value: Option<&str>) -> Value {
        let mut v = json!({
            "id": self.id,
            "description": self.description,
            "is_public": self.is_public,
            "created_at_millis": self.created_at,
            "value": match value { Some(full) => json!(full), None => json!({ "last_four": self.last_four }) },
            "type": self.owner.as_str(),
        });
        v[match self.owner {
            Owner::User => "user_id",
            Owner::Team => "team_id",
        }] = json!(self.owner_id);
        if let Some(e) = self.expires_at {
            v["expires_at_millis"] = json!(e);
        } else if value.is_some() {
            v["expires_at_millis"] = Value::Null;
        }
        if let Some(r) = self.revoked_at {
            v["manually_revoked_at_millis"] = json!(r);
        }
        v
    }
}

pub async fn find_by_value(
    db: &sqlx::AnyPool,
    project_id: Option<&str>,
    value: &str,
) -> sqlx::Result<Option<(String, ApiKey)>> {
    let sql = format!("SELECT project_id, {COLUMNS} FROM api_keys WHERE secret_hash = $1");
    let row = sqlx::query(&sql)
        .bind(sha256_hex(value))
        .fetch_optional(db)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let pid: String = r.try_get("project_id")?;
    if project_id.is_some_and(|p| p != pid) {
        return Ok(None);
    }
    Ok(Some((pid, ApiKey::from_row(&r)?)))
}

pub fn not_found() -> KnownError {
    known(KnownCode::ApiKeyNotFound, "API key not found.", None)
}
pub fn expired() -> KnownError {
    known(KnownCode::ApiKeyExpired, "API key has expired.", None)
}
pub fn revoked() -> KnownError {
    known(KnownCode::ApiKeyRevoked, "API key has been revoked.", None)
}
pub fn wrong_type(expected: Owner, actual: Owner) -> KnownError {
    known(
        KnownCode::WrongApiKeyType,
        format!(
            "This endpoint is for {} API keys, but a {} API key was provided.",
            expected.as_str(),
            actual.as_str()
        ),
        Some(json!({ "expected_type": expected.as_str(), "actual_type": actual.as_str() })),
    )
}
pub fn public_cannot_be_revoked() -> KnownError {
    known(
        KnownCode::PublicApiKeyCannotBeRevoked,
        "Public API keys cannot be revoked by the secretscanner endpoint.",
        None,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_format_and_checksum() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
        let k = super::format_key(
            "0b5f3a5e-0000-4000-8000-000000000001",
            super::Owner::User,
            false,
        );
        assert!(k.starts_with("sk_"));
        assert_eq!(k.len() - 3, 45 + 32 + 4 + 1 + 9 + 8);
        let (body, sum) = k.split_at(k.len() - 8);
        assert!(body.ends_with("user1574ck4u7h"));
        assert_eq!(sum, format!("{:08x}", super::crc32(body.as_bytes())));
        assert!(super::format_key(
            "0b5f3a5e-0000-4000-8000-000000000001",
            super::Owner::Team,
            true
        )
        .starts_with("pk_"));
    }
}
