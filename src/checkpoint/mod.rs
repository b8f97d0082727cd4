//! Checkpointing: acknowledgements from the send stage advance each file's offset only to the
//! low-water mark of contiguously acknowledged data ([`tracker`]), and the result is persisted
//! atomically at most once per `checkpoint_interval` and once more at the end ([`store`]).

pub mod cursors;
pub mod store;
pub mod tracker;

pub use cursors::CursorBook;
pub use store::{Checkpoints, FileCheckpoint, Store, StoreError};
pub use tracker::AckTracker;

use crate::aggregate::Progress;
use crate::metrics::Activity;
use crate::tail::{FileKey, FileRef, ReleaseView, Resume};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use std::time::Instant;
use tokio::sync::mpsc;

/// A batch was fully delivered.
#[derive(Debug)]
pub struct Ack {
    pub flow: Arc<str>,
    /// Which run of the flow (a reload starts a new one, numbering its batches from 0).
    pub instance: u64,
    pub seq: u64,
    pub progress: Progress,
}

/// What the checkpointer receives.
#[derive(Debug)]
pub enum CheckpointMsg {
    Ack(Ack),
    /// The acknowledged offsets of a flow's files, answered after every message sent before
    /// this one was applied (a reloaded flow resumes exactly where its old run stopped).
    Offsets {
        flow: String,
        reply: tokio::sync::oneshot::Sender<Resume>,
    },
    /// The tailer follows a file from `offset` (nothing before it is to be shipped): checkpoint
    /// it there now if it has no checkpoint, so a stop before its first line is delivered (an
    /// outage) still knows the file.
    Follow {
        flow: Arc<str>,
        file: Arc<FileRef>,
        offset: u64,
        /// Sources without byte offsets (the journal): where each offset is in their terms;
        /// checkpointed with the offset (see [`cursors`]).
        cursors: Option<Arc<CursorBook>>,
    },
}

/// What metrics and status see of the checkpoints: the state last written to disk, and when.
#[derive(Clone)]
pub struct CheckpointView(Arc<RwLock<(Checkpoints, Instant)>>);

impl CheckpointView {
    pub fn new(checkpoints: Checkpoints) -> CheckpointView {
        CheckpointView(Arc::new(RwLock::new((checkpoints, Instant::now()))))
    }

    /// Acknowledged offsets of one flow's files.
    pub fn acked(&self, flow: &str) -> HashMap<FileKey, u64> {
        let state = self.0.read().expect("view lock");
        state
            .0
            .files
            .iter()
            .filter(|((f, _), _)| f == flow)
            .map(|((_, key), c)| (*key, c.offset))
            .collect()
    }

    /// Whether a released file's end is on disk: it has no live entry but a finished one.
    pub fn is_released(&self, flow: &str, key: FileKey) -> bool {
        let state = self.0.read().expect("view lock");
        let checkpoints = &state.0;
        !checkpoints.files.contains_key(&(flow.to_owned(), key))
            && checkpoints
                .finished
                .iter()
                .any(|f| f.flow == flow && f.key().1 == key)
    }

    /// The view of one flow's checkpoints, for its tailer; `acks` takes what it follows.
    pub fn for_flow(&self, flow: &str, acks: mpsc::Sender<CheckpointMsg>) -> Arc<dyn ReleaseView> {
        Arc::new(FlowReleaseView {
            view: self.clone(),
            flow: flow.to_owned(),
            acks,
        })
    }

    /// Time since the last successful write (or since start, before the first one).
    pub fn age(&self) -> Duration {
        self.0.read().expect("view lock").1.elapsed()
    }

    fn written(&self, checkpoints: Checkpoints) {
        *self.0.write().expect("view lock") = (checkpoints, Instant::now());
    }
}

struct FlowReleaseView {
    view: CheckpointView,
    flow: String,
    acks: mpsc::Sender<CheckpointMsg>,
}

