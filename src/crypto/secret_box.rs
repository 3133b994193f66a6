//! Encryption at rest for third-party credentials we must be able to read back (a project's SMTP
//! password): AES-256-GCM under a key derived from the instance secret.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";

/// The key derives from the instance secret; stored values are unreadable without it.
pub struct SecretBox {
    key: LessSafeKey,
}

pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

impl SecretBox {
    pub fn new(instance_secret: &[u8]) -> SecretBox {
        let digest = Sha256::new()
            .chain_update(b"portcullis-secret-box\0")
            .chain_update(instance_secret)
            .finalize();
        // A SHA-256 digest is always a valid AES-256 key.
        let key = UnboundKey::new(&AES_256_GCM, &digest).expect("32-byte key");
        SecretBox {
            key: LessSafeKey::new(key),
        }
    }

    /// `enc:v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// The plaintext of a sealed value; an error if it was tampered with or sealed under another secret.
    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
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
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| {
                anyhow::anyhow!("a sealed value did not decrypt (was the instance secret changed?)")
            })?;
        Ok(String::from_utf8(plain.to_vec())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = SecretBox::new(b"test secret");
        let sealed = b.seal("smtp password").unwrap();
        assert!(super::is_sealed(&sealed));
        assert!(!sealed.contains("smtp password"));
        assert_eq!(b.open(&sealed).unwrap(), "smtp password");
        assert!(SecretBox::new(b"other secret").open(&sealed).is_err());
        // Any changed byte of the ciphertext fails authentication.
        let mut raw = B64.decode(sealed.strip_prefix(PREFIX).unwrap()).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("{PREFIX}{}", B64.encode(raw));
        assert!(b.open(&tampered).is_err());
    }
}
