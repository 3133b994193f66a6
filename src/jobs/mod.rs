//! Background work: the wake-ups that tell a worker new rows are waiting in its queue table.
//! The work itself is always a row written in the same transaction as its cause; a wake-up only
//! shortens the wait before the worker's next poll, so a lost one delays and never loses work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One `Notify` per named queue (e.g. `"emails"`), made on first use.
#[derive(Default)]
pub struct Wakeups(Mutex<HashMap<&'static str, Arc<Notify>>>);

impl Wakeups {
    /// The notifier a queue's worker waits on and its producers wake.
    pub fn of(&self, queue: &'static str) -> Arc<Notify> {
        let mut queues = self.0.lock().unwrap_or_else(|e| e.into_inner());
        queues.entry(queue).or_default().clone()
    }

    /// Tells the queue's worker that work is waiting (a permit is kept if it is busy).
    pub fn wake(&self, queue: &'static str) {
        self.of(queue).notify_one();
    }
}
