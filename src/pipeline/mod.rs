//! Runs the agent: every flow's pipeline ([`flow`]), the shared checkpointer, metrics, status
//! log and systemd notifications, until shutdown. `SIGHUP` reloads the config file: flows that
//! were removed or changed are stopped like at shutdown (flushed, in-flight requests awaited,
//! acknowledged), changed and added flows start from the live checkpoints, and unchanged
//! flows keep running untouched. A config that fails validation is rejected and the running
//! one kept.

mod clients;
mod fanout;
pub mod flow;
mod sink;

use crate::checkpoint::{CheckpointMsg, CheckpointView, Store, StoreError, run_checkpointer};
use crate::config::Config;
use crate::metrics::{FlowList, FlowStats};
use crate::shutdown::Shutdown;
use crate::sink::aws::AwsSetupError;
use crate::systemd;
use crate::tail::Resume;
use clients::{ClientPool, FlowAwsError};
use flow::{FlowContext, RunningFlow};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Acknowledgements queued for the checkpointer.
const ACK_QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsSetupError),
    #[error(transparent)]
    FlowAws(#[from] FlowAwsError),
    #[error("cannot start the tailer thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "cannot listen for metrics on {listen}: {source}; change [metrics] listen or free the port"
    )]
    Metrics {
        listen: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(std::io::Error),
}

impl RunError {
    /// A setting the user must change (no region, an unusable endpoint): exit 78 like a
    /// config error, so systemd does not restart into the same failure.
    pub fn is_config(&self) -> bool {
        matches!(self, RunError::Aws(_) | RunError::FlowAws(_))
    }
}

/// The running flows and what starting more of them needs.
struct Agent {
    config: Config,
    /// The AWS clients of the configured flows.
    clients: ClientPool,
    host: String,
    acks: mpsc::Sender<CheckpointMsg>,
    shutdown: Shutdown,
    running: BTreeMap<String, RunningFlow>,
    registry: FlowList,
    next_instance: u64,
    /// Persisted checkpoints: tells tailers when a released file's handle may be closed.
    view: CheckpointView,
    /// The periodic status line; restarted when `status_interval` changes.
    status_log: Option<JoinHandle<()>>,
    /// EC2 instance metadata for flows with `ec2_metadata = true`.
    ec2: crate::parse::ec2::Ec2Source,
    /// Shard budgets shared by the flows writing to one stream (kept across reloads).
    budgets: crate::sink::rate_limit::StreamBudgets,
}

/// Runs every flow until `shutdown.stop` fires and everything has drained.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<Vec<Arc<FlowStats>>, RunError> {
    raise_open_file_limit(&config);
    let (store, checkpoints) = Store::open(&config.state_dir)?;
    let clients = ClientPool::default().for_config(&config).await?;
    let mut hangup = signal(SignalKind::hangup()).map_err(RunError::Signal)?;
    let (ack_tx, ack_rx) = mpsc::channel(ACK_QUEUE);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let view = CheckpointView::new(checkpoints.clone());
    let mut agent = Agent {
        view: view.clone(),
        config,
        clients,
        host,
        acks: ack_tx,
        shutdown: shutdown.clone(),
        running: BTreeMap::new(),
        registry: FlowList::default(),
        next_instance: 0,
        status_log: None,
        ec2: Default::default(),
        budgets: Default::default(),
    };
    for flow in agent.config.flows.clone() {
        agent.start(&flow, checkpoints.resume(&flow.name)).await?;
    }
    let checkpoint_writes = Arc::new(crate::metrics::Activity::default());
    let checkpointer = tokio::spawn(run_checkpointer(
        store,
        checkpoints,
        ack_rx,
        agent.config.checkpoint_interval,
        view.clone(),
        checkpoint_writes.clone(),
    ));
    if let Some(listen) = agent.config.metrics_listen {
        crate::metrics::server::start(listen, agent.registry.clone(), view, shutdown.stop.clone())
            .await
            .map_err(|source| RunError::Metrics { listen, source })?;
    }
    agent.status_log = Some(spawn_status_log(
        agent.registry.clone(),
        agent.config.status_interval,
    ));
    tracing::info!(flows = agent.running.len(), state_dir = %agent.config.state_dir.display(), "edgeship is running");
    systemd::ready(&systemd::status_line(&agent.registry));
    let watchdog_done = tokio_util::sync::CancellationToken::new();
    tokio::spawn(systemd::run_watchdog(
        systemd::Watched {
            flows: agent.registry.clone(),
            checkpoint_writes,
            request_timeout: agent.config.aws.request_timeout,
        },
        watchdog_done.clone(),
    ));

    loop {
        tokio::select! {
            _ = shutdown.stop.cancelled() => break,
            _ = hangup.recv() => agent.reload().await,
        }
    }
    systemd::stopping();
    shutdown.arm_deadline(agent.config.shutdown_timeout);
    if let Some(status) = agent.status_log.take() {
        status.abort();
    }
    let stats = agent.stop_all().await;
    let _ = checkpointer.await;
    watchdog_done.cancel();
    Ok(stats)
}

