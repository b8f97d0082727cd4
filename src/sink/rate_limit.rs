//! Per-shard rate limiting: a shard takes 1 MiB/s and 1,000 records/s, so the sender paces
//! itself per shard instead of learning the limit by being throttled. Each shard keeps what was
//! admitted in the last second, so no one-second window holds more than the budget, the first
//! second included (a token bucket that starts full lets through twice the budget in the first
//! second, and again after every pause). One record may cross the budget (an aggregate can be
//! larger than a second's worth); the next request to that shard then waits until the window
//! is back under it. Throttling that still happens (other producers on the stream, hot keys)
//! lowers that shard's rate multiplicatively; successes restore it slowly (AIMD). Flows
//! writing to one stream share its limiter ([`StreamBudgets`]).

pub use crate::kinesis::limits::ShardRate;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// How long a request waits for its whole share of a shard's budget before it goes in pieces.
/// Requests queued behind others for the same shard wait their turn, a second or two at most
/// with a few in flight (half a second of budget each): this is for a share that keeps losing
/// the budget to others.
const PIECES_AFTER: Duration = Duration::from_secs(3);
/// The window the budgets are per.
const WINDOW: Duration = Duration::from_secs(1);

/// What one shard took in the last [`WINDOW`].
#[derive(Debug)]
struct Window {
    /// Admitted records and bytes by time, oldest first.
    sent: VecDeque<(Instant, f64, f64)>,
    records: f64,
    bytes: f64,
    /// Fraction of the configured rate in use after throttling, 0.1..=1.
    factor: f64,
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, records, bytes)) = self.sent.front() {
            if now.saturating_duration_since(at) < WINDOW {
                break;
            }
            self.sent.pop_front();
            self.records -= records;
            self.bytes -= bytes;
        }
        if self.sent.is_empty() {
            (self.records, self.bytes) = (0.0, 0.0); // no float drift kept
        }
    }

    fn take(&mut self, now: Instant, records: f64, bytes: f64) {
        self.records += records;
        self.bytes += bytes;
        match self.sent.back_mut() {
            Some(last) if last.0 == now => (last.1, last.2) = (last.1 + records, last.2 + bytes),
            _ => self.sent.push_back((now, records, bytes)),
        }
    }

    /// How long until `records` and `bytes` more fit under `rate`.
    fn wait_for(&self, now: Instant, rate: ShardRate, records: f64, bytes: f64) -> Duration {
        let mut free = (
            rate.records_per_sec - self.records,
            rate.bytes_per_sec - self.bytes,
        );
        for &(at, r, b) in &self.sent {
            if free.0 >= records && free.1 >= bytes {
                break;
            }
            free = (free.0 + r, free.1 + b);
            if free.0 >= records && free.1 >= bytes {
                return (at + WINDOW).saturating_duration_since(now);
            }
        }
        Duration::ZERO
    }
}

#[derive(Debug)]
pub struct ShardRateLimiter {
    rate: ShardRate,
    windows: Mutex<HashMap<Arc<str>, Window>>,
}

