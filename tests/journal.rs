//! Journal flows against real journal files: written by systemd's own
//! `systemd-journal-remote` from export-format input (no running journald needed), read by the
//! real `journalctl --directory`, shipped to kinesalite and read back with boto3.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BOOT_ID: &str = "0123456789abcdef0123456789abcdef";

/// systemd-journal-remote, installed by `.ci/setup` (Debian package systemd-journal-remote).
fn journal_remote() -> PathBuf {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("systemd-journal-remote is not installed: run `bash .ci/setup`")
}

/// Appends entries with `MESSAGE=<message>` (and the given unit) to `dir/<file>.journal`.
fn append(dir: &Path, file: &str, unit: &str, messages: &[String]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let mut export = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        write!(
            export,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={BOOT_ID}\n_HOSTNAME=gw1\nPRIORITY=6\n_SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER=app\n_PID=42\nMESSAGE={message}\n\n",
            now + i as u64,
            now + i as u64,
        )
        .unwrap();
    }
    let mut child = Command::new(journal_remote())
        .arg(format!("--output={}/{file}.journal", dir.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "systemd-journal-remote failed"
    );
}

fn messages(tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|n| format!("{tag}-{n:06} journal entry"))
        .collect()
}

/// The cursor of the newest entry, as journalctl reports it.
fn newest_cursor(dir: &Path) -> String {
    let output = Command::new("journalctl")
        .arg(format!("--directory={}", dir.display()))
        .args(["--output=json", "--lines=1", "--no-pager"])
        .output()
        .unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    entry["__CURSOR"].as_str().unwrap().to_owned()
}

fn checkpointed_cursor(ws: &Workspace) -> Option<String> {
    let text = std::fs::read_to_string(ws.path("state/checkpoints.json")).ok()?;
    let state: serde_json::Value = serde_json::from_str(&text).ok()?;
    state["files"]
        .as_array()?
        .iter()
        .find_map(|f| Some(f["cursor"].as_str()?.to_owned()))
}

fn wait_until_shipped(ws: &Workspace, dir: &Path) {
    let newest = newest_cursor(dir);
    wait_for(
        Duration::from_secs(120),
        "the newest entry to be checkpointed",
        || checkpointed_cursor(ws).as_deref() == Some(&newest),
    );
}

struct Setup {
    kinesis: Emulator,
    ws: Workspace,
    journal: PathBuf,
}

fn setup(journal_table: &str) -> Setup {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("j", 2);
    let ws = Workspace::new();
    let journal = ws.path("journal");
    std::fs::create_dir_all(&journal).unwrap();
    ws.config(&format!(
        "[[flow]]\nname = \"j\"\njournal = {{ directory = \"{}\", {journal_table} }}\nkinesis_stream = \"j\"\nbatch_max_records = 250\nrate_limit = false\n",
        journal.display()
    ));
    Setup {
        kinesis,
        ws,
        journal,
    }
}

/// Starts the agent and waits until it has checkpointed a cursor.
fn start_until_checkpointed(s: &Setup) -> Agent {
    let agent = s.ws.start(&s.kinesis.url);
    wait_for(Duration::from_secs(60), "a checkpointed cursor", || {
        checkpointed_cursor(&s.ws).is_some()
    });
    agent
}

#[test]
fn clean_restart_midway_ships_every_entry_exactly_once() {
    let s = setup("since = \"beginning\", format = \"message\"");
    let mut expected = messages("a", 0..30_000);
    append(&s.journal, "one", "app.service", &expected);
    let mut agent = start_until_checkpointed(&s);
    assert!(agent.stop().0.success());
    assert_ne!(
        checkpointed_cursor(&s.ws),
        Some(newest_cursor(&s.journal)),
        "stopped midway"
    );
    let late = messages("late", 0..2_000);
    append(&s.journal, "one", "app.service", &late);
    expected.extend(late);
    let mut agent = s.ws.start(&s.kinesis.url);
    wait_until_shipped(&s.ws, &s.journal);
    // Entries written while the agent runs are followed.
    let live = messages("live", 0..500);
    append(&s.journal, "two", "app.service", &live);
    expected.extend(live);
    wait_until_shipped(&s.ws, &s.journal);
    assert!(agent.stop().0.success());
    assert_exactly_once(&expected, &s.kinesis.read_lines("j"));
}