impl ReleaseView for FlowReleaseView {
    fn is_released(&self, key: FileKey) -> bool {
        self.view.is_released(&self.flow, key)
    }

    /// Asks the checkpointer (every acknowledgement sent before is applied first); from the
    /// last written state if it is gone. Called from the tail thread, not a runtime worker.
    fn acked(&self) -> HashMap<FileKey, u64> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let asked = self.acks.blocking_send(CheckpointMsg::Offsets {
            flow: self.flow.clone(),
            reply,
        });
        match asked.ok().and_then(|()| answer.blocking_recv().ok()) {
            Some(resume) => resume
                .files
                .into_iter()
                .map(|(k, f)| (k, f.offset))
                .collect(),
            None => self.view.acked(&self.flow),
        }
    }

    fn follow(&self, file: &Arc<FileRef>, offset: u64) {
        // Called from the tail thread (not a runtime worker); the checkpointer never waits
        // for the tailer, so this cannot deadlock.
        let _ = self.acks.blocking_send(CheckpointMsg::Follow {
            flow: Arc::from(self.flow.as_str()),
            file: file.clone(),
            offset,
            cursors: None,
        });
    }
}

/// The checkpointer stage: runs until every sender has dropped its ack channel, then writes the
/// final state. Write failures are logged (rarely) and retried at the next interval.
pub async fn run_checkpointer(
    store: Store,
    checkpoints: Checkpoints,
    mut acks: mpsc::Receiver<CheckpointMsg>,
    interval: Duration,
    view: CheckpointView,
    writes: Arc<Activity>,
) {
    let store = Arc::new(store);
    let mut tracker = AckTracker::new(checkpoints);
    let mut failures = FailureLog::default();
    let mut dirty = false;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ack = acks.recv() => match ack {
                Some(CheckpointMsg::Ack(ack)) => dirty |= tracker.apply(ack),
                Some(CheckpointMsg::Offsets { flow, reply }) => {
                    let _ = reply.send(tracker.resume(&flow));
                }
                Some(CheckpointMsg::Follow { flow, file, offset, cursors }) => {
                    dirty |= tracker.follow(&flow, &file, offset, cursors);
                }
                None => break,
            },
            _ = tick.tick(), if dirty => {
                dirty = !persist(&store, tracker.checkpoints(), &view, &writes, &mut failures).await;
            }
        }
    }
    failures.last = None; // the final outcome is always reported
    if dirty && !persist(&store, tracker.checkpoints(), &view, &writes, &mut failures).await {
        tracing::error!(
            "final checkpoint could not be written; lines since the last successful write will be sent again after restart"
        );
    }
}

/// Failed writes (a full disk) are logged once per 5 minutes, with how many were not.
#[derive(Default)]
struct FailureLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    const WINDOW: Duration = Duration::from_secs(300);

    fn failed(&mut self, message: std::fmt::Arguments) {
        if self.last.is_some_and(|at| at.elapsed() < Self::WINDOW) {
            self.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut self.suppressed);
        self.last = Some(Instant::now());
        tracing::error!(
            suppressed,
            "{message}; retrying at the next checkpoint interval (shipping goes on)"
        );
    }
}

/// Writes on a blocking thread (fsync can take a while on SD cards); `true` on success.
async fn persist(
    store: &Arc<Store>,
    checkpoints: &Checkpoints,
    view: &CheckpointView,
    writes: &Activity,
    failures: &mut FailureLog,
) -> bool {
    let (store, snapshot) = (store.clone(), checkpoints.clone());
    let _busy = writes.enter();
    match tokio::task::spawn_blocking(move || store.save(&snapshot).map(|()| snapshot)).await {
        Ok(Ok(snapshot)) => {
            view.written(snapshot);
            true
        }
        Ok(Err(error)) => {
            failures.failed(format_args!("{error}"));
            false
        }
        Err(join_error) => {
            failures.failed(format_args!("checkpoint writer failed: {join_error}"));
            false
        }
    }
}
