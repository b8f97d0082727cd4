//! One file the tailer follows: its reader (or none while its handle is closed under the
//! `max_open_files` cap), where it was found, and what is known about its rotation state.

use super::fingerprint::{self, Fingerprint, Mark};
use super::reader::FileReader;
use super::source::Source;
use super::{FileKey, FileRef};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Found under a matching path.
    Live,
    /// Under no matching path since `since` (rotated away or deleted): read through the open
    /// handle to its end, then let go.
    Rotated { since: Instant },
    /// Has the content of `original` (a copy, a compressed rotation): not read until the
    /// original is finished, then read from where the original ended.
    CopyOf { original: FileKey, since: Instant },
    /// Just found and possibly still being written by a copy (see `track.rs`): held open, not
    /// read until its start is decided.
    /// `first_scan`: found by the agent's first scan, where `start_at` applies.
    Settling { since: Instant, first_scan: bool },
}

pub struct TrackedFile {
    /// `None` while parked: read to its end and closed to respect the descriptor cap.
    pub reader: Option<FileReader>,
    pub file_ref: Arc<FileRef>,
    /// The path it was first found under (a file rotated away keeps its successor waiting).
    pub origin: PathBuf,
    /// Resume offset while parked.
    pub parked_offset: u64,
    /// Largest size seen (from `stat` or reads).
    pub seen_size: u64,
    pub status: Status,
    pub at_eof: bool,
    /// Something may have changed (an event, a size change): read it on the next pass.
    pub dirty: bool,
    pub last_read: Instant,
    /// The mark at the end of the last chunk handed on.
    pub last_mark: Option<Mark>,
}

impl TrackedFile {
    pub fn new(reader: FileReader, seen_size: u64, status: Status) -> TrackedFile {
        let file_ref = reader.file_ref().clone();
        TrackedFile {
            origin: file_ref.path.clone(),
            reader: Some(reader),
            file_ref,
            parked_offset: 0,
            seen_size,
            status,
            at_eof: false,
            dirty: true,
            last_read: Instant::now(),
            last_mark: None,
        }
    }

    pub fn key(&self) -> FileKey {
        self.file_ref.key
    }

    pub fn path(&self) -> &Path {
        &self.file_ref.path
    }

    pub fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Offset up to which lines were handed on.
    pub fn consumed(&self) -> u64 {
        self.reader
            .as_ref()
            .map_or(self.parked_offset, FileReader::consumed)
    }

    pub fn read_position(&self) -> u64 {
        self.reader
            .as_ref()
            .map_or(self.parked_offset, FileReader::read_position)
    }

    /// A new path or head: later chunks carry the new [`FileRef`].
    pub fn update_ref(&mut self, path: Option<&Path>, head: Option<Fingerprint>) {
        let file_ref = Arc::new(FileRef {
            key: self.key(),
            path: path.map_or_else(|| self.file_ref.path.clone(), Path::to_owned),
            head: head.or(self.file_ref.head),
        });
        if let Some(reader) = self.reader.as_mut() {
            reader.set_file_ref(file_ref.clone());
        }
        self.file_ref = file_ref;
    }

    /// Closes the handle (only for a live file read to its end: it can be reopened by path).
    pub fn park(&mut self) {
        if let Some(reader) = self.reader.take() {
            self.parked_offset = reader.consumed();
            // Only files read to their last known size are parked: nothing to reopen for
            // until the size changes or an event arrives.
            self.dirty = false;
        }
    }

    /// Reopens a parked file by path, checking it is still the same file.
    pub fn unpark(&mut self, max_line_bytes: usize) -> io::Result<bool> {
        let file = File::open(self.path())?;
        if FileKey::of(&file.metadata()?) != self.key() {
            return Ok(false);
        }
        let mut source = Source::new(file, self.path());
        if let Some(head) = self.file_ref.head
            && !fingerprint::head_matches(&mut source, &head)?
        {
            return Ok(false);
        }
        let reader = FileReader::new(
            source,
            self.file_ref.clone(),
            self.parked_offset,
            max_line_bytes,
        )?;
        self.reader = Some(reader);
        Ok(true)
    }

    /// Whether this open file, with a complete head, starts with `prefix`.
    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(reader) = self.reader.as_ref() else {
            return false;
        };
        if self.file_ref.head.is_none_or(|h| h.is_partial_head()) {
            return false;
        }
        let mut buf = vec![0; prefix.len()];
        reader.file().read_exact_at(&mut buf, 0).is_ok() && buf == prefix
    }

    /// Takes or extends the head fingerprint while the file is shorter than the head length.
    /// Returns `false` if the first bytes no longer match (the file was rewritten).
    pub fn refresh_head(&mut self) -> io::Result<bool> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(true);
        };
        let source = reader.source();
        if source.is_spooled() {
            return Ok(true); // the segment holds no head; it was checked when spooled
        }
        match self.file_ref.head {
            Some(head) if !head.is_partial_head() => fingerprint::head_matches(source, &head),
            Some(head) if !fingerprint::head_matches(source, &head)? => Ok(false),
            _ => {
                let now = fingerprint::head_of(source)?;
                if now != self.file_ref.head {
                    self.update_ref(None, now);
                }
                Ok(true)
            }
        }
    }
}
