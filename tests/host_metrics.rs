//! Host-metrics flows against kinesalite, read back with boto3: records at the interval with
//! the host's figures, and records taken while the stream is unreachable kept, saved at a stop
//! and shipped by the next run, each once.

mod common;

use common::gate::Gate;
use common::*;
use serde_json::Value;
use std::time::Duration;

fn setup(interval: &str) -> (Emulator, Workspace) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("health", 1);
    let ws = Workspace::new();
    ws.config(&format!(
        "[[flow]]\nname = \"health\"\nhost_metrics = {{ interval = \"{interval}\" }}\nkinesis_stream = \"health\"\nbatch_max_records = 1\nrate_limit = false\n"
    ));
    (kinesis, ws)
}

fn records(kinesis: &Emulator) -> Vec<Value> {
    kinesis
        .read_lines("health")
        .iter()
        .map(|line| serde_json::from_str(line).expect("each record is one JSON object"))
        .collect()
}

fn taken(record: &Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(record["timestamp"].as_str().expect("a timestamp")).unwrap()
}

fn wait_for_records(kinesis: &Emulator, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    wait_for(Duration::from_secs(60), &format!("{count} records"), || {
        got = records(kinesis);
        got.len() >= count
    });
    got
}

/// `lines_pending` of the last status line: records taken and not yet delivered.
fn pending(log: &str) -> u64 {
    log.lines()
        .rev()
        .find_map(|l| {
            let rest = l.split(" lines_pending=").nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0)
}

#[test]
fn one_record_per_interval_with_the_hosts_figures() {
    let (kinesis, ws) = setup("2s");
    let mut agent = ws.start(&kinesis.url);
    let got = wait_for_records(&kinesis, 4);
    agent.stop();
    for pair in got.windows(2) {
        let gap = taken(&pair[1]).duration_since(taken(&pair[0])).unwrap();
        assert!(
            (1500..2500).contains(&gap.as_millis()),
            "records {gap:?} apart, expected 2 s"
        );
    }
    let record = &got[1];
    assert_eq!(
        record["host"].as_str(),
        Some(gethostname::gethostname().to_str().unwrap())
    );
    assert!(record["cpu"]["cores"].as_u64().unwrap() >= 1);
    let usage = record["cpu"]["usage_percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&usage), "cpu {usage}");
    let memory = &record["memory"];
    let total = memory["total_bytes"].as_u64().unwrap();
    assert!(total > 64 << 20, "memory {memory}");
    assert!(memory["available_bytes"].as_u64().unwrap() <= total);
    assert!(record["uptime_secs"].as_u64().unwrap() > 0);
    assert!(record["load"]["1m"].as_f64().unwrap() >= 0.0);
    let disks = record["disks"].as_array().unwrap();
    assert!(
        disks.iter().any(|d| d["total_bytes"].as_u64() > Some(0)
            && d["used_percent"]
                .as_f64()
                .is_some_and(|p| (0.0..=100.0).contains(&p))),
        "a mounted file system with its size: {disks:?}"
    );
    let lo = record["network"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("the loopback interface");
    assert!(lo["rx_bytes_total"].as_u64().unwrap() > 0, "{lo}");
    assert!(record["temperatures"].is_array());
}

#[test]
fn records_taken_while_the_stream_is_unreachable_are_saved_at_a_stop_and_shipped_once() {
    let (kinesis, ws) = setup("1s");
    let gate = Gate::start(kinesis.port);
    let mut agent = ws.start(&gate.url);
    let before = wait_for_records(&kinesis, 2).len();
    gate.down();
    wait_for(
        Duration::from_secs(60),
        "records taken during the outage",
        || pending(&agent.log()) >= 4,
    );
    // The stop waits up to shutdown_timeout for the unreachable stream; no records are taken
    // meanwhile.
    let (_, stopping) = agent.stop();
    let log = agent.log();
    let saved: usize = log
        .lines()
        .find_map(|l| {
            let rest = l.split("saved ").nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no saved records reported:\n{log}"));
    assert!(saved >= 3, "{saved} records saved");
    gate.up();
    let mut agent = ws.start(&gate.url);
    let got = wait_for_records(&kinesis, before + saved + 2);
    agent.stop();
    assert!(agent.log().contains(&format!(
        "shipping {saved} host-metrics records saved by the last stop"
    )));
    let mut times: Vec<_> = got.iter().map(taken).collect();
    times.sort();
    let unique = times.len();
    times.dedup();
    assert_eq!(unique, times.len(), "a record was shipped twice");
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|pair| pair[1].duration_since(pair[0]).unwrap())
        .filter(|gap| *gap >= Duration::from_secs(3))
        .collect();
    assert!(
        gaps.len() <= 1 && gaps.iter().all(|g| *g < stopping + Duration::from_secs(4)),
        "gaps of {gaps:?} (the stop took {stopping:?}): records were lost"
    );
    assert!(!ws.path("state/spool/health/host_metrics.jsonl").exists());
}
