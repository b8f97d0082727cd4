//! Delivering one batch, and the send stage that runs up to `max_in_flight` deliveries at once.
//!
//! Rules (kinesis-facts §0, §1.4-1.5): a batch is delivered only when every entry has a success
//! status; after a partial failure only the failed entries are resent; transient errors and
//! throttling are retried without limit, with exponential backoff and jitter; configuration and
//! permission errors are retried after a long pause with one loud log line per window; a single
//! record the service rejects as invalid is counted and reported as undeliverable, never resent
//! forever and never dropped silently. A delivery is abandoned only when `abort` fires (shutdown
//! deadline): it is then not acknowledged, so its lines are read again after restart.

use super::shards::Shards;
use super::{EntryStatus, ErrorClass, PutClient, classify, hint_for};
use crate::aggregate::{Batch, Entry};
use crate::checkpoint::{Ack, CheckpointMsg};
use crate::kinesis::limits::PUT_PAYLOAD_UNIT_BYTES;
use crate::metrics::FlowStats;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Pause after a configuration or permission error.
    pub config_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            config_backoff: Duration::from_secs(60),
        }
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
struct Backoff<'a> {
    policy: &'a RetryPolicy,
    attempt: u32,
}

impl Backoff<'_> {
    fn next(&mut self, class: ErrorClass) -> Duration {
        let step = if class == ErrorClass::Config {
            self.policy.config_backoff
        } else {
            let factor = 1u32 << self.attempt.min(16);
            self.attempt += 1;
            self.policy
                .initial_backoff
                .saturating_mul(factor)
                .min(self.policy.max_backoff)
        };
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every entry was accepted, except `undeliverable` ones rejected as invalid (counted).
    Delivered { undeliverable: u64 },
    /// Shutdown deadline reached first; nothing may be acknowledged.
    Abandoned,
}

