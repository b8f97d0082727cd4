//! Graceful shutdown in two steps. `stop` ends intake (tailers stop reading); the closing
//! channels then cascade downstream: batchers flush, senders drain, the checkpointer writes last.
//! `abort` fires `shutdown_timeout` later (or on a second signal) and makes in-flight deliveries
//! give up; their lines were never acknowledged, so they are read again after a restart.

use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Shutdown {
    pub stop: CancellationToken,
    pub abort: CancellationToken,
}

impl Shutdown {
    /// Starts the deadline that follows `stop`.
    pub fn arm_deadline(&self, timeout: Duration) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            shutdown.stop.cancelled().await;
            tracing::info!(
                ?timeout,
                "waiting up to shutdown_timeout for in-flight requests; a second SIGTERM or SIGINT abandons them now (their lines are sent again after restart)"
            );
            tokio::select! {
                _ = tokio::time::sleep(timeout) => {
                    tracing::warn!(?timeout, "shutdown_timeout reached: abandoning in-flight requests (their lines will be sent again after restart)");
                    shutdown.abort.cancel();
                }
                _ = shutdown.abort.cancelled() => {}
            }
        });
    }

    /// SIGTERM / SIGINT: the first stops intake, a second one aborts at once.
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let shutdown = self.clone();
        tokio::spawn(async move {
            for count in 0.. {
                let name = tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                if count == 0 {
                    tracing::info!(
                        "{name} received: stopping intake, flushing and waiting for in-flight requests"
                    );
                    shutdown.stop.cancel();
                } else {
                    tracing::warn!("second {name}: abandoning in-flight requests now");
                    shutdown.abort.cancel();
                }
            }
        });
        Ok(())
    }
}
