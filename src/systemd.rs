//! systemd integration (`Type=notify`): `READY=1` once the config and checkpoints are loaded and
//! every flow is running, `STATUS=` with a one-line progress summary, `STOPPING=1` on shutdown,
//! and `WATCHDOG=1` only while every tailer shows signs of life. The tailers beat on each pass
//! and while they wait for room downstream (AWS being slow is not a hang), so a tailer wedged
//! in a blocking read (a dead NFS mount, say) stops the pings and systemd restarts the agent.
//! Without `NOTIFY_SOCKET` all of this is a no-op.

use crate::metrics::FlowList;
use sd_notify::NotifyState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sends a state to systemd; failures are logged once and otherwise ignored.
fn notify(state: NotifyState<'_>) {
    if let Err(error) = sd_notify::notify(&[state]) {
        tracing::debug!("sd_notify failed: {error}");
    }
}

pub fn ready(status: &str) {
    notify(NotifyState::Ready);
    notify(NotifyState::Status(status));
}

/// A reload begins (systemd 253+ wants the monotonic time with it).
pub fn reloading() {
    notify(NotifyState::Reloading);
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        notify(now);
    }
}

pub fn stopping() {
    notify(NotifyState::Stopping);
    notify(NotifyState::Status(
        "stopping: flushing and waiting for in-flight requests",
    ));
}

/// One line for `systemctl status`.
pub fn status_line(flows: &FlowList) -> String {
    let flows = flows.read().expect("registry lock");
    flows
        .iter()
        .map(|f| f.short_status())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Pings the watchdog at half of `WatchdogSec` while every tailer is alive, and refreshes
/// `STATUS=`. Runs until `stop`.
pub async fn run_watchdog(flows: FlowList, stop: CancellationToken) {
    let period = sd_notify::watchdog_enabled().map(|limit| limit / 2);
    let mut tick = tokio::time::interval(period.unwrap_or(Duration::from_secs(10)));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        notify(NotifyState::Status(&status_line(&flows)));
        let Some(period) = period else { continue };
        let stalled = flows
            .read()
            .expect("registry lock")
            .iter()
            .find(|f| f.tailer_silent_for() > period * 2)
            .cloned();
        match stalled {
            None => notify(NotifyState::Watchdog),
            Some(stalled) => {
                tracing::error!(flow = %stalled.flow, silent = ?stalled.tailer_silent_for(), "tailer shows no sign of life; withholding the watchdog ping so systemd restarts the agent")
            }
        }
    }
}
