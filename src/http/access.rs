//! The caller's access type (`x-stack-access-type`): what a handler allows is a list of them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessType {
    Client,
    Server,
    Admin,
}

impl AccessType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::Client => "client",
            AccessType::Server => "server",
            AccessType::Admin => "admin",
        }
    }
    /// Server and admin callers are trusted backends; they see and write server fields.
    pub fn is_trusted(self) -> bool {
        self != AccessType::Client
    }
}

pub const ANY: &[AccessType] = &[AccessType::Client, AccessType::Server, AccessType::Admin];
pub const TRUSTED: &[AccessType] = &[AccessType::Server, AccessType::Admin];
pub const ADMIN: &[AccessType] = &[AccessType::Admin];
