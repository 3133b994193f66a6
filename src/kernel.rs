//! The kernel context: what every capability's domain functions may take. Configuration, the
//! store, the token-signing keys, the public URL, the secret box, the password-hashing pool, the
//! rate limits and the wake-ups of background workers — and nothing that names a capability (their state lives in their own modules and is
//! reached through axum substates; `server.rs` assembles the whole).

use crate::config::Config;
use crate::crypto::jwt::JwtKeys;
use crate::crypto::password::PasswordHasher;
use crate::crypto::secret_box::SecretBox;
use crate::jobs::Wakeups;
use crate::limits::Limits;
use crate::store::Store;
use std::sync::Arc;

/// Cheap to clone; one per process.
#[derive(Clone)]
pub struct Kernel(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub jwt: JwtKeys,
    /// Base URL (no trailing slash) used in token issuers and links.
    pub public_url: String,
    /// Encrypts third-party credentials at rest (see `crypto::secret_box`).
    pub secret_box: SecretBox,
    /// The bounded password-hashing pool (see `crypto::password`).
    pub passwords: PasswordHasher,
    /// Rate-limit counters shared by every replica (see `limits`).
    pub limits: Limits,
    /// Wakes background workers when new work is queued, instead of waiting for their next poll.
    pub wakeups: Wakeups,
}

impl std::ops::Deref for Kernel {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Kernel {
    /// `server_secret` is the instance secret the signing keys and the secret box derive from.
    pub fn new(config: Config, store: Store, server_secret: &[u8]) -> Kernel {
        Kernel(Arc::new(Inner {
            public_url: config.public_url(),
            secret_box: SecretBox::new(server_secret),
            jwt: JwtKeys::new(server_secret.to_vec()),
            wakeups: Wakeups::default(),
            passwords: PasswordHasher::start(config.password_workers, config.password_queue),
            limits: Limits::new(store.clone(), config.rate_limits.clone()),
            config,
            store,
        }))
    }

    pub fn db(&self) -> &sqlx::AnyPool {
        &self.store.pool
    }
}
