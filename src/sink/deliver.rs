//! Delivering one batch, and the send stage that runs up to `max_in_flight` deliveries at once.
//!
//! Rules (PutRecords and PutRecordBatch answer 200 even when entries failed: each entry has
//! its own ErrorCode): a batch is delivered only when every entry has a success
//! status; after a partial failure only the failed entries are resent; transient errors and
//! throttling are retried without limit, with exponential backoff and jitter; configuration and
//! permission errors are retried after a long pause with one loud log line per window; a single
//! record the service rejects as invalid is counted and reported as undeliverable, never resent
//! forever and never dropped silently. A delivery is abandoned only when `abort` fires (shutdown
//! deadline): it is then not acknowledged, so its lines are read again after restart.

use super::observer::SinkObserver;
use super::shards::Shards;
use super::{EntryStatus, ErrorClass, PutClient, SendError, classify};
use crate::aggregate::{Batch, Entry};
use crate::checkpoint::{Ack, CheckpointMsg};
use crate::metrics::FlowStats;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
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
    let mut attempts = Attempts::new(batch, shards, stats, client.destination());
    let mut backoff = Backoff { policy, attempt: 0 };
    let outcome = loop {
        if attempts.pending.is_empty() {
            break Delivery::Delivered {
                undeliverable: attempts.undeliverable,
            };
        }
        let Some((group, routes)) = attempts.next_group(abort).await else {
            break Delivery::Abandoned;
        };
        let result = {
            let entries: Vec<&Entry> = group.iter().map(|&i| &attempts.batch.entries[i]).collect();
            attempts.sent += entries.len() as u64;
            stats.attempt(entries.len());
            let _busy = stats.sink_calls.enter();
            tokio::select! {
                biased;
                _ = abort.cancelled() => break Delivery::Abandoned,
                result = client.put(&entries) => result,
            }
        };
        let next = match result {
            Ok(statuses) if statuses.len() == group.len() => {
                attempts.answered(&group, &routes, &statuses).await
            }
            Ok(statuses) => {
                stats.response_mismatch(group.len(), statuses.len());
                Next::Wait(ErrorClass::Transient)
            }
            Err(error) => attempts.rejected(&error, &group, &routes, policy),
        };
        let class = match next {
            Next::Accepted => {
                backoff.reset();
                continue;
            }
            Next::Retry => continue,
            Next::Progress => {
                backoff.reset();
                ErrorClass::Throttled
            }
            Next::Wait(class) => class,
        };
        tokio::select! {
            biased;
            _ = abort.cancelled() => break Delivery::Abandoned,
            _ = tokio::time::sleep(backoff.next(class)) => {}
        }
    };
    let resent = attempts
        .sent
        .saturating_sub(attempts.batch.entries.len() as u64);
    stats.resent(resent);
    outcome
}

/// What the loop does after an attempt.
enum Next {
    /// Every entry sent was accepted: go on with the rest at once.
    Accepted,
    /// Go on at once without resetting the backoff (narrowing down an invalid record).
    Retry,
    /// Some entries were accepted, some failed: the shortest pause, then resend the failed
    /// ones (the stream is taking data: backing off further would only slow it down).
    Progress,
    /// Wait, as this class of error asks, then resend what is pending.
    Wait(ErrorClass),
}

/// One batch on its way: which entries are still pending, and what was learnt so far.
struct Attempts<'a> {
    batch: &'a mut Batch,
    shards: Option<&'a Shards>,
    stats: &'a FlowStats,
    destination: &'a str,
    pending: Vec<usize>,
    /// An invalid request is narrowed down to its bad record, one record per request.
    one_by_one: bool,
    undeliverable: u64,
    sent: u64,
}

type Routes = Vec<Option<Arc<str>>>;

