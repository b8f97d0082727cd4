//! Parser benchmark: lines/s per core for every `[flow.parse]` format, single-threaded, through
//! the same code the parse stage runs (`FileParser::push` on 256 KiB chunks, JSON out). The
//! baseline, measured in the same run on the same bytes, is splitting the chunks into lines
//! with memchr: the cheapest pass possible; the ratio is what a format costs on top of it.
//!
//!   cargo bench --bench parsers
//!   EDGESHIP_BENCH_LINES=1000000 cargo bench --bench parsers
//!
//! Absolute numbers on shared machines are noisy; compare the ratio to the baseline.

use edgeship::config::Config;
use edgeship::parse::{FileParser, ParseCore, Report};
use edgeship::tail::Chunk;
use std::path::Path;
use std::time::Instant;

#[path = "support/chunks.rs"]
mod chunks;

/// (name, `[flow.parse]` keys, a line generator).
type Case = (&'static str, &'static str, fn(usize) -> String);

const CASES: &[Case] = &[
    ("line", "format = \"line\"", |n| {
        format!("2026-11-28 14:02:03 INFO request {n} served in 12ms")
    }),
    ("single_line", "format = \"single_line\"", |n| {
        format!("  2026-11-28 14:02:03 INFO request {n} served  ")
    }),
    ("json", "format = \"json\"", |n| {
        format!(r#"{{"level":"info","msg":"served","id":{n},"ms":12}}"#)
    }),
    (
        "json (compact)",
        "format = \"json\"\njson_compact = true",
        |n| format!(r#"{{"level": "info", "msg": "served", "id": {n}}}"#),
    ),
    (
        "csv",
        "format = \"csv\"\nfield_names = [\"id\", \"user\", \"action\", \"amount\"]",
        |n| format!("{n},alice,\"purchase, big\",19.99"),
    ),
    (
        "regex",
        "format = \"regex\"\npattern = '(?P<time>\\S+ \\S+) (?P<level>[A-Z]+) +\\[(?P<thread>[^\\]]+)\\] (?P<logger>\\S+) - (?P<message>.*)'",
        |n| format!("2026-11-28 14:02:03,123 INFO  [main] com.example.App - request {n} served"),
    ),
    ("apache_common", "format = \"apache_common\"", |n| {
        format!(
            "192.168.1.{} - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif?id={n} HTTP/1.0\" 200 2326",
            n % 255
        )
    }),
    ("apache_combined", "format = \"apache_combined\"", |n| {
        format!(
            "192.168.1.{} - - [10/Oct/2000:13:55:36 -0700] \"GET /index.html?id={n} HTTP/1.1\" 200 2326 \"http://www.example.com/start.html\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\"",
            n % 255
        )
    }),
    (
        "apache_combined + types, timestamp, metadata",
        "format = \"apache_combined\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"datetime\"\nadd_file = true\nadd_offset = true",
        |n| {
            format!(
                "192.168.1.{} - - [10/Oct/2000:13:55:36 -0700] \"GET /index.html?id={n} HTTP/1.1\" 200 2326 \"-\" \"curl/8.5.0\"",
                n % 255
            )
        },
    ),
    ("apache_error", "format = \"apache_error\"", |n| {
        format!(
            "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /htdocs/{n}.ico"
        )
    }),
    ("syslog", "format = \"syslog\"", |n| {
        format!(
            "Nov 28 14:02:03 web1 sshd[811]: Accepted publickey for deploy from 10.0.0.5 port {n} ssh2"
        )
    }),
    ("rfc3339_syslog", "format = \"rfc3339_syslog\"", |n| {
        format!(
            "2026-11-28T14:02:03.123456+00:00 web1 sshd[811]: Accepted publickey for deploy port {n}"
        )
    }),
    ("syslog_rfc5424", "format = \"syslog_rfc5424\"", |n| {
        format!(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventID=\"1011\"] event {n}"
        )
    }),
    (
        "multiline (start pattern) + line",
        "multiline_start = '\\d{4}-'",
        |n| {
            if n % 4 == 0 {
                format!("2026-11-28 14:02:03 ERROR failed {n}")
            } else {
                "\tat com.example.Foo.bar(Foo.java:42)".to_owned()
            }
        },
    ),
];

fn main() {
    let lines: usize = std::env::var("EDGESHIP_BENCH_LINES")
        .ok()
        .map(|s| s.parse().expect("EDGESHIP_BENCH_LINES"))
        .unwrap_or(300_000);
    println!(
        "{lines} lines per format, one thread (lines/s per core); baseline = memchr line split of the same bytes\n"
    );
    println!(
        "{:<46} {:>14} {:>12} {:>10} {:>10}",
        "format", "lines/s", "MB/s in", "baseline", "ratio"
    );
    for (name, keys, make) in CASES {
        let chunks = chunks::chunks("/var/log/bench.log", (0..lines).map(make));
        let bytes: usize = chunks.iter().map(|c| c.data.len()).sum();
        let baseline = best_of(3, || split_only(&chunks));
        let parser_time = best_of(3, || parse_all(keys, &chunks));
        let rate = lines as f64 / parser_time;
        let base_rate = lines as f64 / baseline;
        println!(
            "{name:<46} {:>14} {:>12.1} {:>10} {:>9.1}x",
            thousands(rate),
            bytes as f64 / parser_time / 1e6,
            thousands(base_rate),
            base_rate / rate
        );
    }
}

fn thousands(rate: f64) -> String {
    format!("{:.0}k", rate / 1000.0)
}

fn best_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn split_only(chunks: &[Chunk]) -> f64 {
    let start = Instant::now();
    let mut count = 0usize;
    for chunk in chunks {
        count += memchr::memchr_iter(b'\n', std::hint::black_box(&chunk.data)).count();
    }
    std::hint::black_box(count);
    start.elapsed().as_secs_f64()
}

fn parse_all(keys: &str, chunks: &[Chunk]) -> f64 {
    let text = format!(
        "[[flow]]\nname = \"b\"\npaths = [\"/var/log/*.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\n{keys}\n"
    );
    let config = Config::parse(&text, Path::new("bench.toml")).unwrap_or_else(|e| panic!("{e}"));
    let core = ParseCore::new(config.flows[0].parse.clone().unwrap(), None);
    let mut parser = FileParser::new(core, 1 << 20);
    let now = tokio::time::Instant::now();
    let start = Instant::now();
    let mut report = Report::default();
    let mut records = 0;
    for chunk in chunks {
        records += parser.push(chunk, now, &mut report).lines.len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(
        report.failures.len(),
        0,
        "{keys}: {:?}",
        report.failures.first()
    );
    std::hint::black_box(records);
    elapsed
}
