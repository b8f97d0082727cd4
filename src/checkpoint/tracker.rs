//! The low-water mark. Batches are numbered per flow in the order their lines were read; an
//! acknowledgement is applied only once every earlier batch of that flow has been applied, so a
//! newer batch that succeeds while an older one is still retrying cannot move a checkpoint past
//! undelivered lines (the Kinesis Agent's known loss window).

use super::{Ack, Checkpoints, FileCheckpoint};
use crate::aggregate::Progress;
use crate::tail::FileKey;
use std::collections::{BTreeMap, HashMap};

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
}

impl AckTracker {
    pub fn new(checkpoints: Checkpoints) -> AckTracker {
        AckTracker {
            flows: HashMap::new(),
            checkpoints,
        }
    }

    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// The current offsets of one flow's files.
    pub fn offsets(&self, flow: &str) -> HashMap<FileKey, u64> {
        self.checkpoints
            .iter()
            .filter(|((f, _), _)| f == flow)
            .map(|((_, key), c)| (*key, c.offset))
            .collect()
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
            changed |= apply_progress(&mut self.checkpoints, &ack.flow, &progress);
        }
        changed
    }
}

fn apply_progress(checkpoints: &mut Checkpoints, flow: &str, progress: &Progress) -> bool {
    let mut changed = false;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    for p in progress.iter() {
        let key = (flow.to_owned(), p.file.key);
        if p.released {
            changed |= checkpoints.remove(&key).is_some();
            continue;
        }
        let entry = checkpoints.entry(key).or_insert_with(|| FileCheckpoint {
            flow: flow.to_owned(),
            path: p.file.path.clone(),
            dev: p.file.key.dev,
            inode: p.file.key.inode,
            offset: 0,
            updated: now.clone(),
        });
        if entry.offset != p.offset || entry.path != p.file.path {
            entry.offset = p.offset;
            entry.path = p.file.path.clone();
            entry.updated = now.clone();
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::FileRef;
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
        tracker.checkpoints().values().next().map(|c| c.offset)
    }

    #[test]
    fn newer_ack_waits_for_older_batch() {
        let file = Arc::new(FileRef {
            key: FileKey { dev: 1, inode: 9 },
            path: "/l/a.log".into(),
        });
        let mut tracker = AckTracker::new(Checkpoints::new());
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
    fn release_forgets_the_file() {
        let file = Arc::new(FileRef {
            key: FileKey { dev: 1, inode: 9 },
            path: "/l/a.log".into(),
        });
        let mut tracker = AckTracker::new(Checkpoints::new());
        tracker.apply(ack(0, &file, 100));
        let mut progress = Progress::default();
        progress.advance(&file, 100, true);
        assert!(tracker.apply(Ack {
            flow: Arc::from("f"),
            instance: 0,
            seq: 1,
            progress
        }));
        assert!(tracker.checkpoints().is_empty());
    }
}
