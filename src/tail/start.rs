//! Starting a newly found file: gathering what is known about it (its checkpoint checked
//! against the content, the file it may be a copy of) for the rule in `start_rule.rs`, and
//! carrying out the decision (seeking, reporting, waiting for an original).
//!
//! A file just written and too short to tell whether it is a copy in progress settles first.

use super::fingerprint::{self, Fingerprint, Mark, ReadAt};
use super::identify::{self, Checked};
use super::source::Source;
use super::start_rule::{self, CopyOf, Decision, Facts};
use super::tailer::Tailer;
use super::tracked::Status;
use super::{Chunk, FileKey, FileRef, KnownFile, Loss};
use crate::config::StartAt;
use std::fs::Metadata;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a copy waits for its original to be truncated or let go before it is treated as a
/// plain duplicate (e.g. `copy` without truncate, or a file copied by hand).
const COPY_WAIT_MIN: Duration = Duration::from_secs(10);
/// A new file changed more recently than this may still be being written by a copy.
const SETTLE_TIME: Duration = Duration::from_secs(1);

impl Tailer {
    /// Decides where a newly opened file starts, unless it should settle a moment longer (the
    /// handle is held meanwhile, so a file replaced while settling is still read). `force`
    /// decides now (the file disappeared). Returns the progress marker of the start offset.
    pub(super) fn settle(&mut self, key: FileKey, force: bool) -> Option<Chunk> {
        let file = self.set.files.get_mut(&key)?;
        let path = file.path().to_owned();
        let mut reader = file.reader.take()?;
        let metadata = reader.file().metadata().ok();
        let head = fingerprint::head_of(reader.source()).ok().flatten();
        let resumed = self.set.resume.files.contains_key(&key);
        let wait = !force
            && !resumed
            && metadata
                .as_ref()
                .is_some_and(|m| self.is_settling(reader.source(), m, head));
        let file = self.set.files.get_mut(&key).expect("taken from it above");
        if wait {
            file.reader = Some(reader);
            return None;
        }
        let size = metadata.map_or(0, |m| m.len());
        let first_scan = match self.set.files[&key].status {
            Status::Settling { first_scan, .. } => first_scan,
            _ => self.first_scan,
        };
        let start = self.decide_start(reader.source(), key, &path, size, head, first_scan);
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
        let file = self.set.files.get_mut(&key).expect("taken from it above");
        file.reader = Some(reader);
        file.update_ref(None, head);
        file.status = start.status;
        file.last_mark = mark;
        // Nothing to read yet when starting at the end (start_at = "end"): the file may be
        // closed under the descriptor cap right away.
        file.dirty = offset < size || start.status != Status::Live;
        if matches!(start.status, Status::CopyOf { .. }) {
            return None; // its start is decided when the original is finished
        }
        Some(marker(file.file_ref.clone(), offset, mark))
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
        self.set.files.values().any(|f| f.starts_with(&prefix))
    }

    fn decide_start(
        &mut self,
        source: &mut Source,
        key: FileKey,
        path: &Path,
        size: u64,
        head: Option<Fingerprint>,
        first_scan: bool,
    ) -> Start {
        let known = self.set.resume.files.remove(&key);
        // A checkpoint at 0: nothing shipped from it yet, it may still be a copy.
        let copy = match &known {
            Some(known) if known.offset > 0 => None,
            _ => head.and_then(|_| self.find_copy(source, key)),
        };
        let checkpoint = known.as_ref().map(|known| {
            let checked =
                identify::check_checkpoint(source, size, known).unwrap_or(Checked::Resume);
            (known.offset, checked)
        });
        let end_matters = known.is_none() && first_scan && self.settings.start_at == StartAt::End;
        let facts = Facts {
            first_scan,
            start_at: self.settings.start_at,
            size,
            compressed: source.is_compressed(),
            checkpoint,
            copy_of: copy.as_ref().map(|(of, _)| *of),
            created_since_checkpoint: end_matters && self.set.resume.created_since_checkpoint(path),
            checkpoints_unreadable: self.set.resume.checkpoints_unreadable,
        };
        let decision = start_rule::decide(&facts);
        if decision.is_recognised_copy()
            && let Some((_, Some(original))) = &copy
        {
            self.observer
                .copy_recognised(path, &original.path, original.offset);
        }
        self.carry_out(decision, &facts, path, known.as_ref())
    }

    fn carry_out(
        &mut self,
        decision: Decision,
        facts: &Facts,
        path: &Path,
        known: Option<&KnownFile>,
    ) -> Start {
        match decision {
            Decision::Resume(offset) => Start::at(offset, "resuming from checkpoint"),
            Decision::Stale(checked) => {
                self.stale_checkpoint(checked, known.expect("stale: it has a checkpoint"))
            }
            Decision::WaitFor(original) => Start {
                offset: 0,
                discard: false,
                reason: "same content as a file being read: waiting until it is finished",
                status: Status::CopyOf {
                    original,
                    since: Instant::now(),
                },
            },
            Decision::At(offset, reason) => Start::at(offset, reason),
            Decision::Discard(reason) => Start::discard(reason),
            Decision::SkipUnverified => {
                self.observer.skipped_unverified(path, facts.size);
                if facts.compressed {
                    Start::discard(
                        "checkpoint file unreadable, start_at = \"end\" (compressed file skipped, counted)",
                    )
                } else {
                    Start::at(
                        facts.size,
                        "checkpoint file unreadable, start_at = \"end\" (skipped bytes counted)",
                    )
                }
            }
        }
    }

