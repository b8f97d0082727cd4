//! Wires the stages of every flow together and runs them until shutdown.

use crate::aggregate::batcher::KeyPolicy;
use crate::aggregate::{Batcher, run_batcher};
use crate::checkpoint::{CheckpointView, Checkpoints, Store, StoreError, run_checkpointer};
use crate::config::{Config, Destination, Flow};
use crate::metrics::FlowStats;
use crate::shutdown::Shutdown;
use crate::sink::PutClient;
use crate::sink::aws::{AwsSetupError, sdk_config};
use crate::sink::deliver::{RetryPolicy, Sender};
use crate::sink::firehose::FirehoseClient;
use crate::sink::kinesis::KinesisClient;
use crate::sink::rate_limit::ShardRateLimiter;
use crate::sink::shard_map::ShardMapCache;
use crate::sink::shards::Shards;
use crate::systemd;
use crate::tail::FileKey;
use crate::tail::tailer::Tailer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks (up to 256 KiB each) queued between a tailer and its batcher.
const CHUNK_QUEUE: usize = 8;
/// Acknowledgements queued for the checkpointer.
const ACK_QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsSetupError),
    #[error("cannot start the tailer thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "cannot listen for metrics on {listen}: {source}; change [metrics] listen or free the port"
    )]
    Metrics {
        listen: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Runs every flow until `shutdown.stop` fires and the pipeline has drained.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<Vec<Arc<FlowStats>>, RunError> {
    let (store, checkpoints) = Store::open(&config.state_dir)?;
    let sdk = sdk_config(&config.aws).await?;
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let (ack_tx, ack_rx) = mpsc::channel(ACK_QUEUE);
    let mut tailers = Vec::new();
    let mut stats = Vec::new();
    for flow in &config.flows {
        let flow_stats = Arc::new(FlowStats::new(&flow.name));
        let (chunk_tx, chunk_rx) = mpsc::channel(CHUNK_QUEUE);
        // One batch waits while the sender is busy; the log file is the real buffer.
        let (batch_tx, batch_rx) = mpsc::channel(1);
        let resume = resume_offsets(&checkpoints, &flow.name);
        let tailer = Tailer::new(
            flow.clone(),
            resume,
            flow_stats.clone(),
            chunk_tx,
            shutdown.stop.clone(),
            tokio::runtime::Handle::current(),
        );
        tailers.push(tailer.spawn().map_err(RunError::Thread)?);
        let mut batcher = Batcher::new(
            flow.limits.clone(),
            flow.aggregation,
            KeyPolicy::for_flow(flow, &host),
        );
        let sender = SenderSettings {
            flow,
            config: &config,
            shutdown: &shutdown,
            stats: &flow_stats,
        };
        match &flow.destination {
            Destination::Kinesis { stream } => {
                let client = Arc::new(KinesisClient::new(&sdk, stream));
                let shards = shard_knowledge(&client, flow, &shutdown).await;
                if let (Some(shards), true) = (&shards, flow.shard_aware) {
                    batcher = batcher.with_shard_map(shards.map.clone());
                }
                sender.spawn(client, shards, batch_rx, ack_tx.clone());
            }
            Destination::Firehose { stream } => {
                let client = Arc::new(FirehoseClient::new(&sdk, stream));
                sender.spawn(client, None, batch_rx, ack_tx.clone());
            }
        }
        tokio::spawn(run_batcher(batcher, chunk_rx, batch_tx));
        tracing::info!(flow = %flow.name, "shipping {:?} to {}", flow.paths, flow.destination);
        stats.push(flow_stats);
    }
    drop(ack_tx);
    let view = CheckpointView::new(checkpoints.clone());
    let checkpointer = tokio::spawn(run_checkpointer(
        store,
        checkpoints,
        ack_rx,
        config.checkpoint_interval,
        view.clone(),
    ));
    if let Some(listen) = config.metrics_listen {
        crate::metrics::server::start(listen, stats.clone(), view, shutdown.stop.clone())
            .await
            .map_err(|source| RunError::Metrics { listen, source })?;
    }
    let status = spawn_status_log(stats.clone(), config.status_interval, shutdown.stop.clone());
    tracing::info!(flows = config.flows.len(), state_dir = %config.state_dir.display(), "edgeship is running");
    systemd::ready(&systemd::status_line(&stats));
    let watchdog_done = tokio_util::sync::CancellationToken::new();
    tokio::spawn(systemd::run_watchdog(stats.clone(), watchdog_done.clone()));

    shutdown.stop.cancelled().await;
    systemd::stopping();
    shutdown.arm_deadline(config.shutdown_timeout);
    status.abort();
    for tailer in tailers {
        let _ = tokio::task::spawn_blocking(move || tailer.join()).await;
    }
    let _ = checkpointer.await;
    watchdog_done.cancel();
    for flow in &stats {
        tracing::info!("final: {}", flow.summary());
    }
    Ok(stats)
}

/// How often the shard map is re-listed even without a sign of resharding.
const SHARD_MAP_PERIOD: Duration = Duration::from_secs(60);

/// The shard map (refreshed in the background) and rate limiter a Kinesis flow needs, if any.
async fn shard_knowledge(
    client: &Arc<KinesisClient>,
    flow: &Flow,
    shutdown: &Shutdown,
) -> Option<Arc<Shards>> {
    if flow.shard_rate.is_none() && !flow.shard_aware {
        return None;
    }
    let map = ShardMapCache::default();
    if flow.shard_aware {
        let _ = tokio::time::timeout(Duration::from_secs(10), map.load_once(client.as_ref())).await;
    }
    let refresher = map.clone().run(
        client.clone(),
        SHARD_MAP_PERIOD,
        shutdown.stop.clone(),
        Arc::from(flow.name.as_str()),
    );
    tokio::spawn(refresher);
    let limiter = flow.shard_rate.map(ShardRateLimiter::new);
    Some(Arc::new(Shards { map, limiter }))
}

struct SenderSettings<'a> {
    flow: &'a Flow,
    config: &'a Config,
    shutdown: &'a Shutdown,
    stats: &'a Arc<FlowStats>,
}

impl SenderSettings<'_> {
    fn spawn<C: PutClient>(
        &self,
        client: Arc<C>,
        shards: Option<Arc<Shards>>,
        batches: mpsc::Receiver<crate::aggregate::Batch>,
        acks: mpsc::Sender<crate::checkpoint::Ack>,
    ) -> JoinHandle<()> {
        let sender = Sender {
            client,
            flow: Arc::from(self.flow.name.as_str()),
            max_in_flight: self.flow.max_in_flight,
            max_in_flight_bytes: self.flow.max_in_flight_bytes,
            policy: RetryPolicy {
                config_backoff: self.config.aws.permanent_error_backoff,
                ..RetryPolicy::default()
            },
            abort: self.shutdown.abort.clone(),
            stats: self.stats.clone(),
            shards,
        };
        tokio::spawn(sender.run(batches, acks))
    }
}

fn resume_offsets(checkpoints: &Checkpoints, flow: &str) -> HashMap<FileKey, u64> {
    checkpoints
        .iter()
        .filter(|((name, _), _)| name == flow)
        .map(|((_, key), c)| (*key, c.offset))
        .collect()
}

fn spawn_status_log(
    stats: Vec<Arc<FlowStats>>,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        while !stop.is_cancelled() {
            tick.tick().await;
            for flow in &stats {
                tracing::info!("status: {}", flow.summary());
            }
        }
    })
}
