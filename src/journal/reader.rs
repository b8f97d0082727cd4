//! Runs journalctl and turns its output into chunks of records, until the flow stops. A
//! journalctl that ends or cannot start is started again, with backoff, from the last entry
//! read; records not yet sent when the flow stops are read again by the next run (the
//! checkpoint is before them).

use super::command::{self, Position};
use super::entry::{self, cursor_time};
use super::{JournalObserver, JournalSpec, journal_file};
use crate::checkpoint::{CheckpointMsg, CursorBook};
use crate::tail::{Chunk, FileRef, Line, Resume};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A chunk is handed on at this size, or as soon as journalctl has nothing more buffered. The
/// size of a file's read chunk (`tail::reader`), so the chunk queue holds as much either way.
const CHUNK_BYTES: usize = 64 * 1024;
const READ_BUFFER: usize = 64 * 1024;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);
/// One-shot journalctl calls (the newest entry, a probe) give up after this long.
const ONE_SHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the journal pipeline ends up.
pub struct Outlet {
    pub chunks: mpsc::Sender<Chunk>,
    pub acks: mpsc::Sender<CheckpointMsg>,
    pub observer: Arc<dyn JournalObserver>,
    pub stop: CancellationToken,
}

pub struct JournalSource {
    spec: Arc<JournalSpec>,
    flow: Arc<str>,
    file: Arc<FileRef>,
    book: Arc<CursorBook>,
    /// Offset of the next record (continues the checkpointed numbering).
    offset: u64,
    /// The last entry read (or, before any, the checkpointed one).
    cursor: Option<String>,
    max_record_bytes: usize,
    /// The checkpointer has the cursor book.
    registered: bool,
    out: Outlet,
}

/// How one run of journalctl ended.
enum Ended {
    Stopped,
    PipelineGone,
    Failed(String),
}

impl JournalSource {
    pub fn new(
        spec: Arc<JournalSpec>,
        flow: &str,
        resume: &Resume,
        max_record_bytes: usize,
        out: Outlet,
    ) -> JournalSource {
        let file = Arc::new(journal_file(&spec));
        let offset = resume.files.get(&file.key).map_or(0, |f| f.offset);
        JournalSource {
            cursor: resume.cursors.get(&file.key).cloned(),
            spec,
            flow: Arc::from(flow),
            file,
            book: Arc::default(),
            offset,
            max_record_bytes,
            registered: false,
            out,
        }
    }

