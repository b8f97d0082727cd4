//! Counters and gauges per flow ([`FlowStats`], fed by every stage and by the tail observer in
//! `observer`), the log-flood guard, process figures from `/proc`, and the optional Prometheus
//! text endpoint ([`server`], rendered by [`prometheus`]).

mod activity;
mod host;
mod journal;
mod lag;
mod limiter;
mod observer;
pub mod process;
pub mod prometheus;
pub mod server;

pub use activity::Activity;
pub use limiter::LogLimiter;

use crate::tail::FileKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The stats of the flows running now (a reload changes the list).
pub type FlowList = Arc<std::sync::RwLock<Vec<Arc<FlowStats>>>>;

/// Counters of one flow. Cheap to update from any stage.
#[derive(Debug)]
pub struct FlowStats {
    pub flow: String,
    pub lines_read: AtomicU64,
    pub bytes_read: AtomicU64,
    pub lines_truncated: AtomicU64,
    /// Bytes `start_at = "end"` skipped while the checkpoints were unreadable.
    pub bytes_skipped_unverified: AtomicU64,
    pub files_added: AtomicU64,
    pub files_released: AtomicU64,
    /// Data physically gone before it could be read (each event is also logged with its range).
    pub data_loss_events: AtomicU64,
    /// Bytes of deleted files saved into the spool at a stop (before compression).
    pub bytes_spooled: AtomicU64,
    /// Copies and compressed rotations recognised as already shipped.
    pub copies_recognised: AtomicU64,
    pub read_errors: AtomicU64,
    /// Journal flows: times journalctl ended or could not start and was started again.
    pub journal_restarts: AtomicU64,
    /// Journal flows: resumes whose checkpointed entry was gone (vacuumed), each logged.
    pub journal_gaps: AtomicU64,
    /// Host-metrics flows: records dropped (backlog over its limit, or unsaved at a stop).
    pub host_metrics_dropped: AtomicU64,
    pub requests: AtomicU64,
    /// Encoded request bodies sent, retries included.
    pub request_body_bytes: AtomicU64,
    pub records_delivered: AtomicU64,
    pub lines_delivered: AtomicU64,
    pub bytes_delivered: AtomicU64,
    /// `bytes_delivered` counted before compression (equal without compression).
    pub bytes_delivered_uncompressed: AtomicU64,
    /// Provisioned-stream billing units of the delivered records (25 KB steps per record).
    pub put_payload_units: AtomicU64,
    /// Entries in all requests, first attempts and retries.
    pub entries_sent: AtomicU64,
    /// Entries refused for throttling (per entry, or in a throttled request).
    pub entries_throttled: AtomicU64,
    /// Shard-aware aggregates that landed in a shard not holding all their records.
    pub entries_wrong_shard: AtomicU64,
    /// Entries sent again after a partial failure (only the failed ones are resent).
    pub entries_resent: AtomicU64,
    /// Records the service rejected as invalid even alone; reported, counted, not resent.
    pub records_undeliverable: AtomicU64,
    /// Records that did not parse (`[flow.parse]`), whatever the failure policy did with them.
    pub parse_failures: AtomicU64,
    /// Records not sent because of `include` / `exclude`.
    pub records_filtered: AtomicU64,
    /// Records sent with a random partition key because the field their key is read from was
    /// missing (shared with the batcher).
    pub partition_key_fallbacks: Arc<AtomicU64>,
    /// Lines read that are not a record of their own: joined into a multiline record, skipped
    /// as a header, filtered or dropped. Delivered lines plus these account for all lines read.
    pub lines_absorbed: AtomicU64,
    pub errors_by_code: Mutex<BTreeMap<String, u64>>,
    pub limiter: LogLimiter,
    /// Milliseconds since `started` at the tailer's last sign of life.
    tailer_heartbeat_ms: AtomicU64,
    started: Instant,
    /// Size of every tracked file, for the lag gauge.
    pub file_sizes: Mutex<HashMap<FileKey, u64>>,
    /// Bytes that will never be shipped, by reason.
    pub bytes_lost: Mutex<BTreeMap<&'static str, u64>>,
    /// The sink's AWS attempts running now (for the watchdog).
    pub sink_calls: Activity,
    /// When the lines still waiting were read (for the lag).
    read_times: Mutex<lag::ReadTimes>,
    /// Whether a tailer (or source) of its own reports here: a fan-out destination's stats
    /// count the records handed to it as read, and have no tailer for the watchdog to watch.
    has_reader: bool,
}

impl FlowStats {
    pub fn new(flow: &str) -> FlowStats {
        FlowStats {
            flow: flow.to_owned(),
            lines_read: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            lines_truncated: AtomicU64::new(0),
            bytes_skipped_unverified: AtomicU64::new(0),
            files_added: AtomicU64::new(0),
            files_released: AtomicU64::new(0),
            data_loss_events: AtomicU64::new(0),
            bytes_spooled: AtomicU64::new(0),
            copies_recognised: AtomicU64::new(0),
            read_errors: AtomicU64::new(0),
            journal_restarts: AtomicU64::new(0),
            journal_gaps: AtomicU64::new(0),
            host_metrics_dropped: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            request_body_bytes: AtomicU64::new(0),
            records_delivered: AtomicU64::new(0),
            lines_delivered: AtomicU64::new(0),
            bytes_delivered: AtomicU64::new(0),
            bytes_delivered_uncompressed: AtomicU64::new(0),
            put_payload_units: AtomicU64::new(0),
            entries_sent: AtomicU64::new(0),
            entries_throttled: AtomicU64::new(0),
            entries_wrong_shard: AtomicU64::new(0),
            entries_resent: AtomicU64::new(0),
            records_undeliverable: AtomicU64::new(0),
            parse_failures: AtomicU64::new(0),
            records_filtered: AtomicU64::new(0),
            partition_key_fallbacks: Arc::default(),
            lines_absorbed: AtomicU64::new(0),
            errors_by_code: Mutex::new(BTreeMap::new()),
            limiter: LogLimiter::new(Duration::from_secs(300)),
            tailer_heartbeat_ms: AtomicU64::new(0),
            started: Instant::now(),
            file_sizes: Mutex::new(HashMap::new()),
            bytes_lost: Mutex::new(BTreeMap::new()),
            read_times: Mutex::new(lag::ReadTimes::default()),
            sink_calls: Activity::default(),
            has_reader: true,
        }
    }

