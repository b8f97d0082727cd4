//! What the delivery loop reports, and how a flow's counters and logs take it: the loop decides,
//! the observer counts and logs (rate-limited), as the tailer reports through `TailObserver`.

use super::{ErrorClass, NO_CREDENTIALS_HINT, SendError, hint_for};
use crate::metrics::FlowStats;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

pub trait SinkObserver: Send + Sync {
    /// A request with `entries` entries is about to be sent.
    fn attempt(&self, entries: usize);
    /// One entry of an answered request failed with `code`.
    fn entry_failed(&self, code: &str);
    /// `failed` of `of` entries of an answered request failed; only they are resent.
    fn partial_failure(&self, destination: &str, failed: usize, of: usize);
    /// The answer had `statuses` results for `sent` entries; all are resent.
    fn response_mismatch(&self, sent: usize, statuses: usize);
    /// A whole request of `entries` entries failed; it is retried as `class` says.
    fn request_failed(
        &self,
        destination: &str,
        error: &SendError,
        class: ErrorClass,
        entries: usize,
        config_backoff: Duration,
    );
    /// A request was rejected as invalid; its records go one at a time to find the bad one.
    fn narrowing(&self, destination: &str, error: &SendError);
    /// A single record was rejected as invalid and is given up (counted, never silent).
    fn undeliverable(&self, destination: &str, error: &SendError, record_bytes: u64);
    /// Entries sent more than once while delivering a batch.
    fn resent(&self, entries: u64);
}

impl SinkObserver for FlowStats {
    fn attempt(&self, entries: usize) {
        self.entries_sent.fetch_add(entries as u64, Relaxed);
        self.requests.fetch_add(1, Relaxed);
    }

    fn entry_failed(&self, code: &str) {
        self.count_error(code, 1);
        if code == "ProvisionedThroughputExceededException" {
            self.entries_throttled.fetch_add(1, Relaxed);
        }
    }

    fn partial_failure(&self, destination: &str, failed: usize, of: usize) {
        if self.limiter.allow("partial_failure") {
            tracing::warn!(flow = %self.flow, failed, of, "{destination}: part of a request failed; resending only the failed records");
        }
    }

    fn response_mismatch(&self, sent: usize, statuses: usize) {
        self.count_error("ResponseCountMismatch", sent as u64);
        if self.limiter.allow("response_mismatch") {
            tracing::warn!(flow = %self.flow, sent, statuses, "response does not match the request; resending all of it");
        }
    }

    fn request_failed(
        &self,
        destination: &str,
        error: &SendError,
        class: ErrorClass,
        entries: usize,
        config_backoff: Duration,
    ) {
        self.count_error(&error.code, entries as u64);
        if class == ErrorClass::Throttled {
            self.entries_throttled.fetch_add(entries as u64, Relaxed);
        }
        let Some(suppressed) = self.limiter.allow_counting(&error.code) else {
            return;
        };
        match class {
            ErrorClass::Config if error.code == "NoCredentials" => {
                tracing::error!(flow = %self.flow, suppressed, "{destination}: {NO_CREDENTIALS_HINT}. Data is kept and retried every {config_backoff:?}. Details: {}", error.message);
            }
            ErrorClass::Config => {
                let hint = hint_for(&error.code, destination);
                tracing::error!(flow = %self.flow, suppressed, "{destination}: {error}. {hint}. Data is kept and retried every {config_backoff:?}.");
            }
            ErrorClass::Throttled | ErrorClass::Transient => {
                tracing::warn!(flow = %self.flow, suppressed, "{destination}: {error}; retrying with backoff");
            }
            ErrorClass::Invalid => {}
        }
    }

    fn narrowing(&self, destination: &str, error: &SendError) {
        if let Some(suppressed) = self.limiter.allow_counting("narrowing") {
            tracing::warn!(flow = %self.flow, suppressed, "{destination}: request rejected as invalid ({error}); retrying its records one at a time to isolate the bad one");
        }
    }

    fn undeliverable(&self, destination: &str, error: &SendError, record_bytes: u64) {
        self.records_undeliverable.fetch_add(1, Relaxed);
        if let Some(suppressed) = self.limiter.allow_counting("undeliverable") {
            tracing::error!(flow = %self.flow, suppressed, record_bytes, "{destination}: record rejected as invalid and will not be resent: {error}; it is counted in records_undeliverable");
        }
    }

    fn resent(&self, entries: u64) {
        self.entries_resent.fetch_add(entries, Relaxed);
    }
}
