//! `[flow.aws]`: one flow ships to another region, endpoint and account through a role assumed
//! with moto's STS, beside a flow using `[aws]`; a reload changing only `[flow.aws]` restarts
//! that flow with new clients. Each TLS relay records which access key id and region signed
//! the requests it saw (`common::tls::signed`).

mod common;

use common::tls::*;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::111122223333:role/log-writer";

fn config(dir: &Path, there: &str, flow_aws: &str) -> String {
    format!(
        "[aws]\nca_file = \"{}/ca.pem\"\n\n[[flow]]\nname = \"here\"\npaths = [\"$LOGS/here.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\nrate_limit = false\nbatch_max_age = \"200ms\"\n\n[[flow]]\nname = \"there\"\npaths = [\"$LOGS/there.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\naggregation = \"kpl\"\nshard_aware = true\nrate_limit = false\nbatch_max_age = \"200ms\"\n[flow.aws]\nendpoint_url = \"{there}\"\nregion = \"eu-west-1\"\n{flow_aws}",
        dir.display()
    )
}

/// The distinct (key id, region) pairs that signed requests, from the `skip`-th on.
fn signers(record: &Path, skip: usize) -> BTreeSet<(String, String)> {
    signed(record).into_iter().skip(skip).collect()
}

#[test]
fn a_flow_ships_to_another_region_and_account_as_an_assumed_role_changed_by_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (here_record, there_record) = (dir.path().join("here.txt"), dir.path().join("there.txt"));
    let here = private_endpoint(dir.path(), Some(&here_record));
    let there = another_endpoint(dir.path(), Some(&there_record));
    let sts = Emulator::moto();
    let sts_url = format!("http://127.0.0.1:{}", sts.port);
    let ws = Workspace::new();
    let role = format!("role_arn = \"{ROLE}\"\nexternal_id = \"ext-7\"\n");
    ws.config(&config(dir.path(), &there.url, &role));
    let (here_log, there_log) = (ws.logs().join("here.log"), ws.logs().join("there.log"));
    let mut here_lines = write_lines(&here_log, "here", 0..300, 20);
    let mut there_lines = write_lines(&there_log, "there", 0..300, 20);
    let agent = ws.start_with_env(&here.url, &[("AWS_ENDPOINT_URL_STS", &sts_url)]);

    ws.wait_fully_checkpointed(
        &[here_log.clone(), there_log.clone()],
        Duration::from_secs(60),
    );

    let testing = |region: &str| ("testing".to_owned(), region.to_owned());
    assert_eq!(
        signers(&here_record, 0),
        BTreeSet::from([testing("us-east-1")]),
        "the flow without a role signs with [aws]'s credentials and region"
    );
    let assumed = signers(&there_record, 0);
    assert!(
        !assumed.is_empty()
            && assumed
                .iter()
                .all(|(key, region)| key.starts_with("ASIA") && region == "eu-west-1"),
        "the other flow signs as the role moto issued, for eu-west-1: {assumed:?}"
    );
    assert!(agent.log().contains("signed as an assumed role"));

    // Dropping the role (region and endpoint stay) restarts only that flow, now with the
    // environment's keys.
    let seen = signed(&there_record).len();
    ws.config(&config(dir.path(), &there.url, ""));
    agent.signal("HUP");
    wait_for(Duration::from_secs(30), "the reload", || {
        agent.log().contains("configuration reloaded")
    });
    assert!(agent.log().contains("flow unchanged, still running"));
    here_lines.extend(write_lines(&here_log, "here", 300..400, 20));
    there_lines.extend(write_lines(&there_log, "there", 300..400, 20));
    ws.wait_fully_checkpointed(&[here_log, there_log], Duration::from_secs(60));
    assert_eq!(
        signers(&there_record, seen),
        BTreeSet::from([testing("eu-west-1")])
    );
    assert_eq!(
        signers(&here_record, 0),
        BTreeSet::from([testing("us-east-1")])
    );
    let mut agent = agent;
    agent.stop();
    assert_exactly_once(&here_lines, &here.kinesis.read_lines("s"));
    assert_exactly_once(
        &there_lines,
        &lines_of(&there.kinesis.tool(&["read-deagg", "s"])),
    );
}

#[test]
fn validate_shows_what_a_flow_changes_and_refuses_a_role_option_without_a_role() {
    let dir = tempfile::tempdir().unwrap();
    let role = format!("role_arn = \"{ROLE}\"\nexternal_id = \"ext-7\"\n");
    let logs = dir.path().display().to_string();
    let text = config(dir.path(), "https://kinesis.eu-west-1.amazonaws.com", &role)
        .replace("$LOGS", &logs);
    let output = validate(&text);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("aws: region eu-west-1, endpoint https://kinesis.eu-west-1.amazonaws.com, assumes {ROLE} as session \"edgeship\", with external_id, the rest from [aws]")),
        "{stdout}"
    );
    let text = config(dir.path(), "https://x", "session_name = \"s\"\n").replace("$LOGS", &logs);
    let output = validate(&text);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(
            "flow[1] (\"there\").aws.role_arn: external_id or session_name is set without role_arn"
        ),
        "{stderr}"
    );
}