impl<'a> Attempts<'a> {
    fn new(
        batch: &'a mut Batch,
        shards: Option<&'a Shards>,
        stats: &'a FlowStats,
        destination: &'a str,
    ) -> Attempts<'a> {
        Attempts {
            pending: (0..batch.entries.len()).collect(),
            batch,
            shards,
            stats,
            destination,
            one_by_one: false,
            undeliverable: 0,
            sent: 0,
        }
    }

    /// The entries of the next request, with the shard each was paced for; `None` if `abort`
    /// fired while waiting for the shards' budget.
    async fn next_group(&self, abort: &CancellationToken) -> Option<(Vec<usize>, Routes)> {
        let group: Vec<usize> = if self.one_by_one {
            vec![self.pending[0]]
        } else {
            self.pending.clone()
        };
        let Some(shards) = self.shards else {
            return Some((group, Vec::new()));
        };
        let group = match shards.ordered {
            true => shards.oldest_per_shard(group, &self.batch.entries),
            false => group,
        };
        let candidates: Vec<&Entry> = group.iter().map(|&i| &self.batch.entries[i]).collect();
        let (routes, admitted) = tokio::select! {
            biased;
            _ = abort.cancelled() => return None,
            paced = shards.pace(&candidates) => paced,
        };
        Some((
            admitted_only(group, &admitted),
            admitted_only(routes, &admitted),
        ))
    }

    /// An answered request: accepted entries leave `pending`, failed and misplaced ones stay.
    async fn answered(
        &mut self,
        group: &[usize],
        routes: &[Option<Arc<str>>],
        statuses: &[EntryStatus],
    ) -> Next {
        let mut failed = Vec::new();
        for (&index, status) in group.iter().zip(statuses) {
            if let EntryStatus::Failed { code, .. } = status {
                self.stats.entry_failed(code);
                failed.push(index);
            }
        }
        let entries = self.batch.entries.len();
        match self.shards {
            Some(shards) => {
                shards.learn(routes, statuses);
                let misplaced = shards
                    .misplaced(group, statuses, &self.batch.entries, self.stats)
                    .await;
                failed.extend(&misplaced);
                settle(&mut self.pending, group, &failed, entries);
                // The re-split records are older than anything else pending: they go first.
                let mut resplit = shards.resplit(&misplaced, &mut self.batch.entries);
                resplit.append(&mut self.pending);
                self.pending = resplit;
            }
            None => settle(&mut self.pending, group, &failed, entries),
        }
        if failed.is_empty() {
            return Next::Accepted;
        }
        self.stats
            .partial_failure(self.destination, failed.len(), group.len());
        match failed.len() < group.len() {
            true => Next::Progress,
            false => Next::Wait(ErrorClass::Throttled),
        }
    }

    /// A request of `group` that failed as a whole.
    fn rejected(
        &mut self,
        error: &SendError,
        group: &[usize],
        routes: &[Option<Arc<str>>],
        policy: &RetryPolicy,
    ) -> Next {
        let class = classify(error);
        let backoff = policy.config_backoff;
        self.stats
            .request_failed(self.destination, error, class, group.len(), backoff);
        if let (ErrorClass::Throttled, Some(shards)) = (class, self.shards) {
            shards.slow_down(routes);
        }
        match class {
            ErrorClass::Invalid if group.len() > 1 => {
                self.stats.narrowing(self.destination, error);
                self.one_by_one = true;
                Next::Retry
            }
            ErrorClass::Invalid => {
                let bad = group[0];
                self.pending.retain(|&i| i != bad);
                self.undeliverable += 1;
                let bytes = self.batch.entries[bad].billed_bytes();
                self.stats.undeliverable(self.destination, error, bytes);
                Next::Retry
            }
            class => Next::Wait(class),
        }
    }
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
        let budget = Budget::new(self.max_in_flight_bytes);
        // The budget is taken before the batch, so a batch waiting for it usually waits in the
        // channel instead of in hand: one batch fewer in memory. The share reserved is the last
        // batch's (under load a flow's batches are mostly full and alike), then corrected: a
        // larger batch waits in hand for the difference, and a smaller one behind a full one in
        // flight can leave a round trip later than it had to.
        let mut expected_kib = 1;
        loop {
            while in_flight.len() >= self.max_in_flight {
                in_flight.join_next().await;
            }
            let reserved = budget.take(expected_kib).await;
            let Some(batch) = batches.recv().await else {
                break;
            };
            expected_kib = budget.share_of(&batch);
            let permit = budget.fit(reserved, expected_kib).await;
            in_flight.spawn(self.delivery(batch, permit, acks.clone()));
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// Delivers `batch` holding `permit`, then counts it and acknowledges its progress.
    fn delivery(
        &self,
        mut batch: Batch,
        permit: OwnedSemaphorePermit,
        acks: mpsc::Sender<CheckpointMsg>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (client, policy, abort) =
            (self.client.clone(), self.policy.clone(), self.abort.clone());
        let (stats, shards, flow, instance) = (
            self.stats.clone(),
            self.shards.clone(),
            self.flow.clone(),
            self.instance,
        );
        async move {
            let _permit = permit;
            let outcome = if batch.entries.is_empty() {
                Delivery::Delivered { undeliverable: 0 }
            } else {
                let shards = shards.as_deref();
                deliver(client.as_ref(), &mut batch, &policy, &abort, &stats, shards).await
            };
            if let Delivery::Delivered { undeliverable } = outcome {
                count_delivered(&stats, &batch, undeliverable);
                let (seq, progress) = (batch.seq, batch.progress);
                let ack = Ack {
                    flow,
                    instance,
                    seq,
                    progress,
                };
                let _ = acks.send(CheckpointMsg::Ack(ack)).await;
            }
        }
    }
}

fn count_delivered(stats: &FlowStats, batch: &Batch, undeliverable: u64) {
    stats
        .records_delivered
        .fetch_add(batch.entries.len() as u64 - undeliverable, Relaxed);
    stats.lines_delivered.fetch_add(batch.lines, Relaxed);
    stats.note_delivered();
    let sizes = batch.sizes();
    stats.bytes_delivered.fetch_add(sizes.bytes, Relaxed);
    stats
        .bytes_delivered_uncompressed
        .fetch_add(sizes.plain_bytes, Relaxed);
    stats
        .put_payload_units
        .fetch_add(sizes.put_payload_units, Relaxed);
}

/// `max_in_flight_bytes`, in KiB of encoded request bodies.
struct Budget {
    semaphore: Arc<Semaphore>,
    kib: u32,
}

impl Budget {
    fn new(bytes: u64) -> Budget {
        let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        Budget {
            semaphore: Arc::new(Semaphore::new(kib as usize)),
            kib,
        }
    }

    /// The share `batch` takes: its body, or the whole budget if it is larger (it goes alone).
    fn share_of(&self, batch: &Batch) -> u32 {
        u32::try_from(super::wire::encode::batch_body_bytes(batch).div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.kib)
    }

    async fn take(&self, kib: u32) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_many_owned(kib)
            .await
            .expect("budget semaphore is never closed")
    }

    /// `permit` resized to `kib`: the excess given back, or what is missing waited for.
    async fn fit(&self, mut permit: OwnedSemaphorePermit, kib: u32) -> OwnedSemaphorePermit {
        let held = permit.num_permits() as u32;
        if kib < held {
            drop(permit.split((held - kib) as usize));
        } else if kib > held {
            permit.merge(self.take(kib - held).await);
        }
        permit
    }
}

#[cfg(test)]
mod tests;
