//! Measures how fast a flow's files grow: every second, the matched files are listed and the
//! bytes appended since the last look are read and their lines counted. Files are followed by
//! device and inode, so a rotation's rename is not counted twice; a new file counts whole
//! (it is new data), a truncated one from its start.

use super::estimate::Rates;
use crate::config::Flow;
use crate::tail::discovery;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// The growth of one flow's files over the sampling time.
#[derive(Debug, Default, Clone)]
pub struct Growth {
    /// `(seconds, lines, bytes)` per interval.
    pub intervals: Vec<(f64, u64, u64)>,
    /// Up to 1 MiB of the appended data, for the compression ratio.
    pub sample: Vec<u8>,
}

impl Growth {
    pub fn mean(&self) -> Rates {
        let secs: f64 = self.intervals.iter().map(|i| i.0).sum();
        let lines: u64 = self.intervals.iter().map(|i| i.1).sum();
        let bytes: u64 = self.intervals.iter().map(|i| i.2).sum();
        Rates {
            lines: lines as f64 / secs.max(1e-9),
            bytes: bytes as f64 / secs.max(1e-9),
        }
    }

    /// The busiest interval's rates.
    pub fn peak(&self) -> Rates {
        let per_sec = |i: &(f64, u64, u64)| (i.1 as f64 / i.0, i.2 as f64 / i.0);
        let (lines, bytes) = self
            .intervals
            .iter()
            .map(per_sec)
            .fold((0.0_f64, 0.0_f64), |(l, b), (il, ib)| {
                (l.max(il), b.max(ib))
            });
        Rates { lines, bytes }
    }
}

const SAMPLE_KEEP: usize = 1024 * 1024;
const READ_PIECE: usize = 256 * 1024;

/// Samples every flow at once for `duration`, one interval per second.
pub fn sample(flows: &[&Flow], duration: Duration) -> Vec<Growth> {
    let mut seen: Vec<HashMap<(u64, u64), u64>> =
        flows.iter().map(|flow| sizes(flow).collect()).collect();
    let mut growth = vec![Growth::default(); flows.len()];
    let started = Instant::now();
    let mut last = started;
    while started.elapsed() < duration {
        let next = (last + Duration::from_secs(1)).min(started + duration);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        for (i, flow) in flows.iter().enumerate() {
            let (lines, bytes) = read_growth(flow, &mut seen[i], &mut growth[i].sample);
            growth[i]
                .intervals
                .push(((now - last).as_secs_f64(), lines, bytes));
        }
        last = now;
    }
    growth
}

/// Size of each matched file now, by (device, inode).
fn sizes(flow: &Flow) -> impl Iterator<Item = ((u64, u64), u64)> {
    discovery::scan(&flow.files)
        .files
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            Some(((meta.dev(), meta.ino()), meta.len()))
        })
}

/// Lines and bytes appended since `seen`, which is brought up to date.
fn read_growth(flow: &Flow, seen: &mut HashMap<(u64, u64), u64>, keep: &mut Vec<u8>) -> (u64, u64) {
    let (mut lines, mut bytes) = (0, 0);
    for path in discovery::scan(&flow.files).files {
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        let id = (meta.dev(), meta.ino());
        let from = seen
            .get(&id)
            .copied()
            .filter(|&at| at <= meta.len())
            .unwrap_or(0);
        if file.seek(SeekFrom::Start(from)).is_err() {
            continue;
        }
        // In pieces: a file that grew by gigabytes costs one buffer, not its growth.
        let mut buffer = vec![0; READ_PIECE];
        let mut read = 0;
        while let Ok(n @ 1..) = file.read(&mut buffer) {
            let piece = &buffer[..n];
            lines += memchr::memchr_iter(b'\n', piece).count() as u64;
            let room = SAMPLE_KEEP.saturating_sub(keep.len()).min(n);
            keep.extend_from_slice(&piece[..room]);
            read += n as u64;
        }
        bytes += read;
        seen.insert(id, from + read);
    }
    (lines, bytes)
}
