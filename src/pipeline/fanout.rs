//! Fan-out: one read of a flow's files feeds several destinations. The tee hands every chunk
//! to each destination's batcher (the slowest one holds the tailer back: memory stays bounded,
//! the files are the buffer); the fan-in combines the destinations' acknowledgements into the
//! flow's, so a file's checkpoint advances only to the lowest offset every destination has
//! acknowledged, and a file is let go only once every destination has delivered all of it.

use crate::aggregate::{FileProgress, Progress};
use crate::checkpoint::{Ack, CheckpointMsg};
use crate::metrics::FlowStats;
use crate::tail::{Chunk, FileKey};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Hands every chunk to every destination, in order; ends when the input ends.
/// `counted[i]` (destinations after the first) counts the records handed to it as read.
/// If a destination's stage has ended (it never does before its input ends, short of a bug),
/// the tee ends too: the flow stops reading rather than read on for the others while its
/// checkpoints stay where that destination left them.
pub async fn run_tee(
    mut chunks: mpsc::Receiver<Chunk>,
    outputs: Vec<(Arc<str>, mpsc::Sender<Chunk>)>,
    counted: Vec<Arc<FlowStats>>,
) {
    while let Some(chunk) = chunks.recv().await {
        for stats in &counted {
            stats.note_read(chunk.lines.len() as u64);
        }
        for (name, output) in &outputs {
            if output.send(chunk.clone()).await.is_err() {
                tracing::error!(destination = %name, "the destination's batcher has stopped; its flow stops reading (lines are read again after a restart)");
                return;
            }
        }
    }
}

/// Receives the destinations' acknowledgements (each destination's sender numbers its
/// `instance` by its place in the flow) and sends the flow's own to the checkpointer, as
/// `instance`. Ends when every destination's sender has finished.
pub async fn run_fan_in(
    mut acks: mpsc::Receiver<CheckpointMsg>,
    mut fan_in: FanIn,
    (flow, instance): (Arc<str>, u64),
    checkpointer: mpsc::Sender<CheckpointMsg>,
) {
    let mut seq = 0;
    while let Some(message) = acks.recv().await {
        let message = match message {
            CheckpointMsg::Ack(ack) => {
                let Some(progress) = fan_in.apply(ack.instance as usize, ack.seq, ack.progress)
                else {
                    continue;
                };
                seq += 1;
                CheckpointMsg::Ack(Ack {
                    flow: flow.clone(),
                    instance,
                    seq: seq - 1,
                    progress,
                })
            }
            other => other,
        };
        let _ = checkpointer.send(message).await;
    }
}

/// The combination, pure: destinations' acknowledged batches in, the flow's progress out.
pub struct FanIn {
    ledgers: Vec<Ledger>,
    files: HashMap<FileKey, Slot>,
}

/// One destination's acknowledgements, applied in batch order.
#[derive(Default)]
struct Ledger {
    next_seq: u64,
    waiting: BTreeMap<u64, Progress>,
}

/// One file: what each destination has acknowledged of it, and what was passed on.
struct Slot {
    heard: Vec<Option<FileProgress>>,
    /// The last progress passed on.
    passed: Option<FileProgress>,
}

impl FanIn {
    pub fn new(destinations: usize) -> FanIn {
        FanIn {
            ledgers: (0..destinations).map(|_| Ledger::default()).collect(),
            files: HashMap::new(),
        }
    }

