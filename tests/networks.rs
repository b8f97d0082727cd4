//! Reaching AWS through corporate networks: a TLS endpoint signed by a private CA (trusted with
//! `[aws] ca_file` or `AWS_CA_BUNDLE`, added to the system's roots) and a real CONNECT proxy
//! (PyPI proxy.py, with basic auth) in front of it, configured with `[aws] proxy` or
//! `HTTPS_PROXY`. The endpoint is a TLS relay (tests/support/tls_relay.py) in front of
//! kinesalite; shipped lines are read back from kinesalite with boto3. KPL with `shard_aware`
//! sends the SDK's ListShards through the same network path as the data.

mod common;

use common::tls::*;
use common::*;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// proxy.py on 127.0.0.1 requiring `user:s3cret`; its log records each CONNECT.
fn proxy(dir: &Path) -> (Running, u16, PathBuf) {
    let port = free_port();
    let log = dir.join("proxy.log");
    let child = venv_python()
        .args(["-m", "proxy", "--hostname", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args([
            "--basic-auth",
            "user:s3cret",
            "--num-workers",
            "1",
            "--num-acceptors",
            "1",
        ])
        .args(["--log-level", "INFO", "--log-file"])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start proxy.py (bash .ci/setup installs it)");
    wait_for(Duration::from_secs(30), "proxy.py to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (Running(child), port, log)
}

fn workspace(aws: &str) -> Workspace {
    let ws = Workspace::new();
    ws.config(&format!(
        "[aws]\n{aws}\n\n[[flow]]\nname = \"app\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\naggregation = \"kpl\"\nshard_aware = true\nrate_limit = false\n"
    ));
    ws
}

/// Ships 500 lines tagged `tag` to `url` (the endpoint, under some name) and checks them in
/// the stream.
fn ship_to(
    ws: &Workspace,
    endpoint: &PrivateEndpoint,
    url: &str,
    env: &[(&str, &str)],
    tag: &str,
) -> Agent {
    let log = ws.logs().join(format!("{tag}.log"));
    let lines = write_lines(&log, tag, 0..500, 40);
    let agent = ws.start_with_env(url, env);
    ws.wait_fully_checkpointed(&[log], Duration::from_secs(60));
    let got = lines_of(&endpoint.kinesis.tool(&["read-deagg", "s"]));
    let mine: Vec<String> = got.into_iter().filter(|l| l.starts_with(tag)).collect();
    assert_exactly_once(&lines, &mine);
    agent
}

fn ship(ws: &Workspace, endpoint: &PrivateEndpoint, env: &[(&str, &str)], tag: &str) -> Agent {
    ship_to(ws, endpoint, &endpoint.url, env, tag)
}

#[test]
fn a_private_ca_is_trusted_with_ca_file_or_aws_ca_bundle_and_its_absence_explained() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = private_endpoint(dir.path(), None);
    let untrusting = workspace("");
    write_lines(&untrusting.logs().join("x.log"), "x", 0..10, 10);
    let agent = untrusting.start(&endpoint.url);
    wait_for(Duration::from_secs(60), "the unknown-issuer error", || {
        agent.log().contains("UnknownIssuer")
    });
    assert!(
        agent
            .log()
            .contains("set ca_file under [aws] (or AWS_CA_BUNDLE)"),
        "{}",
        agent.log()
    );
    drop(agent);
    let bundle = workspace("");
    let ca = endpoint.ca.display().to_string();
    stop_cleanly(ship(
        &bundle,
        &endpoint,
        &[("AWS_CA_BUNDLE", &ca)],
        "bundle",
    ));
    let configured = workspace(&format!("ca_file = \"{ca}\""));
    stop_cleanly(ship(&configured, &endpoint, &[], "cafile"));
}

fn stop_cleanly(mut agent: Agent) {
    let (status, _) = agent.stop();
    assert!(status.success(), "{}", agent.log());
}

#[test]
fn a_connect_proxy_carries_every_request_and_its_password_stays_out_of_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = private_endpoint(dir.path(), None);
    let (_proxy, port, proxy_log) = proxy(dir.path());
    let ca = endpoint.ca.display().to_string();
    let proxy_url = format!("http://user:s3cret@127.0.0.1:{port}");
    // proxy.py logs a tunnel when it closes: count them after each agent stops.
    let connects = |target: &str| {
        std::fs::read_to_string(&proxy_log)
            .unwrap_or_default()
            .matches(&format!("CONNECT {target}:"))
            .count()
    };

    // NO_PROXY: this run reaches the endpoint as 127.0.0.1 (also in its certificate), directly.
    let bypass = workspace(&format!("ca_file = \"{ca}\""));
    let by_address = endpoint.url.replace("localhost", "127.0.0.1");
    let env = [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "127.0.0.1"),
    ];
    ship_to(&bypass, &endpoint, &by_address, &env, "direct").stop();

    let configured = workspace(&format!("ca_file = \"{ca}\"\nproxy = \"{proxy_url}\""));
    let mut agent = ship(&configured, &endpoint, &[], "cfg");
    agent.stop();
    wait_for(
        Duration::from_secs(30),
        "the tunnels in the proxy's log",
        || connects("localhost") >= 1,
    );
    let log = agent.log();
    assert!(log.contains("user:***@127.0.0.1"), "{log}");
    assert!(
        !log.contains("s3cret"),
        "the proxy password is in the log:\n{log}"
    );

    let before = connects("localhost");
    let from_env = workspace(&format!("ca_file = \"{ca}\""));
    let mut agent = ship(&from_env, &endpoint, &[("HTTPS_PROXY", &proxy_url)], "env");
    agent.stop();
    wait_for(Duration::from_secs(30), "HTTPS_PROXY's tunnels", || {
        connects("localhost") > before
    });
    assert!(!agent.log().contains("s3cret"));
    assert_eq!(
        connects("127.0.0.1"),
        0,
        "NO_PROXY=127.0.0.1 still went through the proxy"
    );

    let wrong = workspace(&format!(
        "ca_file = \"{ca}\"\nproxy = \"http://user:wrong@127.0.0.1:{port}\""
    ));
    write_lines(&wrong.logs().join("w.log"), "w", 0..10, 10);
    let agent = wrong.start(&endpoint.url);
    wait_for(Duration::from_secs(60), "the proxy-auth error", || {
        agent.log().contains("the proxy wants credentials")
    });
    assert!(!agent.log().contains("wrong@"), "{}", agent.log());
}
