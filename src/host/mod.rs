//! Device health as a source: a flow with `host_metrics = { interval = "60s" }` instead of
//! `paths` ships one JSON record per interval with the host's CPU, memory, disks, network,
//! temperatures and uptime ([`sample`], read by [`probe`]), handed on as
//! [`Chunk`](crate::tail::Chunk)s like the tailer's lines, so aggregation, compression, keys
//! and delivery are the same as for files ([`source`]).
//!
//! Records are numbered with offsets in a pseudo-file ([`host_metrics_file`]) so the
//! checkpointer tells which are acknowledged. A record cannot be read again, so the source
//! holds what is not yet acknowledged ([`held`], bounded) and saves it at a stop ([`stash`]);
//! what must be dropped is counted and logged with the times it was taken.

pub mod held;
pub mod probe;
pub mod sample;
pub mod source;
pub mod spec;
pub mod stash;

pub use source::HostMetricsSource;
pub use spec::{HostMetricsSpec, RawHostMetrics};

use crate::tail::{FileKey, FileRef};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The device number of host-metrics pseudo-files in checkpoints (no real device has it; the
/// journal's is `u64::MAX`).
pub const HOST_METRICS_DEV: u64 = u64::MAX - 1;

/// The pseudo-file a flow's host-metrics records are numbered in.
pub fn host_metrics_file() -> FileRef {
    FileRef {
        key: FileKey {
            dev: HOST_METRICS_DEV,
            inode: 0,
        },
        path: "host_metrics".into(),
        head: None,
    }
}

/// What the host-metrics source reports; implemented by the metrics side.
pub trait HostMetricsObserver: Send + Sync {
    /// A record of `bytes` was taken.
    fn sampled(&self, bytes: u64);
    /// The host's figures could not be read; tried again at the next interval.
    fn probe_failed(&self, error: &str);
    /// Reading the figures has taken `elapsed` so far (a hung mount?).
    fn probe_slow(&self, elapsed: Duration);
    /// Records dropped to stay within `max_backlog_bytes`.
    fn dropped(&self, dropped: &held::Dropped);
    /// At a stop, `count` unshipped records taken from `first` to `last` were saved to `path`.
    fn stashed(&self, count: usize, path: &Path, first: SystemTime, last: SystemTime);
    /// At a stop, `count` unshipped records could not be saved: lost.
    fn stash_failed(&self, count: usize, path: &Path, error: &std::io::Error);
    /// At a start, `count` records saved by the last stop are queued again (`malformed` lines
    /// of the file skipped).
    fn restored(&self, count: usize, malformed: usize, path: &Path);
    /// The saved records could not be read (they stay in the file) or removed (they may be
    /// shipped twice).
    fn stash_unreadable(&self, path: &Path, error: &std::io::Error);
    /// The source is alive (called at least every second).
    fn alive(&self);
}
