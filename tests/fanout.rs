//! Fan-out read once: one flow ships a file to a kinesalite stream (KPL) and a moto Firehose
//! (gzip lines) from one read; each destination is read back with a third-party tool
//! (`aws-kinesis-agg`, boto3's S3) and checked line by line, and the file's checkpoint follows
//! the slower destination.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

const FLOW: &str = r#"
[[flow]]
name = "app"
paths = ["$LOGS/app.log"]
start_at = "beginning"
batch_max_age = "200ms"

[[flow.destination]]
kinesis_stream = "live"
aggregation = "kpl"

[[flow.destination]]
name = "archive"
firehose_stream = "archive-fh"
compression = "gzip"
[flow.destination.aws]
endpoint_url = "$MOTO"
"#;

fn get_metrics(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn series(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}")) as u64
}

/// The final summary line of one flow or destination.
fn final_line(agent: &Agent, flow: &str) -> String {
    let needle = format!("final: flow={flow} ");
    let log = agent.log();
    log.lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no {needle:?} in\n{log}"))
        .to_owned()
}

#[test]
fn one_read_feeds_a_stream_and_a_firehose_each_with_its_own_batching() {
    let (kinesis, moto) = (Emulator::kinesalite(), Emulator::moto());
    kinesis.create_stream("live", 2);
    moto.tool(&["create-firehose", "archive-fh", "archive-bucket"]);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "app", 0..20_000, 60);
    let port = free_port();
    ws.config(&format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n{}",
        FLOW.replace("$MOTO", &moto.url)
    ));
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    let metrics = get_metrics(port);
    assert!(agent.stop().0.success(), "{}", agent.log());

    assert_exactly_once(&expected, &lines_of(&kinesis.tool(&["read-deagg", "live"])));
    let archived = moto.tool(&["read-bucket-inflated", "archive-bucket"]);
    assert_exactly_once(&expected, &lines_of(&archived));
    // Read once: the flow read the file's bytes and lines once, not once per destination.
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(
        series(&metrics, "edgeship_read_bytes_total{flow=\"app\"}"),
        size
    );
    // Metrics and status per destination: the first as the flow, the others as FLOW/NAME.
    for flow in ["app", "app/archive"] {
        let delivered = format!("edgeship_lines_delivered_total{{flow=\"{flow}\"}}");
        assert_eq!(series(&metrics, &delivered), 20_000, "{flow}");
        let line = final_line(&agent, flow);
        assert!(line.contains(" lines_delivered=20000 "), "{line}");
        assert!(line.contains(" lines_pending=0 "), "{line}");
    }
    let (kpl, archive) = (final_line(&agent, "app"), final_line(&agent, "app/archive"));
    assert!(kpl.contains(" lines_read=20000 "), "{kpl}");
    assert!(
        archive.contains("compression_ratio=") && !archive.contains("compression_ratio=1.00"),
        "the archive is compressed: {archive}"
    );
}

#[test]
fn the_checkpoint_waits_for_the_destination_that_cannot_deliver_and_a_restart_resends_to_it() {
    let (kinesis, moto) = (Emulator::kinesalite(), Emulator::moto());
    kinesis.create_stream("live", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "app", 0..5_000, 40);
    // The Firehose stream does not exist yet: that destination keeps failing.
    let text = FLOW.replace("$MOTO", &moto.url);
    ws.config(&format!(
        "shutdown_timeout = \"2s\"\n[aws]\npermanent_error_backoff = \"1s\"\n{text}"
    ));
    let agent_config = std::fs::read_to_string(ws.path("edgeship.toml")).unwrap();
    // `ws.config` already wrote shutdown_timeout: keep only the later one.
    std::fs::write(
        ws.path("edgeship.toml"),
        agent_config.replacen("shutdown_timeout = \"20s\"\n", "", 1),
    )
    .unwrap();
    let mut agent = ws.start(&kinesis.url);
    wait_for(
        Duration::from_secs(60),
        "the stream to get every line",
        || {
            kinesis
                .tool(&["read-deagg", "live"])
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                >= 5_000
        },
    );
    std::thread::sleep(Duration::from_secs(2)); // several checkpoint intervals
    let held = ws.checkpoints().get(&file).copied().unwrap_or(0);
    assert_eq!(
        held, 0,
        "nothing reached the Firehose: the checkpoint stays at 0"
    );
    agent.stop();

    moto.tool(&["create-firehose", "archive-fh", "archive-bucket"]);
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    let archived = moto.tool(&["read-bucket-inflated", "archive-bucket"]);
    assert_exactly_once(&expected, &lines_of(&archived));
    // The stream got them again after the restart: at least once, never lost.
    let streamed = lines_of(&kinesis.tool(&["read-deagg", "live"]));
    let counts = tally(&streamed);
    assert!(
        expected.iter().all(|l| counts.get(l.as_str()) == Some(&2)),
        "every line twice in the stream (before and after the restart)"
    );
}
