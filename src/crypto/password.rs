//! Password hashing: argon2id for everything we write; bcrypt (the original's format) still
//! verifies so imported users keep their passwords.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn argon2() -> Argon2<'static> {
    // OWASP's recommended argon2id profile: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 params are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid params cannot fail")
        .to_string()
}

pub fn verify(password: &str, stored: &str) -> bool {
    if stored.starts_with("$2") {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether an imported hash (`password_hash` on user create/update) is in a format we verify.
pub fn is_supported_hash(stored: &str) -> bool {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return stored.len() == 60;
    }
    stored.starts_with("$argon2") && PasswordHash::new(stored).is_ok()
}

/// Verifies against a fixed hash so unknown emails cost the same time as wrong passwords.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("portcullis-timing-equaliser"));
    let _ = verify(password, stored);
}

/// Hashing and verifying take tens of milliseconds; keep them off the async workers.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash(&password)).await?)
}

pub async fn verify_blocking(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || match stored {
        Some(s) => verify(&password, &s),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn argon2_and_bcrypt_verify() {
        let h = super::hash("correct horse");
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
        let b = bcrypt::hash("hunter22", 4).unwrap();
        assert!(super::is_supported_hash(&b));
        assert!(super::verify("hunter22", &b));
        assert!(!super::verify("hunter23", &b));
        assert!(!super::is_supported_hash("plain"));
    }
}
