//! Restarts: a clean stop midway sends no duplicates; a crash (kill -9) loses nothing and
//! duplicates at most what was in flight.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

const FLOW: &str = "[[flow]]\nname = \"r\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"r\"\nbatch_max_records = 250\nrate_limit = false\n";

fn progress(ws: &Workspace) -> u64 {
    ws.checkpoints().values().sum()
}

fn setup() -> (Emulator, Workspace, Vec<PathBuf>, Vec<String>) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("r", 2);
    let ws = Workspace::new();
    let files: Vec<PathBuf> = ["x.log", "y.log", "z.log"]
        .iter()
        .map(|n| ws.logs().join(n))
        .collect();
    let mut expected = Vec::new();
    for (i, file) in files.iter().enumerate() {
        expected.extend(write_lines(file, &format!("r{i}"), 0..30_000, 50));
    }
    ws.config(FLOW);
    (kinesis, ws, files, expected)
}

/// Starts the agent and waits until 1/`fraction` of the bytes are checkpointed; returns the
/// agent and the total size of the files.
fn start_and_wait_for_progress(
    kinesis: &Emulator,
    ws: &Workspace,
    files: &[PathBuf],
    fraction: u64,
) -> (Agent, u64) {
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(120), "some progress", || {
        progress(ws) > total / fraction
    });
    (agent, total)
}

#[test]
fn clean_restart_midway_loses_nothing_and_repeats_nothing() {
    let (kinesis, ws, files, mut expected) = setup();
    let (mut agent, total) = start_and_wait_for_progress(&kinesis, &ws, &files, 5);
    let (status, _) = agent.stop();
    assert!(status.success());
    assert!(progress(&ws) < total, "stopped midway");
    // Lines written while the agent is down are shipped after the restart.
    expected.extend(write_lines(&files[1], "late", 0..500, 10));
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(240));
    assert!(agent.stop().0.success());
    assert!(agent.log().contains("resuming from checkpoint"));
    assert_exactly_once(&expected, &kinesis.read_lines("r"));
}

#[test]
fn kill_9_midway_loses_nothing_and_duplicates_only_in_flight_data() {
    let (kinesis, ws, files, expected) = setup();
    let (mut agent, total) = start_and_wait_for_progress(&kinesis, &ws, &files, 4);
    agent.kill9();
    assert!(progress(&ws) < total, "killed midway");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(240));
    assert!(agent.stop().0.success());

    let got = kinesis.read_lines("r");
    let counts = tally(&got);
    let lost: Vec<_> = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .collect();
    assert!(lost.is_empty(), "{} lines lost after kill -9", lost.len());
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    assert!(
        counts.values().all(|&n| n <= 2),
        "a line was sent more than twice"
    );
    // In flight at most: 4 requests + 4 queued batches of 250, plus up to one checkpoint
    // interval (200 ms) of acknowledged batches not yet written.
    assert!(
        duplicates <= 8 * 250 + 5_000,
        "{duplicates} duplicates is more than the in-flight window"
    );
    assert_eq!(got.len(), expected.len() + duplicates);
}

/// A checkpoint file cut short while stopped, with `start_at = "end"`: what was written
/// meanwhile is skipped (its delivery is unknown), and the skipped bytes are counted, not
/// silently passed over; what follows the restart is shipped.
#[test]
fn start_at_end_with_an_unreadable_checkpoint_counts_what_it_skips() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("tail", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let mut expected = write_lines(&file, "first", 0..100, 10);
    ws.config("[[flow]]\nname = \"t\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"tail\"\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    write_lines(&file, "while-stopped", 0..50, 10);
    let size = std::fs::metadata(&file).unwrap().len();
    std::fs::write(
        ws.path("state/checkpoints.json"),
        "{\"version\": 2, \"files\": [",
    )
    .unwrap();
    ws.config("[[flow]]\nname = \"t\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"end\"\nkinesis_stream = \"tail\"\n");
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(20), "the file to be tracked", || {
        agent.log().contains("skipped bytes counted")
    });
    expected.extend(write_lines(&file, "after", 0..30, 10));
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    assert_eq!(agent.final_counter("skipped_unverified_bytes"), size);
    assert!(
        agent
            .log()
            .contains(&format!("bytes 0..{size} not shipped")),
        "{}",
        agent.log()
    );
    assert_exactly_once(&expected, &kinesis.read_lines("tail"));
}

#[test]
fn start_at_end_skips_old_lines_only_on_first_start() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("tail", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("old.log");
    write_lines(&file, "old", 0..1_000, 10);
    ws.config("[[flow]]\nname = \"t\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"end\"\nkinesis_stream = \"tail\"\n");
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(20), "the file to be tracked", || {
        agent.log().contains("start_at = \\\"end\\\"") || agent.log().contains("start_at = \"end\"")
    });
    let mut expected = write_lines(&file, "new", 0..300, 10);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    // Written while stopped: the checkpoint, not start_at, decides.
    expected.extend(write_lines(&file, "while-stopped", 0..200, 10));
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    assert_exactly_once(&expected, &kinesis.read_lines("tail"));
}
