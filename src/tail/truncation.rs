//! Truncation seen by the tail loop: a file that shrank below what was read (copytruncate,
//! truncate in place) or whose first bytes changed (truncated and written again). What was read
//! of the old content is finished (a copy continues from there), the rest is reported lost
//! unless a copy holds it, and the file is read again from its start.

use super::rotation::{self, Change, Known, Observed, Presence};
use super::tailer::Tailer;
use super::tracked::Status;
use super::{FileKey, KnownFile, Loss};
use std::sync::Arc;

impl Tailer {
    /// Before reading a file that was at its end: has it been truncated or rewritten?
    pub(super) fn check_rotation(&mut self, key: FileKey) {
        let Some(file) = self.set.files.get_mut(&key) else {
            return;
        };
        if !file.at_eof {
            return;
        }
        file.dirty = false;
        let Some(size) = file.reader.as_ref().and_then(|r| r.file().metadata().ok()) else {
            return;
        };
        let head_matches = file.refresh_head().unwrap_or(true);
        let known = Known {
            read_position: file.read_position(),
            seen_size: file.seen_size,
        };
        let size = if file
            .reader
            .as_mut()
            .is_some_and(|r| r.source().is_compressed())
        {
            u64::MAX // offsets are decompressed: only the head says anything
        } else {
            size.len()
        };
        let observed = Observed {
            size,
            head_matches,
            presence: Presence::AtPath,
        };
        match rotation::classify(known, observed) {
            Change::Truncated { lost } | Change::Rewritten { lost } => {
                let consumed = self.set.files[&key].consumed();
                self.restart_truncated(key, consumed, lost, size)
            }
            _ => {}
        }
    }

    /// After a read: the head still matches, so what was read belongs to the content we were
    /// following. A copytruncate followed by quick writes can refill a file past our position
    /// between two reads; that chunk is dropped and the file restarted from its beginning.
    pub(super) fn still_the_same_content(&mut self, key: FileKey, chunk_start: u64) -> bool {
        let Some(file) = self.set.files.get_mut(&key) else {
            return false;
        };
        if file.refresh_head().unwrap_or(true) {
            return true;
        }
        self.restart_truncated(key, chunk_start, None, 0);
        false
    }

    /// The file's old content is gone (copytruncate, truncate in place): what was read of it is
    /// finished (a copy of it continues from there), the rest is reported lost unless a copy
    /// holds it, and the file is read again from its start.
    fn restart_truncated(
        &mut self,
        key: FileKey,
        finished_at: u64,
        lost: Option<std::ops::Range<u64>>,
        size: u64,
    ) {
        let file = self.set.files.get_mut(&key).expect("tracked");
        let path = file.path().to_owned();
        let finished = KnownFile {
            key,
            path: path.clone(),
            offset: finished_at,
            head: file.file_ref.head,
            mark: file.last_mark,
        };
        self.observer
            .file_truncated(&path, file.read_position(), size.min(file.read_position()));
        file.file_ref = Arc::new(super::FileRef {
            key,
            path: path.clone(),
            head: None,
        });
        if let Some(reader) = file.reader.as_mut() {
            reader.set_file_ref(file.file_ref.clone());
            if let Err(error) = reader.rewind(0) {
                self.observer.read_error(&path, &error);
            }
        }
        file.seen_size = 0;
        file.last_mark = None;
        let has_copy = self.has_waiting_copy(&finished);
        if let (Some(range), false) = (lost, has_copy) {
            self.observer.data_lost(
                &path,
                &Loss::range("truncated_before_read", range),
                "the file was truncated (copytruncate or in place) before these bytes were read; include the rotated copy in `paths` (e.g. app.log*) so edgeship reads them from it",
            );
        }
        self.set.remember_finished(finished);
    }

    fn has_waiting_copy(&self, original: &KnownFile) -> bool {
        self.set
            .files
            .values()
            .any(|f| matches!(f.status, Status::CopyOf { original: o, .. } if o == original.key))
    }
}
