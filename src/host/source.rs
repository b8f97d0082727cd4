//! Takes a record every interval and hands the records on as chunks, holding what the
//! pipeline has not taken or acknowledged; at a stop, saves what is unshipped for the next run.

use super::held::{Held, Record};
use super::probe::Probe;
use super::stash::Stash;
use super::{HostMetricsObserver, HostMetricsSpec, host_metrics_file};
use crate::checkpoint::CheckpointMsg;
use crate::tail::{Chunk, FileRef, Resume};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The first record comes this long after the start: CPU usage is a difference of readings.
const FIRST_SAMPLE: Duration = Duration::from_secs(1);
/// A chunk carries at most about this much (a backlog is handed on in pieces).
const CHUNK_BYTES: usize = 128 * 1024;
/// Reading the figures for longer than this is reported (a hung network mount blocks statvfs).
const SLOW_PROBE: Duration = Duration::from_secs(10);

/// Who hears of the records (they go to the chunk sender given to `run`), and what a stop
/// waits for.
pub struct Outlet {
    pub acks: mpsc::Sender<CheckpointMsg>,
    pub observer: Arc<dyn HostMetricsObserver>,
    pub stop: CancellationToken,
    /// Cancelled once every delivery of the flow has finished (or been abandoned).
    pub drained: CancellationToken,
}

pub struct HostMetricsSource {
    spec: Arc<HostMetricsSpec>,
    flow: Arc<str>,
    host: Arc<str>,
    file: Arc<FileRef>,
    /// Offset of the next record (continues the checkpointed numbering).
    offset: u64,
    held: Held,
    stash: Stash,
    acks: mpsc::Sender<CheckpointMsg>,
    observer: Arc<dyn HostMetricsObserver>,
    stop: CancellationToken,
    drained: CancellationToken,
}

enum Event {
    Stop,
    Beat,
    Sample,
    /// A chunk of waiting records was handed on.
    Handed,
    PipelineGone,
}

impl HostMetricsSource {
    /// `stash_dir`: the flow's spool directory.
    pub fn new(
        spec: Arc<HostMetricsSpec>,
        names: (&str, &str),
        resume: &Resume,
        stash_dir: &std::path::Path,
        out: Outlet,
    ) -> HostMetricsSource {
        let (flow, host) = names;
        let file = Arc::new(host_metrics_file());
        HostMetricsSource {
            offset: resume.files.get(&file.key).map_or(0, |f| f.offset),
            held: Held::new(spec.max_backlog_bytes),
            spec,
            flow: Arc::from(flow),
            host: Arc::from(host),
            file,
            stash: Stash::in_dir(stash_dir),
            acks: out.acks,
            observer: out.observer,
            stop: out.stop,
            drained: out.drained,
        }
    }

    /// Until the flow stops (then saves what is unshipped) or the pipeline is gone.
    pub async fn run(mut self, chunks: mpsc::Sender<Chunk>) {
        self.restore();
        self.follow().await;
        let mut probe = self.new_probe().await;
        let mut ticks = tokio::time::interval_at(Instant::now() + FIRST_SAMPLE, self.spec.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        loop {
            let event = tokio::select! {
                _ = self.stop.cancelled() => Event::Stop,
                _ = beat.tick() => Event::Beat,
                _ = ticks.tick() => Event::Sample,
                permit = chunks.reserve(), if self.held.has_waiting() => match permit {
                    Ok(permit) => {
                        let chunk = self.held.take_chunk(&self.file, self.offset, CHUNK_BYTES);
                        self.offset = chunk.end_offset;
                        permit.send(chunk);
                        Event::Handed
                    }
                    Err(_) => Event::PipelineGone,
                },
            };
            match event {
                Event::Stop | Event::PipelineGone => break,
                Event::Beat => self.observer.alive(),
                Event::Handed => {}
                Event::Sample => {
                    probe = self.sample(probe).await;
                    self.forget_acknowledged().await;
                }
            }
        }
        drop(chunks); // the pipeline drains and the flow's stop can finish the deliveries
        self.finish().await;
    }
}

impl HostMetricsSource {
    /// Queues the records the last stop saved (before any new one: they are older).
    fn restore(&mut self) {
        let (records, malformed) = match self.stash.load() {
            Ok(loaded) => loaded,
            Err(e) => return self.observer.stash_unreadable(self.stash.path(), &e),
        };
        if records.is_empty() && malformed == 0 {
            return;
        }
        let count = records.len();
        for record in records {
            if let Some(dropped) = self.held.push(record) {
                self.observer.dropped(&dropped);
            }
        }
        self.observer.restored(count, malformed, self.stash.path());
        // Queued now: a stop saves them again with whatever else is unshipped then.
        if let Err(e) = self.stash.remove() {
            self.observer.stash_unreadable(self.stash.path(), &e);
        }
    }

