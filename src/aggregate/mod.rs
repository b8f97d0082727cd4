//! Aggregation: turns chunks of lines into API-sized [`Batch`]es of records ([`batcher`]), each
//! carrying the file offsets that become safe to checkpoint once the whole batch is delivered.

pub mod batcher;
pub mod compress;
mod field;
pub mod key;
mod key_groups;
pub mod key_policy;
mod progress;
pub mod shard_groups;

pub use batcher::{Batcher, run_batcher};
pub use key::PartitionKey;
pub use progress::{FileProgress, Progress};

/// One PutRecords / PutRecordBatch entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// A slice of the read buffer (one line per record) or a record built for it: never
    /// copied again, not even when resent.
    pub data: bytes::Bytes,
    /// [`PartitionKey::None`] for Firehose, which has no partition keys.
    pub partition_key: PartitionKey,
    /// Shard-aware aggregates only. Boxed: in `none` mode there is an entry per line, thousands
    /// in flight, and inline these fields made each 144 bytes instead of 80.
    pub placement: Option<Box<Placement>>,
    /// Compressed records: the size of `data` before compression.
    pub uncompressed_bytes: Option<u64>,
}

/// Where a shard-aware aggregate goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Routes the record into the shard its inner records hash to.
    pub explicit_hash_key: String,
    /// Where it should land, to detect resharding.
    pub route: Option<Route>,
}

/// The shard an aggregate was built for and the hash keys of its inner records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub shard: std::sync::Arc<str>,
    pub lowest_hash: u128,
    pub highest_hash: u128,
}

impl Entry {
    pub fn new(data: impl Into<bytes::Bytes>, partition_key: impl Into<PartitionKey>) -> Entry {
        Entry {
            data: data.into(),
            partition_key: partition_key.into(),
            ..Entry::default()
        }
    }

    /// The entry with `explicit_hash_key`, if any (and no route).
    pub fn with_explicit_hash_key(mut self, explicit_hash_key: Option<String>) -> Entry {
        self.placement = explicit_hash_key.map(|explicit_hash_key| {
            Box::new(Placement {
                explicit_hash_key,
                route: None,
            })
        });
        self
    }

    pub fn explicit_hash_key(&self) -> Option<&str> {
        self.placement
            .as_ref()
            .map(|p| p.explicit_hash_key.as_str())
    }

    pub fn route(&self) -> Option<&Route> {
        self.placement.as_ref().and_then(|p| p.route.as_ref())
    }

    /// Bytes this entry counts against the request and record limits.
    pub fn billed_bytes(&self) -> u64 {
        (self.data.len() + self.partition_key.len()) as u64
    }

    /// Data bytes before compression (the data itself when not compressed).
    pub fn plain_bytes(&self) -> u64 {
        self.uncompressed_bytes.unwrap_or(self.data.len() as u64)
    }
}

/// One request's worth of records, numbered in the order they were cut from the files.
#[derive(Debug)]
pub struct Batch {
    /// Per-flow sequence number: acknowledgements are applied in this order.
    pub seq: u64,
    pub entries: Vec<Entry>,
    /// For each file, the offset up to which its lines are in this or an earlier batch.
    pub progress: Progress,
    /// User lines contained in the entries.
    pub lines: u64,
}

impl Batch {
    pub fn bytes(&self) -> u64 {
        self.sizes().bytes
    }

    /// [`Batch::bytes`], [`Batch::plain_bytes`] and the PUT payload units, in one pass over the
    /// entries (the delivery counters want all three for every batch).
    pub fn sizes(&self) -> BatchSizes {
        let unit = crate::kinesis::limits::PUT_PAYLOAD_UNIT_BYTES;
        let mut sizes = BatchSizes::default();
        for entry in &self.entries {
            let billed = entry.billed_bytes();
            sizes.bytes += billed;
            sizes.plain_bytes += entry.plain_bytes() + entry.partition_key.len() as u64;
            sizes.put_payload_units += billed.div_ceil(unit).max(1);
        }
        sizes
    }

    /// [`Batch::bytes`] counted before compression.
    pub fn plain_bytes(&self) -> u64 {
        self.sizes().plain_bytes
    }
}

/// What [`Batch::sizes`] counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSizes {
    pub bytes: u64,
    pub plain_bytes: u64,
    /// Billed in 25 KB units per record, each record at least one.
    pub put_payload_units: u64,
}

#[cfg(test)]
mod tests {
    /// An entry per line is in memory in `none` mode, thousands of them in flight: the rare
    /// shard-aware fields stay boxed.
    #[test]
    fn an_entry_takes_80_bytes() {
        assert!(std::mem::size_of::<super::Entry>() <= 80);
    }
}
