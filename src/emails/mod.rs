//! Transactional email: built-in templates, the durable outbox, SMTP delivery, and the
//! `emails/*` endpoints.

pub mod outbox;
pub mod routes;
pub mod sender;
pub mod templates;

pub use routes::routes;

/// The outbox's queue name for `Kernel::wakeups`.
pub const QUEUE: &str = "emails";

/// Tells the sender that mail was queued (call after the queuing transaction commits).
pub fn wake_sender(k: &crate::kernel::Kernel) {
    k.wakeups.wake(QUEUE);
}
