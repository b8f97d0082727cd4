//! Cuts records and requests within the service limits. The [`Batcher`] is pure (no I/O, no
//! clock of its own) so its limits are unit-tested; [`run_batcher`] is the async stage around it
//! that also flushes a partial batch when `batch_max_age` passes.
//!
//! `none` mode: one line per record. `lines` mode: `\n`-terminated lines packed greedily into
//! records of at most `record_target_bytes`. In both, a batch holds at most `max_records`
//! entries and `request_target_bytes` of data plus partition keys (a larger record goes alone,
//! up to `max_request_bytes`).

use super::compress::Compressor;
use super::key_groups::KeyGroups;
pub use super::key_policy::{KeyPolicy, clip_key};
use super::shard_groups::ShardGroups;
use super::{Batch, Entry, PartitionKey, Progress};
use crate::config::{Aggregation, BatchLimits};
use crate::kinesis::kpl::{self, KplAggregate};
use crate::kinesis::shard_map::ShardMapCache;
use crate::tail::{Chunk, FileRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The record being filled and the progress of the lines in it.
#[derive(Default)]
struct OpenRecord {
    /// `none` / `lines` modes.
    data: Vec<u8>,
    /// `kpl` mode.
    aggregate: Option<KplAggregate>,
    lines: u64,
    file: Option<Arc<FileRef>>,
    progress: Progress,
}

pub struct Batcher {
    limits: BatchLimits,
    aggregation: Aggregation,
    keys: KeyPolicy,
    compressor: Compressor,
    /// Shard-aware KPL: the live shard map, and the per-shard aggregates built from it.
    shard_map: Option<ShardMapCache>,
    groups: Option<ShardGroups>,
    /// Keys read from each record, in packed modes without a shard map: records by key.
    keyed: KeyGroups,
    /// Records whose key could not be read from them (a missing field): sent with a random key.
    fallbacks: Arc<AtomicU64>,
    /// `partition_key = "file"` (or a template without fields): the key of the file seen last.
    file_key: Option<(Arc<FileRef>, PartitionKey)>,
    next_seq: u64,
    record: OpenRecord,
    /// `lines` mode: data bytes the open record may hold, its target less its key's length.
    pack_budget: usize,
    batch: Batch,
    batch_bytes: u64,
    /// When the oldest line not yet in an emitted batch was added.
    oldest: Option<Instant>,
}

impl Batcher {
    pub fn new(limits: BatchLimits, aggregation: Aggregation, keys: KeyPolicy) -> Batcher {
        Batcher {
            compressor: Compressor::new(limits.compression),
            limits,
            aggregation,
            keys,
            shard_map: None,
            groups: None,
            keyed: KeyGroups::default(),
            fallbacks: Arc::default(),
            file_key: None,
            next_seq: 0,
            record: OpenRecord::default(),
            pack_budget: 0,
            batch: Batch {
                seq: 0,
                entries: Vec::new(),
                progress: Progress::default(),
                lines: 0,
            },
            batch_bytes: 0,
            oldest: None,
        }
    }

    /// Switches `kpl` to shard-aware grouping with per-record keys.
    pub fn with_shard_map(mut self, shard_map: ShardMapCache) -> Batcher {
        self.shard_map = Some(shard_map);
        self
    }

    /// Counts the records sent with a random key because theirs could not be read, in `counter`.
    pub fn count_fallbacks_in(mut self, counter: Arc<AtomicU64>) -> Batcher {
        self.fallbacks = counter;
        self
    }

    /// When the pending data must be flushed by age, if there is any.
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|t| t + self.limits.max_age)
    }

    /// Adds a chunk's lines; full batches are appended to `out`.
    pub fn push(&mut self, chunk: &Chunk, now: Instant, out: &mut Vec<Batch>) {
        // Every chunk carries progress worth checkpointing, even one without lines.
        self.oldest.get_or_insert(now);
        if self.aggregation == Aggregation::None {
            self.push_line_records(chunk, out);
        } else {
            self.push_lines(chunk, out);
        }
        // Skipped bytes of a truncated line, and the release marker, ride with what comes next.
        self.record
            .progress
            .advance(&chunk.file, chunk.end_offset, chunk.released);
        self.record.progress.mark(&chunk.file, chunk.mark);
    }

    /// `none` mode: every line is a record of its own, a slice of the chunk's buffer, with a
    /// key that needs no allocation: the hot path of one record per line. The chunk's progress
    /// is recorded once per batch it feeds, not once per line.
    fn push_line_records(&mut self, chunk: &Chunk, out: &mut Vec<Batch>) {
        // The offset after the last line of this chunk in the open batch.
        let mut covered = None;
        for line in &chunk.lines {
            let key = self.line_key(&chunk.file, chunk.line(line));
            let entry = self.prepare(Entry::new(chunk.line_bytes(line), key));
            if self.is_full_with(&entry) {
                if let Some(offset) = covered.take() {
                    self.cover(&chunk.file, offset);
                }
                self.emit_full(out);
            }
            self.push_entry(entry);
            self.batch.lines += 1;
            covered = Some(line.next_offset);
        }
        if let Some(offset) = covered {
            self.cover(&chunk.file, offset);
        }
    }

    /// The open batch holds `file`'s lines up to `offset`, and with them any progress left
    /// from the previous chunk (it rides with the batch holding the next line).
    fn cover(&mut self, file: &Arc<FileRef>, offset: u64) {
        self.record.progress.advance(file, offset, false);
        self.batch.progress.absorb(&mut self.record.progress);
    }

    /// The key of a one-line record: file keys are built once per file, not per line.
    fn line_key(&mut self, file: &Arc<FileRef>, line: &[u8]) -> PartitionKey {
        match &self.keys {
            KeyPolicy::None => PartitionKey::None,
            KeyPolicy::Random => PartitionKey::random(),
            KeyPolicy::Fixed(key) => PartitionKey::Shared(key.clone()),
            policy if policy.varies_per_record() => PartitionKey::from(self.record_key(file, line)),
            _ => match &self.file_key {
                Some((known, key)) if Arc::ptr_eq(known, file) => key.clone(),
                _ => {
                    let key = PartitionKey::from(self.keys.key_for(file));
                    self.file_key = Some((file.clone(), key.clone()));
                    key
                }
            },
        }
    }

    /// The key of the record `data`; a random one, counted, if it cannot be read from it.
    fn record_key(&self, file: &FileRef, data: &[u8]) -> String {
        self.keys.record_key(file, data).unwrap_or_else(|| {
            self.fallbacks.fetch_add(1, Relaxed);
            PartitionKey::random().to_string()
        })
    }

    /// `lines` and `kpl` modes: lines are packed into records.
    fn push_lines(&mut self, chunk: &Chunk, out: &mut Vec<Batch>) {
        for line in &chunk.lines {
            let bytes = chunk.line(line);
            match self.aggregation {
                Aggregation::Kpl if self.shard_map.is_some() => {
                    self.aggregate_by_shard(&chunk.file, bytes, out)
                }
                // Every line its own key: only KPL without a shard map must group by key
                // (`lines` mode hashes the whole packed record).
                Aggregation::Kpl if self.keys.varies_per_record() => {
                    self.group_by_key(&chunk.file, bytes, out)
                }
                _ if matches!(self.keys, KeyPolicy::PerRecord(_)) => {
                    self.group_by_key(&chunk.file, bytes, out)
                }
                Aggregation::None | Aggregation::Lines => self.pack_line(&chunk.file, bytes, out),
                Aggregation::Kpl => self.aggregate_line(&chunk.file, bytes, out),
            }
            self.record.lines += 1;
            self.record.file.get_or_insert_with(|| chunk.file.clone());
            self.record
                .progress
                .advance(&chunk.file, line.next_offset, false);
        }
    }

    /// Keys read from each line: the line joins the record of its key.
    fn group_by_key(&mut self, file: &FileRef, bytes: &[u8], out: &mut Vec<Batch>) {
        let key = self.record_key(file, bytes);
        self.group_line(&key, bytes, out);
    }

    fn group_line(&mut self, key: &str, bytes: &[u8], out: &mut Vec<Batch>) {
        let (record, total) = (self.record_budget(), self.limits.max_request_bytes as usize);
        if !self.keyed.fits(key, bytes.len(), record, total) && self.record.lines > 0 {
            self.seal_record(out);
        }
        let kpl = self.aggregation == Aggregation::Kpl;
        self.keyed.push(key, bytes, kpl);
    }

    fn pack_line(&mut self, file: &FileRef, bytes: &[u8], out: &mut Vec<Batch>) {
        if !self.record.data.is_empty()
            && self.record.data.len() + bytes.len() + 1 > self.pack_budget
        {
            self.seal_record(out);
        }
        if self.record.data.capacity() == 0 {
            // The target counts the key too: 125,000 bytes are five PUT payload units, 125,016
            // bytes six.
            let key = self.keys.key_bytes(file);
            self.pack_budget = self.record_budget().saturating_sub(key).max(1);
            // Filled to the budget, never regrown: regrowing copied each record about once
            // more and left holes in the heap that held the packed modes' RSS up.
            self.record
                .data
                .reserve(self.pack_budget.max(bytes.len() + 1));
        }
        self.record.data.extend_from_slice(bytes);
        self.record.data.push(b'\n');
    }

    /// Bytes a record may hold before compression: the target, within the record limit.
    fn record_budget(&self) -> usize {
        (self.limits.record_target_bytes as usize).min(self.limits.max_record_payload_bytes())
    }

    /// One partition key per aggregate: every inner record shares the
    /// outer record's key, so a consumer's shard-range check passes by construction, even
    /// during resharding. A new key (random, per file, or the host) starts a new aggregate.
    fn aggregate_line(&mut self, file: &FileRef, bytes: &[u8], out: &mut Vec<Batch>) {
        let wanted = self.keys.aggregate_key(file);
        if let Some(aggregate) = &self.record.aggregate {
            let key_changes = wanted
                .as_deref()
                .is_some_and(|k| k != aggregate.outer_key());
            let target = self.record_budget();
            if key_changes || aggregate.size_with(aggregate.outer_key(), bytes.len()) > target {
                self.seal_record(out);
            }
        }
        let keys = &self.keys;
        let target = self.record_budget();
        let aggregate = self.record.aggregate.get_or_insert_with(|| {
            let mut aggregate = KplAggregate::new(wanted.unwrap_or_else(|| keys.key_for(file)));
            aggregate.reserve(target);
            aggregate
        });
        aggregate.push_outer(bytes);
    }

    /// Shard-aware: the line joins the aggregate of the shard its own key hashes to. Without a
    /// shard map yet (or a key outside it), the aggregate of its key, which lands in that
    /// key's shard whatever the map.
    fn aggregate_by_shard(&mut self, file: &FileRef, bytes: &[u8], out: &mut Vec<Batch>) {
        let key = self.record_key(file, bytes);
        let map = self.shard_map.as_ref().and_then(ShardMapCache::get);
        let shard = map
            .as_ref()
            .and_then(|m| m.lookup(kpl::hash_key(&key)).map(|s| s.id.clone()));
        let (Some(map), Some(shard)) = (map, shard) else {
            // No map yet (or a key outside it): aggregates of one key each, which land in the
            // shard of their key whatever the map.
            self.group_line(&key, bytes, out);
            return;
        };
        let stale = self
            .groups
            .as_ref()
            .is_some_and(|g| !Arc::ptr_eq(&g.map, &map));
        let target = self.record_budget();
        let full = self
            .groups
            .as_ref()
            .is_some_and(|g| g.size_with(&shard, &key, bytes.len()) > target);
        if (stale || full) && self.record.lines > 0 {
            self.seal_record(out);
        }
        if stale || self.groups.is_none() {
            self.groups = Some(ShardGroups::new(map));
        }
        self.groups
            .as_mut()
            .expect("set above")
            .push(&shard, &key, bytes);
    }

    /// Emits everything pending, including a partly filled record.
    pub fn flush(&mut self, out: &mut Vec<Batch>) {
        if self.record.lines > 0 {
            self.seal_record(out);
        }
        let mut progress = std::mem::take(&mut self.record.progress);
        self.batch.progress.absorb(&mut progress);
        if !self.batch.entries.is_empty() || !self.batch.progress.is_empty() {
            self.emit(out);
        }
        self.oldest = None;
    }

    fn seal_record(&mut self, out: &mut Vec<Batch>) {
        let record = std::mem::take(&mut self.record);
        let file = record.file.expect("a record with lines has a file");
        let mut entries = self
            .groups
            .as_mut()
            .map(ShardGroups::drain)
            .unwrap_or_default();
        entries.extend(self.keyed.drain());
        match record.aggregate {
            Some(aggregate) => {
                let key = aggregate.outer_key().to_owned();
                match aggregate.single_record() {
                    Some(data) => entries.push(Entry::new(data.to_vec(), key)),
                    None => entries.push(Entry::new(aggregate.encode(), key)),
                }
            }
            // A packed record of `lines` mode (lines grouped by key left `data` empty).
            None if !record.data.is_empty() => {
                let key = self.record_key(&file, &record.data);
                entries.push(Entry::new(record.data, key));
            }
            None => {}
        }
        for entry in entries {
            self.add_entry(entry, out);
        }
        self.batch.lines += record.lines;
        let mut progress = record.progress;
        self.batch.progress.absorb(&mut progress);
    }

    /// Adds a sealed record to the batch, emitting the batch first if it is full.
    fn add_entry(&mut self, entry: Entry, out: &mut Vec<Batch>) {
        let entry = self.prepare(entry);
        if self.is_full_with(&entry) {
            self.emit_full(out);
        }
        self.push_entry(entry);
    }

    /// Compresses the record's data when compression is on.
    fn prepare(&mut self, mut entry: Entry) -> Entry {
        if self.compressor.is_active() {
            entry.uncompressed_bytes = Some(entry.data.len() as u64);
            entry.data = self.compressor.compress(std::mem::take(&mut entry.data));
        }
        entry
    }

    /// Full at the request target; a record larger than the target still goes, alone.
    fn is_full_with(&self, entry: &Entry) -> bool {
        let bytes = self.batch_bytes + entry.billed_bytes();
        self.batch.entries.len() >= self.limits.max_records
            || bytes > self.limits.max_request_bytes
            || (bytes > self.limits.request_target_bytes && !self.batch.entries.is_empty())
    }

    fn push_entry(&mut self, entry: Entry) {
        self.batch_bytes += entry.billed_bytes();
        self.batch.entries.push(entry);
    }

    /// Emits the open batch because the next record does not fit: that record is the oldest
    /// pending data now.
    fn emit_full(&mut self, out: &mut Vec<Batch>) {
        self.emit(out);
        self.oldest = Some(Instant::now());
    }

    fn emit(&mut self, out: &mut Vec<Batch>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let next = Batch {
            seq: self.next_seq,
            // Batches of a flow are alike: reserving the last one's size saves the regrowth.
            entries: Vec::with_capacity(self.batch.entries.len()),
            progress: Progress::default(),
            lines: 0,
        };
        let mut batch = std::mem::replace(&mut self.batch, next);
        batch.seq = seq;
        self.batch_bytes = 0;
        out.push(batch);
    }
}