    /// Until the flow stops or the pipeline is gone.
    pub async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        while !self.out.stop.is_cancelled() {
            let began = Instant::now();
            let ended = match self.start_position().await {
                Ok(position) => self.follow(position).await,
                Err(failure) => Ended::Failed(failure),
            };
            let Ended::Failed(what) = ended else {
                return;
            };
            if began.elapsed() > LAST_RETRY {
                retry = FIRST_RETRY;
            }
            self.out.observer.journalctl_failed(&what, retry);
            tokio::select! {
                _ = self.out.stop.cancelled() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    /// After the last entry read or checkpointed; else per `since` (`"end"`: the newest
    /// entry now, checkpointed at once so a restart before anything is shipped keeps it).
    async fn start_position(&mut self) -> Result<Position, String> {
        if let Some(cursor) = &self.cursor {
            let position = Position::Cursor(cursor.clone());
            self.register().await;
            return Ok(position);
        }
        let position = match self.spec.since {
            super::spec::JournalSince::Beginning => Position::Head,
            super::spec::JournalSince::End => {
                match self.one_shot(command::newest(&self.spec)).await? {
                    Some(cursor) => {
                        self.book.note(self.offset, Arc::from(cursor.as_str()));
                        self.cursor = Some(cursor.clone());
                        Position::Cursor(cursor)
                    }
                    None => Position::Head, // an empty journal: its start is its end
                }
            }
        };
        self.register().await;
        Ok(position)
    }

    /// Gives the checkpointer this run's cursor book (once: later the book holds records in
    /// flight, which a second registration at a newer offset would discard).
    async fn register(&mut self) {
        if std::mem::replace(&mut self.registered, true) {
            return;
        }
        let _ = self
            .out
            .acks
            .send(CheckpointMsg::Follow {
                flow: self.flow.clone(),
                file: self.file.clone(),
                offset: self.offset,
                cursors: Some(self.book.clone()),
            })
            .await;
    }

    /// Runs journalctl with `args` and returns the cursor of the first entry it prints.
    async fn one_shot(&self, args: Vec<std::ffi::OsString>) -> Result<Option<String>, String> {
        let run = Command::new(&self.spec.journalctl)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(ONE_SHOT_TIMEOUT, run)
            .await
            .map_err(|_| {
                format!(
                    "{} did not answer within {ONE_SHOT_TIMEOUT:?}",
                    self.journalctl()
                )
            })?
            .map_err(|e| self.cannot_run(&e))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "{} failed ({}): {}",
                self.journalctl(),
                output.status,
                said.trim()
            ));
        }
        Ok(entry::first_cursor(&output.stdout).map(str::to_owned))
    }

    fn journalctl(&self) -> String {
        self.spec.journalctl.display().to_string()
    }

    fn cannot_run(&self, error: &std::io::Error) -> String {
        let hint = match error.kind() {
            std::io::ErrorKind::NotFound => {
                "; install systemd's journalctl, or set journal.journalctl to its path"
            }
            _ => "",
        };
        format!("cannot run {}: {error}{hint}", self.journalctl())
    }

    /// One run of journalctl from `position`.
    async fn follow(&mut self, position: Position) -> Ended {
        let mut child = match Command::new(&self.spec.journalctl)
            .args(command::follow(&self.spec, &position))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return Ended::Failed(self.cannot_run(&e)),
        };
        let described = match &position {
            Position::Head => "the oldest entry".to_owned(),
            Position::Cursor(c) => format!("the entry after {c}"),
        };
        self.out
            .observer
            .journal_started(&self.file.path.display().to_string(), &described);
        let stderr = child
            .stderr
            .take()
            .map(|e| relay_stderr(e, self.out.observer.clone()));
        let stdout = child.stdout.take().expect("piped");
        let mut entries = Entries {
            expect: match position {
                Position::Head => None,
                Position::Cursor(c) => Some(c),
            },
            chunk: None,
        };
        let ended = self
            .read(BufReader::with_capacity(READ_BUFFER, stdout), &mut entries)
            .await;
        if !matches!(ended, Ended::Failed(_)) {
            return ended;
        }
        let status = child
            .wait()
            .await
            .map_or_else(|e| e.to_string(), |s| s.to_string());
        let said = match stderr {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        Ended::Failed(format!("{} ended ({status}){said}", self.journalctl()))
    }

    async fn read<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: BufReader<R>,
        entries: &mut Entries,
    ) -> Ended {
        let mut line = Vec::new();
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        loop {
            if reader.buffer().is_empty()
                && let Some(chunk) = entries.chunk.take()
                && !self.send(chunk).await
            {
                return self.why_not_sent();
            }
            tokio::select! {
                _ = self.out.stop.cancelled() => return Ended::Stopped,
                _ = beat.tick() => self.out.observer.alive(),
                // Cancel-safe here: bytes read so far stay in `line` for the next call.
                read = reader.read_until(b'\n', &mut line) => match read {
                    Ok(0) => break,
                    Ok(_) => {
                        self.entry(&line, entries).await;
                        line.clear();
                    }
                    Err(e) => return Ended::Failed(format!("reading journalctl's output failed: {e}")),
                },
            }
            if entries
                .chunk
                .as_ref()
                .is_some_and(|c| c.data.len() >= CHUNK_BYTES)
            {
                let chunk = entries.chunk.take().expect("checked");
                if !self.send(chunk).await {
                    return self.why_not_sent();
                }
            }
        }
        if let Some(chunk) = entries.chunk.take()
            && !self.send(chunk).await
        {
            return self.why_not_sent();
        }
        Ended::Failed(String::new())
    }

    fn why_not_sent(&self) -> Ended {
        if self.out.stop.is_cancelled() {
            Ended::Stopped
        } else {
            Ended::PipelineGone
        }
    }

    /// Waits for room downstream (alive meanwhile); `false` if stopped or the pipeline is gone.
    async fn send(&self, chunk: PendingChunk) -> bool {
        if chunk.lines.is_empty() {
            return true;
        }
        let chunk = chunk.into_chunk(self.file.clone());
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.out.stop.cancelled() => return false,
                _ = beat.tick() => self.out.observer.alive(),
                permit = self.out.chunks.reserve() => {
                    let Ok(permit) = permit else { return false };
                    permit.send(chunk);
                    return true;
                }
            }
        }
    }

    /// One line of journalctl's output.
    async fn entry(&mut self, line: &[u8], entries: &mut Entries) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let chunk = entries
            .chunk
            .get_or_insert_with(|| PendingChunk::at(self.offset));
        let start = chunk.data.len();
        let cursor = match entry::convert(line, &self.spec, &mut chunk.data) {
            Ok(cursor) => cursor,
            Err(error) => {
                chunk.data.truncate(start);
                self.out.observer.bad_entry(&error);
                return;
            }
        };
        if let Some(expected) = entries.expect.take() {
            if cursor == expected {
                chunk.data.truncate(start); // the checkpointed entry itself: shipped already
                return;
            }
            self.check_gap(&expected, cursor).await;
        }
        if chunk.data.len() - start > self.max_record_bytes {
            chunk.data.truncate(start + self.max_record_bytes);
            self.out.observer.entry_truncated(self.max_record_bytes);
        }
        let bytes = chunk.data.len() - start;
        chunk.data.push(b'\n');
        self.offset += bytes as u64 + 1;
        chunk.lines.push(Line {
            start: start as u32,
            end: (start + bytes) as u32,
            next_offset: self.offset,
        });
        self.book.note(self.offset, Arc::from(cursor));
        self.cursor = Some(cursor.to_owned());
        self.out.observer.entries_read(1, bytes as u64);
    }

    /// The first entry after a resume is not the checkpointed one: is that entry gone (a
    /// vacuum), or only no longer selected (the filters changed)?
    async fn check_gap(&self, expected: &str, first: &str) {
        let found = self.one_shot(command::probe(&self.spec, expected)).await;
        if matches!(&found, Ok(Some(c)) if c == expected) {
            return;
        }
        self.out
            .observer
            .journal_gap(expected, cursor_time(expected), cursor_time(first));
    }
}

