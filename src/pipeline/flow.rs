//! One running flow: its tailer thread (or source), its parse stage and its destinations'
//! batchers and senders ([`super::sink`]), started and stopped as a unit: at start, at
//! shutdown, and when a reload adds, changes or removes the flow. A flow with several
//! destinations reads once and fans out ([`super::fanout`]).

use super::RunError;
use super::clients::ClientPool;
use super::fanout::{FanIn, run_fan_in, run_tee};
use super::sink::Prepared;
use crate::checkpoint::{CheckpointMsg, CheckpointView};
use crate::config::{AwsSettings, Flow};
use crate::host::HostMetricsSource;
use crate::journal::JournalSource;
use crate::journal::reader::Outlet;
use crate::metrics::FlowStats;
use crate::parse::ec2::Ec2Source;
use crate::parse::stage::run_parser;
use crate::parse::{FileParser, ParseCore};
use crate::shutdown::Shutdown;
use crate::sink::rate_limit::StreamBudgets;
use crate::tail::spool::Spool;
use crate::tail::tailer::Tailer;
use crate::tail::{Chunk, Resume};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Chunks (64 KiB each, plus a partial line) queued between a tailer and its batcher: enough to
/// keep the batcher busy while the tailer reads; more is memory, not speed (the file is the
/// buffer). The tailer refills the queue once half of it is free (`Tailer::pause`).
const CHUNK_QUEUE: usize = 4;
/// Chunks queued for each destination of a fanned-out flow (they share the buffers).
const DESTINATION_QUEUE: usize = 2;

/// What every flow shares.
pub struct FlowContext<'a> {
    pub clients: &'a ClientPool,
    pub aws: &'a AwsSettings,
    pub host: &'a str,
    pub acks: &'a mpsc::Sender<CheckpointMsg>,
    pub shutdown: &'a Shutdown,
    pub view: &'a CheckpointView,
    pub state_dir: &'a std::path::Path,
    pub spool_max_bytes: u64,
    pub max_held_bytes: u64,
    pub ec2: &'a Ec2Source,
    pub budgets: &'a StreamBudgets,
}

pub struct RunningFlow {
    pub flow: Flow,
    pub stats: Arc<FlowStats>,
    /// Stats of the destinations after the first (`FLOW/DESTINATION`).
    pub fanout_stats: Vec<Arc<FlowStats>>,
    /// Children of the agent's tokens: a global shutdown stops every flow, a reload one.
    stop: CancellationToken,
    abort: CancellationToken,
    intake: Intake,
    /// Ends when every delivery of every destination has finished and been acknowledged.
    sender: JoinHandle<()>,
    /// Cancelled once every delivery has finished: the tailer then spools what it holds.
    drained: CancellationToken,
}

/// Starts `flow`, resuming its files at `resume`; `instance` numbers this run of it.
pub async fn start(
    ctx: &FlowContext<'_>,
    flow: &Flow,
    resume: Resume,
    instance: u64,
) -> Result<RunningFlow, RunError> {
    let stats = Arc::new(FlowStats::new(&flow.name));
    let (stop, abort) = (
        ctx.shutdown.stop.child_token(),
        ctx.shutdown.abort.child_token(),
    );
    let mut destinations = vec![Prepared::new(ctx, flow, stats.clone()).await];
    for also in &flow.fanout {
        let stats = Arc::new(FlowStats::for_destination(&also.name));
        destinations.push(Prepared::new(ctx, also, stats).await);
    }
    // What the intake and parser see: the first destination, fitted to its stream, with the
    // others fitted too, so lines are cut at the smallest record limit of them all.
    let mut reader = destinations[0].flow.clone();
    reader.fanout = destinations[1..].iter().map(|d| d.flow.clone()).collect();
    let fanout_stats = destinations[1..].iter().map(|d| d.stats.clone()).collect();
    let (chunk_tx, chunk_rx) = mpsc::channel(CHUNK_QUEUE);
    let chunk_rx = spawn_parser(&reader, chunk_rx, &stats, ctx.ec2);
    let tokens = (&stop, &abort);
    let sender = match destinations.len() {
        1 => {
            let only = destinations.pop().expect("one destination");
            only.start(ctx, chunk_rx, tokens, (instance, ctx.acks.clone()))
                .await
        }
        _ => fan_out(ctx, destinations, chunk_rx, tokens, instance).await,
    };
    let drained = CancellationToken::new();
    let intake = start_intake(ctx, &reader, resume, &stats, chunk_tx, &stop, &drained)?;
    Ok(RunningFlow {
        flow: flow.clone(),
        stats,
        fanout_stats,
        stop,
        abort,
        intake,
        sender,
        drained,
    })
}

/// Starts every destination behind a tee, acknowledging through a fan-in; the handle ends
/// once every destination's deliveries have finished and their acknowledgements are passed on.
async fn fan_out(
    ctx: &FlowContext<'_>,
    destinations: Vec<Prepared>,
    chunks: mpsc::Receiver<Chunk>,
    tokens: (&CancellationToken, &CancellationToken),
    instance: u64,
) -> JoinHandle<()> {
    let flow: Arc<str> = Arc::from(destinations[0].flow.name.as_str());
    let (ack_tx, ack_rx) = mpsc::channel(super::ACK_QUEUE);
    let fan_in = FanIn::new(destinations.len());
    let counted = destinations[1..].iter().map(|d| d.stats.clone()).collect();
    let (mut outputs, mut senders) = (Vec::new(), Vec::new());
    for (index, destination) in destinations.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(DESTINATION_QUEUE);
        outputs.push((Arc::from(destination.flow.name.as_str()), tx));
        // Each destination's sender numbers its acknowledgements by its place in the flow.
        let acks = (index as u64, ack_tx.clone());
        senders.push(destination.start(ctx, rx, tokens, acks).await);
    }
    drop(ack_tx);
    tokio::spawn(run_tee(chunks, outputs, counted));
    let combined = tokio::spawn(run_fan_in(
        ack_rx,
        fan_in,
        (flow, instance),
        ctx.acks.clone(),
    ));
    tokio::spawn(async move {
        for sender in senders {
            let _ = sender.await;
        }
        let _ = combined.await;
    })
}

