//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), computed by
//! the `totp-rs` crate from a user's secret (raw bytes, given base64-encoded).

use totp_rs::{Algorithm, TOTP};

/// Seconds a code lasts (RFC 6238's default, which authenticator apps use).
pub const STEP_SECS: u64 = 30;

/// The step (time / 30 s) whose code `code` is, within one step either side of `now_secs` to
/// allow for clock drift; `None` when it matches none (or the secret is not base64).
pub fn matching_step(secret_base64: &str, code: &str, now_secs: u64) -> Option<u64> {
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_base64)
        .ok()?;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `new_unchecked`: the original accepts any secret length, and so must we for its users.
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, STEP_SECS, secret);
    let now_step = now_secs / STEP_SECS;
    [now_step.saturating_sub(1), now_step, now_step + 1]
        .into_iter()
        .find(|step| {
            let expected = totp.generate(step * STEP_SECS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

/// The secret as the base32 key authenticator apps take (RFC 4648, no padding); `None` when
/// `secret_base64` is not base64.
pub fn base32_key(secret_base64: &str) -> Option<String> {
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_base64)
        .ok()?;
    match totp_rs::Secret::Raw(secret).to_encoded() {
        totp_rs::Secret::Encoded(key) => Some(key),
        totp_rs::Secret::Raw(_) => None,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last 6 digits.
        use base64::Engine;
        let secret = base64::engine::general_purpose::STANDARD.encode("12345678901234567890");
        assert_eq!(matching_step(&secret, "287082", 59), Some(1));
        assert_eq!(matching_step(&secret, "081804", 1111111109), Some(37037036));
        assert_eq!(
            matching_step(&secret, "081804", 1111111109 + 30),
            Some(37037036)
        );
        assert_eq!(matching_step(&secret, "081804", 1111111109 + 90), None);
        assert_eq!(matching_step(&secret, "28708", 59), None);
        assert_eq!(matching_step("not base64!", "287082", 59), None);
    }
}
