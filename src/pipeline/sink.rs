//! One destination of a flow: its batcher and sender (and, for a stream, its shard map and
//! budget), fed with the flow's chunks and acknowledging into `acks`.

use super::flow::FlowContext;
use crate::aggregate::batcher::KeyPolicy;
use crate::aggregate::{Batch, Batcher, run_batcher};
use crate::checkpoint::CheckpointMsg;
use crate::config::{AwsSettings, Destination, Flow};
use crate::kinesis::limits::{KINESIS_DEFAULT_RECORD_BYTES, record_limit};
use crate::kinesis::shard_map::ShardMapCache;
use crate::metrics::FlowStats;
use crate::sink::PutClient;
use crate::sink::deliver::{RetryPolicy, Sender};
use crate::sink::firehose::FirehoseClient;
use crate::sink::kinesis::KinesisClient;
use crate::sink::shard_map;
use crate::sink::shards::Shards;
use crate::tail::Chunk;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the shard map is re-listed even without a sign of resharding.
const SHARD_MAP_PERIOD: Duration = Duration::from_secs(60);

/// A destination ready to start: its settings fitted to its stream, and its stats.
pub struct Prepared {
    pub flow: Flow,
    pub stats: Arc<FlowStats>,
    kinesis: Option<Arc<KinesisClient>>,
}

impl Prepared {
    /// Makes the destination's Kinesis client and fits its record limit to the stream.
    pub async fn new(ctx: &FlowContext<'_>, flow: &Flow, stats: Arc<FlowStats>) -> Prepared {
        let kinesis = match &flow.destination {
            Destination::Kinesis { stream } => Some(Arc::new(KinesisClient::new(
                ctx.clients.for_flow(flow, ctx.aws),
                stream,
                stats.clone(),
            ))),
            Destination::Firehose { .. } => None,
        };
        let fitted = fit_to_stream(flow, kinesis.as_deref()).await;
        Prepared {
            flow: fitted.unwrap_or_else(|| flow.clone()),
            stats,
            kinesis,
        }
    }

    /// Starts the batcher on `chunks` and the sender; the handle ends when every delivery has
    /// finished. Acknowledgements carry `instance`.
    pub async fn start(
        self,
        ctx: &FlowContext<'_>,
        chunks: mpsc::Receiver<Chunk>,
        (stop, abort): (&CancellationToken, &CancellationToken),
        (instance, acks): (u64, mpsc::Sender<CheckpointMsg>),
    ) -> JoinHandle<()> {
        let flow = &self.flow;
        // One batch waits while the sender is busy; the log file is the real buffer.
        let (batch_tx, batch_rx) = mpsc::channel(1);
        let mut batcher = Batcher::new(
            flow.limits.clone(),
            flow.aggregation,
            KeyPolicy::for_flow(flow, ctx.host),
        )
        .count_fallbacks_in(self.stats.partition_key_fallbacks.clone());
        let settings = SenderSettings {
            flow,
            aws: ctx.aws,
            stats: &self.stats,
            abort,
            instance,
        };
        let sender = match self.kinesis {
            Some(client) => {
                let shards = shard_knowledge(&client, flow, ctx, stop).await;
                if let (Some(shards), true) = (&shards, flow.shard_aware) {
                    batcher = batcher.with_shard_map(shards.map.clone());
                }
                settings.spawn(client, shards, batch_rx, acks)
            }
            None => {
                let client = Arc::new(FirehoseClient::new(
                    ctx.clients.for_flow(flow, ctx.aws),
                    flow.destination.stream(),
                    self.stats.clone(),
                ));
                settings.spawn(client, None, batch_rx, acks)
            }
        };
        tokio::spawn(run_batcher(batcher, chunks, batch_tx));
        sender
    }
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
