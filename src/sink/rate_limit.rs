//! Per-shard rate limiting (kinesis-facts §1.3): a shard takes 1 MiB/s and 1,000 records/s, so
//! the sender paces itself per shard instead of learning the limit by being throttled. Each
//! shard has two token buckets (records, bytes) holding one second of budget. A request may
//! take a bucket into debt (one aggregate can exceed a second's worth); the next request to that
//! shard then waits until the debt is paid. Throttling that still happens (other producers on
//! the stream, hot keys) lowers that shard's rate multiplicatively; successes restore it
//! slowly (AIMD).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct ShardRate {
    pub records_per_sec: f64,
    pub bytes_per_sec: f64,
}

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
    buckets: Mutex<HashMap<std::sync::Arc<str>, Bucket>>,
}

impl ShardRateLimiter {
    pub fn new(rate: ShardRate) -> ShardRateLimiter {
        ShardRateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until every shard in `demand` (shard, records, bytes) has budget, then takes it.
    pub async fn acquire(&self, demand: &[(std::sync::Arc<str>, u64, u64)]) {
        loop {
            let wait = self.try_acquire(demand, Instant::now());
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes the budget and returns zero, or returns how long to wait before trying again.
    fn try_acquire(&self, demand: &[(std::sync::Arc<str>, u64, u64)], now: Instant) -> Duration {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let mut wait = Duration::ZERO;
        for (shard, _, _) in demand {
            let bucket = self.refilled(&mut buckets, shard, now);
            let rate = self.rate_of(bucket);
            let deficit = f64::max(
                (-bucket.records) / rate.records_per_sec,
                (-bucket.bytes) / rate.bytes_per_sec,
            );
            if deficit > 0.0 {
                wait = wait.max(Duration::from_secs_f64(deficit));
            }
        }
        if wait.is_zero() {
            for (shard, records, bytes) in demand {
                let bucket = buckets.get_mut(shard).expect("refilled above");
                bucket.records -= *records as f64;
                bucket.bytes -= *bytes as f64;
            }
        }
        wait
    }

    fn rate_of(&self, bucket: &Bucket) -> ShardRate {
        ShardRate {
            records_per_sec: self.rate.records_per_sec * bucket.factor,
            bytes_per_sec: self.rate.bytes_per_sec * bucket.factor,
        }
    }

    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<std::sync::Arc<str>, Bucket>,
        shard: &std::sync::Arc<str>,
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
    use std::sync::Arc;

    fn limiter() -> ShardRateLimiter {
        ShardRateLimiter::new(ShardRate {
            records_per_sec: 1000.0,
            bytes_per_sec: 1_000_000.0,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_rate_stays_at_the_limit() {
        let limiter = limiter();
        let shard: Arc<str> = Arc::from("s0");
        let start = Instant::now();
        // 20 requests of 500 KB: a full bucket (1 MB) at once, then 1 MB/s, one request in debt.
        for _ in 0..20 {
            limiter.acquire(&[(shard.clone(), 10, 500_000)]).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((8.4..=8.6).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn shards_are_independent_and_throttling_slows_one_down() {
        let limiter = limiter();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        limiter.acquire(&[(a.clone(), 2000, 0)]).await;
        let now = Instant::now();
        assert!(
            limiter.try_acquire(&[(b.clone(), 1, 0)], now).is_zero(),
            "b is untouched"
        );
        assert!(
            !limiter.try_acquire(&[(a.clone(), 1, 0)], now).is_zero(),
            "a is in debt"
        );
        limiter.throttled("a");
        let wait = limiter.try_acquire(&[(a.clone(), 1, 0)], now);
        assert!(wait > Duration::from_secs_f64(1.4), "{wait:?}");
    }
}
