//! Values read recently, kept for a short time. Every request needs its project's configuration
//! (and payments requests its catalog); a lifetime of a second keeps those reads off the database
//! on hot paths, while changes made by other replicas show within that second. Changes made by
//! this process are forgotten at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct Recent<V> {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<V>)>>,
}

const MAX_ENTRIES: usize = 10_000;

impl<V> Recent<V> {
    pub fn new(ttl: Duration) -> Self {
        Recent {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: &str, value: V) -> Arc<V> {
        let value = Arc::new(value);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_string(), (Instant::now(), value.clone()));
        value
    }

    pub fn forget(&self, key: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Forgets every entry whose key starts with `prefix`.
    pub fn forget_prefix(&self, prefix: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !k.starts_with(prefix));
    }
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent::new(Duration::from_secs(1))
    }
}