#[test]
fn kill_9_midway_loses_nothing() {
    let s = setup("since = \"beginning\", format = \"message\"");
    let expected = messages("k", 0..40_000);
    append(&s.journal, "one", "app.service", &expected);
    let mut agent = start_until_checkpointed(&s);
    agent.kill9();
    let mut agent = s.ws.start(&s.kinesis.url);
    wait_until_shipped(&s.ws, &s.journal);
    assert!(agent.stop().0.success());
    let got = s.kinesis.read_lines("j");
    let counts = tally(&got);
    let lost: Vec<_> = expected
        .iter()
        .filter(|m| !counts.contains_key(m.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} entries lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}

#[test]
fn a_vacuumed_cursor_is_reported_and_shipping_resumes_at_the_oldest_entry() {
    let s = setup("since = \"beginning\", format = \"message\"");
    let shipped = messages("old", 0..100);
    append(&s.journal, "a", "app.service", &shipped);
    let mut agent = s.ws.start(&s.kinesis.url);
    wait_until_shipped(&s.ws, &s.journal);
    assert!(agent.stop().0.success());
    // While the agent is down, more is written, then the older file is vacuumed.
    append(&s.journal, "a", "app.service", &messages("vacuumed", 0..50));
    let survivors = messages("new", 0..100);
    append(&s.journal, "b", "app.service", &survivors);
    std::fs::remove_file(s.journal.join("a.journal")).unwrap();
    let mut agent = s.ws.start(&s.kinesis.url);
    wait_until_shipped(&s.ws, &s.journal);
    assert!(agent.stop().0.success());
    let log = agent.log();
    let reports = log
        .matches("data lost: the last shipped journal entry is no longer in the journal")
        .count();
    assert_eq!(reports, 1, "{log}");
    let expected: Vec<String> = shipped.into_iter().chain(survivors).collect();
    assert_exactly_once(&expected, &s.kinesis.read_lines("j"));
}

#[test]
fn json_records_carry_the_standard_fields_of_the_selected_units_from_the_end() {
    let s = setup("units = [\"app.service\"], fields = [\"_BOOT_ID\"]");
    append(&s.journal, "one", "app.service", &messages("before", 0..20));
    let mut agent = start_until_checkpointed(&s); // the start at the end
    append(
        &s.journal,
        "one",
        "other.service",
        &messages("other", 0..20),
    );
    let wanted = messages("after", 0..30);
    append(&s.journal, "one", "app.service", &wanted);
    wait_until_shipped(&s.ws, &s.journal);
    assert!(agent.stop().0.success());
    let records: Vec<serde_json::Value> = s
        .kinesis
        .read_lines("j")
        .iter()
        .map(|l| serde_json::from_str(l).expect("each record is a JSON object"))
        .collect();
    let got: Vec<String> = records
        .iter()
        .map(|r| r["MESSAGE"].as_str().unwrap().to_owned())
        .collect();
    assert_exactly_once(&wanted, &got);
    let first = &records[0];
    assert_eq!(first["_SYSTEMD_UNIT"], "app.service");
    assert_eq!(first["PRIORITY"], "6");
    assert_eq!(first["_HOSTNAME"], "gw1");
    assert_eq!(first["_PID"], "42");
    assert_eq!(first["SYSLOG_IDENTIFIER"], "app");
    assert_eq!(first["_BOOT_ID"], BOOT_ID);
    let time = first["__REALTIME_TIMESTAMP"].as_str().unwrap();
    assert!(humantime_like(time), "RFC 3339: {time}");
}

fn humantime_like(time: &str) -> bool {
    time.len() == "2026-12-03T08:46:55.039686Z".len()
        && time.ends_with('Z')
        && time.as_bytes()[10] == b'T'
}
