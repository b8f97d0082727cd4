//! SIGTERM: partial batches are flushed and acknowledged before exit; with AWS unreachable the
//! agent still exits within `shutdown_timeout`, and nothing unacknowledged is checkpointed.

mod common;

use common::*;
use std::time::Duration;

fn config(ws: &Workspace, shutdown_timeout: &str, stream: &str, batch_max_age: &str) {
    std::fs::write(
        ws.path("edgeship.toml"),
        format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"10s\"\nshutdown_timeout = \"{shutdown_timeout}\"\n[[flow]]\nname = \"s\"\npaths = [\"{}/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"{stream}\"\nbatch_max_age = \"{batch_max_age}\"\nscan_interval = \"100ms\"\n",
            ws.path("state").display(),
            ws.logs().display()
        ),
    )
    .unwrap();
}

#[test]
fn sigterm_flushes_partial_batches_and_a_restart_sends_no_duplicates() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("s", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "s", 0..123, 10);
    config(&ws, "20s", "s", "1h");
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(20), "the lines to be read", || {
        agent.log().contains("tailing file")
    });
    std::thread::sleep(Duration::from_millis(500));
    // batch_max_age is an hour and checkpoint_interval 10 s: only the shutdown path can deliver
    // and checkpoint these lines now.
    let (status, took) = agent.stop();
    assert!(status.success(), "{status:?}\n{}", agent.log());
    assert!(took < Duration::from_secs(10), "clean stop took {took:?}");
    assert_eq!(
        ws.checkpoints().get(&file),
        Some(&std::fs::metadata(&file).unwrap().len())
    );
    assert_exactly_once(&expected, &kinesis.read_lines("s"));

    let mut again = ws.start(&kinesis.url);
    std::thread::sleep(Duration::from_secs(2));
    assert!(again.stop().0.success());
    assert_eq!(again.final_counter("lines_read"), 0);
    assert_exactly_once(&expected, &kinesis.read_lines("s"));
}

#[test]
fn unreachable_aws_exits_after_shutdown_timeout_without_checkpointing() {
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    write_lines(&file, "u", 0..50, 10);
    // Sent at once, so that the stop finds a delivery in flight.
    config(&ws, "2s", "nowhere", "100ms");
    let closed_port = free_port();
    let mut agent = ws.start(&format!("http://127.0.0.1:{closed_port}"));
    // A fact, not a pause: a request has failed, so a delivery is in flight at the stop (under
    // load, half a second was sometimes not enough to read the file and try a request).
    wait_for(Duration::from_secs(20), "a request to fail", || {
        agent.log().contains("retrying with backoff")
    });
    let (status, took) = agent.stop();
    assert!(status.success(), "{status:?}\n{}", agent.log());
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} with shutdown_timeout = 2s"
    );
    assert!(agent.log().contains("shutdown_timeout reached"));
    assert!(
        agent
            .log()
            .contains("a second SIGTERM or SIGINT abandons them now"),
        "says how to stop at once"
    );
    let offset = ws.checkpoints().get(&file).copied().unwrap_or(0);
    assert_eq!(offset, 0, "undelivered lines must not be checkpointed");
}
