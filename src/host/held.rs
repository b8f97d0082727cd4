//! The records a host-metrics flow holds: those waiting for room in the pipeline (bounded by
//! `max_backlog_bytes`, the oldest dropped first) and those handed on but not yet
//! acknowledged (bounded by the pipeline's own limits), so a stop can save both. No I/O.

use crate::tail::{Chunk, FileRef, Line};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub taken: SystemTime,
    /// One JSON object, no newline.
    pub data: Bytes,
}

/// Records dropped to stay within the backlog limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropped {
    pub records: u64,
    pub first_taken: SystemTime,
    pub last_taken: SystemTime,
}

pub struct Held {
    waiting: VecDeque<Record>,
    waiting_bytes: u64,
    limit: u64,
    /// Handed on, with the offset just past each: forgotten once that offset is acknowledged.
    sent: VecDeque<(u64, Record)>,
}

impl Held {
    pub fn new(limit: u64) -> Held {
        Held {
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            limit,
            sent: VecDeque::new(),
        }
    }

    /// Queues `record`; if the waiting records then exceed the limit, the oldest go (never the
    /// newest: a stuck pipeline still has the latest health to ship once it moves).
    pub fn push(&mut self, record: Record) -> Option<Dropped> {
        self.waiting_bytes += record.data.len() as u64 + 1;
        self.waiting.push_back(record);
        let mut dropped: Option<Dropped> = None;
        while self.waiting_bytes > self.limit && self.waiting.len() > 1 {
            let old = self.waiting.pop_front().expect("more than one");
            self.waiting_bytes -= old.data.len() as u64 + 1;
            let d = dropped.get_or_insert(Dropped {
                records: 0,
                first_taken: old.taken,
                last_taken: old.taken,
            });
            d.records += 1;
            d.last_taken = old.taken;
        }
        dropped
    }

    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The waiting records (up to about `max_bytes`) as one chunk of `file` numbered from
    /// `offset`; they move to the handed-on list.
    pub fn take_chunk(&mut self, file: &Arc<FileRef>, offset: u64, max_bytes: usize) -> Chunk {
        let mut data = Vec::new();
        let mut taken = Vec::new();
        while let Some(record) = self.waiting.front() {
            if !data.is_empty() && data.len() + record.data.len() >= max_bytes {
                break;
            }
            let record = self.waiting.pop_front().expect("front exists");
            self.waiting_bytes -= record.data.len() as u64 + 1;
            let start = data.len();
            data.extend_from_slice(&record.data);
            data.push(b'\n');
            taken.push((start, record));
        }
        let data = Bytes::from(data);
        let mut lines = Vec::with_capacity(taken.len());
        let mut next = offset;
        for (start, record) in taken {
            let end = start + record.data.len();
            next = offset + end as u64 + 1;
            lines.push(Line {
                start: start as u32,
                end: end as u32,
                next_offset: next,
            });
            // A slice of the chunk, not a copy: the handed-on list costs no memory of its own.
            let data = data.slice(start..end);
            self.sent.push_back((next, Record { data, ..record }));
        }
        Chunk {
            file: file.clone(),
            mark: None,
            data,
            lines,
            start_offset: offset,
            end_offset: next,
            released: false,
        }
    }

    /// Everything before `offset` is acknowledged.
    pub fn acknowledged(&mut self, offset: u64) {
        while self.sent.front().is_some_and(|(end, _)| *end <= offset) {
            self.sent.pop_front();
        }
    }

    /// What is not acknowledged, oldest first: handed on, then waiting.
    pub fn unshipped(&self) -> impl Iterator<Item = &Record> {
        self.sent.iter().map(|(_, r)| r).chain(self.waiting.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(second: u64, text: &str) -> Record {
        Record {
            taken: SystemTime::UNIX_EPOCH + Duration::from_secs(second),
            data: Bytes::from(text.to_owned()),
        }
    }

    fn file() -> Arc<FileRef> {
        Arc::new(FileRef {
            key: crate::tail::FileKey { dev: 1, inode: 2 },
            path: "host_metrics".into(),
            head: None,
        })
    }

    #[test]
    fn over_the_limit_the_oldest_waiting_records_go() {
        let mut held = Held::new(10); // each record below is 4 bytes + newline
        assert_eq!(held.push(record(1, "aaaa")), None);
        assert_eq!(held.push(record(2, "bbbb")), None);
        let dropped = held.push(record(3, "cccc")).expect("over 10 bytes");
        assert_eq!(dropped.records, 1);
        assert_eq!(dropped.first_taken, record(1, "").taken);
        let big = held
            .push(record(4, "a record longer than the limit"))
            .expect("over");
        assert_eq!((big.records, big.last_taken), (2, record(3, "").taken));
        let left: Vec<_> = held.unshipped().map(|r| r.taken).collect();
        assert_eq!(left, vec![record(4, "").taken], "the newest always stays");
    }

    #[test]
    fn chunks_number_records_like_lines_and_acks_forget_them() {
        let mut held = Held::new(1 << 20);
        for (s, text) in [(1, "{\"a\":1}"), (2, "{\"b\":22}"), (3, "{\"c\":3}")] {
            held.push(record(s, text));
        }
        let chunk = held.take_chunk(&file(), 100, 17); // room for two records
        assert_eq!(&chunk.data[..], b"{\"a\":1}\n{\"b\":22}\n");
        assert_eq!(chunk.line(&chunk.lines[1]), b"{\"b\":22}");
        let ends: Vec<_> = chunk.lines.iter().map(|l| l.next_offset).collect();
        assert_eq!(ends, vec![108, 117]);
        assert_eq!((chunk.start_offset, chunk.end_offset), (100, 117));
        assert!(held.has_waiting());
        assert_eq!(held.unshipped().count(), 3);
        held.acknowledged(108);
        let left: Vec<_> = held.unshipped().map(|r| r.data.clone()).collect();
        assert_eq!(
            left,
            vec![Bytes::from("{\"b\":22}"), Bytes::from("{\"c\":3}")]
        );
        let rest = held.take_chunk(&file(), 117, 17);
        assert_eq!(rest.lines.len(), 1);
        assert!(!held.has_waiting());
        held.acknowledged(rest.end_offset);
        assert_eq!(held.unshipped().count(), 0);
    }
}
