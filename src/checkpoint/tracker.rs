//! The low-water mark. Batches are numbered per flow in the order their lines were read; an
//! acknowledgement is applied only once every earlier batch of that flow has been applied, so a
//! newer batch that succeeds while an older one is still retrying cannot move a checkpoint past
//! undelivered lines (the Kinesis Agent's known loss window).

use super::{Ack, Checkpoints, CursorBook, FileCheckpoint};
use crate::aggregate::FileProgress;
use crate::aggregate::Progress;
use crate::tail::{FileKey, FileRef, Resume};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Finished files are remembered this long, and at most this many per flow: long enough for
/// `delaycompress` rotations to be recognised, short enough to stay small.
const FINISHED_KEEP_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
const FINISHED_PER_FLOW: usize = 1000;

#[derive(Default)]
struct FlowLedger {
    next_seq: u64,
    /// Acknowledged batches waiting for an older one.
    waiting: BTreeMap<u64, Progress>,
}

pub struct AckTracker {
    /// By flow instance: each run of a flow numbers its batches from 0.
    flows: HashMap<u64, FlowLedger>,
    checkpoints: Checkpoints,
    /// Cursor books of the sources that have them (journal flows), by flow and key.
    books: HashMap<(String, FileKey), Arc<CursorBook>>,
}

impl AckTracker {
    pub fn new(checkpoints: Checkpoints) -> AckTracker {
        AckTracker {
            flows: HashMap::new(),
            checkpoints,
            books: HashMap::new(),
        }
    }

    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// Where one flow resumes, as of every acknowledgement applied so far (a flow started on
    /// reload: what it skips was never followed by this run, so it is not unverified).
    pub fn resume(&self, flow: &str) -> Resume {
        Resume {
            checkpoints_unreadable: false,
            ..self.checkpoints.resume(flow)
        }
    }

    /// A file followed from `offset`: checkpointed there unless it already has a checkpoint.
    /// A source with `cursors` checkpoints them with its offsets from now on.
    pub fn follow(
        &mut self,
        flow: &str,
        file: &FileRef,
        offset: u64,
        cursors: Option<Arc<CursorBook>>,
    ) -> bool {
        let key = (flow.to_owned(), file.key);
        let cursor = cursors.as_ref().and_then(|book| book.take(offset));
        if let Some(book) = cursors {
            self.books.insert(key.clone(), book);
        }
        if let Some(existing) = self.checkpoints.files.get_mut(&key) {
            let moved = cursor.is_some() && existing.offset == offset;
            if moved {
                existing.cursor = cursor.map(|c| c.to_string());
            }
            return moved;
        }
        let now = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        self.checkpoints.files.insert(
            key,
            FileCheckpoint {
                flow: flow.to_owned(),
                path: file.path.clone(),
                dev: file.key.dev,
                inode: file.key.inode,
                offset,
                updated: now,
                head: file.head,
                mark: None,
                cursor: cursor.map(|c| c.to_string()),
            },
        );
        true
    }

    /// Records an acknowledgement; returns whether any checkpoint changed.
    pub fn apply(&mut self, ack: Ack) -> bool {
        let ledger = self.flows.entry(ack.instance).or_default();
        ledger.waiting.insert(ack.seq, ack.progress);
        let mut ready = Vec::new();
        while let Some(progress) = ledger.waiting.remove(&ledger.next_seq) {
            ready.push(progress);
            ledger.next_seq += 1;
        }
        let mut changed = false;
        for progress in ready {
            changed |= apply_progress(&mut self.checkpoints, &self.books, &ack.flow, &progress);
        }
        changed
    }
}

fn apply_progress(
    checkpoints: &mut Checkpoints,
    books: &HashMap<(String, FileKey), Arc<CursorBook>>,
    flow: &str,
    progress: &Progress,
) -> bool {
    let mut changed = false;
    let now = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
    for p in progress.iter() {
        let key = (flow.to_owned(), p.file.key);
        let entry = checkpoints
            .files
            .entry(key.clone())
            .or_insert_with(|| FileCheckpoint {
                flow: flow.to_owned(),
                path: p.file.path.clone(),
                dev: p.file.key.dev,
                inode: p.file.key.inode,
                offset: 0,
                updated: now.clone(),
                head: None,
                mark: None,
                cursor: None,
            });
        changed |= update_entry(entry, p, &now);
        if let Some(cursor) = books.get(&key).and_then(|book| book.take(p.offset)) {
            entry.cursor = Some(cursor.to_string());
        }
        if p.released {
            let done = checkpoints.files.remove(&key).expect("inserted above");
            finish(&mut checkpoints.finished, done);
            changed = true;
        }
    }
    changed
}

fn update_entry(entry: &mut FileCheckpoint, p: &FileProgress, now: &str) -> bool {
    let mark = p.mark.filter(|m| m.at <= p.offset).or(entry.mark);
    let mark = mark.filter(|m| m.at <= p.offset);
    let head = p.file.head.or(entry.head);
    let head = if p.offset < entry.offset {
        p.file.head
    } else {
        head
    };
    let changed = entry.offset != p.offset
        || entry.path != p.file.path
        || entry.head != head
        || entry.mark != mark;
    if changed {
        entry.offset = p.offset;
        entry.path = p.file.path.clone();
        entry.head = head;
        entry.mark = mark;
        entry.updated = now.to_owned();
    }
    changed
}

