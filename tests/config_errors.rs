//! Bad configurations are rejected by `edgeship validate` (and `run`) with exit code 78 and a
//! message naming the file, the place in it and what to do.

mod common;

use common::*;

const GOOD_FLOW: &str =
    "[[flow]]\nname = \"app\"\npaths = [\"/var/log/app/*.log\"]\nkinesis_stream = \"s\"\n";

fn rejected(config: &str, expected: &[&str]) {
    let output = validate(config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(78),
        "config should be rejected:\n{config}\nstderr: {stderr}"
    );
    assert!(stderr.contains("edgeship.toml"), "names the file: {stderr}");
    for fragment in expected {
        assert!(
            stderr.contains(fragment),
            "expected {fragment:?} in:\n{stderr}"
        );
    }
}

#[test]
fn misspelt_key_is_rejected_with_line_and_column() {
    rejected(
        "[[flow]]\nname = \"app\"\npathz = [\"/x/*.log\"]\nkinesis_stream = \"s\"\n",
        &["unknown field `pathz`", "line 3", "expected one of"],
    );
    rejected(
        "statedir = \"/x\"\n",
        &["unknown field `statedir`", "line 1"],
    );
}

#[test]
fn type_errors_name_the_key() {
    rejected(
        &format!("{GOOD_FLOW}batch_max_records = \"many\"\n"),
        &["invalid type", "line 5"],
    );
    rejected(
        &format!("{GOOD_FLOW}batch_max_age = \"5 parsecs\"\n"),
        &["invalid duration", "500ms"],
    );
    rejected(
        &format!("{GOOD_FLOW}batch_max_bytes = \"lots\"\n"),
        &["invalid size", "MiB"],
    );
}

#[test]
fn destination_must_be_exactly_one() {
    rejected(
        "[[flow]]\nname = \"app\"\npaths = [\"/x/*.log\"]\nkinesis_stream = \"s\"\nfirehose_stream = \"f\"\n",
        &[
            "flow[0] (\"app\")",
            "both kinesis_stream and firehose_stream",
            "keep exactly one",
        ],
    );
    rejected(
        "[[flow]]\nname = \"app\"\npaths = [\"/x/*.log\"]\n",
        &["no destination", "kinesis_stream = \"NAME\""],
    );
}

#[test]
fn paths_must_be_present_absolute_and_valid_globs() {
    rejected(
        "[[flow]]\nname = \"app\"\npaths = []\nkinesis_stream = \"s\"\n",
        &["flow[0] (\"app\").paths", "empty"],
    );
    rejected(
        "[[flow]]\nname = \"app\"\npaths = [\"logs/*.log\"]\nkinesis_stream = \"s\"\n",
        &["paths[0]", "not an absolute path"],
    );
    rejected(
        "[[flow]]\nname = \"app\"\npaths = [\"/x/[a-.log\"]\nkinesis_stream = \"s\"\n",
        &["paths[0]", "bad glob"],
    );
    rejected(
        &format!("{GOOD_FLOW}exclude = [\"{{a,b\"]\n"),
        &["exclude[0]", "bad glob"],
    );
}

#[test]
fn values_out_of_range_say_what_is_allowed() {
    rejected(
        &format!("{GOOD_FLOW}batch_max_records = 501\n"),
        &["batch_max_records", "1 to 500"],
    );
    rejected(
        &format!("{GOOD_FLOW}batch_max_bytes = \"11MiB\"\n"),
        &["batch_max_bytes", "10485760"],
    );
    rejected(
        &format!("{GOOD_FLOW}partition_key = \"shard\"\n"),
        &["partition_key", "\"random\", \"file\" or \"host\""],
    );
    rejected(
        &format!("{GOOD_FLOW}start_at = \"middle\"\n"),
        &["start_at", "\"beginning\" or \"end\""],
    );
    rejected(
        "[[flow]]\nname = \"f\"\npaths = [\"/x/*\"]\nfirehose_stream = \"f\"\naggregation = \"kpl\"\n",
        &["aggregation", "Firehose"],
    );
    rejected(&format!("{GOOD_FLOW}{GOOD_FLOW}"), &["used twice"]);
    rejected("state_dir = \"/x\"\n", &["no [[flow]]"]);
}

#[test]
fn missing_config_file_is_a_config_error() {
    let output = edgeship()
        .args(["validate", "--config", "/nonexistent/edgeship.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/edgeship.toml"));
}

#[test]
fn validate_lists_matched_files_per_flow() {
    let ws = Workspace::new();
    write_lines(&ws.logs().join("a.log"), "a", 0..1, 0);
    write_lines(&ws.logs().join("b.txt"), "b", 0..1, 0);
    let config =
        ws.config("[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nkinesis_stream = \"s\"\n");
    let output = edgeship()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("flow \"app\" -> kinesis stream \"s\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("a.log") && !stdout.contains("b.txt"),
        "{stdout}"
    );
}

#[test]
fn shipped_example_configs_are_valid() {
    for name in ["edgeship.toml", "demo.toml"] {
        let path = repo().join("config").join(name);
        let output = edgeship()
            .args(["validate", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn second_agent_on_the_same_state_dir_is_refused() {
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nkinesis_stream = \"s\"\n");
    let first = ws.start("http://127.0.0.1:9");
    wait_for(
        std::time::Duration::from_secs(20),
        "the first agent to start",
        || first.log().contains("edgeship is running"),
    );
    assert_run_refused(&ws, "already running");
}

#[test]
fn compression_needs_packed_records_and_a_known_codec() {
    rejected(
        &format!("{GOOD_FLOW}compression = \"gzip\"\n"),
        &[
            "compression",
            "one line per record",
            "aggregation = \"lines\"",
        ],
    );
    rejected(
        &format!("{GOOD_FLOW}aggregation = \"lines\"\ncompression = \"lz4\"\n"),
        &["compression", "unknown value \"lz4\"", "\"zstd\""],
    );
}
