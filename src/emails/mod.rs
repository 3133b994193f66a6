//! Transactional email: built-in templates, the durable outbox, SMTP delivery, and the
//! `emails/*` endpoints.

pub mod outbox;
mod routes;
pub mod sender;
pub mod templates;

pub use routes::routes;
