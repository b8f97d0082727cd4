//! Runs a flow's parser over the first lines of a file without shipping anything:
//! `edgeship validate --sample FILE`, the golden tests and the fuzz targets. Lines are split as
//! the tailer splits them (`\n`, with a `\r` before it removed; an unterminated last line is
//! included, as the flush timeout would send it).

use super::files::{FileParser, Report};
use super::{ParseCore, ParseError};
use crate::tail::{Chunk, FileKey, FileRef, Line};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use tokio::time::Instant;

/// What the parser made of a sample: output records and failures, both with file offsets.
#[derive(Debug, Default)]
pub struct Sample {
    /// `(offset after the record, bytes sent)`.
    pub records: Vec<(u64, Vec<u8>)>,
    /// `(offset of the record, the record, why)`.
    pub failures: Vec<(u64, Vec<u8>, ParseError)>,
    pub report: Report,
}

/// The first `max_lines` lines of a file (at most `max_bytes`), so a sample of a large log reads
/// only what it shows.
pub fn read_head(path: &Path, max_lines: usize, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::new(std::io::Read::take(file, max_bytes));
    let mut data = Vec::new();
    for _ in 0..max_lines {
        if reader.read_until(b'\n', &mut data)? == 0 {
            break;
        }
    }
    Ok(data)
}

/// Splits `data` into at most `max_lines` lines, as one tailer chunk read from offset 0.
pub fn chunk_of(path: &Path, data: &[u8], max_lines: usize) -> Chunk {
    let mut lines = Vec::new();
    let mut start = 0usize;
    while start < data.len() && lines.len() < max_lines {
        let (end, next) = match memchr::memchr(b'\n', &data[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (data.len(), data.len()),
        };
        let content_end = if end > start && data[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        lines.push(Line {
            start: start as u32,
            end: content_end as u32,
            next_offset: next as u64,
        });
        start = next;
    }
    let end_offset = lines.last().map_or(0, |l| l.next_offset);
    Chunk {
        file: Arc::new(FileRef {
            key: FileKey { dev: 0, inode: 0 },
            path: path.to_owned(),
            head: None,
        }),
        mark: None,
        data: bytes::Bytes::copy_from_slice(&data[..end_offset as usize]),
        lines,
        start_offset: 0,
        end_offset,
        released: true,
    }
}

/// Parses the first `max_lines` lines of `data` as a flow would.
pub fn run(core: &ParseCore, path: &Path, data: &[u8], max_lines: usize) -> Sample {
    let data = &data[..data.len().min(u32::MAX as usize / 2)];
    let chunk = chunk_of(path, data, max_lines);
    let mut parser = FileParser::new(core.clone(), usize::MAX / 2);
    let mut report = Report::default();
    let out = parser.push(&chunk, Instant::now(), &mut report);
    let mut sample = Sample::default();
    for line in &out.lines {
        sample
            .records
            .push((line.next_offset, out.line(line).to_vec()));
    }
    for failure in report.failures.drain(..) {
        sample
            .failures
            .push((failure.offset, failure.record, failure.error));
    }
    sample.report = report;
    sample
}

/// The human-readable report `validate --sample` prints for one flow.
pub fn render(sample: &Sample) -> String {
    let mut text = String::new();
    for (next_offset, record) in &sample.records {
        let _ = writeln!(
            text,
            "  sends (up to byte {next_offset}): {}",
            String::from_utf8_lossy(record)
        );
    }
    for (offset, record, error) in &sample.failures {
        let shown = &record[..record.len().min(200)];
        let _ = writeln!(
            text,
            "  FAILS at byte {offset}: {error}\n    line: {}",
            String::from_utf8_lossy(shown)
        );
    }
    let _ = writeln!(
        text,
        "  {} records, {} parse failures, {} filtered, {} lines joined/skipped",
        sample.report.records,
        sample.failures.len(),
        sample.report.filtered,
        sample.report.lines_absorbed,
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_head_stops_after_the_lines_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        std::fs::write(&path, "line\n".repeat(100_000)).unwrap();
        assert_eq!(read_head(&path, 3, 1 << 20).unwrap(), b"line\nline\nline\n");
        assert_eq!(read_head(&path, 1_000_000, 12).unwrap(), b"line\nline\nli");
    }
}
