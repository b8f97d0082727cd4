//! Tailing: find the files of a flow ([`discovery`], woken early by [`watcher`]), tell files
//! apart ([`fingerprint`], [`identify`]), decide what a change means ([`rotation`], a pure
//! function), read complete lines from plain or gzip files ([`source`], [`reader`]), and run the
//! per-flow loop that hands [`Chunk`]s to the next stage ([`tailer`], with discovery in `track.rs`,
//! truncation in `truncation.rs`,
//! start decisions in `start.rs` and per-file state in [`tracked`]).
//! This module knows nothing about AWS: it only reports what it sees through [`TailObserver`].

pub mod discovery;
mod file_set;
pub mod fingerprint;
mod hold;
pub mod identify;
pub mod reader;
pub mod rotation;
mod settings;
pub mod source;
pub mod spool;
mod spooling;
mod start;
mod start_rule;
pub mod tailer;
mod track;
pub mod tracked;
mod truncation;
pub mod watcher;

pub use fingerprint::{Fingerprint, Mark};
pub use settings::TailSettings;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Identity of a file on disk: survives renames, changes when a file is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    pub dev: u64,
    pub inode: u64,
}

impl FileKey {
    pub fn of(metadata: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            dev: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// A file as the later stages see it: identity plus the path it had when it was read.
#[derive(Debug, PartialEq, Eq)]
pub struct FileRef {
    pub key: FileKey,
    pub path: PathBuf,
    /// Fingerprint of the first bytes (`None` while the file is empty).
    pub head: Option<Fingerprint>,
}

/// What is remembered about a file between runs (its checkpoint), or about a file that was
/// read completely and let go (kept for a while so a compressed copy is not shipped again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    pub key: FileKey,
    pub path: PathBuf,
    /// Everything before this offset was acknowledged.
    pub offset: u64,
    pub head: Option<Fingerprint>,
    pub mark: Option<Mark>,
}

/// Where a flow's tailer starts: its checkpointed files and recently finished ones.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub files: HashMap<FileKey, KnownFile>,
    pub finished: Vec<KnownFile>,
    /// The latest checkpoint update of the flow (to the microsecond): a file created after it
    /// appeared while the agent was stopped, so none of it was shipped.
    pub checkpointed_at: Option<std::time::SystemTime>,
    /// The checkpoint file was unreadable: files found at the start have no trustworthy
    /// offset, so what `start_at = "end"` skips of them is reported.
    pub checkpoints_unreadable: bool,
    /// Journal flows: the cursor of the last acknowledged entry, by the journal's key.
    pub cursors: HashMap<FileKey, String>,
}

impl Resume {
    /// Whether the file at `path` was created after the flow's last checkpoint update (its
    /// birth time, or its modification time where the file system has none).
    pub fn created_since_checkpoint(&self, path: &std::path::Path) -> bool {
        let (Some(since), Ok(metadata)) = (self.checkpointed_at, std::fs::metadata(path)) else {
            return false;
        };
        metadata
            .created()
            .or_else(|_| metadata.modified())
            .is_ok_and(|created| created > since)
    }
}

/// Whether a released file's end has been durably acknowledged, so its handle can be closed
/// (a deleted file's data exists only through that handle until then).
pub trait ReleaseView: Send + Sync {
    fn is_released(&self, key: FileKey) -> bool;

    /// The acknowledged offsets of the flow's files with a checkpoint, as of now (a released
    /// file has none).
    fn acked(&self) -> HashMap<FileKey, u64> {
        HashMap::new()
    }

    /// The tailer follows `file` from `offset`: it may be checkpointed there before any of its
    /// lines are delivered.
    fn follow(&self, _file: &Arc<FileRef>, _offset: u64) {}
}

/// Bytes that can never be shipped, with the file and byte range, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub reason: &'static str,
    /// The lost byte range; `end` is `None` when the size is unknown (the file is gone).
    pub from: u64,
    pub to: Option<u64>,
}