/// State of one journalctl run.
struct Entries {
    /// The cursor the run was started at: its entry comes first if it still exists.
    expect: Option<String>,
    chunk: Option<PendingChunk>,
}

struct PendingChunk {
    data: Vec<u8>,
    lines: Vec<Line>,
    start_offset: u64,
}

impl PendingChunk {
    fn at(offset: u64) -> PendingChunk {
        PendingChunk {
            data: Vec::with_capacity(CHUNK_BYTES + 4096),
            lines: Vec::new(),
            start_offset: offset,
        }
    }

    fn into_chunk(self, file: Arc<FileRef>) -> Chunk {
        let end_offset = self
            .lines
            .last()
            .map_or(self.start_offset, |l| l.next_offset);
        Chunk {
            file,
            mark: None,
            data: bytes::Bytes::from(self.data),
            lines: self.lines,
            start_offset: self.start_offset,
            end_offset,
            released: false,
        }
    }
}

/// Reports each stderr line; returns the last few, for the report when journalctl ends.
fn relay_stderr<R: AsyncRead + Unpin + Send + 'static>(
    stderr: R,
    observer: Arc<dyn JournalObserver>,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut last = std::collections::VecDeque::new();
        while let Ok(Some(line)) = lines.next_line().await {
            observer.journalctl_said(&line);
            if last.len() == 3 {
                last.pop_front();
            }
            last.push_back(line);
        }
        Vec::from(last).join(" / ")
    })
}
