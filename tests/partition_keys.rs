//! Partition keys of every kind, in every aggregation mode, shipped to kinesalite and read back
//! record by record with boto3 and the PyPI `aws-kinesis-agg` de-aggregator.

mod common;

use common::proxy::{FaultPlan, FaultProxy};
use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const LINES: usize = 3_000;
/// The order test: enough lines for hundreds of aggregates.
const MANY_LINES: usize = 20_000;
/// Every this many lines, a record without the `user` field.
const NO_USER_EVERY: usize = 100;

/// One line as `read-keyed` prints it.
#[derive(serde::Deserialize)]
struct Keyed {
    shard: String,
    key: String,
    aggregated: bool,
    line: String,
    record_md5: String,
}

fn user_of(n: usize) -> Option<String> {
    (n % NO_USER_EVERY != 7).then(|| format!("u{}", n % 13))
}

fn write_json_log(ws: &Workspace, lines: usize) -> std::path::PathBuf {
    let path = ws.logs().join("app.log");
    let pad = "x".repeat(80);
    let text: String = (0..lines)
        .map(|n| match user_of(n) {
            Some(user) => format!("{{\"n\":{n},\"user\":\"{user}\",\"pad\":\"{pad}\"}}\n"),
            None => format!("{{\"n\":{n},\"pad\":\"{pad}\"}}\n"),
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// One flow per `(stream, settings)`, all reading the same file of `lines` lines, to 4-shard
/// streams, directly or through a proxy injecting `faults`.
fn ship(
    flows: &[(&str, &str)],
    lines: usize,
    faults: Option<FaultPlan>,
) -> (Emulator, Workspace, Agent) {
    let kinesis = Emulator::kinesalite();
    let proxy = faults.map(|plan| FaultProxy::start(kinesis.port, plan));
    let ws = Workspace::new();
    let file = write_json_log(&ws, lines);
    let mut config = String::new();
    for (stream, settings) in flows {
        kinesis.create_stream(stream, 4);
        config.push_str(&format!(
            "[[flow]]\nname = \"{stream}\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"{stream}\"\nrate_limit = false\n{settings}\n"
        ));
    }
    ws.config(&config);
    let mut agent = ws.start(proxy.as_ref().map_or(&kinesis.url, |p| &p.url));
    let size = std::fs::metadata(&file).unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let text = std::fs::read_to_string(ws.path("state/checkpoints.json")).unwrap_or_default();
        let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let files = state["files"].as_array().cloned().unwrap_or_default();
        let done = files.iter().filter(|f| f["offset"].as_u64() == Some(size));
        if done.count() >= flows.len() {
            break;
        }
        let log = agent.log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        assert!(
            std::time::Instant::now() < deadline,
            "not every flow checkpointed at {size}: {text}\n{}",
            tail.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(agent.stop().0.success(), "{}", agent.log());
    if let Some(proxy) = proxy {
        let stats = proxy.stats();
        assert!(
            stats.entries_failed > 20 && stats.requests_rejected > 2,
            "faults injected: {stats:?}"
        );
    }
    (kinesis, ws, agent)
}

fn read_keyed(kinesis: &Emulator, stream: &str) -> Vec<Keyed> {
    let out = kinesis.tool(&["read-keyed", stream]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn number(line: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["n"].as_u64().unwrap() as usize
}

/// Each of `lines` lines exactly once, and each key's lines in file order within their shard.
fn assert_complete_and_ordered(stream: &str, got: &[Keyed], lines: usize) {
    let mut numbers: Vec<usize> = got.iter().map(|k| number(&k.line)).collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (0..lines).collect::<Vec<_>>(),
        "{stream}: every line once"
    );
    let mut last: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for keyed in got {
        let n = number(&keyed.line);
        if let Some(before) = last.insert((&keyed.shard, &keyed.key), n) {
            assert!(
                before < n,
                "{stream}: key {} has {n} after {before}",
                keyed.key
            );
        }
    }
}

/// The `partition_key_fallbacks` of `flow` in the agent's final summary.
fn fallbacks(agent: &Agent, flow: &str) -> u64 {
    let log = agent.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("final: ") && l.contains(&format!("flow={flow} ")))
        .unwrap_or_else(|| panic!("no final summary of {flow}:\n{log}"));
    let value = line.split(" partition_key_fallbacks=").nth(1).unwrap();
    value.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn field_keys_survive_every_aggregation_mode() {
    let parse = "[flow.parse]\nformat = \"json\"\n";
    let key = "partition_key = \"{field.user}\"\nmax_in_flight = 1\n";
    let flows = [
        ("none", format!("aggregation = \"none\"\n{key}{parse}")),
        ("lines", format!("aggregation = \"lines\"\n{key}{parse}")),
        ("kpl", format!("aggregation = \"kpl\"\n{key}{parse}")),
        (
            "kpl-shard-aware",
            format!("aggregation = \"kpl\"\nshard_aware = true\n{key}{parse}"),
        ),
    ];
    let flows: Vec<(&str, &str)> = flows.iter().map(|(s, c)| (*s, c.as_str())).collect();
    let (kinesis, _ws, agent) = ship(&flows, LINES, None);
    let missing = (0..LINES).filter(|n| user_of(*n).is_none()).count() as u64;
    for (stream, _) in &flows {
        let got = read_keyed(&kinesis, stream);
        assert_complete_and_ordered(stream, &got, LINES);
        for keyed in &got {
            match user_of(number(&keyed.line)) {
                Some(user) => assert_eq!(keyed.key, user, "{stream}: {}", keyed.line),
                None => assert!(
                    keyed.key.len() == 16 && keyed.key.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{stream}: a random key for a line without the field, not {:?}",
                    keyed.key
                ),
            }
        }
        if stream.starts_with("kpl") {
            assert!(got.iter().any(|k| k.aggregated), "{stream}: aggregated");
            let check: serde_json::Value =
                serde_json::from_slice(&kinesis.tool(&["kcl-check", stream])).unwrap();
            assert_eq!(check["outside_shard_range"], 0, "{stream}: {check}");
        }
        assert_eq!(
            fallbacks(&agent, stream),
            missing,
            "{stream}: fallbacks counted"
        );
    }
}

#[test]
fn deterministic_and_per_file_keys() {
    let flows = [
        (
            "none",
            "aggregation = \"none\"\npartition_key = \"deterministic\"\nmax_in_flight = 1\n",
        ),
        (
            "lines",
            "aggregation = \"lines\"\npartition_key = \"deterministic\"\nmax_in_flight = 1\n",
        ),
        (
            "kpl-shard-aware",
            "aggregation = \"kpl\"\nshard_aware = true\npartition_key = \"deterministic\"\n",
        ),
        (
            "template",
            "aggregation = \"lines\"\npartition_key = \"app:{file}\"\nmax_in_flight = 1\n",
        ),
    ];
    let (kinesis, _ws, agent) = ship(&flows, LINES, None);
    for (stream, _) in &flows[..3] {
        let got = read_keyed(&kinesis, stream);
        assert_complete_and_ordered(stream, &got, LINES);
        for keyed in &got {
            // The MD5 of the record's data: the line (`none`), the packed record (`lines`), the
            // user record (KPL).
            assert_eq!(keyed.key, keyed.record_md5, "{stream}: {}", keyed.line);
        }
        assert_eq!(fallbacks(&agent, stream), 0);
    }
    let got = read_keyed(&kinesis, "template");
    assert_complete_and_ordered("template", &got, LINES);
    let wanted = got[0].key.clone();
    assert!(
        wanted.starts_with("app:/") && wanted.ends_with("/logs/app.log"),
        "{wanted}"
    );
    assert!(got.iter().all(|k| k.key == wanted), "one key for the file");
}

/// The order a consumer keying by partition key expects: with `shard_aware`, each key's lines
/// arrive in file order within their shard although a fifth of the entries fail and some
/// requests are throttled whole (and `max_in_flight` is left at its default).
#[test]
fn shard_aware_keeps_each_keys_order_through_failures_and_throttling() {
    let faults = FaultPlan {
        fail_entry_every: 5,
        throttle_request_every: 7,
        ..FaultPlan::default()
    };
    let flows = [
        (
            "by-user",
            "aggregation = \"kpl\"\nshard_aware = true\nrecord_target_bytes = 4096\npartition_key = \"{field.user}\"\n[flow.parse]\nformat = \"json\"\n",
        ),
        (
            "by-line",
            "aggregation = \"kpl\"\nshard_aware = true\nrecord_target_bytes = 4096\npartition_key = \"deterministic\"\n",
        ),
    ];
    let (kinesis, _ws, _agent) = ship(&flows, MANY_LINES, Some(faults));
    for (stream, _) in &flows {
        let got = read_keyed(&kinesis, stream);
        assert_complete_and_ordered(stream, &got, MANY_LINES);
        let aggregates = got.iter().filter(|k| k.aggregated).count();
        assert!(
            aggregates > MANY_LINES / 2,
            "{stream}: mostly aggregated ({aggregates})"
        );
    }
}
