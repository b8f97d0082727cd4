//! The systemd journal as a source: a flow with `journal = { ... }` instead of `paths` runs
//! `journalctl --output=json --follow` ([`command`], as Vector does: every architecture, no
//! libsystemd linked), turns each entry into a record ([`entry`]) and hands the records on as
//! [`Chunk`](crate::tail::Chunk)s, like the tailer, so parsing, aggregation and delivery are
//! the same as for files ([`reader`]).
//!
//! At least once: the records are numbered with offsets like a file's (the journal is one
//! pseudo-file per flow, [`journal_file`]), and a [`CursorBook`](crate::checkpoint::CursorBook)
//! tells the checkpointer the journal cursor of every offset, so `checkpoints.json` holds the
//! cursor of the last acknowledged entry and a restart resumes right after it.

pub mod check;
pub mod command;
pub mod entry;
pub mod reader;
pub mod spec;

pub use reader::JournalSource;
pub use spec::{JournalSpec, RawJournal};

use crate::tail::{FileKey, FileRef};
use std::time::{Duration, SystemTime};

/// The device number of journal pseudo-files in checkpoints (no real device has it).
pub const JOURNAL_DEV: u64 = u64::MAX;

/// The pseudo-file a flow's journal records are numbered in: one per journal (system or
/// directory), so a flow that switches directory starts afresh.
pub fn journal_file(spec: &JournalSpec) -> FileRef {
    let path = spec.label();
    // FNV-1a of the label: stable across runs and builds (std's hasher is not).
    let inode = path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    FileRef {
        key: FileKey {
            dev: JOURNAL_DEV,
            inode,
        },
        path,
        head: None,
    }
}

/// Whether journalctl's stderr says this user cannot read (all of) the journal.
pub fn denies_access(said: &str) -> bool {
    said.contains("not seeing messages") || said.contains("Permission denied")
}

/// What the journal source reports; implemented by the metrics side.
pub trait JournalObserver: Send + Sync {
    /// journalctl runs, from `position` (described for people).
    fn journal_started(&self, source: &str, position: &str);
    fn entries_read(&self, entries: u64, bytes: u64);
    /// A line journalctl printed on stdout that is not an entry; skipped.
    fn bad_entry(&self, error: &entry::EntryError);
    /// A line journalctl printed on stderr (warnings such as missing permissions).
    fn journalctl_said(&self, line: &str);
    /// journalctl ended (or could not start) while the flow runs; started again after `retry_in`.
    fn journalctl_failed(&self, what: &str, retry_in: Duration);
    /// The checkpointed entry is gone (vacuumed): entries between the two times (when known)
    /// were never shipped.
    fn journal_gap(&self, cursor: &str, from: Option<SystemTime>, to: Option<SystemTime>);
    /// An entry longer than the record limit was cut to `kept_bytes`.
    fn entry_truncated(&self, kept_bytes: usize);
    /// The source is alive (called at least every second).
    fn alive(&self);
}
