//! Discovery and line framing seen end to end: new files found by re-scan, `**` and excludes,
//! partial lines held until complete, over-long lines truncated without stalling the file.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn rescans_find_new_files_recursively_and_respect_excludes() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("disc", 1);
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"d\"\npaths = [\"$LOGS/**/*.log\"]\nexclude = [\"*.gz\", \"$LOGS/skip/**\"]\nstart_at = \"end\"\nkinesis_stream = \"disc\"\nscan_interval = \"200ms\"\n");
    // Present at the start (so skipped by start_at = "end"): once it has a checkpoint, the
    // first scan is over.
    let first = ws.logs().join("first.log");
    write_lines(&first, "before", 0..3, 5);
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(20), "the first scan", || {
        ws.checkpoints().contains_key(&first)
    });
    // Appear after start: read from the beginning although start_at = "end".
    std::fs::create_dir_all(ws.logs().join("deep/er")).unwrap();
    std::fs::create_dir_all(ws.logs().join("skip")).unwrap();
    let a = ws.logs().join("top.log");
    let b = ws.logs().join("deep/er/nested.log");
    let mut expected = write_lines(&a, "top", 0..100, 5);
    expected.extend(write_lines(&b, "nested", 0..100, 5));
    write_lines(&ws.logs().join("skip/ignored.log"), "skipped", 0..10, 5);
    write_lines(&ws.logs().join("old.log.gz"), "gz", 0..10, 5);
    ws.wait_fully_checkpointed(&[a.clone(), b.clone()], Duration::from_secs(30));
    assert!(agent.stop().0.success());
    assert_exactly_once(&expected, &kinesis.read_lines("disc"));
}

#[test]
fn partial_lines_wait_and_long_lines_are_truncated_not_stalling() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("frame", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("f.log");
    let long = "L".repeat(1_500_000);
    std::fs::write(&file, format!("first\r\n{long}\nafter-long\nparti")).unwrap();
    ws.config("[[flow]]\nname = \"f\"\npaths = [\"$LOGS/f.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"frame\"\n");
    let mut agent = ws.start(&kinesis.url);
    let complete = (std::fs::metadata(&file).unwrap().len() - "parti".len() as u64) as u64;
    wait_for(
        Duration::from_secs(30),
        "complete lines to be checkpointed",
        || ws.checkpoints().get(&file) == Some(&complete),
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        ws.checkpoints().get(&file),
        Some(&complete),
        "the partial line waits for its newline"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"al\n")
        .unwrap();
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    assert_eq!(agent.final_counter("lines_truncated"), 1);
    assert!(agent.log().contains("truncated"));

    let got = kinesis.read_lines("frame");
    assert_eq!(
        got.len(),
        4,
        "first, truncated long line, after-long, partial"
    );
    assert_eq!(got[0], "first", "CRLF stripped");
    assert!(
        got[1].len() < 1_048_576 && got[1].len() > 1_000_000 && got[1].bytes().all(|b| b == b'L')
    );
    assert_eq!(&got[2..], ["after-long", "partial"]);
}

/// A flow allowing records up to 4 MiB writes to a stream that takes 1 MiB (kinesalite reports
/// no `MaxRecordSizeInKiB`, the default): a 1.5 MB line is truncated to fit and counted, not
/// rejected by the stream as undeliverable.
#[test]
fn lines_above_the_streams_record_limit_are_truncated_not_rejected() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("small", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("f.log");
    std::fs::write(&file, format!("first\n{}\nlast\n", "L".repeat(1_500_000))).unwrap();
    ws.config("[[flow]]\nname = \"f\"\npaths = [\"$LOGS/f.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"small\"\nrecord_max_bytes = \"4MiB\"\nbatch_max_bytes = \"5MiB\"\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
    assert_eq!(
        agent.final_counter("records_undeliverable"),
        0,
        "{}",
        agent.log()
    );
    assert_eq!(agent.final_counter("lines_truncated"), 1);
    assert!(
        agent
            .log()
            .contains("above the stream's record size limit (1024 KiB)"),
        "{}",
        agent.log()
    );
    let got = kinesis.read_lines("small");
    assert_eq!(got.len(), 3);
    assert!(got[1].len() < 1_048_576 && got[1].len() > 1_000_000);
}
