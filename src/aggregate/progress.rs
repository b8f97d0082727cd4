//! Offsets that a batch makes safe to checkpoint, per file.

use crate::tail::{FileRef, Mark};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProgress {
    pub file: Arc<FileRef>,
    /// Everything before this offset is in this batch or an earlier one.
    pub offset: u64,
    /// The tailer let the file go: forget its checkpoint once this is applied.
    pub released: bool,
    /// The bytes before some offset up to `offset` (validates the checkpoint on resume).
    pub mark: Option<Mark>,
}

/// A small map from file to progress; batches touch few files, so a vector is enough.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress(Vec<FileProgress>);

impl Progress {
    /// Records that `file` is covered up to `offset`. Calls come in read order, so the latest
    /// wins (after a truncation the offset legitimately goes down).
    pub fn advance(&mut self, file: &Arc<FileRef>, offset: u64, released: bool) {
        match self.0.iter_mut().find(|p| p.file.key == file.key) {
            Some(existing) => {
                if Arc::ptr_eq(&existing.file, file) {
                    existing.released |= released;
                } else {
                    // Another version of the file (renamed, truncated, or a new file on a
                    // reused inode after a release): only its own release counts.
                    existing.file = file.clone();
                    existing.released = released;
                }
                existing.offset = offset;
                if existing.mark.is_some_and(|m| m.at > offset) {
                    existing.mark = None; // truncated: the old mark no longer applies
                }
            }
            None => self.0.push(FileProgress {
                file: file.clone(),
                offset,
                released,
                mark: None,
            }),
        }
    }

    /// Records the mark at the end of a chunk (after its offset was advanced).
    pub fn mark(&mut self, file: &Arc<FileRef>, mark: Option<Mark>) {
        let Some(mark) = mark else {
            return;
        };
        if let Some(existing) = self.0.iter_mut().find(|p| p.file.key == file.key) {
            existing.mark = Some(mark);
        }
    }

    /// Moves everything from `other` into `self`; `other` is newer.
    pub fn absorb(&mut self, other: &mut Progress) {
        for p in other.0.drain(..) {
            self.advance(&p.file, p.offset, p.released);
            self.mark(&p.file, p.mark);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FileProgress> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::FileKey;

    fn version(path: &str) -> Arc<FileRef> {
        Arc::new(FileRef {
            key: FileKey { dev: 1, inode: 7 },
            path: path.into(),
            head: None,
        })
    }

    #[test]
    fn a_release_belongs_to_its_version_of_the_file() {
        let (old, reused) = (version("/l/app.log.1"), version("/l/app.log"));
        let mut progress = Progress::default();
        progress.advance(&old, 900, true);
        // A new file on the same inode, read in the same batch: it is live, not released.
        progress.advance(&reused, 40, false);
        let p = progress.iter().next().unwrap();
        assert!(!p.released && p.offset == 40 && Arc::ptr_eq(&p.file, &reused));
        // Within one version a release sticks.
        let mut progress = Progress::default();
        progress.advance(&old, 900, true);
        progress.advance(&old, 900, false);
        assert!(progress.iter().next().unwrap().released);
    }
}
