//! The tail loop's side of the [`spool`](super::spool): at a stop, the unacknowledged rest of
//! every deleted file still held open goes into it (newest files first, so a full spool drops
//! the oldest data); at the next start its segments are read before anything else of the same
//! log, and deleted once their end is durably acknowledged.

use super::reader::FileReader;
use super::spool::{SPOOL_DEV, Segment, Spool};
use super::tailer::Tailer;
use super::tracked::{Status, TrackedFile};
use super::{Chunk, FileKey, FileRef, KnownFile, Loss, ReleaseView, TailObserver};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Instant;

/// What the tailer still holds at a stop, once it has let go of its channel.
pub(super) struct Held {
    /// Open files out of reach or possibly so: (key, rotated away or released, reader).
    readers: Vec<(FileKey, bool, FileReader)>,
    spool: Option<Spool>,
    view: Arc<dyn ReleaseView>,
    observer: Arc<dyn TailObserver>,
}

impl From<Tailer> for Held {
    fn from(tailer: Tailer) -> Held {
        let mut readers: Vec<(FileKey, bool, FileReader)> = tailer
            .set
            .closing
            .into_iter()
            .map(|(key, reader)| (key, true, reader))
            .collect();
        for (key, file) in tailer.set.files {
            let rotated = matches!(file.status, Status::Rotated { .. });
            readers.extend(file.reader.map(|reader| (key, rotated, reader)));
        }
        Held {
            readers,
            spool: tailer.spool,
            view: tailer.release_view,
            observer: tailer.observer,
        }
    }
}

impl Held {
    /// Copies what is not acknowledged of each file out of reach (deleted, or rotated away and
    /// so perhaps deleted before the next start) into the spool, newest files first.
    pub(super) fn spool_held(&mut self) {
        let Some(spool) = self.spool.take() else {
            return;
        };
        let acked = self.view.acked();
        let mut wanted: Vec<(i64, u64, &mut FileReader)> = Vec::new();
        for (key, out_of_reach, reader) in &mut self.readers {
            let Ok(metadata) = reader.file().metadata() else {
                continue;
            };
            if reader.is_spooled() || !(*out_of_reach || metadata.nlink() == 0) {
                continue;
            }
            // A released file without a checkpoint was acknowledged to its end.
            let from = match (acked.get(key), *out_of_reach) {
                (Some(offset), _) => *offset,
                (None, true) => continue,
                (None, false) => 0,
            };
            wanted.push((metadata.mtime(), from, reader));
        }
        wanted.sort_by_key(|(modified, ..)| std::cmp::Reverse(*modified));
        let mut budget = spool.max_bytes.saturating_sub(spool.used_bytes());
        for (_, from, reader) in wanted {
            budget = save(&spool, reader, from, budget, self.observer.as_ref());
        }
    }
}

/// Spools one file's rest; reports what did not fit; returns the budget left.
fn save(
    spool: &Spool,
    reader: &mut FileReader,
    from: u64,
    mut budget: u64,
    observer: &dyn TailObserver,
) -> u64 {
    let file_ref = reader.file_ref().clone();
    let end = (!reader.is_compressed())
        .then(|| reader.file().metadata().map(|m| m.len()).ok())
        .flatten();
    if end.is_some_and(|end| end <= from) {
        return budget;
    }
    // A file rotated away but still on disk that does not fit is left where it is: the restart
    // finds it beside its old name (or reports it gone if it was deleted meanwhile).
    let on_disk = reader.file().metadata().is_ok_and(|m| m.nlink() > 0);
    let original = (file_ref.key, file_ref.path.as_path(), file_ref.head);
    let lost_from = match spool.write(reader.source(), original, from, budget) {
        Ok(Some(stored)) if stored.cut && on_disk => {
            spool.remove(stored.segment.id);
            return budget;
        }
        Ok(Some(stored)) => {
            budget = budget.saturating_sub(stored.bytes);
            let segment = &stored.segment;
            observer.spooled(&segment.path, segment.from, segment.to, stored.bytes);
            if !stored.cut {
                return budget;
            }
            segment.to
        }
        Ok(None) if on_disk => return budget,
        Ok(None) => from,
        Err(error) => {
            observer.read_error(&file_ref.path, &error);
            if on_disk {
                return budget;
            }
            from
        }
    };
    let reason = if budget == 0 {
        "spool_full"
    } else {
        "spool_failed"
    };
    observer.data_lost(
        &file_ref.path,
        &Loss {
            reason,
            from: lost_from,
            to: end,
        },
        "edgeship stopped before these bytes of a file out of reach (deleted or rotated away) were delivered, and they did not fit into the spool (raise spool_max_bytes) or could not be written to it",
    );
    // Reported once: the restart retires the file's checkpoint instead of calling it gone.
    if let Err(error) = spool.write_tombstone(original, end.unwrap_or(u64::MAX)) {
        observer.read_error(&file_ref.path, &error);
    }
    budget
}

