//! Shard-aware KPL aggregation: one aggregate per shard of the current
//! map, each inner record keeping its own partition key. The outer record carries an explicit
//! hash key (the first inner record's) so it lands in the shard all its inner records hash to,
//! which is the rule KCL 2.x/3.x enforce. If the map turns out stale (a record lands elsewhere),
//! the sender re-splits the aggregate with [`regroup`] once the map is refreshed.

use super::compress::{self, Compressor};
use super::{Entry, Placement, Route};
use crate::kinesis::kpl::{self, KplAggregate};
use crate::kinesis::shard_map::ShardMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The outer partition key is not used for routing (the explicit hash key is); keep it short.
const OUTER_KEY: &str = "a";

struct Group {
    aggregate: KplAggregate,
    first_key: String,
    first_hash: u128,
    lowest: u128,
    highest: u128,
}

/// Open aggregates by shard, for one version of the shard map.
pub struct ShardGroups {
    pub map: Arc<ShardMap>,
    groups: BTreeMap<Arc<str>, Group>,
}

impl ShardGroups {
    pub fn new(map: Arc<ShardMap>) -> ShardGroups {
        ShardGroups {
            map,
            groups: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Size of `shard`'s aggregate if the record were added (whole Kinesis record).
    pub fn size_with(&self, shard: &str, key: &str, data_len: usize) -> usize {
        match self.groups.get(shard) {
            Some(group) => group.aggregate.size_with(key, data_len),
            None => KplAggregate::new(OUTER_KEY.to_owned()).size_with(key, data_len),
        }
    }

    pub fn push(&mut self, shard: &Arc<str>, key: &str, data: &[u8]) {
        let hash = kpl::hash_key(key);
        let group = self.groups.entry(shard.clone()).or_insert_with(|| Group {
            aggregate: KplAggregate::new(OUTER_KEY.to_owned()),
            first_key: key.to_owned(),
            first_hash: hash,
            lowest: hash,
            highest: hash,
        });
        group.aggregate.push(key, data);
        group.lowest = group.lowest.min(hash);
        group.highest = group.highest.max(hash);
    }

    /// Seals every open aggregate into an entry.
    pub fn drain(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.groups)
            .into_iter()
            .map(|(shard, group)| seal(shard, group))
            .collect()
    }
}

fn seal(shard: Arc<str>, group: Group) -> Entry {
    if let Some(data) = group.aggregate.single_record() {
        // A lone record routes by its own key; no envelope needed.
        return Entry::new(data.to_vec(), group.first_key);
    }
    Entry {
        data: group.aggregate.encode().into(),
        partition_key: OUTER_KEY.into(),
        placement: Some(Box::new(Placement {
            explicit_hash_key: group.first_hash.to_string(),
            route: Some(Route {
                shard,
                lowest_hash: group.lowest,
                highest_hash: group.highest,
            }),
        })),
        uncompressed_bytes: None,
    }
}

/// Splits an aggregate that landed in the wrong shard into new entries, one per shard of
/// `map`, compressed as the entry was. Returns `None` if the entry is not an aggregate or a
/// record hashes outside the map.
pub fn regroup(entry: &Entry, map: &Arc<ShardMap>) -> Option<Vec<Entry>> {
    let inflated = match entry.uncompressed_bytes {
        Some(_) => Some(compress::decompress(&entry.data)?),
        None => None,
    };
    let users = kpl::decode(inflated.as_deref().unwrap_or(&entry.data))?;
    let mut groups = ShardGroups::new(map.clone());
    for user in users {
        let shard = map.lookup(kpl::hash_key(&user.partition_key))?.id.clone();
        groups.push(&shard, &user.partition_key, &user.data);
    }
    let mut entries = groups.drain();
    if inflated.is_some() {
        let mut compressor = Compressor::new(compress::detect(&entry.data));
        for split in &mut entries {
            split.uncompressed_bytes = Some(split.data.len() as u64);
            split.data = compressor.compress(std::mem::take(&mut split.data));
        }
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::shard_map::Shard;

    fn two_shards() -> Arc<ShardMap> {
        let half = u128::MAX / 2;
        Arc::new(ShardMap::new(vec![
            Shard {
                id: Arc::from("s0"),
                start: 0,
                end: half,
            },
            Shard {
                id: Arc::from("s1"),
                start: half + 1,
                end: u128::MAX,
            },
        ]))
    }

    #[test]
    fn every_inner_record_hashes_into_the_shard_its_aggregate_is_routed_to() {
        let map = two_shards();
        let mut groups = ShardGroups::new(map.clone());
        for i in 0..200 {
            let key = format!("key-{i}");
            let shard = map.lookup(kpl::hash_key(&key)).unwrap().id.clone();
            groups.push(&shard, &key, format!("line {i}").as_bytes());
        }
        let entries = groups.drain();
        assert_eq!(entries.len(), 2);
        for entry in entries {
            let routed = map
                .lookup(entry.explicit_hash_key().unwrap().parse().unwrap())
                .unwrap();
            for user in kpl::decode(&entry.data).unwrap() {
                assert!(routed.contains(kpl::hash_key(&user.partition_key)));
            }
        }
    }

    #[test]
    fn regroup_splits_by_the_new_map() {
        let whole = Arc::new(ShardMap::new(vec![Shard {
            id: Arc::from("p"),
            start: 0,
            end: u128::MAX,
        }]));
        let mut groups = ShardGroups::new(whole.clone());
        let parent: Arc<str> = Arc::from("p");
        for i in 0..50 {
            groups.push(&parent, &format!("k{i}"), b"x");
        }
        let entry = groups.drain().pop().unwrap();
        let split = regroup(&entry, &two_shards()).unwrap();
        assert_eq!(split.len(), 2);
        let total: usize = split
            .iter()
            .map(|e| kpl::decode(&e.data).map_or(1, |u| u.len()))
            .sum();
        assert_eq!(total, 50);
    }
}