/// Starts what reads the flow: its journal, host metrics, or tailer.
fn start_intake(
    ctx: &FlowContext<'_>,
    flow: &Flow,
    resume: Resume,
    stats: &Arc<FlowStats>,
    chunk_tx: mpsc::Sender<Chunk>,
    stop: &CancellationToken,
    drained: &CancellationToken,
) -> Result<Intake, RunError> {
    let to = destinations_text(flow);
    let intake = match (&flow.journal, &flow.host_metrics) {
        (Some(spec), _) => {
            let outlet = Outlet {
                chunks: chunk_tx,
                acks: ctx.acks.clone(),
                observer: stats.clone(),
                stop: stop.clone(),
            };
            let source =
                JournalSource::new(spec.clone(), &flow.name, &resume, flow.line_limit(), outlet);
            tracing::info!(flow = %flow.name, "shipping the journal ({}) to {to}", spec.label().display());
            Intake::Source(tokio::spawn(source.run()))
        }
        (None, Some(spec)) => {
            let outlet = crate::host::source::Outlet {
                acks: ctx.acks.clone(),
                observer: stats.clone(),
                stop: stop.clone(),
                drained: drained.clone(),
            };
            let stash_dir = Spool::new(ctx.state_dir, &flow.name, 0).dir().to_owned();
            let source = HostMetricsSource::new(
                spec.clone(),
                (&flow.name, ctx.host),
                &resume,
                &stash_dir,
                outlet,
            );
            tracing::info!(flow = %flow.name, "shipping the host's health every {:?} to {to}", spec.interval);
            Intake::Source(tokio::spawn(source.run(chunk_tx)))
        }
        (None, None) => {
            let tailer = spawn_tailer(ctx, flow, resume, stats, chunk_tx, stop, drained)?;
            tracing::info!(flow = %flow.name, "shipping {:?} to {to}", flow.files.paths);
            Intake::Files(tailer)
        }
    };
    Ok(intake)
}

/// "kinesis stream \"a\"", or "kinesis stream \"a\" and firehose stream \"b\"".
fn destinations_text(flow: &Flow) -> String {
    flow.destinations()
        .map(|d| d.destination.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What feeds a flow's pipeline.
enum Intake {
    /// The tailer's thread.
    Files(std::thread::JoinHandle<()>),
    /// The journal's or the host metrics' task.
    Source(JoinHandle<()>),
}

impl Intake {
    async fn join(self) {
        match self {
            Intake::Files(tailer) => {
                let _ = tokio::task::spawn_blocking(move || tailer.join()).await;
            }
            Intake::Source(task) => {
                let _ = task.await;
            }
        }
    }
}

fn spawn_tailer(
    ctx: &FlowContext<'_>,
    flow: &Flow,
    resume: Resume,
    stats: &Arc<FlowStats>,
    chunk_tx: mpsc::Sender<Chunk>,
    stop: &CancellationToken,
    drained: &CancellationToken,
) -> Result<std::thread::JoinHandle<()>, RunError> {
    let tailer = Tailer::new(
        crate::tail::TailSettings::of(flow),
        resume,
        ctx.view.for_flow(&flow.name, ctx.acks.clone()),
        stats.clone(),
        chunk_tx,
        stop.clone(),
        tokio::runtime::Handle::current(),
    )
    .with_spool(
        Spool::new(ctx.state_dir, &flow.name, ctx.spool_max_bytes),
        ctx.max_held_bytes,
        drained.clone(),
    );
    tailer.spawn().map_err(RunError::Thread)
}

impl RunningFlow {
    /// Stops reading, flushes, and waits until every delivery has finished (acknowledged) or,
    /// after `timeout`, been abandoned (its lines are read again by the next run).
    pub async fn stop(self, timeout: Duration) -> Arc<FlowStats> {
        self.stop.cancel();
        let abort = self.abort.clone();
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            abort.cancel();
        });
        // The tailer lets go of its channel when it stops, so the sender drains; then the
        // tailer learns the final acknowledged offsets and spools what is still out of reach.
        let _ = self.sender.await;
        self.drained.cancel();
        self.intake.join().await;
        deadline.abort();
        tracing::info!("final: {}", self.stats.summary());
        for stats in &self.fanout_stats {
            tracing::info!("final: {}", stats.summary());
        }
        self.stats
    }
}

/// Puts the parse stage between the tailer and the batcher when the flow has `[flow.parse]`;
/// without it the tailer's chunks go to the batcher untouched (zero copy).
fn spawn_parser(
    flow: &Flow,
    lines: mpsc::Receiver<Chunk>,
    stats: &Arc<FlowStats>,
    ec2: &Ec2Source,
) -> mpsc::Receiver<Chunk> {
    let Some(spec) = &flow.parse else {
        return lines;
    };
    let ec2 = spec.ec2_metadata_ttl.map(|ttl| ec2.metadata(ttl));
    let parser = FileParser::new(ParseCore::new(spec.clone(), ec2), flow.line_limit());
    // The tailer's queue already absorbs bursts; a short one here keeps memory (and what a stop
    // has to drain) small.
    let (record_tx, record_rx) = mpsc::channel(2);
    tokio::spawn(run_parser(parser, lines, record_tx, stats.clone()));
    record_rx
}
