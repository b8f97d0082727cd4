//! The parse stage's per-file state. [`FileParser`] keeps, for each file being read, the
//! multiline record being assembled, header lines still to skip and the CSV column names, and
//! turns a tailer [`Chunk`] of lines into a `Chunk` of records whose offsets the batcher
//! checkpoints as before.
//!
//! Offsets: a record's `next_offset` is that of its last line, and while a multiline record is
//! held (waiting for its next line or the flush timeout) the chunk's `end_offset` stops at the
//! held record's first byte, so a checkpoint never passes an unsent line.

use super::ParseError;
use super::core::{Outcome, ParseCore};
use super::decorate::{Origin, now_rfc3339};
use super::frame::{Framer, Record};
use super::spec::Format;
use crate::tail::{Chunk, FileKey, FileRef, Line, Mark};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;

/// A record that did not parse, for the log, the counters and the dead-letter file.
#[derive(Debug)]
pub struct Failure {
    pub file: Arc<FileRef>,
    pub offset: u64,
    pub record: Vec<u8>,
    pub error: ParseError,
    /// Sent raw (`send_raw`), so not lost.
    pub written: bool,
}

/// What a call to the parser did, for the counters.
#[derive(Debug, Default)]
pub struct Report {
    pub failures: Vec<Failure>,
    /// Lines that are not a record of their own: joined into a multiline record, skipped as a
    /// header, filtered out or dropped. With the records sent they add up to the lines read.
    pub lines_absorbed: u64,
    pub records: u64,
    pub filtered: u64,
    pub truncated: u64,
}

#[derive(Debug)]
struct FileState {
    file: Arc<FileRef>,
    framer: Framer,
    header_left: u32,
    csv_header_pending: bool,
    csv_names: Option<Vec<String>>,
    last_line_at: Instant,
    /// `end_offset` of the file's latest chunk: where a flushed held record lets progress go.
    last_end: u64,
    /// The tailer's latest mark for this file (its `at` is at most `last_end`).
    last_mark: Option<Mark>,
}

/// The parse stage's state: one [`FileState`] per file being read.
#[derive(Debug)]
pub struct FileParser {
    core: ParseCore,
    /// Largest output record (the batcher's line limit).
    max_output: usize,
    files: HashMap<FileKey, FileState>,
}

impl FileParser {
    pub fn new(core: ParseCore, max_output: usize) -> FileParser {
        FileParser {
            core,
            max_output,
            files: HashMap::new(),
        }
    }

    pub fn core(&self) -> &ParseCore {
        &self.core
    }

    /// Parses a chunk of lines into a chunk of records.
    pub fn push(&mut self, chunk: &Chunk, now: Instant, report: &mut Report) -> Chunk {
        let spec = self.core.spec.clone();
        let state = self
            .files
            .entry(chunk.file.key)
            .or_insert_with(|| FileState {
                file: chunk.file.clone(),
                framer: Framer::default(),
                header_left: if chunk.start_offset == 0 {
                    spec.skip_header_lines
                } else {
                    0
                },
                csv_header_pending: chunk.start_offset == 0
                    && matches!(&spec.format, Format::Csv(c) if c.header),
                csv_names: None,
                last_line_at: now,
                last_end: chunk.start_offset,
                last_mark: None,
            });
        state.file = chunk.file.clone();
        let mut out = Emitter::new(
            &chunk.file,
            self.max_output,
            spec.adds_fields() || spec.envelope,
        );
        // The file went back (truncated, replaced): what was held belongs to the old content.
        if state
            .framer
            .held_until()
            .is_some_and(|held| chunk.start_offset < held)
            && let Some(record) = state.framer.take()
        {
            out.record(&self.core, state.csv_names.as_deref(), record, report);
        }
        for line in &chunk.lines {
            Self::line(&self.core, state, &mut out, chunk, line, report);
            state.last_line_at = now;
        }
        state.last_end = chunk.end_offset;
        // A mark past the file's progress (before a truncation) describes other bytes.
        state.last_mark = chunk
            .mark
            .or(state.last_mark)
            .filter(|m| m.at <= chunk.end_offset);
        let (mut end_offset, mut mark) = (chunk.end_offset, chunk.mark);
        if chunk.released {
            if let Some(record) = state.framer.take() {
                out.record(&self.core, state.csv_names.as_deref(), record, report);
            }
            self.files.remove(&chunk.file.key);
        } else if let Some(held) = state.framer.held_from()
            && held < end_offset
        {
            end_offset = held;
            mark = mark_at(chunk, held);
        }
        let mut out = out.finish(chunk.start_offset, end_offset, chunk.released);
        out.mark = mark;
        out
    }

    fn line(
        core: &ParseCore,
        state: &mut FileState,
        out: &mut Emitter,
        chunk: &Chunk,
        line: &Line,
        report: &mut Report,
    ) {
        let bytes = chunk.line(line);
        let start = chunk.start_offset + u64::from(line.start);
        if state.header_left > 0 {
            state.header_left -= 1;
            report.lines_absorbed += 1;
            return;
        }
        if state.csv_header_pending {
            if let Format::Csv(csv) = &core.spec.format {
                state.csv_names = Some(csv.header_names(bytes));
            }
            state.csv_header_pending = false;
            report.lines_absorbed += 1;
            return;
        }
        let frame = &core.spec.frame;
        if frame.is_multiline() {
            let mut done = Vec::new();
            state
                .framer
                .push(frame, bytes, start, line.next_offset, &mut done);
            for record in done {
                out.record(core, state.csv_names.as_deref(), record, report);
            }
        } else {
            let (data, truncated) = frame.cap(bytes);
            report.truncated += u64::from(truncated);
            out.one(
                core,
                state.csv_names.as_deref(),
                &data,
                start,
                line.next_offset,
                1,
                report,
            );
        }
    }

