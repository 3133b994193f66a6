//! Encryption at rest for third-party credentials we must be able to read back (a project's SMTP
//! password): AES-256-GCM under a key derived from the instance secret.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const PREFIX: &str = "enc:v1:";

/// The key is set once at start from the instance secret; stored values are unreadable without it.
static KEY: OnceLock<LessSafeKey> = OnceLock::new();

pub fn init(instance_secret: &[u8]) {
    let digest = Sha256::new()
        .chain_update(b"portcullis-secret-box\0")
        .chain_update(instance_secret)
        .finalize();
    if let Ok(key) = UnboundKey::new(&AES_256_GCM, &digest) {
        let _ = KEY.set(LessSafeKey::new(key));
    }
}

fn key() -> anyhow::Result<&'static LessSafeKey> {
    KEY.get()
        .ok_or_else(|| anyhow::anyhow!("the secret box is not initialised"))
}

pub fn seal(plaintext: &str) -> anyhow::Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut data = plaintext.as_bytes().to_vec();
    key()?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    let mut out = nonce.to_vec();
    out.extend(data);
    Ok(format!("{PREFIX}{}", B64.encode(out)))
}

pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

pub fn open(sealed: &str) -> anyhow::Result<String> {
    let raw = B64.decode(
        sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| anyhow::anyhow!("not a sealed value"))?,
    )?;
    anyhow::ensure!(raw.len() > NONCE_LEN, "sealed value too short");
    let (nonce, data) = raw.split_at(NONCE_LEN);
    let mut data = data.to_vec();
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
    let plain = key()?
        .open_in_place(nonce, Aad::empty(), &mut data)
        .map_err(|_| {
            anyhow::anyhow!("a sealed value did not decrypt (was the instance secret changed?)")
        })?;
    Ok(String::from_utf8(plain.to_vec())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        super::init(b"test secret");
        let sealed = super::seal("smtp password").unwrap();
        assert!(super::is_sealed(&sealed));
        assert!(!sealed.contains("smtp password"));
        assert_eq!(super::open(&sealed).unwrap(), "smtp password");
        // Any changed byte of the ciphertext fails authentication.
        let mut raw = B64.decode(sealed.strip_prefix(PREFIX).unwrap()).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("{PREFIX}{}", B64.encode(raw));
        assert!(super::open(&tampered).is_err());
    }
}