/// The aggregate stage: chunks in, batches out, until the input closes (then flush and end).
/// A chunk is taken only once the output has room for a batch, so a full batch never waits in
/// hand while the next one fills: what waits is in the channel, and bounded by it.
pub async fn run_batcher(
    mut batcher: Batcher,
    mut chunks: mpsc::Receiver<Chunk>,
    batches: mpsc::Sender<Batch>,
) {
    let mut ready = Vec::new();
    loop {
        let Ok(slot) = batches.reserve().await else {
            return;
        };
        let deadline = batcher.deadline();
        tokio::select! {
            chunk = chunks.recv() => match chunk {
                Some(chunk) => batcher.push(&chunk, Instant::now(), &mut ready),
                None => {
                    batcher.flush(&mut ready);
                    send_all(slot, &batches, &mut ready).await;
                    return;
                }
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                batcher.flush(&mut ready);
            }
        }
        if !send_all(slot, &batches, &mut ready).await {
            return;
        }
    }
}

/// Sends `ready` (the first into `slot`, any others as room frees up).
async fn send_all(
    slot: mpsc::Permit<'_, Batch>,
    out: &mpsc::Sender<Batch>,
    ready: &mut Vec<Batch>,
) -> bool {
    let mut batches = ready.drain(..);
    let Some(first) = batches.next() else {
        return true;
    };
    slot.send(first);
    for batch in batches {
        if out.send(batch).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
