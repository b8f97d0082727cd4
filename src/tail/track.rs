//! Discovery side of the tail loop: which files the flow follows, where reading starts in each,
//! and which file is a copy of another. Reading and releasing live in [`super::tailer`].
//!
//! Where a newly found file starts:
//! 1. its checkpoint, if the content still matches (else: inode reused, truncated or rewritten
//!    while we were away: from the start, and the old file's unread rest is reported lost);
//! 2. where a file with the same head ended, if it is a copy of a finished file (a compressed
//!    rotation, a copytruncate copy): nothing is shipped twice;
//! 3. on the first scan, `start_at`; later, the beginning.

use super::discovery;
use super::fingerprint::{self, Fingerprint, Mark, ReadAt};
use super::identify::{self, Checked, Found};
use super::reader::FileReader;
use super::source::Source;
use super::tailer::Tailer;
use super::tracked::{Status, TrackedFile};
use super::{Chunk, FileKey, FileRef, KnownFile, Loss, TailObserver};
use crate::config::StartAt;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a copy waits for its original to be truncated or let go before it is treated as a
/// plain duplicate (e.g. `copy` without truncate, or a file copied by hand).
const COPY_WAIT_MIN: Duration = Duration::from_secs(10);
/// A new file modified more recently than this may still be being written by a copy.
const SETTLE_TIME: Duration = Duration::from_secs(1);