impl Loss {
    pub fn range(reason: &'static str, range: Range<u64>) -> Loss {
        Loss {
            reason,
            from: range.start,
            to: Some(range.end),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.to.map_or(0, |to| to - self.from)
    }
}

/// One complete line inside a [`Chunk`]'s buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Byte range of the line's content (terminator excluded) in `Chunk::data`.
    pub start: u32,
    pub end: u32,
    /// File offset just past this line's terminator: the checkpoint once the line is delivered.
    pub next_offset: u64,
}

/// Complete lines read from one file, in file order. A clone (fan-out) shares the buffer.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub file: Arc<FileRef>,
    /// The bytes before `end_offset`, for the checkpoint (`None` on markers without data).
    pub mark: Option<Mark>,
    /// Shared, so that a record of one line is a slice of it rather than a copy.
    pub data: bytes::Bytes,
    pub lines: Vec<Line>,
    /// File offset of `data[0]`.
    pub start_offset: u64,
    /// File offset after everything consumed by this chunk (lines and skipped bytes of an
    /// over-long line). Equals the last line's `next_offset` unless bytes were skipped.
    pub end_offset: u64,
    /// The file was rotated away or deleted and fully read: its checkpoint can be forgotten
    /// once everything before this chunk is acknowledged.
    pub released: bool,
}

impl Chunk {
    pub fn line(&self, line: &Line) -> &[u8] {
        &self.data[line.start as usize..line.end as usize]
    }

    /// The line as a slice sharing the chunk's buffer: no copy, no allocation.
    pub fn line_bytes(&self, line: &Line) -> bytes::Bytes {
        self.data.slice(line.start as usize..line.end as usize)
    }
}

/// What the tailer reports. Implemented by the metrics/status side; the tailer does not log
/// or count on its own.
pub trait TailObserver: Send + Sync {
    fn file_added(&self, key: FileKey, path: &Path, offset: u64, reason: &str);
    fn file_released(&self, key: FileKey, path: &Path, reason: &str);
    /// The file's current size (seen on a scan, or read up to).
    fn file_size(&self, key: FileKey, size: u64);
    /// Bytes that will never be shipped, and why (e.g. the skipped rest of over-long lines).
    fn bytes_lost(&self, path: &Path, reason: &'static str, bytes: u64);
    fn file_truncated(&self, path: &Path, old_offset: u64, new_size: u64);
    /// Data that is physically gone before it could be read (deleted, overwritten).
    fn data_lost(&self, path: &Path, loss: &Loss, detail: &str);
    /// The bytes `from..to` of a deleted file were saved into the spool (`stored` compressed).
    fn spooled(&self, path: &Path, from: u64, to: u64, stored: u64);
    /// Deleted files held open pin `held` bytes, more than `limit`, and the spool is full.
    fn hold_exceeded(&self, held: u64, limit: u64);
    /// A file whose content was already shipped under another name (a copy, a compressed
    /// rotation): `offset` is where shipping resumes in it.
    fn copy_recognised(&self, path: &Path, original: &Path, offset: u64);
    /// Watching for file events failed; the tailer falls back to polling.
    fn watch_degraded(&self, reason: &str);
    fn line_truncated(&self, path: &Path, offset: u64, kept_bytes: usize);
    fn read_error(&self, path: &Path, error: &std::io::Error);
    /// A matched path that is not a regular file (`kind`: "a directory", "a FIFO", ...) and
    /// is never read; reported once per path.
    fn not_a_file(&self, path: &Path, kind: &'static str);
    fn lines_read(&self, lines: u64, bytes: u64);
    /// `bytes` at the start of a file skipped by `start_at = "end"` while the checkpoints
    /// were unreadable: perhaps shipped before, perhaps not.
    fn skipped_unverified(&self, path: &Path, bytes: u64);
    /// The tail loop is alive (called every pass, and while waiting for room downstream).
    fn alive(&self);
}
