//! `edgeship generate`: every format's output parses with edgeship's own parsers (read back
//! with `edgeship validate --sample`), the rate and duration hold, and rotations lose no line.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn generate(output: &Path, args: &[&str]) -> Command {
    let mut command = edgeship();
    command
        .arg("generate")
        .arg("--output")
        .arg(output)
        .args(args);
    command
}

#[test]
fn every_format_parses_with_its_parser() {
    let dir = tempfile::tempdir().unwrap();
    let template = r#"{"user":"u{{random.number(1,50)}}","at":"{{date.now}}","ip":"{{internet.ip}}","level":"{{random.arrayElement(["INFO","WARN"])}}","pad":"{{pad}}"}"#;
    let cases = [
        ("apache_combined", "format = \"apache_combined\""),
        ("apache_common", "format = \"apache_common\""),
        ("syslog", "format = \"syslog\""),
        ("syslog_rfc5424", "format = \"syslog_rfc5424\""),
        ("json", "format = \"json\""),
        ("csv", "format = \"csv\"\ncsv_header = true"),
        ("template", "format = \"json\""),
    ];
    for (format, parse) in cases {
        let log = dir.path().join(format!("{format}.log"));
        let status = generate(&log, &["--format", format, "--rate", "4000"])
            .args(["--duration", "50ms", "--seed", "5", "--line-bytes", "180"])
            .args(["--template", template])
            .status()
            .unwrap();
        assert!(status.success(), "{format}");
        let config = dir.path().join(format!("{format}.toml"));
        std::fs::write(
            &config,
            format!("[[flow]]\nname = \"g\"\npaths = [\"/var/log/*.log\"]\nkinesis_stream = \"s\"\n[flow.parse]\n{parse}\n"),
        )
        .unwrap();
        let output = edgeship()
            .args(["validate", "--config"])
            .arg(&config)
            .arg("--sample")
            .arg(&log)
            .args(["--lines", "300"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{format}: {stdout}");
        assert!(
            !stdout.contains("FAILS") && !stdout.contains("unparsed"),
            "{format}: {stdout}"
        );
        assert_eq!(
            stdout.matches("  sends (up to byte").count(),
            200,
            "{format}: {stdout}"
        );
    }
}

#[test]
fn the_rate_holds_over_the_duration_and_rotations_lose_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let started = Instant::now();
    let mut child = generate(
        &log,
        &["--format", "json", "--rate", "200", "--duration", "3s"],
    )
    .args(["--rotate-every", "1s"])
    .spawn()
    .unwrap();
    let count = || -> usize {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .map(|t| t.lines().count())
            .sum()
    };
    std::thread::sleep(Duration::from_millis(1500));
    let midway = count();
    assert!(child.wait().unwrap().success());
    let took = started.elapsed();
    assert!(
        (225..=375).contains(&midway),
        "{midway} lines after 1.5 s at 200/s"
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let mut lines = Vec::new();
    for name in ["app.log.1", "app.log.2", "app.log"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    assert_eq!(lines.len(), 600);
    let times: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"].to_string())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted, times,
        "lines out of order or repeated across rotations"
    );
}
