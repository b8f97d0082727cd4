//! Compression benchmark: bytes sent per byte of log, and the cost, for every packed mode and
//! codec, on generated Apache combined logs (`benches/support/apache_log.rs`). It runs the
//! flow's own batcher (the same code that cuts records and requests, partition keys included)
//! on one thread; the baseline, measured in the same run, is the same mode uncompressed.
//!
//!   cargo bench --bench compression
//!   EDGESHIP_BENCH_LINES=1000000 cargo bench --bench compression
//!
//! "sent" is what Kinesis bills: record data plus partition keys. Absolute speeds on shared
//! machines are noisy; compare the ratios.

#[path = "support/apache_log.rs"]
mod apache_log;
#[path = "support/chunks.rs"]
mod chunks;

use edgeship::aggregate::Batcher;
use edgeship::aggregate::batcher::KeyPolicy;
use edgeship::config::{Aggregation, BatchLimits, Compression};
use edgeship::tail::Chunk;
use std::time::{Duration, Instant};

fn main() {
    let count: usize = std::env::var("EDGESHIP_BENCH_LINES")
        .ok()
        .map(|s| s.parse().expect("EDGESHIP_BENCH_LINES"))
        .unwrap_or(200_000);
    let chunks = chunks::chunks(
        "/var/log/apache2/access.log",
        apache_log::apache_lines(0, count),
    );
    let input: usize = chunks.iter().map(|c| c.data.len()).sum();
    println!(
        "{count} Apache combined lines, {:.1} MB; one thread; sent = record data + partition keys\n",
        input as f64 / 1e6
    );
    println!(
        "{:<11} {:<7} {:>9} {:>12} {:>12} {:>10} {:>10} {:>12}",
        "mode", "codec", "records", "sent MB", "log/sent", "PUT units", "MB/s", "time vs none"
    );
    for (name, aggregation, target) in [
        ("lines", Aggregation::Lines, 1024 * 1024),
        ("kpl", Aggregation::Kpl, 50_000),
        ("kpl", Aggregation::Kpl, 256 * 1024),
    ] {
        let mut baseline = None;
        let mode = format!("{name} {}K", target / 1024);
        for (name, codec) in [
            ("none", Compression::None),
            ("gzip-1", Compression::Gzip { level: 1 }),
            ("gzip-3", Compression::gzip()),
            ("gzip-6", Compression::Gzip { level: 6 }),
            ("zstd", Compression::Zstd),
        ] {
            let (time, sent) = best_of(3, || run(&chunks, aggregation, target, codec));
            let base = *baseline.get_or_insert(time);
            println!(
                "{mode:<11} {name:<7} {:>9} {:>12.2} {:>11.1}x {:>10} {:>10.0} {:>11.1}x",
                sent.records,
                sent.bytes as f64 / 1e6,
                input as f64 / sent.bytes as f64,
                sent.put_units,
                input as f64 / time.as_secs_f64() / 1e6,
                time.as_secs_f64() / base.as_secs_f64(),
            );
        }
    }
}

#[derive(Default)]
struct Sent {
    records: u64,
    bytes: u64,
    put_units: u64,
}

fn run(chunks: &[Chunk], aggregation: Aggregation, target: u64, codec: Compression) -> Sent {
    let limits = BatchLimits {
        max_age: Duration::from_secs(5),
        max_records: 500,
        max_request_bytes: 5 * 1024 * 1024,
        request_target_bytes: 5 * 1024 * 1024,
        max_record_bytes: 1024 * 1024,
        record_target_bytes: target,
        compression: codec,
    };
    let mut batcher = Batcher::new(limits, aggregation, KeyPolicy::Random);
    let mut batches = Vec::new();
    let now = tokio::time::Instant::now();
    for chunk in chunks {
        batcher.push(chunk, now, &mut batches);
    }
    batcher.flush(&mut batches);
    let mut sent = Sent::default();
    for entry in batches.iter().flat_map(|b| &b.entries) {
        sent.records += 1;
        sent.bytes += entry.billed_bytes();
        sent.put_units += entry.billed_bytes().div_ceil(25 * 1024).max(1);
    }
    sent
}

fn best_of(runs: usize, mut f: impl FnMut() -> Sent) -> (Duration, Sent) {
    let mut best = (Duration::MAX, Sent::default());
    for _ in 0..runs {
        let start = Instant::now();
        let sent = f();
        let time = start.elapsed();
        if time < best.0 {
            best = (time, sent);
        }
    }
    best
}
