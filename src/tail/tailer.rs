//! The per-flow tail loop. It runs on its own OS thread (file reads are blocking syscalls) and
//! hands chunks to the async pipeline through a bounded channel: when AWS is slow the channel
//! fills, `send` waits, and the file on disk becomes the buffer.
//!
//! Each pass: re-scan the globs when `scan_interval` has passed, then read every tracked file in
//! turn (a bounded amount each, so one busy file cannot starve the others), then sleep
//! `poll_interval` if nothing was read.

use super::discovery;
use super::reader::FileReader;
use super::{Chunk, FileKey, FileRef, TailObserver};
use crate::config::{Flow, StartAt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Chunks read from one file before moving to the next.
const CHUNKS_PER_TURN: usize = 4;

struct TrackedFile {
    reader: FileReader,
    /// When the file stopped being found under a matching path (rotated away or deleted).
    missing_since: Option<Instant>,
    at_eof: bool,
}

pub struct Tailer {
    flow: Flow,
    resume: HashMap<FileKey, u64>,
    files: BTreeMap<FileKey, TrackedFile>,
    reported_errors: HashSet<PathBuf>,
    observer: Arc<dyn TailObserver>,
    out: mpsc::Sender<Chunk>,
    stop: CancellationToken,
    runtime: tokio::runtime::Handle,
    first_scan: bool,
}

impl Tailer {
    /// `resume` holds this flow's checkpointed offsets by file identity.
    pub fn new(
        flow: Flow,
        resume: HashMap<FileKey, u64>,
        observer: Arc<dyn TailObserver>,
        out: mpsc::Sender<Chunk>,
        stop: CancellationToken,
        runtime: tokio::runtime::Handle,
    ) -> Tailer {
        Tailer {
            flow,
            resume,
            files: BTreeMap::new(),
            reported_errors: HashSet::new(),
            observer,
            out,
            stop,
            runtime,
            first_scan: true,
        }
    }

    /// Starts the loop on a dedicated thread; it ends when `stop` is cancelled or the
    /// downstream channel closes, dropping its sender so the next stage sees the end.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("tail-{}", self.flow.name))
            .spawn(move || self.run())
    }

    fn run(mut self) {
        let mut next_scan = Instant::now();
        while !self.stop.is_cancelled() {
            self.observer.alive();
            if Instant::now() >= next_scan {
                for marker in self.scan() {
                    if self.send(marker).is_err() {
                        return;
                    }
                }
                next_scan = Instant::now() + self.flow.scan_interval;
            }
            let Ok(read_any) = self.read_pass() else {
                return;
            };
            if !read_any {
                self.pause(
                    self.flow
                        .poll_interval
                        .min(next_scan.saturating_duration_since(Instant::now())),
                );
            }
        }
    }

    fn pause(&self, duration: Duration) {
        let stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(duration) => {}
            }
        });
    }

    /// Sends downstream, waiting for room; `Err` when stopping or the pipeline is gone. A chunk
    /// dropped here was never acknowledged, so it is read again after a restart. Waiting for
    /// room (AWS slow or down) still counts as alive for the watchdog.
    fn send(&self, chunk: Chunk) -> Result<(), ()> {
        let (stop, out, observer) = (self.stop.clone(), self.out.clone(), self.observer.clone());
        self.runtime.block_on(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => return Err(()),
                    permit = out.reserve() => {
                        permit.map_err(|_| ())?.send(chunk);
                        return Ok(());
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => observer.alive(),
                }
            }
        })
    }

    /// Re-scans the globs. Returns a progress marker per newly tracked file so its starting
    /// offset is checkpointed even before a line arrives: otherwise a file started at its end
    /// and idle until a restart would have no checkpoint, and `start_at = "end"` would skip
    /// what was written while the agent was down.
    fn scan(&mut self) -> Vec<Chunk> {
        let scan = discovery::scan(&self.flow);
        for (path, error) in &scan.errors {
            if self.reported_errors.insert(path.clone()) {
                self.observer.read_error(path, error);
            }
        }
        let mut present = HashSet::new();
        let mut markers = Vec::new();
        for path in &scan.files {
            let known = self.files.len();
            if let Some(key) = self.track(path) {
                present.insert(key);
                if self.files.len() > known {
                    let reader = &self.files[&key].reader;
                    let offset = reader.consumed();
                    markers.push(Chunk {
                        file: reader.file_ref().clone(),
                        data: Vec::new(),
                        lines: Vec::new(),
                        start_offset: offset,
                        end_offset: offset,
                        released: false,
                    });
                }
            }
        }
        for (key, tracked) in self.files.iter_mut() {
            if present.contains(key) {
                tracked.missing_since = None;
            } else if tracked.missing_since.is_none() {
                tracked.missing_since = Some(Instant::now());
            }
        }
        self.first_scan = false;
        markers
    }

    /// Makes sure the file at `path` is tracked; returns its identity.
    fn track(&mut self, path: &Path) -> Option<FileKey> {
        let metadata = std::fs::metadata(path).ok()?;
        let key = FileKey::of(&metadata);
        self.observer.file_size(key, metadata.len());
        if let Some(tracked) = self.files.get_mut(&key) {
            if tracked.reader.file_ref().path != path {
                // Renamed but still matched (e.g. app.log -> app.log.1): same file, new name.
                tracked.reader.set_file_ref(Arc::new(FileRef {
                    key,
                    path: path.to_owned(),
                }));
            }
            return Some(key);
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) => {
                if self.reported_errors.insert(path.to_owned()) {
                    self.observer.read_error(path, &error);
                }
                return None;
            }
        };
        self.reported_errors.remove(path);
        let opened = file.metadata().ok().map(|m| FileKey::of(&m));
        if opened != Some(key) {
            return None; // replaced between stat and open: the next scan picks up the new one
        }
        let (offset, reason) = self.start_offset(key, metadata.len());
        let file_ref = Arc::new(FileRef {
            key,
            path: path.to_owned(),
        });
        match FileReader::new(file, file_ref, offset, self.flow.limits.max_line_bytes()) {
            Ok(reader) => {
                self.observer.file_added(key, path, offset, reason);
                self.files.insert(
                    key,
                    TrackedFile {
                        reader,
                        missing_since: None,
                        at_eof: false,
                    },
                );
                Some(key)
            }
            Err(error) => {
                self.observer.read_error(path, &error);
                None
            }
        }
    }

    fn start_offset(&mut self, key: FileKey, size: u64) -> (u64, &'static str) {
        match self.resume.remove(&key) {
            Some(offset) if offset <= size => (offset, "resuming from checkpoint"),
            Some(_) => (
                0,
                "checkpoint is past the end of the file (truncated while stopped): reading from the start",
            ),
            None if self.first_scan && self.flow.start_at == StartAt::End => {
                (size, "no checkpoint, start_at = \"end\"")
            }
            None if self.first_scan => (0, "no checkpoint, start_at = \"beginning\""),
            None => (0, "new file"),
        }
    }

    /// Reads a bounded amount from every file; `Ok(true)` if anything was read.
    fn read_pass(&mut self) -> Result<bool, ()> {
        let mut read_any = false;
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        for key in keys {
            for _ in 0..CHUNKS_PER_TURN {
                let Some(chunk) = self.read_file(key) else {
                    break;
                };
                read_any = true;
                self.send(chunk)?;
            }
            self.release_if_done(key)?;
        }
        Ok(read_any)
    }

    fn read_file(&mut self, key: FileKey) -> Option<Chunk> {
        let tracked = self.files.get_mut(&key)?;
        let path = tracked.reader.file_ref().path.clone();
        match tracked.reader.read_chunk() {
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
                if outcome.at_eof && outcome.chunk.is_none() {
                    check_truncation(tracked, &path, self.observer.as_ref());
                }
                if outcome.at_eof {
                    self.observer.file_size(key, tracked.reader.read_position());
                }
                let chunk = outcome.chunk?;
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

    /// A file no longer found under a matching path is let go once it has been read to its end
    /// and stayed missing for a scan interval (late writes to a just-rotated file still arrive).
    fn release_if_done(&mut self, key: FileKey) -> Result<(), ()> {
        let Some(tracked) = self.files.get(&key) else {
            return Ok(());
        };
        let grace_over = tracked
            .missing_since
            .is_some_and(|since| since.elapsed() >= self.flow.scan_interval);
        if !(grace_over && tracked.at_eof) {
            return Ok(());
        }
        let tracked = self.files.remove(&key).expect("checked above");
        let file_ref = tracked.reader.file_ref().clone();
        self.observer.file_released(
            key,
            &file_ref.path,
            "no longer matched (rotated away or deleted) and read to its end",
        );
        let end_offset = tracked.reader.consumed();
        self.send(Chunk {
            file: file_ref,
            data: Vec::new(),
            lines: Vec::new(),
            start_offset: end_offset,
            end_offset,
            released: true,
        })
    }
}

/// A file that shrank below what we read was truncated in place (e.g. copytruncate): start over.
fn check_truncation(tracked: &mut TrackedFile, path: &Path, observer: &dyn TailObserver) {
    let Ok(metadata) = tracked.reader.file().metadata() else {
        return;
    };
    let position = tracked.reader.read_position();
    if metadata.len() < position {
        observer.file_truncated(path, position, metadata.len());
        if let Err(error) = tracked.reader.rewind(0) {
            observer.read_error(path, &error);
        }
    }
}
