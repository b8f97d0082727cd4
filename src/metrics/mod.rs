//! Counters per flow, the tail observer that reports file events, and the log-flood guard.
//! (A Prometheus endpoint will read the same counters.)

mod limiter;

pub use limiter::LogLimiter;

use crate::tail::TailObserver;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Counters of one flow. Cheap to update from any stage.
#[derive(Debug)]
pub struct FlowStats {
    pub flow: String,
    pub lines_read: AtomicU64,
    pub bytes_read: AtomicU64,
    pub lines_truncated: AtomicU64,
    pub files_added: AtomicU64,
    pub files_released: AtomicU64,
    pub read_errors: AtomicU64,
    pub requests: AtomicU64,
    pub records_delivered: AtomicU64,
    pub lines_delivered: AtomicU64,
    pub bytes_delivered: AtomicU64,
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
    pub errors_by_code: Mutex<BTreeMap<String, u64>>,
    pub limiter: LogLimiter,
    /// Milliseconds since `started` at the tailer's last sign of life.
    tailer_heartbeat_ms: AtomicU64,
    started: Instant,
}

impl FlowStats {
    pub fn new(flow: &str) -> FlowStats {
        FlowStats {
            flow: flow.to_owned(),
            lines_read: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            lines_truncated: AtomicU64::new(0),
            files_added: AtomicU64::new(0),
            files_released: AtomicU64::new(0),
            read_errors: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            records_delivered: AtomicU64::new(0),
            lines_delivered: AtomicU64::new(0),
            bytes_delivered: AtomicU64::new(0),
            put_payload_units: AtomicU64::new(0),
            entries_sent: AtomicU64::new(0),
            entries_throttled: AtomicU64::new(0),
            entries_wrong_shard: AtomicU64::new(0),
            entries_resent: AtomicU64::new(0),
            records_undeliverable: AtomicU64::new(0),
            errors_by_code: Mutex::new(BTreeMap::new()),
            limiter: LogLimiter::new(Duration::from_secs(300)),
            tailer_heartbeat_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// How long the tailer has not shown a sign of life.
    pub fn tailer_silent_for(&self) -> Duration {
        let beat = Duration::from_millis(self.tailer_heartbeat_ms.load(Relaxed));
        self.started.elapsed().saturating_sub(beat)
    }

    /// A short progress note for `systemctl status`.
    pub fn short_status(&self) -> String {
        let read = self.lines_read.load(Relaxed);
        let delivered = self.lines_delivered.load(Relaxed);
        format!(
            "{}: {delivered} lines shipped, {} pending",
            self.flow,
            read.saturating_sub(delivered)
        )
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
            .saturating_sub(self.lines_delivered.load(Relaxed));
        format!(
            "flow={} lines_read={} lines_delivered={} lines_pending={} records_delivered={} bytes_delivered={} put_payload_units={} requests={} entries_sent={} entries_throttled={} throttle_rate={:.4} entries_resent={} lines_truncated={} records_undeliverable={} files_tracked={} errors={}",
            self.flow,
            self.lines_read.load(Relaxed),
            self.lines_delivered.load(Relaxed),
            behind,
            self.records_delivered.load(Relaxed),
            self.bytes_delivered.load(Relaxed),
            self.put_payload_units.load(Relaxed),
            self.requests.load(Relaxed),
            self.entries_sent.load(Relaxed),
            self.entries_throttled.load(Relaxed),
            self.entries_throttled.load(Relaxed) as f64
                / self.entries_sent.load(Relaxed).max(1) as f64,
            self.entries_resent.load(Relaxed),
            self.lines_truncated.load(Relaxed),
            self.records_undeliverable.load(Relaxed),
            self.files_added
                .load(Relaxed)
                .saturating_sub(self.files_released.load(Relaxed)),
            errors,
        )
    }
}

impl TailObserver for FlowStats {
    fn file_added(&self, path: &Path, offset: u64, reason: &str) {
        self.files_added.fetch_add(1, Relaxed);
        tracing::info!(flow = %self.flow, file = %path.display(), offset, "tailing file: {reason}");
    }

    fn file_released(&self, path: &Path, reason: &str) {
        self.files_released.fetch_add(1, Relaxed);
        tracing::info!(flow = %self.flow, file = %path.display(), "released file: {reason}");
    }

    fn file_truncated(&self, path: &Path, old_offset: u64, new_size: u64) {
        tracing::warn!(flow = %self.flow, file = %path.display(), old_offset, new_size, "file was truncated in place; reading it again from the start");
    }

    fn line_truncated(&self, path: &Path, offset: u64, kept_bytes: usize) {
        self.lines_truncated.fetch_add(1, Relaxed);
        if self.limiter.allow("line_truncated") {
            tracing::warn!(flow = %self.flow, file = %path.display(), offset, kept_bytes, "line longer than the record limit was truncated (the rest up to its newline is skipped); raise record_max_bytes if the stream allows larger records");
        }
    }

    fn read_error(&self, path: &Path, error: &std::io::Error) {
        self.read_errors.fetch_add(1, Relaxed);
        if !self
            .limiter
            .allow(&format!("read_error:{}", path.display()))
        {
            return;
        }
        let hint = if error.kind() == std::io::ErrorKind::PermissionDenied {
            "; give the edgeship user read access (e.g. add it to the group that owns the logs, such as adm)"
        } else {
            ""
        };
        tracing::error!(flow = %self.flow, file = %path.display(), "cannot read: {error}{hint}; other files keep shipping");
    }

    fn alive(&self) {
        self.tailer_heartbeat_ms
            .store(self.started.elapsed().as_millis() as u64, Relaxed);
    }

    fn lines_read(&self, lines: u64, bytes: u64) {
        self.lines_read.fetch_add(lines, Relaxed);
        self.bytes_read.fetch_add(bytes, Relaxed);
    }
}
