//! What the tail needs of a flow, and nothing about where its lines go.

use crate::config::{FileSelection, Flow, StartAt};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TailSettings {
    /// The flow's name (the tail thread's name).
    pub name: String,
    pub files: FileSelection,
    /// Where files without a checkpoint start on the first scan.
    pub start_at: StartAt,
    pub scan_interval: Duration,
    /// How often files that events cannot cover are read.
    pub poll_interval: Duration,
    /// Wake on inotify events, or only poll.
    pub use_inotify: bool,
    pub max_open_files: usize,
    /// Longest line kept whole; the rest up to its newline is skipped.
    pub max_line_bytes: usize,
}

impl TailSettings {
    pub fn of(flow: &Flow) -> TailSettings {
        TailSettings {
            name: flow.name.clone(),
            files: flow.files.clone(),
            start_at: flow.start_at,
            scan_interval: flow.scan_interval,
            poll_interval: flow.poll_interval,
            use_inotify: flow.use_inotify,
            max_open_files: flow.max_open_files,
            max_line_bytes: flow.line_limit(),
        }
    }
}
