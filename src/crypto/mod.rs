//! Cryptographic building blocks: password hashing, access-token signing, opaque secrets.

pub mod jwt;
pub mod password;
pub mod secret;
pub mod secret_box;
pub mod totp;
