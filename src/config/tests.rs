use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/edgeship/edgeship.toml"))
}

#[test]
fn architecture_contract_example_parses() {
    let config = parse(
        r#"
state_dir = "/var/lib/edgeship"
[aws]
region = "eu-west-1"
[[flow]]
name = "nginx"
paths = ["/var/log/nginx/access.log*"]
exclude = ["*.gz"]
start_at = "end"
kinesis_stream = "web-logs"
aggregation = "none"
partition_key = "random"
batch_max_age = "1s"
"#,
    )
    .unwrap();
    let flow = &config.flows[0];
    assert_eq!(
        flow.destination,
        Destination::Kinesis {
            stream: "web-logs".into()
        }
    );
    assert_eq!(flow.limits.max_request_bytes, 1024 * 1024);
    assert_eq!(flow.limits.request_target_bytes, 200 * 1024);
    assert_eq!(flow.limits.max_record_bytes, 1024 * 1024);
    assert_eq!(flow.max_in_flight_bytes, 1024 * 1024);
    assert_eq!(flow.limits.max_records, 500);
    assert_eq!(config.checkpoint_interval, Duration::from_secs(1));
    assert_eq!(config.aws.request_timeout, Duration::from_secs(60));
    assert!(flow.files.matches(Path::new("/var/log/nginx/access.log.1")));
    assert!(
        !flow
            .files
            .matches(Path::new("/var/log/nginx/access.log.2.gz"))
    );
}

#[test]
fn firehose_defaults_to_packed_lines_within_its_fixed_limits() {
    let config =
        parse("[[flow]]\nname = \"f\"\npaths = [\"/l/*.log\"]\nfirehose_stream = \"fh\"\n")
            .unwrap();
    let flow = &config.flows[0];
    assert_eq!(flow.aggregation, Aggregation::Lines);
    assert_eq!(flow.limits.max_request_bytes, 1024 * 1024);
    assert_eq!(flow.limits.max_record_bytes, 1000 * 1024);
    assert_eq!(flow.limits.record_target_bytes, 125_000);
    assert_eq!(flow.limits.request_target_bytes, 200 * 1024);
    assert!(parse("[[flow]]\nname = \"f\"\npaths = [\"/l/*.log\"]\nfirehose_stream = \"fh\"\nbatch_max_bytes = \"5MiB\"\n").is_err());
}

#[test]
fn sizes_and_durations_accept_human_units() {
    let config = parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\nbatch_max_bytes = \"10MiB\"\nrecord_max_bytes = 2097152\nbatch_max_age = \"250ms\"\n").unwrap();
    let limits = &config.flows[0].limits;
    assert_eq!(limits.max_request_bytes, 10 * 1024 * 1024);
    // batch_max_bytes alone: requests fill up to it, as before batch_target_bytes existed.
    assert_eq!(limits.request_target_bytes, 10 * 1024 * 1024);
    assert_eq!(limits.max_record_bytes, 2 * 1024 * 1024);
    assert_eq!(limits.max_age, Duration::from_millis(250));
    assert_eq!(limits.max_line_bytes(), 2 * 1024 * 1024 - 257);
}

#[test]
fn batch_target_bytes_lies_between_one_kib_and_batch_max_bytes() {
    let flow = |extra: &str| {
        parse(&format!(
            "[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n{extra}"
        ))
    };
    let set = flow("batch_target_bytes = \"512KiB\"\nbatch_max_bytes = \"2MiB\"\n").unwrap();
    assert_eq!(set.flows[0].limits.request_target_bytes, 512 * 1024);
    assert_eq!(set.flows[0].limits.max_request_bytes, 2 * 1024 * 1024);
    for bad in ["batch_target_bytes = 512", "batch_target_bytes = \"2MiB\""] {
        let error = flow(bad).unwrap_err().to_string();
        assert!(error.contains("batch_target_bytes"), "{error}");
        assert!(
            error.contains("batch_max_bytes (1 MiB)")
                || error.contains("batch_max_bytes (\"1MiB\")"),
            "{error}"
        );
    }
}

#[test]
fn exclude_without_slash_matches_names_and_with_slash_whole_paths() {
    let config = parse("[[flow]]\nname = \"k\"\npaths = [\"/l/**/*.log\"]\nexclude = [\"debug-*\", \"/l/tmp/**\"]\nkinesis_stream = \"s\"\n").unwrap();
    let flow = &config.flows[0];
    assert!(flow.files.matches(Path::new("/l/a/b/c.log")));
    assert!(!flow.files.matches(Path::new("/l/a/debug-1.log")));
    assert!(!flow.files.matches(Path::new("/l/tmp/x/y.log")));
    assert!(!flow.files.matches(Path::new("/l/a/c.txt")));
}

#[test]
fn single_star_does_not_cross_directories() {
    let config =
        parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n").unwrap();
    assert!(!config.flows[0].files.matches(Path::new("/l/sub/a.log")));
}

#[test]
fn semantic_errors_carry_the_key_path_and_a_hint() {
    let error = parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\nmax_in_flight = 0\n").unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("/etc/edgeship/edgeship.toml")
            && text.contains("flow[0] (\"k\").max_in_flight")
            && text.contains("hint: use 1 to 64"),
        "{text}"
    );
}

const PARSE_FLOW: &str =
    "[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\n";

#[test]
fn without_a_parse_table_lines_are_shipped_as_read() {
    let config =
        parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n").unwrap();
    assert!(config.flows[0].parse.is_none());
}

