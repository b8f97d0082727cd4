//! The host-metrics observer: source events become log lines and counters.

use super::FlowStats;
use crate::host::HostMetricsObserver;
use crate::host::held::Dropped;
use crate::tail::TailObserver;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl HostMetricsObserver for FlowStats {
    fn sampled(&self, bytes: u64) {
        TailObserver::lines_read(self, 1, bytes);
    }

    fn probe_failed(&self, error: &str) {
        self.read_errors.fetch_add(1, Relaxed);
        if let Some(suppressed) = self.limiter.allow_counting("host_probe_failed") {
            tracing::error!(flow = %self.flow, suppressed, "{error}; no host-metrics record this interval, trying again at the next");
        }
    }

    fn probe_slow(&self, elapsed: Duration) {
        if let Some(suppressed) = self.limiter.allow_counting("host_probe_slow") {
            tracing::warn!(flow = %self.flow, suppressed, "reading the host's figures has taken {elapsed:?} so far: a hung network mount blocks the disk figures; records resume when it answers");
        }
    }

    fn dropped(&self, dropped: &Dropped) {
        self.host_metrics_dropped
            .fetch_add(dropped.records, Relaxed);
        self.data_loss_events.fetch_add(1, Relaxed);
        if let Some(suppressed) = self.limiter.allow_counting("host_metrics_dropped") {
            tracing::warn!(flow = %self.flow, suppressed, records = dropped.records, "data lost: {} host-metrics records taken from {} to {} were dropped: the stream has not taken records for longer than host_metrics.max_backlog_bytes holds; raise it (or the interval) for longer outages", dropped.records, time(dropped.first_taken), time(dropped.last_taken));
        }
    }

    fn stashed(&self, count: usize, path: &Path, first: SystemTime, last: SystemTime) {
        tracing::info!(flow = %self.flow, path = %path.display(), "saved {count} unshipped host-metrics records (taken from {} to {}); the next start ships them", time(first), time(last));
    }

    fn stash_failed(&self, count: usize, path: &Path, error: &std::io::Error) {
        self.host_metrics_dropped.fetch_add(count as u64, Relaxed);
        self.data_loss_events.fetch_add(1, Relaxed);
        tracing::error!(flow = %self.flow, path = %path.display(), "data lost: {count} unshipped host-metrics records could not be saved at the stop: {error}; check that the state directory is writable and not full");
    }

    fn restored(&self, count: usize, malformed: usize, path: &Path) {
        tracing::info!(flow = %self.flow, path = %path.display(), "shipping {count} host-metrics records saved by the last stop");
        if malformed > 0 {
            tracing::warn!(flow = %self.flow, path = %path.display(), "skipped {malformed} malformed lines of the saved host-metrics records");
        }
    }

    fn stash_unreadable(&self, path: &Path, error: &std::io::Error) {
        self.read_errors.fetch_add(1, Relaxed);
        tracing::error!(flow = %self.flow, path = %path.display(), "cannot read or remove the saved host-metrics records: {error}; fix the file's permissions (records it holds may be shipped twice, or not until then)");
    }

    fn alive(&self) {
        TailObserver::alive(self);
    }
}