    /// Destination `index` delivered its batch `seq`; returns the flow's progress, if any.
    pub fn apply(&mut self, index: usize, seq: u64, progress: Progress) -> Option<Progress> {
        let destinations = self.ledgers.len();
        let ledger = &mut self.ledgers[index];
        ledger.waiting.insert(seq, progress);
        let mut touched = Vec::new();
        while let Some(ready) = ledger.waiting.remove(&ledger.next_seq) {
            ledger.next_seq += 1;
            for file in ready.iter() {
                let slot = self.files.entry(file.file.key).or_insert_with(|| Slot {
                    heard: vec![None; destinations],
                    passed: None,
                });
                slot.heard[index] = Some(file.clone());
                if !touched.contains(&file.file.key) {
                    touched.push(file.file.key);
                }
            }
        }
        let mut out = Progress::default();
        for key in touched {
            if let Some(file) = self.combine(key) {
                out.advance(&file.file, file.offset, file.released);
                out.mark(&file.file, file.mark);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The file's progress over all destinations, once each has reported the same version of
    /// it (a truncation starts a new one) and if it moved.
    fn combine(&mut self, key: FileKey) -> Option<FileProgress> {
        let slot = self.files.get_mut(&key)?;
        let heard: Vec<&FileProgress> = slot.heard.iter().flatten().collect();
        if heard.len() < slot.heard.len()
            || heard.iter().any(|h| !Arc::ptr_eq(&h.file, &heard[0].file))
        {
            return None;
        }
        let lowest = heard.iter().min_by_key(|h| h.offset).expect("one at least");
        let released = heard.iter().all(|h| h.released);
        let mark = heard
            .iter()
            .filter_map(|h| h.mark)
            .filter(|m| m.at <= lowest.offset)
            .max_by_key(|m| m.at);
        let combined = FileProgress {
            file: lowest.file.clone(),
            offset: lowest.offset,
            released,
            mark,
        };
        // Equal and of the same version: nothing moved (a new version at the same offset is
        // passed on, so the checkpoint learns its head and path).
        let unchanged = slot.passed.as_ref().is_some_and(|passed| {
            Arc::ptr_eq(&passed.file, &combined.file)
                && (passed.offset, passed.released, passed.mark)
                    == (combined.offset, released, combined.mark)
        });
        if unchanged {
            return None;
        }
        slot.passed = Some(combined.clone());
        if released {
            self.files.remove(&key);
        }
        Some(combined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::FileRef;

    fn file(inode: u64) -> Arc<FileRef> {
        Arc::new(FileRef {
            key: FileKey { dev: 1, inode },
            path: format!("/var/log/{inode}.log").into(),
            head: None,
        })
    }

    fn progress(file: &Arc<FileRef>, offset: u64, released: bool) -> Progress {
        let mut p = Progress::default();
        p.advance(file, offset, released);
        p
    }

    fn offsets(p: Option<Progress>) -> Vec<(u64, u64, bool)> {
        p.map(|p| {
            p.iter()
                .map(|f| (f.file.key.inode, f.offset, f.released))
                .collect()
        })
        .unwrap_or_default()
    }

    #[test]
    fn a_file_advances_to_the_lowest_offset_every_destination_acknowledged() {
        let a = file(1);
        let mut fan = FanIn::new(2);
        // (destination, seq, offset) -> the flow's progress
        type Case = (usize, u64, u64, Vec<(u64, u64, bool)>);
        let cases: [Case; 6] = [
            (0, 0, 100, vec![]),               // destination 1 has said nothing yet
            (0, 1, 300, vec![]),               //
            (1, 1, 250, vec![]),               // out of order: waits for its seq 0
            (1, 0, 50, vec![(1, 250, false)]), // both in: the lower of 300 and 250
            (1, 2, 400, vec![(1, 300, false)]),
            (0, 2, 400, vec![(1, 400, false)]),
        ];
        for (destination, seq, offset, expected) in cases {
            let out = fan.apply(destination, seq, progress(&a, offset, false));
            assert_eq!(
                offsets(out),
                expected,
                "destination {destination} seq {seq}"
            );
        }
    }

    #[test]
    fn a_file_is_released_only_when_every_destination_released_it() {
        let a = file(1);
        let mut fan = FanIn::new(2);
        assert_eq!(offsets(fan.apply(0, 0, progress(&a, 500, true))), vec![]);
        assert_eq!(
            offsets(fan.apply(1, 0, progress(&a, 200, false))),
            vec![(1, 200, false)]
        );
        assert_eq!(
            offsets(fan.apply(1, 1, progress(&a, 500, true))),
            vec![(1, 500, true)]
        );
        assert!(fan.files.is_empty(), "a released file is forgotten");
    }

    #[test]
    fn a_truncated_file_waits_until_every_destination_has_seen_the_truncation() {
        let before = file(1);
        let after = Arc::new(FileRef {
            key: before.key,
            path: before.path.clone(),
            head: None,
        });
        let mut fan = FanIn::new(2);
        fan.apply(0, 0, progress(&before, 900, false));
        assert_eq!(
            offsets(fan.apply(1, 0, progress(&before, 900, false))),
            vec![(1, 900, false)]
        );
        // Destination 0 reads on after the truncation; 1 has not got there: 1's 900 is of the
        // old content, so neither offset may be passed on.
        assert_eq!(
            offsets(fan.apply(0, 1, progress(&after, 2000, false))),
            vec![]
        );
        assert_eq!(
            offsets(fan.apply(1, 1, progress(&after, 150, false))),
            vec![(1, 150, false)]
        );
    }

    #[test]
    fn a_new_version_at_the_same_offset_is_passed_on() {
        let before = file(1);
        let renamed = Arc::new(FileRef {
            key: before.key,
            path: "/var/log/1.log.1".into(),
            head: None,
        });
        let mut fan = FanIn::new(2);
        fan.apply(0, 0, progress(&before, 700, false));
        fan.apply(1, 0, progress(&before, 700, false));
        fan.apply(0, 1, progress(&renamed, 700, false));
        let out = fan.apply(1, 1, progress(&renamed, 700, false)).unwrap();
        let passed = out.iter().next().unwrap();
        assert!(
            Arc::ptr_eq(&passed.file, &renamed),
            "the checkpoint learns the new path"
        );
    }

    #[test]
    fn files_are_combined_each_on_its_own() {
        let (a, b) = (file(1), file(2));
        let mut fan = FanIn::new(2);
        let mut both = progress(&a, 10, false);
        both.advance(&b, 20, false);
        fan.apply(0, 0, both);
        assert_eq!(
            offsets(fan.apply(1, 0, progress(&b, 5, false))),
            vec![(2, 5, false)]
        );
        assert_eq!(
            offsets(fan.apply(1, 1, progress(&a, 30, false))),
            vec![(1, 10, false)]
        );
    }
}
