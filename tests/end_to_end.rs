//! Shipping real files to kinesalite and reading them back with boto3 and `edgeship consume`.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn ships_100k_lines_from_three_files_exactly_once() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("web", 2);
    let ws = Workspace::new();
    let files: Vec<_> = ["a.log", "b.log", "c.log"]
        .iter()
        .map(|n| ws.logs().join(n))
        .collect();
    let mut expected = Vec::new();
    for (i, (file, count)) in files.iter().zip([33_334, 33_333, 33_333]).enumerate() {
        expected.extend(write_lines(file, &format!("f{i}"), 0..count, 60));
    }
    assert_eq!(expected.len(), 100_000);
    ws.config("[[flow]]\nname = \"web\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"web\"\n# kinesalite does not enforce shard limits; pacing is tested in throttling.rs\nrate_limit = false\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(240));
    let (status, _) = agent.stop();
    assert!(status.success(), "agent exit: {status:?}\n{}", agent.log());
    assert_eq!(agent.final_counter("lines_delivered"), 100_000);
    assert_eq!(agent.final_counter("entries_resent"), 0);

    assert_exactly_once(&expected, &kinesis.read_lines("web"));
    let consumed = edgeship()
        .args(["consume", "--stream", "web"])
        .envs(aws_env(&kinesis.url))
        .output()
        .unwrap();
    assert!(
        consumed.status.success(),
        "{}",
        String::from_utf8_lossy(&consumed.stderr)
    );
    assert_exactly_once(&expected, &lines_of(&consumed.stdout));
}

#[test]
fn lines_mode_packs_many_lines_per_record() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("packed", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "p", 0..20_000, 100);
    ws.config("[[flow]]\nname = \"packed\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"packed\"\naggregation = \"lines\"\nrecord_target_bytes = \"64KiB\"\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(60));
    assert!(agent.stop().0.success());
    let records = agent.final_counter("records_delivered");
    assert!(
        records < 20_000 * 110 / 65_536 + 10,
        "{records} records for 20,000 lines: not packed"
    );
    assert_exactly_once(&expected, &kinesis.read_lines("packed"));
}
