//! `edgeship check` against kinesalite (Streams) and moto (Firehose): a stream that exists, one
//! that does not, a delivery stream, and no credentials at all; nothing is written.

mod common;

use common::*;
use std::process::Output;
use std::time::Duration;

fn check(ws: &Workspace, env: &[(&str, String)], removed: &[&str]) -> Output {
    let mut command = edgeship();
    command
        .args(["check", "--config"])
        .arg(ws.path("edgeship.toml"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    for name in removed {
        command.env_remove(name);
    }
    command.output().unwrap()
}

const FLOWS: &str = "[[flow]]\nname = \"app\"\npaths = [\"$LOGS/app.log\"]\nkinesis_stream = \"s\"\n\n[[flow]]\nname = \"typo\"\npaths = [\"$LOGS/app.log\"]\nkinesis_stream = \"no-such-stream\"\n\n[[flow]]\nname = \"archive\"\npaths = [\"$LOGS/app.log\"]\nfirehose_stream = \"logs-fh\"\n[flow.aws]\nendpoint_url = \"$MOTO\"\n";

#[test]
fn check_describes_each_flows_stream_and_says_what_to_fix_without_writing() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("s", 2);
    let moto = Emulator::moto();
    moto.tool(&["create-firehose", "logs-fh", "fh-bucket"]);
    let ws = Workspace::new();
    let moto_url = format!("http://127.0.0.1:{}", moto.port);
    ws.config(&FLOWS.replace("$MOTO", &moto_url));
    let output = check(&ws, &aws_env(&kinesis.url), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    for expected in [
        "flow \"app\" -> kinesis stream \"s\" (region us-east-1)",
        "  ok   credentials: access key testing",
        "  ok   kinesis stream \"s\": ACTIVE, 2 open shards, provisioned",
        "  note kinesis:PutRecords is not tried (it would write): the policy must allow it on arn:aws:kinesis:",
        "  FAIL kinesis stream \"no-such-stream\" does not exist in region us-east-1 of this account: create it, or fix the stream name or the region",
        "  ok   firehose stream \"logs-fh\": ACTIVE",
        "1 of 3 flows cannot ship",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(stderr.contains("1 of 3 flows cannot ship"), "{stderr}");
    assert!(
        kinesis.read_lines("s").is_empty(),
        "check wrote to the stream"
    );
}

#[test]
fn without_credentials_check_leads_with_what_to_do() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("s", 1);
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"app\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\n");
    let mut env = aws_env(&kinesis.url);
    let nowhere = ws.path("no-aws-files");
    env.push(("AWS_CONFIG_FILE", nowhere.display().to_string()));
    env.push(("AWS_SHARED_CREDENTIALS_FILE", nowhere.display().to_string()));
    let output = check(&ws, &env, &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("FAIL credentials"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.starts_with("  FAIL credentials: no AWS credentials were found: give the service some (AWS_ACCESS_KEY_ID"),
        "{line}"
    );

    // `run` says it the same way: the hint first, the chain's account after it.
    write_lines(&ws.logs().join("app.log"), "x", 0..5, 10);
    let nowhere = nowhere.display().to_string();
    let files = [
        ("AWS_CONFIG_FILE", nowhere.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", nowhere.as_str()),
    ];
    let agent = ws.start_with_env_without(
        &kinesis.url,
        &files,
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    );
    wait_for(Duration::from_secs(30), "the credentials error", || {
        agent
            .log()
            .contains("kinesis stream \"s\": no AWS credentials were found: give the service some")
    });
    assert!(
        agent
            .log()
            .contains("cannot list the stream's shards (no AWS credentials were found"),
        "{}",
        agent.log()
    );
}
