//! Record compression against kinesalite and moto, read back with third-party code: boto3, then
//! Python's `gzip` or PyPI `zstandard`, then PyPI `aws-kinesis-agg` for KPL; and with
//! `edgeship consume`. Firehose records land in moto's S3 as objects that inflate as one `.gz`.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// `count` numbered Apache combined lines written by `edgeship generate` in a quarter second;
/// returns them.
fn write_apache(path: &Path, seed: usize, count: usize) -> Vec<String> {
    let rate = (count * 4).to_string();
    let seed = seed.to_string();
    let status = edgeship()
        .args(["generate", "--format", "apache_combined", "--numbered"])
        .args(["--rate", &rate, "--duration", "250ms", "--seed", &seed])
        .arg("--output")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let lines = lines_of(&std::fs::read(path).unwrap());
    assert_eq!(lines.len(), count);
    lines
}

/// Ships two Apache logs to a new stream and stops the agent cleanly.
fn ship_to_stream(flow_settings: &str) -> (Emulator, Workspace, Agent, Vec<String>) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("zip", 2);
    let ws = Workspace::new();
    let files = [ws.logs().join("a.log"), ws.logs().join("b.log")];
    let mut expected = write_apache(&files[0], 0, 12_000);
    expected.extend(write_apache(&files[1], 100_000, 8_000));
    ws.config(&format!("[[flow]]\nname = \"zip\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"zip\"\n{flow_settings}"));
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    (kinesis, ws, agent, expected)
}

/// Reads the stream back with boto3 and Python's codecs; returns the tool's summary.
fn assert_read_back(kinesis: &Emulator, expected: &[String], codec: &str) -> serde_json::Value {
    let output = kinesis.tool_output(&["read-inflated", "zip"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(summary[codec], summary["records"], "{summary}");
    assert_exactly_once(expected, &lines_of(&output.stdout));
    summary
}

fn assert_consume_reads(kinesis: &Emulator, expected: &[String]) {
    let consumed = edgeship()
        .args(["consume", "--stream", "zip"])
        .envs(aws_env(&kinesis.url))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&consumed.stderr);
    assert!(consumed.status.success(), "{stderr}");
    assert!(!stderr.contains(" 0 compressed"), "{stderr}");
    assert_exactly_once(expected, &lines_of(&consumed.stdout));
}

fn ratio(summary: &serde_json::Value) -> f64 {
    summary["bytes_inflated"].as_f64().unwrap() / summary["bytes_sent"].as_f64().unwrap()
}

#[test]
fn gzip_packed_lines_inflate_with_pythons_gzip_and_through_consume() {
    let (kinesis, _ws, agent, expected) =
        ship_to_stream("aggregation = \"lines\"\ncompression = \"gzip\"\n");
    let summary = assert_read_back(&kinesis, &expected, "gzip");
    assert!(ratio(&summary) > 5.0, "{summary}");
    assert_consume_reads(&kinesis, &expected);
    // The agent counts what went over the wire: the stream's data plus the 16-character random
    // partition key of each record.
    assert_eq!(
        agent.final_counter("bytes_delivered"),
        summary["bytes_sent"].as_u64().unwrap() + 16 * summary["records"].as_u64().unwrap(),
        "{}",
        agent.log()
    );
    assert!(
        agent.log().contains("compression_ratio="),
        "{}",
        agent.log()
    );
}

#[test]
fn zstd_kpl_aggregates_inflate_then_deaggregate_with_aws_kinesis_agg() {
    let (kinesis, _ws, _agent, expected) = ship_to_stream(
        "aggregation = \"kpl\"\npartition_key = \"file\"\ncompression = \"zstd\"\nmax_in_flight = 1\n",
    );
    let summary = assert_read_back(&kinesis, &expected, "zstd");
    assert!(ratio(&summary) > 3.0, "{summary}");
    assert_consume_reads(&kinesis, &expected);
}

#[test]
fn gzip_firehose_records_make_objects_that_inflate_as_one_gz_file() {
    let moto = Emulator::moto();
    moto.tool(&["create-firehose", "zip-fh", "zip-bucket"]);
    let ws = Workspace::new();
    let files = [ws.logs().join("a.log")];
    let expected = write_apache(&files[0], 0, 15_000);
    ws.config("[[flow]]\nname = \"fh\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nfirehose_stream = \"zip-fh\"\nrecord_target_bytes = \"64KiB\"\ncompression = \"gzip\"\n");
    let mut agent = ws.start(&moto.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    let output = moto.tool_output(&["read-bucket-inflated", "zip-bucket"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(summary["codecs"], serde_json::json!(["gzip"]), "{summary}");
    assert_exactly_once(&expected, &lines_of(&output.stdout));
    assert!(
        agent.final_counter("records_delivered") > 10,
        "{}",
        agent.log()
    );
}
