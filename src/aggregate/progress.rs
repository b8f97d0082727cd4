//! Offsets that a batch makes safe to checkpoint, per file.

use crate::tail::FileRef;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProgress {
    pub file: Arc<FileRef>,
    /// Everything before this offset is in this batch or an earlier one.
    pub offset: u64,
    /// The tailer let the file go: forget its checkpoint once this is applied.
    pub released: bool,
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
                existing.file = file.clone();
                existing.offset = offset;
                existing.released |= released;
            }
            None => self.0.push(FileProgress {
                file: file.clone(),
                offset,
                released,
            }),
        }
    }

    /// Moves everything from `other` into `self`; `other` is newer.
    pub fn absorb(&mut self, other: &mut Progress) {
        for p in other.0.drain(..) {
            self.advance(&p.file, p.offset, p.released);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FileProgress> {
        self.0.iter()
    }
}
