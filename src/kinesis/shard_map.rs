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
    /// Until when requests wait for the first map, fixed by the first request that waits.
    first_wait_until: Arc<std::sync::OnceLock<tokio::time::Instant>>,
}

impl ShardMapCache {
    /// Waits until a map is known, but no longer than `limit` after the first call (later
    /// calls share that deadline, so only the first requests wait): what is sent before the map
    /// is known cannot be paced per shard. A failed first ListShards does not end the wait: the
    /// refresher's retries may still load a map in time (a transient error on the first try
    /// once let a whole flow's backlog go unpaced and be throttled).
    pub async fn first_fetch(&self, limit: std::time::Duration) {
        let deadline = *self
            .first_wait_until
            .get_or_init(|| tokio::time::Instant::now() + limit);
        while self.get().is_none() && tokio::time::Instant::now() < deadline {
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

    #[tokio::test(start_paused = true)]
    async fn the_first_requests_wait_for_a_map_through_failed_fetches_then_only_until_the_deadline()
    {
        let cache = ShardMapCache::default();
        let setter = cache.clone();
        let start = tokio::time::Instant::now();
        tokio::spawn(async move {
            // The first ListShards failed; the retry a second and a half later works.
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            setter.set(ShardMap::new(vec![shard("a", 0, u128::MAX)]));
        });
        cache.first_fetch(std::time::Duration::from_secs(10)).await;
        assert!(cache.get().is_some());
        assert!(start.elapsed() < std::time::Duration::from_secs(2));

        let never = ShardMapCache::default();
        never.first_fetch(std::time::Duration::from_secs(10)).await;
        assert_eq!(start.elapsed().as_secs(), 11, "one wait of 10 s");
        // Later requests share the first one's deadline: no wait per request.
        never.first_fetch(std::time::Duration::from_secs(10)).await;
        assert_eq!(start.elapsed().as_secs(), 11);
    }
}
