//! The files a tailer knows: those it tracks (by identity, and by the paths events name),
//! released ones whose handle waits for their end to be acknowledged, recently finished ones
//! (to recognise their copies), and the checkpoints of files not found yet this run.

use super::fingerprint::Fingerprint;
use super::reader::FileReader;
use super::tracked::{Status, TrackedFile};
use super::{FileKey, KnownFile, Resume};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Recently finished files remembered per flow (to recognise their compressed copies).
const FINISHED_KEPT: usize = 1000;

pub struct FileSet {
    pub files: BTreeMap<FileKey, TrackedFile>,
    /// Tracked files by the paths events may name (as matched, and symlinks resolved).
    pub by_path: HashMap<PathBuf, FileKey>,
    /// Released files whose handle stays open until their end is acknowledged.
    pub closing: Vec<(FileKey, FileReader)>,
    /// Files read completely and let go (from the checkpoints and from this run), oldest
    /// first.
    pub finished: Vec<KnownFile>,
    /// Checkpointed files not found yet this run (each is taken out when found).
    pub resume: Resume,
}

impl FileSet {
    pub fn new(resume: Resume) -> FileSet {
        FileSet {
            files: BTreeMap::new(),
            by_path: HashMap::new(),
            closing: Vec::new(),
            finished: resume.finished.clone(),
            resume,
        }
    }

    /// Remembers a finished file (one without a head could not be recognised: not kept).
    pub fn remember_finished(&mut self, known: KnownFile) {
        if known.head.is_none() {
            return;
        }
        self.finished.push(known);
        if self.finished.len() > FINISHED_KEPT {
            self.finished.remove(0);
        }
    }

    /// Descriptors in use: open tracked files and released ones awaiting acknowledgement.
    pub fn open_count(&self) -> usize {
        self.closing.len() + self.files.values().filter(|f| f.is_open()).count()
    }

    /// The heads a new file `key` may be a copy of, and how many of them (the first ones)
    /// belong to files being read; the rest are finished files, newest first.
    pub fn copy_candidates(&self, key: FileKey) -> (Vec<(FileKey, Fingerprint)>, usize) {
        let mut candidates: Vec<(FileKey, Fingerprint)> = self
            .files
            .values()
            .filter(|f| f.key() != key)
            .filter(|f| !matches!(f.status, Status::CopyOf { .. } | Status::Settling { .. }))
            .filter_map(|f| Some((f.key(), f.file_ref.head?)))
            .collect();
        // Checkpointed files not yet found this run count as being read: they may be the
        // original whose copy this is (copytruncate while the agent was stopped).
        candidates.extend(
            self.resume
                .files
                .values()
                .filter(|k| k.key != key)
                .filter_map(|k| Some((k.key, k.head?))),
        );
        let being_read = candidates.len();
        candidates.extend(
            self.finished
                .iter()
                .rev()
                .filter_map(|f| Some((f.key, f.head?))),
        );
        (candidates, being_read)
    }

    /// The newest finished entry of `key`.
    pub fn finished_entry(&self, key: FileKey) -> Option<&KnownFile> {
        self.finished.iter().rev().find(|f| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(inode: u64, head: bool) -> KnownFile {
        KnownFile {
            key: FileKey { dev: 1, inode },
            path: format!("/l/{inode}.log").into(),
            offset: 10,
            head: head.then(|| Fingerprint::of(format!("head {inode}").as_bytes())),
            mark: None,
        }
    }

    #[test]
    fn finished_files_are_bounded_and_headless_ones_not_kept() {
        let mut set = FileSet::new(Resume::default());
        set.remember_finished(known(1, false));
        assert!(set.finished.is_empty());
        for inode in 0..(FINISHED_KEPT as u64 + 5) {
            set.remember_finished(known(inode, true));
        }
        assert_eq!(set.finished.len(), FINISHED_KEPT);
        assert_eq!(set.finished[0].key.inode, 5, "the oldest go first");
        assert_eq!(
            set.finished_entry(FileKey { dev: 1, inode: 7 })
                .map(|f| f.offset),
            Some(10)
        );
    }

    #[test]
    fn checkpointed_files_not_found_yet_count_as_being_read() {
        let mut resume = Resume::default();
        let waiting = known(3, true);
        resume.files.insert(waiting.key, waiting);
        resume.finished.push(known(4, true));
        let set = FileSet::new(resume);
        let (candidates, being_read) = set.copy_candidates(FileKey { dev: 1, inode: 9 });
        assert_eq!(being_read, 1);
        let inodes: Vec<u64> = candidates.iter().map(|(k, _)| k.inode).collect();
        assert_eq!(inodes, vec![3, 4]);
        let (candidates, _) = set.copy_candidates(FileKey { dev: 1, inode: 3 });
        assert_eq!(candidates.len(), 1, "a file is no copy of itself");
    }
}
