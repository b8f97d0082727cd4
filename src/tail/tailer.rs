//! The per-flow tail loop. It runs on its own OS thread (file reads are blocking syscalls) and
//! hands chunks to the async pipeline through a bounded channel: when AWS is slow the channel
//! fills, `send` waits, and the file on disk becomes the buffer.
//!
//! Each pass: re-scan the globs when `scan_interval` has passed or inotify saw files appear or
//! go ([`Tailer::scan`]), then read the files that may have new data, a bounded amount each so
//! one busy file cannot starve the others, then sleep until an event, the next scan, or (for
//! files that events cannot cover) `poll_interval`.
//!
//! Files rotated away or deleted are read to their end through their open handle; the handle is
//! closed only once their last offset is durably acknowledged. File discovery and identity
//! decisions live in `track.rs`.

use super::file_set::FileSet;
use super::settings::TailSettings;
use super::spool::Spool;
use super::spooling::Held;
use super::tracked::Status;
use super::watcher::Watcher;
use super::{Chunk, FileKey, KnownFile, ReleaseView, Resume, TailObserver};
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Chunks read from one file before moving to the next (1 MiB).
const CHUNKS_PER_TURN: usize = 16;

pub struct Tailer {
    pub(super) settings: TailSettings,
    pub(super) set: FileSet,
    pub(super) release_view: Arc<dyn ReleaseView>,
    /// Where deleted files still held at a stop are saved (see `spooling.rs`).
    pub(super) spool: Option<Spool>,
    /// Inodes of deleted files whose spooled rest was resumed: a file found with one of them
    /// is new (read from its start), whatever `start_at` says.
    pub(super) reused: HashSet<FileKey>,
    drained: Option<CancellationToken>,
    /// Disk that deleted files held open may pin before they move into the spool.
    pub(super) max_held_bytes: Option<u64>,
    pub(super) watcher: Watcher,
    pub(super) reported_errors: HashSet<PathBuf>,
    pub(super) observer: Arc<dyn TailObserver>,
    out: mpsc::Sender<Chunk>,
    /// Chunks waiting for room downstream, in order. Reading stops while it holds any, but
    /// scanning goes on, so files that appear and rotate away while AWS is down are still
    /// found and held (their markers queue here: one per file, tiny).
    outbox: VecDeque<Chunk>,
    stop: CancellationToken,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) first_scan: bool,
}

impl Tailer {
    /// `resume` holds this flow's checkpoints; `release_view` says when a released file's end
    /// is durably acknowledged.
    pub fn new(
        settings: TailSettings,
        resume: Resume,
        release_view: Arc<dyn ReleaseView>,
        observer: Arc<dyn TailObserver>,
        out: mpsc::Sender<Chunk>,
        stop: CancellationToken,
        runtime: tokio::runtime::Handle,
    ) -> Tailer {
        let watcher = if settings.use_inotify {
            Watcher::new().unwrap_or_else(|reason| {
                observer.watch_degraded(&reason);
                Watcher::disabled()
            })
        } else {
            Watcher::disabled()
        };
        Tailer {
            settings,
            set: FileSet::new(resume),
            release_view,
            spool: None,
            reused: HashSet::new(),
            drained: None,
            max_held_bytes: None,
            watcher,
            reported_errors: HashSet::new(),
            observer,
            out,
            outbox: VecDeque::new(),
            stop,
            runtime,
            first_scan: true,
        }
    }

    /// At a stop, once `drained` is cancelled (every delivery finished or was abandoned), saves
    /// what is unacknowledged of files out of reach (deleted or rotated away) into `spool`; at
    /// the start, resumes its segments.
    pub fn with_spool(
        mut self,
        spool: Spool,
        max_held_bytes: u64,
        drained: CancellationToken,
    ) -> Tailer {
        self.spool = Some(spool);
        self.max_held_bytes = Some(max_held_bytes);
        self.drained = Some(drained);
        self
    }

