//! The parse stage task: chunks of lines in, chunks of records out, over bounded channels
//! (tail -> parse -> aggregate). It owns the clock for multiline flush timeouts and the side
//! effects of failures: counters, a rate-limited log sample, the dead-letter file.

use super::files::{FileParser, Report};
use super::spec::FailurePolicy;
use crate::metrics::FlowStats;
use crate::tail::Chunk;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Runs until the input closes, then flushes held records and ends (closing the batcher's input).
pub async fn run_parser(
    mut parser: FileParser,
    mut chunks: mpsc::Receiver<Chunk>,
    out: mpsc::Sender<Chunk>,
    stats: Arc<FlowStats>,
) {
    let mut failures = FailureHandler::new(&parser.core().spec.on_failure, stats);
    loop {
        let deadline = parser.deadline();
        let mut report = Report::default();
        let ready = tokio::select! {
            chunk = chunks.recv() => match chunk {
                Some(chunk) => vec![parser.push(&chunk, Instant::now(), &mut report)],
                None => {
                    let held = parser.flush(None, &mut report);
                    failures.handle(report);
                    for chunk in held {
                        let _ = out.send(chunk).await;
                    }
                    return;
                }
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                parser.flush(Some(Instant::now()), &mut report)
            }
        };
        failures.handle(report);
        for chunk in ready {
            if out.send(chunk).await.is_err() {
                return;
            }
        }
    }
}

/// Counts, logs (sampled) and dead-letters failed records.
struct FailureHandler {
    stats: Arc<FlowStats>,
    dead_letter: Option<DeadLetter>,
}

impl FailureHandler {
    fn new(policy: &FailurePolicy, stats: Arc<FlowStats>) -> FailureHandler {
        let dead_letter = match policy {
            FailurePolicy::DeadLetter { path, max_bytes } => Some(DeadLetter {
                path: path.clone(),
                max_bytes: *max_bytes,
            }),
            _ => None,
        };
        FailureHandler { stats, dead_letter }
    }

    fn handle(&mut self, report: Report) {
        let stats = &self.stats;
        stats
            .lines_absorbed
            .fetch_add(report.lines_absorbed, Relaxed);
        stats.records_filtered.fetch_add(report.filtered, Relaxed);
        stats.lines_truncated.fetch_add(report.truncated, Relaxed);
        for failure in report.failures {
            stats.parse_failures.fetch_add(1, Relaxed);
            if let Some(suppressed) = stats.limiter.allow_counting("parse_failure") {
                let shown = &failure.record[..failure.record.len().min(200)];
                tracing::warn!(
                    flow = %stats.flow,
                    "{}:{}: record does not parse ({}); {}; record starts {:?}{}",
                    failure.file.path.display(),
                    failure.offset,
                    failure.error,
                    if failure.written { "sent as {\"unparsed\": ...}" } else if self.dead_letter.is_some() { "written to the dead-letter file" } else { "dropped (on_failure = \"drop\")" },
                    String::from_utf8_lossy(shown),
                    suppressed_note(suppressed),
                );
            }
            if let Some(dead) = &self.dead_letter {
                let line = serde_json::json!({
                    "time": super::decorate::now_rfc3339(),
                    "file": failure.file.path.to_string_lossy(),
                    "offset": failure.offset,
                    "error": failure.error.to_string(),
                    "record": String::from_utf8_lossy(&failure.record),
                });
                match dead.append(line.to_string().as_bytes()) {
                    Ok(0) => {}
                    Ok(discarded) => {
                        // The only copy of those records is gone: count it, say so.
                        stats.count_lost("dead_letter_rotated", discarded);
                        if let Some(suppressed) =
                            stats.limiter.allow_counting("dead_letter_rotated")
                        {
                            tracing::warn!(flow = %stats.flow, "dead-letter file {} reached dead_letter_max_bytes: its older rotation {} ({discarded} bytes of failed records) was replaced{}; raise dead_letter_max_bytes or fix the parse settings to keep them", dead.path.display(), rotated(&dead.path).display(), suppressed_note(suppressed));
                        }
                    }
                    Err(error) => {
                        // The record is lost to the agent now: say so, count it.
                        stats.count_lost("dead_letter_write_failed", failure.record.len() as u64);
                        if stats.limiter.allow("dead_letter_error") {
                            tracing::error!(flow = %stats.flow, "cannot write the dead-letter file {}: {error}; failed records are being lost", dead.path.display());
                        }
                    }
                }
            }
        }
    }
}

fn suppressed_note(suppressed: u64) -> String {
    if suppressed > 0 {
        format!(" ({suppressed} more since the last report)")
    } else {
        String::new()
    }
}

/// An append-only JSON-lines file, rotated to `<path>.1` when it reaches `max_bytes`.
#[derive(Debug)]
pub struct DeadLetter {
    pub path: PathBuf,
    pub max_bytes: u64,
}

impl DeadLetter {
    /// Appends one line; returns the size of the older rotation it replaced (0 if none).
    pub fn append(&self, line: &[u8]) -> std::io::Result<u64> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let mut discarded = 0;
        if size > 0 && size + line.len() as u64 + 1 > self.max_bytes {
            let older = rotated(&self.path);
            discarded = std::fs::metadata(&older).map(|m| m.len()).unwrap_or(0);
            std::fs::rename(&self.path, older)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        file.write_all(&buf)?;
        Ok(discarded)
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ParseCore;
    use crate::parse::files::Failure;
    use crate::tail::{FileKey, FileRef, Line};

    #[tokio::test]
    async fn failed_records_are_counted_and_dead_lettered_and_the_rest_flows_on() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join("dead.jsonl");
        let spec = crate::parse::files::tests::spec(&format!(
            "format = \"json\"\non_failure = \"dead_letter\"\ndead_letter_path = {:?}",
            dead.display().to_string()
        ));
        let parser = FileParser::new(ParseCore::new(spec, None), 1 << 20);
        let stats = Arc::new(FlowStats::new("t"));
        let (in_tx, in_rx) = mpsc::channel(1);
        let (out_tx, mut out_rx) = mpsc::channel(1);
        let task = tokio::spawn(run_parser(parser, in_rx, out_tx, stats.clone()));
        let data = b"{\"a\":1}\nbroken\n".to_vec();
        let chunk = Chunk {
            file: Arc::new(FileRef {
                key: FileKey { dev: 1, inode: 2 },
                path: "/l/a.log".into(),
                head: None,
            }),
            mark: None,
            lines: vec![
                Line {
                    start: 0,
                    end: 7,
                    next_offset: 8,
                },
                Line {
                    start: 8,
                    end: 14,
                    next_offset: 15,
                },
            ],
            data: data.into(),
            start_offset: 0,
            end_offset: 15,
            released: false,
        };
        in_tx.send(chunk).await.unwrap();
        let out = out_rx.recv().await.unwrap();
        assert_eq!(out.lines.len(), 1);
        assert_eq!(
            out.end_offset, 15,
            "the dead-lettered line is checkpointed too"
        );
        drop(in_tx);
        task.await.unwrap();
        assert_eq!(stats.parse_failures.load(Relaxed), 1);
        assert_eq!(stats.lines_absorbed.load(Relaxed), 1);
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&dead).unwrap()).unwrap();
        assert_eq!(written["record"], "broken");
        assert_eq!(written["offset"], 8);
        assert_eq!(written["file"], "/l/a.log");
    }

    #[test]
    fn a_replaced_dead_letter_rotation_is_counted_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.jsonl");
        let policy = FailurePolicy::DeadLetter {
            path: path.clone(),
            max_bytes: 150,
        };
        let stats = Arc::new(FlowStats::new("t"));
        let mut handler = FailureHandler::new(&policy, stats.clone());
        let failure = |offset| Failure {
            file: Arc::new(FileRef {
                key: FileKey { dev: 1, inode: 2 },
                path: "/l/a.log".into(),
                head: None,
            }),
            offset,
            record: b"broken".to_vec(),
            error: crate::parse::ParseError::new("not JSON"),
            written: false,
        };
        for offset in 0..4 {
            handler.handle(Report {
                failures: vec![failure(offset)],
                ..Report::default()
            });
        }
        let lost = stats.bytes_lost.lock().unwrap().clone();
        let replaced = *lost.get("dead_letter_rotated").expect("counted");
        assert!(replaced > 0, "{lost:?}");
        assert!(std::fs::metadata(rotated(&path)).is_ok());
    }

    #[test]
    fn dead_letter_rotates_at_its_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let dead = DeadLetter {
            path: dir.path().join("dl/flow.jsonl"),
            max_bytes: 20,
        };
        assert_eq!(dead.append(b"0123456789").unwrap(), 0);
        assert_eq!(
            dead.append(b"abcdefghij").unwrap(),
            0,
            "nothing older to replace"
        );
        assert_eq!(std::fs::read(&dead.path).unwrap(), b"abcdefghij\n");
        assert_eq!(std::fs::read(rotated(&dead.path)).unwrap(), b"0123456789\n");
        assert_eq!(
            dead.append(b"ABCDEFGHIJ").unwrap(),
            11,
            "the replaced rotation's bytes are reported"
        );
        assert_eq!(std::fs::read(rotated(&dead.path)).unwrap(), b"abcdefghij\n");
    }
}
