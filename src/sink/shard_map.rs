//! Which shard a hash key lands on (kinesis-facts §1.6, §4.11b): the open shards' hash-key
//! ranges from `ListShards`, looked up by binary search on their inclusive ends. Kept fresh by
//! [`ShardMapCache`]: fetched at start, refreshed periodically and on demand (a record landed
//! on another shard than predicted, i.e. the stream was resharded), with backoff on failure.

use super::SendError;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
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

/// Where shard lists come from (the Kinesis client; a fake in tests).
pub trait ShardSource: Send + Sync + 'static {
    /// The stream's open shards.
    fn open_shards(&self) -> impl Future<Output = Result<Vec<Shard>, SendError>> + Send;
}

/// The current map, shared by the batcher (grouping) and the sender (rate limits, wrong-shard
/// checks). `None` until the first successful fetch.
#[derive(Clone, Default)]
pub struct ShardMapCache {
    current: Arc<RwLock<Option<Arc<ShardMap>>>>,
    refresh: Arc<Notify>,
}

impl ShardMapCache {
    pub fn get(&self) -> Option<Arc<ShardMap>> {
        self.current.read().expect("shard map lock").clone()
    }

    pub fn set(&self, map: ShardMap) {
        *self.current.write().expect("shard map lock") = Some(Arc::new(map));
    }

    /// One fetch, for start-up: shard-aware aggregation wants a map before the first lines
    /// (without one they are sent un-aggregated). Returns whether a map was loaded.
    pub async fn load_once<S: ShardSource>(&self, source: &S) -> bool {
        match source.open_shards().await {
            Ok(shards) => {
                tracing::info!(shards = shards.len(), "shard map loaded");
                self.set(ShardMap::new(shards));
                true
            }
            Err(error) => {
                tracing::warn!(
                    "cannot list the stream's shards yet ({error}); lines are sent un-aggregated until the shard map is known"
                );
                false
            }
        }
    }

    /// Asks the refresher for a new map now.
    pub fn request_refresh(&self) {
        self.refresh.notify_one();
    }

    /// Keeps the map fresh until `stop`: every `period`, and soon after each refresh request.
    /// Failures back off 1 s, x1.5, up to 30 s (the KPL's schedule); the old map stays in use.
    pub async fn run<S: ShardSource>(
        self,
        source: Arc<S>,
        period: Duration,
        stop: tokio_util::sync::CancellationToken,
        flow: Arc<str>,
    ) {
        let mut failure_backoff = Duration::from_secs(1);
        let mut warned = false;
        loop {
            match source.open_shards().await {
                Ok(shards) => {
                    let map = ShardMap::new(shards);
                    if self.get().as_deref() != Some(&map) {
                        tracing::info!(flow = %flow, shards = map.len(), "shard map updated");
                    }
                    self.set(map);
                    failure_backoff = Duration::from_secs(1);
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(period) => {}
                        _ = self.refresh.notified() => {}
                    }
                }
                Err(error) => {
                    if !warned {
                        tracing::warn!(flow = %flow, "cannot list the stream's shards ({error}); per-shard rate limiting and shard-aware aggregation wait for it (grant kinesis:ListShards)");
                        warned = true;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(failure_backoff) => {}
                    }
                    failure_backoff = (failure_backoff.mul_f64(1.5)).min(Duration::from_secs(30));
                }
            }
        }
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
