//! Record framing: which lines form one record. Single line (the default), or multiline by a
//! start pattern (a matching line starts a record, as the Kinesis Agent's
//! `multiLineStartPattern`) or a continuation pattern (a matching line continues the previous
//! record: Java stack traces, `^\s`). Records are capped at `max_record_bytes`; the cut is
//! marked with `truncated_record_terminator` and the rest of that record is skipped. Pure: the
//! flush timeout is applied by the caller, which owns the clock.

use regex::bytes::Regex;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct FrameSpec {
    /// Anchored at the line start (the agent's prefix match).
    pub start: Option<Regex>,
    pub continuation: Option<Regex>,
    pub max_bytes: usize,
    pub terminator: Vec<u8>,
}

impl FrameSpec {
    pub fn is_multiline(&self) -> bool {
        self.start.is_some() || self.continuation.is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        match (&self.start, &self.continuation) {
            (Some(start), _) => start.is_match(line),
            (None, Some(cont)) => !cont.is_match(line),
            (None, None) => true,
        }
    }

    /// `line` cut to the record limit, with the terminator at the cut.
    pub fn cap<'a>(&self, line: &'a [u8]) -> (Cow<'a, [u8]>, bool) {
        if line.len() <= self.max_bytes {
            return (Cow::Borrowed(line), false);
        }
        let mut out = line[..self.cut_at(line, 0)].to_vec();
        out.extend_from_slice(&self.terminator);
        (Cow::Owned(out), true)
    }

    /// Where to cut so that `used` bytes already taken plus the terminator fit, backing off to a
    /// UTF-8 character boundary so the cut does not create invalid text.
    fn cut_at(&self, line: &[u8], used: usize) -> usize {
        let room = self.max_bytes.saturating_sub(used + self.terminator.len());
        let mut cut = room.min(line.len());
        while cut > 0 && cut < line.len() && (line[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        cut
    }
}

/// A complete record and the file range it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub data: Vec<u8>,
    /// Offset of the first line's first byte.
    pub start_offset: u64,
    /// Offset after the last line's terminator: the checkpoint once the record is delivered.
    pub next_offset: u64,
    pub lines: u32,
    pub truncated: bool,
}

/// The record being assembled in one file.
#[derive(Debug, Default)]
pub struct Framer {
    pending: Option<Record>,
}

impl Framer {
    /// Adds a line at `[start, next)`; a record it completes is appended to `out`.
    pub fn push(
        &mut self,
        spec: &FrameSpec,
        line: &[u8],
        start: u64,
        next: u64,
        out: &mut Vec<Record>,
    ) {
        match &mut self.pending {
            Some(record) if !spec.starts_record(line) => {
                record.next_offset = next;
                record.lines += 1;
                if record.truncated {
                    return;
                }
                if record.data.len() + 1 + line.len() <= spec.max_bytes {
                    record.data.push(b'\n');
                    record.data.extend_from_slice(line);
                } else {
                    let joined = [b"\n".as_slice(), line].concat();
                    let cut = spec.cut_at(&joined, record.data.len());
                    record.data.extend_from_slice(&joined[..cut]);
                    record.data.extend_from_slice(&spec.terminator);
                    record.truncated = true;
                }
            }
            _ => {
                out.extend(self.pending.take());
                let (data, truncated) = spec.cap(line);
                self.pending = Some(Record {
                    data: data.into_owned(),
                    start_offset: start,
                    next_offset: next,
                    lines: 1,
                    truncated,
                });
            }
        }
    }

    /// The record being assembled, if any, ending it (flush timeout, end of file, shutdown).
    pub fn take(&mut self) -> Option<Record> {
        self.pending.take()
    }

    /// Where the held record starts: the checkpoint must not pass it.
    pub fn held_from(&self) -> Option<u64> {
        self.pending.as_ref().map(|r| r.start_offset)
    }

    /// Where the held record ends so far.
    pub fn held_until(&self) -> Option<u64> {
        self.pending.as_ref().map(|r| r.next_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(start: &str, max: usize) -> FrameSpec {
        FrameSpec {
            start: Some(Regex::new(&format!("^(?:{start})")).unwrap()),
            continuation: None,
            max_bytes: max,
            terminator: b"...".to_vec(),
        }
    }

    fn frame(spec: &FrameSpec, lines: &[&str]) -> (Vec<Record>, Framer) {
        let (mut framer, mut out, mut offset) = (Framer::default(), Vec::new(), 0);
        for line in lines {
            let next = offset + line.len() as u64 + 1;
            framer.push(spec, line.as_bytes(), offset, next, &mut out);
            offset = next;
        }
        (out, framer)
    }

    #[test]
    fn start_pattern_groups_stack_traces_and_holds_the_last_record() {
        let s = spec(r"\d{4}-", 1000);
        let (out, mut framer) = frame(
            &s,
            &["2026-01-01 boom", "  at a", "  at b", "2026-01-01 ok"],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, b"2026-01-01 boom\n  at a\n  at b");
        assert_eq!(out[0].lines, 3);
        assert_eq!((out[0].start_offset, out[0].next_offset), (0, 30));
        assert_eq!(framer.held_from(), Some(30));
        assert_eq!(framer.take().unwrap().data, b"2026-01-01 ok");
    }

    #[test]
    fn a_leading_continuation_line_is_a_record_of_its_own() {
        let s = spec("START", 1000);
        let (out, _) = frame(&s, &["orphan", "START x"]);
        assert_eq!(out[0].data, b"orphan");
    }

    #[test]
    fn long_records_are_cut_with_the_terminator_and_the_rest_skipped() {
        let s = spec("S", 12);
        let (_, mut framer) = frame(&s, &["S 123456", "more text", "and more"]);
        let record = framer.take().unwrap();
        assert_eq!(record.data, b"S 123456\n...");
        assert!(record.truncated);
        assert_eq!(record.lines, 3);
    }

    #[test]
    fn cuts_back_off_to_a_character_boundary() {
        let s = spec("S", 5);
        let (capped, truncated) = s.cap("Sééé".as_bytes());
        assert!(truncated);
        assert_eq!(&*capped, "S...".as_bytes());
    }
}
