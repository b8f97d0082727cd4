//! A parsed flow end to end: multiline records, a regex format, a filter and metadata, shipped
//! to kinesalite and read back with boto3.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn multiline_regex_records_are_shipped_once_and_the_last_one_is_flushed() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("parsed", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let mut text = String::new();
    let mut expected = Vec::new();
    for n in 0..2_000 {
        let level = if n % 10 == 0 { "ERROR" } else { "INFO" };
        text.push_str(&format!("2026-11-28 14:00:00 {level} n={n:06} done\n"));
        let mut message = format!("n={n:06} done");
        if n % 10 == 0 {
            text.push_str("java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\n");
            message.push_str("\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)");
        }
        if n % 100 == 5 {
            text.push_str("2026-11-28 14:00:00 DEBUG healthcheck ok\n");
        }
        expected.push(serde_json::json!({"level": level, "message": message, "_file": file.to_str().unwrap()}));
    }
    std::fs::create_dir_all(ws.logs()).unwrap();
    std::fs::write(&file, &text).unwrap();
    ws.config(
        "[[flow]]\nname = \"parsed\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"parsed\"\nrate_limit = false\n[flow.parse]\nformat = \"regex\"\npattern = '\\S+ \\S+ (?P<level>[A-Z]+) (?s:(?P<message>.*))'\nmultiline_start = '\\d{4}-'\nmultiline_flush = \"500ms\"\nexclude = ['healthcheck']\nadd_file = true\n",
    );
    let mut agent = ws.start(&kinesis.url);
    // Reaching the end of the file needs the last record, which only the flush timeout sends.
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(60));
    let (status, _) = agent.stop();
    assert!(status.success(), "{}", agent.log());
    assert_eq!(agent.final_counter("parse_failures"), 0);
    assert_eq!(agent.final_counter("records_filtered"), 20);
    assert_eq!(agent.final_counter("lines_pending"), 0);

    let got: Vec<serde_json::Value> = kinesis
        .read_lines("parsed")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // Requests run concurrently (max_in_flight), so compare as sorted lists.
    let sorted = |v: &[serde_json::Value]| {
        let mut v: Vec<String> = v.iter().map(|r| r.to_string()).collect();
        v.sort();
        v
    };
    let (got, expected) = (sorted(&got), sorted(&expected));
    assert_eq!(got.len(), expected.len());
    let differ = got.iter().zip(&expected).find(|(g, e)| g != e);
    assert!(differ.is_none(), "first difference: {differ:?}");
}

/// A stop in the middle of a multiline file: the held record is sent at shutdown, the
/// checkpoint covers exactly what was sent, and the restart continues from there, so every line
/// arrives once (a record cut by the stop arrives as two records).
#[test]
fn clean_restart_of_a_multiline_flow_loses_nothing_and_repeats_nothing() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("ml", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    std::fs::create_dir_all(ws.logs()).unwrap();
    let mut text = String::new();
    let mut expected = Vec::new();
    for n in 0..150_000 {
        let line = format!("2026-11-28 14:00:00 INFO n={n:06} {}", "p".repeat(40));
        text.push_str(&line);
        text.push('\n');
        expected.push(line);
        let more = format!("\tat frame {n:06}");
        text.push_str(&more);
        text.push('\n');
        expected.push(more);
    }
    std::fs::write(&file, &text).unwrap();
    ws.config(
        "[[flow]]\nname = \"ml\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"ml\"\nrate_limit = false\nbatch_max_records = 250\nmax_in_flight = 1\n[flow.parse]\nmultiline_start = '\\d{4}-'\nmultiline_flush = \"300ms\"\n",
    );
    let total = text.len() as u64;
    let mut agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(120), "some progress", || {
        ws.checkpoints().values().sum::<u64>() > total / 5
    });
    let (status, _) = agent.stop();
    assert!(status.success(), "{}", agent.log());
    assert!(ws.checkpoints()[&file] < total, "stopped midway");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success());
    // Records hold several lines; read back line by line.
    assert_exactly_once(&expected, &kinesis.read_lines("ml"));
}