#[test]
fn parse_table_is_validated_with_compiled_regexes() {
    let config = parse(&format!(
        "{PARSE_FLOW}format = \"regex\"\npattern = '(?P<level>\\w+) (?P<msg>.*)'\nmultiline_start = '^\\d'\non_failure = \"drop\"\ninclude = ['x']\n[[flow.parse.redact]]\npattern = 'secret=\\S+'\n"
    ))
    .unwrap();
    let spec = config.flows[0].parse.as_ref().unwrap();
    assert!(spec.frame.is_multiline());
    assert_eq!(spec.on_failure, crate::parse::FailurePolicy::Drop);
    assert_eq!(spec.redact[0].1, "[REDACTED]");
    assert_eq!(spec.frame.max_bytes, 1024 * 1024 - 257);
}

#[test]
fn parse_errors_name_the_key_and_say_what_to_do() {
    let cases = [
        ("format = \"xml\"", "parse.format", "use one of line,"),
        (
            "format = \"regex\"\npattern = '(?<=a)b'",
            "parse.pattern",
            "no look-around",
        ),
        (
            "format = \"regex\"\npattern = '\\d+'",
            "parse.pattern",
            "named groups",
        ),
        ("format = \"csv\"", "parse.field_names", "csv_header = true"),
        (
            "format = \"apache_common\"\nfield_names = [\"a\"]",
            "parse.field_names",
            "host, ident",
        ),
        (
            "on_failure = \"dead_letter\"",
            "parse.dead_letter_path",
            "dead_letter_path =",
        ),
        (
            "multiline_start = '('",
            "parse.multiline_start",
            "regex syntax",
        ),
        (
            "format = \"csv\"\nfield_names = [\"a\"]\ntypes = { a = \"date\" }",
            "parse.types.a",
            "\"int\"",
        ),
        (
            "format = \"json\"\ntimestamp_field = \"time\"",
            "parse.timestamp_field",
            "formats with fields",
        ),
        (
            "types = { a = \"int\" }",
            "parse.types",
            "formats with fields",
        ),
        (
            "multiline_flush = \"2s\"",
            "parse.multiline_flush",
            "set multiline_start or multiline_continue",
        ),
    ];
    for (keys, key, hint) in cases {
        let text = parse(&format!("{PARSE_FLOW}{keys}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(&format!("flow[0] (\"k\").{key}")) && text.contains(hint),
            "{keys}: {text}"
        );
    }
}

#[test]
fn misspelt_parse_key_is_rejected() {
    let text = parse(&format!("{PARSE_FLOW}multiline_pattern = 'x'\n"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("multiline_pattern"), "{text}");
}

/// The example config documents every `[flow.parse]` key.
#[test]
fn every_parse_key_is_in_the_example_config() {
    let example = include_str!("../../config/edgeship.toml");
    let raw = include_str!("../parse/raw.rs");
    let keys: Vec<&str> = raw
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .filter(|k| !k.contains(' '))
        .collect();
    assert!(keys.len() > 30, "{keys:?}");
    for key in keys {
        assert!(
            example.contains(&format!("{key} ="))
                || example.contains(&format!("flow.parse.{key}]")),
            "config/edgeship.toml does not show {key}"
        );
    }
}

#[test]
fn a_flow_reads_either_files_or_the_journal() {
    let journal = parse(
        "[[flow]]\nname = \"j\"\njournal = { units = [\"nginx.service\"], priority = \"info\" }\nkinesis_stream = \"s\"\n",
    )
    .unwrap();
    let spec = journal.flows[0].journal.as_ref().expect("a journal flow");
    assert_eq!(spec.units, ["nginx.service"]);
    assert!(journal.flows[0].files.paths.is_empty());
    let message = |text: &str| parse(text).unwrap_err().to_string();
    let both = message(
        "[[flow]]\nname = \"j\"\npaths = [\"/var/log/*.log\"]\njournal = {}\nkinesis_stream = \"s\"\n",
    );
    assert!(
        both.contains("flow[0] (\"j\").journal: both journal and paths"),
        "{both}"
    );
    let neither = message("[[flow]]\nname = \"j\"\nkinesis_stream = \"s\"\n");
    assert!(
        neither.contains(".paths: the path list is empty") && neither.contains("journal = {"),
        "{neither}"
    );
    let bad = message(
        "[[flow]]\nname = \"j\"\njournal = { priority = \"loud\" }\nkinesis_stream = \"s\"\n",
    );
    assert!(
        bad.contains("flow[0] (\"j\").journal.priority: \"loud\" is not a priority"),
        "{bad}"
    );
}

#[test]
fn a_host_metrics_flow_has_no_other_source() {
    let health = parse(
        "[[flow]]\nname = \"health\"\nhost_metrics = { interval = \"30s\" }\nkinesis_stream = \"s\"\n",
    )
    .unwrap();
    let spec = health.flows[0]
        .host_metrics
        .as_ref()
        .expect("a host-metrics flow");
    assert_eq!(spec.interval, std::time::Duration::from_secs(30));
    let message = |text: &str| parse(text).unwrap_err().to_string();
    for other in ["paths = [\"/var/log/*.log\"]", "journal = {}"] {
        let both = message(&format!(
            "[[flow]]\nname = \"h\"\n{other}\nhost_metrics = {{}}\nkinesis_stream = \"s\"\n"
        ));
        assert!(
            both.contains("flow[0] (\"h\").host_metrics: host_metrics and paths"),
            "{both}"
        );
    }
    let bad = message(
        "[[flow]]\nname = \"h\"\nhost_metrics = { interval = \"0s\" }\nkinesis_stream = \"s\"\n",
    );
    assert!(
        bad.contains("flow[0] (\"h\").host_metrics.interval: 0ns is out of range"),
        "{bad}"
    );
}
