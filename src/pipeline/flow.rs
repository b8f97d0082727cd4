//! One running flow: its tailer thread and its batcher and sender tasks, started and stopped
//! as a unit: at start, at shutdown, and when a reload adds, changes or removes the flow.

use super::RunError;
use crate::aggregate::batcher::KeyPolicy;
use crate::aggregate::{Batch, Batcher, run_batcher};
use crate::checkpoint::{CheckpointMsg, CheckpointView};
use crate::config::{AwsSettings, Destination, Flow};
use crate::host::HostMetricsSource;
use crate::journal::JournalSource;
use crate::journal::reader::Outlet;
use crate::kinesis::limits::{KINESIS_DEFAULT_RECORD_BYTES, record_limit};
use crate::kinesis::shard_map::ShardMapCache;
use crate::metrics::FlowStats;
use crate::parse::ec2::Ec2Source;
use crate::parse::stage::run_parser;
use crate::parse::{FileParser, ParseCore};
use crate::shutdown::Shutdown;
use crate::sink::PutClient;
use crate::sink::deliver::{RetryPolicy, Sender};
use crate::sink::firehose::FirehoseClient;
use crate::sink::kinesis::KinesisClient;
use crate::sink::rate_limit::StreamBudgets;
use crate::sink::shard_map;
use crate::sink::shards::Shards;
use crate::tail::spool::Spool;
use crate::tail::tailer::Tailer;
use crate::tail::{Chunk, Resume};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Chunks (up to 256 KiB each) queued between a tailer and its batcher: enough to keep the
/// batcher busy while the tailer reads; more is memory, not speed (the file is the buffer).
const CHUNK_QUEUE: usize = 4;
/// How often the shard map is re-listed even without a sign of resharding.
const SHARD_MAP_PERIOD: Duration = Duration::from_secs(60);

/// What every flow shares.
pub struct FlowContext<'a> {
    pub clients: &'a crate::sink::aws::AwsClients,
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
    /// Children of the agent's tokens: a global shutdown stops every flow, a reload one.
    stop: CancellationToken,
    abort: CancellationToken,
    intake: Intake,
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
    let kinesis = match &flow.destination {
        Destination::Kinesis { stream } => Some(Arc::new(KinesisClient::new(
            ctx.clients,
            stream,
            stats.clone(),
        ))),
        Destination::Firehose { .. } => None,
    };
    let fitted = fit_to_stream(flow, kinesis.as_deref()).await;
    let (configured, flow) = (flow, fitted.as_ref().unwrap_or(flow));
    let (chunk_tx, chunk_rx) = mpsc::channel(CHUNK_QUEUE);
    let drained = CancellationToken::new();
    // One batch waits while the sender is busy; the log file is the real buffer.
    let (batch_tx, batch_rx) = mpsc::channel(1);
    let mut batcher = Batcher::new(
        flow.limits.clone(),
        flow.aggregation,
        KeyPolicy::for_flow(flow, ctx.host),
    )
    .count_fallbacks_in(stats.partition_key_fallbacks.clone());
    let settings = SenderSettings {
        flow,
        aws: ctx.aws,
        stats: &stats,
        abort: &abort,
        instance,
    };
    let sender = match &flow.destination {
        Destination::Kinesis { .. } => {
            let client = kinesis.expect("a Kinesis flow has its client");
            let shards = shard_knowledge(&client, flow, ctx, &stop).await;
            if let (Some(shards), true) = (&shards, flow.shard_aware) {
                batcher = batcher.with_shard_map(shards.map.clone());
            }
            settings.spawn(client, shards, batch_rx, ctx.acks.clone())
        }
        Destination::Firehose { stream } => {
            let client = Arc::new(FirehoseClient::new(ctx.clients, stream, stats.clone()));
            settings.spawn(client, None, batch_rx, ctx.acks.clone())
        }
    };
    let chunk_rx = spawn_parser(flow, chunk_rx, &stats, ctx.ec2);
    tokio::spawn(run_batcher(batcher, chunk_rx, batch_tx));
    let intake = match (&flow.journal, &flow.host_metrics) {
        (Some(spec), _) => {
            let outlet = Outlet {
                chunks: chunk_tx,
                acks: ctx.acks.clone(),
                observer: stats.clone(),
                stop: stop.clone(),
            };
            let source = JournalSource::new(
                spec.clone(),
                &flow.name,
                &resume,
                flow.limits.max_line_bytes(),
                outlet,
            );
            tracing::info!(flow = %flow.name, "shipping the journal ({}) to {}", spec.label().display(), flow.destination);
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
            tracing::info!(flow = %flow.name, "shipping the host's health every {:?} to {}", spec.interval, flow.destination);
            Intake::Source(tokio::spawn(source.run(chunk_tx)))
        }
        (None, None) => Intake::Files(spawn_tailer(
            ctx, flow, resume, &stats, chunk_tx, &stop, &drained,
        )?),
    };
    Ok(RunningFlow {
        flow: configured.clone(),
        stats,
        stop,
        abort,
        intake,
        sender,
        drained,
    })
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
    let tailer = tailer.spawn().map_err(RunError::Thread)?;
    tracing::info!(flow = %flow.name, "shipping {:?} to {}", flow.files.paths, flow.destination);
    Ok(tailer)
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
    let parser = FileParser::new(
        ParseCore::new(spec.clone(), ec2),
        flow.limits.max_line_bytes(),
    );
    // The tailer's queue already absorbs bursts; a short one here keeps memory (and what a stop
    // has to drain) small.
    let (record_tx, record_rx) = mpsc::channel(2);
    tokio::spawn(run_parser(parser, lines, record_tx, stats.clone()));
    record_rx
}