    /// Stats of a fan-out destination (`FLOW/DESTINATION`): its lines read are the records its
    /// flow's one read handed to it.
    pub fn for_destination(name: &str) -> FlowStats {
        FlowStats {
            has_reader: false,
            ..FlowStats::new(name)
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// `lines` more were read, just now.
    pub(crate) fn note_read(&self, lines: u64) {
        let total = self.lines_read.fetch_add(lines, Relaxed) + lines;
        let now = self.now_ms();
        self.read_times.lock().expect("stats lock").read(total, now);
    }

    fn lines_done(&self) -> u64 {
        self.lines_delivered.load(Relaxed) + self.lines_absorbed.load(Relaxed)
    }

    /// A batch was delivered: the read times of delivered lines are no longer needed.
    pub fn note_delivered(&self) {
        let done = self.lines_done();
        self.read_times.lock().expect("stats lock").done(done);
    }

    /// How long the oldest line read and not yet delivered has been waiting (see `lag.rs`).
    pub fn lag_seconds(&self) -> f64 {
        let done = self.lines_done();
        let oldest = self
            .read_times
            .lock()
            .expect("stats lock")
            .oldest_waiting(done);
        oldest.map_or(0.0, |read_at| {
            self.now_ms().saturating_sub(read_at) as f64 / 1000.0
        })
    }

    /// How long the tailer has not shown a sign of life.
    pub fn tailer_silent_for(&self) -> Duration {
        if !self.has_reader {
            return Duration::ZERO;
        }
        let beat = Duration::from_millis(self.tailer_heartbeat_ms.load(Relaxed));
        self.started.elapsed().saturating_sub(beat)
    }

    /// A short progress note for `systemctl status`.
    pub fn short_status(&self) -> String {
        let read = self.lines_read.load(Relaxed);
        let delivered = self.lines_delivered.load(Relaxed) + self.lines_absorbed.load(Relaxed);
        let compressed = match self.compression_ratio() {
            Some(ratio) => format!(", compressed {ratio:.1}x"),
            None => String::new(),
        };
        format!(
            "{}: {delivered} lines shipped, {} pending{compressed}",
            self.flow,
            read.saturating_sub(delivered)
        )
    }

    /// Bytes before compression per byte sent, once compressed records were delivered.
    pub fn compression_ratio(&self) -> Option<f64> {
        let sent = self.bytes_delivered.load(Relaxed);
        let plain = self.bytes_delivered_uncompressed.load(Relaxed);
        (sent > 0 && plain != sent).then(|| plain as f64 / sent as f64)
    }

    pub fn count_lost(&self, reason: &'static str, bytes: u64) {
        *self
            .bytes_lost
            .lock()
            .expect("stats lock")
            .entry(reason)
            .or_default() += bytes;
    }

    pub fn count_error(&self, code: &str, entries: u64) {
        let mut map = self.errors_by_code.lock().expect("stats lock");
        *map.entry(code.to_owned()).or_default() += entries;
    }

    /// One line for the periodic status log and the final summary.
    pub fn summary(&self) -> String {
        let errors = self.errors_by_code.lock().expect("stats lock");
        let errors = if errors.is_empty() {
            "none".to_owned()
        } else {
            errors
                .iter()
                .map(|(code, n)| format!("{code}={n}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let behind = self
            .lines_read
            .load(Relaxed)
            .saturating_sub(self.lines_delivered.load(Relaxed) + self.lines_absorbed.load(Relaxed));
        format!(
            "flow={} lines_read={} lines_delivered={} lines_pending={} records_delivered={} bytes_delivered={} request_body_bytes={} compression_ratio={:.2} put_payload_units={} requests={} entries_sent={} entries_throttled={} throttle_rate={:.4} entries_resent={} lines_truncated={} records_undeliverable={} parse_failures={} records_filtered={} partition_key_fallbacks={} skipped_unverified_bytes={} files_tracked={} errors={}",
            self.flow,
            self.lines_read.load(Relaxed),
            self.lines_delivered.load(Relaxed),
            behind,
            self.records_delivered.load(Relaxed),
            self.bytes_delivered.load(Relaxed),
            self.request_body_bytes.load(Relaxed),
            self.compression_ratio().unwrap_or(1.0),
            self.put_payload_units.load(Relaxed),
            self.requests.load(Relaxed),
            self.entries_sent.load(Relaxed),
            self.entries_throttled.load(Relaxed),
            self.entries_throttled.load(Relaxed) as f64
                / self.entries_sent.load(Relaxed).max(1) as f64,
            self.entries_resent.load(Relaxed),
            self.lines_truncated.load(Relaxed),
            self.records_undeliverable.load(Relaxed),
            self.parse_failures.load(Relaxed),
            self.records_filtered.load(Relaxed),
            self.partition_key_fallbacks.load(Relaxed),
            self.bytes_skipped_unverified.load(Relaxed),
            self.files_added
                .load(Relaxed)
                .saturating_sub(self.files_released.load(Relaxed)),
            errors,
        )
    }
}
