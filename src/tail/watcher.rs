//! inotify wake-ups (through the `notify` crate). Events only *wake* the tail loop early and say
//! which files to look at; the periodic scan stays the truth, because inotify drops events when
//! its queue overflows and does not work on network filesystems. A queue overflow asks for a
//! full rescan; a watch-limit error (`fs.inotify.max_user_watches`) or an unsupported
//! filesystem turns the watcher off, and the tailer polls as before.

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Paths remembered between two passes; beyond this a full rescan is cheaper.
const MAX_PENDING_PATHS: usize = 4096;

/// What happened since the last look.
#[derive(Debug, Default)]
pub struct Pending {
    /// Files that were written to.
    pub paths: HashSet<PathBuf>,
    /// Files appeared, disappeared or were renamed, or events were lost: scan now.
    pub rescan: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: tokio::sync::Notify,
}

pub struct Watcher {
    inner: Option<notify::INotifyWatcher>,
    shared: Arc<Shared>,
    watched: BTreeSet<PathBuf>,
}

impl Watcher {
    /// A watcher, or `Err` with the reason when inotify cannot be used (then: polling).
    pub fn new() -> Result<Watcher, String> {
        let shared = Arc::new(Shared::default());
        let handler_shared = shared.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            handler_shared.record(event);
        };
        let inner = notify::INotifyWatcher::new(handler, notify::Config::default())
            .map_err(|e| format!("inotify unavailable ({e})"))?;
        Ok(Watcher {
            inner: Some(inner),
            shared,
            watched: BTreeSet::new(),
        })
    }

    /// A watcher that never fires: the tailer polls.
    pub fn disabled() -> Watcher {
        Watcher {
            inner: None,
            shared: Arc::new(Shared::default()),
            watched: BTreeSet::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Watches exactly `dirs` (each non-recursively). On a watch-limit error the watcher turns
    /// itself off and returns the reason, so the caller can warn and poll.
    pub fn watch(&mut self, dirs: &BTreeSet<PathBuf>) -> Result<(), String> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        for gone in self.watched.difference(dirs) {
            let _ = inner.unwatch(gone);
        }
        self.watched.retain(|d| dirs.contains(d));
        for dir in dirs.difference(&self.watched.clone()) {
            match inner.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir.clone());
                }
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(e) => {
                    self.inner = None;
                    self.watched.clear();
                    return Err(format!("cannot watch {} ({e})", dir.display()));
                }
            }
        }
        Ok(())
    }

    /// Takes what happened since the last call.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.shared.pending.lock().expect("watcher lock"))
    }

    /// Resolves when an event arrives (or arrived since the last wait).
    pub async fn notified(&self) {
        if self.inner.is_some() {
            self.shared.wake.notified().await
        } else {
            std::future::pending().await
        }
    }
}

impl Shared {
    fn record(&self, event: notify::Result<notify::Event>) {
        let mut pending = self.pending.lock().expect("watcher lock");
        match event {
            Ok(event) if event.need_rescan() => pending.rescan = true,
            Ok(event) => match event.kind {
                EventKind::Modify(ModifyKind::Data(_))
                | EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    pending.paths.extend(event.paths);
                }
                // Our own opens, and attribute changes, say nothing new.
                EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => return,
                _ => {
                    pending.rescan = true;
                    pending.paths.extend(event.paths);
                }
            },
            Err(_) => pending.rescan = true,
        }
        if pending.paths.len() > MAX_PENDING_PATHS {
            pending.paths.clear();
            pending.rescan = true;
        }
        drop(pending);
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writes_and_creations_wake_the_tailer() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = Watcher::new().unwrap();
        watcher
            .watch(&[dir.path().to_owned()].into_iter().collect())
            .unwrap();
        std::fs::write(dir.path().join("a.log"), b"x\n").unwrap();
        tokio::time::timeout(Duration::from_secs(5), watcher.notified())
            .await
            .expect("woken");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pending = watcher.take();
        assert!(pending.rescan, "a new file asks for a scan");
        assert!(pending.paths.contains(&dir.path().join("a.log")));
    }
}
