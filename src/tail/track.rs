//! Discovery side of the tail loop: which files the flow follows (new, renamed, rotated away,
//! rotated while stopped), descriptors under the cap, and inotify watches. Where reading starts
//! in a new file is decided in `start.rs`; reading and releasing live in [`super::tailer`].

use super::discovery;
use super::fingerprint::{self, Fingerprint};
use super::identify::{self, Found};
use super::reader::FileReader;
use super::source::Source;
use super::tailer::Tailer;
use super::tracked::{Status, TrackedFile};
use super::{Chunk, FileKey, FileRef, KnownFile, Loss};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

impl Tailer {
    /// Re-scans the globs. Returns a progress marker per newly tracked file so its starting
    /// offset is checkpointed even before a line arrives: otherwise a file started at its end
    /// and idle until a restart would have no checkpoint, and `start_at = "end"` would skip
    /// what was written while the agent was down.
    pub(super) fn scan(&mut self) -> Vec<Chunk> {
        let scan = discovery::scan(&self.settings.files);
        for (path, error) in &scan.errors {
            if self.reported_errors.insert(path.clone()) {
                self.observer.read_error(path, error);
            }
        }
        for (path, kind) in &scan.not_files {
            if self.reported_errors.insert(path.clone()) {
                self.observer.not_a_file(path, kind);
            }
        }
        let mut present: HashMap<FileKey, PathBuf> = HashMap::new();
        let mut new_files = Vec::new();
        self.set.by_path.clear();
        for path in &scan.files {
            let Ok(metadata) = std::fs::metadata(path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            self.set.by_path.insert(path.clone(), key);
            if present.insert(key, path.clone()).is_some() {
                continue; // the same file under two matching names (a symlink): read it once
            }
            match self.set.files.get_mut(&key) {
                Some(file) => {
                    note_seen(file, path, &metadata);
                    // Sizes move on while reading is blocked: lag_bytes must show it. (A
                    // compressed file's offsets count decompressed bytes: its size is no use.)
                    if !file
                        .reader
                        .as_mut()
                        .is_some_and(|r| r.source().is_compressed())
                    {
                        self.observer.file_size(key, metadata.len());
                    }
                }
                None => new_files.push((path.clone(), metadata)),
            }
        }
        self.note_missing(&present);
        let mut markers = Vec::new();
        if self.first_scan {
            markers.extend(self.resume_spooled());
            markers.extend(self.resume_rotated(&present));
            markers.extend(self.resume_unseen(&present));
        }
        for (path, metadata) in new_files {
            markers.extend(self.track_new(&path, &metadata));
        }
        self.first_scan = false;
        self.reopen_parked();
        self.refresh_watches(&scan);
        markers
    }

    /// Files no longer under a matching path start draining (or, if parked, are let go).
    fn note_missing(&mut self, present: &HashMap<FileKey, PathBuf>) {
        let now = Instant::now();
        let mut parked_gone = Vec::new();
        let vanished_settling: Vec<FileKey> = self
            .set
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
        for (key, file) in self.set.files.iter_mut() {
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
            let file = self.set.files.remove(&key).expect("listed above");
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
            .set
            .resume
            .files
            .values()
            .filter(|k| !present.contains_key(&k.key))
            .cloned()
            .collect();
        let mut markers = Vec::new();
        for known in missing {
            self.set.resume.files.remove(&known.key);
            let found = identify::find_rotated(&known);
            let renamed = matches!(found, Some(Found::Renamed(_)));
            let followed = (!renamed && self.follow_stale(&known, &mut markers))
                || self.follow_moved_to(found, &known, &mut markers);
            if !followed {
                self.report_gone(&known);
                self.set.remember_finished(known.clone()); // a copy may still turn up
            }
            if !self.set.files.contains_key(&known.key) {
                markers.push(release_marker(&known));
            }
        }
        markers
    }

    /// The checkpointed inode under a rotated name with other content (copytruncate or a
    /// truncation, new lines, then a rotation, all while stopped): started as a matched file
    /// with a stale checkpoint is, which reads it from the start and follows the old content
    /// into its copy, if there is one. `false` if the inode is not there.
    fn follow_stale(&mut self, known: &KnownFile, markers: &mut Vec<Chunk>) -> bool {
        // Born after the checkpoint: the inode was freed and reused by a new file, which
        // `resume_unseen` reads as one.
        let Some(path) = identify::find_inode(known)
            .filter(|path| !self.set.resume.created_since_checkpoint(path))
        else {
            return false;
        };
        let Ok(metadata) = std::fs::metadata(&path) else {
            return false;
        };
        // Under its old path: the old content's copy is searched beside it, and the live log
        // waits for that copy too.
        self.set.resume.files.insert(known.key, known.clone());
        markers.extend(self.track_new(&path, &metadata));
        let Some(file) = self.set.files.get_mut(&known.key) else {
            // Not open (no descriptor, or an error, reported): not matched, so not retried.
            self.set.resume.files.remove(&known.key);
            self.observer.data_lost(
                &path,
                &Loss::range("unread_rotation", 0..metadata.len()),
                "a rotation holding lines written while edgeship was stopped could not be opened; raise max_open_files or include the rotated names in `paths` (e.g. app.log*)",
            );
            return false;
        };
        file.status = Status::Rotated {
            since: Instant::now(),
        };
        file.origin = known.path.clone();
        true
    }

    /// First scan only: rotations of a live log created after the last checkpoint and rotated
    /// out of `paths` while the agent was stopped were never seen: they are read from the start.
    fn resume_unseen(&mut self, present: &HashMap<FileKey, PathBuf>) -> Vec<Chunk> {
        let mut known_heads: Vec<Fingerprint> = self
            .set
            .files
            .values()
            .filter_map(|f| f.file_ref.head)
            .collect();
        known_heads.extend(
            self.set
                .resume
                .files
                .values()
                .chain(&self.set.resume.finished)
                .filter_map(|k| k.head),
        );
        let mut markers = Vec::new();
        for (path, log) in identify::rotations_of(present.values()) {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            if self.settings.files.matches(&path)
                || self.set.files.contains_key(&key)
                || self.set.resume.files.contains_key(&key)
                || !self.set.resume.created_since_checkpoint(&path)
                || identify::starts_with_any(&path, &known_heads)
            {
                continue;
            }
            markers.extend(self.track_new(&path, &metadata));
            if let Some(file) = self.set.files.get_mut(&key) {
                known_heads.extend(file.file_ref.head); // its compressed copy is not another file
                file.origin = log; // the live log waits until this older part is read
                if file.status == Status::Live {
                    file.status = Status::Rotated {
                        since: Instant::now(),
                    };
                }
            }
        }
        markers
    }

    /// Follows a checkpointed file to where it went while the agent was stopped (`found`, by
    /// [`identify::find_rotated`]): renamed (read on under its new name), or copied or
    /// compressed by a rotation (read from the copy, from the checkpoint on). `false` if it is
    /// nowhere to be found.
    pub(super) fn follow_moved_to(
        &mut self,
        found: Option<Found>,
        known: &KnownFile,
        markers: &mut Vec<Chunk>,
    ) -> bool {
        let path = match found {
            None => return false,
            // A copy the flow matches is found by the scan, and continues from the checkpoint.
            Some(Found::Copy(path)) if self.settings.files.matches(&path) => {
                self.set.remember_finished(known.clone());
                return true;
            }
            Some(Found::Renamed(path) | Found::Copy(path)) => path,
        };
        let Ok(metadata) = std::fs::metadata(&path) else {
            return false;
        };
        let key = FileKey::of(&metadata); // the checkpointed key when renamed
        let resume = KnownFile {
            key,
            path: path.clone(),
            ..known.clone()
        };
        self.set.resume.files.insert(key, resume);
        markers.extend(self.track_new(&path, &metadata));
        let Some(file) = self.set.files.get_mut(&key) else {
            // Waiting for a descriptor: a scan finds it again if the flow matches it.
            let later = self.settings.files.matches(&path);
            if !later {
                self.set.resume.files.remove(&key);
            }
            return later;
        };
        file.status = Status::Rotated {
            since: Instant::now(),
        };
        file.origin = known.path.clone();
        true
    }

    pub(super) fn report_gone(&self, known: &KnownFile) {
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
        if self.set.open_count() >= self.settings.max_open_files && !self.make_room() {
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
        let max_line = self.settings.max_line_bytes;
        let reader = match FileReader::new(source, file_ref, 0, max_line) {
            Ok(reader) => reader,
            Err(error) => {
                self.observer.read_error(path, &error);
                return None;
            }
        };
        let since = Instant::now();
        let status = Status::Settling {
            since,
            first_scan: self.first_scan && !self.reused.contains(&key),
        };
        let tracked = TrackedFile::new(reader, metadata.len(), status);
        self.set.files.insert(key, tracked);
        let decided = self.settle(key, false);
        let file = &self.set.files[&key];
        if decided.is_none() && matches!(file.status, Status::Settling { .. }) {
            // Known from now on, even if the agent stops before deciding where it starts.
            return Some(super::start::marker(file.file_ref.clone(), 0, None));
        }
        decided
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

    /// Closes the least recently read live file with nothing known to be unread (its size when
    /// last seen is read) to free a descriptor; a later size change reopens it.
    fn make_room(&mut self) -> bool {
        let idle = self
            .set
            .files
            .values()
            .filter(|f| f.is_open() && f.status == Status::Live && !f.dirty)
            .filter(|f| f.read_position() >= f.seen_size)
            .min_by_key(|f| f.last_read)
            .map(|f| f.key());
        match idle {
            Some(key) => {
                self.set.files.get_mut(&key).expect("listed").park();
                true
            }
            None => false,
        }
    }

    /// Parked files that changed are opened again, as descriptors allow.
    pub(super) fn reopen_parked(&mut self) {
        let wanted: Vec<FileKey> = self
            .set
            .files
            .values()
            .filter(|f| !f.is_open() && f.dirty && f.status == Status::Live)
            .map(|f| f.key())
            .collect();
        let max_line = self.settings.max_line_bytes;
        for key in wanted {
            if self.set.open_count() >= self.settings.max_open_files && !self.make_room() {
                return;
            }
            let file = self.set.files.get_mut(&key).expect("listed");
            match file.unpark(max_line) {
                Ok(true) => file.at_eof = false,
                // Replaced under the same name: the next scan finds the new file.
                Ok(false) | Err(_) => {
                    let file = self.set.files.remove(&key).expect("listed");
                    self.observer
                        .file_released(key, file.path(), "replaced while closed");
                }
            }
        }
    }

    /// Watches the directories holding matched files, the literal roots of the patterns (to
    /// see new files), and the directories of symlink targets (whose events name the target).
    fn refresh_watches(&mut self, scan: &discovery::Scan) {
        let mut dirs: BTreeSet<PathBuf> = self
            .settings
            .files
            .paths
            .iter()
            .map(|pattern| discovery::literal_root(pattern))
            .filter(|root| root.is_dir())
            .collect();
        dirs.extend(
            scan.files
                .iter()
                .filter_map(|p| p.parent().map(Path::to_owned)),
        );
        for link in &scan.symlinks {
            let (Some(key), Ok(target)) = (
                self.set.by_path.get(link).copied(),
                std::fs::canonicalize(link),
            ) else {
                continue;
            };
            if let Some(dir) = target.parent() {
                dirs.insert(dir.to_owned());
            }
            self.set.by_path.insert(target, key);
        }
        if !self.watcher.is_active() {
            return;
        }
        if let Err(reason) = self.watcher.watch(&dirs) {
            self.observer.watch_degraded(&reason);
        }
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

pub(super) fn release_marker(known: &KnownFile) -> Chunk {
    Chunk {
        file: Arc::new(FileRef {
            key: known.key,
            path: known.path.clone(),
            head: known.head,
        }),
        mark: known.mark,
        data: bytes::Bytes::new(),
        lines: Vec::new(),
        start_offset: known.offset,
        end_offset: known.offset,
        released: true,
    }
}