impl Agent {
    async fn start(&mut self, flow: &crate::config::Flow, resume: Resume) -> Result<(), RunError> {
        let context = FlowContext {
            view: &self.view,
            clients: &self.clients,
            aws: &self.config.aws,
            host: &self.host,
            acks: &self.acks,
            shutdown: &self.shutdown,
            state_dir: &self.config.state_dir,
            spool_max_bytes: self.config.spool_max_bytes,
            max_held_bytes: self.config.max_held_bytes,
            ec2: &self.ec2,
            budgets: &self.budgets,
        };
        let running = flow::start(&context, flow, resume, self.next_instance).await?;
        self.next_instance += 1;
        self.running.insert(flow.name.clone(), running);
        self.publish();
        Ok(())
    }

    /// Makes the running flows' stats visible to metrics, status and the watchdog.
    fn publish(&self) {
        *self.registry.write().expect("registry lock") = self
            .running
            .values()
            .flat_map(|r| std::iter::once(&r.stats).chain(&r.fanout_stats))
            .cloned()
            .collect();
    }

    /// The acknowledged offsets of a flow, after every acknowledgement sent so far is applied.
    async fn live_offsets(&self, flow: &str) -> Resume {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let _ = self
            .acks
            .send(CheckpointMsg::Offsets {
                flow: flow.to_owned(),
                reply,
            })
            .await;
        answer.await.unwrap_or_default()
    }

    async fn reload(&mut self) {
        systemd::reloading();
        tracing::info!(config = %self.config.source.display(), "SIGHUP: reloading the configuration");
        let new = match Config::load(&self.config.source) {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(
                    "reload rejected, the running configuration stays in effect: {error}"
                );
                systemd::ready(&systemd::status_line(&self.registry));
                return;
            }
        };
        if new.state_dir != self.config.state_dir
            || new.metrics_listen != self.config.metrics_listen
            || new.checkpoint_interval != self.config.checkpoint_interval
        {
            tracing::warn!(
                "state_dir, checkpoint_interval and [metrics] changes take effect at the next restart"
            );
        }
        let clients = match self.clients.for_config(&new).await {
            Ok(clients) => clients,
            Err(error) => {
                tracing::error!("reload rejected: {error}");
                systemd::ready(&systemd::status_line(&self.registry));
                return;
            }
        };
        // Only once nothing can reject the reload any more: a rejected one changes nothing.
        self.apply_globals(&new);
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(name, running)| {
                let aws = all_aws_settings(&running.flow, &self.config.aws);
                !new.flows.iter().any(|f| {
                    &f.name == *name
                        && f.settings == running.flow.settings
                        && all_aws_settings(f, &new.aws) == aws
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let running = self.running.remove(&name).expect("listed above");
            tracing::info!(flow = %name, "stopping flow (removed or changed)");
            running.stop(new.shutdown_timeout).await;
        }
        self.config = new;
        self.clients = clients;
        for flow in self.config.flows.clone() {
            if self.running.contains_key(&flow.name) {
                tracing::info!(flow = %flow.name, "flow unchanged, still running");
                continue;
            }
            let resume = self.live_offsets(&flow.name).await;
            if let Err(error) = self.start(&flow, resume).await {
                tracing::error!(flow = %flow.name, "cannot start flow: {error}");
            }
        }
        self.publish();
        tracing::info!(flows = self.running.len(), "configuration reloaded");
        systemd::ready(&systemd::status_line(&self.registry));
    }

    /// The settings a reload applies in place: the log level and the status interval.
    fn apply_globals(&mut self, new: &Config) {
        if new.log_level != self.config.log_level {
            if crate::logging::set_level(new.log_level.name()) {
                tracing::info!(log_level = %new.log_level, "log level changed");
            } else {
                tracing::warn!("log_level changed, but RUST_LOG is set and takes precedence");
            }
        }
        if new.status_interval != self.config.status_interval {
            if let Some(old) = self.status_log.take() {
                old.abort();
            }
            self.status_log = Some(spawn_status_log(self.registry.clone(), new.status_interval));
            tracing::info!(status_interval = ?new.status_interval, "status interval changed");
        }
    }

    /// Stops every flow (intake already stopped by the shutdown token) and lets the
    /// checkpointer finish: dropping the agent drops the last acknowledgement sender.
    async fn stop_all(self) -> Vec<Arc<FlowStats>> {
        let mut stats = Vec::new();
        for (_, running) in self.running {
            stats.push(running.stop(self.config.shutdown_timeout).await);
        }
        stats
    }
}

/// The AWS settings of each of a flow's destinations: a change to any restarts the flow.
fn all_aws_settings(
    flow: &crate::config::Flow,
    global: &crate::config::AwsSettings,
) -> Vec<crate::config::AwsSettings> {
    flow.destinations()
        .map(|d| d.aws_settings(global))
        .collect()
}

/// Raises the soft descriptor limit to the hard one (systemd's default soft limit is 1,024,
/// which one flow's `max_open_files` can reach), and warns when the flows' caps together
/// still do not fit: opening files would then fail with "too many open files".
// `rlim_t` is 32 bits on 32-bit ARM: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
fn raise_open_file_limit(config: &Config) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    let wanted: u64 = config
        .flows
        .iter()
        .map(|f| f.max_open_files as u64)
        .sum::<u64>()
        + 64;
    if (limit.rlim_cur as u64) < wanted {
        tracing::warn!(
            limit = limit.rlim_cur as u64,
            wanted,
            "the descriptor limit is below the flows' max_open_files together; lower max_open_files or raise LimitNOFILE"
        );
    }
}

fn spawn_status_log(flows: FlowList, every: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            for flow in flows.read().expect("registry lock").iter() {
                tracing::info!("status: {}", flow.summary());
            }
        }
    })
}