impl ShardRateLimiter {
    pub fn new(rate: ShardRate) -> ShardRateLimiter {
        ShardRateLimiter {
            rate,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Admits records per shard: all of a shard's records in `items` once its window has room
    /// for them (so a request is not cut into dozens of small ones as the budget frees up),
    /// or, when they need more than a second's budget, in order while the window is under the
    /// budget (the record that crosses it goes too). `items` holds each record's shard, records
    /// and bytes (`None`: shard unknown, always admitted). Returns which records may be sent
    /// now, or, if none may, how long until some may.
    pub fn admit(
        &self,
        items: &[Option<(Arc<str>, u64, u64)>],
        now: Instant,
    ) -> Result<Vec<bool>, Duration> {
        self.admit_as(items, now, false)
    }

    /// [`ShardRateLimiter::admit`]; `in_pieces`: admit in order while a window is under the
    /// budget, without waiting for room for a shard's whole share.
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
        let mut windows = self.windows.lock().expect("rate limiter lock");
        let mut waiting: HashMap<&Arc<str>, bool> = HashMap::new();
        let mut admitted = Vec::with_capacity(items.len());
        let mut wait = Duration::MAX;
        for item in items {
            let Some((shard, records, bytes)) = item else {
                admitted.push(true);
                continue;
            };
            let window = Self::current(&mut windows, shard, now);
            let rate = self.rate_of(window);
            let (need_records, need_bytes) = need[shard];
            let whole = !in_pieces
                && need_records <= rate.records_per_sec
                && need_bytes <= rate.bytes_per_sec;
            let waits = *waiting.entry(shard).or_insert_with(|| {
                whole
                    && (window.records + need_records > rate.records_per_sec
                        || window.bytes + need_bytes > rate.bytes_per_sec)
            });
            let admit = !waits
                && window.records < rate.records_per_sec
                && window.bytes < rate.bytes_per_sec;
            if admit {
                window.take(now, *records as f64, *bytes as f64);
            } else {
                let (want_records, want_bytes) = match waits {
                    true => (need_records, need_bytes),
                    false => (f64::MIN_POSITIVE, f64::MIN_POSITIVE),
                };
                let until = window.wait_for(now, rate, want_records, want_bytes);
                wait = wait.min(until.max(Duration::from_millis(1)));
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
    /// the room a whole share waits for, so other requests to the shard could keep taking
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

    fn rate_of(&self, window: &Window) -> ShardRate {
        ShardRate {
            records_per_sec: self.rate.records_per_sec * window.factor,
            bytes_per_sec: self.rate.bytes_per_sec * window.factor,
        }
    }

    /// `shard`'s window as of `now`.
    fn current<'a>(
        windows: &'a mut HashMap<Arc<str>, Window>,
        shard: &Arc<str>,
        now: Instant,
    ) -> &'a mut Window {
        let window = windows.entry(shard.clone()).or_insert_with(|| Window {
            sent: VecDeque::new(),
            records: 0.0,
            bytes: 0.0,
            factor: 1.0,
        });
        window.expire(now);
        window
    }

    /// The shard throttled us anyway: slow down.
    pub fn throttled(&self, shard: &str) {
        if let Some(window) = self
            .windows
            .lock()
            .expect("rate limiter lock")
            .get_mut(shard)
        {
            window.factor = (window.factor * 0.7).max(0.1);
        }
    }

    /// A request to the shard went through: recover a little.
    pub fn succeeded(&self, shard: &str) {
        if let Some(window) = self
            .windows
            .lock()
            .expect("rate limiter lock")
            .get_mut(shard)
        {
            window.factor = (window.factor + 0.02).min(1.0);
        }
    }
}

/// The shard limiters of the streams the flows write to: flows writing to the same stream (same
/// name, region, endpoint and role) share one, so together they stay within each shard's
/// budget. The first flow's budgets apply to all.
#[derive(Debug, Default)]
pub struct StreamBudgets(Mutex<HashMap<String, Weak<ShardRateLimiter>>>);

impl StreamBudgets {
    pub fn limiter(&self, stream: &str, rate: ShardRate) -> Arc<ShardRateLimiter> {
        let mut limiters = self.0.lock().expect("stream budgets lock");
        limiters.retain(|_, limiter| limiter.strong_count() > 0);
        if let Some(shared) = limiters.get(stream).and_then(Weak::upgrade) {
            return shared;
        }
        let limiter = Arc::new(ShardRateLimiter::new(rate));
        limiters.insert(stream.to_owned(), Arc::downgrade(&limiter));
        limiter
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
        limiter.admit(&[item("a", 800, 0)], now).unwrap();
        assert!(
            limiter.admit(&[item("a", 100, 0)], now).is_ok(),
            "room for 200"
        );
        limiter.throttled("a");
        assert!(
            limiter.admit(&[item("a", 1, 0)], now).is_err(),
            "900 taken, the budget is 700 now"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_than_the_budget_the_first_included() {
        let limiter = limiter();
        let start = Instant::now();
        let mut admitted_at = Vec::new();
        while start.elapsed() < Duration::from_secs(5) {
            let admitted = limiter.admit_some(&[item("s0", 100, 1000)]).await;
            assert_eq!(admitted, [true]);
            admitted_at.push(start.elapsed());
            if admitted_at.len() % 3 == 0 {
                // A pause: a token bucket would refill a burst beyond the budget meanwhile.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        for (i, first) in admitted_at.iter().enumerate() {
            let within = admitted_at[i..]
                .iter()
                .take_while(|t| **t < *first + WINDOW);
            assert!(
                within.count() <= 10,
                "more than 1,000 records within a second of {first:?}"
            );
        }
        assert!(
            admitted_at.len() >= 45,
            "{} requests in 5 s",
            admitted_at.len()
        );
    }

    #[test]
    fn flows_writing_to_one_stream_share_its_limiter() {
        let budgets = StreamBudgets::default();
        let rate = ShardRate {
            records_per_sec: 1000.0,
            bytes_per_sec: 1e6,
        };
        let a = budgets.limiter("us-east-1|s", rate);
        let b = budgets.limiter("us-east-1|s", rate);
        let other = budgets.limiter("eu-west-1|s", rate);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &other));
        let now = Instant::now();
        a.admit(&[item("s0", 1000, 0)], now).unwrap();
        assert!(
            b.admit(&[item("s0", 1, 0)], now).is_err(),
            "b sees what a sent"
        );
        drop((a, b));
        let fresh = budgets.limiter("us-east-1|s", rate);
        assert!(
            fresh.admit(&[item("s0", 1, 0)], now).is_ok(),
            "a new one once unused"
        );
    }
}