    /// Tells the checkpointer about the pseudo-file, so it tracks the records' offsets.
    async fn follow(&self) {
        let _ = self
            .acks
            .send(CheckpointMsg::Follow {
                flow: self.flow.clone(),
                file: self.file.clone(),
                offset: self.offset,
                cursors: None,
            })
            .await;
    }

    async fn new_probe(&self) -> Option<Probe> {
        match tokio::task::spawn_blocking(Probe::new).await {
            Ok(Ok(probe)) => Some(probe),
            Ok(Err(error)) => {
                self.observer.probe_failed(&error);
                None
            }
            Err(panic) => {
                self.observer.probe_failed(&panic.to_string());
                None
            }
        }
    }

    /// Takes one record and queues it; returns the probe for the next one (none if it failed:
    /// a new one is made next time).
    async fn sample(&mut self, probe: Option<Probe>) -> Option<Probe> {
        let Some(mut probe) = probe else {
            return self.new_probe().await; // its first record comes at the next interval
        };
        let host = self.host.clone();
        let mut task: JoinHandle<(Probe, Record)> = tokio::task::spawn_blocking(move || {
            let (taken, mut data) = (SystemTime::now(), Vec::with_capacity(2048));
            probe.sample(&host, taken).encode(&mut data);
            let data = bytes::Bytes::from(data);
            (probe, Record { taken, data })
        });
        let began = Instant::now();
        let joined = loop {
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                joined = &mut task => break joined,
                _ = tokio::time::sleep(SLOW_PROBE) => self.observer.probe_slow(began.elapsed()),
            }
        };
        let (probe, record) = match joined {
            Ok(done) => done,
            Err(panic) => {
                self.observer.probe_failed(&panic.to_string());
                return None;
            }
        };
        self.observer.sampled(record.data.len() as u64);
        if let Some(dropped) = self.held.push(record) {
            self.observer.dropped(&dropped);
        }
        Some(probe)
    }

    /// The acknowledged offset of the pseudo-file (every acknowledgement sent before applied).
    async fn acknowledged(&self) -> Option<u64> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let asked = CheckpointMsg::Offsets {
            flow: self.flow.to_string(),
            reply,
        };
        self.acks.send(asked).await.ok()?;
        let resume = answer.await.ok()?;
        resume.files.get(&self.file.key).map(|f| f.offset)
    }

    async fn forget_acknowledged(&mut self) {
        if let Some(offset) = self.acknowledged().await {
            self.held.acknowledged(offset);
        }
    }

    /// After the deliveries ended: saves what was not acknowledged for the next run.
    async fn finish(mut self) {
        self.drained.cancelled().await;
        self.forget_acknowledged().await;
        let unshipped: Vec<&Record> = self.held.unshipped().collect();
        let (Some(first), Some(last)) = (unshipped.first(), unshipped.last()) else {
            return;
        };
        let (count, first, last) = (unshipped.len(), first.taken, last.taken);
        match self.stash.save(unshipped.into_iter()) {
            Ok(_) => self.observer.stashed(count, self.stash.path(), first, last),
            Err(e) => self.observer.stash_failed(count, self.stash.path(), &e),
        }
    }
}
