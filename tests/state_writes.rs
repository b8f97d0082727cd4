//! The SD-card write budget: the state directory is written only when a checkpoint changed, at
//! most once per `checkpoint_interval` while lines flow, and never while the agent is idle.
//! Writes are counted from outside, by watching `checkpoints.json` get replaced (each write is
//! a new file renamed over the old one).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Every file under `dir` with its inode and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((
                e.path().to_owned(),
                (meta.ino(), meta.mtime(), meta.mtime_nsec()),
            ))
        })
        .collect()
}

/// Counts replacements of `file` until `stop` is set.
fn count_replacements(file: PathBuf, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let identity = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
    };
    let mut last = identity(&file);
    while !stop.load(Ordering::Relaxed) {
        let now = identity(&file);
        if now.is_some() && now != last {
            count.fetch_add(1, Ordering::Relaxed);
            last = now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn state_is_written_at_most_once_per_interval_when_busy_and_never_when_idle() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("budget", 1);
    let ws = Workspace::new();
    let log = ws.logs().join("app.log");
    write_lines(&log, "start", 0..100, 50);
    // Workspace configs use checkpoint_interval = "200ms".
    ws.config("[[flow]]\nname = \"budget\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"budget\"\naggregation = \"lines\"\nbatch_max_age = \"100ms\"\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&log), Duration::from_secs(60));

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (file, stop, writes) = (
            ws.path("state/checkpoints.json"),
            stop.clone(),
            writes.clone(),
        );
        std::thread::spawn(move || count_replacements(file, stop, writes))
    };
    let busy = Duration::from_secs(4);
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < busy {
        write_lines(&log, "busy", n..n + 20, 50);
        n += 20;
        std::thread::sleep(Duration::from_millis(50));
    }
    ws.wait_fully_checkpointed(std::slice::from_ref(&log), Duration::from_secs(60));
    // The write that made the file complete may reach the watcher (polling every 5 ms) a
    // moment after the file shows it: wait until no write has been seen for two intervals.
    let mut seen = (writes.load(Ordering::Relaxed), Instant::now());
    wait_for(
        Duration::from_secs(30),
        "the last busy write to be counted",
        || {
            let now = writes.load(Ordering::Relaxed);
            if now != seen.0 {
                seen = (now, Instant::now());
            }
            seen.1.elapsed() > Duration::from_millis(500)
        },
    );
    let busy_secs = started.elapsed().as_secs_f64();
    let busy_writes = writes.swap(0, Ordering::Relaxed);
    let most = (busy_secs / 0.2).ceil() as u64 + 1;
    assert!(
        (3..=most).contains(&busy_writes),
        "{busy_writes} checkpoint writes in {busy_secs:.1} s of shipping (at most {most})"
    );

    // Idle: everything is acknowledged and checkpointed; nothing in the state directory moves.
    let before = snapshot(&ws.path("state"));
    std::thread::sleep(Duration::from_secs(3));
    let idle_writes = writes.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    assert_eq!(idle_writes, 0, "checkpoint writes while idle");
    assert_eq!(
        snapshot(&ws.path("state")),
        before,
        "state files written while idle"
    );
    assert!(agent.stop().0.success(), "{}", agent.log());
    println!(
        "busy: {busy_writes} writes in {busy_secs:.1} s ({:.0}/hour at checkpoint_interval = 200ms); idle: 0 in 3 s",
        busy_writes as f64 * 3600.0 / busy_secs
    );
}
