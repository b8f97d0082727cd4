//! Throttling, partial failures, 5xx and permission errors injected by a proxy in front of
//! kinesalite: nothing is lost, nothing is duplicated, only failed entries are resent.

mod common;

use common::proxy::{FaultPlan, FaultProxy};
use common::*;
use std::time::Duration;

#[test]
fn partial_failures_and_throttling_resend_only_failed_entries() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("flaky", 2);
    let plan = FaultPlan {
        fail_entry_every: 7,
        throttle_request_every: 5,
        error_500_every: 11,
        ..FaultPlan::default()
    };
    let proxy = FaultProxy::start(kinesis.port, plan);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "flaky", 0..20_000, 40);
    ws.config("[[flow]]\nname = \"flaky\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"flaky\"\nrate_limit = false\n");
    let mut agent = ws.start(&proxy.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(180));
    assert!(agent.stop().0.success());

    assert_exactly_once(&expected, &kinesis.read_lines("flaky"));
    let stats = proxy.stats();
    assert!(
        stats.entries_failed > 1000 && stats.requests_rejected > 5,
        "faults were injected: {stats:?}"
    );
    // Every entry that reached the proxy was stored once, failed on its own, or was in a
    // rejected request: had the agent resent whole batches after a partial failure, entries
    // would have been stored twice and the read-back above would show duplicates.
    assert_eq!(
        stats.entries_received,
        expected.len() as u64 + stats.entries_failed + stats.entries_in_rejected,
        "{stats:?}"
    );
    assert!(agent.log().contains("resending only the failed records"));
}

#[test]
fn access_denied_keeps_data_logs_once_and_recovers() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("denied", 1);
    let proxy = FaultProxy::start(
        kinesis.port,
        FaultPlan {
            deny_all: true,
            ..FaultPlan::default()
        },
    );
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "d", 0..1_000, 20);
    std::fs::write(
        ws.path("edgeship.toml"),
        format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"200ms\"\n[aws]\npermanent_error_backoff = \"1s\"\n[[flow]]\nname = \"d\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\nkinesis_stream = \"denied\"\nbatch_max_records = 100\n",
            ws.path("state").display(),
            file.display()
        ),
    )
    .unwrap();
    let mut agent = ws.start(&proxy.url);
    wait_for(Duration::from_secs(30), "several denied attempts", || {
        proxy.stats().requests_rejected >= 8
    });
    // The file is known (checkpointed where reading starts), but no offset moves past it.
    assert!(
        ws.checkpoints().values().all(|offset| *offset == 0),
        "nothing may be acknowledged while access is denied: {:?}",
        ws.checkpoints()
    );
    let log = agent.log();
    let error_lines = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("AccessDeniedException"))
        .count();
    assert_eq!(error_lines, 1, "one error per window, not a flood:\n{log}");
    assert!(
        log.contains("kinesis:PutRecords"),
        "the error says what to do:\n{log}"
    );

    proxy.set_plan(FaultPlan::default());
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(60));
    assert!(agent.stop().0.success());
    assert_exactly_once(&expected, &kinesis.read_lines("denied"));
}
