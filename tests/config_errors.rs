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
        &[
            "batch_max_bytes",
            "\"11MiB\" is out of range",
            "to \"10MiB\"",
        ],
    );
    rejected(
        &format!("{GOOD_FLOW}partition_key = \"shard\"\n"),
        &[
            "partition_key",
            "\"shard\" is neither a key kind nor a template",
            "\"deterministic\", or a template such as \"{host}-{file}\"",
        ],
    );
    rejected(
        &format!("{GOOD_FLOW}partition_key = \"{{field.user\"\n"),
        &["partition_key", "a '{' without its '}'"],
    );
    rejected(
        &format!("{GOOD_FLOW}partition_key = \"{{field.user}}\"\n"),
        &["partition_key", "sends lines as text", "format = \"json\""],
    );
    rejected(
        &format!("{GOOD_FLOW}aggregation = \"kpl\"\npartition_key = \"deterministic\"\n"),
        &[
            "partition_key",
            "nothing would be aggregated",
            "shard_aware = true",
        ],
    );
    rejected(
        &format!("{GOOD_FLOW}start_at = \"middle\"\n"),
        &["start_at", "line 5", "expected `beginning` or `end`"],
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/edgeship.toml"), "{stderr}");
    assert!(
        stderr.contains("--config FILE"),
        "says how to pass one: {stderr}"
    );
    assert!(
        stderr.contains("edgeship.toml.example"),
        "names the example: {stderr}"
    );
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "the OS error once: {stderr}"
    );
}

#[test]
fn common_slips_get_a_message_that_says_what_to_write() {
    rejected(
        "[flow]\nname = \"app\"\npaths = [\"/x/*.log\"]\nkinesis_stream = \"s\"\n",
        &["line 1", "[[flow]] (two brackets"],
    );
    rejected(
        &format!("{GOOD_FLOW}batch_max_age = 5\n"),
        &["line 5", "5 has no unit", "\"5s\""],
    );
    rejected(
        &format!("{GOOD_FLOW}batch_max_bytes = \"5MB\"\n"),
        &["line 5", "did you mean \"5MiB\"", "binary units"],
    );
    rejected(
        "[[flow]]\nname = \"app\"\npaths = [\"/x/*.log\"]\nkinesis_strem = \"s\"\n",
        &[
            "unknown field `kinesis_strem`",
            "did you mean `kinesis_stream`?",
        ],
    );
    rejected(
        &format!("{GOOD_FLOW}start_at = \"begining\"\n"),
        &["did you mean `beginning`?"],
    );
    rejected(
        &format!("log_level = \"warning\"\n{GOOD_FLOW}"),
        &["unknown variant `warning`", "did you mean `warn`?"],
    );
}

#[test]
fn keys_without_effect_on_firehose_are_rejected() {
    let firehose = "[[flow]]\nname = \"f\"\npaths = [\"/x/*\"]\nfirehose_stream = \"f\"\n";
    for key in [
        "partition_key = \"file\"",
        "rate_limit = false",
        "shard_records_per_sec = 500",
        "shard_bytes_per_sec = \"512KiB\"",
    ] {
        let field = key.split(' ').next().unwrap();
        rejected(
            &format!("{firehose}{key}\n"),
            &[
                &format!("(\"f\").{field}"),
                "no effect on a Firehose stream",
                "remove",
            ],
        );
    }
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
        &["compression", "unknown variant `lz4`", "`zstd`"],
    );
}

/// `validate` checks the machine as `run` will find it: the region's source, the state
/// directory, directories that do not exist, matched paths that are not files.
#[test]
fn validate_reports_what_run_would_meet() {
    let ws = Workspace::new();
    write_lines(&ws.logs().join("a.log"), "a", 0..1, 0);
    std::fs::create_dir(ws.logs().join("old.log")).unwrap();
    let config = ws.config(
        "[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\", \"/nonexistent/app/*.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\nformat = \"json\"\non_failure = \"dead_letter\"\ndead_letter_path = \"/tmp/dl.jsonl\"\n",
    );
    let run = |envs: &[(&str, &str)]| {
        let output = edgeship()
            .args(["validate", "--config"])
            .arg(&config)
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env("AWS_CONFIG_FILE", ws.path("no-aws-config"))
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let stdout = run(&[("AWS_REGION", "eu-west-3")]);
    for expected in [
        "region eu-west-3 (from AWS_REGION",
        "does not exist yet and will be created",
        "warning: directory /nonexistent/app of \"/nonexistent/app/*.log\" does not exist",
        "old.log is a directory, not a regular file",
        "on_failure dead_letter to /tmp/dl.jsonl",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("DeadLetter"), "{stdout}");
    let stdout = run(&[]);
    assert!(stdout.contains("warning: no region"), "{stdout}");
    std::fs::write(ws.path("state"), "a file").unwrap();
    assert!(run(&[]).contains("warning: state_dir"));
}

/// Without a region, `run` stops with the config exit code (systemd's
/// `RestartPreventExitStatus=78` then does not restart it every 5 s).
#[test]
fn run_without_a_region_exits_as_a_config_error() {
    let ws = Workspace::new();
    let config =
        ws.config("[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nkinesis_stream = \"s\"\n");
    let output = edgeship()
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", ws.path("no-aws-config"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("no AWS region is configured"), "{stderr}");
}