impl Tailer {
    /// Re-scans the globs. Returns a progress marker per newly tracked file so its starting
    /// offset is checkpointed even before a line arrives: otherwise a file started at its end
    /// and idle until a restart would have no checkpoint, and `start_at = "end"` would skip
    /// what was written while the agent was down.
    pub(super) fn scan(&mut self) -> Vec<Chunk> {
        let scan = discovery::scan(&self.flow);
        for (path, error) in &scan.errors {
            if self.reported_errors.insert(path.clone()) {
                self.observer.read_error(path, error);
            }
        }
        let mut present: HashMap<FileKey, PathBuf> = HashMap::new();
        let mut new_files = Vec::new();
        for path in &scan.files {
            let Ok(metadata) = std::fs::metadata(path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            if present.insert(key, path.clone()).is_some() {
                continue; // the same file under two matching names (a symlink): read it once
            }
            match self.files.get_mut(&key) {
                Some(file) => note_seen(file, path, &metadata),
                None => new_files.push((path.clone(), metadata)),
            }
        }
        self.note_missing(&present);
        let mut markers = Vec::new();
        if self.first_scan {
            markers.extend(self.resume_rotated(&present));
        }
        for (path, metadata) in new_files {
            markers.extend(self.track_new(&path, &metadata));
        }
        self.first_scan = false;
        self.reopen_parked();
        self.refresh_watches(&scan.files);
        markers
    }

    /// Files no longer under a matching path start draining (or, if parked, are let go).
    fn note_missing(&mut self, present: &HashMap<FileKey, PathBuf>) {
        let now = Instant::now();
        let mut parked_gone = Vec::new();
        let vanished_settling: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(k, f)| {
                matches!(f.status, Status::Settling { .. }) && !present.contains_key(k)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in vanished_settling {
            if let Some(marker) = self.settle(key, true) {
                let _ = self.send(marker);
            }
        }
        for (key, file) in self.files.iter_mut() {
            if present.contains_key(key) {
                if matches!(file.status, Status::Rotated { .. }) {
                    file.status = Status::Live;
                }
            } else if file.status == Status::Live {
                file.status = Status::Rotated { since: now };
                file.dirty = true;
                if !file.is_open() {
                    parked_gone.push(*key);
                }
            }
        }
        for key in parked_gone {
            let file = self.files.remove(&key).expect("listed above");
            if file.seen_size > file.parked_offset {
                self.observer.data_lost(
                    file.path(),
                    &Loss::range("closed_under_cap", file.parked_offset..file.seen_size),
                    "the file grew and was rotated away while its handle was closed under max_open_files; raise max_open_files above the number of live files",
                );
            }
            self.observer
                .file_released(key, file.path(), "rotated away while closed");
        }
    }

    /// First scan only: checkpointed files not found under a matching path were rotated or
    /// deleted while the agent was stopped. Look for them beside their old name and finish
    /// them; report what cannot be found.
    fn resume_rotated(&mut self, present: &HashMap<FileKey, PathBuf>) -> Vec<Chunk> {
        let missing: Vec<KnownFile> = self
            .resume
            .files
            .values()
            .filter(|k| !present.contains_key(&k.key))
            .cloned()
            .collect();
        let mut markers = Vec::new();
        for known in missing {
            self.resume.files.remove(&known.key);
            match identify::find_rotated(&known) {
                Some(Found::Renamed(path)) => {
                    if let Ok(metadata) = std::fs::metadata(&path) {
                        self.resume.files.insert(known.key, known.clone());
                        markers.extend(self.track_new(&path, &metadata));
                        if let Some(file) = self.files.get_mut(&known.key) {
                            file.status = Status::Rotated {
                                since: Instant::now(),
                            };
                            file.origin = known.path.clone();
                        }
                    }
                }
                // The compressed copy is read from the checkpoint when it is found (it
                // matches the flow), or not at all: then the rest is lost, as below.
                Some(Found::Compressed(path)) if self.flow.matches(&path) => {
                    self.remember_finished(known.clone());
                }
                _ => self.report_gone(&known),
            }
            if !self.files.contains_key(&known.key) {
                markers.push(release_marker(&known));
            }
        }
        markers
    }

    fn report_gone(&self, known: &KnownFile) {
        let complete = known.mark.is_some_and(|m| m.eof && m.at == known.offset);
        if !complete {
            self.observer.data_lost(
                &known.path,
                &Loss {
                    reason: "gone_while_stopped",
                    from: known.offset,
                    to: None,
                },
                "the file was deleted or rotated out of reach while edgeship was stopped; anything after this offset was not shipped",
            );
        }
    }

    /// Opens and starts tracking a file found at `path`; returns its progress marker.
    pub(super) fn track_new(&mut self, path: &Path, metadata: &Metadata) -> Option<Chunk> {
        let key = FileKey::of(metadata);
        if self.open_count() >= self.flow.max_open_files && !self.make_room() {
            return None; // waits for a free descriptor; found again by the next scan
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) => {
                self.report_open_error(path, metadata, error);
                return None;
            }
        };
        self.reported_errors.remove(path);
        if file.metadata().ok().map(|m| FileKey::of(&m)) != Some(key) {
            return None; // replaced between stat and open: the next scan picks up the new one
        }
        let mut source = Source::new(file, path);
        let head = fingerprint::head_of(&mut source).ok().flatten();
        let file_ref = Arc::new(FileRef {
            key,
            path: path.to_owned(),
            head,
        });
        let max_line = self.flow.limits.max_line_bytes();
        let reader = match FileReader::new(source, file_ref, 0, max_line) {
            Ok(reader) => reader,
            Err(error) => {
                self.observer.read_error(path, &error);
                return None;
            }
        };
        let since = Instant::now();
        let tracked = TrackedFile::new(reader, metadata.len(), Status::Settling { since });
        self.files.insert(key, tracked);
        self.settle(key, false)
    }

    /// Decides where a newly opened file starts, unless it should settle a moment longer (the
    /// handle is held meanwhile, so a file replaced while settling is still read). `force`
    /// decides now (the file disappeared). Returns the progress marker of the start offset.
    pub(super) fn settle(&mut self, key: FileKey, force: bool) -> Option<Chunk> {
        let file = self.files.get_mut(&key)?;
        let path = file.path().to_owned();
        let mut reader = file.reader.take()?;
        let metadata = reader.file().metadata().ok();
        let head = fingerprint::head_of(reader.source()).ok().flatten();
        let resumed = self.resume.files.contains_key(&key);
        let wait = !force
            && !resumed
            && metadata
                .as_ref()
                .is_some_and(|m| self.is_settling(reader.source(), m, head));
        let file = self.files.get_mut(&key).expect("taken from it above");
        if wait {
            file.reader = Some(reader);
            return None;
        }
        let size = metadata.map_or(0, |m| m.len());
        let start = self.decide_start(reader.source(), key, &path, size, head);
        if reader.rewind(start.offset).is_err()
            || (start.discard && reader.discard_to_end().is_err())
        {
            self.observer.read_error(
                &path,
                &std::io::Error::other("cannot seek to the start offset"),
            );
        }
        let offset = reader.consumed();
        let mark = mark_before(reader.source(), offset);
        self.observer.file_added(key, &path, offset, start.reason);
        let file = self.files.get_mut(&key).expect("taken from it above");
        file.reader = Some(reader);
        file.update_ref(None, head);
        file.status = start.status;
        file.last_mark = mark;
        file.dirty = true;
        if matches!(start.status, Status::CopyOf { .. }) {
            return None; // its start is decided when the original is finished
        }
        Some(Chunk {
            file: file.file_ref.clone(),
            mark,
            data: Vec::new(),
            lines: Vec::new(),
            start_offset: offset,
            end_offset: offset,
            released: false,
        })
    }

    /// A file just written and too short to tell whether it is a copy being made (logrotate's
    /// copy, gzip compressing a rotation) waits a moment: deciding now could ship a copy again.
    fn is_settling(
        &self,
        source: &mut Source,
        metadata: &Metadata,
        head: Option<Fingerprint>,
    ) -> bool {
        // The change time, not the modification time: gzip and cp -p copy the original's mtime.
        let young = changed_at(metadata)
            .elapsed()
            .map_or(true, |age| age < SETTLE_TIME);
        if !young {
            return false;
        }
        if source.is_compressed() {
            return true;
        }
        let n = head.map_or(0, |h| h.len as usize);
        if n as u64 >= fingerprint::HEAD_BYTES {
            return false;
        }
        if n < identify::MIN_COPY_HEAD as usize {
            return true;
        }
        let mut prefix = vec![0; n];
        if source.read_at(0, &mut prefix).ok() != Some(n) {
            return true;
        }
        self.files.values().any(|f| f.starts_with(&prefix))
    }

    fn report_open_error(&mut self, path: &Path, metadata: &Metadata, error: std::io::Error) {
        if error.kind() == std::io::ErrorKind::NotFound {
            // Seen by the scan, gone before it could be opened: physically lost.
            self.observer.data_lost(
                path,
                &Loss::range("deleted_before_read", 0..metadata.len()),
                "the file was deleted before edgeship could open it",
            );
        } else if self.reported_errors.insert(path.to_owned()) {
            self.observer.read_error(path, &error);
        }
    }

    fn decide_start(
        &mut self,
        source: &mut Source,
        key: FileKey,
        path: &Path,
        size: u64,
        head: Option<Fingerprint>,
    ) -> Start {
        if let Some(known) = self.resume.files.remove(&key) {
            return self.check_resume(source, size, &known);
        }
        if let Some(start) = head.and_then(|_| self.match_copy(source, key, path)) {
            return start;
        }
        match (self.first_scan, self.flow.start_at) {
            (true, StartAt::End) if source.is_compressed() => {
                Start::discard("no checkpoint, start_at = \"end\" (compressed file skipped)")
            }
            (true, StartAt::End) => Start::at(size, "no checkpoint, start_at = \"end\""),
            (true, StartAt::Beginning) => Start::at(0, "no checkpoint, start_at = \"beginning\""),
            (false, _) => Start::at(0, "new file"),
        }
    }

    fn check_resume(&mut self, source: &mut Source, size: u64, known: &KnownFile) -> Start {
        let checked = identify::check_checkpoint(source, size, known).unwrap_or(Checked::Resume);
        let (reason, detail) = match checked {
            Checked::Resume => return Start::at(known.offset, "resuming from checkpoint"),
            Checked::Reused => (
                "inode_reused",
                "the file was replaced while edgeship was stopped (its inode now holds other content); reading the new file from the start",
            ),
            Checked::Truncated => (
                "truncated_while_stopped",
                "the file was truncated while edgeship was stopped; reading it from the start",
            ),
            Checked::Rewritten => (
                "rewritten_while_stopped",
                "the bytes before the checkpoint changed (truncated and written again while edgeship was stopped); reading it from the start",
            ),
        };
        if checked == Checked::Reused {
            self.report_gone(known);
        } else {
            let loss = Loss {
                reason,
                from: known.offset,
                to: None,
            };
            self.observer.data_lost(&known.path, &loss, detail);
        }
        Start::at(0, detail)
    }

    /// A new file whose head is that of a file being read or recently finished is a copy.
    fn match_copy(&mut self, source: &mut Source, key: FileKey, path: &Path) -> Option<Start> {
        let mut candidates: Vec<(FileKey, Fingerprint)> = self
            .files
            .values()
            .filter(|f| f.key() != key)
            .filter(|f| !matches!(f.status, Status::CopyOf { .. } | Status::Settling { .. }))
            .filter_map(|f| Some((f.key(), f.file_ref.head?)))
            .collect();
        let tracked = candidates.len();
        candidates.extend(
            self.finished
                .iter()
                .rev()
                .filter_map(|f| Some((f.key, f.head?))),
        );
        let original = identify::find_original(source, &candidates).ok()??;
        let position = candidates.iter().position(|(k, _)| *k == original)?;
        if position < tracked {
            return Some(Start {
                offset: 0,
                discard: false,
                reason: "same content as a file being read: waiting until it is finished",
                status: Status::CopyOf {
                    original,
                    since: Instant::now(),
                },
            });
        }
        let finished = self.finished.iter().rev().find(|f| f.key == original)?;
        Some(continue_copy(
            self.observer.as_ref(),
            source,
            path,
            finished,
        ))
    }

    /// A waiting copy proceeds once its original is finished, or after the copy wait is over
    /// (then the original is still being read in full, and the copy adds nothing).
    pub(super) fn resolve_copy(&mut self, key: FileKey) {
        let Some(Status::CopyOf { original, since }) = self.files.get(&key).map(|f| f.status)
        else {
            return;
        };
        let finished = self.finished_original_of(key, original);
        let wait = COPY_WAIT_MIN.max(self.flow.scan_interval * 2);
        let original_tracked = self.files.contains_key(&original);
        let observer = self.observer.clone();
        let file = self.files.get_mut(&key).expect("checked above");
        let path = file.path().to_owned();
        let Some(reader) = file.reader.as_mut() else {
            return;
        };
        let (offset, reason) = match finished {
            Some(original) => {
                let start = continue_copy(observer.as_ref(), reader.source(), &path, &original);
                let _ = reader.rewind(start.offset);
                if start.discard {
                    let _ = reader.discard_to_end();
                }
                (reader.consumed(), start.reason)
            }
            None if !original_tracked || since.elapsed() >= wait => {
                let _ = reader.discard_to_end();
                (
                    reader.consumed(),
                    "copy of a file still being read in full: skipped",
                )
            }
            None => return,
        };
        observer.file_added(key, &path, offset, reason);
        let file = self.files.get_mut(&key).expect("checked above");
        file.status = Status::Live;
        file.dirty = true;
        let marker = Chunk {
            file: file.file_ref.clone(),
            mark: None,
            data: Vec::new(),
            lines: Vec::new(),
            start_offset: offset,
            end_offset: offset,
            released: false,
        };
        let _ = self.send(marker);
    }

    /// The newest finished incarnation of `original` whose head the copy `key` starts with
    /// (a file truncated several times has one finished entry per truncation).
    fn finished_original_of(&mut self, key: FileKey, original: FileKey) -> Option<KnownFile> {
        let candidates: Vec<KnownFile> = self
            .finished
            .iter()
            .rev()
            .filter(|f| f.key == original)
            .cloned()
            .collect();
        let reader = self.files.get_mut(&key)?.reader.as_mut()?;
        candidates.into_iter().find(|f| {
            let Some(head) = f.head else {
                return false;
            };
            identify::find_original(reader.source(), &[(f.key, head)])
                .is_ok_and(|found| found.is_some())
        })
    }

    /// Closes the least recently read idle live file to free a descriptor.
    fn make_room(&mut self) -> bool {
        let idle = self
            .files
            .values()
            .filter(|f| f.is_open() && f.status == Status::Live && f.at_eof && !f.dirty)
            .min_by_key(|f| f.last_read)
            .map(|f| f.key());
        match idle {
            Some(key) => {
                self.files.get_mut(&key).expect("listed").park();
                true
            }
            None => false,
        }
    }

    /// Parked files that changed are opened again, as descriptors allow.
    fn reopen_parked(&mut self) {
        let wanted: Vec<FileKey> = self
            .files
            .values()
            .filter(|f| !f.is_open() && f.dirty && f.status == Status::Live)
            .map(|f| f.key())
            .collect();
        let max_line = self.flow.limits.max_line_bytes();
        for key in wanted {
            if self.open_count() >= self.flow.max_open_files && !self.make_room() {
                return;
            }
            let file = self.files.get_mut(&key).expect("listed");
            match file.unpark(max_line) {
                Ok(true) => file.at_eof = false,
                // Replaced under the same name: the next scan finds the new file.
                Ok(false) | Err(_) => {
                    let file = self.files.remove(&key).expect("listed");
                    self.observer
                        .file_released(key, file.path(), "replaced while closed");
                }
            }
        }
    }

    /// Watches the directories holding matched files, the literal roots of the patterns (to
    /// see new files), and the directories of symlink targets; maps event paths to files.
    fn refresh_watches(&mut self, matched: &BTreeSet<PathBuf>) {
        self.by_path.clear();
        let mut dirs = BTreeSet::new();
        for pattern in &self.flow.paths {
            let root = discovery::literal_root(pattern);
            if root.is_dir() {
                dirs.insert(root);
            }
        }
        for path in matched {
            let Ok(metadata) = std::fs::metadata(path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            for name in [Some(path.clone()), std::fs::canonicalize(path).ok()]
                .into_iter()
                .flatten()
            {
                if let Some(dir) = name.parent() {
                    dirs.insert(dir.to_owned());
                }
                self.by_path.insert(name, key);
            }
        }
        if !self.watcher.is_active() {
            return;
        }
        if let Err(reason) = self.watcher.watch(&dirs) {
            self.observer.watch_degraded(&reason);
        }
    }
}

/// Starts a copy where its original ended, if the bytes before that point agree. A copy that
/// ends before that point (the original got more lines between the copy and its truncation,
/// and we read them from the original) holds nothing new: it is skipped to its end.
fn continue_copy(
    observer: &dyn TailObserver,
    source: &mut Source,
    path: &Path,
    original: &KnownFile,
) -> Start {
    let agrees = match original.mark {
        None => Some(true),
        Some(mark) => identify::compare_mark(source, &mark).ok().flatten(),
    };
    match agrees {
        Some(true) => {
            observer.copy_recognised(path, &original.path, original.offset);
            Start::at(original.offset, "copy of a file already shipped")
        }
        None => {
            observer.copy_recognised(path, &original.path, original.offset);
            Start::discard("copy of a file already shipped, shorter than what was shipped")
        }
        Some(false) => Start::at(0, "same head as a shipped file but different content"),
    }
}

/// A file found again under a matching path: follow renames, note growth.
fn note_seen(file: &mut TrackedFile, path: &Path, metadata: &Metadata) {
    if file.path() != path && !is_same_name_of(file.path(), path) {
        file.update_ref(Some(path), None);
    }
    if metadata.len() != file.seen_size {
        file.dirty = true;
        file.seen_size = metadata.len();
    }
}

/// Two matching names for one file (a symlink and its target): keep the first.
fn is_same_name_of(current: &Path, other: &Path) -> bool {
    current.exists() && std::fs::canonicalize(current).ok() == std::fs::canonicalize(other).ok()
}

fn changed_at(metadata: &Metadata) -> std::time::SystemTime {
    use std::os::unix::fs::MetadataExt;
    let since_epoch = Duration::new(
        metadata.ctime().max(0) as u64,
        metadata.ctime_nsec().clamp(0, 999_999_999) as u32,
    );
    std::time::UNIX_EPOCH + since_epoch
}

fn release_marker(known: &KnownFile) -> Chunk {
    Chunk {
        file: Arc::new(FileRef {
            key: known.key,
            path: known.path.clone(),
            head: known.head,
        }),
        mark: known.mark,
        data: Vec::new(),
        lines: Vec::new(),
        start_offset: known.offset,
        end_offset: known.offset,
        released: true,
    }
}

/// The mark at `offset`, read from the file (plain files only: cheap).
fn mark_before(source: &mut Source, offset: u64) -> Option<Mark> {
    if offset == 0 || source.is_compressed() {
        return None;
    }
    let len = offset.min(fingerprint::MARK_BYTES);
    let mut buf = vec![0; len as usize];
    let n = source.read_at(offset - len, &mut buf).ok()?;
    (n == buf.len()).then(|| Mark::ending(offset, &buf))
}

#[derive(Debug, Clone, Copy)]
struct Start {
    offset: u64,
    /// Read and drop everything (a compressed file at first start with `start_at = "end"`).
    discard: bool,
    reason: &'static str,
    status: Status,
}

impl Start {
    fn at(offset: u64, reason: &'static str) -> Start {
        Start {
            offset,
            discard: false,
            reason,
            status: Status::Live,
        }
    }

    fn discard(reason: &'static str) -> Start {
        Start {
            discard: true,
            ..Start::at(0, reason)
        }
    }
}