/// Moves a released file to the finished list; drops entries past their keep time or count.
fn finish(finished: &mut Vec<FileCheckpoint>, done: FileCheckpoint) {
    let flow = done.flow.clone();
    if done.head.is_some() {
        finished.push(done);
    }
    let cutoff =
        humantime::format_rfc3339_micros(SystemTime::now() - FINISHED_KEEP_FOR).to_string();
    // RFC 3339 UTC timestamps of one format sort as text.
    finished.retain(|f| f.updated >= cutoff);
    let of_flow = finished.iter().filter(|f| f.flow == flow).count();
    let mut excess = of_flow.saturating_sub(FINISHED_PER_FLOW);
    finished.retain(|f| {
        let drop = excess > 0 && f.flow == flow;
        excess -= usize::from(drop);
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::{FileKey, FileRef};
    use std::sync::Arc;

    fn ack(seq: u64, file: &Arc<FileRef>, offset: u64) -> Ack {
        let mut progress = Progress::default();
        progress.advance(file, offset, false);
        Ack {
            flow: Arc::from("f"),
            instance: 0,
            seq,
            progress,
        }
    }

    fn offset(tracker: &AckTracker) -> Option<u64> {
        tracker
            .checkpoints()
            .files
            .values()
            .next()
            .map(|c| c.offset)
    }

    #[test]
    fn newer_ack_waits_for_older_batch() {
        let file = Arc::new(FileRef {
            head: None,
            key: FileKey { dev: 1, inode: 9 },
            path: "/l/a.log".into(),
        });
        let mut tracker = AckTracker::new(Checkpoints::default());
        assert!(tracker.apply(ack(0, &file, 100)));
        assert!(
            !tracker.apply(ack(2, &file, 300)),
            "batch 1 is still in flight"
        );
        assert_eq!(offset(&tracker), Some(100));
        assert!(tracker.apply(ack(1, &file, 200)));
        assert_eq!(offset(&tracker), Some(300));
    }

    #[test]
    fn released_file_with_a_head_is_remembered_as_finished_within_limits() {
        let mut tracker = AckTracker::new(Checkpoints::default());
        for n in 0..(FINISHED_PER_FLOW as u64 + 5) {
            let file = Arc::new(FileRef {
                head: Some(crate::tail::Fingerprint::of(&n.to_be_bytes())),
                key: FileKey { dev: 1, inode: n },
                path: format!("/l/a.log.{n}").into(),
            });
            let mut progress = Progress::default();
            progress.advance(&file, 100, true);
            tracker.apply(Ack {
                flow: Arc::from("f"),
                instance: 0,
                seq: n,
                progress,
            });
        }
        let checkpoints = tracker.checkpoints();
        assert!(checkpoints.files.is_empty());
        assert_eq!(checkpoints.finished.len(), FINISHED_PER_FLOW);
        assert_eq!(checkpoints.finished[0].inode, 5, "the oldest go first");
        assert!(checkpoints.finished.iter().all(|f| f.offset == 100));
    }

    #[test]
    fn release_forgets_the_file() {
        let file = Arc::new(FileRef {
            head: None,
            key: FileKey { dev: 1, inode: 9 },
            path: "/l/a.log".into(),
        });
        let mut tracker = AckTracker::new(Checkpoints::default());
        tracker.apply(ack(0, &file, 100));
        let mut progress = Progress::default();
        progress.advance(&file, 100, true);
        assert!(tracker.apply(Ack {
            flow: Arc::from("f"),
            instance: 0,
            seq: 1,
            progress
        }));
        assert!(tracker.checkpoints().files.is_empty());
    }

    #[test]
    fn journal_cursors_are_checkpointed_with_their_offsets() {
        let journal = Arc::new(FileRef {
            head: None,
            key: FileKey {
                dev: u64::MAX,
                inode: 7,
            },
            path: "journal".into(),
        });
        let book = Arc::new(CursorBook::default());
        book.note(0, Arc::from("c0")); // `since = "end"`: the newest entry at the start
        let mut tracker = AckTracker::new(Checkpoints::default());
        assert!(tracker.follow("f", &journal, 0, Some(book.clone())));
        let cursor = |t: &AckTracker| {
            let files = &t.checkpoints().files;
            files.values().next().and_then(|c| c.cursor.clone())
        };
        assert_eq!(cursor(&tracker).as_deref(), Some("c0"));
        for (offset, c) in [(40, "c1"), (90, "c2"), (130, "c3")] {
            book.note(offset, Arc::from(c));
        }
        assert!(
            !tracker.apply(ack(1, &journal, 130)),
            "batch 0 is still in flight"
        );
        assert_eq!(cursor(&tracker).as_deref(), Some("c0"));
        assert!(tracker.apply(ack(0, &journal, 90)));
        assert_eq!(
            cursor(&tracker).as_deref(),
            Some("c3"),
            "both batches applied"
        );
        assert_eq!(offset(&tracker), Some(130));
        assert!(book.is_empty(), "acknowledged positions are forgotten");
        let resume = tracker.resume("f");
        assert_eq!(
            resume.cursors.get(&journal.key).map(String::as_str),
            Some("c3")
        );
    }
}
