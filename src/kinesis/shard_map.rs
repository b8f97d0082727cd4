//! Which shard a hash key lands on: the open shards' hash-key ranges from `ListShards`, looked
//! up by binary search on their inclusive ends, and the cell through which the batcher
//! (grouping) and the sender (rate limits, wrong-shard checks) share the current map. Keeping it
//! fresh is I/O and lives with the sender (`sink::shard_map`).

use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: Arc<str>,
    pub start: u128,
    pub end: u128,
}

impl Shard {
    pub fn contains(&self, hash: u128) -> bool {
        self.start <= hash && hash <= self.end
    }
}

/// The open shards of a stream, sorted by range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardMap {
    shards: Vec<Shard>,
}

impl ShardMap {
    pub fn new(mut shards: Vec<Shard>) -> ShardMap {
        shards.sort_by_key(|s| s.end);
        ShardMap { shards }
    }

    /// The shard whose range holds `hash`.
    pub fn lookup(&self, hash: u128) -> Option<&Shard> {
        let index = self.shards.partition_point(|s| s.end < hash);
        self.shards.get(index).filter(|s| s.contains(hash))
    }

    pub fn get(&self, id: &str) -> Option<&Shard> {
        self.shards.iter().find(|s| &*s.id == id)
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

/// The current map, shared by the batcher (grouping) and the sender (rate limits, wrong-shard
/// checks). `None` until the first successful fetch.
#[derive(Clone, Default)]
pub struct ShardMapCache {
    current: Arc<RwLock<Option<Arc<ShardMap>>>>,
    /// Wakes the refresher early.
    pub refresh: Arc<Notify>,
    /// The first fetch has been tried (whether it worked or not).
    tried: Arc<std::sync::atomic::AtomicBool>,
}

impl ShardMapCache {
    pub fn mark_tried(&self) {
        self.tried.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits, up to `limit`, until the first fetch has been tried: what is sent before the
    /// map is known cannot be paced per shard.
    pub async fn first_fetch(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.tried.load(std::sync::atomic::Ordering::Relaxed)
            && self.get().is_none()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn get(&self) -> Option<Arc<ShardMap>> {
        self.current.read().expect("shard map lock").clone()
    }

    pub fn set(&self, map: ShardMap) {
        *self.current.write().expect("shard map lock") = Some(Arc::new(map));
    }

    /// Asks the refresher for a new map now.
    pub fn request_refresh(&self) {
        self.refresh.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, start: u128, end: u128) -> Shard {
        Shard {
            id: Arc::from(id),
            start,
            end,
        }
    }

    #[test]
    fn lookup_finds_the_range_holding_the_hash() {
        let half = u128::MAX / 2;
        let map = ShardMap::new(vec![shard("b", half + 1, u128::MAX), shard("a", 0, half)]);
        assert_eq!(&*map.lookup(0).unwrap().id, "a");
        assert_eq!(&*map.lookup(half).unwrap().id, "a");
        assert_eq!(&*map.lookup(half + 1).unwrap().id, "b");
        assert_eq!(&*map.lookup(u128::MAX).unwrap().id, "b");
        let gap = ShardMap::new(vec![shard("a", 0, 10), shard("c", 20, 30)]);
        assert!(gap.lookup(15).is_none());
    }
}