    /// When the earliest held multiline record must be flushed.
    pub fn deadline(&self) -> Option<Instant> {
        let flush = self.core.spec.multiline_flush;
        self.files
            .values()
            .filter(|s| s.framer.held_from().is_some())
            .map(|s| s.last_line_at + flush)
            .min()
    }

    /// Emits held records whose flush timeout passed (all of them when `now` is `None`).
    pub fn flush(&mut self, now: Option<Instant>, report: &mut Report) -> Vec<Chunk> {
        let flush = self.core.spec.multiline_flush;
        let mut chunks = Vec::new();
        for state in self.files.values_mut() {
            if now.is_some_and(|now| state.last_line_at + flush > now) {
                continue;
            }
            if let Some(record) = state.framer.take() {
                let mut out = Emitter::new(&state.file, self.max_output, true);
                let start = record.start_offset;
                out.record(&self.core, state.csv_names.as_deref(), record, report);
                let mut chunk = out.finish(start, state.last_end, false);
                chunk.mark = state.last_mark;
                chunks.push(chunk);
            }
        }
        chunks
    }
}

/// The checkpoint mark for progress cut back to `at` (a held record's start): the tailer's mark
/// is for the chunk's end, past `at`, so it is recomputed from the chunk's bytes when `at` is
/// inside them; otherwise none, and the mark of earlier progress stays.
fn mark_at(chunk: &Chunk, at: u64) -> Option<Mark> {
    let end = at.checked_sub(chunk.start_offset)? as usize;
    (end > 0 && end <= chunk.data.len()).then(|| Mark::ending(at, &chunk.data[..end]))
}

/// Only metadata or JSON escaping can push a capped record over the record limit. Cutting the
/// JSON would send invalid JSON, so the record goes as `{"unparsed": ...}` instead, its text
/// halved until it fits (escaping can grow text up to six times).
fn fit_unparsed(out: &mut Vec<u8>, record: &[u8], max: usize) {
    let start = out.len();
    let mut keep = record.len().min(max);
    loop {
        let text = String::from_utf8_lossy(&record[..keep]);
        let json = serde_json::json!({ "unparsed": text, "truncated": true });
        serde_json::to_writer(&mut *out, &json).expect("writing to a Vec cannot fail");
        if out.len() - start <= max || keep == 0 {
            return;
        }
        out.truncate(start);
        keep /= 2;
    }
}

/// Builds one output chunk.
struct Emitter {
    file: Arc<FileRef>,
    path: String,
    read_time: String,
    data: Vec<u8>,
    lines: Vec<Line>,
    max_output: usize,
}

impl Emitter {
    fn new(file: &Arc<FileRef>, max_output: usize, needs_time: bool) -> Emitter {
        Emitter {
            file: file.clone(),
            path: file.path.to_string_lossy().into_owned(),
            read_time: if needs_time {
                now_rfc3339()
            } else {
                String::new()
            },
            data: Vec::new(),
            lines: Vec::new(),
            max_output,
        }
    }

    fn record(
        &mut self,
        core: &ParseCore,
        names: Option<&[String]>,
        r: Record,
        report: &mut Report,
    ) {
        report.truncated += u64::from(r.truncated);
        self.one(
            core,
            names,
            &r.data,
            r.start_offset,
            r.next_offset,
            r.lines,
            report,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn one(
        &mut self,
        core: &ParseCore,
        names: Option<&[String]>,
        data: &[u8],
        offset: u64,
        next_offset: u64,
        lines: u32,
        report: &mut Report,
    ) {
        let origin = Origin {
            path: &self.path,
            offset,
            read_time: &self.read_time,
        };
        let before = self.data.len();
        let outcome = core.record(data, &origin, names, &mut self.data);
        let written = match outcome {
            Outcome::Written => true,
            Outcome::Filtered => {
                report.filtered += 1;
                false
            }
            Outcome::Failed { error, written } => {
                report.failures.push(Failure {
                    file: self.file.clone(),
                    offset,
                    // Redacted: the log and the dead-letter file must not leak what is masked.
                    record: core.redact(data).into_owned(),
                    error,
                    written,
                });
                written
            }
        };
        if !written {
            report.lines_absorbed += u64::from(lines);
            return;
        }
        if self.data.len() - before > self.max_output {
            self.data.truncate(before);
            fit_unparsed(&mut self.data, data, self.max_output);
            report.truncated += 1;
        }
        report.records += 1;
        report.lines_absorbed += u64::from(lines) - 1;
        self.lines.push(Line {
            start: before as u32,
            end: self.data.len() as u32,
            next_offset,
        });
    }

    fn finish(self, start_offset: u64, end_offset: u64, released: bool) -> Chunk {
        Chunk {
            file: self.file,
            mark: None,
            data: self.data.into(),
            lines: self.lines,
            start_offset,
            end_offset,
            released,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
