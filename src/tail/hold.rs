//! The bounded hold. A deleted file that edgeship still holds open (logrotate deleted it while
//! AWS was down) keeps its disk space until the handle is closed, so a long outage could fill
//! a small disk. Past `max_held_bytes`, the oldest such file moves into the spool: its
//! unacknowledged rest is compressed there, the handle is closed (the space is freed), and
//! reading goes on from the spool segment, under a key of its own, where it had got to.

use super::spool::Segment;
use super::tailer::Tailer;
use super::tracked::Status;
use super::{Chunk, FileKey, FileRef};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

impl Tailer {
    /// Moves deleted files into the spool, oldest first, while they hold more than the limit.
    pub(super) fn bound_hold(&mut self) {
        let Some(limit) = self.max_held_bytes else {
            return;
        };
        loop {
            let held = self.deleted_held();
            let total: u64 = held.iter().map(|(_, _, bytes)| bytes).sum();
            let Some((_, oldest, _)) = held.into_iter().min() else {
                return;
            };
            if total <= limit {
                return;
            }
            if !self.move_to_spool(oldest) {
                self.observer.hold_exceeded(total, limit);
                return;
            }
        }
    }

    /// Deleted files being read through their handle: (modified, key, size).
    fn deleted_held(&self) -> Vec<(i64, FileKey, u64)> {
        self.set
            .files
            .iter()
            .filter(|(_, f)| matches!(f.status, Status::Rotated { .. }))
            .filter_map(|(key, f)| {
                let reader = f.reader.as_ref().filter(|r| !r.is_spooled())?;
                let metadata = reader.file().metadata().ok()?;
                (metadata.nlink() == 0).then(|| (metadata.mtime(), *key, metadata.len()))
            })
            .collect()
    }

    /// Spools the unacknowledged rest of `key` and reads on from the segment; `false` if it
    /// does not fit (the file stays held).
    fn move_to_spool(&mut self, key: FileKey) -> bool {
        let from = self.release_view.acked().get(&key).copied().unwrap_or(0);
        let (Some(spool), Some(file)) = (self.spool.as_ref(), self.set.files.get_mut(&key)) else {
            return false;
        };
        let Some(reader) = file.reader.as_mut() else {
            return false;
        };
        let (old_ref, consumed) = (reader.file_ref().clone(), reader.consumed());
        let budget = spool.max_bytes.saturating_sub(spool.used_bytes());
        let original = (key, old_ref.path.as_path(), old_ref.head);
        let stored = match spool.write(reader.source(), original, from, budget) {
            Ok(Some(stored)) if !stored.cut => stored,
            Ok(Some(cut)) => {
                spool.remove(cut.segment.id);
                return false;
            }
            Ok(None) => return false,
            Err(error) => {
                self.observer.read_error(&old_ref.path, &error);
                return false;
            }
        };
        let Some(new_ref) = self.read_segment_at(key, &stored.segment, consumed) else {
            self.discard_segment(stored.segment.key());
            return false;
        };
        let segment = &stored.segment;
        self.observer
            .spooled(&segment.path, segment.from, segment.to, stored.bytes);
        let last_mark = self.set.files.get(&new_ref.key).and_then(|f| f.last_mark);
        // The old key retires once what was read from its handle is acknowledged; the segment
        // is followed from where reading had got to.
        self.queue(Chunk {
            file: old_ref,
            mark: last_mark,
            data: bytes::Bytes::new(),
            lines: Vec::new(),
            start_offset: consumed,
            end_offset: consumed,
            released: true,
        });
        self.queue(super::start::marker(new_ref, consumed, None));
        true
    }

    /// Re-keys the tracked file `key` to the segment, reading it from `offset`.
    fn read_segment_at(
        &mut self,
        key: FileKey,
        segment: &Segment,
        offset: u64,
    ) -> Option<Arc<FileRef>> {
        let reader = self.segment_reader(segment, offset)?;
        let new_ref = reader.file_ref().clone();
        let mut file = self.set.files.remove(&key)?;
        file.reader = Some(reader); // the deleted file's handle closes here
        file.file_ref = new_ref.clone();
        file.at_eof = false;
        file.seen_size = segment.to;
        self.set.files.insert(segment.key(), file);
        Some(new_ref)
    }
}
