//! A Firehose flow against moto server (Direct PUT into its S3), read back with boto3.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn firehose_flow_delivers_newline_terminated_lines_exactly_once() {
    let moto = Emulator::moto();
    moto.tool(&["create-firehose", "logs-fh", "fh-bucket"]);
    let ws = Workspace::new();
    let files = [ws.logs().join("one.log"), ws.logs().join("two.log")];
    let mut expected = write_lines(&files[0], "one", 0..6_000, 80);
    expected.extend(write_lines(&files[1], "two", 0..4_000, 150));
    ws.config("[[flow]]\nname = \"fh\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nfirehose_stream = \"logs-fh\"\n");
    let mut agent = ws.start(&moto.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    let body = moto.tool(&["read-bucket", "fh-bucket"]);
    assert!(
        body.ends_with(b"\n"),
        "every packed line ends with a newline"
    );
    assert_exactly_once(&expected, &lines_of(&body));
    // Packed: far fewer Firehose records than lines (each record is billed in 5 KB steps).
    assert!(
        agent.final_counter("records_delivered") < 100,
        "{}",
        agent.log()
    );
}
