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
    assert_eq!(flow.limits.max_request_bytes, 5 * 1024 * 1024);
    assert_eq!(flow.limits.max_record_bytes, 1024 * 1024);
    assert_eq!(flow.limits.max_records, 500);
    assert_eq!(config.checkpoint_interval, Duration::from_secs(1));
    assert_eq!(config.aws.request_timeout, Duration::from_secs(60));
    assert!(flow.matches(Path::new("/var/log/nginx/access.log.1")));
    assert!(!flow.matches(Path::new("/var/log/nginx/access.log.2.gz")));
}

#[test]
fn firehose_defaults_to_packed_lines_within_its_fixed_limits() {
    let config =
        parse("[[flow]]\nname = \"f\"\npaths = [\"/l/*.log\"]\nfirehose_stream = \"fh\"\n")
            .unwrap();
    let flow = &config.flows[0];
    assert_eq!(flow.aggregation, Aggregation::Lines);
    assert_eq!(flow.limits.max_request_bytes, 4 * 1024 * 1024);
    assert_eq!(flow.limits.max_record_bytes, 1000 * 1024);
    assert!(parse("[[flow]]\nname = \"f\"\npaths = [\"/l/*.log\"]\nfirehose_stream = \"fh\"\nbatch_max_bytes = \"5MiB\"\n").is_err());
}

#[test]
fn sizes_and_durations_accept_human_units() {
    let config = parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\nbatch_max_bytes = \"10MiB\"\nrecord_max_bytes = 2097152\nbatch_max_age = \"250ms\"\n").unwrap();
    let limits = &config.flows[0].limits;
    assert_eq!(limits.max_request_bytes, 10 * 1024 * 1024);
    assert_eq!(limits.max_record_bytes, 2 * 1024 * 1024);
    assert_eq!(limits.max_age, Duration::from_millis(250));
    assert_eq!(limits.max_line_bytes(), 2 * 1024 * 1024 - 257);
}

#[test]
fn exclude_without_slash_matches_names_and_with_slash_whole_paths() {
    let config = parse("[[flow]]\nname = \"k\"\npaths = [\"/l/**/*.log\"]\nexclude = [\"debug-*\", \"/l/tmp/**\"]\nkinesis_stream = \"s\"\n").unwrap();
    let flow = &config.flows[0];
    assert!(flow.matches(Path::new("/l/a/b/c.log")));
    assert!(!flow.matches(Path::new("/l/a/debug-1.log")));
    assert!(!flow.matches(Path::new("/l/tmp/x/y.log")));
    assert!(!flow.matches(Path::new("/l/a/c.txt")));
}

#[test]
fn single_star_does_not_cross_directories() {
    let config =
        parse("[[flow]]\nname = \"k\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\n").unwrap();
    assert!(!config.flows[0].matches(Path::new("/l/sub/a.log")));
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
