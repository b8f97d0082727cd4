//! The Prometheus endpoint's content after shipping a known file, and `edgeship status`.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

fn get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The value of one series, e.g. `edgeship_lines_read_total{flow="m"}`.
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[test]
fn metrics_endpoint_reports_a_shipped_file_and_status_shows_no_lag() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("m", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("known.log");
    write_lines(&file, "m", 0..1_000, 30);
    let port = free_port();
    std::fs::write(
        ws.path("edgeship.toml"),
        format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"100ms\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n[[flow]]\nname = \"m\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\nkinesis_stream = \"m\"\n",
            ws.path("state").display(),
            file.display()
        ),
    )
    .unwrap();
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    wait_for(
        Duration::from_secs(10),
        "the checkpoint in the metrics",
        || {
            let metrics = get(port, "/metrics");
            value(&metrics, "edgeship_lag_bytes{flow=\"m\"}") == 0.0
                && value(&metrics, "edgeship_lines_delivered_total{flow=\"m\"}") == 1000.0
        },
    );

    let response = get(port, "/metrics");
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("text/plain; version=0.0.4"),
        "{response}"
    );
    let flow = "{flow=\"m\"}";
    assert_eq!(
        value(&response, &format!("edgeship_lines_read_total{flow}")),
        1000.0
    );
    assert_eq!(
        value(&response, &format!("edgeship_lines_delivered_total{flow}")),
        1000.0
    );
    assert_eq!(
        value(&response, &format!("edgeship_records_sent_total{flow}")),
        1000.0
    );
    assert_eq!(
        value(&response, &format!("edgeship_read_bytes_total{flow}")),
        std::fs::metadata(&file).unwrap().len() as f64
    );
    assert_eq!(
        value(
            &response,
            &format!("edgeship_put_payload_units_total{flow}")
        ),
        1000.0
    );
    assert_eq!(value(&response, &format!("edgeship_lag_bytes{flow}")), 0.0);
    assert_eq!(
        value(&response, &format!("edgeship_lag_seconds{flow}")),
        0.0
    );
    assert_eq!(
        value(&response, &format!("edgeship_files_tracked{flow}")),
        1.0
    );
    assert_eq!(
        value(&response, &format!("edgeship_entries_retried_total{flow}")),
        0.0
    );
    assert!(value(&response, "edgeship_checkpoint_age_seconds") < 5.0);
    assert!(value(&response, "edgeship_process_resident_memory_bytes") > 1e6);
    assert!(value(&response, "edgeship_process_open_fds") >= 3.0);
    assert!(response.contains("# TYPE edgeship_lines_read_total counter"));
    assert!(get(port, "/nope").starts_with("HTTP/1.1 404"));

    let status = edgeship()
        .args(["status", "--config"])
        .arg(ws.path("edgeship.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let row = text
        .lines()
        .find(|l| l.contains("known.log"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.starts_with("m ") && row.contains(" 0 B "),
        "offset = size, no lag: {row}"
    );
    assert!(text.contains("m: 1000 lines shipped"), "{text}");
    assert!(agent.stop().0.success());
}

#[test]
fn a_second_agent_cannot_reuse_a_metrics_port_and_says_so() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let ws = Workspace::new();
    std::fs::write(
        ws.path("edgeship.toml"),
        format!("state_dir = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n[[flow]]\nname = \"m\"\npaths = [\"/nonexistent/*.log\"]\nkinesis_stream = \"m\"\n", ws.path("state").display()),
    )
    .unwrap();
    assert_run_refused(&ws, "cannot listen for metrics");
    drop(busy);
}

/// While AWS is unreachable the tailer stops reading (backpressure), yet `lag_bytes` follows
/// the files' growth and `lag_seconds` the age of what waits; both return to 0 once the
/// outage ends and everything is delivered.
#[test]
fn lag_follows_an_outage_and_returns_to_zero() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("m", 1);
    let gate = common::gate::Gate::start(kinesis.port);
    let ws = Workspace::new();
    let file = ws.logs().join("busy.log");
    write_lines(&file, "before", 0..100, 100);
    let port = free_port();
    std::fs::write(
        ws.path("edgeship.toml"),
        format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"100ms\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n[[flow]]\nname = \"m\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\nkinesis_stream = \"m\"\nscan_interval = \"500ms\"\nmax_in_flight_bytes = \"2MiB\"\nbatch_max_bytes = \"1MiB\"\nrate_limit = false\n",
            ws.path("state").display(),
            file.display()
        ),
    )
    .unwrap();
    let mut agent = ws.start(&gate.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    let series = |name: &str| value(&get(port, "/metrics"), &format!("{name}{{flow=\"m\"}}"));
    gate.down();
    let mut written = write_lines(&file, "during", 0..50_000, 100);
    let behind = std::fs::metadata(&file).unwrap().len() - ws.checkpoints()[&file];
    wait_for(
        Duration::from_secs(30),
        "lag_bytes to reach what was written",
        || series("edgeship_lag_bytes") >= behind as f64,
    );
    // Written while reading is blocked: only a scan can see it.
    written.extend(write_lines(&file, "blocked", 0..1_000, 100));
    let behind = std::fs::metadata(&file).unwrap().len() - ws.checkpoints()[&file];
    wait_for(
        Duration::from_secs(30),
        "lag_bytes to follow the growth",
        || series("edgeship_lag_bytes") >= behind as f64,
    );
    wait_for(Duration::from_secs(30), "lag_seconds to grow", || {
        series("edgeship_lag_seconds") >= 2.0
    });
    gate.up();
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    wait_for(Duration::from_secs(30), "the lag to return to 0", || {
        series("edgeship_lag_bytes") == 0.0 && series("edgeship_lag_seconds") == 0.0
    });
    assert!(agent.stop().0.success());
    assert_eq!(written.len(), 51_000);
}
