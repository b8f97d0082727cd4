//! KPL aggregation against kinesalite, read back with the third-party PyPI `aws-kinesis-agg`
//! de-aggregator and with `edgeship consume`.

mod common;

use common::*;
use std::time::Duration;

fn ship(
    shards: u32,
    partition_key: &str,
    extra: &str,
) -> (Emulator, Workspace, Agent, Vec<String>) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("agg", shards);
    let ws = Workspace::new();
    let files = [ws.logs().join("a.log"), ws.logs().join("b.log")];
    let mut expected = write_lines(&files[0], "a", 0..15_000, 150);
    expected.extend(write_lines(&files[1], "b", 0..15_000, 120));
    ws.config(&format!("[[flow]]\nname = \"agg\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"agg\"\naggregation = \"kpl\"\npartition_key = \"{partition_key}\"\n{extra}"));
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    (kinesis, ws, agent, expected)
}

fn kcl_check(kinesis: &Emulator) -> serde_json::Value {
    serde_json::from_slice(&kinesis.tool(&["kcl-check", "agg"])).unwrap()
}

#[test]
fn kpl_records_deaggregate_to_the_original_lines_in_order_per_file() {
    // One in-flight request, so arrival order is send order (PutRecords itself gives no
    // ordering across requests when several are in flight).
    let (kinesis, _ws, agent, expected) = ship(4, "file", "max_in_flight = 1\n");
    let got = lines_of(&kinesis.tool(&["read-deagg", "agg"]));
    assert_exactly_once(&expected, &got);
    for tag in ["a-", "b-"] {
        let mine: Vec<&String> = got.iter().filter(|l| l.starts_with(tag)).collect();
        let wanted: Vec<&String> = expected.iter().filter(|l| l.starts_with(tag)).collect();
        assert_eq!(mine, wanted, "lines of {tag}* in file order");
    }
    let check = kcl_check(&kinesis);
    assert_eq!(check["outside_shard_range"], 0, "{check}");
    assert!(check["aggregates"].as_u64().unwrap() > 50, "{check}");
    let records = agent.final_counter("records_delivered");
    assert!(
        records < 30_000 / 100,
        "{records} Kinesis records for 30,000 lines"
    );

    let consumed = edgeship()
        .args(["consume", "--stream", "agg"])
        .envs(aws_env(&kinesis.url))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&consumed.stderr);
    assert!(
        consumed.status.success() && !stderr.contains("warning"),
        "{stderr}"
    );
    assert_exactly_once(&expected, &lines_of(&consumed.stdout));
}

#[test]
fn kpl_with_random_keys_spreads_aggregates_and_passes_the_kcl_shard_check() {
    let (kinesis, _ws, agent, expected) = ship(4, "random", "");
    assert_exactly_once(&expected, &lines_of(&kinesis.tool(&["read-deagg", "agg"])));
    let check = kcl_check(&kinesis);
    assert_eq!(check["outside_shard_range"], 0, "{check}");
    assert_eq!(check["user_records"], 30_000, "{check}");
    // 50,000-byte aggregates of ~140-byte lines: two PUT payload units each.
    let units = agent.final_counter("put_payload_units");
    let records = agent.final_counter("records_delivered");
    assert!(units <= 2 * records, "{units} units for {records} records");
}

#[test]
fn shard_aware_kpl_keeps_per_record_keys_inside_the_storing_shard() {
    let (kinesis, _ws, agent, expected) = ship(4, "random", "shard_aware = true\n");
    assert_exactly_once(&expected, &lines_of(&kinesis.tool(&["read-deagg", "agg"])));
    let check = kcl_check(&kinesis);
    assert_eq!(check["outside_shard_range"], 0, "{check}");
    assert!(check["aggregates"].as_u64().unwrap() > 50, "{check}");
    assert!(agent.log().contains("shard map loaded"));
}

#[test]
fn shard_aware_kpl_survives_a_split_shard_during_shipping() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("agg", 2);
    let ws = Workspace::new();
    let file = ws.logs().join("a.log");
    let mut expected = write_lines(&file, "before", 0..3_000, 100);
    // Paced to ~100 KiB/s per shard so shipping is still going on when the shard splits.
    ws.config("[[flow]]\nname = \"agg\"\npaths = [\"$LOGS/a.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"agg\"\naggregation = \"kpl\"\nshard_aware = true\nrecord_target_bytes = \"8KiB\"\nshard_bytes_per_sec = \"100KiB\"\n");
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(30), "shipping to start", || {
        ws.checkpoints().values().any(|&o| o > 0)
    });
    kinesis.tool(&["split-shard", "agg", "shardId-000000000000"]);
    expected.extend(write_lines(&file, "after", 0..3_000, 100));
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());

    // What a KCL consumer sees: misplaced aggregates are dropped, every line still arrives.
    let output = std::process::Command::new(python())
        .arg(repo().join("tests/support/kinesis_tool.py"))
        .args(["kcl-read", "agg"])
        .envs(aws_env(&kinesis.url))
        .output()
        .unwrap();
    let got = lines_of(&output.stdout);
    let counts = tally(&got);
    let lost: Vec<&String> = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} lines lost for a KCL consumer after the split; {}",
        lost.len(),
        String::from_utf8_lossy(&output.stderr)
    );
    // Misplaced copies were detected, re-split with the new map and resent.
    let report: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    let log = agent.log();
    let summary = log
        .lines()
        .rev()
        .find(|l| l.contains("final: "))
        .unwrap_or_default();
    eprintln!("after split: {report} / {summary}");
    if report["dropped_aggregates"].as_u64().unwrap() > 0 {
        assert!(
            summary.contains("WrongShard="),
            "misplaced aggregates must be noticed: {summary}"
        );
    }
}