impl Tailer {
    /// First scan: the segments left by the last run are read first, under keys of their own,
    /// and the deleted files they came from retire from the checkpoints.
    pub(super) fn resume_spooled(&mut self) -> Vec<Chunk> {
        let Some(spool) = self.spool.as_ref() else {
            return Vec::new();
        };
        let mut markers = Vec::new();
        for segment in spool.segments() {
            let resumed = self.set.resume.files.remove(&segment.key());
            let original = self.original_checkpoint(&segment);
            // A segment made while running is followed from where reading had got to; what
            // was in flight under the deleted file's key then is acknowledged only up to its
            // checkpoint.
            let acked = match (&resumed, &original) {
                (Some(spooled), Some(deleted)) => spooled.offset.min(deleted.offset),
                (Some(known), None) | (None, Some(known)) => known.offset,
                (None, None) => {
                    if self
                        .set
                        .finished
                        .iter()
                        .any(|f| f.key == segment.original())
                    {
                        self.discard_segment(segment.key()); // delivered before the stop
                        continue;
                    }
                    segment.from
                }
            };
            let start = segment.from.max(acked);
            if let Some(known) = original {
                markers.push(super::track::release_marker(&known));
                self.reused.insert(known.key); // a new file may have its inode now
            }
            if start >= segment.to {
                markers.extend(resumed.as_ref().map(super::track::release_marker));
                self.discard_segment(segment.key());
                continue;
            }
            match self.track_segment(&segment, start) {
                Some(marker) => markers.push(marker),
                None => self.observer.data_lost(
                    &segment.path,
                    &Loss::range("spool_unreadable", start..segment.to),
                    "the spool segment holding these bytes could not be read",
                ),
            }
        }
        markers
    }

    /// The checkpoint of the deleted file a segment came from.
    fn original_checkpoint(&mut self, segment: &Segment) -> Option<KnownFile> {
        let known = self.set.resume.files.get(&segment.original())?;
        if known.head != segment.head {
            return None;
        }
        self.set.resume.files.remove(&segment.original())
    }

    /// A reader of `segment` from `offset`, under the segment's key.
    pub(super) fn segment_reader(&self, segment: &Segment, offset: u64) -> Option<FileReader> {
        let source = self.spool.as_ref()?.open(segment).ok()?;
        let file_ref = Arc::new(FileRef {
            key: segment.key(),
            path: segment.path.clone(),
            head: segment.head,
        });
        let max_line = self.settings.max_line_bytes;
        FileReader::new(source, file_ref, offset, max_line).ok()
    }

    fn track_segment(&mut self, segment: &Segment, start: u64) -> Option<Chunk> {
        let reader = self.segment_reader(segment, start)?;
        let file_ref = reader.file_ref().clone();
        // Already past its grace period: it is read to its end and let go.
        let since = Instant::now()
            .checked_sub(self.settings.scan_interval)
            .unwrap_or_else(Instant::now);
        let tracked = TrackedFile::new(reader, segment.to, Status::Rotated { since });
        self.observer.file_added(
            segment.key(),
            &segment.path,
            start,
            "the spooled rest of a file deleted during the last run",
        );
        self.set.files.insert(segment.key(), tracked);
        Some(super::start::marker(file_ref, start, None))
    }

    /// A segment's end is acknowledged (or it was not needed): its files go.
    pub(super) fn discard_segment(&self, key: FileKey) {
        if let (Some(spool), SPOOL_DEV) = (self.spool.as_ref(), key.dev) {
            spool.remove(key.inode);
        }
    }
}
