//! Calls that must return (an AWS attempt, a checkpoint write), so the watchdog can tell a
//! stage that waits, for data or for AWS to come back, from one stuck inside a call. Every
//! wait of the sink and the checkpointer is either bounded (an attempt by `request_timeout`)
//! or for input; only a call that overruns its bound means the stage is wedged.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Activity {
    next: AtomicU64,
    /// The calls running now, by id, with when they began.
    running: Mutex<BTreeMap<u64, Instant>>,
}

impl Activity {
    /// A call begins; it ends when the guard drops (returned, failed or cancelled).
    pub fn enter(&self) -> Busy<'_> {
        let id = self.next.fetch_add(1, Relaxed);
        self.lock().insert(id, Instant::now());
        Busy { activity: self, id }
    }

    /// How long the oldest running call has been running.
    pub fn longest(&self) -> Option<Duration> {
        self.longest_at(Instant::now())
    }

    fn longest_at(&self, now: Instant) -> Option<Duration> {
        let oldest = *self.lock().values().min()?;
        Some(now.saturating_duration_since(oldest))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Instant>> {
        self.running.lock().expect("activity lock")
    }
}

pub struct Busy<'a> {
    activity: &'a Activity,
    id: u64,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.activity.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_running_call_counts_until_it_ends() {
        let activity = Activity::default();
        assert_eq!(activity.longest(), None);
        let first = activity.enter();
        let between = Instant::now();
        let second = activity.enter();
        let now = Instant::now();
        assert!(activity.longest_at(now).unwrap() >= now - between);
        drop(first);
        assert!(activity.longest_at(now).unwrap() <= now - between);
        drop(second);
        assert_eq!(activity.longest(), None);
    }
}