/// Sends `batch` until every entry is accepted (or, alone, rejected as invalid). With `shards`
/// (Kinesis), requests are paced per shard and shard-aware aggregates that land in the wrong
/// shard (the stream was resharded) are re-split with the refreshed map and resent.
pub async fn deliver<C: PutClient>(
    client: &C,
    batch: &mut Batch,
    policy: &RetryPolicy,
    abort: &CancellationToken,
    stats: &FlowStats,
    shards: Option<&Shards>,
) -> Delivery {
    let mut pending: Vec<usize> = (0..batch.entries.len()).collect();
    let mut one_by_one = false;
    let mut backoff = Backoff { policy, attempt: 0 };
    let mut undeliverable = 0;
    let mut sent = 0u64;
    let outcome = loop {
        if pending.is_empty() {
            break Delivery::Delivered { undeliverable };
        }
        let group: Vec<usize> = if one_by_one {
            vec![pending[0]]
        } else {
            pending.clone()
        };
        let (group, routes) = match shards {
            Some(shards) => {
                let candidates: Vec<&Entry> = group.iter().map(|&i| &batch.entries[i]).collect();
                let (routes, admitted) = tokio::select! {
                    biased;
                    _ = abort.cancelled() => break Delivery::Abandoned,
                    paced = shards.pace(&candidates) => paced,
                };
                let group: Vec<usize> = admitted_only(group, &admitted);
                let routes = admitted_only(routes, &admitted);
                (group, routes)
            }
            None => (group, Vec::new()),
        };
        let entries: Vec<&Entry> = group.iter().map(|&i| &batch.entries[i]).collect();
        sent += entries.len() as u64;
        stats.entries_sent.fetch_add(entries.len() as u64, Relaxed);
        stats.requests.fetch_add(1, Relaxed);
        let result = tokio::select! {
            biased;
            _ = abort.cancelled() => break Delivery::Abandoned,
            result = client.put(&entries) => result,
        };
        let class = match result {
            Ok(statuses) if statuses.len() == entries.len() => {
                let mut failed = failed_indices(&group, &statuses, stats);
                if let Some(shards) = shards {
                    shards.learn(&routes, &statuses);
                    let misplaced = shards
                        .misplaced(&group, &statuses, &batch.entries, stats)
                        .await;
                    failed.extend(&misplaced);
                    settle(&mut pending, &group, &failed, batch.entries.len());
                    pending.extend(shards.resplit(&misplaced, &mut batch.entries));
                } else {
                    settle(&mut pending, &group, &failed, batch.entries.len());
                }
                if failed.is_empty() {
                    backoff.reset();
                    continue;
                }
                if stats.limiter.allow("partial_failure") {
                    tracing::warn!(flow = %stats.flow, failed = failed.len(), of = group.len(), "{}: part of a request failed; resending only the failed records", client.destination());
                }
                ErrorClass::Throttled
            }
            Ok(statuses) => {
                stats.count_error("ResponseCountMismatch", entries.len() as u64);
                tracing::warn!(flow = %stats.flow, sent = entries.len(), statuses = statuses.len(), "response does not match the request; resending all of it");
                ErrorClass::Transient
            }
            Err(error) => {
                stats.count_error(&error.code, entries.len() as u64);
                let class = classify(&error);
                if class == ErrorClass::Throttled {
                    stats
                        .entries_throttled
                        .fetch_add(entries.len() as u64, Relaxed);
                    if let Some(shards) = shards {
                        shards.slow_down(&routes);
                    }
                }
                match class {
                    ErrorClass::Invalid if entries.len() > 1 => {
                        tracing::warn!(flow = %stats.flow, "{}: request rejected as invalid ({error}); retrying its records one at a time to isolate the bad one", client.destination());
                        one_by_one = true;
                        continue;
                    }
                    ErrorClass::Invalid => {
                        undeliverable += 1;
                        stats.records_undeliverable.fetch_add(1, Relaxed);
                        tracing::error!(flow = %stats.flow, record_bytes = entries[0].billed_bytes(), "{}: record rejected as invalid and will not be resent: {error}; it is counted in records_undeliverable", client.destination());
                        pending.remove(0);
                        continue;
                    }
                    ErrorClass::Config => {
                        if let Some(suppressed) = stats.limiter.allow_counting(&error.code) {
                            tracing::error!(flow = %stats.flow, suppressed, "{}: {error}. {}. Data is kept and retried every {:?}.", client.destination(), hint_for(&error.code, client.destination()), policy.config_backoff);
                        }
                    }
                    ErrorClass::Throttled | ErrorClass::Transient => {
                        if let Some(suppressed) = stats.limiter.allow_counting(&error.code) {
                            tracing::warn!(flow = %stats.flow, suppressed, "{}: {error}; retrying with backoff", client.destination());
                        }
                    }
                }
                class
            }
        };
        tokio::select! {
            biased;
            _ = abort.cancelled() => break Delivery::Abandoned,
            _ = tokio::time::sleep(backoff.next(class)) => {}
        }
    };
    stats
        .entries_resent
        .fetch_add(sent.saturating_sub(batch.entries.len() as u64), Relaxed);
    outcome
}

/// Drops from `pending` the entries of `group` that were accepted (all but `failed`), in time
/// linear in the batch: batches hold up to 500 entries, and a quadratic `contains` here was
/// the largest single cost of shipping one record per line.
fn settle(pending: &mut Vec<usize>, group: &[usize], failed: &[usize], entries: usize) {
    let mut accepted = vec![false; entries];
    for &i in group {
        accepted[i] = true;
    }
    for &i in failed {
        accepted[i] = false;
    }
    pending.retain(|&i| !accepted[i]);
}

fn admitted_only<T>(items: Vec<T>, admitted: &[bool]) -> Vec<T> {
    items
        .into_iter()
        .zip(admitted)
        .filter_map(|(item, ok)| ok.then_some(item))
        .collect()
}

