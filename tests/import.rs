//! `edgeship import-kinesis-agent`: realistic agent.json files (several flows, Streams and
//! Firehose, every dataProcessingOption, comments, string numbers, agent.d drop-ins) convert to
//! TOML that `edgeship validate` accepts; invalid input exits non-zero with a clear message.

mod common;

use common::*;
use std::path::Path;

fn import(path: &Path) -> std::process::Output {
    edgeship()
        .arg("import-kinesis-agent")
        .arg(path)
        .output()
        .unwrap()
}

/// Converts `tests/import/<name>/agent.json`, checks the TOML validates, returns it.
fn converted(name: &str) -> String {
    let source = repo().join("tests/import").join(name).join("agent.json");
    let output = import(&source);
    let toml = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edgeship.toml");
    std::fs::write(&config, &toml).unwrap();
    let validated = edgeship()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        validated.status.success(),
        "{name}: converted config does not validate: {}\n{toml}",
        String::from_utf8_lossy(&validated.stderr)
    );
    toml
}

#[test]
fn the_agents_sample_config_converts() {
    let toml = converted("minimal");
    assert!(
        toml.contains("kinesis_stream = 'yourkinesisstream'"),
        "{toml}"
    );
    assert!(
        toml.contains("firehose_stream = 'yourdeliverystream'"),
        "{toml}"
    );
    assert!(
        !toml.contains("endpoint_url"),
        "empty endpoints are unset: {toml}"
    );
    assert!(
        toml.contains("# agent.json cloudwatch.emitMetrics: not imported"),
        "{toml}"
    );
}

#[test]
fn a_production_config_with_comments_strings_and_drop_ins_converts() {
    let toml = converted("full");
    for expected in [
        "region = 'eu-west-1'",
        "shutdown_timeout = \"9s\"",
        "batch_max_age = \"5s\"",
        "batch_max_records = 250",
        "start_at = 'beginning'",
        "format = 'apache_combined'",
        "ec2_metadata_ttl = \"600s\"",
        "multiline_start = '\\d{4}-\\d{2}-\\d{2}'",
        "single_line_trim = false",
        // agent.d: its flows are merged, a broken drop-in is skipped with a note.
        "name = 'syslog'",
        "field_names = ['ts', 'host', 'app', 'pid', 'msg']",
        "skipped",
        "# agent.json log.level: unknown key",
        "# agent.json fileFooterPattern: not imported",
        "partitionKeyOption DETERMINISTIC",
        "partition_key = \"deterministic\"",
    ] {
        assert!(toml.contains(expected), "missing {expected:?} in:\n{toml}");
    }
    assert!(!toml.contains("do-not-copy-me"), "secrets are never copied");
}

#[test]
fn every_data_processing_option_is_mapped_or_explained() {
    let toml = converted("every_option");
    for expected in [
        "single_line_escape_newlines = true",
        "format = 'csv'",
        "csv_delimiter = '|'",
        "skip_header_lines = 1",
        "jsonFormat PRETTYPRINT",
        "format = 'apache_common'",
        "format = 'apache_error'",
        "format = 'rfc3339_syslog'",
        "format = 'regex'",
        "field_names = ['host', 'timestamp', 'method', 'path', 'protocol', 'status', 'bytes']",
        "look-around",
        "metadata_envelope = true",
        "add_read_time = true",
        "fields = { env = \"prod\", team = { name = \"web\" } }",
        "ADDBRACKETS",
        "USINGPLUGGIN (com.example.MyConverter)",
        "The agent DROPPED lines LOGTOJSON could not match",
    ] {
        assert!(toml.contains(expected), "missing {expected:?} in:\n{toml}");
    }
}

#[test]
fn invalid_input_exits_non_zero_with_a_clear_message() {
    let dir = repo().join("tests/import/invalid");
    let cases = [
        ("no_flows.json", "no flows"),
        (
            "bad_option.json",
            "unknown optionName \"logtojson\" (case-sensitive)",
        ),
        ("trailing_comma.json", "is not valid JSON"),
        ("missing.json", "cannot read"),
    ];
    for (file, message) in cases {
        let output = import(&dir.join(file));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{file}");
        assert!(
            stderr.contains(message) && stderr.contains(file),
            "{file}: {stderr}"
        );
    }
}
