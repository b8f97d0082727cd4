//! Per-shard rate limiting: a shard takes 1 MiB/s and 1,000 records/s, so
//! the sender paces itself per shard instead of learning the limit by being throttled. Each
//! shard has two token buckets (records, bytes) holding one second of budget. A request may
//! take a bucket into debt (one aggregate can exceed a second's worth); the next request to that
//! shard then waits until the debt is paid. Throttling that still happens (other producers on
//! the stream, hot keys) lowers that shard's rate multiplicatively; successes restore it
//! slowly (AIMD).

pub use crate::kinesis::limits::ShardRate;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long a request waits for its whole share of a shard's budget before it goes in pieces.
/// Requests queued behind others for the same shard wait their turn, a second or two at most
/// with a few in flight (half a second of budget each): this is for a share that keeps losing
/// the budget to others.
const PIECES_AFTER: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Bucket {
    records: f64,
    bytes: f64,
    updated: Instant,
    /// Fraction of the configured rate in use after throttling, 0.1..=1.
    factor: f64,
}

#[derive(Debug)]
pub struct ShardRateLimiter {
    rate: ShardRate,
    buckets: Mutex<HashMap<Arc<str>, Bucket>>,
}

impl ShardRateLimiter {
    pub fn new(rate: ShardRate) -> ShardRateLimiter {
        ShardRateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits records per shard: all of a shard's records in `items` once its bucket holds them
    /// (so a request is not cut into dozens of small ones as the budget trickles in), or, when
    /// they need more than a second's budget, in order while the bucket is not in debt (the
    /// record that crosses zero goes too: one aggregate can exceed a second's budget). `items`
    /// holds each record's shard, records and bytes (`None`: shard unknown, always admitted).
    /// Returns which records may be sent now, or, if none may, how long until some may.
    pub fn admit(
        &self,
        items: &[Option<(Arc<str>, u64, u64)>],
        now: Instant,
    ) -> Result<Vec<bool>, Duration> {
        self.admit_as(items, now, false)
    }

    /// [`ShardRateLimiter::admit`]; `in_pieces`: admit in order while a bucket is not in debt,
    /// without waiting for a shard's whole share.
    fn admit_as(
        &self,
        items: &[Option<(Arc<str>, u64, u64)>],
        now: Instant,
        in_pieces: bool,
    ) -> Result<Vec<bool>, Duration> {
        let mut need: HashMap<&Arc<str>, (f64, f64)> = HashMap::new();
        for (shard, records, bytes) in items.iter().flatten() {
            let entry = need.entry(shard).or_default();
            entry.0 += *records as f64;
            entry.1 += *bytes as f64;
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let mut waiting: HashMap<&Arc<str>, bool> = HashMap::new();
        let mut admitted = Vec::with_capacity(items.len());
        let mut wait = Duration::MAX;
        for item in items {
            let Some((shard, records, bytes)) = item else {
                admitted.push(true);
                continue;
            };
            let bucket = self.refilled(&mut buckets, shard, now);
            let rate = self.rate_of(bucket);
            let (need_records, need_bytes) = need[shard];
            let whole = !in_pieces
                && need_records <= rate.records_per_sec
                && need_bytes <= rate.bytes_per_sec;
            let waits = *waiting.entry(shard).or_insert_with(|| {
                whole && (bucket.records < need_records || bucket.bytes < need_bytes)
            });
            let admit = !waits && bucket.records >= 0.0 && bucket.bytes >= 0.0;
            if admit {
                bucket.records -= *records as f64;
                bucket.bytes -= *bytes as f64;
            } else {
                let (want_records, want_bytes) = if waits {
                    (need_records, need_bytes)
                } else {
                    (0.0, 0.0)
                };
                let deficit = f64::max(
                    (want_records - bucket.records) / rate.records_per_sec,
                    (want_bytes - bucket.bytes) / rate.bytes_per_sec,
                );
                wait = wait.min(Duration::from_secs_f64(deficit.max(0.001)));
            }
            admitted.push(admit);
        }
        if admitted.iter().any(|a| *a) {
            Ok(admitted)
        } else {
            Err(wait)
        }
    }

    /// Waits until at least one of `items` may be sent; returns which may. Nothing reserves
    /// the budget a whole share waits for, so other requests to the shard could keep taking
    /// it: after [`PIECES_AFTER`] of waiting, the records go in pieces.
    pub async fn admit_some(&self, items: &[Option<(Arc<str>, u64, u64)>]) -> Vec<bool> {
        let pieces_at = Instant::now() + PIECES_AFTER;
        loop {
            let now = Instant::now();
            match self.admit_as(items, now, now >= pieces_at) {
                Ok(admitted) => return admitted,
                Err(wait) if now < pieces_at => {
                    tokio::time::sleep(wait.min(pieces_at - now)).await;
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    fn rate_of(&self, bucket: &Bucket) -> ShardRate {
        ShardRate {
            records_per_sec: self.rate.records_per_sec * bucket.factor,
            bytes_per_sec: self.rate.bytes_per_sec * bucket.factor,
        }
    }

    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<Arc<str>, Bucket>,
        shard: &Arc<str>,
        now: Instant,
    ) -> &'a mut Bucket {
        let full = Bucket {
            records: self.rate.records_per_sec,
            bytes: self.rate.bytes_per_sec,
            updated: now,
            factor: 1.0,
        };
        let bucket = buckets.entry(shard.clone()).or_insert(full);
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let rate = ShardRate {
            records_per_sec: self.rate.records_per_sec * bucket.factor,
            bytes_per_sec: self.rate.bytes_per_sec * bucket.factor,
        };
        bucket.records =
            (bucket.records + elapsed * rate.records_per_sec).min(rate.records_per_sec);
        bucket.bytes = (bucket.bytes + elapsed * rate.bytes_per_sec).min(rate.bytes_per_sec);
        bucket.updated = now;
        bucket
    }

    /// The shard throttled us anyway: slow down.
    pub fn throttled(&self, shard: &str) {
        if let Some(bucket) = self
            .buckets
            .lock()
            .expect("rate limiter lock")
            .get_mut(shard)
        {
            bucket.factor = (bucket.factor * 0.7).max(0.1);
        }
    }

    /// A request to the shard went through: recover a little.
    pub fn succeeded(&self, shard: &str) {
        if let Some(bucket) = self
            .buckets
            .lock()
            .expect("rate limiter lock")
            .get_mut(shard)
        {
            bucket.factor = (bucket.factor + 0.02).min(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> ShardRateLimiter {
        ShardRateLimiter::new(ShardRate {
            records_per_sec: 1000.0,
            bytes_per_sec: 1_000_000.0,
        })
    }

    fn item(shard: &str, records: u64, bytes: u64) -> Option<(Arc<str>, u64, u64)> {
        Some((Arc::from(shard), records, bytes))
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_rate_stays_at_the_limit() {
        let limiter = limiter();
        let start = Instant::now();
        // 20 records of 500 KB: a full bucket (1 MB) at once, then 1 MB/s, each record waiting
        // until the bucket holds it.
        for _ in 0..20 {
            assert_eq!(limiter.admit_some(&[item("s0", 1, 500_000)]).await, [true]);
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((8.9..=9.1).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn a_request_is_cut_where_a_shard_runs_out_and_other_shards_still_go() {
        let limiter = limiter();
        let now = Instant::now();
        let items = [
            item("a", 1, 600_000),
            item("a", 1, 600_000),
            item("a", 1, 600_000),
            item("b", 1, 10),
            None,
        ];
        assert_eq!(
            limiter.admit(&items, now).unwrap(),
            [true, true, false, true, true]
        );
        assert!(limiter.admit(&items[..1], now).is_err(), "a is in debt");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_for_budget_instead_of_leaving_in_pieces() {
        let limiter = limiter();
        let batch: Vec<_> = (0..500).map(|_| item("s0", 1, 200)).collect();
        let start = Instant::now();
        let mut sizes = Vec::new();
        for _ in 0..6 {
            let mut pending = batch.clone();
            while !pending.is_empty() {
                let admitted = limiter.admit_some(&pending).await;
                sizes.push(admitted.iter().filter(|a| **a).count());
                pending = admitted_rest(pending, &admitted);
            }
        }
        assert_eq!(sizes, [500; 6], "whole requests");
        // 3,000 records: the first 1,000 at once, then 1,000 per second.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.9..=2.1).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_share_that_keeps_losing_the_budget_goes_in_pieces_in_the_end() {
        let limiter = Arc::new(limiter());
        limiter
            .admit(&[item("s0", 1000, 0)], Instant::now())
            .unwrap();
        let small = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                loop {
                    limiter.admit_some(&[item("s0", 50, 0)]).await;
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
            })
        };
        let big: Vec<_> = (0..900).map(|_| item("s0", 1, 0)).collect();
        let start = Instant::now();
        let admitted = limiter.admit_some(&big).await;
        small.abort();
        assert!(admitted.iter().any(|a| *a));
        assert!(
            start.elapsed() <= PIECES_AFTER + Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
    }

    fn admitted_rest<T>(items: Vec<T>, admitted: &[bool]) -> Vec<T> {
        items
            .into_iter()
            .zip(admitted)
            .filter(|(_, a)| !**a)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn throttling_slows_a_shard_down() {
        let limiter = limiter();
        let now = Instant::now();
        limiter.admit(&[item("a", 2000, 0)], now).unwrap();
        let before = limiter.admit(&[item("a", 1, 0)], now).unwrap_err();
        limiter.throttled("a");
        let after = limiter.admit(&[item("a", 1, 0)], now).unwrap_err();
        assert!(after > before.mul_f64(1.4), "{before:?} -> {after:?}");
    }
}
