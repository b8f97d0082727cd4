//! Credential sources, each checked by *which* credentials signed the requests: the TLS relay
//! in front of kinesalite records the access key id of every Authorization header
//! (`common::tls::signed`).
//! - `[aws.iot]`: a mutual-TLS credential endpoint (tests/support/iot_credentials.py, device
//!   certificate from the test CA) issuing short-lived credentials, refreshed before expiry;
//!   a wrong role alias and a key readable by others reported.
//! - Greengrass's token exchange service through `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN` (tests/support/container_credentials.py).

mod common;

use common::tls::*;
use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The data path refreshes credentials this long before they expire
/// (`REFRESH_BEFORE_EXPIRY` in src/sink/wire/credentials.rs).
const REFRESH_BEFORE_EXPIRY_SECS: u64 = 300;

/// The IoT endpoint, issuing credentials that the agent must refresh after ~`fresh_secs`.
fn iot_endpoint(dir: &Path, fresh_secs: u64) -> (Running, String) {
    let mut child = venv_python()
        .arg(repo().join("tests/support/iot_credentials.py"))
        .arg(dir.join("ca.pem"))
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .arg("edgeship-alias")
        .arg((REFRESH_BEFORE_EXPIRY_SECS + fresh_secs).to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = listening_port(&mut child);
    (Running(child), format!("localhost:{port}"))
}

fn iot_config(dir: &Path, endpoint: &str, alias: &str) -> String {
    let d = dir.display();
    format!(
        "[aws]\nca_file = \"{d}/ca.pem\"\n[aws.iot]\ncredentials_endpoint = \"{endpoint}\"\nrole_alias = \"{alias}\"\nthing_name = \"gateway-7\"\ncert_file = \"{d}/device.pem\"\nkey_file = \"{d}/device.key\"\nca_file = \"{d}/ca.pem\"\n\n[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\naggregation = \"kpl\"\nshard_aware = true\nrate_limit = false\nbatch_max_age = \"200ms\"\n"
    )
}

/// The access key ids that signed requests, in order.
fn signers(record: &Path) -> Vec<String> {
    signed(record).into_iter().map(|(key, _)| key).collect()
}

#[test]
fn iot_device_certificates_give_short_lived_credentials_refreshed_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("signers.txt");
    let endpoint = private_endpoint(dir.path(), Some(&record));
    let (_iot, iot_url) = iot_endpoint(dir.path(), 3);
    let key = dir.path().join("device.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ws = Workspace::new();
    ws.config(&iot_config(dir.path(), &iot_url, "edgeship-alias"));
    let log = ws.logs().join("app.log");
    let mut agent = ws.start(&endpoint.url);
    let mut written = Vec::new();
    let mut batch = 0;
    // One set for the SDK's calls (ListShards), one for the data path, and the data path's
    // refresh a few seconds later: three distinct signers.
    wait_for(
        Duration::from_secs(60),
        "refreshed IoT credentials used",
        || {
            written.extend(write_lines(&log, "iot", batch * 50..(batch + 1) * 50, 20));
            batch += 1;
            std::thread::sleep(Duration::from_millis(500));
            signers(&record).iter().collect::<BTreeSet<_>>().len() >= 3
        },
    );
    ws.wait_fully_checkpointed(std::slice::from_ref(&log), Duration::from_secs(60));
    agent.stop();
    let used: BTreeSet<String> = signers(&record).into_iter().collect();
    assert!(
        used.iter().all(|k| k.starts_with("ASIAIOT")),
        "requests signed with other credentials than AWS IoT's (the environment has AWS_ACCESS_KEY_ID=testing): {used:?}"
    );
    let got = lines_of(&endpoint.kinesis.tool(&["read-deagg", "s"]));
    assert_exactly_once(&written, &got);
    assert!(agent.log().contains("AWS credentials come from AWS IoT"));
    assert!(!agent.log().contains("readable by other users"));
}

#[test]
fn a_wrong_role_alias_and_a_key_readable_by_others_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = private_endpoint(dir.path(), None);
    let (_iot, iot_url) = iot_endpoint(dir.path(), 3600);
    let key = dir.path().join("device.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ws = Workspace::new();
    ws.config(&iot_config(dir.path(), &iot_url, "no-such-alias"));
    write_lines(&ws.logs().join("app.log"), "x", 0..10, 10);
    let agent = ws.start(&endpoint.url);
    wait_for(Duration::from_secs(60), "the unknown-alias error", || {
        agent
            .log()
            .contains("role alias \"no-such-alias\" does not exist")
    });
    assert!(
        agent.log().contains("readable by other users"),
        "{}",
        agent.log()
    );
}

/// Greengrass components get credentials from the nucleus's token exchange service through
/// the standard container variables; the SDK's container provider reads them.
#[test]
fn greengrass_token_exchange_credentials_through_the_container_variables() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("signers.txt");
    let endpoint = private_endpoint(dir.path(), Some(&record));
    let mut tes = venv_python()
        .arg(repo().join("tests/support/container_credentials.py"))
        .arg("greengrass-token")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = listening_port(&mut tes);
    let _tes = Running(tes);
    let uri = format!("http://127.0.0.1:{port}/2016-11-01/credentialprovider/");
    let ws = Workspace::new();
    ws.config(&format!(
        "[aws]\nca_file = \"{}/ca.pem\"\n\n[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\nrate_limit = false\n",
        dir.path().display()
    ));
    let log = ws.logs().join("app.log");
    let lines = write_lines(&log, "tes", 0..300, 20);
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "greengrass-token"),
    ];
    let mut agent = ws.start_with_env_without(
        &endpoint.url,
        &env,
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    );
    ws.wait_fully_checkpointed(std::slice::from_ref(&log), Duration::from_secs(60));
    agent.stop();
    let used: BTreeSet<String> = signers(&record).into_iter().collect();
    assert!(
        !used.is_empty() && used.iter().all(|k| k.starts_with("ASIATES")),
        "{used:?}"
    );
    assert_exactly_once(&lines, &endpoint.kinesis.read_lines("s"));
}

/// `run` without a region, the instance-metadata endpoint pointed at a listener here.
fn run_without_region(ws: &Workspace, imds_port: u16, keys: bool) -> std::process::Output {
    let nowhere = ws.path("no-aws-files");
    let mut command = edgeship();
    command
        .args(["run", "--config"])
        .arg(ws.path("edgeship.toml"))
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{imds_port}"),
        )
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere);
    for name in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        command.env_remove(name);
    }
    if keys {
        command
            .env("AWS_ACCESS_KEY_ID", "AKIDSTATIC")
            .env("AWS_SECRET_ACCESS_KEY", "secret");
    }
    command.output().unwrap()
}

/// Static keys in the environment mean a machine outside AWS: the missing region is said at
/// once, without asking instance metadata (which, off EC2, only times out).
#[test]
fn with_static_keys_a_missing_region_is_reported_without_asking_instance_metadata() {
    let imds = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    imds.set_nonblocking(true).unwrap();
    let port = imds.local_addr().unwrap().port();
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nkinesis_stream = \"s\"\n");
    let asked = || imds.accept().is_ok();

    let output = run_without_region(&ws, port, true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("no AWS region is configured"), "{stderr}");
    assert!(!asked(), "instance metadata was asked despite static keys");

    // The control: without keys the SDK's chain does ask it (this listener never answers).
    let output = run_without_region(&ws, port, false);
    assert_eq!(output.status.code(), Some(78));
    assert!(asked(), "the test's metadata endpoint was not used");
}
