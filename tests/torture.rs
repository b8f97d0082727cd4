//! Torture tests: the real `logrotate` rotating (and deleting) a log that a writer keeps
//! appending to, while the network to kinesalite goes down (connections refused, see
//! [`common::gate`]), the agent is restarted or killed, its checkpoint is corrupted or its state
//! disk fills up. Each run counts the lines written, delivered, duplicated and missing, and
//! checks the one promise: every line arrives, or its bytes are reported lost, exactly.
//!
//! CI runs short variants. `EDGESHIP_TORTURE_LONG=1` runs them at full length (the measured
//! scenario: 500 lines/s, a rotation every 5 s with `rotate 2`, a 75 s outage with a restart
//! 60 s in).

mod common;
#[path = "torture/harness.rs"]
mod harness;

use harness::*;
use std::time::Duration;

#[test]
fn outage_with_deleting_rotations_loses_nothing() {
    run(&outage("t-outage")).assert_complete();
}

#[test]
fn restart_during_an_outage_with_deleting_rotations_loses_nothing() {
    run(&Scenario {
        restart_after: Some(secs(12, 60)),
        ..outage("t-restart")
    })
    .assert_complete();
}

/// A tiny `max_held_bytes`: deleted files move into the spool while the network is down, the
/// disk they pin stays near the limit, and nothing is lost, across a restart too.
#[test]
fn a_small_hold_spools_deleted_files_while_running_and_loses_nothing() {
    let outcome = run(&Scenario {
        restart_after: Some(secs(12, 60)),
        settings: "max_held_bytes = \"200KiB\"",
        ..outage("t-hold")
    });
    outcome.assert_complete();
    assert!(outcome.spooled, "files were spooled");
    // The hold is checked once per scan_interval (1 s); each file holds ~2 s of lines
    // (~100 KB), so up to two files past the limit can be pending when sampled.
    assert!(
        outcome.peak_held <= 200 * 1024 + 2 * 110_000,
        "deleted files pinned {} bytes",
        outcome.peak_held
    );
}

/// 2 MB/s of poorly compressible lines during an outage, deleted by rotations, and a restart:
/// more than the smallest spool (16 MiB) holds. The newest data is kept; what did not fit is
/// reported lost with its byte ranges, exactly.
#[test]
fn a_full_spool_reports_exactly_what_it_could_not_keep() {
    let outcome = run(&Scenario {
        lines_per_sec: 20_000,
        random_lines: true,
        rotate_every: Duration::from_secs(1),
        write_for: Duration::from_secs(20),
        outage: Duration::from_secs(15),
        restart_after: Some(Duration::from_secs(12)),
        settings: "spool_max_bytes = \"16MiB\"",
        flow: "aggregation = \"lines\"\nrate_limit = false\nbatch_max_bytes = \"1MiB\"\nmax_in_flight_bytes = \"2MiB\"\n",
        ..outage("t-spool-full")
    });
    // Lines of requests cut in flight at the outage may have been stored, yet be reported lost
    // if they did not fit: at most the in-flight budget.
    outcome.assert_accounted_within(2 << 20);
    assert!(outcome.missing > 0, "the spool overflowed");
    assert!(
        outcome.log.contains("spool_full"),
        "{}",
        tail(&outcome.log, 30)
    );
    // Random hex compresses about 2×: the spool kept well over 16 MiB of lines.
    assert!(
        outcome.delivered as u64 * LINE_BYTES as u64 > 16 << 20,
        "{} lines delivered",
        outcome.delivered
    );
}

/// `kill -9` five times, each time down long enough for a rotation with `compress` and
/// `delaycompress`: a file checkpointed as `app.log.1` is found again as `app.log.2.gz`,
/// so nothing is lost and nothing is reported lost.
#[test]
fn a_kill_9_loop_with_compressing_rotations_loses_nothing_and_reports_no_loss() {
    run(&Scenario {
        rotate: "create\nrotate 3\ncompress\ndelaycompress",
        write_for: Duration::from_secs(35),
        outage: Duration::ZERO,
        kill_loop: Some(KillLoop {
            every: Duration::from_secs(3),
            times: 5,
            down_for: Duration::from_millis(2500),
        }),
        ..outage("t-kill-loop")
    })
    .assert_complete();
}

fn corrupt_checkpoint(ws: &common::Workspace) {
    std::fs::write(
        ws.path("state/checkpoints.json"),
        "{\"version\": 1, \"files\": [",
    )
    .unwrap();
}

/// A checkpoint file cut short while the agent is stopped: it is moved aside, the files are
/// read again from the beginning (duplicates, never a loss).
#[test]
fn a_corrupt_checkpoint_costs_duplicates_never_lines() {
    let outcome = run(&Scenario {
        write_for: Duration::from_secs(15),
        outage: Duration::ZERO,
        outage_after: Duration::from_secs(3),
        restart_after: Some(Duration::from_secs(2)),
        while_stopped: Some(corrupt_checkpoint),
        ..outage("t-corrupt")
    });
    outcome.assert_complete();
    assert!(
        outcome.log.contains("moved aside"),
        "{}",
        tail(&outcome.log, 30)
    );
    assert!(outcome.duplicated > 0, "files were read again");
}

/// The state directory's disk full for 8 s while shipping: shipping goes on, the failure is
/// logged once (not once per checkpoint interval), and checkpoints resume when space is back.
#[test]
fn a_full_state_disk_keeps_shipping_and_logs_once() {
    let outcome = run(&Scenario {
        write_for: Duration::from_secs(18),
        outage: Duration::ZERO,
        full_state_disk: Some(Duration::from_secs(8)),
        ..outage("t-full-disk")
    });
    outcome.assert_complete();
    let failures = outcome
        .log
        .lines()
        .filter(|l| l.contains("retrying at the next checkpoint interval"))
        .count();
    assert_eq!(failures, 1, "{}", tail(&outcome.log, 30));
}

/// Compressed records through an outage with deleting rotations and a restart: the spool and
/// the compressor together, read back with boto3 and Python's gzip.
#[test]
fn compressed_records_survive_an_outage_and_a_restart() {
    run(&Scenario {
        restart_after: Some(secs(12, 60)),
        flow: "aggregation = \"lines\"\ncompression = \"gzip\"\n",
        ..outage("t-gzip")
    })
    .assert_complete();
}
