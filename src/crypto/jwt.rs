//! ES256 access tokens: per-audience key pairs derived from the instance secret, signing,
//! verification and the JWKS document. Keys are derived once per audience and cached,
//! so verifying a request costs one ECDSA verify and no key derivation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct AudienceKey {
    pub kid: String,
    signing: SigningKey,
    /// Uncompressed SEC1 point, the form ring verifies against.
    public_point: Vec<u8>,
}

impl AudienceKey {
    fn derive(secret: &[u8], audience: &str) -> AudienceKey {
        let mut counter = 0u32;
        let signing = loop {
            let scalar = Sha256::new()
                .chain_update(b"portcullis-jwt-signing-key\0")
                .chain_update(secret)
                .chain_update(b"\0")
                .chain_update(audience.as_bytes())
                .chain_update(counter.to_be_bytes())
                .finalize();
            // A digest outside the curve order is astronomically rare; try the next counter.
            match SigningKey::from_slice(&scalar) {
                Ok(k) => break k,
                Err(_) => counter += 1,
            }
        };
        let point = signing.verifying_key().to_encoded_point(false);
        let public_point = point.as_bytes().to_vec();
        let kid = B64.encode(Sha256::digest(&public_point))[..12].to_string();
        AudienceKey {
            kid,
            signing,
            public_point,
        }
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "EC", "alg": "ES256", "crv": "P-256",
            "x": B64.encode(&self.public_point[1..33]),
            "y": B64.encode(&self.public_point[33..65]),
            "kid": self.kid,
        })
    }
}

pub struct JwtKeys {
    secret: Vec<u8>,
    cache: RwLock<HashMap<String, Arc<AudienceKey>>>,
}

#[derive(Debug)]
pub enum VerifyError {
    Malformed,
    BadSignature,
}

impl JwtKeys {
    pub fn new(secret: Vec<u8>) -> Self {
        JwtKeys {
            secret,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub fn key_for(&self, audience: &str) -> Arc<AudienceKey> {
        if let Some(k) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(audience)
        {
            return k.clone();
        }
        let key = Arc::new(AudienceKey::derive(&self.secret, audience));
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(audience.to_string())
            .or_insert(key)
            .clone()
    }

    pub fn sign<C: Serialize>(&self, audience: &str, claims: &C) -> String {
        let key = self.key_for(audience);
        let header = json!({ "alg": "ES256", "kid": key.kid });
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).unwrap_or_default())
        );
        let sig: Signature = key.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(sig.to_bytes()))
    }

    /// Checks the signature against the key of the token's own audience and returns its claims.
    /// The caller checks issuer, expiry and project.
    pub fn verify<C: for<'de> Deserialize<'de>>(&self, token: &str) -> Result<C, VerifyError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header: Value = decode_part(h)?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(VerifyError::Malformed);
        }
        let payload_bytes = B64.decode(p).map_err(|_| VerifyError::Malformed)?;
        let payload: Value =
            serde_json::from_slice(&payload_bytes).map_err(|_| VerifyError::Malformed)?;
        let aud = payload
            .get("aud")
            .and_then(Value::as_str)
            .ok_or(VerifyError::Malformed)?;
        let key = self.key_for(aud);
        if header.get("kid").and_then(Value::as_str) != Some(key.kid.as_str()) {
            return Err(VerifyError::BadSignature);
        }
        let sig = B64.decode(s).map_err(|_| VerifyError::Malformed)?;
        let signed_len = h.len() + 1 + p.len();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &key.public_point,
        )
        .verify(&token.as_bytes()[..signed_len], &sig)
        .map_err(|_| VerifyError::BadSignature)?;
        serde_json::from_value(payload).map_err(|_| VerifyError::Malformed)
    }
}

fn decode_part(part: &str) -> Result<Value, VerifyError> {
    let bytes = B64.decode(part).map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_per_audience() {
        let keys = JwtKeys::new(b"secret".to_vec());
        let token = keys.sign("p1", &json!({ "aud": "p1", "sub": "u" }));
        let claims: Value = keys.verify(&token).unwrap();
        assert_eq!(claims["sub"], "u");
        // Same claims signed for another audience must not verify as this one.
        let other = JwtKeys::new(b"other".to_vec());
        assert!(other.verify::<Value>(&token).is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(keys.verify::<Value>(&tampered).is_err());
    }
}