    /// Starts the loop on a dedicated thread; it ends when `stop` is cancelled or the
    /// downstream channel closes, dropping its sender so the next stage sees the end.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("tail-{}", self.settings.name))
            .spawn(move || self.run())
    }

    fn run(mut self) {
        self.follow();
        let Some(drained) = self.drained.take() else {
            return;
        };
        self.watch_until(&drained);
        Held::from(self).spool_held();
    }

    /// Stopping: lets go of the channel, so the pipeline drains, but keeps finding files (and
    /// holding them open) until it has: logrotate may create and delete files meanwhile.
    fn watch_until(&mut self, drained: &CancellationToken) {
        self.out = mpsc::channel(1).0;
        loop {
            for marker in self.scan() {
                self.queue(marker); // checkpointed through `follow`; never sent
            }
            self.bound_hold();
            self.outbox.clear();
            if drained.is_cancelled() {
                return;
            }
            let wait = self.settings.scan_interval;
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(wait, drained.cancelled()).await });
        }
    }

    /// The loop: until stopped (or the pipeline is gone).
    fn follow(&mut self) {
        let mut next_scan = Instant::now();
        while !self.stop.is_cancelled() {
            self.observer.alive();
            let pending = self.watcher.take();
            if pending.rescan || Instant::now() >= next_scan {
                for marker in self.scan() {
                    self.queue(marker);
                }
                self.bound_hold();
                if Instant::now() >= next_scan {
                    next_scan = Instant::now() + self.settings.scan_interval;
                }
            }
            for path in &pending.paths {
                if let Some(file) = self
                    .set
                    .by_path
                    .get(path)
                    .and_then(|k| self.set.files.get_mut(k))
                {
                    file.dirty = true;
                }
            }
            if !pending.paths.is_empty() {
                self.reopen_parked(); // a closed file was written to
            }
            let Ok(read_any) = self.flush().and_then(|_| self.read_pass()) else {
                self.drained = None;
                return;
            };
            self.close_acknowledged();
            if !read_any {
                self.pause(self.wait_time(next_scan));
            }
        }
    }

    /// Until the next scan when inotify covers every open file; else at most `poll_interval`.
    fn wait_time(&self, next_scan: Instant) -> Duration {
        let until_scan = next_scan.saturating_duration_since(Instant::now());
        let needs_polling = !self.watcher.is_active()
            || !self.set.closing.is_empty()
            || self
                .set
                .files
                .values()
                .any(|f| f.is_open() && (f.status != Status::Live || !f.at_eof));
        if needs_polling {
            until_scan.min(self.settings.poll_interval)
        } else {
            until_scan
        }
    }

    /// Sleeps until stopped, a file event, `duration`, or (while chunks wait) room downstream,
    /// into which the first waiting chunk goes. While blocked, file events do not wake the
    /// loop (a busy log would spin it); the next scan still comes on time.
    fn pause(&mut self, duration: Duration) {
        let stop = self.stop.clone();
        let watcher = &self.watcher;
        let (out, blocked) = (self.out.clone(), !self.outbox.is_empty());
        // Woken only once half the queue is free, not for every chunk taken: a wake-up is two
        // context switches, and small chunks would otherwise pay one per chunk.
        let room = (out.max_capacity() / 2).max(1);
        let permits = self.runtime.block_on(async {
            tokio::select! {
                _ = stop.cancelled() => None,
                _ = watcher.notified(), if !blocked => None,
                _ = tokio::time::sleep(duration) => None,
                permits = out.reserve_many(room), if blocked => permits.ok(),
            }
        });
        if let Some(permit) = permits.and_then(|mut permits| permits.next()) {
            permit.send(self.outbox.pop_front().expect("blocked: a chunk waits"));
        }
    }

    /// Queues a chunk downstream and sends what fits now, without waiting; `Err` when the
    /// pipeline is gone. A chunk still queued at a stop was never acknowledged, so it is read
    /// again after a restart.
    pub(super) fn send(&mut self, chunk: Chunk) -> Result<(), ()> {
        self.queue(chunk);
        self.flush()
    }

    /// A marker saying where a file is followed from is checkpointed at once (if the file has
    /// no checkpoint yet), not only when it gets through: while AWS is down it would wait here.
    pub(super) fn queue(&mut self, chunk: Chunk) {
        if chunk.data.is_empty() && !chunk.released {
            self.release_view.follow(&chunk.file, chunk.start_offset);
        }
        self.outbox.push_back(chunk);
    }

    /// Sends queued chunks while there is room downstream.
    fn flush(&mut self) -> Result<(), ()> {
        while let Some(chunk) = self.outbox.pop_front() {
            match self.out.try_send(chunk) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(chunk)) => {
                    self.outbox.push_front(chunk);
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(()),
            }
        }
        Ok(())
    }

    /// Chunks are waiting for room downstream: read nothing more until they are sent.
    fn blocked(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Reads a bounded amount from every file that may have data; `Ok(true)` if anything was
    /// read. Files rotated away go first, and a file waits while its rotated predecessor (a
    /// file first found under the same path) still has data, so a log is shipped in order.
    fn read_pass(&mut self) -> Result<bool, ()> {
        let mut read_any = false;
        let draining: HashSet<PathBuf> = self
            .set
            .files
            .values()
            .filter(|f| matches!(f.status, Status::Rotated { .. }) && !f.at_eof)
            .map(|f| f.origin.clone())
            .collect();
        let mut keys: Vec<(bool, FileKey)> = self
            .set
            .files
            .iter()
            .map(|(k, f)| (f.status == Status::Live, *k))
            .collect();
        keys.sort();
        for (is_live, key) in keys {
            if self.blocked() {
                break;
            }
            if !self.wants_read(
                key,
                is_live && draining.contains(&self.set.files[&key].origin),
            ) {
                continue;
            }
            self.check_rotation(key);
            for _ in 0..CHUNKS_PER_TURN {
                let Some(chunk) = self.read_file(key) else {
                    break;
                };
                read_any = true;
                if !self.still_the_same_content(key, chunk.start_offset) {
                    break; // the chunk may be the new content at old offsets: read again
                }
                if let Some(file) = self.set.files.get_mut(&key) {
                    file.last_mark = chunk.mark.or(file.last_mark);
                }
                self.send(chunk)?;
                if self.blocked() {
                    break;
                }
            }
            self.release_if_done(key)?;
        }
        Ok(read_any)
    }

    fn wants_read(&mut self, key: FileKey, has_draining_predecessor: bool) -> bool {
        match self.set.files.get(&key).map(|f| f.status) {
            Some(Status::CopyOf { .. }) => self.resolve_copy(key),
            Some(Status::Settling { .. }) => {
                if let Some(marker) = self.settle(key, false) {
                    let _ = self.send(marker);
                }
            }
            _ => {}
        }
        let inotify = self.watcher.is_active();
        let Some(file) = self.set.files.get(&key) else {
            return false;
        };
        let idle = inotify && file.status == Status::Live && file.at_eof && !file.dirty;
        file.is_open()
            && !matches!(file.status, Status::CopyOf { .. } | Status::Settling { .. })
            && !has_draining_predecessor
            && !idle
    }

    pub(super) fn read_file(&mut self, key: FileKey) -> Option<Chunk> {
        let tracked = self.set.files.get_mut(&key)?;
        let reader = tracked.reader.as_mut()?;
        let path = reader.file_ref().path.clone();
        match reader.read_chunk() {
            Ok(outcome) => {
                for cut in &outcome.truncations {
                    self.observer
                        .line_truncated(&path, cut.offset, cut.kept_bytes);
                }
                if outcome.skipped_bytes > 0 {
                    self.observer
                        .bytes_lost(&path, "line_truncated", outcome.skipped_bytes);
                }
                tracked.at_eof = outcome.at_eof;
                let position = reader.read_position();
                tracked.seen_size = tracked.seen_size.max(position);
                if outcome.at_eof {
                    self.observer.file_size(key, position);
                }
                let chunk = outcome.chunk?;
                tracked.last_read = Instant::now();
                self.observer.lines_read(
                    chunk.lines.len() as u64,
                    chunk.end_offset - chunk.start_offset,
                );
                Some(chunk)
            }
            Err(error) => {
                self.observer.read_error(&path, &error);
                None
            }
        }
    }

    /// A file under no matching path is let go once read to its end and missing for a scan
    /// interval (late writes to a just-rotated file still arrive). Its handle stays open until
    /// its end is acknowledged: for a deleted file, that handle is the only way to the data.
    fn release_if_done(&mut self, key: FileKey) -> Result<(), ()> {
        let Some(tracked) = self.set.files.get(&key) else {
            return Ok(());
        };
        let grace_over = matches!(tracked.status,
            Status::Rotated { since } if since.elapsed() >= self.settings.scan_interval);
        if !(grace_over && tracked.at_eof) {
            return Ok(());
        }
        let mut tracked = self.set.files.remove(&key).expect("checked above");
        let file_ref = tracked.file_ref.clone();
        self.observer.file_released(
            key,
            &file_ref.path,
            "no longer matched (rotated away or deleted) and read to its end",
        );
        let end_offset = tracked.consumed();
        self.set.remember_finished(KnownFile {
            key,
            path: file_ref.path.clone(),
            offset: end_offset,
            head: file_ref.head,
            mark: tracked.last_mark,
        });
        if let Some(reader) = tracked.reader.take() {
            self.set.closing.push((key, reader));
        }
        self.send(Chunk {
            file: file_ref,
            mark: tracked.last_mark,
            data: bytes::Bytes::new(),
            lines: Vec::new(),
            start_offset: end_offset,
            end_offset,
            released: true,
        })
    }

    fn close_acknowledged(&mut self) {
        if !self.set.closing.is_empty() {
            let view = self.release_view.clone();
            let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.set.closing)
                .into_iter()
                .partition(|(key, _)| view.is_released(*key));
            self.set.closing = open;
            for (key, _) in done {
                self.discard_segment(key);
            }
        }
    }
}
