//! What the sender knows about a stream's shards: the live map ([`ShardMapCache`]) and the
//! per-shard rate limiter. Used to pace requests, to learn from throttling, and to catch
//! shard-aware aggregates that landed in a shard whose range does not hold all their records
//! (after a split or merge), which are then re-split with the refreshed map and resent.

use super::EntryStatus;
use super::rate_limit::ShardRateLimiter;
use super::shard_map::{ShardMap, ShardMapCache};
use crate::aggregate::shard_groups::regroup;
use crate::aggregate::{Entry, Route};
use crate::kinesis::kpl;
use crate::metrics::FlowStats;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// How long the first requests wait for the first shard map.
const FIRST_MAP_WAIT: Duration = Duration::from_secs(10);
/// How long a wrong-shard check waits for a refreshed map before deciding with the old one.
const REFRESH_WAIT: Duration = Duration::from_secs(10);

pub struct Shards {
    pub map: ShardMapCache,
    /// Shared by the flows writing to the stream.
    pub limiter: Option<Arc<ShardRateLimiter>>,
    /// Keep each key's records in order (`shard_aware`): see [`Shards::oldest_per_shard`].
    pub ordered: bool,
}

impl Shards {
    /// Of the entries of `group` (oldest first) bound for one shard, only the oldest: the rest
    /// wait until it is accepted, so a retry goes before newer data and one request never holds
    /// two records of a shard, whose order PutRecords does not promise. Without a shard map,
    /// entries with the same hash key (so the same shard) are held back the same way.
    pub fn oldest_per_shard(&self, group: Vec<usize>, entries: &[Entry]) -> Vec<usize> {
        let map = self.map.get();
        let mut shards = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        group
            .into_iter()
            .filter(|&i| {
                let entry = &entries[i];
                match map.as_deref().and_then(|m| Self::shard_of(m, entry)) {
                    Some(shard) => shards.insert(shard),
                    None => hashes.insert(hash_of(entry)),
                }
            })
            .collect()
    }

    fn shard_of(map: &ShardMap, entry: &Entry) -> Option<Arc<str>> {
        if let Some(route) = entry.route()
            && map.get(&route.shard).is_some()
        {
            return Some(route.shard.clone());
        }
        map.lookup(hash_of(entry)?).map(|s| s.id.clone())
    }

    /// Each entry's predicted shard, and which entries the per-shard budget admits now (at
    /// least one: this waits until then). Entries not admitted stay pending for the next call.
    pub async fn pace(&self, entries: &[&Entry]) -> (Vec<Option<Arc<str>>>, Vec<bool>) {
        if self.limiter.is_some() && self.map.get().is_none() {
            // The first requests wait for a shard map, retries of a failed ListShards included,
            // up to FIRST_MAP_WAIT (unpaced they could take a shard's budget twice over); if
            // none comes by then they go unpaced, as the refresher's warning says.
            self.map.first_fetch(FIRST_MAP_WAIT).await;
        }
        let Some(map) = self.map.get() else {
            return (vec![None; entries.len()], vec![true; entries.len()]);
        };
        let routes: Vec<Option<Arc<str>>> =
            entries.iter().map(|e| Self::shard_of(&map, e)).collect();
        let Some(limiter) = &self.limiter else {
            return (routes, vec![true; entries.len()]);
        };
        let items: Vec<Option<(Arc<str>, u64, u64)>> = entries
            .iter()
            .zip(&routes)
            .map(|(e, r)| r.clone().map(|shard| (shard, 1, e.billed_bytes())))
            .collect();
        let admitted = limiter.admit_some(&items).await;
        (routes, admitted)
    }

    /// Adjusts the per-shard rates from a response: throttled shards slow down.
    pub fn learn(&self, routes: &[Option<Arc<str>>], statuses: &[EntryStatus]) {
        let Some(limiter) = &self.limiter else { return };
        for (shard, status) in routes.iter().zip(statuses) {
            match (shard, status) {
                (Some(shard), EntryStatus::Failed { code, .. })
                    if code == "ProvisionedThroughputExceededException" =>
                {
                    limiter.throttled(shard)
                }
                (Some(shard), EntryStatus::Delivered { .. }) => limiter.succeeded(shard),
                _ => {}
            }
        }
    }

    /// A whole request was throttled: slow down every shard it touched.
    pub fn slow_down(&self, routes: &[Option<Arc<str>>]) {
        if let Some(limiter) = &self.limiter {
            for shard in routes.iter().flatten() {
                limiter.throttled(shard);
            }
        }
    }

    /// Batch positions of delivered shard-aware aggregates stored in a shard whose range does
    /// not hold all their inner records (KCL would drop them). Refreshes the map first when the
    /// shard is unknown.
    pub async fn misplaced(
        &self,
        group: &[usize],
        statuses: &[EntryStatus],
        entries: &[Entry],
        stats: &FlowStats,
    ) -> Vec<usize> {
        let mut misplaced = Vec::new();
        for (&index, status) in group.iter().zip(statuses) {
            let (
                EntryStatus::Delivered {
                    shard_id: Some(actual),
                },
                Some(route),
            ) = (status, entries[index].route())
            else {
                continue;
            };
            if **actual == *route.shard || self.holds(actual, route).await {
                continue;
            }
            stats.count_error("WrongShard", 1);
            stats.entries_wrong_shard.fetch_add(1, Relaxed);
            misplaced.push(index);
        }
        if !misplaced.is_empty() && stats.limiter.allow("wrong_shard") {
            tracing::warn!(flow = %stats.flow, count = misplaced.len(), "aggregates landed in a shard that does not hold all their records (the stream was resharded); re-splitting them with the new shard map and resending (KCL consumers skip the misplaced copies)");
        }
        misplaced
    }

    async fn holds(&self, actual: &str, route: &Route) -> bool {
        let covers = |map: &ShardMap| {
            map.get(actual)
                .map(|s| s.contains(route.lowest_hash) && s.contains(route.highest_hash))
        };
        let before = self.map.get();
        if let Some(answer) = before.as_deref().and_then(covers) {
            return answer;
        }
        self.map.request_refresh();
        let deadline = tokio::time::Instant::now() + REFRESH_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.map.get();
            let changed = match (&before, &now) {
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                _ => now.is_some(),
            };
            if changed {
                return now.as_deref().and_then(covers).unwrap_or(false);
            }
        }
        false
    }

    /// Replaces each misplaced aggregate by aggregates built with the current map; returns the
    /// positions of the extra entries appended to the batch (all to be sent).
    pub fn resplit(&self, misplaced: &[usize], entries: &mut Vec<Entry>) -> Vec<usize> {
        let Some(map) = self.map.get() else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for &index in misplaced {
            let Some(mut parts) = regroup(&entries[index], &map) else {
                continue;
            };
            if parts.is_empty() {
                continue;
            }
            entries[index] = parts.remove(0);
            for part in parts {
                added.push(entries.len());
                entries.push(part);
            }
        }
        added
    }
}

/// The hash key that routes `entry` (`None` for an explicit hash key that is not a number).
fn hash_of(entry: &Entry) -> Option<u128> {
    match entry.explicit_hash_key() {
        Some(key) => key.parse().ok(),
        None => Some(kpl::hash_key(&entry.partition_key)),
    }
}
