//! A small time-bounded cache for identity lookups on the hot path.
//!
//! Entries expire after a TTL so that changes made on another replica are
//! seen within it; changes made on this node invalidate entries at once.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub(crate) struct TtlCache<V> {
    ttl: Duration,
    /// Past this many entries, expired ones are swept on insert, and if that
    /// is not enough the map is cleared: a storm of distinct unknown keys
    /// must not grow memory without bound.
    capacity: usize,
    map: RwLock<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            capacity,
            map: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (at, value) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub(crate) fn insert(&self, key: String, value: V) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    pub(crate) fn remove(&self, key: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let cache = TtlCache::new(Duration::from_millis(30), 10);
        cache.insert("a".into(), 1);
        assert_eq!(cache.get("a"), Some(1));
        cache.remove("a");
        assert_eq!(cache.get("a"), None);
        cache.insert("b".into(), 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("b"), None);
    }

    #[test]
    fn capacity_bounds_the_map() {
        let cache = TtlCache::new(Duration::from_secs(60), 4);
        for i in 0..100 {
            cache.insert(format!("k{i}"), i);
        }
        assert!(cache.map.read().unwrap().len() <= 4);
        assert_eq!(cache.get("k99"), Some(99));
    }
}
