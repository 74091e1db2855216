//! In-process caches of values computed from PostgreSQL at a version (a bot's
//! `knowledge_version`), so that several server processes stay correct: a value is only served
//! at the version it was computed for, and every process reads the current version from the
//! database. Concurrent misses for one key compute it once (the others wait and share it), and
//! past a weight budget the least recently used entries go.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct VersionedCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    /// One gate per key being filled: the single flight.
    filling: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
    budget: usize,
    weigh: fn(&V) -> usize,
    ticks: AtomicU64,
}

struct Entry<V> {
    version: i64,
    value: Arc<V>,
    weight: usize,
    used: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> VersionedCache<K, V> {
    /// `budget` in the units of `weigh` (bytes, entries…); the newest entry always stays.
    pub fn new(budget: usize, weigh: fn(&V) -> usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), filling: Mutex::new(HashMap::new()), budget, weigh, ticks: AtomicU64::new(0) }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Entry<V>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value at `version`, if cached.
    pub fn get(&self, key: &K, version: i64) -> Option<Arc<V>> {
        let entries = self.entries();
        let entry = entries.get(key).filter(|e| e.version == version)?;
        entry.used.store(self.ticks.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(entry.value.clone())
    }

    /// The value at `version`, computed by `fill` on a miss; concurrent misses for `key` wait
    /// for the first one's `fill` instead of running their own. The value `fill` returns is
    /// stored at `version` (`fill` must read the data after the version was read).
    pub async fn get_or_fill<E, F, Fut>(&self, key: K, version: i64, fill: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(hit) = self.get(&key, version) {
            return Ok(hit);
        }
        let gate = self.filling.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
        let filled = {
            let _turn = gate.lock().await;
            match self.get(&key, version) {
                Some(hit) => Ok(hit), // filled while this request waited
                None => fill().await.map(|value| self.insert(key.clone(), version, value)),
            }
        };
        let mut filling = self.filling.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map and this request hold the gate: nobody is waiting on it.
        if Arc::strong_count(&gate) == 2 {
            filling.remove(&key);
        }
        filled
    }

    /// Stores `value` at `version` (replacing an older one) and evicts down to the budget.
    pub fn insert(&self, key: K, version: i64, value: V) -> Arc<V> {
        let value = Arc::new(value);
        let weight = (self.weigh)(&value);
        let mut entries = self.entries();
        if entries.get(&key).is_some_and(|e| e.version > version) {
            return value; // a newer version is already there: keep it, serve ours once
        }
        let used = AtomicU64::new(self.ticks.fetch_add(1, Ordering::Relaxed));
        entries.insert(key.clone(), Entry { version, value: value.clone(), weight, used });
        let mut total: usize = entries.values().map(|e| e.weight).sum();
        while total > self.budget && entries.len() > 1 {
            let oldest = entries.iter().filter(|(k, _)| **k != key).min_by_key(|(_, e)| e.used.load(Ordering::Relaxed)).map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            total -= entries.remove(&oldest).map(|e| e.weight).unwrap_or(0);
        }
        value
    }

    pub fn remove_where(&self, mut gone: impl FnMut(&K) -> bool) {
        self.entries().retain(|k, _| !gone(k));
    }

    /// Total weight held (for benchmarks and the operator).
    pub fn weight(&self) -> usize {
        self.entries().values().map(|e| e.weight).sum()
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn concurrent_misses_fill_once_and_versions_are_never_mixed() {
        let cache: Arc<VersionedCache<u32, String>> = Arc::new(VersionedCache::new(100, |_| 1));
        let fills = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (cache, fills, gate) = (cache.clone(), fills.clone(), gate.clone());
            waiting.push(tokio::spawn(async move {
                cache
                    .get_or_fill(1, 7, || async move {
                        fills.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        Ok::<_, ()>("v7".to_string())
                    })
                    .await
            }));
        }
        // Let every request reach the cache, then release the one filling.
        while fills.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for w in waiting {
            assert_eq!(*w.await.unwrap().unwrap(), "v7");
        }
        assert_eq!(fills.load(Ordering::SeqCst), 1, "one fill for eight concurrent misses");
        assert!(cache.get(&1, 8).is_none(), "never served at another version");
        let v8 = cache.get_or_fill(1, 8, || async { Ok::<_, ()>("v8".to_string()) }).await.unwrap();
        assert_eq!(*v8, "v8");
        cache.insert(1, 7, "late v7".into());
        assert_eq!(*cache.get(&1, 8).unwrap(), "v8", "a late older value does not replace a newer one");
    }

    #[test]
    fn past_its_budget_the_least_recently_used_go() {
        let cache: VersionedCache<u32, Vec<u8>> = VersionedCache::new(10, |v| v.len());
        cache.insert(1, 1, vec![0; 4]);
        cache.insert(2, 1, vec![0; 4]);
        assert!(cache.get(&1, 1).is_some()); // 1 is now more recent than 2
        cache.insert(3, 1, vec![0; 4]);
        assert!(cache.get(&2, 1).is_none() && cache.get(&1, 1).is_some() && cache.get(&3, 1).is_some());
        assert_eq!(cache.weight(), 8);
        cache.insert(4, 1, vec![0; 50]);
        assert_eq!(cache.len(), 1, "the newest stays even over budget");
    }
}