/// Positions (in the batch) of the entries that failed; counts their error codes.
fn failed_indices(group: &[usize], statuses: &[EntryStatus], stats: &FlowStats) -> Vec<usize> {
    let mut failed = Vec::new();
    for (&index, status) in group.iter().zip(statuses) {
        if let EntryStatus::Failed { code, .. } = status {
            stats.count_error(code, 1);
            if code == "ProvisionedThroughputExceededException" {
                stats.entries_throttled.fetch_add(1, Relaxed);
            }
            failed.push(index);
        }
    }
    failed
}

/// Billing units of a batch: each record rounded up to 25 KB, at least one.
pub fn put_payload_units(batch: &Batch) -> u64 {
    batch
        .entries
        .iter()
        .map(|e| e.billed_bytes().div_ceil(PUT_PAYLOAD_UNIT_BYTES).max(1))
        .sum()
}

/// The send stage of one flow: batches in, acknowledgements out.
pub struct Sender<C> {
    pub client: Arc<C>,
    pub flow: Arc<str>,
    /// This run of the flow (see [`Ack::instance`]).
    pub instance: u64,
    pub max_in_flight: usize,
    /// Budget for the encoded bodies of all in-flight requests together (each also holds its
    /// entries), so this, not the request count, is what bounds memory when requests are large.
    pub max_in_flight_bytes: u64,
    pub policy: RetryPolicy,
    pub abort: CancellationToken,
    pub stats: Arc<FlowStats>,
    /// Kinesis: the shard map and per-shard rate limits.
    pub shards: Option<Arc<Shards>>,
}

impl<C: PutClient> Sender<C> {
    /// Runs until `batches` closes and every delivery has finished or been abandoned.
    pub async fn run(self, mut batches: mpsc::Receiver<Batch>, acks: mpsc::Sender<CheckpointMsg>) {
        let mut in_flight = JoinSet::new();
        let budget_kib = u32::try_from(self.max_in_flight_bytes / 1024)
            .unwrap_or(u32::MAX)
            .max(1);
        let budget = Arc::new(tokio::sync::Semaphore::new(budget_kib as usize));
        while let Some(batch) = batches.recv().await {
            while in_flight.len() >= self.max_in_flight {
                in_flight.join_next().await;
            }
            // A batch larger than the whole budget still goes, alone.
            let kib = u32::try_from(super::wire::encode::batch_body_bytes(&batch).div_ceil(1024))
                .unwrap_or(u32::MAX)
                .clamp(1, budget_kib);
            let permit = budget
                .clone()
                .acquire_many_owned(kib)
                .await
                .expect("budget semaphore is never closed");
            let shards = self.shards.clone();
            let instance = self.instance;
            let (client, policy, abort, stats, acks, flow) = (
                self.client.clone(),
                self.policy.clone(),
                self.abort.clone(),
                self.stats.clone(),
                acks.clone(),
                self.flow.clone(),
            );
            in_flight.spawn(async move {
                let _permit = permit;
                let mut batch = batch;
                let outcome = if batch.entries.is_empty() {
                    Delivery::Delivered { undeliverable: 0 }
                } else {
                    deliver(
                        client.as_ref(),
                        &mut batch,
                        &policy,
                        &abort,
                        &stats,
                        shards.as_deref(),
                    )
                    .await
                };
                if let Delivery::Delivered { undeliverable } = outcome {
                    stats
                        .records_delivered
                        .fetch_add(batch.entries.len() as u64 - undeliverable, Relaxed);
                    stats.lines_delivered.fetch_add(batch.lines, Relaxed);
                    stats.note_delivered();
                    stats.bytes_delivered.fetch_add(batch.bytes(), Relaxed);
                    stats
                        .bytes_delivered_uncompressed
                        .fetch_add(batch.plain_bytes(), Relaxed);
                    stats
                        .put_payload_units
                        .fetch_add(put_payload_units(&batch), Relaxed);
                    let _ = acks
                        .send(CheckpointMsg::Ack(Ack {
                            flow,
                            instance,
                            seq: batch.seq,
                            progress: batch.progress,
                        }))
                        .await;
                }
            });
        }
        while in_flight.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests;