    /// The checkpoint no longer describes the file's content.
    fn stale_checkpoint(&mut self, checked: Checked, known: &KnownFile) -> Start {
        let (reason, detail) = match checked {
            Checked::Resume => unreachable!("a matching checkpoint is resumed"),
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
        // The inode was freed and reused, or the file truncated, while the agent was stopped:
        // the old content may live on in a rotation (`app.log.2.gz`, a copytruncate copy).
        // Only a copy: the same inode under another name is the file being decided (a hard link).
        let copy = identify::find_rotated(known).filter(|f| matches!(f, identify::Found::Copy(_)));
        let mut moved = Vec::new();
        if self.follow_moved_to(copy, known, &mut moved) {
            for marker in moved {
                self.queue(marker);
            }
            return Start::at(
                0,
                "new content at a checkpointed inode (the old content was found in a rotation)",
            );
        }
        // A copy may still turn up and continue from the checkpoint.
        self.set.remember_finished(known.clone());
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

    /// The file (being read, or recently finished) whose head a new file starts with; for a
    /// finished one, also the original itself.
    fn find_copy(
        &mut self,
        source: &mut Source,
        key: FileKey,
    ) -> Option<(CopyOf, Option<KnownFile>)> {
        let (candidates, tracked) = self.set.copy_candidates(key);
        let original = identify::find_original(source, &candidates).ok()??;
        let position = candidates.iter().position(|(k, _)| *k == original)?;
        if position < tracked {
            return Some((CopyOf::BeingRead(original), None));
        }
        let finished = self.set.finished_entry(original)?;
        Some((finished_copy(source, finished), Some(finished.clone())))
    }

    /// A waiting copy proceeds once its original is finished, or after the copy wait is over
    /// (then the original is still being read in full, and the copy adds nothing).
    pub(super) fn resolve_copy(&mut self, key: FileKey) {
        let Some(Status::CopyOf { original, since }) = self.set.files.get(&key).map(|f| f.status)
        else {
            return;
        };
        let finished = self.finished_original_of(key, original);
        let wait = COPY_WAIT_MIN.max(self.settings.scan_interval * 2);
        let original_tracked = self.set.files.contains_key(&original);
        // The wait ends only once the original is read to its end and not truncated: while
        // edgeship is behind (AWS slow), a truncation may not have been noticed yet.
        let original_caught_up = self.set.files.get(&original).is_some_and(|f| {
            let Some(reader) = f.reader.as_ref() else {
                return false;
            };
            let size = reader.file().metadata().map_or(0, |m| m.len());
            // A compressed file's size says nothing about decompressed offsets.
            f.at_eof && (reader.is_compressed() || size >= f.read_position())
        });
        let observer = self.observer.clone();
        let file = self.set.files.get_mut(&key).expect("checked above");
        let path = file.path().to_owned();
        let Some(reader) = file.reader.as_mut() else {
            return;
        };
        let (offset, reason) = match finished {
            Some(original) => {
                let decision = start_rule::copy_start(finished_copy(reader.source(), &original));
                if decision.is_recognised_copy() {
                    observer.copy_recognised(&path, &original.path, original.offset);
                }
                let (offset, discard, reason) = match decision {
                    Decision::At(offset, reason) => (offset, false, reason),
                    Decision::Discard(reason) => (0, true, reason),
                    other => unreachable!("a finished original gives a start: {other:?}"),
                };
                let _ = reader.rewind(offset);
                if discard {
                    let _ = reader.discard_to_end();
                }
                (reader.consumed(), reason)
            }
            None if !original_tracked || (original_caught_up && since.elapsed() >= wait) => {
                let _ = reader.discard_to_end();
                (
                    reader.consumed(),
                    "copy of a file still being read in full: skipped",
                )
            }
            None => return,
        };
        observer.file_added(key, &path, offset, reason);
        let file = self.set.files.get_mut(&key).expect("checked above");
        file.status = Status::Live;
        file.dirty = true;
        let marker = Chunk {
            file: file.file_ref.clone(),
            mark: None,
            data: bytes::Bytes::new(),
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
            .set
            .finished
            .iter()
            .rev()
            .filter(|f| f.key == original)
            .cloned()
            .collect();
        let reader = self.set.files.get_mut(&key)?.reader.as_mut()?;
        candidates.into_iter().find(|f| {
            let Some(head) = f.head else {
                return false;
            };
            identify::find_original(reader.source(), &[(f.key, head)])
                .is_ok_and(|found| found.is_some())
        })
    }
}

/// A copy of the finished `original`: whether its bytes before the original's end agree.
fn finished_copy(source: &mut Source, original: &KnownFile) -> CopyOf {
    let agrees = match original.mark {
        None => Some(true),
        Some(mark) => identify::compare_mark(source, &mark).ok().flatten(),
    };
    CopyOf::Finished {
        offset: original.offset,
        agrees,
    }
}

/// A chunk without lines that records where reading starts in a file.
pub(super) fn marker(file: Arc<FileRef>, offset: u64, mark: Option<Mark>) -> Chunk {
    Chunk {
        file,
        mark,
        data: bytes::Bytes::new(),
        lines: Vec::new(),
        start_offset: offset,
        end_offset: offset,
        released: false,
    }
}

fn changed_at(metadata: &Metadata) -> std::time::SystemTime {
    use std::os::unix::fs::MetadataExt;
    let since_epoch = Duration::new(
        metadata.ctime().max(0) as u64,
        metadata.ctime_nsec().clamp(0, 999_999_999) as u32,
    );
    std::time::UNIX_EPOCH + since_epoch
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
