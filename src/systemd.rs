//! systemd integration (`Type=notify`): `READY=1` once the config and checkpoints are loaded and
//! every flow is running, `STATUS=` with a one-line progress summary, `STOPPING=1` on shutdown,
//! and `WATCHDOG=1` only while every stage shows signs of life. The tailers beat on each pass
//! and while they wait for room downstream (AWS being slow is not a hang), so a tailer wedged
//! in a blocking read (a dead NFS mount, say) stops the pings and systemd restarts the agent;
//! so does an AWS attempt running far past `request_timeout`, or a checkpoint write that does
//! not return (a hung state disk). A wedged runtime stops the pings by itself: this task runs
//! on it.
//! Without `NOTIFY_SOCKET` all of this is a no-op.

use crate::metrics::{Activity, FlowList};
use sd_notify::NotifyState;
use std::sync::Arc;
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

/// What the watchdog follows.
pub struct Watched {
    pub flows: FlowList,
    /// The checkpointer's writes running now.
    pub checkpoint_writes: Arc<Activity>,
    /// Bounds one AWS attempt: an attempt running far longer is wedged, not slow.
    pub request_timeout: Duration,
}

/// Pings the watchdog at half of `WatchdogSec` while every stage is alive, and refreshes
/// `STATUS=`. Runs until `stop`.
pub async fn run_watchdog(watched: Watched, stop: CancellationToken) {
    let period = sd_notify::watchdog_enabled().map(|limit| limit / 2);
    let mut tick = tokio::time::interval(period.unwrap_or(Duration::from_secs(10)));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        notify(NotifyState::Status(&status_line(&watched.flows)));
        let Some(period) = period else { continue };
        match wedged_stage(&watched, period * 2) {
            None => notify(NotifyState::Watchdog),
            Some(stage) => {
                tracing::error!(
                    "{stage}; withholding the watchdog ping so systemd restarts the agent"
                )
            }
        }
    }
}

/// The first stage that looks wedged, described; `limit` is `WatchdogSec`.
fn wedged_stage(watched: &Watched, limit: Duration) -> Option<String> {
    let readings: Vec<Reading> = watched
        .flows
        .read()
        .expect("registry lock")
        .iter()
        .map(|f| Reading {
            flow: f.flow.clone(),
            tailer_silent: f.tailer_silent_for(),
            longest_attempt: f.sink_calls.longest(),
        })
        .collect();
    let write = watched.checkpoint_writes.longest();
    wedged(&readings, write, limit, watched.request_timeout)
}

/// One flow's signs of life.
struct Reading {
    flow: String,
    tailer_silent: Duration,
    longest_attempt: Option<Duration>,
}

/// The decision, pure: a tailer silent for `limit` (it beats even while waiting for room), an
/// AWS attempt running `limit` past `request_timeout` (which bounds it), or a checkpoint write
/// running for `limit` (a hung state disk).
fn wedged(
    flows: &[Reading],
    checkpoint_write: Option<Duration>,
    limit: Duration,
    request_timeout: Duration,
) -> Option<String> {
    for f in flows {
        if f.tailer_silent > limit {
            return Some(format!(
                "flow {}: the tailer has shown no sign of life for {:?} (a read blocked on a dead mount?)",
                f.flow, f.tailer_silent
            ));
        }
        if let Some(running) = f.longest_attempt.filter(|d| *d > request_timeout + limit) {
            return Some(format!(
                "flow {}: an AWS request has been running for {running:?}, past request_timeout ({request_timeout:?})",
                f.flow
            ));
        }
    }
    checkpoint_write.filter(|d| *d > limit).map(|running| {
        format!(
            "the checkpoint write has not returned for {running:?} (the state_dir's disk may hang)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wedged_stages_are_told_from_waiting_ones() {
        let s = Duration::from_secs;
        let reading = |silent, attempt: Option<u64>| Reading {
            flow: "f".into(),
            tailer_silent: s(silent),
            longest_attempt: attempt.map(s),
        };
        // (tailer silent, longest attempt, checkpoint write, wedged stage)
        type Case = (u64, Option<u64>, Option<u64>, Option<&'static str>);
        let cases: [Case; 7] = [
            (1, None, None, None),
            (1, Some(60), None, None), // a slow request within its bound
            (1, Some(115), Some(5), None),
            (61, None, None, Some("tailer")),
            (1, Some(121), None, Some("AWS request")),
            (1, None, Some(61), Some("checkpoint write")),
            (1, None, Some(59), None),
        ];
        for (silent, attempt, write, expected) in cases {
            let got = wedged(&[reading(silent, attempt)], write.map(s), s(60), s(60));
            match expected {
                None => assert_eq!(got, None, "{silent} {attempt:?} {write:?}"),
                Some(what) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(what)),
                    "{got:?} should name {what}"
                ),
            }
        }
    }
}
