//! Aggregation: turns chunks of lines into API-sized [`Batch`]es of records ([`batcher`]), each
//! carrying the file offsets that become safe to checkpoint once the whole batch is delivered.

pub mod batcher;
pub mod kpl;
mod progress;

pub use batcher::{Batcher, run_batcher};
pub use progress::{FileProgress, Progress};

/// One PutRecords / PutRecordBatch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub data: Vec<u8>,
    /// Empty for Firehose, which has no partition keys.
    pub partition_key: String,
}

impl Entry {
    /// Bytes this entry counts against the request and record limits.
    pub fn billed_bytes(&self) -> u64 {
        (self.data.len() + self.partition_key.len()) as u64
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
        self.entries.iter().map(Entry::billed_bytes).sum()
    }
}