/// The shard map (refreshed in the background) and rate limiter a Kinesis flow needs, if any.
async fn shard_knowledge(
    client: &Arc<KinesisClient>,
    flow: &Flow,
    ctx: &FlowContext<'_>,
    stop: &CancellationToken,
) -> Option<Arc<Shards>> {
    if flow.shard_rate.is_none() && !flow.shard_aware {
        return None;
    }
    let map = ShardMapCache::default();
    // Grouping by shard needs the map before the first line; pacing waits for it in the
    // sender (`Shards::pace`), so the flow starts reading at once.
    if flow.shard_aware {
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            shard_map::load_once(&map, client.as_ref()),
        )
        .await;
    }
    let refresher = shard_map::keep_fresh(
        map.clone(),
        client.clone(),
        SHARD_MAP_PERIOD,
        stop.clone(),
        Arc::from(flow.name.as_str()),
    );
    tokio::spawn(refresher);
    let limiter = flow
        .shard_rate
        .map(|rate| ctx.budgets.limiter(&stream_identity(flow, ctx.aws), rate));
    Some(Arc::new(Shards {
        map,
        limiter,
        ordered: flow.shard_aware,
    }))
}

/// A Kinesis flow that allows records above 1 MiB (`record_max_bytes`) gets the stream's own
/// limit (`MaxRecordSizeInKiB`, from DescribeStreamSummary) if that is lower: a longer line is
/// then truncated to fit and counted, instead of being rejected by the stream as undeliverable.
async fn fit_to_stream(flow: &Flow, client: Option<&KinesisClient>) -> Option<Flow> {
    let client = client?;
    let configured = flow.limits.max_record_bytes;
    if configured <= KINESIS_DEFAULT_RECORD_BYTES {
        return None;
    }
    let stream_kib = match client.max_record_kib().await {
        Ok(kib) => kib,
        Err(error) => {
            tracing::warn!(flow = %flow.name, "cannot read the stream's record size limit ({error}); keeping record_max_bytes = {configured} (grant kinesis:DescribeStreamSummary, or records above the stream's limit are rejected)");
            return None;
        }
    };
    let limit = record_limit(configured, stream_kib);
    if limit == configured {
        return None;
    }
    tracing::warn!(flow = %flow.name, "record_max_bytes = {configured} is above the stream's record size limit ({} KiB): longer lines are truncated at {limit} bytes", limit / 1024);
    let mut fitted = flow.clone();
    fitted.limits.max_record_bytes = limit;
    fitted.limits.record_target_bytes = fitted.limits.record_target_bytes.min(limit);
    Some(fitted)
}

/// What makes two flows write to the same stream: its name, region, endpoint and account.
fn stream_identity(flow: &Flow, global: &AwsSettings) -> String {
    let aws = flow.aws_settings(global);
    let role = aws.role.as_ref().map(|r| r.role_arn.as_str());
    format!(
        "{}|{:?}|{:?}|{:?}|{:?}",
        flow.destination.stream(),
        aws.region,
        aws.endpoint_url,
        aws.profile,
        role
    )
}

struct SenderSettings<'a> {
    flow: &'a Flow,
    aws: &'a AwsSettings,
    stats: &'a Arc<FlowStats>,
    abort: &'a CancellationToken,
    instance: u64,
}

impl SenderSettings<'_> {
    fn spawn<C: PutClient>(
        &self,
        client: Arc<C>,
        shards: Option<Arc<Shards>>,
        batches: mpsc::Receiver<Batch>,
        acks: mpsc::Sender<CheckpointMsg>,
    ) -> JoinHandle<()> {
        let sender = Sender {
            client,
            flow: Arc::from(self.flow.name.as_str()),
            instance: self.instance,
            // Shard-aware flows keep each key's records in order: one request at a time.
            max_in_flight: match self.flow.shard_aware {
                true => 1,
                false => self.flow.max_in_flight,
            },
            max_in_flight_bytes: self.flow.max_in_flight_bytes,
            policy: RetryPolicy {
                config_backoff: self.aws.permanent_error_backoff,
                ..RetryPolicy::default()
            },
            abort: self.abort.clone(),
            stats: self.stats.clone(),
            shards,
        };
        tokio::spawn(sender.run(batches, acks))
    }
}
