//! Opaque random secrets (refresh tokens, API keys, codes) and their at-rest hashes.

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random lowercase base32 string of `len` characters (5 bits each).
pub fn random_base32(len: usize) -> String {
    let mut bytes = vec![0u8; len * 5 / 8 + 1];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut s = BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
    s.truncate(len);
    s
}

/// Secrets we hand out are high-entropy, so a fast hash is enough at rest: a leaked table
/// cannot be turned back into usable tokens, and lookups stay one indexed read.
pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
